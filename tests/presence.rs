//! Presence over real sockets: devices, idle detection, manual away,
//! subscriptions, batching, do not disturb, and a presence actor restart.

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::{Socket, TestNode};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::presence::{self, PresenceMsg};

/// Returns the next `presence_change` as (sorted users, presence).
async fn next_presence(socket: &mut Socket) -> (Vec<String>, String) {
    let event = socket
        .next_matching(|event| event["type"] == "presence_change")
        .await;
    let mut users: Vec<String> = event["users"]
        .as_array()
        .unwrap_or_else(|| panic!("presence_change without users: {event}"))
        .iter()
        .map(|user| user.as_str().unwrap().to_owned())
        .collect();
    users.sort();
    (users, event["presence"].as_str().unwrap().to_owned())
}

/// Sends a ping and returns every frame received before its pong. The session
/// actor takes frames and presence changes in order, so a change it received
/// before the ping is among them.
async fn frames_until_pong(socket: &mut Socket, id: u64) -> Vec<Value> {
    socket.send(json!({"type": "ping", "id": id})).await;
    let mut frames = Vec::new();
    loop {
        let frame = socket.next_event().await;
        if frame["type"] == "pong" && frame["reply_to"] == id {
            return frames;
        }
        frames.push(frame);
    }
}

/// Subscribes a socket to `users` and waits until the node has applied it.
async fn subscribe(socket: &mut Socket, users: &[&str]) {
    socket
        .send(json!({"type": "presence_sub", "ids": users}))
        .await;
    let frames = frames_until_pong(socket, 1).await;
    assert!(
        frames.iter().all(|frame| frame["type"] != "error"),
        "presence_sub was rejected: {frames:?}"
    );
}

async fn close(socket: Socket) {
    let mut stream = socket.stream;
    stream.close(None).await.expect("close frame sent");
}

/// Returns the caller's own `users.getPresence` body.
async fn own_presence(node: &TestNode, token: &str) -> Value {
    node.call_ok("users.getPresence", token, json!({})).await
}

/// Starts a node that sends every presence change at once.
async fn unbatched_node(dir: &std::path::Path) -> TestNode {
    TestNode::start_with(dir, |config| config.presence_batch_ms = 0).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_one_change() {
    let dir = tempfile::tempdir().unwrap();
    let node = unbatched_node(dir.path()).await;
    let (_, watcher_token) = node.create_user("watcher").await;
    let (bob, bob_token) = node.create_user("bob").await;
    let (carol, carol_token) = node.create_user("carol").await;

    let mut watcher = node.connect(&watcher_token).await;
    subscribe(&mut watcher, &[&bob, &carol]).await;

    let desktop = node.connect(&bob_token).await;
    let phone = node.connect(&bob_token).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "active".into())
    );
    let body = own_presence(&node, &bob_token).await;
    assert_eq!(body["connection_count"], 2, "{body}");

    close(desktop).await;
    let body = own_presence(&node, &bob_token).await;
    assert_eq!(body["presence"], "active", "one device left: {body}");

    close(phone).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "away".into())
    );

    // Carol's change is the marker: any extra change of Bob arrives before it.
    let _carol_socket = node.connect(&carol_token).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![carol.clone()], "active".into())
    );
    let body = own_presence(&node, &bob_token).await;
    assert_eq!(body["presence"], "away", "{body}");
    assert_eq!(body["online"], false, "{body}");
    assert_eq!(body["connection_count"], 0, "{body}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_device_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start_with(dir.path(), |config| {
        config.presence_batch_ms = 0;
        config.presence_idle_ms = 300;
    })
    .await;
    let (_, watcher_token) = node.create_user("watcher").await;
    let (bob, bob_token) = node.create_user("bob").await;

    let mut watcher = node.connect(&watcher_token).await;
    subscribe(&mut watcher, &[&bob]).await;
    let mut bob_socket = node.connect(&bob_token).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "active".into())
    );

    // Bob sends nothing, so his only device turns idle.
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "away".into())
    );
    let body = own_presence(&node, &bob_token).await;
    assert_eq!(body["presence"], "away", "{body}");
    assert_eq!(body["online"], true, "{body}");
    assert_eq!(body["auto_away"], true, "{body}");
    assert_eq!(body["manual_away"], false, "{body}");
    assert!(body["last_activity"].as_u64().unwrap() > 0, "{body}");

    // Any client frame is activity; `tickle` exists only for that.
    bob_socket.send(json!({"type": "tickle"})).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "active".into())
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_away_overrides_device() {
    let dir = tempfile::tempdir().unwrap();
    let node = unbatched_node(dir.path()).await;
    let (_, watcher_token) = node.create_user("watcher").await;
    let (bob, bob_token) = node.create_user("bob").await;

    let mut watcher = node.connect(&watcher_token).await;
    subscribe(&mut watcher, &[&bob]).await;
    let mut bob_socket = node.connect(&bob_token).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "active".into())
    );

    node.call_ok("users.setPresence", &bob_token, json!({"presence": "away"}))
        .await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "away".into())
    );

    // Activity on the device does not end a manual away.
    frames_until_pong(&mut bob_socket, 7).await;
    let body = own_presence(&node, &bob_token).await;
    assert_eq!(body["presence"], "away", "{body}");
    assert_eq!(body["manual_away"], true, "{body}");
    assert_eq!(body["auto_away"], false, "{body}");
    assert_eq!(body["online"], true, "{body}");

    node.call_ok("users.setPresence", &bob_token, json!({"presence": "auto"}))
        .await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "active".into())
    );

    let body = node
        .call("users.setPresence", &bob_token, json!({"presence": "busy"}))
        .await;
    assert_eq!(body["error"], "invalid_presence", "{body}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_sub_replaces_list() {
    let dir = tempfile::tempdir().unwrap();
    let node = unbatched_node(dir.path()).await;
    let (_, watcher_token) = node.create_user("watcher").await;
    let (_, witness_token) = node.create_user("witness").await;
    let (bob, bob_token) = node.create_user("bob").await;
    let (carol, carol_token) = node.create_user("carol").await;

    let mut watcher = node.connect(&watcher_token).await;
    subscribe(&mut watcher, &[&bob]).await;
    subscribe(&mut watcher, &[&carol]).await;
    let mut witness = node.connect(&witness_token).await;
    subscribe(&mut witness, &[&bob]).await;

    // The witness seeing Bob's change means it went to every subscriber.
    let _bob_socket = node.connect(&bob_token).await;
    assert_eq!(
        next_presence(&mut witness).await,
        (vec![bob.clone()], "active".into())
    );
    let _carol_socket = node.connect(&carol_token).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![carol.clone()], "active".into()),
        "the first change the watcher sees is Carol's, not Bob's"
    );

    let invalid = json!({"type": "presence_sub", "id": 5, "ids": ["not-a-user"]});
    watcher.send(invalid).await;
    let reply = watcher.next_matching(|frame| frame["reply_to"] == 5).await;
    assert_eq!(reply["error"]["msg"], "invalid_arguments", "{reply}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_subscriber_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = unbatched_node(dir.path()).await;
    let (_, watcher_token) = node.create_user("watcher").await;
    let (_, bystander_token) = node.create_user("bystander").await;
    let (bob, bob_token) = node.create_user("bob").await;

    let mut watcher = node.connect(&watcher_token).await;
    subscribe(&mut watcher, &[&bob]).await;
    let mut bystander = node.connect(&bystander_token).await;

    let bob_socket = node.connect(&bob_token).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "active".into())
    );
    close(bob_socket).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "away".into())
    );

    let frames = frames_until_pong(&mut bystander, 9).await;
    assert!(
        frames
            .iter()
            .all(|frame| frame["type"] != "presence_change"),
        "the bystander received {frames:?}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_batch_changes() {
    let dir = tempfile::tempdir().unwrap();
    // A window long enough that two connects in a row fall into it.
    let node = TestNode::start_with(dir.path(), |config| config.presence_batch_ms = 2000).await;
    let (_, watcher_token) = node.create_user("watcher").await;
    let (bob, bob_token) = node.create_user("bob").await;
    let (carol, carol_token) = node.create_user("carol").await;
    let (dave, _) = node.create_user("dave").await;

    let mut watcher = node.connect(&watcher_token).await;
    subscribe(&mut watcher, &[&bob, &carol]).await;
    let _bob_socket = node.connect(&bob_token).await;
    let _carol_socket = node.connect(&carol_token).await;
    let mut both = vec![bob.clone(), carol.clone()];
    both.sort();
    assert_eq!(next_presence(&mut watcher).await, (both, "active".into()));

    // presence_query returns the current presence at once, one event per presence value.
    watcher
        .send(json!({"type": "presence_query", "ids": [bob, dave]}))
        .await;
    let mut answers = vec![
        next_presence(&mut watcher).await,
        next_presence(&mut watcher).await,
    ];
    answers.sort();
    // User ids are random, so the expected list is sorted the same way.
    let mut expected = vec![
        (vec![bob.clone()], "active".to_owned()),
        (vec![dave.clone()], "away".to_owned()),
    ];
    expected.sort();
    assert_eq!(answers, expected);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnd_snooze_and_query() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let (bob, bob_token) = node.create_user("bob").await;
    let (_, carol_token) = node.create_user("carol").await;
    let hub = node.engine.hub();
    let team = TeamId::from(node.bootstrap.team_id.as_str());
    let bob_id = UserId::from(bob.as_str());

    let info = node.call_ok("dnd.info", &bob_token, json!({})).await;
    assert_eq!(info["snooze_enabled"], false, "{info}");
    assert!(!presence::is_snoozed(hub, &team, &bob_id).await);

    let body = node.call("dnd.setSnooze", &bob_token, json!({})).await;
    assert_eq!(body["error"], "missing_duration", "{body}");
    let snooze = node
        .call_ok("dnd.setSnooze", &bob_token, json!({"num_minutes": 10}))
        .await;
    assert_eq!(snooze["snooze_enabled"], true, "{snooze}");
    assert_eq!(snooze["snooze_remaining"], 600, "{snooze}");

    let info = node.call_ok("dnd.info", &bob_token, json!({})).await;
    assert_eq!(info["snooze_enabled"], true, "{info}");
    assert_eq!(info["snooze_endtime"], snooze["snooze_endtime"], "{info}");
    assert!(presence::is_snoozed(hub, &team, &bob_id).await);
    // Another team's id never matches Bob's record.
    assert!(!presence::is_snoozed(hub, &TeamId::from("T0OTHER"), &bob_id).await);

    // Others see that DND is off but not the snooze, as on Slack.
    let info = node
        .call_ok("dnd.info", &carol_token, json!({"user": bob}))
        .await;
    assert_eq!(info["dnd_enabled"], false, "{info}");
    assert!(info.get("snooze_enabled").is_none(), "{info}");

    assert!(!presence::has_open_session(hub, &team, &bob_id).await);
    let _bob_socket = node.connect(&bob_token).await;
    assert!(presence::has_open_session(hub, &team, &bob_id).await);

    node.call_ok("dnd.endSnooze", &bob_token, json!({})).await;
    assert!(!presence::is_snoozed(hub, &team, &bob_id).await);
    let body = node.call("dnd.endSnooze", &bob_token, json!({})).await;
    assert_eq!(body["error"], "snooze_not_active", "{body}");

    let body = node
        .call("users.getPresence", &carol_token, json!({"user": bob}))
        .await;
    assert_eq!(body["presence"], "active", "{body}");
    assert!(body.get("connection_count").is_none(), "{body}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_actor_restart_keeps_state() {
    let dir = tempfile::tempdir().unwrap();
    let node = unbatched_node(dir.path()).await;
    let (_, watcher_token) = node.create_user("watcher").await;
    let (bob, bob_token) = node.create_user("bob").await;
    let hub = node.engine.hub();
    let team = TeamId::from(node.bootstrap.team_id.as_str());
    let bob_id = UserId::from(bob.as_str());

    let mut watcher = node.connect(&watcher_token).await;
    subscribe(&mut watcher, &[&bob]).await;
    let desktop = node.connect(&bob_token).await;
    let phone = node.connect(&bob_token).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "active".into())
    );
    node.call_ok("dnd.setSnooze", &bob_token, json!({"num_minutes": 30}))
        .await;

    let before = hub.registry().presence.get(&bob_id).unwrap().clone();
    before.send_message(PresenceMsg::Panic).unwrap();
    let mut restarted = None;
    for _ in 0..200 {
        let current = hub.registry().presence.get(&bob_id).map(|a| a.clone());
        if let Some(actor) = current.filter(|actor| actor.get_id() != before.get_id()) {
            restarted = Some(actor);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(restarted.is_some(), "the presence actor was not restarted");

    // The snooze and the devices survived the restart.
    assert!(presence::is_snoozed(hub, &team, &bob_id).await);
    let body = own_presence(&node, &bob_token).await;
    assert_eq!(body["presence"], "active", "{body}");
    assert_eq!(body["connection_count"], 2, "{body}");

    close(desktop).await;
    close(phone).await;
    assert_eq!(
        next_presence(&mut watcher).await,
        (vec![bob.clone()], "away".into()),
        "the restarted actor knew both devices and announced the last close once"
    );
    node.stop().await;
}
