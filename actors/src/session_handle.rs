//! The sending side of a session's bounded outbound queue, shared by every actor
//! that delivers events to that session.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

use crate::ids::{SessionId, TeamId, UserId};
use crate::profile_push::ProfilesSent;

/// Why the node ended a session; sent to the client in the close frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The client did not read its events fast enough and the queue filled up.
    SlowConsumer,
    /// The node is shutting down.
    Shutdown,
    /// The session's actor failed; the client should reconnect.
    InternalError,
    /// The client closed the socket.
    ClientClosed,
    /// The user was deactivated.
    AccountInactive,
    /// An admin ended the user's sessions (`admin.users.session.reset`).
    SessionReset,
}

impl CloseReason {
    /// Returns the WebSocket close code: 1008 (policy) for a slow consumer, a
    /// deactivated account or a session reset, 1001
    /// (going away) for shutdown, 1011 (internal error) for a failure.
    pub fn code(self) -> u16 {
        match self {
            CloseReason::SlowConsumer => 1008,
            CloseReason::Shutdown => 1001,
            CloseReason::InternalError => 1011,
            CloseReason::ClientClosed => 1000,
            CloseReason::AccountInactive | CloseReason::SessionReset => 1008,
        }
    }

    /// Returns the text sent in the close frame.
    pub fn text(self) -> &'static str {
        match self {
            CloseReason::SlowConsumer => "slow_consumer: outbound queue full",
            CloseReason::Shutdown => "server_shutdown",
            CloseReason::InternalError => "internal_error: reconnect",
            CloseReason::ClientClosed => "client closed",
            CloseReason::AccountInactive => "account_inactive",
            CloseReason::SessionReset => "session_reset",
        }
    }
}

/// A cheap, cloneable handle to one connected session. Delivering an event is a
/// non-blocking push of shared bytes into the session's bounded queue.
#[derive(Clone, Debug)]
pub struct SessionHandle {
    /// Node-local id of the session.
    pub id: SessionId,
    /// Team of the connected user.
    pub team_id: TeamId,
    /// The connected user.
    pub user_id: UserId,
    /// Sending side of the outbound queue.
    outbound: mpsc::Sender<Bytes>,
    /// Cancelled when the session must end; the socket writer watches it.
    closed: CancellationToken,
    /// The first reason given for ending the session.
    reason: Arc<OnceLock<CloseReason>>,
    /// Profiles the session has been sent, for the proactive push.
    pub profiles: Arc<ProfilesSent>,
}

/// The receiving side of a session's queue, owned by the socket writer (or by an
/// in-process consumer such as the benchmark).
#[derive(Debug)]
pub struct SessionOutbound {
    /// Frames to write, in delivery order.
    pub frames: mpsc::Receiver<Bytes>,
    /// Cancelled when the node ends the session.
    pub closed: CancellationToken,
    /// Why the node ended the session, once it has.
    reason: Arc<OnceLock<CloseReason>>,
}

impl SessionOutbound {
    /// Returns why the node ended the session, if it has.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }
}

/// Creates a session's handle and outbound queue of `capacity` frames.
pub fn session_channel(
    id: SessionId,
    team_id: TeamId,
    user_id: UserId,
    capacity: usize,
) -> (SessionHandle, SessionOutbound) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let closed = CancellationToken::new();
    let reason = Arc::new(OnceLock::new());
    let handle = SessionHandle {
        id,
        team_id,
        user_id,
        outbound: sender,
        closed: closed.clone(),
        reason: reason.clone(),
        profiles: Arc::default(),
    };
    let outbound = SessionOutbound {
        frames: receiver,
        closed,
        reason,
    };
    (handle, outbound)
}

impl SessionHandle {
    /// Queues one frame. Returns `false` when the session is gone or was just
    /// ended because its queue is full; the caller should then drop the handle.
    pub fn deliver(&self, frame: &Bytes) -> bool {
        // `close` sets the reason before it cancels the token, so a set reason
        // means the session ended. Reading it is one atomic load, where
        // `CancellationToken::is_cancelled` locks a mutex.
        if self.reason.get().is_some() {
            return false;
        }
        match self.outbound.try_send(frame.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    session = self.id,
                    user = %self.user_id,
                    "disconnecting slow consumer: outbound queue full"
                );
                self.close(CloseReason::SlowConsumer);
                false
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// Ends the session; the first reason given wins.
    pub fn close(&self, reason: CloseReason) {
        let _ = self.reason.set(reason);
        self.closed.cancel();
    }

    /// Returns whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled() || self.outbound.is_closed()
    }

    /// Returns whether the receiving side of the queue is gone, which happens
    /// shortly after the session ends.
    pub fn is_receiver_gone(&self) -> bool {
        self.outbound.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_closes_session() {
        let (handle, mut outbound) = session_channel(1, TeamId::from("T1"), UserId::from("U1"), 2);
        let frame = Bytes::from_static(b"{}");
        assert!(handle.deliver(&frame));
        assert!(handle.deliver(&frame));
        assert!(!handle.deliver(&frame));
        assert!(handle.is_closed());
        assert_eq!(outbound.close_reason(), Some(CloseReason::SlowConsumer));
        assert_eq!(outbound.frames.try_recv().unwrap(), frame);
    }

    #[test]
    fn first_close_reason_wins() {
        let (handle, outbound) = session_channel(1, TeamId::from("T1"), UserId::from("U1"), 2);
        handle.close(CloseReason::Shutdown);
        handle.close(CloseReason::SlowConsumer);
        assert_eq!(outbound.close_reason(), Some(CloseReason::Shutdown));
        assert!(!handle.deliver(&Bytes::from_static(b"{}")));
    }
}
