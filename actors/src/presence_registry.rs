//! Presence state that outlives a presence actor: each user's manual away flag,
//! do-not-disturb snooze, last announced presence and last activity, and the
//! subscriptions of sessions to users' presence. Both live in sharded maps in
//! the node's [`Registry`](crate::registry::Registry), so a restarted presence
//! actor finds them unchanged and readers need no actor round trip.

use std::collections::HashMap;
use std::sync::Arc;

use dashmap::DashMap;

use crate::ids::{SessionId, TeamId, UserId};
use crate::presence_batcher::PresenceInbox;

/// The presence facts of one user that must survive a presence actor restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresenceRecord {
    /// Team of the user; queries from another team see no record.
    pub team_id: TeamId,
    /// Set by `users.setPresence` with `away`; overrides the devices until the
    /// user sets `auto` again.
    pub manual_away: bool,
    /// End of the do-not-disturb snooze, in Unix seconds; `None` when the user
    /// never snoozed or ended the snooze.
    pub snooze_until: Option<u64>,
    /// The presence last announced to subscribers: `true` for `active`.
    pub active: bool,
    /// Time of the latest client frame from any device, in Unix seconds; 0 when
    /// the user has not sent one since the node started.
    pub last_activity: u64,
}

impl PresenceRecord {
    /// Creates the record of a user with no history: away, not snoozed.
    pub fn new(team_id: TeamId) -> PresenceRecord {
        PresenceRecord {
            team_id,
            manual_away: false,
            snooze_until: None,
            active: false,
            last_activity: 0,
        }
    }

    /// Returns whether a snooze is running at `now` (Unix seconds).
    pub fn is_snoozed(&self, now: u64) -> bool {
        self.snooze_until.is_some_and(|until| until > now)
    }
}

/// The presence inboxes of the sessions subscribed to one user, by session id.
pub type Subscribers = HashMap<SessionId, Arc<PresenceInbox>>;

/// Presence records and subscriptions of one node.
#[derive(Default)]
pub struct PresenceRegistry {
    /// Presence record of each user who connected, set a presence or snoozed
    /// since the node started.
    records: DashMap<UserId, PresenceRecord>,
    /// Sessions subscribed to each user's presence. The key contains the
    /// subscriber's team, so a subscription to a user of another team never
    /// matches that user's changes.
    subscribers: DashMap<(TeamId, UserId), Subscribers>,
}

impl PresenceRegistry {
    /// Returns a copy of a user's record when it belongs to `team_id`.
    pub fn record(&self, team_id: &TeamId, user_id: &UserId) -> Option<PresenceRecord> {
        self.records
            .get(user_id)
            .filter(|record| &record.team_id == team_id)
            .map(|record| record.clone())
    }

    /// Runs `change` on a user's record, creating the record when missing.
    pub fn update<R>(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
        change: impl FnOnce(&mut PresenceRecord) -> R,
    ) -> R {
        let mut record = self
            .records
            .entry(user_id.clone())
            .or_insert_with(|| PresenceRecord::new(team_id.clone()));
        change(&mut record)
    }

    /// Adds a session to the subscribers of each user in `users`.
    pub fn subscribe(
        &self,
        team_id: &TeamId,
        session_id: SessionId,
        inbox: &Arc<PresenceInbox>,
        users: &[UserId],
    ) {
        for user_id in users {
            self.subscribers
                .entry((team_id.clone(), user_id.clone()))
                .or_default()
                .insert(session_id, inbox.clone());
        }
    }

    /// Removes a session from the subscribers of each user in `users`.
    pub fn unsubscribe(&self, team_id: &TeamId, session_id: SessionId, users: &[UserId]) {
        for user_id in users {
            self.subscribers
                .remove_if_mut(&(team_id.clone(), user_id.clone()), |_, sessions| {
                    sessions.remove(&session_id);
                    sessions.is_empty()
                });
        }
    }

    /// Calls `notify` with the inbox of every session subscribed to a user;
    /// returns how many it was called for. Inboxes that a flush found closed
    /// are skipped and removed. The shard's read lock is held during the calls, so
    /// `unsubscribe` waits until they return.
    pub fn for_each_subscriber(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
        mut notify: impl FnMut(&Arc<PresenceInbox>),
    ) -> usize {
        let key = (team_id.clone(), user_id.clone());
        let mut gone = Vec::new();
        let mut notified = 0;
        if let Some(sessions) = self.subscribers.get(&key) {
            for (session_id, inbox) in sessions.iter() {
                if inbox.is_closed() {
                    gone.push(*session_id);
                } else {
                    notify(inbox);
                    notified += 1;
                }
            }
        }
        if !gone.is_empty() {
            self.subscribers.remove_if_mut(&key, |_, sessions| {
                for session_id in &gone {
                    sessions.remove(session_id);
                }
                sessions.is_empty()
            });
        }
        notified
    }

    /// Returns how many sessions are subscribed to a user.
    pub fn subscriber_count(&self, team_id: &TeamId, user_id: &UserId) -> usize {
        self.subscribers
            .get(&(team_id.clone(), user_id.clone()))
            .map(|sessions| sessions.len())
            .unwrap_or(0)
    }
}

/// Returns the current time in Unix seconds.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_of_other_team_is_hidden() {
        let registry = PresenceRegistry::default();
        let user = UserId::from("U1");
        registry.update(&TeamId::from("T1"), &user, |record| record.active = true);
        assert!(registry.record(&TeamId::from("T1"), &user).is_some());
        assert!(registry.record(&TeamId::from("T2"), &user).is_none());
    }

    #[test]
    fn snooze_ends_at_its_time() {
        let mut record = PresenceRecord::new(TeamId::from("T1"));
        assert!(!record.is_snoozed(100));
        record.snooze_until = Some(200);
        assert!(record.is_snoozed(199));
        assert!(!record.is_snoozed(200));
    }
}
