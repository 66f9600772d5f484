//! Admin actions on a team's members: role changes, primary-ownership transfer,
//! deactivation, reactivation, session reset and guest invitations.
//!
//! Both the `admin.*` Web API methods and the `switchboard admin` command line
//! plan their writes here, so each action is checked by the same policy and
//! commits, in one write set, the change together with its audit entry. The
//! API commits through the storage actor; the command line commits to the
//! store directly. Either way, the team actors of a running node read the new
//! audit entry within `ADMIN_LOG_POLL_INTERVAL` and close sessions or send
//! `user_change` (see `TeamMsg::PollAdminLog`).

use serde_json::json;

use switchboard_actors::audit::{role_details, AuditAction, AuditEntry};
use switchboard_actors::domain::{ChannelKind, Profile, Role, User};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::ports::{Page, Store, StoreError, Write};
use switchboard_actors::ts::Ts;
use switchboard_actors::ApiError;

/// An admin action on an existing user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    /// Give the user this role (never `PrimaryOwner`).
    SetRole(Role),
    /// Make the user the primary owner; the current one becomes an owner.
    TransferPrimaryOwner,
    /// Deactivate the user: revoke their tokens and end their sessions.
    Deactivate,
    /// Reactivate a deactivated user.
    Reactivate,
    /// End every session of the user.
    ResetSessions,
}

/// Why an admin action was not planned.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The policy or the arguments rejected it, with Slack's error string.
    #[error("{0}")]
    Rejected(ApiError),
    /// A store read failed.
    #[error("store failed: {0}")]
    Store(#[from] StoreError),
}

impl From<ApiError> for AdminError {
    fn from(error: ApiError) -> AdminError {
        AdminError::Rejected(error)
    }
}

/// Page size when scanning a team's users for its primary owner.
const USER_SCAN_PAGE: usize = 500;

/// Checks an action against the policy and returns its write set, which
/// includes its audit entry. Returns an empty set when the action changes
/// nothing (a role the user already has), which records no audit entry.
/// `actor` is `None` for the command line.
pub async fn plan_user_action(
    store: &dyn Store,
    team_id: &TeamId,
    actor: Option<&User>,
    target_id: &UserId,
    action: UserAction,
) -> Result<Vec<Write>, AdminError> {
    let target = store
        .user(team_id, target_id)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    let policy_actor = actor.map_or(Actor::Operator, Actor::User);
    let actor_id = actor.map(|user| user.id.clone());
    let now = Ts::now();
    let audit = |action: AuditAction, details| {
        Write::InsertAuditEntry(AuditEntry::new(
            team_id.clone(),
            actor_id.clone(),
            action,
            target.id.clone(),
            details,
        ))
    };

    let writes = match action {
        UserAction::SetRole(role) => {
            policy::check(
                policy_actor,
                Action::SetRole {
                    target: &target,
                    role,
                },
            )?;
            if target.role == role {
                return Ok(Vec::new());
            }
            let mut changed = target.clone();
            changed.role = role;
            changed.updated = now;
            vec![
                Write::UpdateUser(changed),
                audit(AuditAction::RoleChanged, role_details(role, target.role)),
            ]
        }
        UserAction::TransferPrimaryOwner => {
            policy::check(
                policy_actor,
                Action::TransferPrimaryOwner { target: &target },
            )?;
            let mut writes = Vec::new();
            let previous = primary_owner(store, team_id).await?;
            if let Some(previous) = &previous {
                let mut demoted = previous.clone();
                demoted.role = Role::Owner;
                demoted.updated = now;
                writes.push(Write::UpdateUser(demoted));
            }
            let mut promoted = target.clone();
            promoted.role = Role::PrimaryOwner;
            promoted.updated = now;
            writes.push(Write::UpdateUser(promoted));
            let previous_id = previous.map(|user| user.id.to_string());
            writes.push(audit(
                AuditAction::PrimaryOwnerTransferred,
                json!({ "previous_primary_owner": previous_id, "previous_role": target.role.as_str() }),
            ));
            writes
        }
        UserAction::Deactivate => {
            policy::check(policy_actor, Action::Deactivate { target: &target })?;
            let mut changed = target.clone();
            changed.deleted = true;
            changed.updated = now;
            vec![
                Write::UpdateUser(changed),
                Write::RevokeUserTokens {
                    team_id: team_id.clone(),
                    user_id: target.id.clone(),
                },
                audit(AuditAction::UserDeactivated, json!({})),
            ]
        }
        UserAction::Reactivate => {
            policy::check(policy_actor, Action::Reactivate { target: &target })?;
            let mut changed = target.clone();
            changed.deleted = false;
            changed.updated = now;
            vec![
                Write::UpdateUser(changed),
                audit(AuditAction::UserReactivated, json!({})),
            ]
        }
        UserAction::ResetSessions => {
            policy::check(policy_actor, Action::ResetSessions { target: &target })?;
            vec![audit(AuditAction::SessionsReset, json!({}))]
        }
    };
    Ok(writes)
}

/// Returns the team's primary owner, scanning its users page by page.
// NOTE: the transfer reads the primary owner before its write set commits, so
// two transfers racing from different processes could both commit. Within one
// node the primary owner is the only one allowed to transfer.
async fn primary_owner(store: &dyn Store, team_id: &TeamId) -> Result<Option<User>, StoreError> {
    let mut after = None;
    loop {
        let page = store
            .users(
                team_id,
                Page {
                    after: after.clone(),
                    limit: USER_SCAN_PAGE,
                },
            )
            .await?;
        if let Some(owner) = page.iter().find(|u| u.role == Role::PrimaryOwner) {
            return Ok(Some(owner.clone()));
        }
        if page.len() < USER_SCAN_PAGE {
            return Ok(None);
        }
        after = page.last().map(|u| u.id.clone());
    }
}

/// A guest to create.
#[derive(Clone, Debug)]
pub struct NewGuest {
    /// Unique handle in the team.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Full name; defaults to the handle.
    pub real_name: Option<String>,
    /// `MultiChannelGuest` or `SingleChannelGuest`.
    pub role: Role,
    /// The only conversations the guest is a member of, and so may see.
    pub channels: Vec<ChannelId>,
}

/// Checks a guest invitation and returns the new user with the write set that
/// creates them, adds them to their channels and records the audit entry.
/// A single-channel guest needs exactly one channel, a multi-channel guest at
/// least one; each must be a live public or private channel of the team.
pub async fn plan_guest(
    store: &dyn Store,
    team_id: &TeamId,
    actor: Option<&User>,
    guest: NewGuest,
) -> Result<(User, Vec<Write>), AdminError> {
    policy::check(
        actor.map_or(Actor::Operator, Actor::User),
        Action::InviteGuest,
    )?;
    let name = guest.name.trim().to_lowercase();
    if name.is_empty() || name.len() > 80 || name.contains(char::is_whitespace) {
        return Err(ApiError::InvalidArguments.into());
    }
    let channel_count_ok = match guest.role {
        Role::SingleChannelGuest => guest.channels.len() == 1,
        Role::MultiChannelGuest => !guest.channels.is_empty(),
        _ => false,
    };
    if !channel_count_ok {
        return Err(ApiError::InvalidArguments.into());
    }
    for channel_id in &guest.channels {
        let channel = store
            .channel(team_id, channel_id)
            .await?
            .ok_or(ApiError::ChannelNotFound)?;
        if !matches!(channel.kind, ChannelKind::Public | ChannelKind::Private) {
            return Err(ApiError::ChannelNotFound.into());
        }
        if channel.is_archived {
            return Err(ApiError::IsArchived.into());
        }
    }

    let now = Ts::now();
    let user = User {
        id: UserId::generate(),
        team_id: team_id.clone(),
        name: name.clone(),
        profile: Profile {
            real_name: guest.real_name.unwrap_or_else(|| name.clone()),
            display_name: name,
            email: guest.email,
            ..Profile::default()
        },
        is_bot: false,
        bot_id: None,
        role: guest.role,
        deleted: false,
        tz: "UTC".into(),
        updated: now,
    };
    let mut writes = vec![Write::InsertUser(user.clone())];
    for channel_id in &guest.channels {
        writes.push(Write::AddMember {
            team_id: team_id.clone(),
            channel_id: channel_id.clone(),
            user_id: user.id.clone(),
            joined: now,
        });
    }
    let channels: Vec<&str> = guest.channels.iter().map(ChannelId::as_str).collect();
    writes.push(Write::InsertAuditEntry(AuditEntry::new(
        team_id.clone(),
        actor.map(|a| a.id.clone()),
        AuditAction::GuestInvited,
        user.id.clone(),
        json!({ "role": guest.role.as_str(), "channels": channels }),
    )));
    Ok((user, writes))
}
