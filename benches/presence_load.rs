//! Presence load: many connected users, each subscribed to a fixed number of
//! others, and a steady rate of presence changes. Reports notifications
//! delivered per second, the delay from change to delivery (p50, p99), and the
//! CPU time and resident memory of the process.
//!
//! Everything runs in one process: sessions are opened with
//! `Engine::open_session` (no sockets) and each session's queue is drained by a
//! task that parses the `presence_change` frames. So the CPU and memory figures
//! include the load generator and the drains, and no WebSocket cost is counted.
//! Changes are manual away toggles (`presence::set_manual_away`), which take the
//! same path through the presence actor as device changes.
//!
//! ```sh
//! cargo bench --bench presence_load -- --users 10000 --subs 200 --rate 1000 --seconds 10
//! ```
//!
//! Every run ends by itself: the changes stop after `--seconds`, and the
//! program waits at most `SETTLE_TIMEOUT` for the last deliveries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Deserialize;
use serde_json::json;

use switchboard_actors::domain::{Profile, Role, User};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::{Store, Write};
use switchboard_actors::presence;
use switchboard_actors::session::SessionMsg;
use switchboard_actors::session_handle::SessionOutbound;
use switchboard_actors::ts::Ts;
use switchboard_engine::directory::create_team;
use switchboard_engine::{Config, Engine};

/// Maximum wait for subscriptions to apply and for the last deliveries.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of one run, from the command line.
struct Plan {
    /// Number of connected users, one session each.
    users: u64,
    /// Number of users each session subscribes to.
    subs: u64,
    /// Presence changes per second.
    rate: u64,
    /// Length of the measured phase, in seconds.
    seconds: u64,
    /// Presence batching window, in milliseconds.
    batch_ms: u64,
}

impl Plan {
    fn from_args() -> Plan {
        let mut plan = Plan {
            users: 10_000,
            subs: 200,
            rate: 1_000,
            seconds: 10,
            batch_ms: 100,
        };
        let args: Vec<String> = std::env::args().collect();
        let mut index = 1;
        while index < args.len() {
            let value = args.get(index + 1).and_then(|v| v.parse::<u64>().ok());
            let field = match args[index].as_str() {
                "--users" => Some(&mut plan.users),
                "--subs" => Some(&mut plan.subs),
                "--rate" => Some(&mut plan.rate),
                "--seconds" => Some(&mut plan.seconds),
                "--batch-ms" => Some(&mut plan.batch_ms),
                _ => None,
            };
            match (field, value) {
                (Some(field), Some(value)) => {
                    *field = value;
                    index += 2;
                }
                // `cargo bench` adds `--bench`; skip flags this program does not take.
                _ => index += 1,
            }
        }
        plan.subs = plan.subs.min(plan.users.saturating_sub(1));
        plan.rate = plan.rate.max(1);
        plan
    }
}

/// Counters shared by the drain tasks.
struct Counters {
    /// Users named in received `presence_change` events.
    notifications: AtomicU64,
    /// `presence_change` frames received.
    frames: AtomicU64,
    /// Delay from change to delivery, in microseconds.
    delays: Mutex<Histogram<u64>>,
}

/// When each user last changed, in microseconds since `start`.
struct ChangeTimes {
    /// Start of the run.
    start: Instant,
    /// Time of each user's latest change, by user index.
    changed_at: Vec<AtomicU64>,
}

/// The part of a `presence_change` frame the drains read.
#[derive(Deserialize)]
struct PresenceFrame {
    /// Event type.
    #[serde(rename = "type")]
    kind: String,
    /// Users that changed.
    #[serde(default)]
    users: Vec<String>,
}

fn user_id(index: usize) -> UserId {
    UserId::from(format!("U{index:08}").as_str())
}

fn user_index(id: &str) -> Option<usize> {
    id.get(1..)?.parse().ok()
}

/// Stores `count` users named `user0`, `user1`, ... with the ids of
/// [`user_id`], so that sessions can open for them.
async fn create_users(store: &dyn Store, team_id: &TeamId, count: usize) -> anyhow::Result<()> {
    let now = Ts::now();
    let writes: Vec<Write> = (0..count)
        .map(|index| {
            let name = format!("user{index}");
            Write::InsertUser(User {
                id: user_id(index),
                team_id: team_id.clone(),
                profile: Profile {
                    real_name: name.clone(),
                    display_name: name.clone(),
                    ..Profile::default()
                },
                name,
                is_bot: false,
                bot_id: None,
                role: Role::Member,
                deleted: false,
                tz: "UTC".into(),
                updated: now,
            })
        })
        .collect();
    let sets: Vec<Vec<Write>> = writes.chunks(1_000).map(<[Write]>::to_vec).collect();
    for result in store.commit(sets).await {
        result?;
    }
    Ok(())
}

/// Reads a session's frames until it ends, recording each notification.
async fn drain(mut outbound: SessionOutbound, counters: Arc<Counters>, times: Arc<ChangeTimes>) {
    let mut delays = Vec::new();
    while let Some(frame) = outbound.frames.recv().await {
        let Ok(event) = serde_json::from_slice::<PresenceFrame>(&frame) else {
            continue;
        };
        if event.kind != "presence_change" {
            continue;
        }
        let now = times.start.elapsed().as_micros() as u64;
        for user in &event.users {
            if let Some(index) = user_index(user) {
                let changed = times.changed_at[index].load(Ordering::Relaxed);
                delays.push(now.saturating_sub(changed));
            }
        }
        counters.frames.fetch_add(1, Ordering::Relaxed);
        counters
            .notifications
            .fetch_add(event.users.len() as u64, Ordering::Relaxed);
        if delays.len() >= 64 {
            record_delays(&counters, &mut delays);
        }
    }
    record_delays(&counters, &mut delays);
}

fn record_delays(counters: &Counters, delays: &mut Vec<u64>) {
    let mut histogram = counters.delays.lock().expect("histogram lock");
    for delay in delays.drain(..) {
        let _ = histogram.record(delay.max(1));
    }
}

/// Returns the process's CPU time (user + system) in seconds, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / per_second.max(1.0)
}

/// Returns the process's resident memory in MiB, from /proc.
fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let plan = Plan::from_args();
    let users = plan.users as usize;
    let subs = plan.subs as usize;
    println!(
        "presence_load: {} users, {} subscriptions each, {} changes/s for {} s, batch window {} ms",
        plan.users, plan.subs, plan.rate, plan.seconds, plan.batch_ms
    );
    let data = tempfile::tempdir()?;
    let config = Config {
        data_dir: data.path().to_owned(),
        durable: false,
        session_queue: 65_536,
        presence_idle_ms: 24 * 60 * 60 * 1000,
        presence_batch_ms: plan.batch_ms,
        ..Config::default()
    };
    let engine = Engine::start(config).await?;
    let hub = engine.hub().clone();
    let (team, _) = create_team(hub.store().as_ref(), "Presence load").await?;
    let team_id: TeamId = team.id.clone();
    create_users(hub.store().as_ref(), &team_id, users).await?;

    let counters = Arc::new(Counters {
        notifications: AtomicU64::new(0),
        frames: AtomicU64::new(0),
        delays: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
    });
    let times = Arc::new(ChangeTimes {
        start: Instant::now(),
        changed_at: (0..users).map(|_| AtomicU64::new(0)).collect(),
    });

    // Step 1: one session per user, then each subscribes to the next `subs`
    // users, so every user has exactly `subs` subscribers.
    let setup = Instant::now();
    let mut sessions = Vec::with_capacity(users);
    let mut drains = tokio::task::JoinSet::new();
    for index in 0..users {
        let opened = engine
            .open_session(&team_id, &user_id(index))
            .await
            .map_err(|error| anyhow::anyhow!("opening session {index} failed: {error}"))?;
        drains.spawn(drain(opened.outbound, counters.clone(), times.clone()));
        sessions.push((opened.handle, opened.actor));
    }
    for (index, (_, actor)) in sessions.iter().enumerate() {
        let ids: Vec<String> = (1..=subs)
            .map(|offset| user_id((index + offset) % users).to_string())
            .collect();
        let frame = json!({"type": "presence_sub", "ids": ids}).to_string();
        actor.send_message(SessionMsg::Frame(frame))?;
    }
    let wanted = users * subs;
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let applied: usize = (0..users)
            .map(|i| {
                hub.registry()
                    .presence_state
                    .subscriber_count(&team_id, &user_id(i))
            })
            .sum();
        if applied == wanted {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {applied} of {wanted} subscriptions applied after {SETTLE_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "setup: {} sessions and {} subscriptions in {:.1} s, resident memory {:.0} MiB",
        users,
        wanted,
        setup.elapsed().as_secs_f64(),
        resident_mib()
    );

    // Step 2: `rate` manual away toggles per second, spread over the users.
    let notifications_before = counters.notifications.load(Ordering::Relaxed);
    let cpu_before = cpu_seconds();
    let measured = Instant::now();
    let total_changes = plan.rate * plan.seconds;
    let mut away = vec![false; users];
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent: u64 = 0;
    let stride = 7_919 % users.max(1);
    let mut next_user = 0;
    while sent < total_changes {
        ticker.tick().await;
        let due = (measured.elapsed().as_secs_f64() * plan.rate as f64) as u64;
        while sent < due.min(total_changes) {
            let index = next_user;
            next_user = (next_user + stride.max(1)) % users;
            away[index] = !away[index];
            let now = times.start.elapsed().as_micros() as u64;
            times.changed_at[index].store(now, Ordering::Relaxed);
            presence::set_manual_away(&hub, &team_id, &user_id(index), away[index]);
            sent += 1;
        }
    }
    let change_seconds = measured.elapsed().as_secs_f64();

    // Step 3: wait for the last deliveries (each change reaches `subs` sessions).
    let expected = notifications_before + total_changes * plan.subs;
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while counters.notifications.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered_seconds = measured.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    let delivered = counters.notifications.load(Ordering::Relaxed) - notifications_before;
    let memory = resident_mib();

    let histogram = counters.delays.lock().expect("histogram lock").clone();
    println!(
        "changes: {total_changes} in {change_seconds:.2} s ({:.0}/s)",
        total_changes as f64 / change_seconds
    );
    println!(
        "notifications: {delivered} of {} expected in {delivered_seconds:.2} s, {:.0}/s; {} frames",
        total_changes * plan.subs,
        delivered as f64 / delivered_seconds,
        counters.frames.load(Ordering::Relaxed)
    );
    println!(
        "delay change to delivery: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        histogram.value_at_quantile(0.50) as f64 / 1000.0,
        histogram.value_at_quantile(0.99) as f64 / 1000.0,
        histogram.max() as f64 / 1000.0
    );
    println!(
        "process CPU: {cpu:.1} s over {delivered_seconds:.1} s ({:.0}% of one core); resident memory {memory:.0} MiB",
        100.0 * cpu / delivered_seconds
    );

    for (handle, actor) in &sessions {
        handle.close(switchboard_actors::session_handle::CloseReason::Shutdown);
        actor.stop(None);
    }
    drop(sessions);
    engine.stop().await;
    drains.abort_all();
    Ok(())
}
