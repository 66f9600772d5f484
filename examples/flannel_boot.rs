//! Measures the two boots and a reconnect storm on a seeded team: payload bytes
//! and request time of `rtm.start` against `client.boot`, cold (team not
//! loaded) and warm, then the time for N sessions of the team to reconnect at
//! once and all receive `hello`. Everything runs on loopback in a temporary
//! data directory and ends by itself.
//!
//! ```sh
//! cargo run --release --example flannel_boot -- 10000 2000 20 2000
//! ```
//! Arguments: users, channels, channels per user, storm sessions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use switchboard_engine::seed::{seed_team, SeedSize};
use switchboard_engine::store::sqlite::SqliteStore;
use switchboard_engine::{Config, Engine};

/// A node serving on a loopback port until the task is aborted.
struct Node {
    engine: Arc<Engine>,
    base: String,
    server: tokio::task::JoinHandle<()>,
}

async fn start(dir: &std::path::Path) -> Node {
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        durable: false,
        ..Config::default()
    };
    let engine = Arc::new(Engine::start(config).await.expect("engine starts"));
    let listener = engine.bind().await.expect("bind loopback");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = engine.clone();
    let server = tokio::spawn(async move {
        serving.serve(listener, std::future::pending()).await;
    });
    Node {
        engine,
        base,
        server,
    }
}

/// Calls a method; returns (body bytes, request time, parsed body).
async fn call(
    client: &reqwest::Client,
    node: &Node,
    method: &str,
    token: &str,
) -> (usize, Duration, Value) {
    let started = Instant::now();
    let body = client
        .post(format!("{}/api/{method}", node.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("body");
    let elapsed = started.elapsed();
    let value: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(value["ok"], true, "{method}: {value}");
    (body.len(), elapsed, value)
}

fn raise_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("numeric arguments: users channels per_user sessions")
        })
        .collect();
    let users = args.first().copied().unwrap_or(10_000);
    let channels = args.get(1).copied().unwrap_or(2_000);
    let per_user = args.get(2).copied().unwrap_or(20);
    let sessions = args.get(3).copied().unwrap_or(2_000);
    raise_open_file_limit();

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("switchboard.db"), false).unwrap();
    let size = SeedSize {
        users,
        channels,
        channels_per_user: per_user,
        messages_per_channel: 5,
    };
    let started = Instant::now();
    let seeded = seed_team(&store, "Measure", &size).await.expect("seed");
    println!(
        "seeded {users} users, {channels} channels, {} memberships, {} messages in {:.2?}",
        seeded.memberships,
        seeded.messages,
        started.elapsed()
    );
    drop(store);
    let client = reqwest::Client::new();

    for method in ["rtm.start", "client.boot"] {
        // Cold: a fresh node, so the call loads the team.
        let node = start(dir.path()).await;
        let (bytes, cold, _) = call(&client, &node, method, &seeded.token).await;
        let mut warm = Vec::new();
        for _ in 0..5 {
            warm.push(call(&client, &node, method, &seeded.token).await.1);
        }
        warm.sort();
        println!(
            "{method}: {bytes} bytes, cold {:.1} ms, warm median of 5 {:.1} ms",
            cold.as_secs_f64() * 1e3,
            warm[2].as_secs_f64() * 1e3
        );
        node.engine.stop().await;
        node.server.abort();
    }

    // Reconnect storm on a fresh node: every session asks for a socket URL
    // and opens it at once; the time ends when the last `hello` arrives.
    let node = Arc::new(start(dir.path()).await);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..sessions {
        let node = node.clone();
        let client = client.clone();
        let token = seeded.token.clone();
        tasks.push(tokio::spawn(async move {
            let (_, _, body) = call(&client, &node, "rtm.connect", &token).await;
            let url = body["url"].as_str().unwrap().to_owned();
            let (mut socket, _) = tokio_tungstenite::connect_async(&url)
                .await
                .expect("socket");
            let hello = socket.next().await.expect("frame").expect("read");
            assert!(hello.to_text().unwrap().contains("hello"));
            socket
        }));
    }
    let mut sockets = Vec::new();
    for task in tasks {
        sockets.push(task.await.expect("session task"));
    }
    println!(
        "storm: {} sessions got hello in {:.2?}",
        sockets.len(),
        started.elapsed()
    );
    drop(sockets);
    node.engine.stop().await;
}
