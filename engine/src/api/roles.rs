//! Who may run admin methods. A single check, so that a fuller permission
//! policy can replace it in one place.

use switchboard_actors::domain::Role;
use switchboard_actors::ApiError;

use super::Caller;

/// Returns `Ok` when the caller is an admin or an owner of their team, and
/// `not_an_admin` otherwise.
pub(crate) fn require_admin(caller: &Caller) -> Result<(), ApiError> {
    match caller.user.role {
        Role::PrimaryOwner | Role::Owner | Role::Admin => Ok(()),
        Role::Member => Err(ApiError::NotAnAdmin),
    }
}
