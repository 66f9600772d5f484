//! Member activity for billing: the UTC days on which each member posted a
//! message or opened a real-time session, stored as `activity_days` rows.
//!
//! The message-post job writes the author's day in its own write set. Opening
//! a session writes the user's day through the storage actor once per user
//! and day while the node runs, because [`ActivityLog`] remembers the last day
//! written for each user. Reconnects and several tabs cost no further writes,
//! and a failed write is tried again by the user's next session.

use dashmap::DashMap;

use crate::calendar::Day;
use crate::hub::Hub;
use crate::ids::{TeamId, UserId};
use crate::ports::Write;

/// The last day this node wrote activity for, per (team, user). One entry per
/// user who opened a session, so it grows with the users, not with the days.
#[derive(Default)]
pub struct ActivityLog {
    /// The day of the last activity write of each user.
    recorded: DashMap<(TeamId, UserId), Day>,
}

impl ActivityLog {
    /// Marks a user's activity on `day` as written; returns `false` when it
    /// already was, so the caller skips the write.
    pub fn mark(&self, team_id: &TeamId, user_id: &UserId, day: Day) -> bool {
        let key = (team_id.clone(), user_id.clone());
        match self.recorded.insert(key, day) {
            Some(previous) => previous != day,
            None => true,
        }
    }

    /// Forgets the mark of `day` after its write failed, so that the user's
    /// next session writes it again.
    pub fn unmark(&self, team_id: &TeamId, user_id: &UserId, day: Day) {
        let key = (team_id.clone(), user_id.clone());
        self.recorded
            .remove_if(&key, |_, recorded| *recorded == day);
    }
}

/// Returns the write that records a user's activity on a day; storing it twice
/// changes nothing.
pub fn activity_write(team_id: &TeamId, user_id: &UserId, day: Day) -> Write {
    Write::RecordActivity {
        team_id: team_id.clone(),
        day,
        user_id: user_id.clone(),
    }
}

/// Records that a user opened a session today, unless this node already did
/// so today. The write goes through the storage actor without waiting for it;
/// a failure is logged and the next session of the user tries again.
pub fn record_session(hub: &Hub, team_id: &TeamId, user_id: &UserId) {
    let day = Day::today();
    let log = &hub.registry().activity;
    if !log.mark(team_id, user_id, day) {
        return;
    }
    let failed_hub = hub.clone();
    let team = team_id.clone();
    let user = user_id.clone();
    hub.write_then(
        vec![activity_write(team_id, user_id, day)],
        Box::new(move |result| {
            if let Err(error) = result {
                tracing::error!(team = %team, user = %user, %day, %error, "recording session activity failed; the next session retries");
                failed_hub.registry().activity.unmark(&team, &user, day);
            }
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_once_per_user_and_day() {
        let log = ActivityLog::default();
        let team = TeamId::from("T1");
        let (alice, bob) = (UserId::from("U1"), UserId::from("U2"));
        let monday = Day::from_date(2025, 6, 2);
        let tuesday = Day::from_date(2025, 6, 3);

        assert!(log.mark(&team, &alice, monday));
        assert!(!log.mark(&team, &alice, monday));
        assert!(log.mark(&team, &bob, monday));
        assert!(log.mark(&team, &alice, tuesday));
        assert!(!log.mark(&team, &alice, tuesday));

        // A failed write of another day leaves the newer mark alone.
        log.unmark(&team, &alice, monday);
        assert!(!log.mark(&team, &alice, tuesday));
        log.unmark(&team, &alice, tuesday);
        assert!(log.mark(&team, &alice, tuesday));
    }
}
