//! The WebSocket load generator: connects the clients, posts over HTTP in
//! measured phases, and records post-to-delivery latency from the marker each
//! post carries (see `marker`). It drives Switchboard and the baseline server
//! alike; only the URLs differ.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::marker::{now_micros, Marker};
use crate::progress::Progress;

/// Maximum measured phases one connected client set can run.
pub const MAX_PHASES: usize = 4;

/// Sockets opened at once while connecting.
const CONNECT_CONCURRENCY: usize = 32;

/// Maximum wait for one client to connect and receive `hello`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Maximum wait for all clients to connect.
const CONNECT_ALL_TIMEOUT: Duration = Duration::from_secs(180);

/// Maximum wait for one post's response.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// Maximum posts in flight in a fixed-rate phase. When all are waiting for a
/// response, the schedule falls behind and the achieved rate shows it.
const MAX_IN_FLIGHT: usize = 1024;

/// After posting ends, the wait for missing deliveries stops when none has
/// arrived for this long.
const DRAIN_IDLE: Duration = Duration::from_secs(5);

/// Maximum wait for missing deliveries after posting ends.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Read buffer of each client socket, in bytes. tungstenite zero-fills its
/// read buffer (128 KiB by default in 0.28) on every read, which cost the
/// load generator about a third of its CPU with one small frame per read.
const CLIENT_READ_BUFFER: usize = 4 * 1024;

/// Latency samples a client buffers before adding them to the shared histogram.
const FLUSH_SAMPLES: usize = 256;

/// The way one client opens its socket.
#[derive(Clone, Debug)]
pub enum Connect {
    /// Call `rtm.connect` at `api_base` with the token, then open the returned URL.
    Rtm {
        /// Such as `http://127.0.0.1:8080`.
        api_base: String,
        /// The user's API token.
        token: String,
    },
    /// Open this WebSocket URL directly.
    Direct {
        /// Such as `ws://127.0.0.1:9000/ws?channel=0`.
        url: String,
    },
}

/// The destination of posts to one channel.
#[derive(Clone, Debug)]
pub struct PostTarget {
    /// URL the JSON body is POSTed to.
    pub url: String,
    /// Bearer token, when the server needs one.
    pub token: Option<String>,
    /// Value of the body's `channel` field.
    pub channel_id: String,
    /// Connected clients that receive each post to this channel.
    pub members: u64,
}

/// One measured phase.
#[derive(Clone, Debug)]
pub struct Phase {
    /// Name in the results, such as `max` or `rate`.
    pub name: String,
    /// Posts per second across all channels. `None` posts as fast as the
    /// server accepts, from `posters` tasks that each wait for a response
    /// before the next post.
    pub rate: Option<f64>,
    /// Posting tasks when `rate` is `None`.
    pub posters: usize,
    /// How long posts are sent.
    pub duration: Duration,
}

/// Post-to-delivery latency of one phase, in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Deliveries measured.
    pub samples: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Maximum.
    pub max_us: u64,
}

/// Result of one phase.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseResult {
    /// Name of the phase.
    pub name: String,
    /// Requested posts per second; `None` for as fast as accepted.
    pub target_rate: Option<f64>,
    /// Posting tasks of an as-fast-as-accepted phase.
    pub posters: Option<usize>,
    /// Seconds posts were sent for.
    pub post_seconds: f64,
    /// Posts the server accepted (`"ok":true`).
    pub posts: u64,
    /// Posts rejected, failed or timed out.
    pub failed_posts: u64,
    /// The first failure, for diagnosis.
    pub first_error: Option<String>,
    /// Accepted posts per second of posting.
    pub achieved_rate: f64,
    /// Deliveries expected: each accepted post times its channel's members.
    pub expected: u64,
    /// Marked messages the clients received.
    pub delivered: u64,
    /// Seconds from the first post to the last delivery.
    pub delivery_seconds: f64,
    /// Deliveries per second over `delivery_seconds`.
    pub deliveries_per_sec: f64,
    /// Post-to-delivery latency, from the moment the post is sent.
    pub latency: Option<Latency>,
}

impl PhaseResult {
    /// Returns whether every post was accepted and reached every member.
    pub fn complete(&self) -> bool {
        self.posts > 0 && self.failed_posts == 0 && self.delivered == self.expected
    }
}

/// State the client tasks share with the harness.
struct Shared {
    /// Frames of any kind received.
    frames: AtomicU64,
    /// Marked messages received, per phase.
    delivered: [AtomicU64; MAX_PHASES],
    /// Latencies in microseconds, per phase.
    histograms: Vec<Mutex<Histogram<u64>>>,
    /// Sockets the server closed or that failed while running.
    closed_by_server: AtomicU64,
    /// Clients that finished connecting.
    connected: AtomicU64,
    /// Clients that failed to connect.
    connect_failed: AtomicU64,
    /// The first connect failure.
    connect_error: Mutex<Option<String>>,
}

/// A set of connected clients.
pub struct Clients {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// Seconds it took to connect them all.
    pub connect_seconds: f64,
}

/// Connects every client and waits for each one's `hello`.
pub async fn connect(
    clients: Vec<Connect>,
    http: &reqwest::Client,
    progress: &Progress,
    label: &str,
) -> anyhow::Result<Clients> {
    let histograms = (0..MAX_PHASES)
        .map(|_| {
            Histogram::new_with_bounds(1, 120_000_000, 3)
                .map(Mutex::new)
                .map_err(|error| anyhow!("creating a latency histogram failed: {error}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let shared = Arc::new(Shared {
        frames: AtomicU64::new(0),
        delivered: Default::default(),
        histograms,
        closed_by_server: AtomicU64::new(0),
        connected: AtomicU64::new(0),
        connect_failed: AtomicU64::new(0),
        connect_error: Mutex::new(None),
    });
    let (stop, stopped) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let total = clients.len() as u64;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for connect in clients {
        let shared = shared.clone();
        let permits = permits.clone();
        let http = http.clone();
        let stopped = stopped.clone();
        tasks.spawn(async move {
            let permit = permits
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            let opened = tokio::time::timeout(CONNECT_TIMEOUT, open(&connect, &http)).await;
            drop(permit);
            let socket = match opened {
                Ok(Ok(socket)) => socket,
                Ok(Err(error)) => return connect_failed(&shared, format!("{error:#}")),
                Err(_) => {
                    return connect_failed(&shared, format!("timed out after {CONNECT_TIMEOUT:?}"))
                }
            };
            shared.connected.fetch_add(1, Ordering::Relaxed);
            receive(socket, shared, stopped).await;
        });
    }

    let deadline = started + CONNECT_ALL_TIMEOUT;
    loop {
        let connected = shared.connected.load(Ordering::Relaxed);
        let failed = shared.connect_failed.load(Ordering::Relaxed);
        progress.set(format!("{label}: connected {connected}/{total}"));
        if failed > 0 {
            let _ = stop.send(true);
            let error = shared.connect_error.lock().expect("lock poisoned").clone();
            bail!(
                "{failed} of {total} clients failed to connect; first error: {}",
                error.unwrap_or_default()
            );
        }
        if connected == total {
            break;
        }
        if Instant::now() >= deadline {
            let _ = stop.send(true);
            bail!("only {connected} of {total} clients connected within {CONNECT_ALL_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Clients {
        shared,
        stop,
        tasks,
        connect_seconds: started.elapsed().as_secs_f64(),
    })
}

fn connect_failed(shared: &Shared, error: String) {
    shared.connect_failed.fetch_add(1, Ordering::Relaxed);
    let mut first = shared.connect_error.lock().expect("lock poisoned");
    first.get_or_insert(error);
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens one client's socket and reads its first frame, which must be `hello`.
async fn open(connect: &Connect, http: &reqwest::Client) -> anyhow::Result<Socket> {
    let url = match connect {
        Connect::Direct { url } => url.clone(),
        Connect::Rtm { api_base, token } => {
            let body: serde_json::Value = http
                .post(format!("{api_base}/api/rtm.connect"))
                .bearer_auth(token)
                .send()
                .await
                .context("rtm.connect request failed")?
                .json()
                .await
                .context("rtm.connect returned invalid JSON")?;
            if body["ok"] != true {
                bail!("rtm.connect failed: {}", body["error"]);
            }
            body["url"]
                .as_str()
                .ok_or_else(|| anyhow!("rtm.connect returned no url"))?
                .to_owned()
        }
    };
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_READ_BUFFER);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
            .await
            .with_context(|| {
                format!(
                    "opening the WebSocket failed (ticket URL redacted, host {})",
                    host_of(&url)
                )
            })?;
    match socket.next().await {
        Some(Ok(Message::Text(text))) if text.contains(r#""hello""#) => Ok(socket),
        Some(Ok(other)) => bail!("expected hello as the first frame, received {other:?}"),
        Some(Err(error)) => Err(error).context("reading the first frame failed"),
        None => bail!("the server closed the socket before hello"),
    }
}

/// Returns the `host:port` part of a URL, so errors do not print tickets.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

/// Reads frames until `stop` is set or the socket ends, recording the latency
/// of every marked message.
async fn receive(mut socket: Socket, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut pending: Vec<(usize, u64)> = Vec::with_capacity(FLUSH_SAMPLES);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    shared.frames.fetch_add(1, Ordering::Relaxed);
                    let Some(marker) = Marker::find(text.as_bytes()) else { continue };
                    if marker.run >= MAX_PHASES {
                        continue;
                    }
                    let latency = now_micros().saturating_sub(marker.sent_micros);
                    shared.delivered[marker.run].fetch_add(1, Ordering::Relaxed);
                    pending.push((marker.run, latency));
                    if pending.len() >= FLUSH_SAMPLES {
                        flush(&shared, &mut pending);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                    shared.closed_by_server.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Some(Ok(_)) => {}
            },
        }
    }
    flush(&shared, &mut pending);
}

fn flush(shared: &Shared, pending: &mut Vec<(usize, u64)>) {
    for phase in 0..MAX_PHASES {
        if !pending.iter().any(|(run, _)| *run == phase) {
            continue;
        }
        let mut histogram = shared.histograms[phase]
            .lock()
            .expect("histogram lock poisoned");
        for (_, latency) in pending.iter().filter(|(run, _)| *run == phase) {
            histogram.saturating_record(*latency);
        }
    }
    pending.clear();
}

impl Clients {
    /// Waits until no frame has arrived for 300 ms (or 30 s have passed), so
    /// that connect-time events such as `presence_change` are not measured.
    pub async fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = self.shared.frames.load(Ordering::Relaxed);
        let mut last_change = Instant::now();
        while Instant::now() < deadline && last_change.elapsed() < Duration::from_millis(300) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = self.shared.frames.load(Ordering::Relaxed);
            if now != last {
                last = now;
                last_change = Instant::now();
            }
        }
    }

    /// Returns the number of sockets the server closed so far.
    pub fn closed_by_server(&self) -> u64 {
        self.shared.closed_by_server.load(Ordering::Relaxed)
    }

    /// Runs phase number `index` (below [`MAX_PHASES`]) and waits for its
    /// deliveries. Latency is filled in by [`Clients::finish`].
    pub async fn run_phase(
        &self,
        index: usize,
        phase: &Phase,
        targets: &Arc<Vec<PostTarget>>,
        http: &reqwest::Client,
        progress: &Progress,
        label: &str,
    ) -> anyhow::Result<PhaseResult> {
        if index >= MAX_PHASES {
            bail!("phase index {index} is out of range: at most {MAX_PHASES} phases");
        }
        let counts = Arc::new(PostCounts::new(targets.len()));
        let delivered = &self.shared.delivered[index];
        let started = Instant::now();
        let deadline = started + phase.duration;

        let ticker = {
            let counts = counts.clone();
            let progress = progress.clone();
            let shared = self.shared.clone();
            let label = format!("{label} {}", phase.name);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    progress.set(format!(
                        "{label}: {} posts, {} deliveries",
                        counts.accepted(),
                        shared.delivered[index].load(Ordering::Relaxed)
                    ));
                }
            })
        };
        match phase.rate {
            None => post_closed_loop(index, phase.posters, deadline, targets, http, &counts).await,
            Some(rate) => {
                post_at_rate(index, rate, started, deadline, targets, http, &counts).await
            }
        }
        let post_seconds = started.elapsed().as_secs_f64();

        let expected: u64 = targets
            .iter()
            .zip(counts.per_target.iter())
            .map(|(target, accepted)| target.members * accepted.load(Ordering::Relaxed))
            .sum();
        let last_delivery = wait_for_deliveries(delivered, expected).await;
        ticker.abort();

        let delivered = delivered.load(Ordering::Relaxed);
        let delivery_seconds = last_delivery.duration_since(started).as_secs_f64();
        let posts = counts.accepted();
        let first_error = counts.first_error.lock().expect("lock poisoned").clone();
        Ok(PhaseResult {
            name: phase.name.clone(),
            target_rate: phase.rate,
            posters: phase.rate.is_none().then_some(phase.posters),
            post_seconds,
            posts,
            failed_posts: counts.failed.load(Ordering::Relaxed),
            first_error,
            achieved_rate: posts as f64 / phase.duration.as_secs_f64(),
            expected,
            delivered,
            delivery_seconds,
            deliveries_per_sec: delivered as f64 / delivery_seconds.max(1e-9),
            latency: None,
        })
    }

    /// Stops the clients and fills in each phase's latency.
    pub async fn finish(mut self, results: &mut [PhaseResult]) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::sleep(Duration::from_secs(15));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = self.tasks.join_next() => if joined.is_none() { break },
                _ = &mut deadline => {
                    tracing::warn!(remaining = self.tasks.len(), "clients did not stop in time; aborting them");
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        for (index, result) in results.iter_mut().enumerate().take(MAX_PHASES) {
            let histogram = self.shared.histograms[index]
                .lock()
                .expect("histogram lock poisoned");
            if histogram.is_empty() {
                continue;
            }
            result.latency = Some(Latency {
                samples: histogram.len(),
                p50_us: histogram.value_at_quantile(0.50),
                p99_us: histogram.value_at_quantile(0.99),
                p999_us: histogram.value_at_quantile(0.999),
                max_us: histogram.max(),
            });
        }
    }
}

/// Waits until `delivered` reaches `expected`, until no delivery has arrived
/// for [`DRAIN_IDLE`], or for at most [`DRAIN_TIMEOUT`]. Returns when the last
/// delivery was seen.
async fn wait_for_deliveries(delivered: &AtomicU64, expected: u64) -> Instant {
    let started = Instant::now();
    let mut last = delivered.load(Ordering::Relaxed);
    let mut last_change = Instant::now();
    loop {
        if last >= expected {
            return last_change.max(Instant::now());
        }
        if last_change.elapsed() >= DRAIN_IDLE || started.elapsed() >= DRAIN_TIMEOUT {
            return last_change;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        let now = delivered.load(Ordering::Relaxed);
        if now != last {
            last = now;
            last_change = Instant::now();
        }
    }
}

/// Accepted and failed posts of one phase.
struct PostCounts {
    per_target: Vec<AtomicU64>,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    next_seq: AtomicU64,
}

impl PostCounts {
    fn new(targets: usize) -> PostCounts {
        PostCounts {
            per_target: (0..targets).map(|_| AtomicU64::new(0)).collect(),
            failed: AtomicU64::new(0),
            first_error: Mutex::new(None),
            next_seq: AtomicU64::new(0),
        }
    }

    fn accepted(&self) -> u64 {
        self.per_target
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .sum()
    }

    fn record(&self, target: usize, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.per_target[target].fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                if self.failed.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(%error, "post failed; later failures are only counted");
                }
                let mut first = self.first_error.lock().expect("lock poisoned");
                first.get_or_insert(error);
            }
        }
    }
}

/// Sends one marked post and returns whether the server accepted it.
async fn post(
    http: &reqwest::Client,
    target: &PostTarget,
    run: usize,
    seq: u64,
) -> Result<(), String> {
    let marker = Marker {
        run,
        seq,
        sent_micros: now_micros(),
    };
    let body =
        serde_json::json!({ "channel": target.channel_id, "text": marker.text() }).to_string();
    let mut request = http
        .post(&target.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/json; charset=utf-8",
        )
        .body(body)
        .timeout(POST_TIMEOUT);
    if let Some(token) = &target.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|error| format!("post request failed: {error}"))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| format!("reading the post response failed: {error}"))?;
    if memchr::memmem::find(&bytes, br#""ok":true"#).is_some() {
        Ok(())
    } else {
        Err(format!(
            "post rejected with {status}: {}",
            String::from_utf8_lossy(&bytes)
        ))
    }
}

/// Posts from `posters` tasks, each waiting for its response, until `deadline`.
/// Poster i posts to channels i, i + posters, ... in turn.
async fn post_closed_loop(
    run: usize,
    posters: usize,
    deadline: Instant,
    targets: &Arc<Vec<PostTarget>>,
    http: &reqwest::Client,
    counts: &Arc<PostCounts>,
) {
    let mut tasks = JoinSet::new();
    for poster in 0..posters {
        let targets = targets.clone();
        let http = http.clone();
        let counts = counts.clone();
        tasks.spawn(async move {
            let mut next = poster;
            while Instant::now() < deadline {
                let target = next % targets.len();
                let seq = counts.next_seq.fetch_add(1, Ordering::Relaxed);
                let outcome = post(&http, &targets[target], run, seq).await;
                counts.record(target, outcome);
                next += posters;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Posts `rate` times per second in total, round robin over the channels,
/// until `deadline`, with at most [`MAX_IN_FLIGHT`] posts waiting.
async fn post_at_rate(
    run: usize,
    rate: f64,
    started: Instant,
    deadline: Instant,
    targets: &Arc<Vec<PostTarget>>,
    http: &reqwest::Client,
    counts: &Arc<PostCounts>,
) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut sent: u64 = 0;
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    'schedule: loop {
        ticker.tick().await;
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let due = (rate * now.duration_since(started).as_secs_f64()) as u64;
        while sent < due {
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            if Instant::now() >= deadline {
                break 'schedule;
            }
            let target = (sent % targets.len() as u64) as usize;
            let targets = targets.clone();
            let http = http.clone();
            let counts = counts.clone();
            let seq = sent;
            tasks.spawn(async move {
                let outcome = post(&http, &targets[target], run, seq).await;
                counts.record(target, outcome);
                drop(permit);
            });
            sent += 1;
        }
        while tasks.try_join_next().is_some() {}
    }
    // Every post has its own timeout, so this ends within POST_TIMEOUT.
    while tasks.join_next().await.is_some() {}
}
