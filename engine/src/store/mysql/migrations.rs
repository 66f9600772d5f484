//! Schema migrations: the numbered SQL files of `schema/mysql/`, compiled into
//! the binary and applied once each, in order, while holding a named lock so
//! that nodes starting together do not race.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use switchboard_actors::ports::StoreError;
use switchboard_actors::ts::Ts;

use super::backend_error;

/// Every migration this binary contains, as (version, SQL), in ascending version
/// order. A new file in `schema/mysql/` needs a new entry here.
const MIGRATIONS: &[(u32, &str)] = &[
    (1, include_str!("../../../../schema/mysql/0001_init.sql")),
    (2, include_str!("../../../../schema/mysql/0002_admin.sql")),
    (3, include_str!("../../../../schema/mysql/0003_files.sql")),
    (4, include_str!("../../../../schema/mysql/0004_jobs.sql")),
    (
        5,
        include_str!("../../../../schema/mysql/0005_reminders.sql"),
    ),
    (
        6,
        include_str!("../../../../schema/mysql/0006_web_sessions.sql"),
    ),
    (
        7,
        include_str!("../../../../schema/mysql/0007_channel_mutes.sql"),
    ),
    (8, include_str!("../../../../schema/mysql/0008_billing.sql")),
];

/// Name of the `GET_LOCK` lock held while migrating. It is per server, so two
/// databases on one server that migrate at once wait for each other, which is
/// harmless.
const LOCK_NAME: &str = "switchboard_schema_migrations";

/// How long a node waits for another node's migration, in seconds.
const LOCK_TIMEOUT_SECS: u32 = 120;

/// Returns the newest schema version this binary supports.
fn latest_version() -> u32 {
    MIGRATIONS
        .iter()
        .map(|(version, _)| *version)
        .max()
        .unwrap_or(0)
}

/// Applies every migration the database has not recorded, holding the named
/// lock throughout. Returns the schema version the database is at.
///
/// MySQL commits DDL implicitly, so a migration is not atomic: a statement
/// that fails leaves the statements before it applied and the version
/// unrecorded, and the error names the migration so an operator can repair it.
pub(super) async fn migrate(connection: &mut Conn, masked_url: &str) -> Result<u32, StoreError> {
    let acquired: Option<i64> = connection
        .exec_first("SELECT GET_LOCK(?, ?)", (LOCK_NAME, LOCK_TIMEOUT_SECS))
        .await
        .map_err(|error| backend_error("failed to request the schema migration lock", error))?;
    if acquired != Some(1) {
        return Err(StoreError::Backend(format!(
            "timed out after {LOCK_TIMEOUT_SECS} s waiting for the schema migration lock {LOCK_NAME:?} on {masked_url}; \
             another node may be stuck migrating"
        )));
    }

    let result = migrate_locked(connection, masked_url).await;

    let released: Result<Option<i64>, _> = connection
        .exec_first("SELECT RELEASE_LOCK(?)", (LOCK_NAME,))
        .await;
    if let Err(error) = released {
        tracing::warn!(url = masked_url, %error, "failed to release the schema migration lock; it is released when the connection closes");
    }
    result
}

async fn migrate_locked(connection: &mut Conn, masked_url: &str) -> Result<u32, StoreError> {
    let recorded = check_version(connection, masked_url).await?;
    // Each version is checked on its own, not against the highest one: a
    // database migrated by a binary that had 6 but not yet 5 still gets 5.
    let applied = recorded_versions(connection).await?;
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tracing::info!(url = masked_url, version, "applying MySQL schema migration");
        for statement in statements(sql) {
            connection.query_drop(statement).await.map_err(|error| {
                backend_error(
                    &format!("schema migration {version} failed on {masked_url} (its earlier statements stay applied)"),
                    error,
                )
            })?;
        }
        connection
            .exec_drop(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (version, Ts::now().as_i64()),
            )
            .await
            .map_err(|error| {
                backend_error(
                    &format!("failed to record schema migration {version}"),
                    error,
                )
            })?;
        tracing::info!(url = masked_url, version, "applied MySQL schema migration");
    }
    Ok(latest_version().max(recorded))
}

/// Returns every version recorded in `schema_migrations`; none before the first
/// migration, which creates the table.
async fn recorded_versions(connection: &mut Conn) -> Result<Vec<u32>, StoreError> {
    let has_table: Option<i64> = connection
        .query_first(
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'",
        )
        .await
        .map_err(|error| backend_error("failed to look up schema_migrations", error))?;
    if has_table.is_none() {
        return Ok(Vec::new());
    }
    connection
        .query("SELECT version FROM schema_migrations")
        .await
        .map_err(|error| backend_error("failed to read schema_migrations", error))
}

/// Returns the highest recorded version, or 0 for an empty database. Fails when
/// it is newer than this binary supports, so an old binary never writes to a
/// schema it does not understand.
pub(super) async fn check_version(
    connection: &mut Conn,
    masked_url: &str,
) -> Result<u32, StoreError> {
    let has_table: Option<i64> = connection
        .query_first(
            "SELECT 1 FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'schema_migrations'",
        )
        .await
        .map_err(|error| backend_error("failed to look up schema_migrations", error))?;
    if has_table.is_none() {
        return Ok(0);
    }
    let recorded: Option<u32> = connection
        .query_first("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        .await
        .map_err(|error| backend_error("failed to read schema_migrations", error))?;
    let recorded = recorded.unwrap_or(0);

    let known = latest_version();
    if recorded > known {
        return Err(StoreError::Backend(format!(
            "database {masked_url} has schema version {recorded}, but this binary supports versions up to {known}. \
             Run a newer Switchboard or restore a backup taken before the upgrade"
        )));
    }
    Ok(recorded)
}

/// Splits a migration file into statements: a semicolon at the end of a line
/// ends one. Comment lines (`--`) are dropped.
fn statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") || trimmed.is_empty() {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        statements.push(current);
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_line_end_semicolons() {
        let sql = "-- a comment; not a statement\nCREATE TABLE a (\n  x INT -- column\n);\n\nCREATE TABLE b (y INT);\n";
        let split = statements(sql);
        assert_eq!(split.len(), 2, "{split:?}");
        assert!(split[0].starts_with("CREATE TABLE a"));
        assert!(split[1].starts_with("CREATE TABLE b"));
    }

    #[test]
    fn migrations_are_listed_in_ascending_order() {
        let versions: Vec<u32> = MIGRATIONS.iter().map(|(version, _)| *version).collect();
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "{versions:?}"
        );
        assert_eq!(latest_version(), *versions.last().unwrap());
    }

    #[test]
    fn initial_migration_has_every_table() {
        let split = statements(MIGRATIONS[0].1);
        for table in [
            "schema_migrations",
            "teams",
            "users",
            "tokens",
            "channels",
            "members",
            "messages",
            "reactions",
        ] {
            assert!(
                split
                    .iter()
                    .any(|statement| statement.contains(&format!("CREATE TABLE {table} ("))),
                "no CREATE TABLE {table}"
            );
        }
    }
}
