//! Ports: the interfaces the actors call and the engine implements. The actors
//! crate knows no SQL and no sockets; the engine plugs a [`Store`] in.

use async_trait::async_trait;

use crate::domain::{Channel, ChannelKind, Message, Team, Token, User};
use crate::ids::{ChannelId, TeamId, UserId};
use crate::jobs::{DeadJob, Job, ReadState};
use crate::ts::Ts;

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
    /// Add a job to the outbox, unsent. Written in the same write set as the
    /// change that caused it, so the job exists exactly when the change does.
    InsertJob(Job),
    /// Mark an outbox job as published to the queue; `NotFound` when the job
    /// is not in the outbox.
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

    /// Returns the newest `ts` in the conversation, replies included.
    async fn last_ts(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Ts>, StoreError>;

    /// Returns up to `limit` outbox jobs not yet published, oldest first,
    /// across all teams (the relay's scan).
    async fn unsent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// Returns whether a job's handler has finished.
    async fn is_job_done(&self, team_id: &TeamId, job_id: &str) -> Result<bool, StoreError>;

    /// Returns the stored next offset of a queue partition.
    async fn queue_offset(&self, topic: &str, partition: u32) -> Result<Option<i64>, StoreError>;

    /// Returns a team's dead jobs, oldest first.
    async fn dead_jobs(&self, team_id: &TeamId) -> Result<Vec<DeadJob>, StoreError>;

    /// Returns a member's read position and counters in a conversation.
    async fn read_state(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<Option<ReadState>, StoreError>;
}
