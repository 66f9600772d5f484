//! End-to-end tests of billing over real sockets. Activity comes from a
//! posted message and an opened socket. The billing job runs through the
//! outbox and the queue (embedded and, when a broker is given, Kafka). The
//! tests call `admin.billing.report` and `team.billableInfo`, and run
//! `switchboard admin billing` against the stopped node's store.

mod common;
mod jobs_support;

use std::path::Path;

use serde_json::{json, Value};

use common::TestNode;
use jobs_support::{kafka_queue_url, wait_for};
use switchboard_actors::calendar::{Day, Month};
use switchboard_actors::domain::Team;
use switchboard_actors::ids::TeamId;
use switchboard_actors::jobs::JobKind;
use switchboard_actors::ports::Write;
use switchboard_actors::ts::Ts;
use switchboard_engine::directory::{create_user, NewUser};
use switchboard_engine::jobs::month_end::enqueue_month_end;

/// Starts a node on `queue` with short retry pauses.
async fn start_node(dir: &Path, queue: &str) -> TestNode {
    let queue = queue.to_owned();
    TestNode::start_with(dir, move |config| {
        config.queue = queue;
        config.job_backoff_ms = 10;
    })
    .await
}

/// Calls `admin.billing.report` until it returns a report that satisfies
/// `ready`; every call before that must fail with `report_pending`.
async fn wait_for_report(
    node: &TestNode,
    token: &str,
    args: Value,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    wait_for("the billing report", || {
        let args = args.clone();
        let ready = &ready;
        async move {
            let body = node.call("admin.billing.report", token, args).await;
            if body["ok"] == true {
                let report = body["report"].clone();
                return ready(&report).then_some(report);
            }
            assert_eq!(body["error"], "report_pending", "{body}");
            None
        }
    })
    .await
}

/// Returns the ids of a report's members with their active days.
fn report_members(report: &Value) -> Vec<(String, u64)> {
    report["members"]
        .as_array()
        .unwrap_or_else(|| panic!("report has members: {report}"))
        .iter()
        .map(|member| {
            let id = member["id"].as_str().expect("member id").to_owned();
            let days = member["active_days"].as_u64().expect("active days");
            (id, days)
        })
        .collect()
}

/// Runs `switchboard admin billing` on a data directory and returns the JSON
/// it prints.
async fn billing_from_cli(data_dir: &Path, team: &str, month: &str) -> Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["admin", "billing", "--team", team, "--month", month])
        .arg("--data-dir")
        .arg(data_dir)
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .await
        .expect("the switchboard binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "switchboard admin billing failed: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("the command printed no JSON ({error}): {stdout}"))
}

/// Waits until `count` message-post jobs are done, so that their authors'
/// activity is stored.
async fn wait_for_message_posts(node: &TestNode, count: u64) {
    let metrics = node.engine.jobs().metrics().clone();
    wait_for("the message-post jobs", || {
        let metrics = metrics.clone();
        async move {
            let done = metrics
                .kind(JobKind::MessagePost)
                .done
                .load(std::sync::atomic::Ordering::Relaxed);
            (done >= count).then_some(())
        }
    })
    .await;
}

/// Three members: Alice posts, Bob only opens a socket, Carol does nothing.
/// The report bills Alice and Bob, `team.billableInfo` agrees, members and
/// bots are refused, a refresh counts Carol once she posts, and the command
/// line prints the same report from the stopped node's store.
async fn billing_end_to_end(queue: &str) {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path(), queue).await;
    let admin = node.bootstrap.admin.token.clone();
    let bot = node.bootstrap.bot.token.clone();
    let admin_id = node.bootstrap.admin.user_id.to_string();
    let bot_id = node.bootstrap.bot.user_id.to_string();
    let team = node.bootstrap.team_id.to_string();
    let (alice_id, alice) = node.create_user("alice").await;
    let (bob_id, bob) = node.create_user("bob").await;
    let (carol_id, carol) = node.create_user("carol").await;
    let month = Month::current().to_string();

    let general = node.call_ok("conversations.list", &admin, json!({})).await["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|channel| channel["name"] == "general")
        .expect("#general exists")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    node.call_ok(
        "chat.postMessage",
        &alice,
        json!({"channel": general, "text": "hello"}),
    )
    .await;
    let bob_socket = node.connect(&bob).await;
    wait_for_message_posts(&node, 1).await;

    // Permissions: a member is not an admin, a bot token is not allowed.
    for method in ["admin.billing.report", "team.billableInfo"] {
        let refused = node.call(method, &carol, json!({})).await;
        assert_eq!(refused["error"], "not_an_admin", "{method}: {refused}");
        let refused = node.call(method, &bot, json!({})).await;
        assert_eq!(
            refused["error"], "not_allowed_token_type",
            "{method}: {refused}"
        );
    }
    for invalid in ["2025-13", "June", "9999-12"] {
        let refused = node
            .call("admin.billing.report", &admin, json!({"month": invalid}))
            .await;
        assert_eq!(refused["error"], "invalid_month", "{invalid}: {refused}");
    }

    // The first request enqueues the job and reports it pending.
    let first = node
        .call("admin.billing.report", &admin, json!({"month": month}))
        .await;
    assert_eq!(first["ok"], false, "{first}");
    assert_eq!(first["error"], "report_pending", "{first}");
    let report = wait_for_report(&node, &admin, json!({"month": month}), |_| true).await;
    assert_eq!(report["month"], month.as_str(), "{report}");
    assert_eq!(report["team_id"], team.as_str(), "{report}");
    assert_eq!(report["billable_seats"], 2, "{report}");
    let mut expected = vec![(alice_id.clone(), 1), (bob_id.clone(), 1)];
    expected.sort();
    assert_eq!(report_members(&report), expected, "{report}");

    // team.billableInfo agrees, for the whole team and for one user.
    // NOTE: team.billableInfo reads the current month, so a run across a
    // month boundary would see no activity.
    let info = node.call_ok("team.billableInfo", &admin, json!({})).await["billable_info"].clone();
    assert_eq!(info[&alice_id]["billing_active"], true, "{info}");
    assert_eq!(info[&bob_id]["billing_active"], true, "{info}");
    assert_eq!(info[&carol_id]["billing_active"], false, "{info}");
    assert_eq!(info[&admin_id]["billing_active"], false, "{info}");
    assert!(info.get(&bot_id).is_none(), "bots are never billed: {info}");
    let one = node
        .call_ok("team.billableInfo", &admin, json!({"user": carol_id}))
        .await["billable_info"]
        .clone();
    assert_eq!(one.as_object().map(|users| users.len()), Some(1), "{one}");
    assert_eq!(one[&carol_id]["billing_active"], false, "{one}");
    let unknown = node
        .call("team.billableInfo", &admin, json!({"user": "UNOBODY"}))
        .await;
    assert_eq!(unknown["error"], "user_not_found", "{unknown}");

    // Once Carol posts, a refresh recomputes the month with three seats.
    node.call_ok(
        "chat.postMessage",
        &carol,
        json!({"channel": general, "text": "me too"}),
    )
    .await;
    wait_for_message_posts(&node, 2).await;
    let refreshed = node
        .call(
            "admin.billing.report",
            &admin,
            json!({"month": month, "refresh": true}),
        )
        .await;
    assert_eq!(refreshed["error"], "report_pending", "{refreshed}");
    let report = wait_for_report(&node, &admin, json!({"month": month}), |report| {
        report["billable_seats"] == 3
    })
    .await;
    let mut expected = vec![(alice_id, 1), (bob_id, 1), (carol_id, 1)];
    expected.sort();
    assert_eq!(report_members(&report), expected, "{report}");

    let metrics = node.engine.jobs().metrics().snapshot();
    assert_eq!(metrics["billing"]["dead"], 0, "{metrics}");
    drop(bob_socket);
    node.stop().await;

    // The command line computes the same report from the stopped node's store.
    let printed = billing_from_cli(dir.path(), &team, &month).await;
    for field in ["team_id", "month", "billable_seats", "members", "final"] {
        assert_eq!(printed[field], report[field], "{field}: {printed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_report_on_embedded_queue() {
    billing_end_to_end("embedded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Kafka broker: set SWITCHBOARD_TEST_KAFKA"]
async fn billing_report_on_kafka() {
    let queue = kafka_queue_url("billing").expect("SWITCHBOARD_TEST_KAFKA is set");
    billing_end_to_end(&queue).await;
}

/// The month-end check enqueues the previous month's job once for a team that
/// existed then, and the job stores a final report from that month's activity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn month_end_check_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let node = start_node(dir.path(), "embedded").await;
    let hub = node.engine.hub().clone();
    let store = hub.store().clone();
    let month = Month::current().previous();

    // A team created long ago with one member active last month and one
    // member active only the month before.
    let team = Team {
        id: TeamId::generate(),
        name: "Old".into(),
        domain: "old".into(),
        created: Ts(0),
    };
    hub.write(vec![Write::InsertTeam(team.clone())])
        .await
        .unwrap();
    let member = |name: &str| NewUser {
        name: name.into(),
        ..NewUser::default()
    };
    let active = create_user(store.as_ref(), &team.id, member("active"))
        .await
        .unwrap();
    let earlier = create_user(store.as_ref(), &team.id, member("earlier"))
        .await
        .unwrap();
    let record = |user: &switchboard_actors::domain::User, day: Day| Write::RecordActivity {
        team_id: team.id.clone(),
        day,
        user_id: user.id.clone(),
    };
    hub.write(vec![
        record(&active, month.first_day()),
        record(&earlier, month.previous().first_day()),
    ])
    .await
    .unwrap();

    // The check at start may have run after the insert above, so the first
    // call enqueues the job at most once. The second must enqueue nothing.
    let first = enqueue_month_end(&hub, month).await.unwrap();
    assert!(first <= 1, "enqueued {first}");
    assert_eq!(enqueue_month_end(&hub, month).await.unwrap(), 0);

    let report = wait_for("the month-end report", || {
        let store = store.clone();
        let team_id = team.id.clone();
        async move { store.billing_report(&team_id, month).await.unwrap() }
    })
    .await;
    assert!(report.is_final(), "{report:?}");
    assert_eq!(
        report.job_id,
        format!("JBILL{:04}{:02}END", month.year, month.month)
    );
    let billed: Vec<_> = report.members.iter().map(|m| &m.user_id).collect();
    assert_eq!(billed, vec![&active.id]);
    // With a final report stored, the check skips the team.
    assert_eq!(enqueue_month_end(&hub, month).await.unwrap(), 0);
    node.stop().await;
}
