//! Browser sign-in for the web client. `switchboard admin login-link` creates a
//! single-use link token (`sbl-` + team id + 32 random hex characters) that
//! expires after [`LOGIN_LINK_TTL`]. Opening `/login?token=…` redeems it and
//! sets a session cookie (`sbs-` + team id + 32 random hex characters). As with
//! API tokens, the store keeps only the SHA-256 of each text, and the team id
//! in the text lets a sharded store look it up on the team's shard.

use std::time::Duration;

use rand::RngCore;

use switchboard_actors::ids::{is_valid_id, TeamId, UserId};
use switchboard_actors::ports::{Store, StoreError, Write};
use switchboard_actors::ts::Ts;
use switchboard_actors::web_auth::{BrowserSession, LoginLink};

use crate::auth::hash_token;

/// How long a login link signs in after it was created.
pub const LOGIN_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// Prefix of login link tokens.
const LINK_PREFIX: &str = "sbl";

/// Prefix of session cookie texts.
const SESSION_PREFIX: &str = "sbs";

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "switchboard_session";

/// Error of a sign-in operation.
#[derive(Debug, thiserror::Error)]
pub enum WebAuthError {
    /// The link is malformed, unknown, already used or expired, or its user was
    /// deactivated.
    #[error("the login link is invalid, used or expired: ask an admin for a new one")]
    InvalidLink,
    /// The user to sign in does not exist.
    #[error("user {0} not found")]
    UserNotFound(String),
    /// The store failed.
    #[error("store failed: {0}")]
    Store(#[from] StoreError),
}

/// Creates a login link token for a user and stores its hash; returns the
/// token text, which appears only in the printed link.
pub async fn create_login_link(
    store: &dyn Store,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<String, WebAuthError> {
    let user = store
        .user(team_id, user_id)
        .await?
        .filter(|user| !user.deleted)
        .ok_or_else(|| WebAuthError::UserNotFound(user_id.to_string()))?;
    let text = secret_text(LINK_PREFIX, team_id);
    let created = Ts::now();
    let link = LoginLink {
        team_id: team_id.clone(),
        hash: hash_token(&text),
        user_id: user.id,
        created,
        expires: Ts(created.0 + LOGIN_LINK_TTL.as_micros() as u64),
        used: false,
    };
    commit_one(store, vec![Write::InsertLoginLink(link)]).await?;
    tracing::info!(team = %team_id, user = %user_id, "login link created");
    Ok(text)
}

/// Redeems a login link: marks it used and opens a browser session in the
/// same write set. Returns the cookie text and the session.
pub async fn redeem_login_link(
    store: &dyn Store,
    token: &str,
) -> Result<(String, BrowserSession), WebAuthError> {
    let team_id = secret_team(LINK_PREFIX, token).ok_or(WebAuthError::InvalidLink)?;
    let hash = hash_token(token);
    let link = store
        .login_link(&team_id, &hash)
        .await?
        .ok_or(WebAuthError::InvalidLink)?;
    let active_user = store
        .user(&team_id, &link.user_id)
        .await?
        .is_some_and(|user| !user.deleted);
    if !active_user {
        return Err(WebAuthError::InvalidLink);
    }

    let cookie = secret_text(SESSION_PREFIX, &team_id);
    let session = BrowserSession {
        team_id: team_id.clone(),
        hash: hash_token(&cookie),
        user_id: link.user_id.clone(),
        created: Ts::now(),
    };
    let writes = vec![
        Write::UseLoginLink {
            team_id: team_id.clone(),
            hash,
            now: Ts::now(),
        },
        Write::InsertBrowserSession(session.clone()),
    ];
    match commit_one(store, writes).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(WebAuthError::InvalidLink),
        Err(error) => return Err(error.into()),
    }
    tracing::info!(team = %team_id, user = %link.user_id, "browser signed in");
    Ok((cookie, session))
}

/// Returns the browser session named by a cookie text, when it is well formed
/// and still open.
pub async fn browser_session(
    store: &dyn Store,
    cookie: &str,
) -> Result<Option<BrowserSession>, StoreError> {
    let Some(team_id) = secret_team(SESSION_PREFIX, cookie) else {
        return Ok(None);
    };
    store.browser_session(&team_id, &hash_token(cookie)).await
}

/// Ends the browser session named by a cookie text. Ending a session that is
/// already gone is not an error.
pub async fn sign_out(store: &dyn Store, cookie: &str) -> Result<(), StoreError> {
    let Some(team_id) = secret_team(SESSION_PREFIX, cookie) else {
        return Ok(());
    };
    let write = Write::DeleteBrowserSession {
        team_id: team_id.clone(),
        hash: hash_token(cookie),
    };
    match commit_one(store, vec![write]).await {
        Ok(()) => {
            tracing::info!(team = %team_id, "browser signed out");
            Ok(())
        }
        Err(StoreError::NotFound(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Builds `PREFIX-TEAM-HEX` with 16 random bytes.
fn secret_text(prefix: &str, team_id: &TeamId) -> String {
    let mut secret = [0u8; 16];
    rand::rng().fill_bytes(&mut secret);
    format!("{prefix}-{team_id}-{}", hex::encode(secret))
}

/// Returns the team id inside a `PREFIX-TEAM-HEX` text with that prefix.
fn secret_team(prefix: &str, text: &str) -> Option<TeamId> {
    let mut parts = text.splitn(3, '-');
    let found = parts.next()?;
    let team = parts.next()?;
    let secret = parts.next()?;
    let well_formed = found == prefix
        && is_valid_id(team, &['T'])
        && secret.len() == 32
        && secret.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| TeamId::from(team))
}

async fn commit_one(store: &dyn Store, writes: Vec<Write>) -> Result<(), StoreError> {
    store
        .commit(vec![writes])
        .await
        .pop()
        .unwrap_or_else(|| Err(StoreError::Backend("empty commit result".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_text_names_its_team() {
        let team = TeamId::from("T0ABC123");
        let text = secret_text(LINK_PREFIX, &team);
        assert!(text.starts_with("sbl-T0ABC123-"));
        assert_eq!(secret_team(LINK_PREFIX, &text), Some(team));
    }

    #[test]
    fn secret_of_other_kind_names_no_team() {
        let team = TeamId::from("T0ABC123");
        let link = secret_text(LINK_PREFIX, &team);
        assert_eq!(secret_team(SESSION_PREFIX, &link), None);
        for bad in ["", "sbl", "sbl-T1", "sbl-bad-00", "sbl-T0ABC123-xyz"] {
            assert_eq!(secret_team(LINK_PREFIX, bad), None, "{bad}");
        }
    }
}
