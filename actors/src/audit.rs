//! The audit log: one entry per admin action, written in the same write set as
//! the change it records, so an action is logged exactly when it commits.

use serde_json::{json, Value};

use crate::domain::Role;
use crate::ids::{TeamId, UserId};
use crate::session_handle::CloseReason;
use crate::ts::Ts;

/// What a committed admin action changes for connected clients; the team actor
/// applies it when it reads the entry (see `TeamMsg::PollAdminLog`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveEffect {
    /// Close every session of the target, with this reason.
    pub close_sessions: Option<CloseReason>,
    /// Users whose record changed: the team gets `user_change` for each.
    pub changed_users: Vec<UserId>,
    /// The target is new in the team: the team gets `team_join`.
    pub joined: bool,
}

/// What an admin action did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    /// A member's role changed; `details` has `role` and `previous_role`.
    RoleChanged,
    /// Primary ownership moved to the target; `details.previous_primary_owner`
    /// names the former primary owner, who became an owner.
    PrimaryOwnerTransferred,
    /// The target was deactivated: tokens revoked, sessions closed.
    UserDeactivated,
    /// The target was reactivated; their old tokens stay revoked.
    UserReactivated,
    /// Every session of the target was ended.
    SessionsReset,
    /// The target was created as a guest; `details` has `role` and `channels`.
    GuestInvited,
    /// The target was created by the command line; `details` has `role` and
    /// `is_bot`.
    UserCreated,
}

impl AuditAction {
    /// Returns the name stored in the database and shown by `admin.audit.list`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::RoleChanged => "user_role_changed",
            AuditAction::PrimaryOwnerTransferred => "primary_owner_transferred",
            AuditAction::UserDeactivated => "user_deactivated",
            AuditAction::UserReactivated => "user_reactivated",
            AuditAction::SessionsReset => "user_sessions_reset",
            AuditAction::GuestInvited => "guest_invited",
            AuditAction::UserCreated => "user_created",
        }
    }

    /// Parses a stored name; `None` when unknown.
    pub fn parse(value: &str) -> Option<AuditAction> {
        [
            AuditAction::RoleChanged,
            AuditAction::PrimaryOwnerTransferred,
            AuditAction::UserDeactivated,
            AuditAction::UserReactivated,
            AuditAction::SessionsReset,
            AuditAction::GuestInvited,
            AuditAction::UserCreated,
        ]
        .into_iter()
        .find(|action| action.as_str() == value)
    }
}

/// One entry of a team's audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Team the action happened in.
    pub team_id: TeamId,
    /// Position in the team's log, from 1 upwards. The store assigns it on
    /// insert; the value in `Write::InsertAuditEntry` is ignored.
    pub id: u64,
    /// When the action committed.
    pub at: Ts,
    /// Who acted; `None` for the `switchboard admin` command line, which works
    /// on the store directly.
    pub actor: Option<UserId>,
    /// What was done.
    pub action: AuditAction,
    /// The user the action was about.
    pub target: UserId,
    /// Action-specific fields, such as the new role.
    pub details: Value,
}

impl AuditEntry {
    /// Creates an entry for a new action (its `id` is assigned by the store).
    pub fn new(
        team_id: TeamId,
        actor: Option<UserId>,
        action: AuditAction,
        target: UserId,
        details: Value,
    ) -> AuditEntry {
        AuditEntry {
            team_id,
            id: 0,
            at: Ts::now(),
            actor,
            action,
            target,
            details,
        }
    }

    /// Returns what the action changes for connected clients.
    pub fn live_effect(&self) -> LiveEffect {
        let target = self.target.clone();
        match self.action {
            AuditAction::RoleChanged | AuditAction::UserReactivated => LiveEffect {
                changed_users: vec![target],
                ..LiveEffect::default()
            },
            AuditAction::PrimaryOwnerTransferred => {
                let mut changed_users = vec![target];
                let previous = self.details["previous_primary_owner"].as_str();
                changed_users.extend(previous.map(UserId::from));
                LiveEffect {
                    changed_users,
                    ..LiveEffect::default()
                }
            }
            AuditAction::UserDeactivated => LiveEffect {
                close_sessions: Some(CloseReason::AccountInactive),
                changed_users: vec![target],
                joined: false,
            },
            AuditAction::SessionsReset => LiveEffect {
                close_sessions: Some(CloseReason::SessionReset),
                ..LiveEffect::default()
            },
            AuditAction::GuestInvited | AuditAction::UserCreated => LiveEffect {
                joined: true,
                ..LiveEffect::default()
            },
        }
    }

    /// Serializes the entry as `admin.audit.list` returns it.
    pub fn to_api(&self) -> Value {
        let actor = match &self.actor {
            Some(user) => json!({ "type": "user", "id": user }),
            None => json!({ "type": "cli" }),
        };
        json!({
            "id": self.id,
            "date_create": self.at.seconds(),
            "ts": self.at,
            "action": self.action.as_str(),
            "actor": actor,
            "entity": { "type": "user", "id": self.target },
            "details": self.details,
        })
    }
}

/// Builds the `details` of a role change.
pub fn role_details(role: Role, previous: Role) -> Value {
    json!({ "role": role.as_str(), "previous_role": previous.as_str() })
}
