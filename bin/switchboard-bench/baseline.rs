//! The bare broadcast server the `baseline` scenario measures against: tokio and
//! tokio-tungstenite only, with no actors, no store and no JSON parsing.
//!
//! One port serves both paths. `GET /ws?channel=K` upgrades to a WebSocket
//! that subscribes to channel K and first receives `{"type":"hello"}`.
//! `POST /post/K` (HTTP/1.1, keep-alive, `Content-Length` bodies only) queues
//! the body bytes, unchanged, on every subscriber of channel K and answers
//! `{"ok":true}`. Like Switchboard, each subscriber has a bounded queue
//! drained by a writer task, and a full queue disconnects the subscriber.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames queued per subscriber before it counts as a slow consumer; the same
/// as Switchboard's default `session_queue`.
const QUEUE: usize = 1024;

/// Read buffer per socket, in bytes. tungstenite's default of 128 KiB would
/// dominate the memory per idle connection, and subscribers send almost nothing.
const READ_BUFFER: usize = 4 * 1024;

/// Largest accepted post body, in bytes.
const MAX_BODY: usize = 1024 * 1024;

/// Subscribers' queues by channel number.
type Subscribers = Arc<Mutex<HashMap<u32, Vec<mpsc::Sender<Bytes>>>>>;

/// Serves until the process is killed.
pub async fn serve(address: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the baseline server to {address} failed"))?;
    let subscribers: Subscribers = Arc::default();
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("baseline: accept failed: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(handle_connection(stream, subscribers.clone()));
    }
}

async fn handle_connection(stream: TcpStream, subscribers: Subscribers) {
    let mut start = [0u8; 4];
    let is_get = matches!(stream.peek(&mut start).await, Ok(4) if &start == b"GET ");
    if is_get {
        serve_socket(stream, subscribers).await;
    } else {
        serve_posts(stream, subscribers).await;
    }
}

/// Returns the channel number of `/ws?channel=K` or `/post/K`.
fn channel_of(path: &str) -> Option<u32> {
    if let Some(number) = path.strip_prefix("/post/") {
        return number.parse().ok();
    }
    let query = path.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("channel="))
        .and_then(|number| number.parse().ok())
}

// The handshake callback's error type is tungstenite's, which is large.
#[allow(clippy::result_large_err)]
async fn serve_socket(stream: TcpStream, subscribers: Subscribers) {
    let mut channel = None;
    let callback = |request: &Request, response: Response| {
        channel = channel_of(&request.uri().to_string());
        Ok(response)
    };
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let Ok(socket) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
    else {
        return;
    };
    let Some(channel) = channel else {
        return;
    };
    let (sender, mut queue) = mpsc::channel::<Bytes>(QUEUE);
    let _ = sender.try_send(Bytes::from_static(br#"{"type":"hello"}"#));
    subscribers
        .lock()
        .expect("subscriber lock poisoned")
        .entry(channel)
        .or_default()
        .push(sender);

    let (mut sink, mut stream) = socket.split();
    let writer = async move {
        while let Some(frame) = queue.recv().await {
            if sink.feed(text_frame(frame)).await.is_err() {
                return;
            }
            while let Ok(frame) = queue.try_recv() {
                if sink.feed(text_frame(frame)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    };
    let reader = async move {
        while let Some(Ok(frame)) = stream.next().await {
            if frame.is_close() {
                break;
            }
        }
    };
    // Either side ending ends the connection; the queue's sender is dropped
    // from the map on the next post that finds it closed.
    tokio::select! {
        _ = writer => {}
        _ = reader => {}
    }
}

fn text_frame(frame: Bytes) -> Message {
    match Utf8Bytes::try_from(frame) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Text(Utf8Bytes::from_static("{}")),
    }
}

/// Reads posts from one keep-alive connection and broadcasts each body.
async fn serve_posts(stream: TcpStream, subscribers: Subscribers) {
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    loop {
        // Request line.
        line.clear();
        match reader.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();

        // Headers: only Content-Length matters.
        let mut length = 0usize;
        loop {
            line.clear();
            match reader.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        if length > MAX_BODY {
            let _ = write_half
                .write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            return;
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }

        let response: &[u8] = match channel_of(&path) {
            Some(channel) => {
                broadcast(&subscribers, channel, Bytes::from(body));
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}"
            }
            None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        };
        if write_half.write_all(response).await.is_err() {
            return;
        }
    }
}

/// Queues `frame` on every subscriber of `channel`, dropping the ones whose
/// queue is full or closed.
fn broadcast(subscribers: &Subscribers, channel: u32, frame: Bytes) {
    let mut map = subscribers.lock().expect("subscriber lock poisoned");
    if let Some(queues) = map.get_mut(&channel) {
        queues.retain(|queue| queue.try_send(frame.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_from_path() {
        assert_eq!(channel_of("/post/3"), Some(3));
        assert_eq!(channel_of("/ws?channel=7"), Some(7));
        assert_eq!(channel_of("/ws?x=1&channel=2"), Some(2));
        assert_eq!(channel_of("/ws"), None);
        assert_eq!(channel_of("/post/x"), None);
    }
}
