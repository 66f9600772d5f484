//! The `/rtm` WebSocket at the protocol level: large and oversized client
//! frames, and WebSocket pings, through a real connection.

mod common;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use common::{TestNode, EVENT_TIMEOUT};
use switchboard_engine::socket::{MAX_CLIENT_FRAME, READ_BUFFER};

/// Creates a public channel with the admin and `member` in it; returns its id.
async fn shared_channel(node: &TestNode, admin: &str, member: &str) -> String {
    let channel = node
        .call_ok("conversations.create", admin, json!({"name": "frames"}))
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "conversations.invite",
        admin,
        json!({"channel": channel, "users": member}),
    )
    .await;
    channel
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longest_message_frame_is_posted() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;
    let channel = shared_channel(&node, &admin, &bob_id).await;
    let mut sender = node.connect(&admin).await;
    let mut receiver = node.connect(&bob).await;

    // 40,000 characters, the most a message may carry, span many reads of the
    // node's read buffer; two-byte characters make the frame twice as long.
    let text = "é".repeat(40_000);
    assert!(text.len() > 10 * READ_BUFFER);
    sender
        .send(json!({"id": 7, "type": "message", "channel": channel, "text": text}))
        .await;

    let reply = sender.next_matching(|e| e["reply_to"] == 7).await;
    assert_eq!(reply["ok"], true, "{reply}");
    let message = receiver.next_message().await;
    assert_eq!(message["channel"], channel.as_str());
    assert_eq!(message["text"].as_str().map(str::len), Some(text.len()));
    assert_eq!(message["text"], text.as_str());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frame_ends_only_that_socket() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let mut socket = node.connect(&admin).await;

    let oversized = "x".repeat(MAX_CLIENT_FRAME + 1);
    // The node may close the socket while the frame is still being written.
    let _ = socket.stream.send(Message::text(oversized)).await;
    let ended = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            match socket.stream.next().await {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "the socket stayed open after an oversized frame"
    );

    // The node keeps serving: a new socket opens and answers a ping frame.
    let mut again = node.connect(&admin).await;
    again.send(json!({"id": 1, "type": "ping"})).await;
    let pong = again.next_matching(|e| e["type"] == "pong").await;
    assert_eq!(pong["reply_to"], 1, "{pong}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_ping_gets_pong() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let mut socket = node.connect(&admin).await;

    socket
        .stream
        .send(Message::Ping(b"probe".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            match socket.stream.next().await {
                Some(Ok(Message::Pong(payload))) => return Some(payload),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("a pong within the timeout");
    assert_eq!(pong.as_deref(), Some(&b"probe"[..]));

    // The socket still carries events after the pong.
    socket.send(json!({"id": 2, "type": "ping"})).await;
    let reply = socket.next_matching(|e| e["type"] == "pong").await;
    assert_eq!(reply["reply_to"], 2, "{reply}");
    node.stop().await;
}
