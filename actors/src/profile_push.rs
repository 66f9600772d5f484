//! Proactive push of user profiles. A session booted with `client.boot` has
//! received no other user's profile, so before a message that comes from or mentions a user the
//! session has not been sent, the channel actor queues that user's profile as a
//! `user_change` event. The client can then render the message without a query.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::json;

use crate::domain::{Message, User};
use crate::ids::UserId;

/// The set of profiles one session has been sent, shared by its handle's clones.
#[derive(Debug, Default)]
pub struct ProfilesSent {
    /// Whether the session wants profiles pushed. Off for sessions opened by
    /// `rtm.connect` or `rtm.start`, so their check is one atomic load.
    enabled: AtomicBool,
    /// Ids of the users whose profile the session has received.
    sent: Mutex<HashSet<UserId>>,
}

impl ProfilesSent {
    /// Turns pushing on, counting `known` (the session's own user) as sent.
    pub fn enable(&self, known: impl IntoIterator<Item = UserId>) {
        self.sent
            .lock()
            .expect("profiles lock poisoned")
            .extend(known);
        self.enabled.store(true, Ordering::Release);
    }

    /// Returns whether the profile of `user` must be sent now, and records it
    /// as sent when so.
    pub fn claim(&self, user: &UserId) -> bool {
        if !self.enabled.load(Ordering::Acquire) {
            return false;
        }
        let mut sent = self.sent.lock().expect("profiles lock poisoned");
        if sent.contains(user) {
            return false;
        }
        sent.insert(user.clone());
        true
    }
}

/// Returns the users a message needs profiles for: its author, then every user
/// mentioned as `<@U…>` or `<@U…|name>` in its text, without repeats.
pub fn referenced_users(message: &Message) -> Vec<UserId> {
    let mut users = vec![message.user.clone()];
    let mut rest = message.text.as_str();
    while let Some(start) = rest.find("<@") {
        rest = &rest[start + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) {
            let id = UserId::from(id);
            if !users.contains(&id) {
                users.push(id);
            }
        }
        rest = &rest[end..];
    }
    users
}

/// Encodes a `user_change` event with a full profile. Slack sends this event
/// on a profile change, and the proactive push reuses its shape.
pub fn user_change(user: &User) -> Bytes {
    crate::events::encode(&json!({ "type": "user_change", "user": user.to_api() }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ChannelId, TeamId};
    use crate::ts::Ts;

    #[test]
    fn mentions_are_found_once() {
        let message = Message::new(
            TeamId::from("T1"),
            ChannelId::from("C1"),
            UserId::from("U1"),
            "hi <@U2> and <@U3|carol>, also <@U2> and <@U1>".into(),
            Ts::default(),
        );
        let users = referenced_users(&message);
        assert_eq!(
            users,
            vec![UserId::from("U1"), UserId::from("U2"), UserId::from("U3")]
        );
    }

    #[test]
    fn claim_only_once_and_only_when_enabled() {
        let profiles = ProfilesSent::default();
        assert!(!profiles.claim(&UserId::from("U2")));
        profiles.enable([UserId::from("U1")]);
        assert!(!profiles.claim(&UserId::from("U1")));
        assert!(profiles.claim(&UserId::from("U2")));
        assert!(!profiles.claim(&UserId::from("U2")));
    }
}
