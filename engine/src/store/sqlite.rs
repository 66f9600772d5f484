//! The embedded SQLite implementation of [`Store`], for single-node deployments
//! and tests.
//!
//! One read-write connection, behind a mutex, commits every batch, and a small
//! pool of read-only connections serves reads. In WAL mode, a read sees the
//! commits made before it started, and readers and the writer do not block each
//! other. All SQLite calls block, so every call runs in
//! `tokio::task::spawn_blocking`.

mod audit;
mod billing;
mod connection;
mod files;
mod jobs;
mod migrations;
mod reads;
mod reminders;
mod rows;
mod web_auth;
mod writes;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};
use switchboard_actors::audit::AuditEntry;
use switchboard_actors::billing::{ActiveMember, BillingReport};
use switchboard_actors::calendar::Month;
use switchboard_actors::domain::{Channel, Message, Team, Token, User};
use switchboard_actors::file::{File, FileFilter, FileShare};
use switchboard_actors::ids::{ChannelId, FileId, TeamId, UserId, WebhookId};
use switchboard_actors::jobs::{DeadJob, Job, ReadState};
use switchboard_actors::ports::{ChannelFilter, HistoryRange, Page, Store, StoreError, Write};
use switchboard_actors::reminder::Reminder;
use switchboard_actors::ts::Ts;
use switchboard_actors::web_auth::{BrowserSession, LoginLink};
use switchboard_actors::webhook::Webhook;
use tokio::sync::Semaphore;

use connection::{lock_connection, ReaderPool};

/// Number of read-only connections. Reads beyond this many at once wait
/// asynchronously for a permit before they take a blocking thread.
const READ_CONNECTIONS: usize = 4;

/// A [`Store`] kept in one SQLite database file.
pub struct SqliteStore {
    /// State shared with the blocking tasks that run the SQL.
    shared: Arc<Shared>,
}

/// The connections of one open database.
struct Shared {
    /// Path of the database file, for logs and errors.
    path: PathBuf,
    /// The only connection that writes. The mutex makes commits run one at a
    /// time, as SQLite allows a single writer anyway.
    writer: Mutex<Connection>,
    /// Read-only connections for the read methods.
    readers: ReaderPool,
    /// One permit per read connection. A read holds one while its blocking task
    /// runs, so at most `READ_CONNECTIONS` reads occupy blocking threads at once.
    read_permits: Arc<Semaphore>,
}

/// Wraps a rusqlite error in `StoreError::Backend` with what was being done.
fn backend_error(context: &str, error: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("{context}: {error}"))
}

impl SqliteStore {
    /// Opens the database at `path`, creating the file and its parent directory
    /// when missing, and applies pending schema migrations. Blocks the calling
    /// thread while it does, so call it at startup or inside `spawn_blocking`.
    ///
    /// With `durable`, every commit is fsynced before [`Store::commit`] returns.
    /// Without it, commits survive a crash of the process but not a power loss
    /// or OS crash. Fails with `Backend` when the file cannot be opened, is not a
    /// SQLite database, cannot use WAL (such as `:memory:`), or has a schema
    /// version newer than this binary supports.
    pub fn open(path: &Path, durable: bool) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| {
                StoreError::Backend(format!(
                    "failed to create the database directory {}: {error}",
                    parent.display()
                ))
            })?;
        }

        let mut writer = connection::open_writer(path, durable)?;
        let schema_version = migrations::migrate(&mut writer, path)?;
        let readers = ReaderPool::open(path, READ_CONNECTIONS)?;

        tracing::info!(
            path = %path.display(),
            schema_version,
            durable,
            read_connections = READ_CONNECTIONS,
            "opened SQLite store"
        );
        Ok(SqliteStore {
            shared: Arc::new(Shared {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers,
                read_permits: Arc::new(Semaphore::new(READ_CONNECTIONS)),
            }),
        })
    }

    /// Returns the path of the database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Runs `read` in a blocking task, inside a read transaction on a pooled
    /// read-only connection.
    async fn read<T, F>(&self, read: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.shared.read_permits)
            .acquire_owned()
            .await
            .map_err(|error| {
                StoreError::Backend(format!("SQLite read permits are closed: {error}"))
            })?;
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let result = shared.readers.with_connection(|connection| {
                // One transaction per read, so a read that runs several
                // queries (messages, then their reactions) sees one snapshot.
                // Dropping it ends the snapshot.
                let snapshot = connection
                    .unchecked_transaction()
                    .map_err(|error| backend_error("failed to begin a read transaction", error))?;
                read(&snapshot)
            });
            drop(permit);
            result
        })
        .await
        .unwrap_or_else(|error| {
            Err(StoreError::Backend(format!(
                "SQLite read task failed: {error}"
            )))
        })
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SqliteStore")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

/// Commits a batch in one `BEGIN IMMEDIATE` transaction, each write set inside
/// its own savepoint. A failed set is rolled back to its savepoint and the other
/// sets still commit. When the transaction cannot begin or commit, or a
/// savepoint cannot be released or rolled back, nothing is committed and every
/// result is `Backend`.
fn commit_batch(
    connection: &mut Connection,
    path: &Path,
    batch: &[Vec<Write>],
) -> Vec<Result<(), StoreError>> {
    let fail_all = |stage: &str, error: rusqlite::Error| {
        tracing::error!(
            path = %path.display(),
            write_sets = batch.len(),
            %error,
            "SQLite commit failed at {stage}, so no write set of the batch was committed"
        );
        let error = StoreError::Backend(format!("{stage} failed, nothing committed: {error}"));
        vec![Err(error); batch.len()]
    };

    if batch.is_empty() {
        return Vec::new();
    }
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate)
    {
        Ok(transaction) => transaction,
        Err(error) => return fail_all("BEGIN IMMEDIATE", error),
    };

    let mut results = Vec::with_capacity(batch.len());
    for (index, writes) in batch.iter().enumerate() {
        let savepoint = match transaction.savepoint() {
            Ok(savepoint) => savepoint,
            Err(error) => return fail_all("SAVEPOINT", error),
        };
        match writes::apply_write_set(&savepoint, writes) {
            Ok(()) => {
                if let Err(error) = savepoint.commit() {
                    return fail_all("RELEASE", error);
                }
                results.push(Ok(()));
            }
            Err(error) => {
                // Because the savepoint's drop behavior is rollback, finish()
                // runs ROLLBACK TO and then RELEASE.
                if let Err(rollback_error) = savepoint.finish() {
                    return fail_all("ROLLBACK TO", rollback_error);
                }
                log_rejected_write_set(path, index, &error);
                results.push(Err(error));
            }
        }
    }

    if let Err(error) = transaction.commit() {
        return fail_all("COMMIT", error);
    }
    results
}

/// Logs a write set that was rolled back. `Conflict` and `NotFound` are
/// expected outcomes that the caller reports to its client, so only `Backend`
/// is a warning.
fn log_rejected_write_set(path: &Path, index: usize, error: &StoreError) {
    match error {
        StoreError::Backend(_) => {
            tracing::warn!(path = %path.display(), write_set = index, %error, "SQLite write set failed and was rolled back");
        }
        StoreError::Conflict(_) | StoreError::NotFound(_) => {
            tracing::debug!(path = %path.display(), write_set = index, %error, "SQLite write set rejected and rolled back");
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, batch: Vec<Vec<Write>>) -> Vec<Result<(), StoreError>> {
        let shared = Arc::clone(&self.shared);
        let set_count = batch.len();
        let joined = tokio::task::spawn_blocking(move || {
            let mut writer = lock_connection(&shared.writer);
            commit_batch(&mut writer, &shared.path, &batch)
        })
        .await;

        joined.unwrap_or_else(|error| {
            // A panic inside the task drops the transaction, which rolls it back.
            tracing::error!(path = %self.shared.path.display(), %error, "SQLite commit task failed");
            let error = StoreError::Backend(format!("SQLite commit task failed, nothing committed: {error}"));
            vec![Err(error); set_count]
        })
    }

    async fn team(&self, team_id: &TeamId) -> Result<Option<Team>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| reads::team(connection, &team_id))
            .await
    }

    async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        self.read(reads::teams).await
    }

    async fn token(&self, team_id: &TeamId, hash: &str) -> Result<Option<Token>, StoreError> {
        let team_id = team_id.clone();
        let hash = hash.to_owned();
        self.read(move |connection| reads::token(connection, &team_id, &hash))
            .await
    }

    async fn login_link(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<LoginLink>, StoreError> {
        let team_id = team_id.clone();
        let hash = hash.to_owned();
        self.read(move |connection| web_auth::login_link(connection, &team_id, &hash))
            .await
    }

    async fn browser_session(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<BrowserSession>, StoreError> {
        let team_id = team_id.clone();
        let hash = hash.to_owned();
        self.read(move |connection| web_auth::browser_session(connection, &team_id, &hash))
            .await
    }

    async fn user(&self, team_id: &TeamId, user_id: &UserId) -> Result<Option<User>, StoreError> {
        let team_id = team_id.clone();
        let user_id = user_id.clone();
        self.read(move |connection| reads::user(connection, &team_id, &user_id))
            .await
    }

    async fn users(&self, team_id: &TeamId, page: Page<UserId>) -> Result<Vec<User>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| reads::users(connection, &team_id, &page))
            .await
    }

    async fn user_by_email(
        &self,
        team_id: &TeamId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        let team_id = team_id.clone();
        let email = email.to_owned();
        self.read(move |connection| reads::user_by_email(connection, &team_id, &email))
            .await
    }

    async fn user_by_name(&self, team_id: &TeamId, name: &str) -> Result<Option<User>, StoreError> {
        let team_id = team_id.clone();
        let name = name.to_owned();
        self.read(move |connection| reads::user_by_name(connection, &team_id, &name))
            .await
    }

    async fn channel(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Channel>, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        self.read(move |connection| reads::channel(connection, &team_id, &channel_id))
            .await
    }

    async fn channel_by_name(
        &self,
        team_id: &TeamId,
        name: &str,
    ) -> Result<Option<Channel>, StoreError> {
        let team_id = team_id.clone();
        let name = name.to_owned();
        self.read(move |connection| reads::channel_by_name(connection, &team_id, &name))
            .await
    }

    async fn channels(
        &self,
        team_id: &TeamId,
        filter: &ChannelFilter,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError> {
        let team_id = team_id.clone();
        let filter = filter.clone();
        self.read(move |connection| reads::channels(connection, &team_id, &filter, &page))
            .await
    }

    async fn members(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        page: Page<UserId>,
    ) -> Result<Vec<UserId>, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        self.read(move |connection| reads::members(connection, &team_id, &channel_id, &page))
            .await
    }

    async fn team_channels(
        &self,
        team_id: &TeamId,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| reads::team_channels(connection, &team_id, &page))
            .await
    }

    async fn team_members(
        &self,
        team_id: &TeamId,
        page: Page<(ChannelId, UserId)>,
    ) -> Result<Vec<(ChannelId, UserId)>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| reads::team_members(connection, &team_id, &page))
            .await
    }

    async fn member_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError> {
        let team_id = team_id.clone();
        let user_id = user_id.clone();
        self.read(move |connection| reads::member_channels(connection, &team_id, &user_id))
            .await
    }

    async fn is_member(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<bool, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        let user_id = user_id.clone();
        self.read(move |connection| reads::is_member(connection, &team_id, &channel_id, &user_id))
            .await
    }

    async fn message(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        ts: Ts,
    ) -> Result<Option<Message>, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        self.read(move |connection| reads::message(connection, &team_id, &channel_id, ts))
            .await
    }

    async fn history(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        self.read(move |connection| reads::history(connection, &team_id, &channel_id, &range))
            .await
    }

    async fn replies(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        thread_ts: Ts,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        self.read(move |connection| {
            reads::replies(connection, &team_id, &channel_id, thread_ts, &range)
        })
        .await
    }

    async fn webhook(
        &self,
        team_id: &TeamId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        let team_id = team_id.clone();
        let id = id.clone();
        self.read(move |connection| files::webhook(connection, &team_id, &id))
            .await
    }

    async fn file(&self, team_id: &TeamId, file_id: &FileId) -> Result<Option<File>, StoreError> {
        let team_id = team_id.clone();
        let file_id = file_id.clone();
        self.read(move |connection| files::file(connection, &team_id, &file_id))
            .await
    }

    async fn files(
        &self,
        team_id: &TeamId,
        filter: &FileFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<File>, usize), StoreError> {
        let team_id = team_id.clone();
        let filter = filter.clone();
        self.read(move |connection| files::files(connection, &team_id, &filter, offset, limit))
            .await
    }

    async fn file_shares(
        &self,
        team_id: &TeamId,
        file_id: &FileId,
    ) -> Result<Vec<FileShare>, StoreError> {
        let team_id = team_id.clone();
        let file_id = file_id.clone();
        self.read(move |connection| files::file_shares(connection, &team_id, &file_id))
            .await
    }

    async fn blob_references(&self, team_id: &TeamId, sha256: &str) -> Result<usize, StoreError> {
        let team_id = team_id.clone();
        let sha256 = sha256.to_owned();
        self.read(move |connection| files::blob_references(connection, &team_id, &sha256))
            .await
    }

    async fn last_ts(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Ts>, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        self.read(move |connection| reads::last_ts(connection, &team_id, &channel_id))
            .await
    }

    async fn audit_entries(
        &self,
        team_id: &TeamId,
        page: Page<u64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| audit::entries(connection, &team_id, &page))
            .await
    }

    async fn last_audit_id(&self, team_id: &TeamId) -> Result<u64, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| audit::last_id(connection, &team_id))
            .await
    }

    async fn unsent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.read(move |connection| jobs::unsent_jobs(connection, limit))
            .await
    }

    async fn is_job_done(&self, team_id: &TeamId, job_id: &str) -> Result<bool, StoreError> {
        let team_id = team_id.clone();
        let job_id = job_id.to_owned();
        self.read(move |connection| jobs::is_done(connection, &team_id, &job_id))
            .await
    }

    async fn queue_offset(&self, topic: &str, partition: u32) -> Result<Option<i64>, StoreError> {
        let topic = topic.to_owned();
        self.read(move |connection| jobs::queue_offset(connection, &topic, partition))
            .await
    }

    async fn dead_jobs(&self, team_id: &TeamId) -> Result<Vec<DeadJob>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| jobs::dead_jobs(connection, &team_id))
            .await
    }

    async fn muted_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError> {
        let team_id = team_id.clone();
        let user_id = user_id.clone();
        self.read(move |connection| jobs::muted_channels(connection, &team_id, &user_id))
            .await
    }

    async fn read_state(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<Option<ReadState>, StoreError> {
        let team_id = team_id.clone();
        let channel_id = channel_id.clone();
        let user_id = user_id.clone();
        self.read(move |connection| jobs::read_state(connection, &team_id, &channel_id, &user_id))
            .await
    }

    async fn active_members(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Vec<ActiveMember>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| billing::active_members(connection, &team_id, month))
            .await
    }

    async fn billing_report(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Option<BillingReport>, StoreError> {
        let team_id = team_id.clone();
        self.read(move |connection| billing::report(connection, &team_id, month))
            .await
    }

    async fn reminder(
        &self,
        team_id: &TeamId,
        reminder_id: &str,
    ) -> Result<Option<Reminder>, StoreError> {
        let team_id = team_id.clone();
        let reminder_id = reminder_id.to_owned();
        self.read(move |connection| reminders::reminder(connection, &team_id, &reminder_id))
            .await
    }

    async fn user_reminders(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<Reminder>, StoreError> {
        let team_id = team_id.clone();
        let user_id = user_id.clone();
        self.read(move |connection| reminders::user_reminders(connection, &team_id, &user_id))
            .await
    }

    async fn due_reminders(&self, now: i64, limit: usize) -> Result<Vec<Reminder>, StoreError> {
        self.read(move |connection| reminders::due_reminders(connection, now, limit))
            .await
    }
}
