//! The real-time socket: `GET /rtm?ticket=…` upgrades to a WebSocket. A writer
//! task drains the session's bounded queue into the socket; the reader loop
//! hands the client's frames to the session actor, in order.

use futures_util::{SinkExt, StreamExt};
use ractor::ActorRef;
use warp::ws::{Message as WsMessage, WebSocket};

use switchboard_actors::hub::ask;
use switchboard_actors::session::SessionMsg;
use switchboard_actors::session_handle::{CloseReason, SessionOutbound};
use switchboard_actors::team::TeamMsg;
use switchboard_actors::Hub;

use crate::api::rtm::Ticket;

/// Largest frame a client may send, in bytes; a message frame carries at most
/// 40,000 characters of text plus its envelope.
pub const MAX_CLIENT_FRAME: usize = 256 * 1024;

/// Serves one upgraded socket until either side closes it.
pub async fn serve_socket(hub: Hub, ticket: Ticket, socket: WebSocket) {
    let team = match hub.team(&ticket.team_id).await {
        Ok(team) => team,
        Err(error) => {
            tracing::error!(team = %ticket.team_id, %error, "socket rejected: team unavailable");
            let _ = close_with(socket, CloseReason::InternalError).await;
            return;
        }
    };
    let opened = ask(&team, |reply| TeamMsg::OpenSession {
        user_id: ticket.user_id.clone(),
        bot_id: ticket.bot_id.clone(),
        reply,
    })
    .await
    .and_then(|result| result);
    let opened = match opened {
        Ok(opened) => opened,
        Err(error) => {
            tracing::error!(user = %ticket.user_id, %error, "socket rejected: session did not open");
            let _ = close_with(socket, CloseReason::InternalError).await;
            return;
        }
    };

    if ticket.push_profiles {
        // NOTE: an event delivered between `hello` and this line carries no
        // pushed profile; the channel subscriptions are already in place.
        opened.handle.profiles.enable([ticket.user_id.clone()]);
    }

    let (sink, mut stream) = socket.split();
    let session_id = opened.handle.id;
    let closed = opened.outbound.closed.clone();
    let writer = tokio::spawn(write_frames(sink, opened.outbound));

    // Reader: every text frame goes to the session actor; the loop ends when the
    // client closes, the socket errors, or the node ends the session.
    loop {
        tokio::select! {
            _ = closed.cancelled() => break,
            frame = stream.next() => match frame {
                Some(Ok(frame)) if frame.is_text() => {
                    let text = frame.to_str().unwrap_or_default().to_owned();
                    if opened.actor.send_message(SessionMsg::Frame(text)).is_err() {
                        break;
                    }
                }
                Some(Ok(frame)) if frame.is_close() => break,
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(session = session_id, %error, "socket read failed");
                    break;
                }
                None => break,
            },
        }
    }

    end_session(&opened.actor, &opened.handle);
    if let Err(error) = writer.await {
        tracing::error!(session = session_id, %error, "socket writer task failed");
    }
}

/// Stops the session actor, so the team actor removes the session.
fn end_session(
    actor: &ActorRef<SessionMsg>,
    handle: &switchboard_actors::session_handle::SessionHandle,
) {
    handle.close(CloseReason::ClientClosed);
    actor.stop(None);
}

/// Writes queued frames until the session ends, then sends a close frame with
/// the reason. Frames already queued are written in one flush.
async fn write_frames(
    mut sink: futures_util::stream::SplitSink<WebSocket, WsMessage>,
    mut outbound: SessionOutbound,
) {
    loop {
        tokio::select! {
            _ = outbound.closed.cancelled() => break,
            frame = outbound.frames.recv() => {
                let Some(frame) = frame else { break };
                // NOTE: warp's text frames take a String, so each recipient costs
                // one copy of the encoded event here.
                if sink.feed(text_frame(&frame)).await.is_err() {
                    return;
                }
                while let Ok(frame) = outbound.frames.try_recv() {
                    if sink.feed(text_frame(&frame)).await.is_err() {
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
            if sink.feed(text_frame(&frame)).await.is_err() {
                return;
            }
        }
    }
    let _ = sink
        .send(WsMessage::close_with(reason.code(), reason.text()))
        .await;
    let _ = sink.close().await;
}

fn text_frame(frame: &[u8]) -> WsMessage {
    WsMessage::text(String::from_utf8_lossy(frame).into_owned())
}

async fn close_with(mut socket: WebSocket, reason: CloseReason) -> Result<(), warp::Error> {
    socket
        .send(WsMessage::close_with(reason.code(), reason.text()))
        .await?;
    socket.close().await
}
