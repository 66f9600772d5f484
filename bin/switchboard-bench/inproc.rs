//! The `inproc` scenario: an engine in this process, one in-process session per
//! member (no sockets), and posts through `Hub::post_message`. Drain tasks
//! count the `message` events each session receives.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde::Serialize;
use tokio::task::JoinSet;

use switchboard_actors::channel::PostRequest;
use switchboard_actors::domain::{Channel, Message, User};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::Write;
use switchboard_actors::session_handle::SessionOutbound;
use switchboard_actors::{ApiError, Hub};
use switchboard_engine::directory::create_team;
use switchboard_engine::{Config, Engine};

use crate::cli::Plan;
use crate::progress::Progress;
use crate::seed::{add_member, bench_channel, bench_user, commit_all};

/// Outbound queue per session in this scenario, in frames. Opening N sessions
/// in one team sends each about N/2 `presence_change` frames at once, so the
/// default of 1,024 would disconnect sessions of large teams as slow consumers
/// before the measurement starts.
const SESSION_QUEUE: usize = 65_536;

/// Maximum wait for deliveries after the last post, and for the frames of
/// setup to stop arriving.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Result for one channel size.
#[derive(Clone, Debug, Serialize)]
pub struct SizeResult {
    /// Members of the channel, each with one session.
    pub members: usize,
    /// Posts accepted.
    pub posts: u64,
    /// Posts rejected or failed.
    pub failed_posts: u64,
    /// Deliveries expected: accepted posts times members.
    pub expected: u64,
    /// `message` events the sessions received.
    pub delivered: u64,
    /// Seconds from the first post to the last delivery.
    pub seconds: f64,
    /// Posts accepted per second.
    pub posts_per_sec: f64,
    /// Deliveries per second.
    pub deliveries_per_sec: f64,
}

impl SizeResult {
    /// Returns whether every accepted post reached every member and none failed.
    pub fn complete(&self) -> bool {
        self.failed_posts == 0 && self.delivered == self.expected
    }
}

/// Result of the scenario.
#[derive(Clone, Debug, Serialize)]
pub struct InprocResult {
    /// Whether each commit was fsynced.
    pub durable: bool,
    /// Sessions opened (one per user of the largest channel).
    pub sessions: usize,
    /// Seconds spent opening the sessions.
    pub open_seconds: f64,
    /// Sessions the node closed during the run (slow consumers).
    pub sessions_closed: u64,
    /// One entry per channel size.
    pub sizes: Vec<SizeResult>,
}

/// Counters shared by the drain tasks.
#[derive(Default)]
struct Counters {
    /// `message` events received by all sessions.
    messages: AtomicU64,
    /// Frames of any kind received by all sessions.
    frames: AtomicU64,
    /// Sessions whose queue the node closed.
    closed: AtomicU64,
}

/// Runs the scenario with a durable store in a temporary directory.
pub async fn run(plan: &Plan, progress: &Progress) -> anyhow::Result<InprocResult> {
    let data_dir = tempfile::tempdir().context("creating a temporary data directory failed")?;
    let config = Config {
        data_dir: data_dir.path().to_owned(),
        durable: true,
        session_queue: SESSION_QUEUE,
        ..Config::default()
    };
    let engine = Engine::start(config)
        .await
        .context("starting the engine failed")?;
    let result = run_on(&engine, plan, progress).await;
    engine.stop().await;
    result
}

async fn run_on(engine: &Engine, plan: &Plan, progress: &Progress) -> anyhow::Result<InprocResult> {
    let largest = plan.inproc_sizes.iter().copied().max().unwrap_or(1);
    progress.set(format!("inproc: seeding {largest} users"));
    let (team_id, users, channels) = seed(engine, &plan.inproc_sizes, largest).await?;

    // One session per user, each drained by a task.
    let counters = Arc::new(Counters::default());
    let mut drains = JoinSet::new();
    let opened_at = Instant::now();
    for (index, user) in users.iter().enumerate() {
        if index % 100 == 0 {
            progress.set(format!("inproc: opening sessions {index}/{}", users.len()));
        }
        let opened = engine
            .open_session(&team_id, &user.id)
            .await
            .map_err(|error| anyhow!("opening a session for {} failed: {error}", user.id))?;
        drains.spawn(drain(opened.outbound, counters.clone()));
        // The handle and actor stay alive through the registry; dropping these
        // clones does not end the session.
    }
    let open_seconds = opened_at.elapsed().as_secs_f64();
    progress.set("inproc: waiting for presence events to settle".into());
    wait_until_quiet(&counters.frames, Duration::from_millis(300), SETTLE_TIMEOUT).await;

    let mut sizes = Vec::new();
    for (members, channel) in &channels {
        let result = measure_size(
            engine, plan, progress, &team_id, &users, channel, *members, &counters,
        )
        .await?;
        sizes.push(result);
    }

    drains.abort_all();
    Ok(InprocResult {
        durable: true,
        sessions: users.len(),
        open_seconds,
        sessions_closed: counters.closed.load(Ordering::Relaxed),
        sizes,
    })
}

/// Creates a team, `largest` users and one channel per size whose members are
/// the first `size` users.
async fn seed(
    engine: &Engine,
    sizes: &[usize],
    largest: usize,
) -> anyhow::Result<(TeamId, Vec<User>, Vec<(usize, Channel)>)> {
    let store = engine.hub().store().as_ref();
    let (team, _general) = create_team(store, "bench-inproc")
        .await
        .map_err(|error| anyhow!("creating the team failed: {error}"))?;
    let users: Vec<User> = (0..largest)
        .map(|index| bench_user(&team.id, format!("member-{index}")))
        .collect();
    let mut sets: Vec<Vec<Write>> = users
        .iter()
        .map(|user| vec![Write::InsertUser(user.clone())])
        .collect();
    let mut channels = Vec::new();
    for &size in sizes {
        let channel = bench_channel(&team.id, format!("size-{size}"), &users[0].id);
        sets.push(vec![Write::InsertChannel(channel.clone())]);
        for user in &users[..size] {
            sets.push(vec![add_member(&channel, &user.id)]);
        }
        channels.push((size, channel));
    }
    commit_all(store, sets).await?;
    Ok((team.id, users, channels))
}

/// Counts the frames of one session until its queue closes. `message` events
/// start with `{"channel":` because `events::message` serializes the channel
/// first; other events start with `{"type":`.
async fn drain(mut outbound: SessionOutbound, counters: Arc<Counters>) {
    let mut frames = Vec::with_capacity(256);
    loop {
        tokio::select! {
            received = outbound.frames.recv_many(&mut frames, 256) => {
                if received == 0 {
                    break;
                }
                let messages = frames.iter().filter(|frame| frame.starts_with(br#"{"channel":"#)).count();
                counters.frames.fetch_add(received as u64, Ordering::Relaxed);
                if messages > 0 {
                    counters.messages.fetch_add(messages as u64, Ordering::Relaxed);
                }
                frames.clear();
            }
            _ = outbound.closed.cancelled() => {
                counters.closed.fetch_add(1, Ordering::Relaxed);
                break;
            }
        }
    }
}

/// Waits until `counter` has not changed for `quiet`, or until `timeout`.
async fn wait_until_quiet(counter: &AtomicU64, quiet: Duration, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = counter.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = counter.load(Ordering::Relaxed);
        if now != last {
            last = now;
            last_change = Instant::now();
        } else if last_change.elapsed() >= quiet {
            return;
        }
    }
}

/// Posts to one channel from `plan.inproc_posters` tasks and measures how
/// fast the events reach its members.
#[allow(clippy::too_many_arguments)]
async fn measure_size(
    engine: &Engine,
    plan: &Plan,
    progress: &Progress,
    team_id: &TeamId,
    users: &[User],
    channel: &Channel,
    members: usize,
    counters: &Counters,
) -> anyhow::Result<SizeResult> {
    let poster = Poster {
        hub: engine.hub().clone(),
        team_id: team_id.clone(),
        channel_id: channel.id.clone(),
        authors: Arc::new(
            users[..members]
                .iter()
                .map(|user| user.id.clone())
                .collect(),
        ),
    };

    // Warm-up: the first post starts the channel actor, which loads members.
    progress.set(format!("inproc: {members} members, warming up"));
    let before = counters.messages.load(Ordering::Relaxed);
    poster
        .post(0)
        .await
        .map_err(|error| anyhow!("warm-up post to {} failed: {error}", channel.id))?;
    let warmed = wait_for(&counters.messages, before + members as u64, SETTLE_TIMEOUT).await;
    if !warmed {
        bail!(
            "the warm-up post to a channel of {members} members was not delivered to every member"
        );
    }

    let posts = (plan.inproc_deliveries / members as u64)
        .clamp(plan.inproc_min_posts, plan.inproc_max_posts);
    let next = Arc::new(AtomicU64::new(1));
    let accepted = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(plan.inproc_max_secs);
    let before = counters.messages.load(Ordering::Relaxed);
    let started = Instant::now();

    let mut posters = JoinSet::new();
    for _ in 0..plan.inproc_posters {
        let next = next.clone();
        let accepted = accepted.clone();
        let failed = failed.clone();
        let poster = poster.clone();
        posters.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index > posts || Instant::now() >= deadline {
                    break;
                }
                match poster.post(index).await {
                    Ok(_) => accepted.fetch_add(1, Ordering::Relaxed),
                    Err(error) => {
                        tracing::warn!(%error, "inproc post failed");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        });
    }
    while posters.join_next().await.is_some() {
        let done = accepted.load(Ordering::Relaxed);
        progress.set(format!("inproc: {members} members, {done}/{posts} posts"));
    }

    let accepted = accepted.load(Ordering::Relaxed);
    let expected = accepted * members as u64;
    progress.set(format!("inproc: {members} members, waiting for deliveries"));
    wait_for(&counters.messages, before + expected, SETTLE_TIMEOUT).await;
    let seconds = started.elapsed().as_secs_f64();
    let delivered = counters.messages.load(Ordering::Relaxed) - before;
    Ok(SizeResult {
        members,
        posts: accepted,
        failed_posts: failed.load(Ordering::Relaxed),
        expected,
        delivered,
        seconds,
        posts_per_sec: accepted as f64 / seconds,
        deliveries_per_sec: delivered as f64 / seconds,
    })
}

/// Posts numbered messages to one channel, from its members in turn.
#[derive(Clone)]
struct Poster {
    hub: Hub,
    team_id: TeamId,
    channel_id: ChannelId,
    authors: Arc<Vec<UserId>>,
}

impl Poster {
    async fn post(&self, index: u64) -> Result<Message, ApiError> {
        let request = PostRequest {
            user: self.authors[index as usize % self.authors.len()].clone(),
            text: format!("inproc benchmark message {index}"),
            ..PostRequest::default()
        };
        self.hub
            .post_message(&self.team_id, &self.channel_id, request)
            .await
    }
}

/// Waits until `counter` reaches `target`; returns `false` after `timeout`.
async fn wait_for(counter: &AtomicU64, target: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if counter.load(Ordering::Relaxed) >= target {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}
