//! Billing: which members of a team are billable seats for a month, and the
//! stored report of that computation.
//!
//! The rule is deliberately plain. A member is a billable seat for a month
//! when they were active (posted a message or opened a real-time session) on
//! at least one UTC day of it. Members with no active day are not billed, and
//! bot users never are, active or not.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::calendar::Month;
use crate::domain::User;
use crate::ids::{TeamId, UserId};
use crate::ts::Ts;

/// A member and the number of days of a month they were active on. Its JSON
/// form, `{"id": "U…", "active_days": N}`, is used by the API and the stores.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveMember {
    /// The member.
    #[serde(rename = "id")]
    pub user_id: UserId,
    /// Distinct UTC days of the month with activity, at least 1.
    pub active_days: u32,
}

/// The billable seats of one team for one month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingReport {
    /// The team billed.
    pub team_id: TeamId,
    /// The month billed.
    pub month: Month,
    /// When the report was computed.
    pub computed: Ts,
    /// The job that computed it; empty when the command line computed it.
    pub job_id: String,
    /// The billable members, ordered by user id.
    pub members: Vec<ActiveMember>,
}

impl BillingReport {
    /// Returns the number of billable seats.
    pub fn billable_seats(&self) -> usize {
        self.members.len()
    }

    /// Returns whether the month had ended when the report was computed, so no
    /// later activity can change it.
    pub fn is_final(&self) -> bool {
        self.computed >= self.month.end()
    }

    /// Serializes the report as the `report` object of `admin.billing.report`.
    pub fn to_api(&self) -> Value {
        json!({
            "team_id": self.team_id,
            "month": self.month.to_string(),
            "billable_seats": self.billable_seats(),
            "members": self.members,
            "computed": self.computed.seconds(),
            "final": self.is_final(),
        })
    }
}

/// Returns the billable members: the users of `users` who are not bots and
/// have an entry in `activity`, ordered by user id. Activity of users not in
/// `users` (removed from the store) is ignored.
pub fn billable_members(users: &[User], activity: &[ActiveMember]) -> Vec<ActiveMember> {
    let days: HashMap<&UserId, u32> = activity
        .iter()
        .filter(|entry| entry.active_days > 0)
        .map(|entry| (&entry.user_id, entry.active_days))
        .collect();
    let mut members: Vec<ActiveMember> = users
        .iter()
        .filter(|user| !user.is_bot)
        .filter_map(|user| {
            days.get(&user.id).map(|active_days| ActiveMember {
                user_id: user.id.clone(),
                active_days: *active_days,
            })
        })
        .collect();
    members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Profile, Role};

    fn user(id: &str, is_bot: bool, deleted: bool) -> User {
        User {
            id: UserId::from(id),
            team_id: TeamId::from("T1"),
            name: id.to_lowercase(),
            profile: Profile::default(),
            is_bot,
            bot_id: None,
            role: Role::Member,
            deleted,
            tz: "UTC".into(),
            updated: Ts(0),
        }
    }

    fn active(id: &str, active_days: u32) -> ActiveMember {
        ActiveMember {
            user_id: UserId::from(id),
            active_days,
        }
    }

    #[test]
    fn only_active_people_are_billed() {
        let users = [
            user("U3", false, false),
            user("U1", false, false),
            user("U2", false, false),
            user("UB", true, false),
            user("UD", false, true),
        ];
        let activity = [
            active("U1", 4),
            active("U3", 1),
            active("UB", 30),
            active("UD", 2),
            active("UGONE", 5),
        ];
        let billed = billable_members(&users, &activity);
        // The idle U2, the bot and the unknown user are left out; a member
        // deactivated later in the month was active, so is billed.
        assert_eq!(
            billed,
            vec![active("U1", 4), active("U3", 1), active("UD", 2)]
        );
    }

    #[test]
    fn report_is_final_after_its_month() {
        let month: Month = "2025-06".parse().unwrap();
        let mut report = BillingReport {
            team_id: TeamId::from("T1"),
            month,
            computed: Ts(month.end().0 - 1),
            job_id: "J1".into(),
            members: vec![active("U1", 2)],
        };
        assert!(!report.is_final());
        report.computed = month.end();
        assert!(report.is_final());
        let api = report.to_api();
        assert_eq!(api["billable_seats"], 1);
        assert_eq!(api["members"][0]["id"], "U1");
        assert_eq!(api["month"], "2025-06");
    }
}
