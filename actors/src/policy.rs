//! The permission policy: who may do what in a team. Every Web API method and
//! every socket frame that acts on a channel or a member asks [`check`], so the
//! rules live here and nowhere else.
//!
//! The functions are pure: the caller loads the acting user, the target and the
//! channel from the store for each request (never from a cache), so a role
//! change or a deactivation applies to the next check at once.
//!
//! Rules, by role (owner includes the primary owner, admin includes owners):
//!
//! - Deactivated users may do nothing (`account_inactive`).
//! - Guests see and post only in conversations they are members of, and may not
//!   create channels, invite, remove members, or rename or archive channels.
//! - Members may create public and private channels, rename, archive and
//!   unarchive channels they created, and remove members from private channels.
//! - Admins may also rename, archive and unarchive any channel (including
//!   `#general`'s name), remove members from any channel, add guests to
//!   channels, change roles of members, admins and guests, deactivate and
//!   reactivate them, reset their sessions, invite guests and read billing.
//! - Owners may also do all of that to other owners, make owners, and read the
//!   audit log. Only the primary owner transfers primary ownership, and nobody
//!   changes the primary owner's role or deactivates them.
//! - Admin actions need a user token of a person; bot users get
//!   `not_allowed_token_type`.
//! - The `switchboard admin` command line ([`Actor::Operator`]) has the owner's
//!   rights, but cannot break the team's invariants either (one primary owner).

use crate::domain::{Channel, ChannelKind, Role, User};
use crate::error::ApiError;
use crate::ids::UserId;

/// Who is acting.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// A user, through a token or a socket.
    User(&'a User),
    /// The operator at the `switchboard admin` command line, who holds the store.
    Operator,
}

/// What the actor wants to do.
#[derive(Clone, Copy, Debug)]
pub enum Action<'a> {
    /// See a conversation: its info, members, history, or join it.
    SeeChannel {
        /// The conversation.
        channel: &'a Channel,
        /// Whether the actor is a member.
        is_member: bool,
    },
    /// Post a message or a typing indicator.
    Post {
        /// The conversation.
        channel: &'a Channel,
        /// Whether the actor is a member.
        is_member: bool,
    },
    /// Create a channel.
    CreateChannel {
        /// Whether the channel is private.
        private: bool,
    },
    /// Rename, archive or unarchive a channel.
    ManageChannel {
        /// The conversation.
        channel: &'a Channel,
    },
    /// Add a user to a conversation.
    InviteToChannel {
        /// The user added.
        target: &'a User,
    },
    /// Remove another member from a conversation.
    RemoveMember {
        /// The conversation.
        channel: &'a Channel,
        /// The member removed.
        target: &'a UserId,
    },
    /// Give a user another role (never `PrimaryOwner`: see `TransferPrimaryOwner`).
    SetRole {
        /// The user whose role changes.
        target: &'a User,
        /// The new role.
        role: Role,
    },
    /// Make the target the primary owner; the current one becomes an owner.
    TransferPrimaryOwner {
        /// The new primary owner.
        target: &'a User,
    },
    /// Deactivate a user.
    Deactivate {
        /// The user.
        target: &'a User,
    },
    /// Reactivate a deactivated user.
    Reactivate {
        /// The user.
        target: &'a User,
    },
    /// End every session of a user.
    ResetSessions {
        /// The user.
        target: &'a User,
    },
    /// Create a guest account limited to given channels.
    InviteGuest,
    /// Read the team's audit log.
    ReadAudit,
    /// Create or revoke an incoming webhook.
    ManageWebhooks,
    /// Read the team's billable seats or request their computation.
    ReadBilling,
    /// Delete a file.
    DeleteFile {
        /// The user who uploaded it.
        uploader: &'a UserId,
    },
}

/// Checks whether `actor` may do `action`; returns Slack's error string when not.
pub fn check(actor: Actor<'_>, action: Action<'_>) -> Result<(), ApiError> {
    let user = match actor {
        Actor::User(user) => user,
        Actor::Operator => return check_operator(action),
    };
    if user.deleted {
        return Err(ApiError::AccountInactive);
    }
    let role = user.role;
    match action {
        Action::SeeChannel { channel, is_member } => see_channel(role, channel, is_member),
        Action::Post { channel, is_member } => {
            see_channel(role, channel, is_member)?;
            if is_member {
                Ok(())
            } else {
                Err(ApiError::NotInChannel)
            }
        }
        Action::CreateChannel { .. } => deny_guest(role),
        Action::ManageChannel { channel } => {
            deny_guest(role)?;
            let is_creator = channel.creator == user.id && !channel.is_general;
            if role.is_admin() || is_creator {
                Ok(())
            } else {
                Err(ApiError::RestrictedAction)
            }
        }
        Action::InviteToChannel { target } => {
            deny_guest(role)?;
            if target.role.is_guest() && !role.is_admin() {
                return Err(ApiError::RestrictedAction);
            }
            Ok(())
        }
        Action::RemoveMember { channel, target } => {
            if target == &user.id {
                return Err(ApiError::CantKickSelf);
            }
            deny_guest(role)?;
            let private = channel.kind == ChannelKind::Private;
            if role.is_admin() || private {
                Ok(())
            } else {
                Err(ApiError::RestrictedAction)
            }
        }
        Action::SetRole { target, role: new } => {
            require_admin_person(user)?;
            set_role(Some(role), target, new)
        }
        Action::TransferPrimaryOwner { target } => {
            require_admin_person(user)?;
            if role != Role::PrimaryOwner {
                return Err(ApiError::RestrictedAction);
            }
            transfer_target(target)
        }
        Action::Deactivate { target } => {
            require_admin_person(user)?;
            if target.id == user.id {
                return Err(ApiError::RestrictedAction);
            }
            if target.deleted {
                return Err(ApiError::UserDisabled);
            }
            may_manage_user(role, target)
        }
        Action::Reactivate { target } => {
            require_admin_person(user)?;
            if !target.deleted {
                return Err(ApiError::InvalidArguments);
            }
            may_manage_user(role, target)
        }
        Action::ResetSessions { target } => {
            require_admin_person(user)?;
            may_manage_user(role, target)
        }
        Action::InviteGuest => require_admin_person(user),
        Action::ManageWebhooks => require_admin_person(user),
        Action::ReadBilling => require_admin_person(user),
        Action::DeleteFile { uploader } => {
            if uploader == &user.id || role.is_admin() {
                Ok(())
            } else {
                Err(ApiError::CantDeleteFile)
            }
        }
        Action::ReadAudit => {
            require_admin_person(user)?;
            if role.is_owner() {
                Ok(())
            } else {
                Err(ApiError::RestrictedAction)
            }
        }
    }
}

/// The operator may do every admin action that keeps the team's invariants.
fn check_operator(action: Action<'_>) -> Result<(), ApiError> {
    match action {
        Action::SetRole { target, role } => set_role(None, target, role),
        Action::TransferPrimaryOwner { target } => transfer_target(target),
        Action::Deactivate { target } => {
            if target.deleted {
                Err(ApiError::UserDisabled)
            } else if target.role == Role::PrimaryOwner {
                Err(ApiError::RestrictedAction)
            } else {
                Ok(())
            }
        }
        Action::Reactivate { target } => {
            if target.deleted {
                Ok(())
            } else {
                Err(ApiError::InvalidArguments)
            }
        }
        _ => Ok(()),
    }
}

/// Guests see only their conversations; others see every public channel and
/// the private conversations they are members of.
fn see_channel(role: Role, channel: &Channel, is_member: bool) -> Result<(), ApiError> {
    let visible = if role.is_guest() {
        is_member
    } else {
        is_member || channel.kind == ChannelKind::Public
    };
    if visible {
        Ok(())
    } else {
        Err(ApiError::ChannelNotFound)
    }
}

fn deny_guest(role: Role) -> Result<(), ApiError> {
    if role.is_guest() {
        Err(ApiError::RestrictedAction)
    } else {
        Ok(())
    }
}

/// Admin methods need an admin, acting as a person (bots hold bot tokens).
fn require_admin_person(user: &User) -> Result<(), ApiError> {
    if user.is_bot {
        return Err(ApiError::NotAllowedTokenType);
    }
    if !user.role.is_admin() {
        return Err(ApiError::NotAnAdmin);
    }
    Ok(())
}

/// Admins manage members, admins and guests; only owners manage owners; nobody
/// manages the primary owner this way.
fn may_manage_user(actor_role: Role, target: &User) -> Result<(), ApiError> {
    if target.role == Role::PrimaryOwner {
        return Err(ApiError::RestrictedAction);
    }
    if target.role.is_owner() && !actor_role.is_owner() {
        return Err(ApiError::RestrictedAction);
    }
    Ok(())
}

/// Role change rules; `actor_role` is `None` for the operator.
fn set_role(actor_role: Option<Role>, target: &User, new: Role) -> Result<(), ApiError> {
    if new == Role::PrimaryOwner {
        // There is exactly one primary owner; it moves only by a transfer.
        return Err(ApiError::InvalidArguments);
    }
    if target.role == Role::PrimaryOwner {
        return Err(ApiError::RestrictedAction);
    }
    if target.deleted {
        return Err(ApiError::UserDisabled);
    }
    if target.is_bot && new != Role::Member {
        return Err(ApiError::RestrictedAction);
    }
    if let Some(actor_role) = actor_role {
        may_manage_user(actor_role, target)?;
        if new.is_owner() && !actor_role.is_owner() {
            return Err(ApiError::RestrictedAction);
        }
    }
    Ok(())
}

/// The new primary owner must be an active person who is not a guest.
fn transfer_target(target: &User) -> Result<(), ApiError> {
    if target.deleted {
        return Err(ApiError::UserDisabled);
    }
    if target.role == Role::PrimaryOwner {
        return Err(ApiError::InvalidArguments);
    }
    if target.is_bot || target.role.is_guest() {
        return Err(ApiError::RestrictedAction);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Profile, TopicInfo};
    use crate::ids::{ChannelId, TeamId};
    use crate::ts::Ts;

    fn user(id: &str, role: Role) -> User {
        User {
            id: UserId::from(id),
            team_id: TeamId::from("T1"),
            name: id.to_lowercase(),
            profile: Profile::default(),
            is_bot: false,
            bot_id: None,
            role,
            deleted: false,
            tz: "UTC".into(),
            updated: Ts(0),
        }
    }

    fn channel(kind: ChannelKind, creator: &str) -> Channel {
        Channel {
            id: ChannelId::from("C1"),
            team_id: TeamId::from("T1"),
            name: "c".into(),
            kind,
            creator: UserId::from(creator),
            created: Ts(0),
            is_archived: false,
            is_general: false,
            topic: TopicInfo::default(),
            purpose: TopicInfo::default(),
            im_user: None,
        }
    }

    #[test]
    fn guest_sees_only_member_channels() {
        let guest = user("UG", Role::MultiChannelGuest);
        let public = channel(ChannelKind::Public, "UA");
        let see = |is_member| {
            check(
                Actor::User(&guest),
                Action::SeeChannel {
                    channel: &public,
                    is_member,
                },
            )
        };
        assert_eq!(see(false), Err(ApiError::ChannelNotFound));
        assert_eq!(see(true), Ok(()));
        let member = user("UM", Role::Member);
        let seen = check(
            Actor::User(&member),
            Action::SeeChannel {
                channel: &public,
                is_member: false,
            },
        );
        assert_eq!(seen, Ok(()));
    }

    #[test]
    fn admin_cannot_demote_owner() {
        let admin = user("UA", Role::Admin);
        let owner = user("UO", Role::Owner);
        let demote = Action::SetRole {
            target: &owner,
            role: Role::Member,
        };
        assert_eq!(
            check(Actor::User(&admin), demote),
            Err(ApiError::RestrictedAction)
        );
        let other_owner = user("UO2", Role::Owner);
        assert_eq!(check(Actor::User(&other_owner), demote), Ok(()));
    }

    #[test]
    fn nobody_demotes_primary_owner() {
        let primary = user("UP", Role::PrimaryOwner);
        let demote = Action::SetRole {
            target: &primary,
            role: Role::Owner,
        };
        for role in [Role::PrimaryOwner, Role::Owner, Role::Admin] {
            let actor = user("UX", role);
            assert_eq!(
                check(Actor::User(&actor), demote),
                Err(ApiError::RestrictedAction),
                "{role:?}"
            );
        }
        assert_eq!(
            check(Actor::Operator, demote),
            Err(ApiError::RestrictedAction)
        );
    }

    #[test]
    fn deactivated_user_may_do_nothing() {
        let mut owner = user("UO", Role::Owner);
        owner.deleted = true;
        assert_eq!(
            check(
                Actor::User(&owner),
                Action::CreateChannel { private: false }
            ),
            Err(ApiError::AccountInactive)
        );
    }

    #[test]
    fn billing_is_for_admins_and_owners() {
        for role in [Role::PrimaryOwner, Role::Owner, Role::Admin] {
            let actor = user("UA", role);
            assert_eq!(check(Actor::User(&actor), Action::ReadBilling), Ok(()));
        }
        let member = user("UM", Role::Member);
        assert_eq!(
            check(Actor::User(&member), Action::ReadBilling),
            Err(ApiError::NotAnAdmin)
        );
        let mut bot = user("UB", Role::Member);
        bot.is_bot = true;
        assert_eq!(
            check(Actor::User(&bot), Action::ReadBilling),
            Err(ApiError::NotAllowedTokenType)
        );
        assert_eq!(check(Actor::Operator, Action::ReadBilling), Ok(()));
    }

    #[test]
    fn bot_gets_not_allowed_token_type() {
        let mut bot = user("UB", Role::Admin);
        bot.is_bot = true;
        assert_eq!(
            check(Actor::User(&bot), Action::InviteGuest),
            Err(ApiError::NotAllowedTokenType)
        );
    }
}
