//! The node binary stops gracefully on SIGTERM: sockets get a close frame, the
//! process exits 0, and every acknowledged message is there after a restart.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Kills the node if the test panics before stopping it.
struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the node and waits until it answers.
async fn start(data_dir: &Path, port: u16) -> NodeProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node binary starts");
    let node = NodeProcess(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let up = reqwest::get(format!("http://127.0.0.1:{port}/api/api.test"))
            .await
            .is_ok();
        if up && data_dir.join("bootstrap.json").exists() {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node did not start within 20 s");
}

async fn call(port: u16, method: &str, token: &str, args: Value) -> Value {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/{method}"))
        .bearer_auth(token)
        .json(&args)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_and_keeps_messages() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut node = start(dir.path(), port).await;
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("bootstrap.json")).unwrap())
            .unwrap();
    let token = bootstrap["admin"]["token"].as_str().unwrap().to_owned();

    let url = call(port, "rtm.connect", &token, json!({})).await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let channels = call(port, "conversations.list", &token, json!({})).await;
    let general = channels["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "general")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut posted = Vec::new();
    for index in 0..20 {
        let body = call(
            port,
            "chat.postMessage",
            &token,
            json!({"channel": general, "text": format!("m{index}")}),
        )
        .await;
        assert_eq!(body["ok"], true, "{body}");
        posted.push(body["ts"].as_str().unwrap().to_owned());
    }

    // SIGTERM: the socket gets a close frame with 1001 (going away).
    let status = Command::new("kill")
        .args(["-TERM", &node.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut close_code = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(15), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                close_code = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(Some(Ok(_))) => continue,
            _ => break,
        }
    }
    assert_eq!(close_code, Some(1001));
    let exit = tokio::task::spawn_blocking(move || node.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "node exited with {exit}");

    // Every acknowledged message is there after a restart.
    let _node = start(dir.path(), port).await;
    let history = call(
        port,
        "conversations.history",
        &token,
        json!({"channel": general, "limit": 100}),
    )
    .await;
    let stored: Vec<String> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ts"].as_str().unwrap().to_owned())
        .collect();
    for ts in &posted {
        assert!(stored.contains(ts), "message {ts} lost across restart");
    }
}
