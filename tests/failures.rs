//! Bad input and failing actors: each error has Slack's string, changes
//! nothing, and the node keeps serving.

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::TestNode;
use switchboard_actors::channel::ChannelMsg;
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::session::SessionMsg;
use switchboard_actors::session_handle::CloseReason;

/// Counts the messages in a channel's history.
async fn history_len(node: &TestNode, token: &str, channel: &str) -> usize {
    let history = node
        .call_ok(
            "conversations.history",
            token,
            json!({"channel": channel, "limit": 999}),
        )
        .await;
    history["messages"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_slack_errors() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (_, outsider) = node.create_user("outsider").await;
    let private = node
        .call_ok(
            "conversations.create",
            &admin,
            json!({"name": "secret", "is_private": true}),
        )
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": private, "text": "first"}),
    )
    .await;
    let before = history_len(&node, &admin, &private).await;
    let client = reqwest::Client::new();
    let base = format!("http://{}/api", node.addr);

    // No token, a wrong token, a token for a team that does not exist.
    let body: Value = client
        .post(format!("{base}/auth.test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"ok": false, "error": "not_authed"}));
    let wrong = node
        .call("auth.test", "xoxp-TNOPE0000-0123456789abcdef", json!({}))
        .await;
    assert_eq!(wrong["error"], "invalid_auth");
    let garbage = node.call("auth.test", "garbage", json!({})).await;
    assert_eq!(garbage["error"], "invalid_auth");

    // An unknown method.
    let unknown = node.call("chat.fly", &admin, json!({})).await;
    assert_eq!(unknown["error"], "unknown_method");

    // An unknown channel, and a malformed one.
    let missing = node
        .call(
            "chat.postMessage",
            &admin,
            json!({"channel": "C0000000000", "text": "x"}),
        )
        .await;
    assert_eq!(missing["error"], "channel_not_found");
    let malformed = node
        .call(
            "chat.postMessage",
            &admin,
            json!({"channel": "not an id", "text": "x"}),
        )
        .await;
    assert_eq!(malformed["error"], "channel_not_found");

    // A non-member cannot see or post into a private channel.
    let sneaky = node
        .call(
            "chat.postMessage",
            &outsider,
            json!({"channel": private, "text": "x"}),
        )
        .await;
    assert_eq!(sneaky["error"], "channel_not_found");
    let peek = node
        .call(
            "conversations.history",
            &outsider,
            json!({"channel": private}),
        )
        .await;
    assert_eq!(peek["error"], "channel_not_found");

    // Text over 40,000 characters, and no text at all.
    let long = node
        .call(
            "chat.postMessage",
            &admin,
            json!({"channel": private, "text": "x".repeat(40_001)}),
        )
        .await;
    assert_eq!(long["error"], "msg_too_long");
    let empty = node
        .call(
            "chat.postMessage",
            &admin,
            json!({"channel": private, "text": ""}),
        )
        .await;
    assert_eq!(empty["error"], "no_text");

    // Malformed JSON and a bad thread.
    let broken: Value = client
        .post(format!("{base}/chat.postMessage"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"channel\": ")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(broken["error"], "invalid_json");
    let thread = node
        .call(
            "chat.postMessage",
            &admin,
            json!({"channel": private, "text": "x", "thread_ts": "12.000001"}),
        )
        .await;
    assert_eq!(thread["error"], "thread_not_found");
    let bad_name = node
        .call(
            "conversations.create",
            &admin,
            json!({"name": "Has Spaces"}),
        )
        .await;
    assert_eq!(bad_name["error"], "invalid_name_specials");

    // Nothing changed, and the node still serves.
    assert_eq!(history_len(&node, &admin, &private).await, before);
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": private, "text": "still here"}),
    )
    .await;
    assert_eq!(history_len(&node, &admin, &private).await, before + 1);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_tickets_are_single_use() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let url = node.call_ok("rtm.connect", &admin, json!({})).await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with("ws://"), "{url}");

    let (first, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("first use opens");
    let reused = tokio_tungstenite::connect_async(&url).await;
    match reused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
            let body: Value =
                serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"], "invalid_auth");
        }
        other => panic!("a reused ticket must be rejected with 401, got {other:?}"),
    }
    let forged = format!("ws://{}/rtm?ticket=0123", node.addr);
    assert!(tokio_tungstenite::connect_async(&forged).await.is_err());
    drop(first);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_channel_actor_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;
    let channel = node
        .call_ok("conversations.create", &admin, json!({"name": "crashy"}))
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "conversations.invite",
        &admin,
        json!({"channel": channel, "users": bob_id}),
    )
    .await;
    let mut bob_socket = node.connect(&bob).await;
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": channel, "text": "before"}),
    )
    .await;
    assert_eq!(bob_socket.next_message().await["text"], "before");

    // Make the channel's actor panic.
    let registry = node.engine.hub().registry();
    let (_, actor) = registry
        .channels
        .get(&ChannelId::from(channel.as_str()))
        .unwrap()
        .value()
        .clone();
    let old_id = actor.get_id();
    actor.send_message(ChannelMsg::Panic).unwrap();

    // The team actor starts a new one, and it still delivers to Bob's socket.
    let mut restarted = None;
    for _ in 0..100 {
        if let Some(entry) = registry.channels.get(&ChannelId::from(channel.as_str())) {
            if entry.value().1.get_id() != old_id {
                restarted = Some(entry.value().1.get_id());
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(restarted.is_some(), "channel actor was not restarted");
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": channel, "text": "after"}),
    )
    .await;
    assert_eq!(bob_socket.next_message().await["text"], "after");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_session_actor_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let team = TeamId(node.bootstrap.team_id.to_string());
    let admin_id = UserId(node.bootstrap.admin.user_id.to_string());

    let opened = node
        .engine
        .open_session(&team, &admin_id)
        .await
        .expect("session opens");
    let registry = node.engine.hub().registry();
    assert_eq!(registry.session_count(&admin_id), 1);
    opened.actor.send_message(SessionMsg::Panic).unwrap();

    // The supervisor ends the session with an internal-error close reason.
    tokio::time::timeout(Duration::from_secs(5), opened.outbound.closed.cancelled())
        .await
        .expect("session closed after its actor failed");
    assert_eq!(
        opened.outbound.close_reason(),
        Some(CloseReason::InternalError)
    );
    for _ in 0..100 {
        if registry.session_count(&admin_id) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(registry.session_count(&admin_id), 0);

    // The node keeps serving new sockets.
    let mut socket = node.connect(&admin).await;
    socket.send(json!({"id": 1, "type": "ping"})).await;
    let pong = socket.next_matching(|e| e["type"] == "pong").await;
    assert_eq!(pong["reply_to"], 1);
    node.stop().await;
}
