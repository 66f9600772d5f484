//! The MySQL implementation of [`Store`], for deployments where the system of
//! record is a MySQL or MariaDB server, or Vitess in front of many of them.
//!
//! A `mysql_async` connection pool serves reads and commits. The storage actor
//! calls [`Store::commit`] with one batch at a time, and each batch is one
//! transaction. Every statement names its team, so under Vitess each one is
//! routed to the shard of that team (see `docs/vitess.md`).
//!
//! A commit first runs the batch without savepoints, writing runs of plain
//! message inserts as multi-row `INSERT`s, because a savepoint costs two extra
//! round trips per write set. When any write set fails, that transaction is
//! rolled back and the batch runs again with one savepoint per write set, so the
//! results are those of the SQLite store: a failed set is rolled back alone.

mod audit;
mod billing;
mod files;
mod jobs;
mod migrations;
mod reads;
mod reminders;
mod rows;
mod web_auth;
mod writes;

use std::fmt;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, TxOpts};
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

use crate::store::url::{mask_password, MysqlUrl};
use writes::WriteFailure;

/// Prepared statements each pooled connection keeps. The commit path uses one
/// multi-row insert per power of two up to `writes::MAX_ROWS_PER_INSERT`, and
/// every other statement has fixed text, so this covers all of them.
const STATEMENT_CACHE_SIZE: usize = 128;

/// Runs a read on a pooled connection, as `read_retrying!(store, subject,
/// |connection| future)`. When the connection turns out to be broken (the
/// server restarted since it was pooled), the read runs once more on a new
/// connection, which is safe because a read changes nothing.
macro_rules! read_retrying {
    ($store:ident, $subject:expr, |$connection:ident| $read:expr) => {{
        let mut attempt = 1;
        loop {
            let result = match $store.pool.get_conn().await {
                Ok(mut pooled) => {
                    let $connection = &mut pooled;
                    $read.await
                }
                Err(error) => Err(error),
            };
            match result {
                Ok(value) => break Ok(value),
                Err(error) if is_connection_error(&error) && attempt == 1 => attempt += 1,
                Err(error) => break Err($store.read_error($subject, error)),
            }
        }
    }};
}

/// A [`Store`] in a MySQL or MariaDB database.
pub struct MysqlStore {
    /// The connection pool.
    pool: Pool,
    /// The URL with its password masked, for logs and errors.
    masked_url: String,
}

/// The failure of a whole batch. Nothing of it was committed, except perhaps when
/// `stage` is `COMMIT`, where the server may have committed before the
/// connection broke.
struct BatchFailure {
    /// The statement or step that failed.
    stage: &'static str,
    /// The driver's error.
    error: mysql_async::Error,
}

impl BatchFailure {
    /// Returns whether running the batch again on another connection is safe and
    /// may succeed: the connection broke before `COMMIT` was sent, so the server
    /// rolled the transaction back.
    fn is_retryable(&self) -> bool {
        self.stage != "COMMIT" && is_connection_error(&self.error)
    }
}

/// Returns whether the error is a broken or refused connection rather than an
/// error the server returned for a statement.
fn is_connection_error(error: &mysql_async::Error) -> bool {
    matches!(
        error,
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_)
    )
}

/// Wraps a driver error in `StoreError::Backend` with what was being done.
/// Driver messages name the user and host but not the password.
fn backend_error(context: &str, error: mysql_async::Error) -> StoreError {
    StoreError::Backend(format!("{context}: {error}"))
}

impl MysqlStore {
    /// Connects to the database of `url` with a pool of at most `pool_size`
    /// connections, then applies pending migrations (or, with `?migrate=false`,
    /// only checks the schema version).
    ///
    /// Fails with `Backend`, naming the URL with its password masked, when the
    /// server is unreachable, rejects the login, or records a schema version
    /// newer than this binary supports.
    pub async fn open(url: &MysqlUrl, pool_size: usize) -> Result<MysqlStore, StoreError> {
        let masked_url = mask_password(&url.driver_url);
        let opts = Opts::from_url(&url.driver_url).map_err(|error| {
            StoreError::Backend(format!("invalid MySQL URL {masked_url}: {error}"))
        })?;
        let pool_size = pool_size.max(1);
        let constraints = PoolConstraints::new(pool_size, pool_size)
            .expect("min equals max and both are at least 1");
        let opts = OptsBuilder::from_opts(opts)
            // Without reset_connection, a connection returned to the pool keeps
            // its prepared statements and its `SET NAMES`. The driver's
            // default resets each one, so every query was prepared again.
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    .with_reset_connection(false),
            )
            // UPDATE returns the rows it matched, not only those it changed, so
            // that rewriting a row with equal values is not `NotFound`.
            .client_found_rows(true)
            .stmt_cache_size(STATEMENT_CACHE_SIZE)
            .init(vec!["SET NAMES utf8mb4 COLLATE utf8mb4_bin"]);
        let pool = Pool::new(opts);

        let mut connection = pool.get_conn().await.map_err(|error| {
            StoreError::Backend(format!(
                "failed to connect to MySQL at {masked_url}: {error}"
            ))
        })?;
        let schema_version = if url.migrate {
            migrations::migrate(&mut connection, &masked_url).await?
        } else {
            migrations::check_version(&mut connection, &masked_url).await?
        };
        warn_unless_durable(&mut connection, &masked_url).await;
        drop(connection);

        tracing::info!(
            url = %masked_url,
            schema_version,
            pool_size,
            "opened MySQL store"
        );
        Ok(MysqlStore { pool, masked_url })
    }

    /// Returns the URL of the database, with its password masked.
    pub fn masked_url(&self) -> &str {
        &self.masked_url
    }

    /// Closes every pooled connection.
    pub async fn close(self) {
        if let Err(error) = self.pool.disconnect().await {
            tracing::warn!(url = %self.masked_url, %error, "closing the MySQL pool failed");
        }
    }

    fn read_error(&self, subject: &str, error: mysql_async::Error) -> StoreError {
        StoreError::Backend(format!(
            "failed to read {subject} from MySQL at {}: {error}",
            self.masked_url
        ))
    }

    /// Commits a batch (see the module docs), running it once more on a new
    /// connection when the first connection broke before `COMMIT`.
    async fn commit_batch(&self, batch: &[Vec<Write>]) -> Vec<Result<(), StoreError>> {
        let mut attempt = 1;
        loop {
            match self.try_commit(batch).await {
                Ok(results) => return results,
                Err(failure) if failure.is_retryable() && attempt == 1 => {
                    tracing::warn!(
                        url = %self.masked_url,
                        stage = failure.stage,
                        error = %failure.error,
                        "MySQL connection broke during a commit that was rolled back; retrying the batch on a new connection"
                    );
                    attempt += 1;
                }
                Err(failure) => {
                    let outcome = if failure.stage == "COMMIT" {
                        "the server may or may not have committed the batch"
                    } else {
                        "no write set of the batch was committed"
                    };
                    tracing::error!(
                        url = %self.masked_url,
                        write_sets = batch.len(),
                        stage = failure.stage,
                        error = %failure.error,
                        "MySQL commit failed, so {outcome}"
                    );
                    let error = StoreError::Backend(format!(
                        "MySQL commit failed at {}: {}",
                        failure.stage, failure.error
                    ));
                    return vec![Err(error); batch.len()];
                }
            }
        }
    }

    /// Runs the batch without savepoints and, when a write set fails, again
    /// with one savepoint per write set.
    async fn try_commit(
        &self,
        batch: &[Vec<Write>],
    ) -> Result<Vec<Result<(), StoreError>>, BatchFailure> {
        let fail = |stage| move |error| BatchFailure { stage, error };
        let mut connection = self.pool.get_conn().await.map_err(fail("connect"))?;

        let mut transaction = connection
            .start_transaction(TxOpts::default())
            .await
            .map_err(fail("BEGIN"))?;
        match writes::apply_batch_unguarded(&mut transaction, batch).await {
            Ok(()) => {
                transaction.commit().await.map_err(fail("COMMIT"))?;
                return Ok(vec![Ok(()); batch.len()]);
            }
            Err(WriteFailure::Connection(error)) => return Err(fail("write")(error)),
            Err(WriteFailure::Rejected(error)) => {
                tracing::debug!(url = %self.masked_url, %error, "a write set of the batch failed, so the batch runs again with a savepoint per write set");
                transaction.rollback().await.map_err(fail("ROLLBACK"))?;
            }
        }

        let mut transaction = connection
            .start_transaction(TxOpts::default())
            .await
            .map_err(fail("BEGIN"))?;
        let mut results = Vec::with_capacity(batch.len());
        for (index, writes) in batch.iter().enumerate() {
            transaction
                .query_drop("SAVEPOINT write_set")
                .await
                .map_err(fail("SAVEPOINT"))?;
            match writes::apply_write_set(&mut transaction, writes).await {
                Ok(()) => {
                    transaction
                        .query_drop("RELEASE SAVEPOINT write_set")
                        .await
                        .map_err(fail("RELEASE SAVEPOINT"))?;
                    results.push(Ok(()));
                }
                Err(WriteFailure::Connection(error)) => return Err(fail("write")(error)),
                Err(WriteFailure::Rejected(error)) => {
                    // A deadlock rolls back the whole transaction, and then the
                    // savepoint is gone, so this fails the batch.
                    transaction
                        .query_drop("ROLLBACK TO SAVEPOINT write_set")
                        .await
                        .map_err(fail("ROLLBACK TO SAVEPOINT"))?;
                    log_rejected_write_set(&self.masked_url, index, &error);
                    results.push(Err(error));
                }
            }
        }
        transaction.commit().await.map_err(fail("COMMIT"))?;
        Ok(results)
    }
}

/// Logs a write set that was rolled back. `Conflict` and `NotFound` are expected
/// outcomes that the caller reports to its client, so only `Backend` is a
/// warning.
fn log_rejected_write_set(url: &str, index: usize, error: &StoreError) {
    match error {
        StoreError::Backend(_) => {
            tracing::warn!(url, write_set = index, %error, "MySQL write set failed and was rolled back");
        }
        StoreError::Conflict(_) | StoreError::NotFound(_) => {
            tracing::debug!(url, write_set = index, %error, "MySQL write set rejected and rolled back");
        }
    }
}

/// Warns when InnoDB does not flush its log at every commit, because then an
/// acknowledged message can be lost when the server's machine crashes. The
/// setting belongs to the server, so the node cannot change it.
async fn warn_unless_durable(connection: &mut Conn, masked_url: &str) {
    let setting: Result<Option<String>, _> = connection
        .query_first("SELECT @@GLOBAL.innodb_flush_log_at_trx_commit")
        .await;
    match setting {
        Ok(Some(value)) if value == "1" => {}
        Ok(value) => tracing::warn!(
            url = masked_url,
            innodb_flush_log_at_trx_commit = ?value,
            "the MySQL server does not flush InnoDB's log at every commit, so acknowledged messages can be lost in a server crash; set innodb_flush_log_at_trx_commit=1"
        ),
        Err(error) => {
            tracing::warn!(url = masked_url, %error, "failed to read innodb_flush_log_at_trx_commit")
        }
    }
}

impl fmt::Debug for MysqlStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("MysqlStore")
            .field("url", &self.masked_url)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for MysqlStore {
    async fn commit(&self, batch: Vec<Vec<Write>>) -> Vec<Result<(), StoreError>> {
        if batch.is_empty() {
            return Vec::new();
        }
        self.commit_batch(&batch).await
    }

    async fn team(&self, team_id: &TeamId) -> Result<Option<Team>, StoreError> {
        read_retrying!(self, "team", |c| reads::team(c, team_id))
    }

    async fn teams(&self) -> Result<Vec<Team>, StoreError> {
        read_retrying!(self, "teams", |c| reads::teams(c))
    }

    async fn token(&self, team_id: &TeamId, hash: &str) -> Result<Option<Token>, StoreError> {
        read_retrying!(self, "token", |c| reads::token(c, team_id, hash))
    }

    async fn user(&self, team_id: &TeamId, user_id: &UserId) -> Result<Option<User>, StoreError> {
        read_retrying!(self, "user", |c| reads::user(c, team_id, user_id))
    }

    async fn users(&self, team_id: &TeamId, page: Page<UserId>) -> Result<Vec<User>, StoreError> {
        read_retrying!(self, "users", |c| reads::users(c, team_id, &page))
    }

    async fn user_by_email(
        &self,
        team_id: &TeamId,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        read_retrying!(self, "user by e-mail", |c| reads::user_by_email(
            c, team_id, email
        ))
    }

    async fn user_by_name(&self, team_id: &TeamId, name: &str) -> Result<Option<User>, StoreError> {
        read_retrying!(self, "user by name", |c| reads::user_by_name(
            c, team_id, name
        ))
    }

    async fn channel(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Channel>, StoreError> {
        read_retrying!(self, "channel", |c| reads::channel(c, team_id, channel_id))
    }

    async fn channel_by_name(
        &self,
        team_id: &TeamId,
        name: &str,
    ) -> Result<Option<Channel>, StoreError> {
        read_retrying!(self, "channel by name", |c| reads::channel_by_name(
            c, team_id, name
        ))
    }

    async fn channels(
        &self,
        team_id: &TeamId,
        filter: &ChannelFilter,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError> {
        read_retrying!(self, "channels", |c| reads::channels(
            c, team_id, filter, &page
        ))
    }

    async fn members(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        page: Page<UserId>,
    ) -> Result<Vec<UserId>, StoreError> {
        read_retrying!(self, "members", |c| reads::members(
            c, team_id, channel_id, &page
        ))
    }

    async fn member_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError> {
        read_retrying!(self, "channels of a member", |c| reads::member_channels(
            c, team_id, user_id
        ))
    }

    async fn is_member(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<bool, StoreError> {
        read_retrying!(self, "membership", |c| reads::is_member(
            c, team_id, channel_id, user_id
        ))
    }

    async fn message(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        ts: Ts,
    ) -> Result<Option<Message>, StoreError> {
        read_retrying!(self, "message", |c| reads::message(
            c, team_id, channel_id, ts
        ))
    }

    async fn history(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError> {
        read_retrying!(self, "history", |c| reads::history(
            c, team_id, channel_id, &range
        ))
    }

    async fn replies(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        thread_ts: Ts,
        range: HistoryRange,
    ) -> Result<Vec<Message>, StoreError> {
        read_retrying!(self, "thread replies", |c| reads::replies(
            c, team_id, channel_id, thread_ts, &range
        ))
    }

    async fn last_ts(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<Option<Ts>, StoreError> {
        read_retrying!(self, "last ts", |c| reads::last_ts(c, team_id, channel_id))
    }

    async fn team_channels(
        &self,
        team_id: &TeamId,
        page: Page<ChannelId>,
    ) -> Result<Vec<Channel>, StoreError> {
        read_retrying!(self, "channels of a team", |c| reads::team_channels(
            c, team_id, &page
        ))
    }

    async fn team_members(
        &self,
        team_id: &TeamId,
        page: Page<(ChannelId, UserId)>,
    ) -> Result<Vec<(ChannelId, UserId)>, StoreError> {
        read_retrying!(self, "memberships of a team", |c| reads::team_members(
            c, team_id, &page
        ))
    }

    async fn audit_entries(
        &self,
        team_id: &TeamId,
        page: Page<u64>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        read_retrying!(self, "audit log", |c| audit::entries(c, team_id, &page))
    }

    async fn last_audit_id(&self, team_id: &TeamId) -> Result<u64, StoreError> {
        read_retrying!(self, "last audit id", |c| audit::last_id(c, team_id))
    }

    async fn login_link(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<LoginLink>, StoreError> {
        read_retrying!(self, "login link", |c| web_auth::login_link(
            c, team_id, hash
        ))
    }

    async fn browser_session(
        &self,
        team_id: &TeamId,
        hash: &str,
    ) -> Result<Option<BrowserSession>, StoreError> {
        read_retrying!(self, "browser session", |c| web_auth::browser_session(
            c, team_id, hash
        ))
    }

    async fn webhook(
        &self,
        team_id: &TeamId,
        id: &WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        read_retrying!(self, "webhook", |c| files::webhook(c, team_id, id))
    }

    async fn file(&self, team_id: &TeamId, file_id: &FileId) -> Result<Option<File>, StoreError> {
        read_retrying!(self, "file", |c| files::file(c, team_id, file_id))
    }

    async fn files(
        &self,
        team_id: &TeamId,
        filter: &FileFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<File>, usize), StoreError> {
        read_retrying!(self, "files", |c| files::files(
            c, team_id, filter, offset, limit
        ))
    }

    async fn file_shares(
        &self,
        team_id: &TeamId,
        file_id: &FileId,
    ) -> Result<Vec<FileShare>, StoreError> {
        read_retrying!(self, "file shares", |c| files::file_shares(
            c, team_id, file_id
        ))
    }

    async fn blob_references(&self, team_id: &TeamId, sha256: &str) -> Result<usize, StoreError> {
        read_retrying!(self, "blob references", |c| files::blob_references(
            c, team_id, sha256
        ))
    }

    async fn unsent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        read_retrying!(self, "unsent jobs", |c| jobs::unsent_jobs(c, limit))
    }

    async fn is_job_done(&self, team_id: &TeamId, job_id: &str) -> Result<bool, StoreError> {
        read_retrying!(self, "finished job", |c| jobs::is_done(c, team_id, job_id))
    }

    async fn queue_offset(&self, topic: &str, partition: u32) -> Result<Option<i64>, StoreError> {
        read_retrying!(self, "queue offset", |c| jobs::queue_offset(
            c, topic, partition
        ))
    }

    async fn dead_jobs(&self, team_id: &TeamId) -> Result<Vec<DeadJob>, StoreError> {
        read_retrying!(self, "dead jobs", |c| jobs::dead_jobs(c, team_id))
    }

    async fn muted_channels(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<ChannelId>, StoreError> {
        read_retrying!(self, "muted channels", |c| jobs::muted_channels(
            c, team_id, user_id
        ))
    }

    async fn read_state(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<Option<ReadState>, StoreError> {
        read_retrying!(self, "read state", |c| jobs::read_state(
            c, team_id, channel_id, user_id
        ))
    }

    async fn active_members(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Vec<ActiveMember>, StoreError> {
        read_retrying!(self, "active members", |c| billing::active_members(
            c, team_id, month
        ))
    }

    async fn billing_report(
        &self,
        team_id: &TeamId,
        month: Month,
    ) -> Result<Option<BillingReport>, StoreError> {
        read_retrying!(self, "billing report", |c| billing::report(
            c, team_id, month
        ))
    }

    async fn reminder(
        &self,
        team_id: &TeamId,
        reminder_id: &str,
    ) -> Result<Option<Reminder>, StoreError> {
        read_retrying!(self, "reminder", |c| reminders::reminder(
            c,
            team_id,
            reminder_id
        ))
    }

    async fn user_reminders(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<Vec<Reminder>, StoreError> {
        read_retrying!(self, "reminders of a user", |c| reminders::user_reminders(
            c, team_id, user_id
        ))
    }

    async fn due_reminders(&self, now: i64, limit: usize) -> Result<Vec<Reminder>, StoreError> {
        read_retrying!(self, "due reminders", |c| reminders::due_reminders(
            c, now, limit
        ))
    }
}
