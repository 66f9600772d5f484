//! Real-time events for the life of a channel and for direct messages, as a
//! member's socket receives them.

mod common;

use serde_json::json;

use common::TestNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_lifecycle_events_reach_members() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;
    let mut bob_socket = node.connect(&bob).await;
    let mut admin_socket = node.connect(&admin).await;

    // A new public channel is announced to the whole team.
    let created = node
        .call_ok("conversations.create", &admin, json!({"name": "launch"}))
        .await;
    let channel = created["channel"]["id"].as_str().unwrap().to_owned();
    let event = bob_socket
        .next_matching(|e| e["type"] == "channel_created")
        .await;
    assert_eq!(event["channel"]["id"], channel.as_str());
    assert_eq!(event["channel"]["name"], "launch");

    // Bob is invited: he gets channel_joined, members get member_joined_channel
    // and the channel_join message.
    node.call_ok(
        "conversations.invite",
        &admin,
        json!({"channel": channel, "users": bob_id}),
    )
    .await;
    let event = bob_socket
        .next_matching(|e| e["type"] == "channel_joined")
        .await;
    assert_eq!(event["channel"]["id"], channel.as_str());
    let event = admin_socket
        .next_matching(|e| e["type"] == "member_joined_channel")
        .await;
    assert_eq!(event["user"], bob_id.as_str());
    assert_eq!(event["channel"], channel.as_str());
    let event = admin_socket
        .next_matching(|e| e["subtype"] == "channel_join")
        .await;
    assert_eq!(event["user"], bob_id.as_str());

    // Typing goes to the other members only.
    admin_socket
        .send(json!({"id": 1, "type": "typing", "channel": channel}))
        .await;
    let event = bob_socket
        .next_matching(|e| e["type"] == "user_typing")
        .await;
    assert_eq!(event["user"], node.bootstrap.admin.user_id.as_str());
    assert_eq!(event["channel"], channel.as_str());

    // Rename, topic, archive and unarchive.
    let renamed = node
        .call_ok(
            "conversations.rename",
            &admin,
            json!({"channel": channel, "name": "launch-day"}),
        )
        .await;
    assert_eq!(renamed["channel"]["name"], "launch-day");
    let event = bob_socket
        .next_matching(|e| e["type"] == "channel_rename")
        .await;
    assert_eq!(event["channel"]["name"], "launch-day");
    node.call_ok(
        "conversations.setTopic",
        &admin,
        json!({"channel": channel, "topic": "T minus 1"}),
    )
    .await;
    let event = bob_socket
        .next_matching(|e| e["subtype"] == "channel_topic")
        .await;
    assert_eq!(event["topic"], "T minus 1");
    node.call_ok("conversations.archive", &admin, json!({"channel": channel}))
        .await;
    let event = bob_socket
        .next_matching(|e| e["type"] == "channel_archive")
        .await;
    assert_eq!(event["channel"], channel.as_str());
    let archived = node
        .call(
            "chat.postMessage",
            &bob,
            json!({"channel": channel, "text": "x"}),
        )
        .await;
    assert_eq!(archived["error"], "is_archived");
    node.call_ok(
        "conversations.unarchive",
        &admin,
        json!({"channel": channel}),
    )
    .await;
    let event = bob_socket
        .next_matching(|e| e["type"] == "channel_unarchive")
        .await;
    assert_eq!(event["channel"], channel.as_str());

    // Bob leaves: members see it, and Bob gets channel_left.
    node.call_ok("conversations.leave", &bob, json!({"channel": channel}))
        .await;
    let event = admin_socket
        .next_matching(|e| e["type"] == "member_left_channel")
        .await;
    assert_eq!(event["user"], bob_id.as_str());
    let event = bob_socket
        .next_matching(|e| e["type"] == "channel_left")
        .await;
    assert_eq!(event["channel"], channel.as_str());

    // After leaving, Bob no longer receives the channel's messages.
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": channel, "text": "after bob left"}),
    )
    .await;
    let (dm_id, _) = open_dm(&node, &admin, &bob_id).await;
    let event = bob_socket
        .next_matching(|e| e["type"] == "im_created" || e["text"] == "after bob left")
        .await;
    assert_eq!(
        event["type"], "im_created",
        "Bob received a message after leaving: {event}"
    );
    assert_eq!(event["channel"]["id"], dm_id.as_str());
    node.stop().await;
}

/// Opens a direct message from `token`'s user to `other`; returns its id and
/// whether it already existed.
async fn open_dm(node: &TestNode, token: &str, other: &str) -> (String, bool) {
    let opened = node
        .call_ok("conversations.open", token, json!({"users": other}))
        .await;
    let id = opened["channel"]["id"].as_str().unwrap().to_owned();
    (id, opened["already_open"] == true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_and_presence() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;
    let (carol_id, _) = node.create_user("carol").await;
    let mut admin_socket = node.connect(&admin).await;
    admin_socket
        .send(json!({"type": "presence_sub", "ids": [bob_id]}))
        .await;

    // Bob connecting makes him active for his subscribers.
    let mut bob_socket = node.connect(&bob).await;
    let event = admin_socket
        .next_matching(|e| e["type"] == "presence_change" && e["user"] == bob_id.as_str())
        .await;
    assert_eq!(event["presence"], "active");

    // A direct message is opened once and reused.
    let (dm, existed) = open_dm(&node, &admin, &bob_id).await;
    assert!(dm.starts_with('D'), "{dm}");
    assert!(!existed);
    let (again, existed) = open_dm(&node, &bob, &node.bootstrap.admin.user_id.to_string()).await;
    assert_eq!(again, dm);
    assert!(existed);
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": dm, "text": "psst"}),
    )
    .await;
    let event = bob_socket.next_matching(|e| e["text"] == "psst").await;
    assert_eq!(event["channel"], dm.as_str());

    // A group of three is a multi-person direct message.
    let opened = node
        .call_ok(
            "conversations.open",
            &admin,
            json!({"users": format!("{bob_id},{carol_id}")}),
        )
        .await;
    assert_eq!(opened["channel"]["is_mpim"], true);

    // Bob leaving makes him away.
    drop(bob_socket);
    let event = admin_socket
        .next_matching(|e| e["type"] == "presence_change" && e["user"] == bob_id.as_str())
        .await;
    assert_eq!(event["presence"], "away");
    node.stop().await;
}
