//! The socket writer: drains a session's outbound queue into its socket.

use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Utf8Bytes};
use tokio_tungstenite::tungstenite::Message;

use switchboard_actors::ids::SessionId;
use switchboard_actors::session_handle::{CloseReason, SessionOutbound};

use super::upgrade::Socket;

/// Maximum frames taken from the queue per wake. The batch vector keeps this
/// capacity while the session lives (32 bytes per frame).
const BATCH: usize = 16;

/// Writes queued frames until the session ends, then sends a close frame with
/// the reason. Every frame already queued when the task wakes, up to [`BATCH`],
/// is written before one flush, so a burst costs one wake and few writes.
pub(super) async fn write_frames(
    mut sink: SplitSink<Socket, Message>,
    mut outbound: SessionOutbound,
    session_id: SessionId,
) {
    let closed = outbound.closed.clone();
    // Pinned once: a new `cancelled()` future per wake would register and
    // unregister a waiter on the token each time.
    let cancelled = closed.cancelled();
    tokio::pin!(cancelled);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            _ = &mut cancelled => break,
            received = outbound.frames.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    break;
                }
                for frame in batch.drain(..) {
                    if sink.feed(text_frame(frame, session_id)).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        }
    }
    let reason = outbound.close_reason().unwrap_or(CloseReason::ClientClosed);
    if reason == CloseReason::Shutdown {
        // Deliver what is already queued before the close frame.
        while let Ok(frame) = outbound.frames.try_recv() {
            if sink.feed(text_frame(frame, session_id)).await.is_err() {
                return;
            }
        }
    }
    let _ = sink.send(close_frame(reason)).await;
    let _ = sink.close().await;
}

/// Wraps an encoded event in a text frame without copying it: the frame
/// shares the event's buffer with every other recipient.
fn text_frame(frame: Bytes, session_id: SessionId) -> Message {
    // The check keeps the shared bytes: no copy for a valid frame.
    match Utf8Bytes::try_from(frame.clone()) {
        Ok(text) => Message::Text(text),
        Err(error) => {
            // Events are encoded by serde_json, so this is a bug in an encoder.
            tracing::error!(session = session_id, %error, "queued frame is not UTF-8; sending it with replacement characters");
            let text = String::from_utf8_lossy(&frame).into_owned();
            Message::Text(Utf8Bytes::from(text))
        }
    }
}

/// Returns the close frame that tells the client why the node ended the socket.
pub(super) fn close_frame(reason: CloseReason) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(reason.code()),
        reason: Utf8Bytes::from_static(reason.text()),
    }))
}
