//! Batching of presence changes per session, without a message to the session
//! actor. Each session owns a [`PresenceInbox`]; the presence registry lists the
//! inboxes subscribed to each user, and a presence actor pushes a change into
//! every one of them. The first change of a window queues the inbox on the
//! node's [`PresenceBatcher`], whose task flushes each inbox when its window
//! ends: one `presence_change` per presence value, encoded once for that
//! session and queued on its outbound queue.
//!
//! So a change to a user with S subscribers costs S short mutex sections and
//! vector pushes, and each session costs at most one flush per window, instead
//! of S actor messages and a timer task per window.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::events;
use crate::ids::UserId;
use crate::session_handle::SessionHandle;

/// The changes one session gathered in its current window.
#[derive(Default)]
struct PendingChanges {
    /// Changes in arrival order: the user and `true` for `active`. A user may
    /// appear more than once; the latest entry wins at the flush.
    changes: Vec<(Arc<UserId>, bool)>,
    /// Whether the inbox is queued on the batcher for a flush.
    scheduled: bool,
}

/// The receiving end of one session's presence changes.
pub struct PresenceInbox {
    /// The session the batches are queued on.
    handle: SessionHandle,
    /// Changes of the current window. The flush delivers while holding this
    /// lock, so that once [`PresenceInbox::retain`] returns, no change of a
    /// dropped user can still reach the session.
    pending: Mutex<PendingChanges>,
    /// Set by a flush that found the session's queue without its receiver.
    /// It sits next to `pending`, which every push touches anyway, so the
    /// check costs no extra cache miss per subscriber.
    closed: AtomicBool,
}

impl PresenceInbox {
    /// Creates the inbox of a session.
    pub fn new(handle: SessionHandle) -> PresenceInbox {
        PresenceInbox {
            handle,
            pending: Mutex::new(PendingChanges::default()),
            closed: AtomicBool::new(false),
        }
    }

    /// Returns whether a flush found the session's queue without its
    /// receiver, so that the inbox can be dropped from the subscriptions. A
    /// session that closes normally unsubscribes itself; this catches a
    /// session actor that failed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Adds a change; returns `true` when it opened a window, so the caller must
    /// schedule a flush.
    fn push(&self, user: &Arc<UserId>, active: bool) -> bool {
        let mut pending = self.pending.lock().expect("presence inbox lock poisoned");
        pending.changes.push((user.clone(), active));
        !std::mem::replace(&mut pending.scheduled, true)
    }

    /// Drops the gathered changes of users for which `keep` returns `false`.
    pub fn retain(&self, mut keep: impl FnMut(&UserId) -> bool) {
        let mut pending = self.pending.lock().expect("presence inbox lock poisoned");
        pending.changes.retain(|(user, _)| keep(user));
    }

    /// Sends the gathered changes: one event for the users now active, one for
    /// those now away, each list sorted by user id.
    fn flush(&self) {
        let mut pending = self.pending.lock().expect("presence inbox lock poisoned");
        pending.scheduled = false;
        if self.handle.is_receiver_gone() {
            self.closed.store(true, Ordering::Relaxed);
        }
        let changes = &mut pending.changes;
        if changes.is_empty() {
            return;
        }
        // A stable sort by user after reversing puts each user's latest change
        // first in its run, and `dedup_by` keeps the first of a run.
        changes.reverse();
        changes.sort_by(|a, b| a.0.cmp(&b.0));
        changes.dedup_by(|later, earlier| later.0 == earlier.0);
        let active: Vec<&UserId> = changes
            .iter()
            .filter(|(_, active)| *active)
            .map(|(user, _)| &**user)
            .collect();
        let away: Vec<&UserId> = changes
            .iter()
            .filter(|(_, active)| !*active)
            .map(|(user, _)| &**user)
            .collect();
        deliver_presence(&self.handle, &active, &away);
        changes.clear();
    }
}

/// Queues up to two `presence_change` events on a session: one for `active`
/// users, one for `away` users. An empty list sends nothing.
pub fn deliver_presence(handle: &SessionHandle, active: &[&UserId], away: &[&UserId]) {
    if !active.is_empty() {
        handle.deliver(&events::presence_change(active, true));
    }
    if !away.is_empty() {
        handle.deliver(&events::presence_change(away, false));
    }
}

/// The node's queue of inboxes waiting for the end of their window, and the
/// task that flushes them.
pub struct PresenceBatcher {
    /// Length of the batching window; zero flushes each change at once.
    window: Duration,
    /// Inboxes with an open window and the instant it ends. Every window has
    /// the same length and the instant is taken under the lock, so the queue
    /// is in deadline order.
    due: Mutex<VecDeque<(Instant, Arc<PresenceInbox>)>>,
    /// Wakes the flush task when the queue stops being empty.
    wake: Notify,
    /// Ends the flush task.
    stop: CancellationToken,
}

impl PresenceBatcher {
    /// Creates a batcher with the given window. Its task starts with
    /// [`PresenceBatcher::run`].
    pub fn new(window: Duration) -> PresenceBatcher {
        PresenceBatcher {
            window,
            due: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Adds a change of `user` to a session's inbox, and queues the inbox for
    /// a flush when the change opens a window. With a zero window the inbox
    /// is flushed at once, on the caller's thread.
    pub fn push(&self, inbox: &Arc<PresenceInbox>, user: &Arc<UserId>, active: bool) {
        let opened = inbox.push(user, active);
        if self.window.is_zero() {
            inbox.flush();
            return;
        }
        if !opened {
            return;
        }
        let mut due = self.due.lock().expect("presence batcher lock poisoned");
        let was_empty = due.is_empty();
        due.push_back((Instant::now() + self.window, inbox.clone()));
        drop(due);
        if was_empty {
            self.wake.notify_one();
        }
    }

    /// Flushes every inbox whose window has ended, until [`PresenceBatcher::stop`].
    pub async fn run(self: Arc<Self>) {
        tracing::info!(
            window_ms = self.window.as_millis() as u64,
            "presence batcher started"
        );
        let mut ready = Vec::new();
        loop {
            let next = self.take_ready(&mut ready);
            for inbox in ready.drain(..) {
                inbox.flush();
            }
            let cancelled = match next {
                Some(deadline) => tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => false,
                    _ = self.stop.cancelled() => true,
                },
                None => tokio::select! {
                    _ = self.wake.notified() => false,
                    _ = self.stop.cancelled() => true,
                },
            };
            if cancelled {
                break;
            }
        }
        tracing::info!("presence batcher stopped");
    }

    /// Moves the inboxes whose window has ended into `ready`; returns the end
    /// of the next window still open.
    fn take_ready(&self, ready: &mut Vec<Arc<PresenceInbox>>) -> Option<Instant> {
        let now = Instant::now();
        let mut due = self.due.lock().expect("presence batcher lock poisoned");
        while let Some((deadline, _)) = due.front() {
            if *deadline > now {
                return Some(*deadline);
            }
            if let Some((_, inbox)) = due.pop_front() {
                ready.push(inbox);
            }
        }
        None
    }

    /// Ends the flush task. Changes still gathered are not sent.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TeamId;
    use crate::session_handle::session_channel;

    fn frames(outbound: &mut crate::session_handle::SessionOutbound) -> Vec<serde_json::Value> {
        let mut frames = Vec::new();
        while let Ok(frame) = outbound.frames.try_recv() {
            frames.push(serde_json::from_slice(&frame).unwrap());
        }
        frames
    }

    #[test]
    fn latest_change_of_user_wins() {
        let (handle, mut outbound) = session_channel(1, TeamId::from("T1"), UserId::from("U1"), 8);
        let inbox = PresenceInbox::new(handle);
        let bob = Arc::new(UserId::from("UBOB"));
        let carol = Arc::new(UserId::from("UCAROL"));
        assert!(inbox.push(&bob, true));
        assert!(!inbox.push(&carol, true));
        assert!(!inbox.push(&bob, false));
        inbox.flush();

        let frames = frames(&mut outbound);
        assert_eq!(frames.len(), 2, "{frames:?}");
        assert_eq!(frames[0]["presence"], "active");
        assert_eq!(frames[0]["users"], serde_json::json!(["UCAROL"]));
        assert_eq!(frames[1]["presence"], "away");
        assert_eq!(frames[1]["users"], serde_json::json!(["UBOB"]));
    }

    #[test]
    fn retain_drops_unsubscribed_user() {
        let (handle, mut outbound) = session_channel(1, TeamId::from("T1"), UserId::from("U1"), 8);
        let inbox = PresenceInbox::new(handle);
        let bob = Arc::new(UserId::from("UBOB"));
        inbox.push(&bob, true);
        inbox.retain(|user| user.as_str() != "UBOB");
        inbox.flush();
        assert!(frames(&mut outbound).is_empty());
        // The flush closed the window, so the next change opens a new one.
        assert!(inbox.push(&bob, true));
    }
}
