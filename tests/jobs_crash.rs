//! The outbox survives a crash between the commit and the publish: the node
//! binary runs as a child process with the relay told to hold its jobs
//! (fault injection), is killed with SIGKILL once it holds them, and after a
//! restart the job still runs.

mod jobs_support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use jobs_support::{kafka_queue_url, wait_for, Receiver};

/// Returns a loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A node process that is killed (SIGKILL) when dropped, so a failing test
/// leaves no node behind.
struct NodeProcess(Child);

impl NodeProcess {
    /// Kills the node with SIGKILL and waits for it to exit.
    fn kill(&mut self) {
        let _ = self.0.kill();
        self.0.wait().expect("killed node exits");
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `switchboard serve` on `port`; with `hold_marker`, the relay holds
/// its jobs and writes that file.
fn spawn_node(
    dir: &Path,
    port: u16,
    queue: &str,
    push_url: &str,
    hold_marker: Option<&Path>,
) -> NodeProcess {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("node.log"))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--queue", queue, "--push-gateway-url", push_url])
        .env_remove("SWITCHBOARD_FAULT_RELAY_HOLD_MARKER")
        .stdout(Stdio::null())
        .stderr(log);
    if let Some(marker) = hold_marker {
        command.env("SWITCHBOARD_FAULT_RELAY_HOLD_MARKER", marker);
    }
    NodeProcess(command.spawn().expect("node binary starts"))
}

/// Calls a method on the node and asserts `ok: true`.
async fn call_ok(port: u16, method: &str, token: &str, args: Value) -> Value {
    let body: Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/{method}"))
        .bearer_auth(token)
        .json(&args)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON body");
    assert_eq!(body["ok"], true, "{method} failed: {body}");
    body
}

/// Waits until `api.test` succeeds on the node.
async fn wait_until_serving(port: u16) {
    wait_for("the node to serve", || async move {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/api/api.test"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .ok()?;
        response.status().is_success().then_some(())
    })
    .await;
}

async fn job_survives_sigkill(queue: &str) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let marker = dir.path().join("relay-held");
    let port = free_port();

    let mut node = spawn_node(dir.path(), port, queue, &receiver.push_url(), Some(&marker));
    wait_until_serving(port).await;
    let bootstrap: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("data").join("bootstrap.json")).unwrap(),
    )
    .unwrap();
    let admin = bootstrap["admin"]["token"].as_str().unwrap().to_owned();
    let team = bootstrap["team_id"].as_str().unwrap().to_owned();

    // Bob is created by the admin command while the node runs, and never
    // connects, so a direct message to him is pushed.
    let created = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["admin", "create-user", "--team", &team, "--name", "bob"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .expect("admin command runs");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let bob: Value = serde_json::from_slice(&created.stdout).unwrap();
    let bob_id = bob["user_id"].as_str().unwrap().to_owned();

    let dm = call_ok(port, "conversations.open", &admin, json!({"users": bob_id})).await["channel"]
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();
    call_ok(
        port,
        "chat.postMessage",
        &admin,
        json!({"channel": dm, "text": "survive this"}),
    )
    .await;

    // The job is committed and the relay holds it unpublished: kill the node.
    let held = marker.clone();
    wait_for("the relay to hold the job", || {
        let held = held.clone();
        async move { held.exists().then_some(()) }
    })
    .await;
    node.kill();
    assert!(
        receiver.try_next_push().await.is_none(),
        "a push ran before the crash"
    );

    let mut restarted = spawn_node(dir.path(), port, queue, &receiver.push_url(), None);
    let push = receiver.next_push().await;
    assert_eq!(push["user_id"], bob_id.as_str(), "{push}");
    assert_eq!(push["text"], "survive this", "{push}");
    assert_eq!(push["reason"], "dm", "{push}");

    restarted.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_survives_sigkill_on_embedded_queue() {
    job_survives_sigkill("embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: set SWITCHBOARD_TEST_KAFKA"]
async fn outbox_survives_sigkill_on_kafka() {
    let queue = kafka_queue_url("crash").expect("SWITCHBOARD_TEST_KAFKA is set");
    job_survives_sigkill(&queue).await;
}
