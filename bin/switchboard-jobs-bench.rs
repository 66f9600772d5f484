//! `switchboard-jobs-bench`: measures the job queue. Two phases, each bounded
//! by a job count:
//!
//! 1. enqueue: publishes `--jobs` jobs straight to the queue in batches of
//!    `--batch` and reports the sustained rate (jobs per second);
//! 2. end to end: posts `--messages` messages through an in-process node
//!    (outbox, relay, queue, worker) and reports the rate and the time from
//!    enqueue to done of their message-post jobs.
//!
//! `--queue embedded` or `--queue kafka://host:port`. Data lives in a
//! temporary directory that is removed at exit.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use switchboard_actors::channel::PostRequest;
use switchboard_actors::ids::{ChannelId, TeamId};
use switchboard_actors::jobs::{Job, JobKind, JobPayload};
use switchboard_actors::ts::Ts;
use switchboard_engine::directory::{create_team, create_user, NewUser};
use switchboard_engine::jobs::system::open_queue;
use switchboard_engine::{Config, Engine};

/// Command-line arguments.
#[derive(Parser)]
#[command(
    name = "switchboard-jobs-bench",
    about = "Measure the job queue's enqueue rate and latency"
)]
struct Args {
    /// Job queue: `embedded` or `kafka://host:port[/topic-prefix]`.
    #[arg(long, default_value = "embedded")]
    queue: String,
    /// Jobs published in the enqueue phase.
    #[arg(long, default_value_t = 200_000)]
    jobs: usize,
    /// Jobs per publish call in the enqueue phase.
    #[arg(long, default_value_t = 2_048)]
    batch: usize,
    /// Publish calls in flight at once in the enqueue phase.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Messages posted in the end-to-end phase.
    #[arg(long, default_value_t = 5_000)]
    messages: usize,
    /// Teams the enqueue-phase jobs are spread over (so over partitions).
    #[arg(long, default_value_t = 64)]
    teams: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let queue_url = if args.queue.starts_with("kafka://") && args.queue.matches('/').count() == 2 {
        format!("{}/bench-{unique}", args.queue)
    } else {
        args.queue.clone()
    };
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().to_owned(),
        queue: queue_url.clone(),
        ..Config::default()
    };

    // Phase 1: publish straight to the queue.
    let enqueue_dir = dir.path().join("enqueue");
    std::fs::create_dir_all(&enqueue_dir)?;
    let queue = open_queue(&Config {
        data_dir: enqueue_dir,
        ..config.clone()
    })
    .await
    .context("opening the queue")?;
    let teams: Vec<TeamId> = (0..args.teams.max(1)).map(|_| TeamId::generate()).collect();
    let batches: Vec<Vec<Job>> = (0..args.jobs)
        .map(|index| {
            let payload = JobPayload::MessagePost {
                channel_id: ChannelId::from("CBENCH"),
                ts: Ts(index as u64 + 1),
            };
            Job::new(teams[index % teams.len()].clone(), &payload)
        })
        .collect::<Vec<_>>()
        .chunks(args.batch.max(1))
        .map(<[Job]>::to_vec)
        .collect();
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for batch in batches {
        let permit = Arc::clone(&semaphore).acquire_owned().await?;
        let queue = Arc::clone(&queue);
        tasks.spawn(async move {
            let result = queue.publish(&batch).await;
            drop(permit);
            result
        });
    }
    while let Some(result) = tasks.join_next().await {
        result?.context("publishing a batch")?;
    }
    let elapsed = started.elapsed();
    println!(
        "enqueue: {} jobs in {:.2} s = {:.0} jobs/s ({}, batch {}, concurrency {})",
        args.jobs,
        elapsed.as_secs_f64(),
        args.jobs as f64 / elapsed.as_secs_f64(),
        queue.name(),
        args.batch,
        args.concurrency
    );
    drop(queue);

    // Phase 2: messages through the whole path, in process.
    let engine = Engine::start(Config {
        queue: if queue_url.starts_with("kafka://") {
            format!("{queue_url}-e2e")
        } else {
            queue_url.clone()
        },
        ..config
    })
    .await?;
    let store = engine.hub().store().clone();
    let (team, general) = create_team(store.as_ref(), "bench").await?;
    let author = create_user(
        store.as_ref(),
        &team.id,
        NewUser {
            name: "author".into(),
            ..NewUser::default()
        },
    )
    .await?;
    let metrics = engine.jobs().metrics().clone();
    let started = Instant::now();
    let mut posts = tokio::task::JoinSet::new();
    for index in 0..args.messages {
        let hub = engine.hub().clone();
        let team_id = team.id.clone();
        let channel_id = general.id.clone();
        let user = author.id.clone();
        posts.spawn(async move {
            let request = PostRequest {
                user,
                text: format!("message {index}"),
                ..PostRequest::default()
            };
            hub.post_message(&team_id, &channel_id, request).await
        });
        // Keep at most 256 posts in flight.
        if posts.len() >= 256 {
            posts.join_next().await.transpose()?.transpose()?;
        }
    }
    while let Some(result) = posts.join_next().await {
        result??;
    }
    let posted = started.elapsed();
    let done = &metrics.kind(JobKind::MessagePost).done;
    let deadline = Instant::now() + Duration::from_secs(120);
    while done.load(Ordering::Relaxed) < args.messages as u64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "message-post jobs did not finish within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let finished = started.elapsed();
    let snapshot = metrics.snapshot();
    println!(
        "end to end: {} messages posted in {:.2} s, their jobs done after {:.2} s = {:.0} jobs/s; \
         enqueue-to-done mean {:.1} ms, max {:.1} ms",
        args.messages,
        posted.as_secs_f64(),
        finished.as_secs_f64(),
        args.messages as f64 / finished.as_secs_f64(),
        snapshot["message_post"]["latency_ms_mean"]
            .as_f64()
            .unwrap_or_default(),
        snapshot["message_post"]["latency_ms_max"]
            .as_f64()
            .unwrap_or_default(),
    );
    engine.stop().await;
    Ok(())
}
