//! Micro-benchmarks of the fanout path's parts: encoding a `message` event,
//! queueing one frame on 1,000 in-process sessions, and group commits on the
//! embedded SQLite store. Sample sizes are small so that `cargo bench` ends
//! within a few minutes on a 2-core machine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use switchboard_actors::domain::{
    Channel, ChannelKind, Message, Profile, Role, Team, TopicInfo, User,
};
use switchboard_actors::events;
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{Store, Write};
use switchboard_actors::session_handle::{session_channel, SessionHandle, SessionOutbound};
use switchboard_actors::ts::Ts;
use switchboard_engine::store::sqlite::SqliteStore;

/// Sessions in the routing benchmark.
const SESSIONS: usize = 1_000;

/// Write sets per group commit.
const BATCH: usize = 64;

fn sample_message(ts: Ts) -> Message {
    Message::new(
        TeamId::from("T0BENCH0001"),
        ChannelId::from("C0BENCH0001"),
        UserId::from("U0BENCH0001"),
        "A benchmark message of typical length: short enough for a chat line, long enough to matter.".into(),
        ts,
    )
}

fn encode(c: &mut Criterion) {
    let message = sample_message(Ts(1_700_000_000_000_001));
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("message_event", |b| {
        b.iter(|| events::message(std::hint::black_box(&message)))
    });
    group.finish();
}

fn route(c: &mut Criterion) {
    let (handles, mut outbounds): (Vec<SessionHandle>, Vec<SessionOutbound>) = (0..SESSIONS)
        .map(|id| {
            session_channel(
                id as u64,
                TeamId::from("T0BENCH0001"),
                UserId(format!("U0BENCH{id:05}")),
                1024,
            )
        })
        .unzip();
    let frame: Bytes = events::message(&sample_message(Ts(1_700_000_000_000_001)));

    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(SESSIONS as u64));
    group.bench_function("deliver_to_1000_sessions", |b| {
        b.iter(|| {
            for handle in &handles {
                handle.deliver(&frame);
            }
            // Empty the queues so that none fills up and closes its session.
            for outbound in &mut outbounds {
                while outbound.frames.try_recv().is_ok() {}
            }
        })
    });
    group.finish();
}

/// Opens a store in a temporary directory with one team, user and channel.
fn open_store(
    runtime: &tokio::runtime::Runtime,
    durable: bool,
) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let store = SqliteStore::open(&dir.path().join("bench.db"), durable).expect("open the store");
    let team = Team {
        id: TeamId::from("T0BENCH0001"),
        name: "bench".into(),
        domain: "bench".into(),
        created: Ts::now(),
    };
    let user = User {
        id: UserId::from("U0BENCH0001"),
        team_id: team.id.clone(),
        name: "bench".into(),
        profile: Profile::default(),
        is_bot: false,
        bot_id: None,
        role: Role::Member,
        deleted: false,
        tz: "UTC".into(),
        updated: Ts::now(),
    };
    let channel = Channel {
        id: ChannelId::from("C0BENCH0001"),
        team_id: team.id.clone(),
        name: "bench".into(),
        kind: ChannelKind::Public,
        creator: user.id.clone(),
        created: Ts::now(),
        is_archived: false,
        is_general: false,
        topic: TopicInfo::default(),
        purpose: TopicInfo::default(),
        im_user: None,
    };
    let results = runtime.block_on(store.commit(vec![vec![
        Write::InsertTeam(team),
        Write::InsertUser(user),
        Write::InsertChannel(channel),
    ]]));
    assert!(
        results.iter().all(Result::is_ok),
        "seeding the store failed: {results:?}"
    );
    (dir, store)
}

fn commit(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("start a tokio runtime");
    let next_ts = AtomicU64::new(1_700_000_000_000_000);
    let batch_of = |size: usize| -> Vec<Vec<Write>> {
        (0..size)
            .map(|_| {
                let ts = Ts(next_ts.fetch_add(1, Ordering::Relaxed));
                vec![Write::InsertMessage(sample_message(ts))]
            })
            .collect()
    };

    let mut group = c.benchmark_group("commit");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for durable in [true, false] {
        let (_dir, store) = open_store(&runtime, durable);
        let mode = if durable { "durable" } else { "non_durable" };
        group.throughput(Throughput::Elements(BATCH as u64));
        group.bench_function(format!("batch_of_64_messages_{mode}"), |b| {
            b.iter_batched(
                || batch_of(BATCH),
                |batch| {
                    let results = runtime.block_on(store.commit(batch));
                    assert!(
                        results.iter().all(Result::is_ok),
                        "a commit failed: {results:?}"
                    );
                },
                BatchSize::SmallInput,
            )
        });
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("one_message_{mode}"), |b| {
            b.iter_batched(
                || batch_of(1),
                |batch| {
                    let results = runtime.block_on(store.commit(batch));
                    assert!(
                        results.iter().all(Result::is_ok),
                        "a commit failed: {results:?}"
                    );
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = encode, route, commit
}
criterion_main!(benches);
