//! Schema migrations: the numbered SQL files of `schema/sqlite/`, compiled into
//! the binary and applied once each, in order.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use switchboard_actors::ports::StoreError;
use switchboard_actors::ts::Ts;

use super::backend_error;

/// Every migration this binary contains, as (version, SQL), in ascending version
/// order. A new file in `schema/sqlite/` needs a new entry here.
pub(super) const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../../../schema/sqlite/0001_init.sql")),
    (2, include_str!("../../../../schema/sqlite/0002_admin.sql")),
    (3, include_str!("../../../../schema/sqlite/0003_files.sql")),
    (4, include_str!("../../../../schema/sqlite/0004_jobs.sql")),
    (
        5,
        include_str!("../../../../schema/sqlite/0005_reminders.sql"),
    ),
    (
        6,
        include_str!("../../../../schema/sqlite/0006_web_sessions.sql"),
    ),
    (
        7,
        include_str!("../../../../schema/sqlite/0007_channel_mutes.sql"),
    ),
    (
        8,
        include_str!("../../../../schema/sqlite/0008_billing.sql"),
    ),
];

/// Returns the newest schema version this binary supports.
pub(super) fn latest_version() -> u32 {
    MIGRATIONS
        .iter()
        .map(|(version, _)| *version)
        .max()
        .unwrap_or(0)
}

/// Applies every migration in [`MIGRATIONS`] that the database has not recorded
/// yet, each in its own `BEGIN IMMEDIATE` transaction together with its row in
/// `schema_migrations`. Returns the schema version the database is at.
///
/// Fails when the database records a version newer than this binary supports, so
/// an old binary never writes to a schema it does not understand.
pub(super) fn migrate(connection: &mut Connection, path: &Path) -> Result<u32, StoreError> {
    let known = latest_version();
    let recorded = max_recorded_version(connection)?;
    if recorded > known {
        return Err(StoreError::Backend(format!(
            "database {} has schema version {recorded}, but this binary supports versions up to {known}. \
             Run a newer Switchboard or restore a backup taken before the upgrade",
            path.display()
        )));
    }

    for (version, sql) in MIGRATIONS {
        apply_migration(connection, path, *version, sql)?;
    }
    Ok(known.max(recorded))
}

/// Applies one migration unless it is already recorded. The check runs inside
/// the write transaction, so two processes opening the same file at once cannot
/// both apply it.
fn apply_migration(
    connection: &mut Connection,
    path: &Path,
    version: u32,
    sql: &str,
) -> Result<(), StoreError> {
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|error| backend_error("failed to begin a migration transaction", error))?;

    if is_recorded(&transaction, version)? {
        return Ok(());
    }

    tracing::info!(path = %path.display(), version, "applying SQLite schema migration");
    transaction
        .execute_batch(sql)
        .map_err(|error| backend_error(&format!("schema migration {version} failed"), error))?;
    transaction
        .execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, Ts::now().as_i64()),
        )
        .map_err(|error| {
            backend_error(
                &format!("failed to record schema migration {version}"),
                error,
            )
        })?;
    transaction.commit().map_err(|error| {
        backend_error(
            &format!("failed to commit schema migration {version}"),
            error,
        )
    })?;

    tracing::info!(path = %path.display(), version, "applied SQLite schema migration");
    Ok(())
}

/// Returns whether `schema_migrations` exists. It does not before the first
/// migration, which creates it.
fn has_migrations_table(connection: &Connection) -> Result<bool, StoreError> {
    connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map(|row| row.is_some())
        .map_err(|error| backend_error("failed to look up schema_migrations", error))
}

/// Returns the highest recorded version, or 0 for a new database.
fn max_recorded_version(connection: &Connection) -> Result<u32, StoreError> {
    if !has_migrations_table(connection)? {
        return Ok(0);
    }
    connection
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(|error| backend_error("failed to read schema_migrations", error))
}

/// Returns whether `version` is recorded in `schema_migrations`.
fn is_recorded(connection: &Connection, version: u32) -> Result<bool, StoreError> {
    if !has_migrations_table(connection)? {
        return Ok(false);
    }
    connection
        .query_row(
            "SELECT 1 FROM schema_migrations WHERE version = ?1",
            [version],
            |_| Ok(()),
        )
        .optional()
        .map(|row| row.is_some())
        .map_err(|error| backend_error("failed to read schema_migrations", error))
}
