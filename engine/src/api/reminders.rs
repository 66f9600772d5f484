//! The `reminders.*` methods: `add`, `list`, `info`, `complete` and `delete`.
//! A reminder is visible only to its creator and its recipient. For anyone
//! else it does not exist (`not_found`). Like Slack, these methods take user
//! tokens only. The scheduler (`jobs::scheduler`) delivers due reminders.

use serde_json::{json, Value};

use switchboard_actors::domain::{validate_message_text, TokenKind};
use switchboard_actors::ids::UserId;
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::reminder::Reminder;
use switchboard_actors::ts::Ts;
use switchboard_actors::ApiError;

use super::params::Params;
use super::reminder_time::parse_due_time;
use super::{fields, internal, Api, Caller, MethodResult};

/// Rejects bot tokens, as Slack's reminder methods do.
fn require_user_token(caller: &Caller) -> Result<(), ApiError> {
    if caller.kind == TokenKind::Bot {
        return Err(ApiError::NotAllowedTokenType);
    }
    Ok(())
}

/// Returns the current time in Unix seconds.
fn now_secs() -> i64 {
    i64::try_from(Ts::now().seconds()).unwrap_or(i64::MAX)
}

/// Loads the reminder named by the `reminder` argument, if the caller may
/// see it.
async fn visible_reminder(
    api: &Api,
    caller: &Caller,
    params: &Params,
) -> Result<Reminder, ApiError> {
    let reminder_id = params
        .str("reminder")
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .ok_or(ApiError::MissingArgument)?;
    api.hub
        .store()
        .reminder(caller.team_id(), &reminder_id)
        .await
        .map_err(internal("reminder lookup"))?
        .filter(|reminder| reminder.is_visible_to(&caller.user.id))
        .ok_or(ApiError::ReminderNotFound)
}

/// Resolves the recipient: the `user` argument, or the caller without one.
async fn recipient(api: &Api, caller: &Caller, params: &Params) -> Result<UserId, ApiError> {
    let has_user = params.str("user").is_some_and(|id| !id.trim().is_empty());
    if !has_user {
        return Ok(caller.user.id.clone());
    }
    let user_id = params.user("user")?;
    if user_id == caller.user.id {
        return Ok(user_id);
    }
    if caller.user.role.is_guest() {
        return Err(ApiError::CannotAddOthers);
    }
    let user = api
        .hub
        .store()
        .user(caller.team_id(), &user_id)
        .await
        .map_err(internal("user lookup"))?
        .filter(|user| !user.deleted)
        .ok_or(ApiError::UserNotFound)?;
    if user.is_bot {
        return Err(ApiError::CannotAddBot);
    }
    Ok(user.id)
}

/// `reminders.add`: `text`, `time` (see `reminder_time`), and optionally
/// `user`, a member of the caller's team who receives it.
pub async fn add(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    require_user_token(caller)?;
    let text = params.str("text").unwrap_or_default().trim().to_owned();
    if text.is_empty() {
        return Err(ApiError::NoText);
    }
    // NOTE: recurring reminders are not modelled, so a `recurrence` argument
    // is rejected rather than ignored.
    if params.get("recurrence").is_some() {
        return Err(ApiError::InvalidArguments);
    }
    let now = now_secs();
    let time = params
        .str("time")
        .and_then(|time| parse_due_time(&time, now))
        .ok_or(ApiError::InvalidTime)?;
    let user = recipient(api, caller, params).await?;

    let reminder = Reminder {
        id: Reminder::generate_id(),
        team_id: caller.team_id().clone(),
        creator: caller.user.id.clone(),
        user,
        text,
        time,
        complete_ts: 0,
        fired: false,
        created: Ts::now(),
    };
    // The delivered message must fit a message's limit.
    validate_message_text(&reminder.message_text())?;
    api.hub
        .write(vec![Write::InsertReminder(reminder.clone())])
        .await
        .map_err(internal("reminder insert"))?;
    tracing::info!(team = %reminder.team_id, reminder = %reminder.id, creator = %reminder.creator, user = %reminder.user, time = reminder.time, "reminder added");
    fields(json!({ "reminder": reminder.to_api() }))
}

/// `reminders.list`: every reminder the caller created or receives.
pub async fn list(api: &Api, caller: &Caller) -> MethodResult {
    require_user_token(caller)?;
    let reminders = api
        .hub
        .store()
        .user_reminders(caller.team_id(), &caller.user.id)
        .await
        .map_err(internal("reminder list"))?;
    let reminders: Vec<Value> = reminders.iter().map(Reminder::to_api).collect();
    fields(json!({ "reminders": reminders }))
}

/// `reminders.info`: one reminder.
pub async fn info(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    require_user_token(caller)?;
    let reminder = visible_reminder(api, caller, params).await?;
    fields(json!({ "reminder": reminder.to_api() }))
}

/// `reminders.complete`: marks a reminder complete, or fails with
/// `cant_complete` when it is already. A complete reminder that is not due yet never fires.
pub async fn complete(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    require_user_token(caller)?;
    let reminder = visible_reminder(api, caller, params).await?;
    if reminder.complete_ts != 0 {
        return Err(ApiError::CantComplete);
    }
    let write = Write::CompleteReminder {
        team_id: reminder.team_id.clone(),
        reminder_id: reminder.id.clone(),
        complete_ts: now_secs(),
    };
    match api.hub.write(vec![write]).await {
        Ok(()) => {}
        // Completed or deleted by another request in the meantime.
        Err(StoreError::NotFound(_)) => {
            visible_reminder(api, caller, params).await?;
            return Err(ApiError::CantComplete);
        }
        Err(error) => return Err(internal("reminder complete")(error)),
    }
    tracing::info!(team = %reminder.team_id, reminder = %reminder.id, user = %caller.user.id, "reminder completed");
    fields(json!({}))
}

/// `reminders.delete`: deletes a reminder. A deleted reminder that is not due
/// yet never fires.
pub async fn delete(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    require_user_token(caller)?;
    let reminder = visible_reminder(api, caller, params).await?;
    let write = Write::DeleteReminder {
        team_id: reminder.team_id.clone(),
        reminder_id: reminder.id.clone(),
    };
    match api.hub.write(vec![write]).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => return Err(ApiError::ReminderNotFound),
        Err(error) => return Err(internal("reminder delete")(error)),
    }
    tracing::info!(team = %reminder.team_id, reminder = %reminder.id, user = %caller.user.id, "reminder deleted");
    fields(json!({}))
}
