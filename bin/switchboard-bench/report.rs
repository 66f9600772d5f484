//! The results of one invocation: the JSON document, the tables printed on
//! stdout, and the ratios of each Switchboard figure to the baseline's.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::Plan;
use crate::inproc::InprocResult;
use crate::load::PhaseResult;
use crate::system::Machine;
use crate::ws::WsResult;

/// Everything one invocation measured.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Sizes used.
    pub plan: Plan,
    /// The machine it ran on.
    pub machine: Machine,
    /// The in-process scenario.
    pub inproc: Option<InprocResult>,
    /// WebSocket runs: Switchboard (durable, non-durable, remote) and baseline.
    pub ws: Vec<WsResult>,
    /// Each non-baseline WebSocket run divided by the baseline run.
    pub ratios: Vec<Ratios>,
    /// Scenarios that failed, with their errors.
    pub errors: Vec<String>,
}

/// Figures of one server divided by the baseline's. Above 1 is better for
/// deliveries per second, worse for latency and memory.
#[derive(Debug, Serialize)]
pub struct Ratios {
    /// The server compared.
    pub label: String,
    /// Deliveries per second, as fast as accepted.
    pub max_deliveries_per_sec: Option<f64>,
    /// Deliveries per second at the fixed rate.
    pub rate_deliveries_per_sec: Option<f64>,
    /// Median latency at the fixed rate.
    pub rate_p50: Option<f64>,
    /// 99th percentile latency at the fixed rate.
    pub rate_p99: Option<f64>,
    /// 99.9th percentile latency at the fixed rate.
    pub rate_p999: Option<f64>,
    /// Server memory per idle connection.
    pub memory_per_connection: Option<f64>,
}

impl Report {
    /// Computes the ratios of every run to the baseline run, when there is one.
    pub fn compute_ratios(&mut self) {
        let Some(baseline) = self.ws.iter().find(|run| run.server == "baseline") else {
            return;
        };
        let ratio = |ours: Option<f64>, theirs: Option<f64>| match (ours, theirs) {
            (Some(ours), Some(theirs)) if theirs > 0.0 => Some(ours / theirs),
            _ => None,
        };
        let phase_figure = |run: &WsResult, name: &str, figure: fn(&PhaseResult) -> Option<f64>| {
            run.phases
                .iter()
                .find(|phase| phase.name == name)
                .and_then(figure)
        };
        let deliveries = |phase: &PhaseResult| Some(phase.deliveries_per_sec);
        let p50 = |phase: &PhaseResult| phase.latency.as_ref().map(|l| l.p50_us as f64);
        let p99 = |phase: &PhaseResult| phase.latency.as_ref().map(|l| l.p99_us as f64);
        let p999 = |phase: &PhaseResult| phase.latency.as_ref().map(|l| l.p999_us as f64);
        let mut ratios = Vec::new();
        for run in self.ws.iter().filter(|run| run.server != "baseline") {
            ratios.push(Ratios {
                label: run.label.clone(),
                max_deliveries_per_sec: ratio(
                    phase_figure(run, "max", deliveries),
                    phase_figure(baseline, "max", deliveries),
                ),
                rate_deliveries_per_sec: ratio(
                    phase_figure(run, "rate", deliveries),
                    phase_figure(baseline, "rate", deliveries),
                ),
                rate_p50: ratio(
                    phase_figure(run, "rate", p50),
                    phase_figure(baseline, "rate", p50),
                ),
                rate_p99: ratio(
                    phase_figure(run, "rate", p99),
                    phase_figure(baseline, "rate", p99),
                ),
                rate_p999: ratio(
                    phase_figure(run, "rate", p999),
                    phase_figure(baseline, "rate", p999),
                ),
                memory_per_connection: ratio(
                    run.memory_per_connection,
                    baseline.memory_per_connection,
                ),
            });
        }
        self.ratios = ratios;
    }

    /// Returns whether every scenario ran and delivered every post it made.
    pub fn complete(&self) -> bool {
        self.errors.is_empty()
            && self.inproc.as_ref().is_none_or(|inproc| {
                inproc.sessions_closed == 0 && inproc.sizes.iter().all(|s| s.complete())
            })
            && self.ws.iter().all(WsResult::complete)
    }

    /// Formats the tables printed at the end of a run.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        let machine = &self.machine;
        let _ = writeln!(
            out,
            "\nMachine: {} ({} CPUs, {} GiB), mode {}",
            machine.cpu_model,
            machine.cpus,
            machine.memory_bytes.map_or("?".into(), |bytes| format!(
                "{:.1}",
                bytes as f64 / 1024f64.powi(3)
            )),
            self.plan.mode
        );
        if let Some(inproc) = &self.inproc {
            self.inproc_table(&mut out, inproc);
        }
        if !self.ws.is_empty() {
            self.ws_table(&mut out);
        }
        if !self.ratios.is_empty() {
            self.ratio_table(&mut out);
        }
        for error in &self.errors {
            let _ = writeln!(out, "\nFAILED: {error}");
        }
        out
    }

    fn inproc_table(&self, out: &mut String, inproc: &InprocResult) {
        let _ = writeln!(
            out,
            "\nIn-process fanout: durable store, {} sessions opened in {:.1} s, {} closed by the node",
            inproc.sessions, inproc.open_seconds, inproc.sessions_closed
        );
        let _ = writeln!(
            out,
            "{:>8} {:>8} {:>10} {:>12} {:>14} {:>9}",
            "members", "posts", "posts/s", "deliveries", "deliveries/s", "complete"
        );
        for size in &inproc.sizes {
            let _ = writeln!(
                out,
                "{:>8} {:>8} {:>10.0} {:>12} {:>14.0} {:>9}",
                size.members,
                size.posts,
                size.posts_per_sec,
                size.delivered,
                size.deliveries_per_sec,
                yes_no(size.complete())
            );
        }
    }

    fn ws_table(&self, out: &mut String) {
        let plan = &self.plan;
        let _ = writeln!(
            out,
            "\nWebSocket load: {} clients over {} channels (about {} members each), phases of {} s; \
             max = {} posters as fast as accepted, rate = {} posts/s",
            plan.clients,
            plan.channels,
            plan.clients / plan.channels,
            plan.duration_secs,
            plan.posters,
            plan.rate
        );
        let _ = writeln!(
            out,
            "{:<26} {:<5} {:>9} {:>13} {:>8} {:>8} {:>9} {:>8} {:>12} {:>9}",
            "server",
            "phase",
            "posts/s",
            "deliveries/s",
            "p50 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "mem/conn KB",
            "complete"
        );
        for run in &self.ws {
            for phase in &run.phases {
                let latency = |pick: fn(&crate::load::Latency) -> u64| {
                    phase
                        .latency
                        .as_ref()
                        .map_or("-".into(), |l| format!("{:.2}", pick(l) as f64 / 1000.0))
                };
                let _ = writeln!(
                    out,
                    "{:<26} {:<5} {:>9.0} {:>13.0} {:>8} {:>8} {:>9} {:>8} {:>12} {:>9}",
                    run.label,
                    phase.name,
                    phase.achieved_rate,
                    phase.deliveries_per_sec,
                    latency(|l| l.p50_us),
                    latency(|l| l.p99_us),
                    latency(|l| l.p999_us),
                    latency(|l| l.max_us),
                    run.memory_per_connection
                        .map_or("-".into(), |bytes| format!("{:.1}", bytes / 1024.0)),
                    yes_no(phase.complete() && run.closed_by_server == 0),
                );
                if let Some(error) = &phase.first_error {
                    let _ = writeln!(
                        out,
                        "    {} failed posts; first: {error}",
                        phase.failed_posts
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "mem/conn: the server child's VmRSS growth from before connecting to all clients idle, \
             divided by the clients (an estimate)."
        );
    }

    fn ratio_table(&self, out: &mut String) {
        let _ = writeln!(out, "\nRatios to the baseline (switchboard / baseline; higher is better for deliveries/s, lower for latency and memory)");
        let _ = writeln!(
            out,
            "{:<26} {:>14} {:>15} {:>9} {:>9} {:>10} {:>9}",
            "server",
            "max deliv/s",
            "rate deliv/s",
            "rate p50",
            "rate p99",
            "rate p99.9",
            "mem/conn"
        );
        let show = |value: Option<f64>| value.map_or("-".into(), |v| format!("{v:.2}"));
        for ratio in &self.ratios {
            let _ = writeln!(
                out,
                "{:<26} {:>14} {:>15} {:>9} {:>9} {:>10} {:>9}",
                ratio.label,
                show(ratio.max_deliveries_per_sec),
                show(ratio.rate_deliveries_per_sec),
                show(ratio.rate_p50),
                show(ratio.rate_p99),
                show(ratio.rate_p999),
                show(ratio.memory_per_connection),
            );
        }
    }
}

fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "NO"
    }
}
