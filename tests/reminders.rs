//! End-to-end tests of reminders over real sockets. They cover the
//! `reminders.*` methods and their errors, and delivery as a Slackbot direct
//! message on the embedded queue, on Kafka and after a restart. A second
//! delivery of the same job must post nothing.

mod common;
mod jobs_support;

use std::sync::Arc;

use serde_json::{json, Value};

use common::TestNode;
use jobs_support::{kafka_queue_url, wait_for};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::jobs::{Job, JobKind, JobPayload};
use switchboard_actors::reminder::SLACKBOT_USER_ID;
use switchboard_actors::ts::Ts;
use switchboard_engine::directory::create_token;
use switchboard_engine::jobs::handlers::{self, Handled, JobContext, JobSettings};
use switchboard_engine::jobs::JobMetrics;

/// Returns the current time in Unix seconds.
fn now_secs() -> i64 {
    i64::try_from(Ts::now().seconds()).unwrap()
}

/// Calls a method that must fail and returns its error string.
async fn call_error(node: &TestNode, method: &str, token: &str, args: Value) -> String {
    let body = node.call(method, token, args).await;
    assert_eq!(body["ok"], false, "{method} should fail: {body}");
    body["error"].as_str().unwrap_or_default().to_owned()
}

/// Returns the ids of the reminders `reminders.list` returns to `token`.
async fn listed_ids(node: &TestNode, token: &str) -> Vec<String> {
    let listed = node.call_ok("reminders.list", token, json!({})).await;
    listed["reminders"]
        .as_array()
        .expect("reminders is a list")
        .iter()
        .map(|reminder| reminder["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Returns the id of the user's direct message with Slackbot, once it exists.
async fn slackbot_im(node: &TestNode, token: &str) -> String {
    wait_for("the Slackbot direct message", || async {
        let listed = node
            .call_ok("conversations.list", token, json!({"types": "im"}))
            .await;
        listed["channels"]
            .as_array()?
            .iter()
            .find(|channel| channel["user"] == SLACKBOT_USER_ID)
            .map(|channel| channel["id"].as_str().unwrap().to_owned())
    })
    .await
}

/// Returns the texts of a conversation's messages, newest first.
async fn history_texts(node: &TestNode, token: &str, channel: &str) -> Vec<String> {
    let history = node
        .call_ok("conversations.history", token, json!({"channel": channel}))
        .await;
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_return_slack_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin_id = node.bootstrap.admin.user_id.to_string();
    let admin = node.bootstrap.admin.token.clone();
    let (alice_id, alice) = node.create_user("alice").await;
    let (_, carol) = node.create_user("carol").await;

    // A reminder for oneself, with a Unix timestamp.
    let time = now_secs() + 3_600;
    let own = node
        .call_ok(
            "reminders.add",
            &admin,
            json!({"text": "review the release notes", "time": time}),
        )
        .await["reminder"]
        .clone();
    let own_id = own["id"].as_str().unwrap().to_owned();
    assert!(own_id.starts_with("Rm"), "{own}");
    assert_eq!(own["creator"], admin_id.as_str(), "{own}");
    assert_eq!(own["user"], admin_id.as_str(), "{own}");
    assert_eq!(own["text"], "review the release notes", "{own}");
    assert_eq!(own["recurring"], false, "{own}");
    assert_eq!(own["time"], time, "{own}");
    assert_eq!(own["complete_ts"], 0, "{own}");

    // A reminder for another user, with a phrase.
    let before = now_secs();
    let for_alice = node
        .call_ok(
            "reminders.add",
            &admin,
            json!({"text": "send the invoice", "time": "in 2 days", "user": alice_id}),
        )
        .await["reminder"]
        .clone();
    let alice_reminder = for_alice["id"].as_str().unwrap().to_owned();
    assert_eq!(for_alice["creator"], admin_id.as_str(), "{for_alice}");
    assert_eq!(for_alice["user"], alice_id.as_str(), "{for_alice}");
    let due = for_alice["time"].as_i64().unwrap();
    let two_days = 2 * 86_400;
    assert!(
        due >= before + two_days && due <= now_secs() + two_days,
        "{for_alice}"
    );

    // "tomorrow" is 09:00 UTC on the next day.
    let tomorrow = node
        .call_ok(
            "reminders.add",
            &alice,
            json!({"text": "stand-up", "time": "tomorrow"}),
        )
        .await["reminder"]
        .clone();
    let tomorrow_id = tomorrow["id"].as_str().unwrap().to_owned();
    let tomorrow_time = tomorrow["time"].as_i64().unwrap();
    assert_eq!(tomorrow_time % 86_400, 9 * 3_600, "{tomorrow}");
    assert!(tomorrow_time > now_secs(), "{tomorrow}");

    // Lists: the creator and the recipient see a reminder, others do not.
    // Sorted by due time.
    assert_eq!(
        listed_ids(&node, &admin).await,
        vec![own_id.clone(), alice_reminder.clone()]
    );
    let alice_list = listed_ids(&node, &alice).await;
    assert_eq!(alice_list.len(), 2, "{alice_list:?}");
    assert!(alice_list.contains(&alice_reminder), "{alice_list:?}");
    assert!(alice_list.contains(&tomorrow_id), "{alice_list:?}");
    assert!(listed_ids(&node, &carol).await.is_empty());

    let info = node
        .call_ok(
            "reminders.info",
            &alice,
            json!({"reminder": alice_reminder}),
        )
        .await;
    assert_eq!(info["reminder"], for_alice, "{info}");
    let hidden = call_error(
        &node,
        "reminders.info",
        &carol,
        json!({"reminder": alice_reminder}),
    )
    .await;
    assert_eq!(hidden, "not_found");

    // Completing: once by the recipient, never by others.
    let outsider = call_error(
        &node,
        "reminders.complete",
        &carol,
        json!({"reminder": alice_reminder}),
    )
    .await;
    assert_eq!(outsider, "not_found");
    node.call_ok(
        "reminders.complete",
        &alice,
        json!({"reminder": alice_reminder}),
    )
    .await;
    let completed = node
        .call_ok(
            "reminders.info",
            &admin,
            json!({"reminder": alice_reminder}),
        )
        .await;
    let complete_ts = completed["reminder"]["complete_ts"].as_i64().unwrap();
    assert!(complete_ts >= before, "{completed}");
    let twice = call_error(
        &node,
        "reminders.complete",
        &admin,
        json!({"reminder": alice_reminder}),
    )
    .await;
    assert_eq!(twice, "cant_complete");

    // Deleting: by the creator, never by others.
    let outsider = call_error(
        &node,
        "reminders.delete",
        &carol,
        json!({"reminder": own_id}),
    )
    .await;
    assert_eq!(outsider, "not_found");
    node.call_ok("reminders.delete", &admin, json!({"reminder": own_id}))
        .await;
    let deleted = call_error(&node, "reminders.info", &admin, json!({"reminder": own_id})).await;
    assert_eq!(deleted, "not_found");
    let again = call_error(
        &node,
        "reminders.delete",
        &admin,
        json!({"reminder": own_id}),
    )
    .await;
    assert_eq!(again, "not_found");
    assert_eq!(
        listed_ids(&node, &admin).await,
        vec![alice_reminder.clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let bot = node.bootstrap.bot.token.clone();
    let bot_id = node.bootstrap.bot.user_id.to_string();
    let existing = node
        .call_ok(
            "reminders.add",
            &admin,
            json!({"text": "keep me", "time": "in 1 hour"}),
        )
        .await["reminder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let past = (now_secs() - 60).to_string();
    let too_far = (now_secs() + 6 * 366 * 86_400).to_string();
    let cases = [
        (json!({"time": "in 5 minutes"}), "no_text"),
        (json!({"text": "   ", "time": "in 5 minutes"}), "no_text"),
        (json!({"text": "x"}), "invalid_time"),
        (json!({"text": "x", "time": ""}), "invalid_time"),
        (json!({"text": "x", "time": "soon"}), "invalid_time"),
        (
            json!({"text": "x", "time": "every thursday"}),
            "invalid_time",
        ),
        (json!({"text": "x", "time": "in 0 seconds"}), "invalid_time"),
        (json!({"text": "x", "time": past}), "invalid_time"),
        (json!({"text": "x", "time": too_far}), "invalid_time"),
        (
            json!({"text": "x", "time": "in 1 minute", "user": "UNOSUCHUSER"}),
            "user_not_found",
        ),
        (
            json!({"text": "x", "time": "in 1 minute", "user": "not-an-id"}),
            "user_not_found",
        ),
        (
            json!({"text": "x", "time": "in 1 minute", "user": bot_id}),
            "cannot_add_bot",
        ),
        (
            json!({"text": "x".repeat(40_000), "time": "in 1 minute"}),
            "msg_too_long",
        ),
        (
            json!({"text": "x", "time": "in 1 minute", "recurrence": {"frequency": "daily"}}),
            "invalid_arguments",
        ),
    ];
    for (args, expected) in cases {
        let error = call_error(&node, "reminders.add", &admin, args.clone()).await;
        assert_eq!(error, expected, "reminders.add {args}");
    }
    for method in ["reminders.info", "reminders.complete", "reminders.delete"] {
        let missing = call_error(&node, method, &admin, json!({})).await;
        assert_eq!(missing, "missing_argument", "{method}");
        let unknown = call_error(&node, method, &admin, json!({"reminder": "RmNOSUCH"})).await;
        assert_eq!(unknown, "not_found", "{method}");
    }
    // Bot tokens are refused, as in Slack.
    let refused = call_error(
        &node,
        "reminders.add",
        &bot,
        json!({"text": "x", "time": "in 1 minute"}),
    )
    .await;
    assert_eq!(refused, "not_allowed_token_type");
    let refused = call_error(&node, "reminders.list", &bot, json!({})).await;
    assert_eq!(refused, "not_allowed_token_type");

    // A guest cannot set a reminder for someone else, but can for themselves.
    let general = node.call_ok("conversations.list", &admin, json!({})).await["channels"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invited = node
        .call_ok(
            "admin.users.invite",
            &admin,
            json!({"email": "gus@example.com", "name": "gus", "channel_ids": general, "is_restricted": true}),
        )
        .await;
    let guest_id = invited["user"]["id"].as_str().unwrap().to_owned();
    let store = node.engine.hub().store().clone();
    let guest = create_token(
        store.as_ref(),
        &node.bootstrap.team_id,
        &UserId::from(guest_id.as_str()),
    )
    .await
    .unwrap();
    let admin_id = node.bootstrap.admin.user_id.to_string();
    let error = call_error(
        &node,
        "reminders.add",
        &guest,
        json!({"text": "x", "time": "in 1 minute", "user": admin_id}),
    )
    .await;
    assert_eq!(error, "cannot_add_others");
    assert!(listed_ids(&node, &guest).await.is_empty());

    assert_eq!(listed_ids(&node, &admin).await, vec![existing.clone()]);
    let kept = node
        .call_ok("reminders.info", &admin, json!({"reminder": existing}))
        .await;
    assert_eq!(kept["reminder"]["complete_ts"], 0, "{kept}");
}

/// Checks that a reminder set for another user "in 1 second" arrives on that
/// user's socket as a message from Slackbot in their direct message with it.
async fn reminder_arrives_from_slackbot(queue: &str) {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue.to_owned();
    let node = TestNode::start_with(dir.path(), move |config| config.queue = queue).await;
    let admin = node.bootstrap.admin.token.clone();
    let (alice_id, alice) = node.create_user("alice").await;
    let mut socket = node.connect(&alice).await;

    node.call_ok(
        "reminders.add",
        &admin,
        json!({"text": "stretch your legs", "time": "in 1 second", "user": alice_id}),
    )
    .await;

    let message = socket
        .next_matching(|event| event["type"] == "message" && event["user"] == SLACKBOT_USER_ID)
        .await;
    assert_eq!(message["text"], "Reminder: stretch your legs.", "{message}");
    assert!(message.get("subtype").is_none(), "{message}");
    let channel = message["channel"].as_str().unwrap().to_owned();
    assert!(channel.starts_with('D'), "{message}");
    assert_eq!(slackbot_im(&node, &alice).await, channel);

    let slackbot = node
        .call_ok("users.info", &alice, json!({"user": SLACKBOT_USER_ID}))
        .await;
    assert_eq!(slackbot["user"]["name"], "slackbot", "{slackbot}");
    assert_eq!(slackbot["user"]["is_bot"], true, "{slackbot}");

    let counters = node.engine.jobs().metrics().clone();
    wait_for("the finished reminder job", || {
        let counters = counters.clone();
        async move { (counters.snapshot()["reminder"]["done"] == 1).then_some(()) }
    })
    .await;
    assert_eq!(
        history_texts(&node, &alice, &channel).await,
        vec!["Reminder: stretch your legs.".to_owned()]
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_arrives_on_embedded_queue() {
    reminder_arrives_from_slackbot("embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: set SWITCHBOARD_TEST_KAFKA"]
async fn reminder_arrives_on_kafka() {
    let queue = kafka_queue_url("reminders").expect("SWITCHBOARD_TEST_KAFKA is set");
    reminder_arrives_from_slackbot(&queue).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminder_due_while_stopped_fires_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let team = node.bootstrap.team_id.clone();
    // The margin covers starting and stopping a node on a loaded machine;
    // the reminder must still be pending when the node has stopped.
    let due = now_secs() + 20;
    let reminder_id = node
        .call_ok(
            "reminders.add",
            &admin,
            json!({"text": "water the plants", "time": due}),
        )
        .await["reminder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = Arc::clone(node.engine.hub().store());
    node.stop().await;
    let stored = store.reminder(&team, &reminder_id).await.unwrap().unwrap();
    assert!(
        !stored.fired,
        "the node stopped more than 20 s after reminders.add, so the reminder fired before the stop"
    );
    drop(store);

    // Let the reminder fall due while no node runs.
    wait_for("the reminder to fall due", || async {
        (now_secs() > due).then_some(())
    })
    .await;

    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let channel = slackbot_im(&node, &admin).await;
    let texts = wait_for("the reminder in the direct message", || async {
        let texts = history_texts(&node, &admin, &channel).await;
        (!texts.is_empty()).then_some(texts)
    })
    .await;
    assert_eq!(texts, vec!["Reminder: water the plants.".to_owned()]);
    let info = node
        .call_ok("reminders.info", &admin, json!({"reminder": reminder_id}))
        .await;
    assert_eq!(info["reminder"]["complete_ts"], 0, "{info}");
    node.stop().await;
}

/// The handler itself, run twice with the same job (as a second delivery from
/// the queue would): the second run posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_delivery_posts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start(dir.path()).await;
    let admin = node.bootstrap.admin.token.clone();
    let reminder_id = node
        .call_ok(
            "reminders.add",
            &admin,
            json!({"text": "renew the certificate", "time": "in 1 hour"}),
        )
        .await["reminder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let context = JobContext {
        hub: node.engine.hub().clone(),
        settings: JobSettings {
            max_attempts: 1,
            backoff_base: std::time::Duration::from_millis(10),
            push_gateway_url: None,
            unfurl: Default::default(),
        },
        http: reqwest::Client::new(),
        metrics: Arc::new(JobMetrics::default()),
    };
    let team: TeamId = node.bootstrap.team_id.clone();
    let job = Job::new(
        team.clone(),
        &JobPayload::Reminder {
            reminder_id: reminder_id.clone(),
        },
    );
    assert_eq!(job.kind, JobKind::Reminder);

    let first = handlers::handle(&context, &job).await.unwrap();
    assert!(matches!(first, Handled::Finished), "{first:?}");
    let store = node.engine.hub().store().clone();
    assert!(store.is_job_done(&team, &job.id).await.unwrap());
    let second = handlers::handle(&context, &job).await.unwrap();
    assert!(matches!(second, Handled::AlreadyFinished), "{second:?}");

    let channel = slackbot_im(&node, &admin).await;
    assert_eq!(
        history_texts(&node, &admin, &channel).await,
        vec!["Reminder: renew the certificate.".to_owned()]
    );
    node.stop().await;
}
