//! End-to-end tests of the job system over real sockets: a node with the
//! embedded queue (and, when a broker is given, Kafka), a real push gateway
//! and web pages served on loopback.

mod common;
mod jobs_support;

use std::sync::atomic::Ordering;

use serde_json::{json, Value};

use common::TestNode;
use jobs_support::{kafka_queue_url, wait_for, Receiver};
use switchboard_actors::jobs::JobKind;

/// Starts a node on `queue` whose pushes go to `receiver` and whose unfurls
/// may fetch loopback pages.
async fn start_node(dir: &std::path::Path, queue: &str, receiver: &Receiver) -> TestNode {
    let push_url = receiver.push_url();
    let queue = queue.to_owned();
    TestNode::start_with(dir, move |config| {
        config.queue = queue;
        config.push_gateway_url = Some(push_url);
        config.unfurl_allow_private = true;
        config.job_backoff_ms = 10;
    })
    .await
}

/// Returns `conversations.info` of a channel as seen by `token`.
async fn channel_info(node: &TestNode, token: &str, channel: &str) -> Value {
    node.call_ok("conversations.info", token, json!({"channel": channel}))
        .await["channel"]
        .clone()
}

/// A message with a mention of an offline user and a link: the user gets a
/// push and an unread mention, every member sees the link's preview, and a
/// direct message to the offline user pushes too.
async fn message_effects(queue: &str) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let node = start_node(dir.path(), queue, &receiver).await;
    let admin = node.bootstrap.admin.token.clone();
    let (alice_id, alice) = node.create_user("alice").await;
    let (bob_id, bob) = node.create_user("bob").await;

    let channel = node
        .call_ok("conversations.create", &admin, json!({"name": "jobs"}))
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "conversations.invite",
        &admin,
        json!({"channel": channel, "users": format!("{alice_id},{bob_id}")}),
    )
    .await;
    let mut alice_socket = node.connect(&alice).await;

    // Bob has no session, so the mention pushes; the link redirects to a page
    // with og: tags.
    let text = format!("hello <@{bob_id}>, see <{}>", receiver.url("redirect"));
    let posted = node
        .call_ok(
            "chat.postMessage",
            &admin,
            json!({"channel": channel, "text": text}),
        )
        .await;
    let ts = posted["ts"].as_str().unwrap().to_owned();

    let push = receiver.next_push().await;
    assert_eq!(push["user_id"], bob_id.as_str(), "{push}");
    assert_eq!(push["reason"], "mention", "{push}");
    assert_eq!(push["channel"], channel.as_str(), "{push}");
    assert_eq!(push["ts"], ts.as_str(), "{push}");
    assert!(
        push["job_id"]
            .as_str()
            .is_some_and(|id| id.starts_with('J')),
        "{push}"
    );

    let changed = alice_socket
        .next_matching(|event| event["subtype"] == "message_changed")
        .await;
    let attachment = &changed["message"]["attachments"][0];
    assert_eq!(changed["message"]["ts"], ts.as_str(), "{changed}");
    assert_eq!(attachment["title"], "Switchboard test page", "{changed}");
    assert_eq!(attachment["text"], "A page served on loopback", "{changed}");
    assert_eq!(
        attachment["from_url"],
        receiver.url("redirect").as_str(),
        "{changed}"
    );

    // Unread counts: a mention for Bob, a plain unread message for Alice.
    let bob_info = wait_for("bob's unread count", || async {
        let info = channel_info(&node, &bob, &channel).await;
        (info["unread_count"] == 1).then_some(info)
    })
    .await;
    assert_eq!(bob_info["mention_count"], 1, "{bob_info}");
    assert_eq!(bob_info["unread_count_display"], 1, "{bob_info}");
    // The light boot carries the same counts.
    let boot = node.call_ok("client.boot", &bob, json!({})).await;
    let booted = boot["channels"]
        .as_array()
        .and_then(|channels| channels.iter().find(|c| c["id"] == channel.as_str()))
        .unwrap_or_else(|| panic!("client.boot lists the channel: {boot}"));
    assert_eq!(booted["unread_count"], 1, "{booted}");
    assert_eq!(booted["mention_count"], 1, "{booted}");
    let alice_info = channel_info(&node, &alice, &channel).await;
    assert_eq!(alice_info["unread_count"], 1, "{alice_info}");
    assert_eq!(alice_info["mention_count"], 0, "{alice_info}");

    node.call_ok(
        "conversations.mark",
        &bob,
        json!({"channel": channel, "ts": ts}),
    )
    .await;
    let marked = channel_info(&node, &bob, &channel).await;
    assert_eq!(marked["unread_count"], 0, "{marked}");
    assert_eq!(marked["mention_count"], 0, "{marked}");
    assert_eq!(marked["last_read"], ts.as_str(), "{marked}");

    // A direct message to the offline user pushes with reason "dm".
    let dm = node
        .call_ok("conversations.open", &admin, json!({"users": bob_id}))
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": dm, "text": "psst"}),
    )
    .await;
    let push = receiver.next_push().await;
    assert_eq!(push["reason"], "dm", "{push}");
    assert_eq!(push["text"], "psst", "{push}");
    assert_eq!(push["channel"], dm.as_str(), "{push}");

    // A push is counted done once its worker commits, just after the POST.
    let counters = node.engine.jobs().metrics().clone();
    let metrics = wait_for("two finished pushes", || {
        let counters = counters.clone();
        async move {
            let metrics = counters.snapshot();
            (metrics["push_notification"]["done"] == 2).then_some(metrics)
        }
    })
    .await;
    assert_eq!(metrics["message_post"]["done"], 2, "{metrics}");
    assert_eq!(metrics["url_unfurl"]["done"], 1, "{metrics}");
    assert_eq!(metrics["push_notification"]["dead"], 0, "{metrics}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_effects_on_embedded_queue() {
    message_effects("embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: set SWITCHBOARD_TEST_KAFKA"]
async fn message_effects_on_kafka() {
    let queue = kafka_queue_url("effects").expect("SWITCHBOARD_TEST_KAFKA is set");
    message_effects(&queue).await;
}

/// A node whose pushes go to `receiver`, with Bob (no session) a member of a
/// new channel `name`: returns the node, the admin's token, Bob's id and
/// token, and the channel id.
async fn node_with_offline_member(
    dir: &std::path::Path,
    receiver: &Receiver,
    name: &str,
) -> (TestNode, String, String, String, String) {
    let node = start_node(dir, "embedded", receiver).await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, bob) = node.create_user("bob").await;
    let channel = node
        .call_ok("conversations.create", &admin, json!({"name": name}))
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
    (node, admin, bob_id, bob, channel)
}

/// Waits until `count` push jobs have finished, whether or not they called
/// the gateway.
async fn wait_for_finished_pushes(node: &TestNode, count: u64) {
    let counters = node.engine.jobs().metrics().clone();
    wait_for("the push jobs to finish", || {
        let counters = counters.clone();
        async move { (counters.snapshot()["push_notification"]["done"] == count).then_some(()) }
    })
    .await;
}

/// A user in do-not-disturb gets no push for a mention; once the snooze ends,
/// the next mention pushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snoozed_user_gets_no_push() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let (node, admin, bob_id, bob, channel) =
        node_with_offline_member(dir.path(), &receiver, "quiet").await;
    let snooze = node
        .call_ok("dnd.setSnooze", &bob, json!({"num_minutes": 60}))
        .await;
    assert_eq!(snooze["snooze_enabled"], true, "{snooze}");

    let mention = |text: &'static str| {
        let body = json!({"channel": channel, "text": format!("<@{bob_id}> {text}")});
        node.call_ok("chat.postMessage", &admin, body)
    };
    mention("while snoozed").await;
    // The push job runs and finishes without calling the gateway.
    wait_for_finished_pushes(&node, 1).await;
    assert_eq!(receiver.try_next_push().await, None);

    node.call_ok("dnd.endSnooze", &bob, json!({})).await;
    mention("after the snooze").await;
    let push = receiver.next_push().await;
    assert_eq!(push["user_id"], bob_id.as_str(), "{push}");
    assert!(
        push["text"]
            .as_str()
            .is_some_and(|text| text.ends_with("after the snooze")),
        "{push}"
    );
    node.stop().await;
}

/// A mention in a conversation the user muted sends no push; bad
/// preferences are rejected and change nothing; a direct message still pushes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muted_channel_sends_no_push() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let (node, admin, bob_id, bob, channel) =
        node_with_offline_member(dir.path(), &receiver, "noisy").await;

    let set = node
        .call_ok(
            "users.prefs.set",
            &bob,
            json!({"name": "muted_channels", "value": channel}),
        )
        .await;
    assert_eq!(set["prefs"]["muted_channels"], channel.as_str(), "{set}");
    let unknown_name = node
        .call(
            "users.prefs.set",
            &bob,
            json!({"name": "theme", "value": "dark"}),
        )
        .await;
    assert_eq!(unknown_name["error"], "invalid_arguments", "{unknown_name}");
    let bad_id = node
        .call(
            "users.prefs.set",
            &bob,
            json!({"name": "muted_channels", "value": "not-a-channel"}),
        )
        .await;
    assert_eq!(bad_id["error"], "channel_not_found", "{bad_id}");
    let prefs = node.call_ok("users.prefs.get", &bob, json!({})).await;
    assert_eq!(
        prefs["prefs"]["muted_channels"],
        channel.as_str(),
        "{prefs}"
    );

    let body = json!({"channel": channel, "text": format!("<@{bob_id}> in a muted channel")});
    node.call_ok("chat.postMessage", &admin, body).await;
    wait_for_finished_pushes(&node, 1).await;
    assert_eq!(receiver.try_next_push().await, None);

    let dm = node
        .call_ok("conversations.open", &admin, json!({"users": bob_id}))
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": dm, "text": "not muted"}),
    )
    .await;
    let push = receiver.next_push().await;
    assert_eq!(push["channel"], dm.as_str(), "{push}");
    assert_eq!(push["text"], "not muted", "{push}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_push_goes_to_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    receiver.set_push_status(503);
    let push_url = receiver.push_url();
    let node = TestNode::start_with(dir.path(), move |config| {
        config.push_gateway_url = Some(push_url);
        config.job_backoff_ms = 10;
        config.job_max_attempts = 3;
    })
    .await;
    let admin = node.bootstrap.admin.token.clone();
    let (bob_id, _) = node.create_user("bob").await;
    let dm = node
        .call_ok("conversations.open", &admin, json!({"users": bob_id}))
        .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": dm, "text": "are you there?"}),
    )
    .await;

    // Every attempt reaches the gateway.
    for _ in 0..3 {
        let push = receiver.next_push().await;
        assert_eq!(push["user_id"], bob_id.as_str(), "{push}");
    }
    let team = node.bootstrap.team_id.clone();
    let store = node.engine.hub().store().clone();
    let dead = wait_for("a dead push job", || async {
        let dead = store.dead_jobs(&team).await.unwrap();
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.kind, JobKind::PushNotification);
    assert_eq!(dead[0].attempts, 3);
    assert!(dead[0].error.contains("503"), "{}", dead[0].error);

    let counters = node.engine.jobs().metrics();
    let push = counters.kind(JobKind::PushNotification);
    assert_eq!(push.retried.load(Ordering::Relaxed), 2);
    assert_eq!(push.dead.load(Ordering::Relaxed), 1);
    assert_eq!(push.done.load(Ordering::Relaxed), 0);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfurl_refuses_loopback_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let general = node.call_ok("conversations.list", &admin, json!({})).await["channels"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let posted = node
        .call_ok(
            "chat.postMessage",
            &admin,
            json!({"channel": general, "text": format!("look {}", receiver.url("page"))}),
        )
        .await;

    let metrics = node.engine.jobs().metrics().clone();
    wait_for("the unfurl job", || {
        let metrics = metrics.clone();
        async move {
            (metrics
                .kind(JobKind::UrlUnfurl)
                .done
                .load(Ordering::Relaxed)
                == 1)
                .then_some(())
        }
    })
    .await;
    let history = node
        .call_ok("conversations.history", &admin, json!({"channel": general}))
        .await;
    let message = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|message| message["ts"] == posted["ts"])
        .expect("the posted message")
        .clone();
    assert!(message.get("attachments").is_none(), "{message}");
    node.stop().await;
}
