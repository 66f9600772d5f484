//! Shared parts of the job tests: a loopback HTTP receiver that plays the push
//! gateway and serves web pages for unfurls, and waiting helpers.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::{mpsc, Mutex};
use warp::Filter;

/// How long a test waits for a job's effect before failing.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A loopback HTTP server: `POST /push` records the JSON body and responds
/// with the configured status; `GET /page` serves HTML with `og:` tags;
/// `GET /redirect` redirects to `/page`.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Push bodies in arrival order.
    pushes: Mutex<mpsc::UnboundedReceiver<Value>>,
    /// HTTP status of the `/push` responses.
    push_status: Arc<AtomicU16>,
}

/// The page served at `/page`.
pub const PAGE_HTML: &str = r#"<!doctype html><html><head>
<title>Fallback title</title>
<meta property="og:title" content="Switchboard test page">
<meta property="og:description" content="A page served on loopback">
<meta property="og:site_name" content="Loopback">
</head><body>hello</body></html>"#;

impl Receiver {
    /// Starts the receiver on 127.0.0.1 with a random port.
    pub async fn start() -> Receiver {
        let (sender, pushes) = mpsc::unbounded_channel();
        let push_status = Arc::new(AtomicU16::new(200));
        let status = Arc::clone(&push_status);
        let push = warp::post()
            .and(warp::path("push"))
            .and(warp::body::json())
            .map(move |body: Value| {
                let _ = sender.send(body);
                let code = status.load(Ordering::SeqCst);
                warp::reply::with_status(
                    "",
                    warp::http::StatusCode::from_u16(code).expect("valid status"),
                )
            });
        let page = warp::get()
            .and(warp::path("page"))
            .map(|| warp::reply::html(PAGE_HTML));
        let redirect = warp::get()
            .and(warp::path("redirect"))
            .map(|| warp::redirect::found(warp::http::Uri::from_static("/page")));
        let routes = push.or(page).or(redirect);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(routes).incoming(listener).run());
        Receiver {
            addr,
            pushes: Mutex::new(pushes),
            push_status,
        }
    }

    /// Returns the push gateway URL.
    pub fn push_url(&self) -> String {
        format!("http://{}/push", self.addr)
    }

    /// Returns the URL of a path on the receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Sets the HTTP status of later `/push` responses.
    pub fn set_push_status(&self, status: u16) {
        self.push_status.store(status, Ordering::SeqCst);
    }

    /// Returns a push body that has already arrived, if any.
    pub async fn try_next_push(&self) -> Option<Value> {
        self.pushes.lock().await.try_recv().ok()
    }

    /// Returns the next push body; panics after [`JOB_TIMEOUT`].
    pub async fn next_push(&self) -> Value {
        let mut pushes = self.pushes.lock().await;
        tokio::time::timeout(JOB_TIMEOUT, pushes.recv())
            .await
            .expect("a push within the timeout")
            .expect("receiver open")
    }
}

/// Polls `check` until it returns `Some`; panics with `what` after
/// [`JOB_TIMEOUT`].
pub async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + JOB_TIMEOUT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Returns the Kafka queue URL for a test, with a topic prefix of its own so
/// tests sharing one broker do not read each other's jobs; `None` when
/// `SWITCHBOARD_TEST_KAFKA` (`host:port`) is unset.
pub fn kafka_queue_url(test: &str) -> Option<String> {
    let broker = std::env::var("SWITCHBOARD_TEST_KAFKA").ok()?;
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    Some(format!("kafka://{broker}/{test}-{unique}"))
}
