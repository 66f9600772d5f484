//! API tokens: `xoxp-` (user) or `xoxb-` (bot), then the team id, then 32 random
//! hex characters. Only the SHA-256 of the token text is stored. The team id in
//! the text lets a sharded store look the token up on the team's shard.

use rand::RngCore;
use sha2::{Digest, Sha256};

use switchboard_actors::domain::{Token, TokenKind};
use switchboard_actors::ids::{is_valid_id, TeamId, UserId};
use switchboard_actors::ts::Ts;

/// Creates a token for a user; returns its text (shown once) and its record.
pub fn new_token(team_id: &TeamId, user_id: &UserId, kind: TokenKind) -> (String, Token) {
    let mut secret = [0u8; 16];
    rand::rng().fill_bytes(&mut secret);
    let text = format!("{}-{}-{}", kind.prefix(), team_id, hex::encode(secret));
    let record = Token {
        team_id: team_id.clone(),
        hash: hash_token(&text),
        user_id: user_id.clone(),
        kind,
        created: Ts::now(),
        revoked: false,
    };
    (text, record)
}

/// Returns the hex SHA-256 of a token text.
pub fn hash_token(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Returns the team id written inside a token, when the token is well formed.
pub fn token_team(text: &str) -> Option<TeamId> {
    let mut parts = text.splitn(3, '-');
    let prefix = parts.next()?;
    let team = parts.next()?;
    let secret = parts.next()?;
    let known_prefix = prefix == TokenKind::User.prefix() || prefix == TokenKind::Bot.prefix();
    if known_prefix && is_valid_id(team, &['T']) && !secret.is_empty() {
        Some(TeamId::from(team))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_names_its_team() {
        let team = TeamId::from("T0ABC123");
        let (text, record) = new_token(&team, &UserId::from("U0ABC"), TokenKind::Bot);
        assert!(text.starts_with("xoxb-T0ABC123-"));
        assert_eq!(token_team(&text), Some(team));
        assert_eq!(record.hash, hash_token(&text));
        assert_ne!(record.hash, text);
    }

    #[test]
    fn malformed_tokens_name_no_team() {
        for bad in ["", "xoxp", "xoxp-T1", "abcd-T0ABC-123", "xoxp-bad-123"] {
            assert_eq!(token_team(bad), None, "{bad}");
        }
    }
}
