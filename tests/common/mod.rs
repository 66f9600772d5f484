//! A node served in process on a loopback port, with helpers to call its Web API
//! and to read events from its real-time socket.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use switchboard_engine::directory::{create_token, create_user, Bootstrap, NewUser};
use switchboard_engine::{Config, Engine};

/// How long a test waits for one event before failing.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A node serving on 127.0.0.1 with a random port.
pub struct TestNode {
    /// The running engine.
    pub engine: Arc<Engine>,
    /// Address the node listens on.
    pub addr: SocketAddr,
    /// Tokens of the demo workspace.
    pub bootstrap: Bootstrap,
    /// Stops the server when sent.
    shutdown: Option<oneshot::Sender<()>>,
    /// The serving task; ends after the engine stopped.
    server: Option<JoinHandle<()>>,
}

impl TestNode {
    /// Starts a node on `data_dir`, creating the demo workspace when it is empty.
    pub async fn start(data_dir: &Path) -> TestNode {
        TestNode::start_with(data_dir, |_| {}).await
    }

    /// Starts a node like [`TestNode::start`] with settings changed by `adjust`.
    pub async fn start_with(data_dir: &Path, adjust: impl FnOnce(&mut Config)) -> TestNode {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: data_dir.to_owned(),
            shutdown_timeout_secs: 5,
            ..Config::default()
        };
        adjust(&mut config);
        let engine = Arc::new(Engine::start(config).await.expect("engine starts"));
        let listener = engine.bind().await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let api_url = format!("http://{addr}/api/");
        let bootstrap = match engine.bootstrap(&api_url).await.expect("bootstrap") {
            Some(bootstrap) => bootstrap,
            None => {
                let text = std::fs::read_to_string(data_dir.join("bootstrap.json")).unwrap();
                serde_json::from_str(&text).unwrap()
            }
        };
        let (shutdown, signal) = oneshot::channel();
        let serving = engine.clone();
        let server = tokio::spawn(async move {
            serving
                .serve(listener, async {
                    let _ = signal.await;
                })
                .await;
        });
        TestNode {
            engine,
            addr,
            bootstrap,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Stops the node and waits until the storage actor has committed everything.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(20), server)
                .await
                .expect("node stops in time")
                .expect("server task");
        }
    }

    /// Creates a user in the demo team and returns (user id, token).
    pub async fn create_user(&self, name: &str) -> (String, String) {
        let store = self.engine.hub().store().clone();
        let team = &self.bootstrap.team_id;
        let user = create_user(
            store.as_ref(),
            team,
            NewUser {
                name: name.into(),
                ..NewUser::default()
            },
        )
        .await
        .expect("create user");
        let token = create_token(store.as_ref(), team, &user.id)
            .await
            .expect("create token");
        (user.id.to_string(), token)
    }

    /// Calls a method with a JSON body and a bearer token; returns the body.
    pub async fn call(&self, method: &str, token: &str, args: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("http://{}/api/{method}", self.addr))
            .bearer_auth(token)
            .json(&args)
            .send()
            .await
            .expect("request sent");
        response.json().await.expect("JSON body")
    }

    /// Calls a method and asserts `ok: true`.
    pub async fn call_ok(&self, method: &str, token: &str, args: Value) -> Value {
        let body = self.call(method, token, args).await;
        assert_eq!(body["ok"], true, "{method} failed: {body}");
        body
    }

    /// Opens a real-time socket through `rtm.connect` and waits for `hello`.
    pub async fn connect(&self, token: &str) -> Socket {
        let body = self.call_ok("rtm.connect", token, json!({})).await;
        let url = body["url"].as_str().expect("url").to_owned();
        let (stream, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("socket opens");
        let mut socket = Socket { stream };
        let hello = socket.next_event().await;
        assert_eq!(hello["type"], "hello", "first frame: {hello}");
        socket
    }
}

/// A client socket.
pub struct Socket {
    /// The WebSocket stream.
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Returns the next JSON frame; panics after [`EVENT_TIMEOUT`].
    pub async fn next_event(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(EVENT_TIMEOUT, self.stream.next())
                .await
                .expect("an event within the timeout")
                .expect("socket still open")
                .expect("socket read");
            if let Message::Text(text) = frame {
                return serde_json::from_str(text.as_str()).expect("JSON frame");
            }
        }
    }

    /// Returns the next frame matching `predicate`, skipping others.
    pub async fn next_matching(&mut self, predicate: impl Fn(&Value) -> bool) -> Value {
        loop {
            let event = self.next_event().await;
            if predicate(&event) {
                return event;
            }
        }
    }

    /// Returns the next `message` event without a subtype.
    pub async fn next_message(&mut self) -> Value {
        self.next_matching(|e| e["type"] == "message" && e.get("subtype").is_none())
            .await
    }

    /// Sends a JSON frame.
    pub async fn send(&mut self, frame: Value) {
        self.stream
            .send(Message::text(frame.to_string()))
            .await
            .expect("socket write");
    }
}
