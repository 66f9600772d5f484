//! Implementations of the [`Store`](switchboard_actors::ports::Store) port: the
//! system of record behind the storage actor.

pub mod conformance;
pub mod mysql;
pub mod sqlite;
pub mod url;

use std::sync::Arc;

use switchboard_actors::ports::{Store, StoreError};

use self::mysql::MysqlStore;
use self::sqlite::SqliteStore;
use self::url::StoreUrl;

/// Opens the store a URL names: SQLite (fsynced on commit when `durable`) or
/// MySQL with a pool of at most `pool_size` connections. Applies pending
/// migrations either way.
pub async fn open_store(
    url: &StoreUrl,
    durable: bool,
    pool_size: usize,
) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        StoreUrl::Sqlite(path) => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path, durable))
                .await
                .map_err(|error| {
                    StoreError::Backend(format!("SQLite open task failed: {error}"))
                })??;
            Ok(Arc::new(store))
        }
        StoreUrl::Mysql(mysql) => Ok(Arc::new(MysqlStore::open(mysql, pool_size).await?)),
    }
}
