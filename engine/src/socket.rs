//! The real-time socket: `GET /rtm?ticket=…` upgrades to a WebSocket
//! (`upgrade`). A writer task drains the session's bounded queue into the
//! socket (`writer`), and the reader loop hands the client's frames to the
//! session actor, in order.

mod upgrade;
mod writer;

use futures_util::{SinkExt, StreamExt};
use ractor::ActorRef;
use tokio_tungstenite::tungstenite::Message;

use switchboard_actors::hub::ask;
use switchboard_actors::session::SessionMsg;
use switchboard_actors::session_handle::CloseReason;
use switchboard_actors::team::TeamMsg;
use switchboard_actors::Hub;

use crate::api::rtm::Ticket;

pub use upgrade::{accept, socket_config, Socket, READ_BUFFER, WRITE_BUFFER};

/// Largest frame a client may send, in bytes; a message frame carries at most
/// 40,000 characters of text plus its envelope.
pub const MAX_CLIENT_FRAME: usize = 256 * 1024;

/// Serves one upgraded socket until either side closes it.
pub async fn serve_socket(hub: Hub, ticket: Ticket, socket: Socket) {
    let team = match hub.team(&ticket.team_id).await {
        Ok(team) => team,
        Err(error) => {
            tracing::error!(team = %ticket.team_id, %error, "socket rejected: team unavailable");
            close_with(socket, CloseReason::InternalError).await;
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
            close_with(socket, CloseReason::InternalError).await;
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
    let writer = tokio::spawn(writer::write_frames(sink, opened.outbound, session_id));

    // Reader: every text frame goes to the session actor; the loop ends when the
    // client closes, the socket errors, or the node ends the session. tungstenite
    // replies to WebSocket pings while it reads.
    let cancelled = closed.cancelled();
    tokio::pin!(cancelled);
    loop {
        tokio::select! {
            _ = &mut cancelled => break,
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let text = text.as_str().to_owned();
                    if opened.actor.send_message(SessionMsg::Frame(text)).is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Close(_))) => break,
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

/// Sends a close frame with the reason and closes a socket that never got a
/// session.
async fn close_with(mut socket: Socket, reason: CloseReason) {
    if let Err(error) = socket.send(writer::close_frame(reason)).await {
        tracing::debug!(%error, "sending the close frame failed");
        return;
    }
    let _ = socket.close(None).await;
}
