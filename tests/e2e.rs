//! End-to-end tests over real sockets against a node on the embedded store.

mod common;

use serde_json::json;

use common::TestNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;

    let created = node
        .call_ok("conversations.create", &admin, json!({"name": "e2e"}))
        .await;
    let channel = created["channel"]["id"].as_str().unwrap().to_owned();
    node.call_ok(
        "conversations.invite",
        &admin,
        json!({"channel": channel, "users": bob_id}),
    )
    .await;

    let mut admin_socket = node.connect(&admin).await;
    let mut bob_socket = node.connect(&bob).await;

    // One post over HTTP, one over the socket.
    let posted = node
        .call_ok(
            "chat.postMessage",
            &admin,
            json!({"channel": channel, "text": "over http"}),
        )
        .await;
    admin_socket
        .send(json!({"id": 7, "type": "message", "channel": channel, "text": "over socket"}))
        .await;
    let ack = admin_socket
        .next_matching(|e| e.get("reply_to").is_some())
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["reply_to"], 7);
    let socket_ts = ack["ts"].as_str().unwrap().to_owned();

    // Bob receives both, in order.
    let first = bob_socket.next_message().await;
    let second = bob_socket.next_message().await;
    assert_eq!(first["text"], "over http");
    assert_eq!(first["ts"], posted["ts"]);
    assert_eq!(first["channel"], channel.as_str());
    assert_eq!(second["text"], "over socket");
    assert_eq!(second["ts"], socket_ts.as_str());
    assert!(first["ts"].as_str().unwrap() < second["ts"].as_str().unwrap());

    // History returns both, newest first.
    let history = node
        .call_ok("conversations.history", &bob, json!({"channel": channel}))
        .await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.get("subtype").is_none())
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["over socket", "over http"]);

    // After a restart on the same data directory, history is unchanged.
    drop(admin_socket);
    drop(bob_socket);
    node.stop().await;
    let node = TestNode::start(dir.path()).await;
    let history = node
        .call_ok("conversations.history", &bob, json!({"channel": channel}))
        .await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m.get("subtype").is_none())
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["over socket", "over http"]);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_reactions_edits_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;
    let channel = node
        .call_ok("conversations.create", &admin, json!({"name": "threads"}))
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

    let parent = node
        .call_ok(
            "chat.postMessage",
            &admin,
            json!({"channel": channel, "text": "parent"}),
        )
        .await;
    let parent_ts = parent["ts"].as_str().unwrap().to_owned();
    let reply = node
        .call_ok(
            "chat.postMessage",
            &admin,
            json!({"channel": channel, "text": "reply", "thread_ts": parent_ts}),
        )
        .await;
    assert_eq!(reply["message"]["thread_ts"], parent_ts.as_str());
    node.call_ok(
        "reactions.add",
        &bob,
        json!({"channel": channel, "timestamp": parent_ts, "name": "tada"}),
    )
    .await;
    let again = node
        .call(
            "reactions.add",
            &bob,
            json!({"channel": channel, "timestamp": parent_ts, "name": "tada"}),
        )
        .await;
    assert_eq!(again["error"], "already_reacted");
    node.call_ok(
        "chat.update",
        &admin,
        json!({"channel": channel, "ts": parent_ts, "text": "edited"}),
    )
    .await;
    let bob_edit = node
        .call(
            "chat.update",
            &bob,
            json!({"channel": channel, "ts": parent_ts, "text": "x"}),
        )
        .await;
    assert_eq!(bob_edit["error"], "cant_update_message");
    node.call_ok(
        "chat.delete",
        &admin,
        json!({"channel": channel, "ts": reply["ts"]}),
    )
    .await;

    // The socket sees each event in order.
    let event = bob_socket.next_message().await;
    assert_eq!(event["text"], "parent");
    let event = bob_socket.next_message().await;
    assert_eq!(event["thread_ts"], parent_ts.as_str());
    let event = bob_socket
        .next_matching(|e| e["type"] == "reaction_added")
        .await;
    assert_eq!(event["reaction"], "tada");
    assert_eq!(event["item"]["ts"], parent_ts.as_str());
    let event = bob_socket
        .next_matching(|e| e["subtype"] == "message_changed")
        .await;
    assert_eq!(event["message"]["text"], "edited");
    assert_eq!(event["previous_message"]["text"], "parent");
    let event = bob_socket
        .next_matching(|e| e["subtype"] == "message_deleted")
        .await;
    assert_eq!(event["deleted_ts"], reply["ts"]);

    // The stored parent carries the edit and the reaction; the reply is gone.
    let replies = node
        .call_ok(
            "conversations.replies",
            &bob,
            json!({"channel": channel, "ts": parent_ts}),
        )
        .await;
    let messages = replies["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{replies}");
    assert_eq!(messages[0]["text"], "edited");
    assert_eq!(messages[0]["reactions"][0]["name"], "tada");
    assert_eq!(messages[0]["reactions"][0]["count"], 1);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_with_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let channel = node
        .call_ok("conversations.create", &admin, json!({"name": "pages"}))
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for index in 0..7 {
        node.call_ok(
            "chat.postMessage",
            &admin,
            json!({"channel": channel, "text": format!("m{index}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let page = node
            .call_ok(
                "conversations.history",
                &admin,
                json!({"channel": channel, "limit": 3, "cursor": cursor}),
            )
            .await;
        pages += 1;
        for message in page["messages"].as_array().unwrap() {
            seen.push(message["text"].as_str().unwrap().to_owned());
        }
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(page["has_more"], !cursor.is_empty());
        if cursor.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);

    // An inclusive window returns exactly its bounds.
    let all = node
        .call_ok(
            "conversations.history",
            &admin,
            json!({"channel": channel, "limit": 100}),
        )
        .await;
    let ts: Vec<String> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ts"].as_str().unwrap().to_owned())
        .collect();
    let window = node
        .call_ok(
            "conversations.history",
            &admin,
            json!({"channel": channel, "latest": ts[1], "oldest": ts[3], "inclusive": true}),
        )
        .await;
    assert_eq!(window["messages"].as_array().unwrap().len(), 3);
    let exclusive = node
        .call_ok(
            "conversations.history",
            &admin,
            json!({"channel": channel, "latest": ts[1], "oldest": ts[3]}),
        )
        .await;
    assert_eq!(exclusive["messages"].as_array().unwrap().len(), 1);
    assert_eq!(exclusive["messages"][0]["ts"], ts[2].as_str());
    node.stop().await;
}
