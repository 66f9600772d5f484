//! Opening SQLite connections with the store's settings, and the pool of read
//! connections.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use switchboard_actors::ports::StoreError;

use super::backend_error;

/// How long a connection waits for a lock held by another connection (another
/// process, or a WAL checkpoint) before its statement fails with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the read-write connection, creating the database file when missing.
///
/// Switches the database to WAL, where readers and the writer do not block each
/// other (SQLite's WAL documentation). With `durable`, `synchronous=FULL` makes
/// every commit fsync the WAL before it returns. Without it, `synchronous=OFF`
/// leaves flushing to the OS, so a power loss or OS crash can drop recent
/// commits, although a crash of the process alone cannot.
pub(super) fn open_writer(path: &Path, durable: bool) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)
        .map_err(|error| backend_error(&format!("failed to open {}", path.display()), error))?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|error| backend_error("failed to set busy_timeout", error))?;

    let journal_mode: String = connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|error| backend_error("failed to set journal_mode=WAL", error))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "failed to switch {} to WAL: SQLite kept journal_mode={journal_mode}",
            path.display()
        )));
    }

    let synchronous = if durable { "FULL" } else { "OFF" };
    connection
        .pragma_update(None, "synchronous", synchronous)
        .map_err(|error| backend_error("failed to set synchronous", error))?;
    Ok(connection)
}

/// Opens a read-only connection to a database that `open_writer` has created and
/// migrated. SQLite rejects any write made through it.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(|error| {
        backend_error(
            &format!("failed to open {} for reading", path.display()),
            error,
        )
    })?;
    connection
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(|error| backend_error("failed to set busy_timeout", error))?;
    Ok(connection)
}

/// Locks a connection mutex. A panic in an earlier task poisons the mutex, but
/// the connection stays usable because rusqlite rolls back an open transaction
/// when the panic drops it. So the poison is cleared instead of failing every
/// later call.
pub(super) fn lock_connection(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    mutex.lock().unwrap_or_else(|poisoned| {
        tracing::warn!("SQLite connection mutex was poisoned by a panic, so the lock was cleared and the connection reused");
        mutex.clear_poison();
        poisoned.into_inner()
    })
}

/// A fixed set of read-only connections shared by concurrent reads.
pub(super) struct ReaderPool {
    /// The connections, each used by one blocking task at a time.
    connections: Vec<Mutex<Connection>>,
    /// Round-robin counter that picks where the search for a free connection
    /// starts.
    next: AtomicUsize,
}

impl ReaderPool {
    /// Opens `size` read-only connections to `path`.
    pub(super) fn open(path: &Path, size: usize) -> Result<ReaderPool, StoreError> {
        let connections = (0..size.max(1))
            .map(|_| open_reader(path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReaderPool {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs `read` on a free connection. When every connection is busy, waits for
    /// the one the round-robin counter picked. Blocks the thread, so call it from
    /// `spawn_blocking`.
    pub(super) fn with_connection<T>(&self, read: impl FnOnce(&Connection) -> T) -> T {
        let count = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;

        for offset in 0..count {
            let mutex = &self.connections[(start + offset) % count];
            if let Ok(connection) = mutex.try_lock() {
                return read(&connection);
            }
        }

        let connection = lock_connection(&self.connections[start]);
        read(&connection)
    }
}
