//! Records of browser sign-in: single-use login links and the browser sessions
//! they open. The store keeps only the SHA-256 of each secret text.

use crate::ids::{TeamId, UserId};
use crate::ts::Ts;

/// A single-use link that signs a browser in as a user until it expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginLink {
    /// Team of the user; also written into the link token text.
    pub team_id: TeamId,
    /// Hex SHA-256 of the link token text.
    pub hash: String,
    /// User the link signs in as.
    pub user_id: UserId,
    /// Creation time.
    pub created: Ts,
    /// Time after which the link no longer signs anyone in.
    pub expires: Ts,
    /// Whether the link was already used.
    pub used: bool,
}

/// A signed-in browser, named by the random id in its session cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserSession {
    /// Team of the user; also written into the cookie text.
    pub team_id: TeamId,
    /// Hex SHA-256 of the cookie text.
    pub hash: String,
    /// User the browser acts as.
    pub user_id: UserId,
    /// Sign-in time.
    pub created: Ts,
}
