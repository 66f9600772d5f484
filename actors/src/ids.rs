//! Slack-style identifiers: a one-letter kind prefix followed by upper-case
//! letters and digits (`T…` team, `U…` user, `B…` bot, `C…` channel, `D…` direct
//! message).

use std::fmt;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Characters used after the prefix, as in Slack's own ids.
const ID_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Number of random characters after the prefix (36^10 is about 3.6e15).
const ID_RANDOM_LEN: usize = 10;

/// Generates a new random id with the given prefix letter.
pub fn random_id(prefix: char) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(1 + ID_RANDOM_LEN);
    id.push(prefix);
    for _ in 0..ID_RANDOM_LEN {
        id.push(ID_ALPHABET[rng.random_range(0..ID_ALPHABET.len())] as char);
    }
    id
}

/// Returns whether `value` looks like an id: the prefix, then 2 to 20 upper-case
/// letters or digits.
pub fn is_valid_id(value: &str, prefixes: &[char]) -> bool {
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let rest = chars.as_str();
    prefixes.contains(&first)
        && (2..=20).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Prefix letter of freshly generated ids of this kind.
            pub const PREFIX: char = $prefix;

            /// Generates a new random id of this kind.
            pub fn generate() -> Self {
                Self(random_id(Self::PREFIX))
            }

            /// Returns the id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

id_type!(
    /// Id of a team (workspace), `T…`.
    TeamId,
    'T'
);
id_type!(
    /// Id of a user, human or bot user, `U…`.
    UserId,
    'U'
);
id_type!(
    /// Id of a bot integration, `B…`; a bot also has a bot user with a `U…` id.
    BotId,
    'B'
);
id_type!(
    /// Id of a conversation: `C…` for channels and group messages, `D…` for
    /// direct messages.
    ChannelId,
    'C'
);

id_type!(
    /// Id of an uploaded file, `F…`.
    FileId,
    'F'
);
id_type!(
    /// Id of an incoming webhook, `B…`, as the second part of its URL
    /// `/hooks/T…/B…/SECRET`.
    WebhookId,
    'B'
);

impl ChannelId {
    /// Generates a new id for a direct message conversation, `D…`.
    pub fn generate_im() -> Self {
        Self(random_id('D'))
    }
}

/// Id of one connected real-time session (not a Slack concept; used in logs).
pub type SessionId = u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid() {
        let id = TeamId::generate();
        assert!(is_valid_id(id.as_str(), &['T']), "{id}");
        assert_eq!(id.as_str().len(), 11);
        assert!(is_valid_id(ChannelId::generate_im().as_str(), &['D']));
    }

    #[test]
    fn invalid_ids_are_rejected() {
        assert!(!is_valid_id("", &['C']));
        assert!(!is_valid_id("C", &['C']));
        assert!(!is_valid_id("Cabc123", &['C']));
        assert!(!is_valid_id("X12345", &['C']));
        assert!(!is_valid_id("C12 45", &['C']));
    }
}
