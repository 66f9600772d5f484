//! Durable posts per second through a whole node, per store and batch size.
//!
//! Starts an engine in this process for each store and each `max_batch`. Then
//! concurrent posters call `chat.postMessage` through the Web API for a fixed
//! time. `Api::call` runs the token check, the membership check, the channel
//! actor, the group commit in the storage actor and the fanout. Only HTTP
//! parsing and sockets are left out. Every counted post was acknowledged after its
//! batch committed with durability on (SQLite `synchronous=FULL`; MySQL per
//! the server's `innodb_flush_log_at_trx_commit`).
//!
//! ```sh
//! cargo bench --bench store_throughput -- \
//!     [--mysql mysql://root@127.0.0.1:3306/DATABASE] [--skip-sqlite] [--seconds 5]
//! ```
//!
//! With `--mysql`, the database must exist; every run creates a team of its
//! own in it, so earlier rows do no harm.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map};
use switchboard_actors::domain::Message;
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::Write;
use switchboard_actors::ts::Ts;
use switchboard_engine::api::params::Params;
use switchboard_engine::directory::{create_team, create_token, create_user, NewUser};
use switchboard_engine::store::open_store;
use switchboard_engine::{Config, Engine};

/// Batch sizes (`Config::max_batch`) measured for each store.
const BATCH_SIZES: &[usize] = &[1, 16, 64, 256, 1024];

/// Channels the posters spread over.
const CHANNELS: usize = 32;

/// Concurrent posters per channel.
const POSTERS_PER_CHANNEL: usize = 32;

/// Settings from the command line.
struct Options {
    /// MySQL store URL; SQLite only when unset.
    mysql: Option<String>,
    /// Length of each measured run.
    duration: Duration,
    /// Measure only the MySQL store.
    skip_sqlite: bool,
}

fn parse_options() -> Options {
    let mut options = Options {
        mysql: None,
        duration: Duration::from_secs(5),
        skip_sqlite: false,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--mysql" => options.mysql = arguments.next(),
            "--skip-sqlite" => options.skip_sqlite = true,
            "--seconds" => {
                let seconds: u64 = arguments
                    .next()
                    .and_then(|value| value.parse().ok())
                    .filter(|seconds| (1..=60).contains(seconds))
                    .expect("--seconds takes a whole number from 1 to 60");
                options.duration = Duration::from_secs(seconds);
            }
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            other => {
                panic!("unknown argument {other:?}; use --mysql URL, --skip-sqlite and --seconds N")
            }
        }
    }
    options
}

/// One measured run.
struct Outcome {
    /// Posts acknowledged with `ok: true`.
    posts: u64,
    /// Posts that returned an error.
    failures: u64,
    /// Length of the run.
    seconds: f64,
}

/// Starts a node on `store` with `max_batch`, creates a team, a poster per
/// channel slot and the channels, then posts for `duration`.
async fn measure(store: Option<String>, max_batch: usize, duration: Duration) -> Outcome {
    let data_dir = tempfile::tempdir().expect("failed to create a temporary directory");
    let config = Config {
        data_dir: data_dir.path().to_owned(),
        store,
        max_batch,
        durable: true,
        store_pool_size: 8,
        ..Config::default()
    };
    let engine = Arc::new(Engine::start(config).await.expect("engine starts"));
    let store = engine.hub().store().clone();
    let (team, _) = create_team(store.as_ref(), &format!("bench {max_batch}"))
        .await
        .expect("create team");
    let owner = create_user(
        store.as_ref(),
        &team.id,
        NewUser {
            name: "owner".into(),
            ..NewUser::default()
        },
    )
    .await
    .expect("create user");
    let token = create_token(store.as_ref(), &team.id, &owner.id)
        .await
        .expect("create token");

    let mut channels = Vec::with_capacity(CHANNELS);
    for index in 0..CHANNELS {
        let created = call(
            &engine,
            &token,
            "conversations.create",
            json!({"name": format!("bench-{index}")}),
        )
        .await;
        channels.push(
            created["channel"]["id"]
                .as_str()
                .expect("channel id")
                .to_owned(),
        );
    }

    let posts = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut posters = tokio::task::JoinSet::new();
    for channel in &channels {
        for poster in 0..POSTERS_PER_CHANNEL {
            let engine = Arc::clone(&engine);
            let token = token.clone();
            let channel = channel.clone();
            let posts = Arc::clone(&posts);
            let failures = Arc::clone(&failures);
            posters.spawn(async move {
                let mut sequence = 0u64;
                while Instant::now() < deadline {
                    sequence += 1;
                    let text = format!("post {sequence} from poster {poster}");
                    let body = call(
                        &engine,
                        &token,
                        "chat.postMessage",
                        json!({"channel": channel, "text": text}),
                    )
                    .await;
                    if body["ok"] == true {
                        posts.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    }
    while posters.join_next().await.is_some() {}
    let seconds = started.elapsed().as_secs_f64();
    engine.stop().await;

    Outcome {
        posts: posts.load(Ordering::Relaxed),
        failures: failures.load(Ordering::Relaxed),
        seconds,
    }
}

fn print_row(store: &str, path: &str, max_batch: usize, outcome: &Outcome) {
    println!(
        "| {store} | {path} | {max_batch} | {:.0} | {} | {} | {:.1} |",
        outcome.posts as f64 / outcome.seconds,
        outcome.posts,
        outcome.failures,
        outcome.seconds
    );
}

async fn call(
    engine: &Engine,
    token: &str,
    method: &str,
    arguments: serde_json::Value,
) -> serde_json::Value {
    let map: Map<String, serde_json::Value> = match arguments {
        serde_json::Value::Object(map) => map,
        _ => Map::new(),
    };
    engine
        .api()
        .call(method, Some(token), Params::new(map), None)
        .await
}

/// Commits batches of `max_batch` posts straight to the store, one batch after
/// the other as the storage actor does, for `duration`. This is what the store
/// alone sustains, without the API's reads and the actors.
async fn measure_store_only(
    store: Option<String>,
    max_batch: usize,
    duration: Duration,
) -> Outcome {
    let data_dir = tempfile::tempdir().expect("failed to create a temporary directory");
    let config = Config {
        data_dir: data_dir.path().to_owned(),
        store,
        ..Config::default()
    };
    let url = config.store_url().expect("valid store URL");
    let store = open_store(&url, true, 8).await.expect("store opens");
    let team = TeamId::generate();
    let channel = ChannelId::generate();
    let author = UserId::generate();

    let mut posts = 0u64;
    let mut failures = 0u64;
    let mut ts = Ts::now().0;
    let started = Instant::now();
    while started.elapsed() < duration {
        let batch: Vec<Vec<Write>> = (0..max_batch)
            .map(|index| {
                ts += 1;
                let text = format!("post {index} of a batch");
                vec![Write::InsertMessage(Message::new(
                    team.clone(),
                    channel.clone(),
                    author.clone(),
                    text,
                    Ts(ts),
                ))]
            })
            .collect();
        for result in store.commit(batch).await {
            match result {
                Ok(()) => posts += 1,
                Err(_) => failures += 1,
            }
        }
    }
    Outcome {
        posts,
        failures,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn main() {
    let options = parse_options();
    let runtime = tokio::runtime::Runtime::new().expect("failed to start a tokio runtime");
    let mut stores: Vec<(&str, Option<String>)> = Vec::new();
    if !options.skip_sqlite {
        stores.push(("sqlite", None));
    }
    if let Some(url) = &options.mysql {
        stores.push(("mysql", Some(url.clone())));
    }

    println!("| store | path | max_batch | durable posts/s | posts | failed | seconds |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, store) in stores {
        for &max_batch in BATCH_SIZES {
            let node = runtime.block_on(measure(store.clone(), max_batch, options.duration));
            print_row(name, "node (Api::call)", max_batch, &node);
            let alone = runtime.block_on(measure_store_only(
                store.clone(),
                max_batch,
                options.duration,
            ));
            print_row(name, "Store::commit only", max_batch, &alone);
        }
    }
}
