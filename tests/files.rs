//! File uploads over real sockets: the two-step upload, downloads and who may
//! make them, the size limit, deleting, and a node killed mid-upload.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use common::TestNode;

/// Runs `files.getUploadURLExternal`; returns (upload URL, file id).
async fn upload_url(node: &TestNode, token: &str, name: &str, length: usize) -> (String, String) {
    let body = node
        .call_ok(
            "files.getUploadURLExternal",
            token,
            json!({ "filename": name, "length": length }),
        )
        .await;
    (
        body["upload_url"].as_str().unwrap().to_owned(),
        body["file_id"].as_str().unwrap().to_owned(),
    )
}

/// Uploads bytes and shares them into `channel`; returns the file object.
async fn upload(node: &TestNode, token: &str, channel: &str, name: &str, bytes: &[u8]) -> Value {
    let (url, file_id) = upload_url(node, token, name, bytes.len()).await;
    let response = reqwest::Client::new()
        .post(&url)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let completed = node
        .call_ok(
            "files.completeUploadExternal",
            token,
            json!({ "files": [{ "id": file_id, "title": name }], "channel_id": channel }),
        )
        .await;
    completed["files"][0].clone()
}

/// Returns every regular file below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_below(&path));
        } else {
            found.push(path);
        }
    }
    found
}

async fn create_channel(node: &TestNode, name: &str) -> String {
    let created = node
        .call_ok(
            "conversations.create",
            &node.bootstrap.admin.token,
            json!({ "name": name }),
        )
        .await;
    created["channel"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn upload_shares_and_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let channel = create_channel(&node, "reports").await;
    let (member, member_token) = node.create_user("member").await;
    let (_, outsider_token) = node.create_user("outsider").await;
    node.call_ok(
        "conversations.invite",
        &admin,
        json!({ "channel": channel, "users": member }),
    )
    .await;
    let mut socket = node.connect(&member_token).await;

    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let file = upload(&node, &admin, &channel, "report.bin", &bytes).await;
    let file_id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(file["size"], 50_000);
    assert_eq!(file["channels"][0], channel.as_str());

    let shared = socket.next_matching(|e| e["type"] == "file_shared").await;
    assert_eq!(shared["file_id"], file_id.as_str());
    assert_eq!(shared["channel_id"], channel.as_str());
    let message = socket
        .next_matching(|e| e["type"] == "message" && e.get("files").is_some())
        .await;
    assert_eq!(message["files"][0]["id"], file_id.as_str());

    let url = file["url_private"].as_str().unwrap();
    let download = reqwest::Client::new()
        .get(url)
        .bearer_auth(&member_token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let refused = reqwest::Client::new()
        .get(url)
        .bearer_auth(&outsider_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 404);
    let info = node
        .call("files.info", &outsider_token, json!({ "file": file_id }))
        .await;
    assert_eq!(info["error"], "file_not_found");

    let listed = node
        .call_ok("files.list", &member_token, json!({ "channel": channel }))
        .await;
    assert_eq!(listed["files"].as_array().unwrap().len(), 1);
    assert_eq!(listed["paging"]["total"], 1);
    let none = node.call_ok("files.list", &outsider_token, json!({})).await;
    assert_eq!(none["paging"]["total"], 0);
    node.stop().await;
}

#[tokio::test]
async fn upload_over_limit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start_with(dir.path(), |config| config.max_file_bytes = 10_000).await;
    let admin = node.bootstrap.admin.token.clone();

    let announced = node
        .call(
            "files.getUploadURLExternal",
            &admin,
            json!({ "filename": "big.bin", "length": 10_001 }),
        )
        .await;
    assert_eq!(announced["error"], "file_too_large");

    // The client announces a small file, then streams more than the limit
    // without a Content-Length.
    let (url, file_id) = upload_url(&node, &admin, "liar.bin", 100).await;
    let chunks =
        futures_util::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![7u8; 1000])));
    let response = reqwest::Client::new()
        .post(&url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(response.text().await.unwrap(), "file_too_large");

    let info = node
        .call("files.info", &admin, json!({ "file": file_id }))
        .await;
    assert_eq!(info["error"], "file_not_found");
    let complete = node
        .call(
            "files.completeUploadExternal",
            &admin,
            json!({ "files": [{ "id": file_id }] }),
        )
        .await;
    assert_eq!(complete["error"], "file_not_found");
    let stored = files_below(&dir.path().join("files"));
    assert!(stored.is_empty(), "no bytes kept: {stored:?}");
    node.stop().await;
}

#[tokio::test]
async fn delete_removes_unreferenced_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let channel = create_channel(&node, "dupes").await;
    let (_, member_token) = node.create_user("someone").await;

    let first = upload(&node, &admin, &channel, "a.txt", b"same bytes").await;
    let second = upload(&node, &admin, &channel, "b.txt", b"same bytes").await;
    let blobs = || {
        files_below(&dir.path().join("files"))
            .into_iter()
            .filter(|p| !p.starts_with(dir.path().join("files").join("tmp")))
            .collect::<Vec<_>>()
    };
    assert_eq!(blobs().len(), 1, "identical bytes share one blob");

    let denied = node
        .call(
            "files.delete",
            &member_token,
            json!({ "file": first["id"] }),
        )
        .await;
    assert_eq!(denied["error"], "file_not_found");
    node.call_ok("files.delete", &admin, json!({ "file": first["id"] }))
        .await;
    assert_eq!(
        blobs().len(),
        1,
        "the second file still refers to the bytes"
    );
    let info = node
        .call("files.info", &admin, json!({ "file": first["id"] }))
        .await;
    assert_eq!(info["error"], "file_not_found");

    node.call_ok("files.delete", &admin, json!({ "file": second["id"] }))
        .await;
    assert!(blobs().is_empty(), "bytes removed: {:?}", blobs());
    node.stop().await;
}

/// A node run as a child process, killed when dropped.
struct ChildNode {
    /// The `switchboard serve` process.
    child: Child,
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `switchboard serve` on `data_dir` and waits until it accepts
/// connections and has written bootstrap.json.
async fn start_child(data_dir: &Path, port: u16) -> ChildNode {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the switchboard binary");
    let node = ChildNode { child };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = data_dir.join("bootstrap.json").is_file()
            && tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok();
        if ready {
            return node;
        }
        assert!(
            Instant::now() < deadline,
            "node did not start on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn call_child(port: u16, method: &str, token: &str, args: Value) -> Value {
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

#[tokio::test]
async fn killed_upload_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let port = free_port();
    let mut node = start_child(&data_dir, port).await;
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("bootstrap.json")).unwrap())
            .unwrap();
    let admin = bootstrap["admin"]["token"].as_str().unwrap().to_owned();

    let length = 1_000_000;
    let started = call_child(
        port,
        "files.getUploadURLExternal",
        &admin,
        json!({ "filename": "slow.bin", "length": length }),
    )
    .await;
    let file_id = started["file_id"].as_str().unwrap().to_owned();
    let url = started["upload_url"].as_str().unwrap();
    let path = url.split_once(&format!("127.0.0.1:{port}")).unwrap().1;

    // Send the headers and part of the body, then stall.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![1u8; 300_000]).await.unwrap();
    stream.flush().await.unwrap();

    let temporary = data_dir.join("files").join("tmp");
    let deadline = Instant::now() + Duration::from_secs(10);
    while files_below(&temporary)
        .iter()
        .all(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) == 0)
    {
        assert!(
            Instant::now() < deadline,
            "the upload never reached the disk"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // SIGKILL: no shutdown code runs.
    node.child.kill().unwrap();
    node.child.wait().unwrap();
    drop(stream);
    drop(node);

    let port = free_port();
    let _node = start_child(&data_dir, port).await;
    let leftovers = files_below(&data_dir.join("files"));
    assert!(
        leftovers.is_empty(),
        "no partial file after restart: {leftovers:?}"
    );
    let info = call_child(port, "files.info", &admin, json!({ "file": file_id })).await;
    assert_eq!(info["error"], "file_not_found");
    let listed = call_child(port, "files.list", &admin, json!({})).await;
    assert_eq!(listed["paging"]["total"], 0, "{listed}");
}
