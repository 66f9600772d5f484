//! The store conformance suite (`switchboard_engine::store::conformance`) run
//! against every backend: the embedded SQLite store, and a MySQL or MariaDB
//! database named by `SWITCHBOARD_TEST_MYSQL_URL`.
//!
//! The MySQL cases are ignored unless asked for, so that a plain `cargo test`
//! reports them as ignored instead of passing without a database:
//!
//! ```sh
//! SWITCHBOARD_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/switchboard_test \
//!     cargo test --test store_conformance -- --include-ignored
//! ```

use std::sync::Arc;

use switchboard_actors::ports::Store;
use switchboard_engine::store::mysql::MysqlStore;
use switchboard_engine::store::sqlite::SqliteStore;
use switchboard_engine::store::url::StoreUrl;

/// Opens a SQLite store in a temporary directory that lives as long as the
/// test process; each case gets its own file.
async fn open_sqlite() -> Arc<dyn Store> {
    let dir = tempfile::tempdir().expect("failed to create a temporary directory");
    let path = dir.keep().join("switchboard.db");
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path, false))
        .await
        .expect("SQLite open task")
        .expect("failed to open the SQLite store");
    Arc::new(store)
}

/// Opens the MySQL store of `SWITCHBOARD_TEST_MYSQL_URL`. Cases share the
/// database and stay apart by writing to teams of their own.
async fn open_mysql() -> Arc<dyn Store> {
    let url = std::env::var("SWITCHBOARD_TEST_MYSQL_URL").expect(
        "SWITCHBOARD_TEST_MYSQL_URL is not set; set it to mysql://user:password@host:port/database",
    );
    let StoreUrl::Mysql(url) =
        StoreUrl::parse(&url).expect("SWITCHBOARD_TEST_MYSQL_URL is a valid store URL")
    else {
        panic!("SWITCHBOARD_TEST_MYSQL_URL must be a mysql:// URL");
    };
    Arc::new(
        MysqlStore::open(&url, 4)
            .await
            .expect("failed to open the MySQL store"),
    )
}

mod sqlite {
    use super::open_sqlite;

    switchboard_engine::store_conformance_tests!(open = open_sqlite);
}

mod mysql {
    use super::open_mysql;

    switchboard_engine::store_conformance_tests!(
        open = open_mysql,
        ignore = "needs MariaDB: set SWITCHBOARD_TEST_MYSQL_URL"
    );
}
