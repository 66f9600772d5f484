//! Ports: the interfaces the actors call and the engine implements. The actors
//! crate knows no SQL and no sockets; the engine plugs a [`Store`] in.

use async_trait::async_trait;

use crate::audit::AuditEntry;
use crate::billing::{ActiveMember, BillingReport};
use crate::calendar::{Day, Month};
use crate::domain::{Channel, ChannelKind, Message, Team, Token, User};
use crate::file::{File, FileFilter, FileShare};
use crate::ids::{ChannelId, FileId, TeamId, UserId, WebhookId};
use crate::jobs::{DeadJob, Job, ReadState};
use crate::reminder::Reminder;
use crate::ts::Ts;
use crate::web_auth::{BrowserSession, LoginLink};
use crate::webhook::Webhook;

/// Error of a storage operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (a channel name, a reaction, a member).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The row to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend failed or is unreachable; the write was not committed.
    #[error("storage backend failed: {0}")]
    Backend(String),
}

/// One change to the store. A writer hands the storage actor a list of these,
/// which commit together or not at all.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// Insert a team.
    InsertTeam(Team),
    /// Insert a user; `Conflict` when the name is taken in the team.
    InsertUser(User),
    /// Replace a user's name, profile, role and flags.
    UpdateUser(User),
    /// Insert a token.
    InsertToken(Token),
    /// Insert a conversation; `Conflict` when the name is taken in the team.
    InsertChannel(Channel),
    /// Replace a conversation's name, flags, topic and purpose; `Conflict` on a
    /// taken name.
    UpdateChannel(Channel),
    /// Add a member; `Conflict` when already a member.
    AddMember {
        /// Team of the conversation.
        team_id: TeamId,
        /// The conversation.
        channel_id: ChannelId,
        /// The new member.
        user_id: UserId,
        /// When they joined.
        joined: Ts,
    },
    /// Remove a member; `NotFound` when not a member.
    RemoveMember {
        /// Team of the conversation.
        team_id: TeamId,
        /// The conversation.
        channel_id: ChannelId,
        /// The member to remove.
        user_id: UserId,
    },
    /// Insert a message. A reply (its `thread_ts` differs from its `ts`) also
    /// raises the parent's reply count, sets its latest reply and marks the
    /// parent as a thread parent (`thread_ts = ts`).
    InsertMessage(Message),
    /// Replace a message's text, edit marker and extra fields; `NotFound` when
    /// the message is gone.
    UpdateMessage(Message),
    /// Delete a message and its reactions; a deleted reply lowers its parent's
    /// reply count. `NotFound` when the message is gone.
    DeleteMessage {
        /// Team of the conversation.
        team_id: TeamId,
        /// The conversation.
        channel_id: ChannelId,
        /// The message.
        ts: Ts,
    },
    /// Add a reaction; `Conflict` when the user already added it.
    AddReaction {
        /// Team of the conversation.
        team_id: TeamId,
        /// The conversation.
        channel_id: ChannelId,
        /// The message reacted to.
        ts: Ts,
        /// Emoji name without colons.
        name: String,
        /// The reacting user.
        user_id: UserId,
        /// When the reaction was added; orders reactions and their users.
        added: Ts,
    },
    /// Remove a reaction; `NotFound` when the user had not added it.
    RemoveReaction {
        /// Team of the conversation.
        team_id: TeamId,
        /// The conversation.
        channel_id: ChannelId,
        /// The message reacted to.
        ts: Ts,
        /// Emoji name without colons.
        name: String,
        /// The reacting user.
        user_id: UserId,
    },
    /// Insert a login link.
    InsertLoginLink(LoginLink),
    /// Mark a login link used; `NotFound` when it is unknown, already used or
    /// expired at `now`, so a link signs in at most one browser.
    UseLoginLink {
        /// Team of the link.
        team_id: TeamId,
        /// Hex SHA-256 of the link token text.
        hash: String,
        /// The time of use, compared with the link's expiry.
        now: Ts,
    },
    /// Insert a browser session.
    InsertBrowserSession(BrowserSession),
    /// Delete a browser session (sign-out); `NotFound` when it is gone.
    DeleteBrowserSession {
        /// Team of the session.
        team_id: TeamId,
        /// Hex SHA-256 of the cookie text.
        hash: String,
    },
    /// Mark every token of a user as revoked (deactivation). Succeeds when the
    /// user has no token.
    RevokeUserTokens {
        /// Team of the user.
        team_id: TeamId,
        /// The user.
        user_id: UserId,
    },
    /// Append an entry to the team's audit log; the store assigns its `id`, one
    /// above the team's highest.
    InsertAuditEntry(AuditEntry),
    /// Insert an incoming webhook; `Conflict` when the id exists.
    InsertWebhook(Webhook),
    /// Mark a webhook revoked; `NotFound` when it does not exist.
    RevokeWebhook {
        /// Team of the webhook.
        team_id: TeamId,
        /// The webhook.
        id: WebhookId,
    },
    /// Insert a file's metadata; `Conflict` when the id exists.
    InsertFile(File),
    /// Replace a file's metadata; `NotFound` when the file is gone.
    UpdateFile(File),
    /// Delete a file's metadata and its shares; `NotFound` when it is gone.
    /// The caller removes the bytes once no file refers to them.
    DeleteFile {
        /// Team of the file.
        team_id: TeamId,
        /// The file.
        file_id: FileId,
    },
    /// Record that a message shares a file into a conversation; `Conflict`
    /// when that message already shares it.
    ShareFile(FileShare),
    /// Add a job to the outbox, unsent. Written in the same write set as the
    /// change that caused it, so the job exists exactly when the change does.
    InsertJob(Job),
    /// Mark an outbox job as published to the queue. Marking a job that is
    /// already marked, or not in the outbox, changes nothing and succeeds, so
    /// two relays that published the same job both finish their batch.
    MarkJobSent {
        /// Team of the job.
        team_id: TeamId,
        /// The job.
        job_id: String,
    },
    /// Record that a job's handler finished; `Conflict` when it already had,
    /// which rolls back the handler's other writes in the same write set.
    FinishJob {
        /// Team of the job.
        team_id: TeamId,
        /// The job.
        job_id: String,
    },
    /// Move a job that failed every attempt to the dead-letter table.
    InsertDeadJob(DeadJob),
    /// Store a consumer's next offset in one partition of a queue topic.
    SetQueueOffset {
        /// Topic name (the job kind).
        topic: String,
        /// Partition number.
        partition: u32,
        /// Offset of the next record to read.
        offset: i64,
    },
    /// Count a new message as unread for each recipient whose read position is
    /// before it, and as a mention for those in `mentioned`.
    CountUnread {
        /// Team of the conversation.
        team_id: TeamId,
        /// The conversation.
        channel_id: ChannelId,
        /// The message.
        ts: Ts,
        /// Members other than the author.
        recipients: Vec<UserId>,
        /// Recipients the message mentions.
        mentioned: Vec<UserId>,
    },
    /// Move a member's read position to `ts` and recount their unread messages.
    MarkRead {
        /// Team of the conversation.
        team_id: TeamId,
        /// The conversation.
        channel_id: ChannelId,
        /// The member.
        user_id: UserId,
        /// The newest message they have read.
        ts: Ts,
    },
    /// Replace the conversations a member muted with `channels`; an empty list
    /// unmutes every conversation.
    SetMutedChannels {
        /// Team of the member.
        team_id: TeamId,
        /// The member.
        user_id: UserId,
        /// The muted conversations.
        channels: Vec<ChannelId>,
    },
    /// Record that a member was active on a UTC day (posted or opened a
    /// session). Recording the same (team, day, user) again changes nothing.
    RecordActivity {
        /// Team of the member.
        team_id: TeamId,
        /// The UTC day.
        day: Day,
        /// The member.
        user_id: UserId,
    },
    /// Store a team's billing report for its month, replacing an earlier one
    /// of the same month.
    PutBillingReport(BillingReport),
    /// Insert a reminder; `Conflict` when the id exists.
    InsertReminder(Reminder),
    /// Mark a reminder complete; `NotFound` when it is gone or complete
    /// already.
    CompleteReminder {
        /// Team of the reminder.
        team_id: TeamId,
        /// The reminder.
        reminder_id: String,
        /// When it was completed, in Unix seconds.
        complete_ts: i64,
    },
    /// Delete a reminder; `NotFound` when it is gone.
    DeleteReminder {
        /// Team of the reminder.
        team_id: TeamId,
        /// The reminder.
        reminder_id: String,
    },
    /// Mark a due reminder fired; `NotFound` when it is gone, complete or
    /// fired already, so that two schedulers never enqueue it twice.
    FireReminder {
        /// Team of the reminder.
        team_id: TeamId,
        /// The reminder.
        reminder_id: String,
    },
}

/// Which conversations a listing returns.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelFilter {
    /// Kinds to include.
    pub kinds: Vec<ChannelKind>,
    /// Leave archived conversations out.
    pub exclude_archived: bool,
    /// The viewer: private conversations are listed only when they are a member,
    /// and with `only_member` set, public ones too.
    pub viewer: UserId,
    /// List only conversations the viewer is a member of.
    pub only_member: bool,
}

/// A window of a conversation's history. `latest` and `oldest` bound the `ts`
/// range; `inclusive` says whether the bounds themselves are included.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HistoryRange {
    /// Upper bound; `None` means up to the newest message.
    pub latest: Option<Ts>,
    /// Lower bound; `None` means from the first message.
    pub oldest: Option<Ts>,
    /// Whether messages at exactly `latest` or `oldest` are included.
    pub inclusive: bool,
    /// Maximum number of messages returned.
    pub limit: usize,
}

/// A paging position inside a sorted listing: return rows whose key is
/// strictly greater than `after`.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<K> {
    /// Key of the last row of the previous page.
    pub after: Option<K>,
    /// Maximum number of rows.
    pub limit: usize,
}

/// The system of record. Every method names the team, so that a sharded backend
/// (Vitess with a hash vindex on `team_id`) routes each query to one shard.
///
/// Reads may run concurrently. All writes go through [`Store::commit`], which the
/// storage actor calls with one batch at a time.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Commits the batch in one transaction and returns one result per write set,
    /// in order. A write set that fails is rolled back alone (a savepoint) and
    /// the rest commit. When the transaction itself fails, every result is an
    /// error. On return, committed sets are durable (fsynced when durability is
    /// on).
    async fn commit(&self, batch: Vec<Vec<Write>>) -> Vec<Result<(), StoreError>>;

    /// Returns a team.
    async fn team(&self, team_id: &TeamId) -> Result<Option<Team>, StoreError>;

    /// Returns every team, oldest first.
    async fn teams(&self) -> Result<Vec<Team>, StoreError>;

    /// Returns the token with that hash in that team.
    async fn token(&self, team_id: &TeamId, hash: &str) -> Result<Option<Token>, StoreError>;

    /// Returns the login link with that hash in that team, used or not.
    async fn login_link(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<LoginLink>, StoreError>;

    /// Returns the browser session with that hash in that team.
    async fn browser_session(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<BrowserSession>, StoreError>;

    /// Returns a user.
    async fn user(&self, team_id: &TeamId, user_id: &UserId) -> Result<Option<User>, StoreError>;

    /// Returns a page of the team's users ordered by id.
    async fn users(&self, team_id: &TeamId, page: Page<UserId>) -> Result<Vec<User>, StoreError>;

    /// Returns the user with that e-mail address (compared case-insensitively).
    async fn user_by_email(
        &self,
        team_id: &TeamId,
        email: &str,
    ) -> Result<Option<User>, StoreError>;

    /// Returns the user with that name.
    async fn user_by_name(&self, team_id: &TeamId, name: &str) -> Result<Option<User>, StoreError>;

    /// Returns a conversation.
    async fn channel(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Channel>, StoreError>;

    /// Returns the conversation with that name (direct messages are named by a
    /// key built from their members' ids).
    async fn channel_by_name(
        &self,
        team_id: &TeamId,
        name: &str,
    ) -> Result<Option<Channel>, StoreError>;

    /// Returns a page of conversations ordered by id.
    async fn channels(
        &self,
        team_id: &TeamId,
        filter: &ChannelFilter,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError>;

    /// Returns a page of a conversation's member ids, ordered by id.
    async fn members(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        page: Page<UserId>,
    ) -> Result<Vec<UserId>, StoreError>;

    /// Returns the ids of every conversation the user is a member of.
    async fn member_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError>;

    /// Returns whether the user is a member of the conversation.
    async fn is_member(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<bool, StoreError>;

    /// Returns one message with its reactions.
    async fn message(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        ts: Ts,
    ) -> Result<Option<Message>, StoreError>;

    /// Returns top-level messages and thread parents in the range, newest first,
    /// with their reactions. Replies stay out of history, as in Slack.
    async fn history(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError>;

    /// Returns a thread, oldest first: the parent (when inside the range) and its
    /// replies, with their reactions.
    async fn replies(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        thread_ts: Ts,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError>;

    /// Returns a page of every conversation of the team (all kinds, archived
    /// ones too) ordered by id, for loading the team cache.
    async fn team_channels(
        &self,
        team_id: &TeamId,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError>;

    /// Returns a page of every membership of the team as (conversation, user)
    /// pairs ordered by conversation then user, for loading the team cache.
    async fn team_members(
        &self,
        team_id: &TeamId,
        page: Page<(ChannelId, UserId)>,
    ) -> Result<Vec<(ChannelId, UserId)>, StoreError>;
    /// Returns an incoming webhook, revoked or not.
    async fn webhook(
        &self,
        team_id: &TeamId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError>;

    /// Returns a file in any state.
    async fn file(&self, team_id: &TeamId, file_id: &FileId) -> Result<Option<File>, StoreError>;

    /// Returns one page of complete files that pass the filter, newest first,
    /// skipping `offset` of them, and the number of matching files in all.
    async fn files(
        &self,
        team_id: &TeamId,
        filter: &FileFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<File>, usize), StoreError>;

    /// Returns every share of a file, oldest first.
    async fn file_shares(
        &self,
        team_id: &TeamId,
        file_id: &FileId,
    ) -> Result<Vec<FileShare>, StoreError>;

    /// Returns how many files of the team refer to the bytes with this SHA-256.
    async fn blob_references(&self, team_id: &TeamId, sha256: &str) -> Result<usize, StoreError>;

    /// Returns the newest `ts` in the conversation, replies included.
    async fn last_ts(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Ts>, StoreError>;

    /// Returns a page of the team's audit log in ascending `id` order.
    async fn audit_entries(
        &self,
        team_id: &TeamId,
        page: Page<u64>,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Returns the highest audit entry `id` of the team, 0 when the log is empty.
    async fn last_audit_id(&self, team_id: &TeamId) -> Result<u64, StoreError>;

    /// Returns up to `limit` outbox jobs not yet published, oldest first,
    /// across all teams (the relay's scan).
    async fn unsent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// Returns whether a job's handler has finished.
    async fn is_job_done(&self, team_id: &TeamId, job_id: &str) -> Result<bool, StoreError>;

    /// Returns the stored next offset of a queue partition.
    async fn queue_offset(&self, topic: &str, partition: u32) -> Result<Option<i64>, StoreError>;

    /// Returns a team's dead jobs, oldest first.
    async fn dead_jobs(&self, team_id: &TeamId) -> Result<Vec<DeadJob>, StoreError>;

    /// Returns the conversations a member muted, ordered by id.
    async fn muted_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError>;

    /// Returns a member's read position and counters in a conversation.
    async fn read_state(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<Option<ReadState>, StoreError>;

    /// Returns the members with recorded activity in a month and the number
    /// of distinct days each was active, ordered by user id. Bots and
    /// deactivated users are included; the caller filters them.
    async fn active_members(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Vec<ActiveMember>, StoreError>;

    /// Returns the stored billing report of a team for a month.
    async fn billing_report(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Option<BillingReport>, StoreError>;

    /// Returns a reminder.
    async fn reminder(
        &self,
        team_id: &TeamId,
        reminder_id: &str,
    ) -> Result<Option<Reminder>, StoreError>;

    /// Returns every reminder a user created or receives, by due time, then id.
    async fn user_reminders(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<Reminder>, StoreError>;

    /// Returns up to `limit` reminders that are neither fired nor complete and
    /// due at `now` (Unix seconds) or earlier, by due time, across all teams
    /// (the reminder scheduler's scan).
    async fn due_reminders(&self, now: i64, limit: usize) -> Result<Vec<Reminder>, StoreError>;
}
