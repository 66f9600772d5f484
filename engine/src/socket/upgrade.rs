//! The HTTP upgrade of `GET /rtm` to a WebSocket. The node answers the upgrade
//! itself instead of through warp's `Ws::on_upgrade`, because warp 0.4.3 does
//! not expose tungstenite's read and write buffer sizes, and the default read
//! buffer (128 KiB in tungstenite 0.29) was most of a connection's memory.

use std::future::Future;

use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use warp::http::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, UPGRADE};
use warp::http::{HeaderValue, StatusCode};
use warp::hyper::upgrade::{OnUpgrade, Upgraded};
use warp::reply::Response;

use super::MAX_CLIENT_FRAME;

/// An upgraded `/rtm` connection.
pub type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Capacity of each connection's read buffer, in bytes. Client frames are
/// small (pings, typing, messages of at most 40,000 characters), and a larger
/// frame takes several reads instead of a larger buffer. tungstenite fills the
/// free part of this buffer with zeros before every read, so a large buffer
/// also costs CPU per read.
pub const READ_BUFFER: usize = 4 * 1024;

/// Encoded frames gathered before tungstenite writes them to the socket, in
/// bytes; a flush writes whatever is gathered. The buffer keeps the capacity it
/// grew to, so this also bounds what an idle connection holds for writing
/// (plus one frame).
pub const WRITE_BUFFER: usize = 4 * 1024;

/// Returns the WebSocket settings of every `/rtm` connection.
pub fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(MAX_CLIENT_FRAME))
}

/// Answers a validated upgrade request with `101 Switching Protocols` and
/// spawns `serve` on the socket once hyper hands the connection over. `key` is
/// the request's `Sec-WebSocket-Key`.
pub fn accept<F, Fut>(key: &HeaderValue, on_upgrade: OnUpgrade, serve: F) -> Response
where
    F: FnOnce(Socket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let socket =
                    WebSocketStream::from_raw_socket(io, Role::Server, Some(socket_config())).await;
                serve(socket).await;
            }
            Err(error) => tracing::debug!(%error, "socket upgrade failed"),
        }
    });

    let mut response = Response::default();
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    let accept_key = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .expect("a base64 text is a valid header value");
    headers.insert(SEC_WEBSOCKET_ACCEPT, accept_key);
    response
}
