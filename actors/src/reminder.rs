//! Reminders (`reminders.*`): a text that Slackbot sends to a user as a direct
//! message at a given time. Reminders are one-time, because recurring ones are
//! not modelled, so `recurring` is always false.

use serde_json::{json, Value};

use crate::ids::{random_id, TeamId, UserId};
use crate::ts::Ts;

/// Id of the built-in Slackbot user, which delivers reminders, as in Slack.
pub const SLACKBOT_USER_ID: &str = "USLACKBOT";

/// Handle of the built-in Slackbot user.
pub const SLACKBOT_NAME: &str = "slackbot";

/// One reminder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reminder {
    /// Reminder id, `Rm…`.
    pub id: String,
    /// Team of the creator and the recipient.
    pub team_id: TeamId,
    /// The user who set the reminder.
    pub creator: UserId,
    /// The user who receives it.
    pub user: UserId,
    /// The reminder's text, in Slack's markup.
    pub text: String,
    /// When it is due, in Unix seconds.
    pub time: i64,
    /// When it was marked complete, in Unix seconds. It is 0 while the
    /// reminder is not complete, as in Slack's `complete_ts`.
    pub complete_ts: i64,
    /// Whether the scheduler has enqueued its delivery.
    pub fired: bool,
    /// When it was created.
    pub created: Ts,
}

impl Reminder {
    /// Generates a new reminder id: `Rm` and random upper-case letters and
    /// digits.
    pub fn generate_id() -> String {
        let random = random_id('R');
        format!("Rm{}", &random[1..])
    }

    /// Returns whether `user_id` may see, complete or delete the reminder: its
    /// creator and its recipient may.
    pub fn is_visible_to(&self, user_id: &UserId) -> bool {
        &self.creator == user_id || &self.user == user_id
    }

    /// Returns the text of the direct message that delivers the reminder.
    pub fn message_text(&self) -> String {
        format!("Reminder: {}.", self.text.trim_end_matches('.'))
    }

    /// Serializes the reminder as Slack's `reminder` object.
    pub fn to_api(&self) -> Value {
        json!({
            "id": self.id,
            "creator": self.creator,
            "user": self.user,
            "text": self.text,
            "recurring": false,
            "time": self.time,
            "complete_ts": self.complete_ts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reminder() -> Reminder {
        Reminder {
            id: Reminder::generate_id(),
            team_id: TeamId::from("T1"),
            creator: UserId::from("U1"),
            user: UserId::from("U2"),
            text: "water the plants.".into(),
            time: 1_700_000_000,
            complete_ts: 0,
            fired: false,
            created: Ts(5),
        }
    }

    #[test]
    fn ids_start_with_rm() {
        let id = Reminder::generate_id();
        assert!(id.starts_with("Rm"), "{id}");
        assert_eq!(id.len(), 12, "{id}");
    }

    #[test]
    fn api_object_has_slack_fields() {
        let reminder = reminder();
        let api = reminder.to_api();
        assert_eq!(api["creator"], "U1");
        assert_eq!(api["user"], "U2");
        assert_eq!(api["recurring"], false);
        assert_eq!(api["time"], 1_700_000_000);
        assert_eq!(api["complete_ts"], 0);
    }

    #[test]
    fn visibility_and_message_text() {
        let reminder = reminder();
        assert!(reminder.is_visible_to(&UserId::from("U1")));
        assert!(reminder.is_visible_to(&UserId::from("U2")));
        assert!(!reminder.is_visible_to(&UserId::from("U3")));
        assert_eq!(reminder.message_text(), "Reminder: water the plants.");
    }
}
