//! Errors returned to API clients, with Slack's error strings.

use std::fmt;

/// An error a Web API method or socket frame returns as `{"ok":false,"error":...}`.
///
/// Each variant is one of Slack's documented error strings, so client libraries
/// that branch on them keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// No token was given.
    NotAuthed,
    /// The token is unknown or revoked.
    InvalidAuth,
    /// The token's user is deactivated.
    AccountInactive,
    /// The method name is not one this node serves.
    UnknownMethod,
    /// A required argument is missing or malformed.
    InvalidArguments,
    /// The body could not be parsed as JSON.
    InvalidJson,
    /// The form body could not be parsed.
    InvalidFormData,
    /// The channel does not exist or the caller may not see it.
    ChannelNotFound,
    /// The caller is not a member of the conversation.
    NotInChannel,
    /// The conversation is archived.
    IsArchived,
    /// The conversation is already archived.
    AlreadyArchived,
    /// The conversation is not archived.
    NotArchived,
    /// The team's general channel cannot be archived or left.
    CantArchiveGeneral,
    /// The caller cannot leave the general channel.
    CantLeaveGeneral,
    /// The message text exceeds 40,000 characters.
    MsgTooLong,
    /// A message needs text, blocks or attachments.
    NoText,
    /// No message with that `ts` exists in the conversation.
    MessageNotFound,
    /// The thread parent does not exist.
    ThreadNotFound,
    /// Only the author may edit the message.
    CantUpdateMessage,
    /// Only the author may delete the message.
    CantDeleteMessage,
    /// The caller already added that reaction.
    AlreadyReacted,
    /// The caller has not added that reaction.
    NoReaction,
    /// The emoji name is not valid.
    InvalidName,
    /// A channel name is required.
    InvalidNameRequired,
    /// The channel name is longer than 80 characters.
    InvalidNameMaxlength,
    /// The channel name has characters Slack does not allow.
    InvalidNameSpecials,
    /// A channel with that name exists.
    NameTaken,
    /// The user does not exist.
    UserNotFound,
    /// One of the users does not exist.
    UsersNotFound,
    /// The user is already a member.
    AlreadyInChannel,
    /// A user cannot invite themselves.
    CantInviteSelf,
    /// A user cannot remove themselves.
    CantKickSelf,
    /// The caller may not do this.
    RestrictedAction,
    /// The `ts` argument is malformed.
    InvalidTs,
    /// The `latest` argument is malformed.
    InvalidTsLatest,
    /// The `oldest` argument is malformed.
    InvalidTsOldest,
    /// The pagination cursor is malformed.
    InvalidCursor,
    /// A `limit` argument is out of range.
    InvalidLimit,
    /// The topic or purpose is longer than 250 characters.
    TooLong,
    /// The e-mail address is not registered.
    UsersNotFoundByEmail,
    /// The socket ticket is unknown, used or expired.
    InvalidTicket,
    /// The storage backend or an actor failed; the cause is logged.
    InternalError,
    /// The node is stopping.
    ServiceUnavailable,
    /// A direct message needs at least one other user, and at most eight.
    InvalidUserCount,
    /// The user is not in the conversation.
    UserNotInChannel,
    /// The team does not exist.
    TeamNotFound,
    /// `users.setPresence` got a value other than `auto` or `away`.
    InvalidPresence,
    /// `dnd.setSnooze` got no `num_minutes`, or not a positive number.
    MissingDuration,
    /// `dnd.endSnooze` was called while no snooze runs.
    SnoozeNotActive,
    /// The method needs an admin or owner.
    NotAnAdmin,
    /// The method does not accept this kind of token (bot tokens on admin methods).
    NotAllowedTokenType,
    /// The target user is deactivated.
    UserDisabled,
    /// No file with that id exists, or the caller may not see it.
    FileNotFound,
    /// The file is larger than the node's configured limit.
    // NOTE: Slack's exact error string for an over-limit upload is not
    // confirmed; `file_too_large` is this node's choice.
    FileTooLarge,
    /// Only the uploader (or an admin) may delete the file.
    CantDeleteFile,
    /// `files.upload` got neither a `file` part nor `content`.
    NoFileData,
    /// `month` is not a month written `YYYY-MM` (Switchboard's own error).
    InvalidMonth,
    /// The billing report is being computed by a job; call again later
    /// (Switchboard's own error).
    ReportPending,
    /// A reminder's `time` is missing, not understood, in the past or too far
    /// ahead.
    InvalidTime,
    /// No reminder with that id exists, or the caller is neither its creator
    /// nor its recipient.
    ReminderNotFound,
    /// The reminder is complete already.
    CantComplete,
    /// Reminders cannot go to bot users.
    CannotAddBot,
    /// Guests cannot set reminders for other users.
    CannotAddOthers,
    /// A required argument, such as `reminder`, is missing.
    MissingArgument,
}

impl ApiError {
    /// Returns Slack's error string.
    pub fn code(self) -> &'static str {
        match self {
            ApiError::NotAuthed => "not_authed",
            ApiError::InvalidAuth => "invalid_auth",
            ApiError::AccountInactive => "account_inactive",
            ApiError::UnknownMethod => "unknown_method",
            ApiError::InvalidArguments => "invalid_arguments",
            ApiError::InvalidJson => "invalid_json",
            ApiError::InvalidFormData => "invalid_form_data",
            ApiError::ChannelNotFound => "channel_not_found",
            ApiError::NotInChannel => "not_in_channel",
            ApiError::IsArchived => "is_archived",
            ApiError::AlreadyArchived => "already_archived",
            ApiError::NotArchived => "not_archived",
            ApiError::CantArchiveGeneral => "cant_archive_general",
            ApiError::CantLeaveGeneral => "cant_leave_general",
            ApiError::MsgTooLong => "msg_too_long",
            ApiError::NoText => "no_text",
            ApiError::MessageNotFound => "message_not_found",
            ApiError::ThreadNotFound => "thread_not_found",
            ApiError::CantUpdateMessage => "cant_update_message",
            ApiError::CantDeleteMessage => "cant_delete_message",
            ApiError::AlreadyReacted => "already_reacted",
            ApiError::NoReaction => "no_reaction",
            ApiError::InvalidName => "invalid_name",
            ApiError::InvalidNameRequired => "invalid_name_required",
            ApiError::InvalidNameMaxlength => "invalid_name_maxlength",
            ApiError::InvalidNameSpecials => "invalid_name_specials",
            ApiError::NameTaken => "name_taken",
            ApiError::UserNotFound => "user_not_found",
            ApiError::UsersNotFound => "users_not_found",
            ApiError::AlreadyInChannel => "already_in_channel",
            ApiError::CantInviteSelf => "cant_invite_self",
            ApiError::CantKickSelf => "cant_kick_self",
            ApiError::RestrictedAction => "restricted_action",
            ApiError::InvalidTs => "invalid_ts",
            ApiError::InvalidTsLatest => "invalid_ts_latest",
            ApiError::InvalidTsOldest => "invalid_ts_oldest",
            ApiError::InvalidCursor => "invalid_cursor",
            ApiError::InvalidLimit => "invalid_limit",
            ApiError::TooLong => "too_long",
            ApiError::UsersNotFoundByEmail => "users_not_found",
            ApiError::InvalidTicket => "invalid_auth",
            ApiError::InternalError => "internal_error",
            ApiError::ServiceUnavailable => "service_unavailable",
            ApiError::InvalidUserCount => "invalid_user_count",
            ApiError::UserNotInChannel => "user_not_in_channel",
            ApiError::TeamNotFound => "team_not_found",
            ApiError::InvalidPresence => "invalid_presence",
            ApiError::MissingDuration => "missing_duration",
            ApiError::SnoozeNotActive => "snooze_not_active",
            ApiError::NotAnAdmin => "not_an_admin",
            ApiError::NotAllowedTokenType => "not_allowed_token_type",
            ApiError::UserDisabled => "user_disabled",
            ApiError::FileNotFound => "file_not_found",
            ApiError::FileTooLarge => "file_too_large",
            ApiError::CantDeleteFile => "cant_delete_file",
            ApiError::NoFileData => "no_file_data",
            ApiError::InvalidMonth => "invalid_month",
            ApiError::ReportPending => "report_pending",
            ApiError::InvalidTime => "invalid_time",
            ApiError::ReminderNotFound => "not_found",
            ApiError::CantComplete => "cant_complete",
            ApiError::CannotAddBot => "cannot_add_bot",
            ApiError::CannotAddOthers => "cannot_add_others",
            ApiError::MissingArgument => "missing_argument",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for ApiError {}
