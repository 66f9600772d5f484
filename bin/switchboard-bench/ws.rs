//! The `ws`, `baseline` and `durability` scenarios: the same client load
//! against a Switchboard node (a child process, or a remote node given by
//! URL) or against the bare baseline server (also a child process).

use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use serde::Serialize;

use switchboard_engine::store::sqlite::SqliteStore;
use switchboard_engine::Config;

use crate::cli::Plan;
use crate::load::{self, Connect, Phase, PhaseResult, PostTarget};
use crate::node::ChildServer;
use crate::progress::Progress;
use crate::seed::seed_ws_workspace;

/// Result of one server under the WebSocket load.
#[derive(Clone, Debug, Serialize)]
pub struct WsResult {
    /// Name in the tables, such as `switchboard durable`.
    pub label: String,
    /// `switchboard`, `remote` or `baseline`.
    pub server: &'static str,
    /// Whether commits were fsynced; `None` for the baseline and remote nodes.
    pub durable: Option<bool>,
    /// Clients connected.
    pub clients: usize,
    /// Channels the clients were spread over.
    pub channels: usize,
    /// Seconds to connect every client.
    pub connect_seconds: f64,
    /// Server RSS after start-up, before the clients connected, in bytes.
    pub server_rss_before: Option<u64>,
    /// Server RSS with every client connected and idle, in bytes.
    pub server_rss_connected: Option<u64>,
    /// (connected - before) / clients, in bytes: an estimate, because RSS
    /// also moves with allocator caching.
    pub memory_per_connection: Option<f64>,
    /// Sockets the server closed during the run (slow consumers, errors).
    pub closed_by_server: u64,
    /// The measured phases.
    pub phases: Vec<PhaseResult>,
}

impl WsResult {
    /// Returns whether every phase delivered every post to every member.
    pub fn complete(&self) -> bool {
        self.closed_by_server == 0 && self.phases.iter().all(PhaseResult::complete)
    }
}

/// Returns the phases every server runs: as fast as accepted, then at the plan's rate.
pub fn phases(plan: &Plan) -> Vec<Phase> {
    vec![
        Phase {
            name: "max".into(),
            rate: None,
            posters: plan.posters,
            duration: plan.duration(),
        },
        Phase {
            name: "rate".into(),
            rate: Some(plan.rate),
            posters: plan.posters,
            duration: plan.duration(),
        },
    ]
}

/// Returns an HTTP client for posts and `rtm.connect`.
fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client failed")
}

/// Seeds a store in a temporary directory, starts `switchboard serve` over it
/// and runs the load.
pub async fn run_switchboard(
    plan: &Plan,
    node_binary: &std::path::Path,
    durable: bool,
    progress: &Progress,
) -> anyhow::Result<WsResult> {
    let label = format!(
        "switchboard {}",
        if durable { "durable" } else { "non-durable" }
    );
    let data_dir = tempfile::tempdir().context("creating a temporary data directory failed")?;
    let config = Config {
        data_dir: data_dir.path().to_owned(),
        ..Config::default()
    };

    let result = seed_and_load(plan, node_binary, durable, &config, label, progress).await;
    if result.is_err() {
        // Keep the directory, with the node's log, for diagnosis.
        eprintln!("node log: {}", data_dir.path().join("node.log").display());
        let _ = data_dir.keep();
    }
    result
}

async fn seed_and_load(
    plan: &Plan,
    node_binary: &std::path::Path,
    durable: bool,
    config: &Config,
    label: String,
    progress: &Progress,
) -> anyhow::Result<WsResult> {
    progress.set(format!("{label}: seeding {} users", plan.clients));
    let path = config.store_path();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path, false))
        .await?
        .map_err(|error| anyhow!("opening the store to seed it failed: {error}"))?;
    let seeded = seed_ws_workspace(&store, plan.clients, plan.channels).await?;
    drop(store);

    progress.set(format!("{label}: starting the node"));
    let node = ChildServer::start_node(node_binary, &config.data_dir, durable).await?;
    let mut clients = Vec::with_capacity(plan.clients);
    let mut targets = Vec::with_capacity(seeded.len());
    for channel in &seeded {
        for token in &channel.client_tokens {
            clients.push(Connect::Rtm {
                api_base: node.base_url.clone(),
                token: token.clone(),
            });
        }
        targets.push(PostTarget {
            url: format!("{}/api/chat.postMessage", node.base_url),
            token: Some(channel.poster_token.clone()),
            channel_id: channel.channel_id.to_string(),
            members: channel.client_tokens.len() as u64,
        });
    }
    let result = run_load(
        plan,
        label,
        "switchboard",
        Some(durable),
        clients,
        targets,
        Some(&node),
        progress,
    )
    .await;
    node.stop().await;
    result
}

/// Starts the baseline server and runs the same load against it.
pub async fn run_baseline(plan: &Plan, progress: &Progress) -> anyhow::Result<WsResult> {
    let label = "baseline".to_owned();
    let log_dir = tempfile::tempdir().context("creating a temporary directory failed")?;
    progress.set("baseline: starting the server".into());
    let server = ChildServer::start_baseline(log_dir.path()).await?;
    let socket_base = server.base_url.replacen("http://", "ws://", 1);
    let clients = (0..plan.clients)
        .map(|client| Connect::Direct {
            url: format!("{socket_base}/ws?channel={}", client % plan.channels),
        })
        .collect();
    let targets = (0..plan.channels)
        .map(|channel| PostTarget {
            url: format!("{}/post/{channel}", server.base_url),
            token: None,
            channel_id: channel.to_string(),
            members: members_of(channel, plan.clients, plan.channels),
        })
        .collect();
    let result = run_load(
        plan,
        label,
        "baseline",
        None,
        clients,
        targets,
        Some(&server),
        progress,
    )
    .await;
    server.stop().await;
    result
}

/// Runs the load against a node that is already running. Token i's user
/// joins channel i mod channels (the first token of each group creates it),
/// and client i uses token i mod tokens.
pub async fn run_remote(
    plan: &Plan,
    node_url: &str,
    tokens: &[String],
    progress: &Progress,
) -> anyhow::Result<WsResult> {
    if tokens.len() < plan.channels {
        bail!(
            "too few tokens for {} channels: give at least one --token per channel, or lower --channels",
            plan.channels
        );
    }
    let base = node_url.trim_end_matches('/').to_owned();
    let http = http_client()?;
    progress.set("remote: creating channels".into());
    let suffix = std::process::id();
    let mut channel_ids = Vec::with_capacity(plan.channels);
    for (channel, token) in tokens.iter().enumerate().take(plan.channels) {
        let body = call(
            &http,
            &base,
            "conversations.create",
            token,
            serde_json::json!({
                "name": format!("bench-{suffix}-{channel}"),
            }),
        )
        .await?;
        let id = body["channel"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("conversations.create returned no channel id"))?;
        channel_ids.push(id.to_owned());
    }
    for (index, token) in tokens.iter().enumerate().skip(plan.channels) {
        let channel = &channel_ids[index % plan.channels];
        call(
            &http,
            &base,
            "conversations.join",
            token,
            serde_json::json!({ "channel": channel }),
        )
        .await?;
    }

    let clients = (0..plan.clients)
        .map(|client| Connect::Rtm {
            api_base: base.clone(),
            token: tokens[client % tokens.len()].clone(),
        })
        .collect();
    let mut members = vec![0u64; plan.channels];
    for client in 0..plan.clients {
        members[(client % tokens.len()) % plan.channels] += 1;
    }
    let targets = channel_ids
        .iter()
        .enumerate()
        .map(|(channel, id)| PostTarget {
            url: format!("{base}/api/chat.postMessage"),
            token: Some(tokens[channel].clone()),
            channel_id: id.clone(),
            members: members[channel],
        })
        .collect();
    run_load(
        plan,
        "remote node".into(),
        "remote",
        None,
        clients,
        targets,
        None,
        progress,
    )
    .await
}

/// Calls a Web API method with a JSON body and returns the body when `ok`.
async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    token: &str,
    arguments: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let body: serde_json::Value = http
        .post(format!("{base}/api/{method}"))
        .bearer_auth(token)
        .json(&arguments)
        .send()
        .await
        .with_context(|| format!("{method} request failed"))?
        .json()
        .await
        .with_context(|| format!("{method} returned invalid JSON"))?;
    if body["ok"] != true {
        bail!("{method} failed: {}", body["error"]);
    }
    Ok(body)
}

/// Returns how many of `clients` clients, dealt round robin, join `channel`.
fn members_of(channel: usize, clients: usize, channels: usize) -> u64 {
    (channel..clients).step_by(channels).count() as u64
}

/// Connects the clients, reads the server's memory, and runs the phases.
#[allow(clippy::too_many_arguments)]
async fn run_load(
    plan: &Plan,
    label: String,
    server_kind: &'static str,
    durable: Option<bool>,
    clients: Vec<Connect>,
    targets: Vec<PostTarget>,
    server: Option<&ChildServer>,
    progress: &Progress,
) -> anyhow::Result<WsResult> {
    let http = http_client()?;
    let count = clients.len();
    let rss_before = server.and_then(ChildServer::rss_bytes);
    let connected = load::connect(clients, &http, progress, &label).await?;
    progress.set(format!(
        "{label}: waiting for connect-time events to settle"
    ));
    connected.settle().await;
    let rss_connected = server.and_then(ChildServer::rss_bytes);
    let memory_per_connection = match (rss_before, rss_connected) {
        (Some(before), Some(after)) => Some((after as f64 - before as f64) / count as f64),
        _ => None,
    };

    let targets = Arc::new(targets);
    let mut results = Vec::new();
    for (index, phase) in phases(plan).iter().enumerate() {
        let result = connected
            .run_phase(index, phase, &targets, &http, progress, &label)
            .await?;
        results.push(result);
    }
    let closed_by_server = connected.closed_by_server();
    let connect_seconds = connected.connect_seconds;
    connected.finish(&mut results).await;
    Ok(WsResult {
        label,
        server: server_kind,
        durable,
        clients: count,
        channels: targets.len(),
        connect_seconds,
        server_rss_before: rss_before,
        server_rss_connected: rss_connected,
        memory_per_connection,
        closed_by_server,
        phases: results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_cover_every_client() {
        let total: u64 = (0..3).map(|channel| members_of(channel, 10, 3)).sum();
        assert_eq!(total, 10);
        assert_eq!(members_of(0, 10, 3), 4);
        assert_eq!(members_of(2, 10, 3), 3);
    }
}
