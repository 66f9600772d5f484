//! Command-line options and the workload sizes they select.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Parser, ValueEnum};

/// Largest number of WebSocket clients one run may open. Each client costs a
/// file descriptor in the harness and one in the node.
pub const MAX_CLIENTS: usize = 20_000;

/// Maximum length of a measured phase, in seconds.
pub const MAX_DURATION_SECS: u64 = 300;

/// Load generator and benchmark harness for Switchboard.
#[derive(Parser, Debug, Clone)]
#[command(name = "switchboard-bench", version, about)]
pub struct Cli {
    /// Small sizes and short phases: every scenario finishes in well under two minutes.
    #[arg(long, conflicts_with = "smoke")]
    pub quick: bool,
    /// Tiny sizes for CI; exits with code 1 unless every posted message reached every member.
    #[arg(long)]
    pub smoke: bool,
    /// Scenario to run.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    pub scenario: Scenario,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Draw the results as an SVG chart into this file.
    #[arg(long, value_name = "FILE.svg")]
    pub chart: Option<PathBuf>,
    /// Base URL of a running node (such as http://127.0.0.1:8080) to load
    /// instead of starting one; needs --token.
    #[arg(long, value_name = "URL", requires = "token")]
    pub node_url: Option<String>,
    /// API token of a user on the --node-url node; repeat it for more users.
    /// Token i's user joins channel i mod --channels, so give at least as many
    /// tokens as channels.
    #[arg(long, value_name = "TOKEN")]
    pub token: Vec<String>,
    /// The `switchboard` binary to start as the node [default: next to this binary].
    #[arg(long, value_name = "PATH")]
    pub node_bin: Option<PathBuf>,
    /// Number of WebSocket clients (ws, baseline, durability).
    #[arg(long, value_name = "N")]
    pub clients: Option<usize>,
    /// Number of channels the clients are spread over (ws, baseline, durability).
    #[arg(long, value_name = "M")]
    pub channels: Option<usize>,
    /// Posts per second, across all channels, in the fixed-rate phase.
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Length of each measured phase, in seconds.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,
    /// Concurrent posters in the as-fast-as-accepted phase.
    #[arg(long, value_name = "P")]
    pub posters: Option<usize>,
    /// Largest in-process channel size; sizes are the powers of ten up to it.
    #[arg(long, value_name = "MEMBERS")]
    pub inproc_max_members: Option<usize>,
    /// Run the bare broadcast server on this address; the harness starts
    /// itself this way for the baseline scenario.
    #[arg(long, value_name = "ADDR", hide = true)]
    pub internal_baseline_server: Option<std::net::SocketAddr>,
}

/// The scenarios `--scenario` selects.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// In-process sessions: fanout through the actors without sockets.
    Inproc,
    /// WebSocket clients against a Switchboard node.
    Ws,
    /// The ws load against a bare broadcast server.
    Baseline,
    /// The ws load with durable commits on and off.
    Durability,
    /// Every scenario above.
    All,
}

impl Scenario {
    /// Returns whether this selection includes `other`.
    pub fn includes(self, other: Scenario) -> bool {
        self == Scenario::All || self == other
    }
}

/// Sizes of one invocation, from the mode and the explicit options.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Plan {
    /// `full`, `quick` or `smoke`.
    pub mode: &'static str,
    /// Channel sizes of the in-process scenario.
    pub inproc_sizes: Vec<usize>,
    /// Deliveries aimed for at each in-process channel size; posts per size
    /// are this divided by the size, within `inproc_min_posts..=inproc_max_posts`.
    pub inproc_deliveries: u64,
    /// Minimum posts per in-process channel size.
    pub inproc_min_posts: u64,
    /// Maximum posts per in-process channel size.
    pub inproc_max_posts: u64,
    /// Concurrent posters of the in-process scenario.
    pub inproc_posters: usize,
    /// Maximum posting phase per in-process channel size, in seconds.
    pub inproc_max_secs: u64,
    /// WebSocket clients.
    pub clients: usize,
    /// Channels the clients are spread over.
    pub channels: usize,
    /// Posts per second in the fixed-rate phase.
    pub rate: f64,
    /// Length of each measured WebSocket phase, in seconds.
    pub duration_secs: u64,
    /// Concurrent posters in the as-fast-as-accepted phase.
    pub posters: usize,
}

impl Plan {
    /// Builds the plan for the options, rejecting sizes outside the caps.
    pub fn from_cli(cli: &Cli) -> anyhow::Result<Plan> {
        let mut plan = if cli.smoke {
            Plan::smoke()
        } else if cli.quick {
            Plan::quick()
        } else {
            Plan::full()
        };
        if let Some(max) = cli.inproc_max_members {
            if max == 0 {
                bail!("invalid --inproc-max-members 0: give at least 1");
            }
            plan.inproc_sizes = powers_of_ten_up_to(max);
        }
        if let Some(clients) = cli.clients {
            plan.clients = clients;
        }
        if let Some(channels) = cli.channels {
            plan.channels = channels;
        }
        if let Some(rate) = cli.rate {
            plan.rate = rate;
        }
        if let Some(duration) = cli.duration {
            plan.duration_secs = duration;
        }
        if let Some(posters) = cli.posters {
            plan.posters = posters;
        }
        plan.check()?;
        Ok(plan)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.clients == 0 || self.clients > MAX_CLIENTS {
            bail!("invalid --clients {}: use 1 to {MAX_CLIENTS}", self.clients);
        }
        if self.channels == 0 || self.channels > self.clients {
            bail!(
                "invalid --channels {}: use 1 to the number of clients ({})",
                self.channels,
                self.clients
            );
        }
        if !(self.rate > 0.0 && self.rate <= 1_000_000.0) {
            bail!(
                "invalid --rate {}: use more than 0 and at most 1000000 posts/s",
                self.rate
            );
        }
        if self.duration_secs == 0 || self.duration_secs > MAX_DURATION_SECS {
            bail!(
                "invalid --duration {}: use 1 to {MAX_DURATION_SECS} seconds",
                self.duration_secs
            );
        }
        if self.posters == 0 || self.posters > 1024 {
            bail!("invalid --posters {}: use 1 to 1024", self.posters);
        }
        if self.inproc_sizes.iter().any(|&size| size > 100_000) {
            bail!("invalid --inproc-max-members: use at most 100000");
        }
        Ok(())
    }

    /// Sizes for a full run on a small machine (2 cores): a few minutes in all.
    fn full() -> Plan {
        Plan {
            mode: "full",
            inproc_sizes: vec![1, 10, 100, 1_000, 10_000],
            inproc_deliveries: 2_000_000,
            inproc_min_posts: 200,
            inproc_max_posts: 20_000,
            inproc_posters: 8,
            inproc_max_secs: 15,
            clients: 1_000,
            channels: 20,
            rate: 5_000.0,
            duration_secs: 10,
            posters: 64,
        }
    }

    /// Sizes for `--quick`.
    fn quick() -> Plan {
        Plan {
            mode: "quick",
            inproc_sizes: vec![1, 10, 100, 1_000],
            inproc_deliveries: 300_000,
            inproc_min_posts: 100,
            inproc_max_posts: 3_000,
            inproc_posters: 8,
            inproc_max_secs: 5,
            clients: 200,
            channels: 4,
            rate: 5_000.0,
            duration_secs: 3,
            posters: 32,
        }
    }

    /// Sizes for `--smoke`.
    fn smoke() -> Plan {
        Plan {
            mode: "smoke",
            inproc_sizes: vec![1, 10],
            inproc_deliveries: 200,
            inproc_min_posts: 20,
            inproc_max_posts: 20,
            inproc_posters: 2,
            inproc_max_secs: 5,
            clients: 20,
            channels: 2,
            rate: 100.0,
            duration_secs: 1,
            posters: 4,
        }
    }

    /// Returns the length of each measured WebSocket phase.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.duration_secs)
    }
}

/// Returns 1, 10, 100, ... up to and including `max` (and `max` itself).
fn powers_of_ten_up_to(max: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut size = 1;
    while size <= max {
        sizes.push(size);
        size *= 10;
    }
    if sizes.last() != Some(&max) {
        sizes.push(max);
    }
    sizes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_end_at_max() {
        assert_eq!(powers_of_ten_up_to(1), vec![1]);
        assert_eq!(powers_of_ten_up_to(1_000), vec![1, 10, 100, 1_000]);
        assert_eq!(powers_of_ten_up_to(50), vec![1, 10, 50]);
    }
}
