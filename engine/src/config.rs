//! Node configuration. The binary reads a TOML file, then `SWITCHBOARD_*`
//! environment variables, then flags; later sources win.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::store::url::{InvalidStoreUrl, StoreUrl};

/// Settings of one node.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP and WebSocket server listens on.
    pub listen: SocketAddr,
    /// Directory for the embedded store and `bootstrap.json`.
    pub data_dir: PathBuf,
    /// Store URL: `sqlite://PATH` or `mysql://user:password@host:port/database`.
    /// Unset means SQLite at `data_dir/switchboard.db`.
    pub store: Option<String>,
    /// Maximum number of connections in the MySQL pool (ignored for SQLite).
    pub store_pool_size: usize,
    /// Base URL clients use to reach the node (for `rtm.connect` and links);
    /// unset means the request's `Host` header.
    pub public_url: Option<String>,
    /// Whether each group commit is fsynced before writers are acknowledged.
    /// Turning it off risks losing acknowledged messages on a power failure.
    pub durable: bool,
    /// Capacity of each session's outbound queue, in frames.
    pub session_queue: usize,
    /// Maximum number of write sets in one storage transaction.
    pub max_batch: usize,
    /// Largest accepted API request body, in bytes.
    pub max_body_bytes: u64,
    /// Largest accepted incoming-webhook request body, in bytes.
    pub max_webhook_body_bytes: u64,
    /// Largest accepted file upload, in bytes. Downloads are read into memory
    /// whole, so this also bounds the memory one download takes.
    pub max_file_bytes: u64,
    /// How long shutdown waits for connections and commits, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Time without client frames after which a device counts as idle, in
    /// milliseconds. A user whose devices are all idle is `away`.
    pub presence_idle_ms: u64,
    /// Window in which presence changes for one session are gathered into one
    /// `presence_change` event, in milliseconds; 0 sends each change at once.
    pub presence_batch_ms: u64,
    /// How long a loaded team stays in memory with no session and no request,
    /// in seconds, before its actor stops and its cache is dropped; 0 keeps
    /// teams loaded. The team is evicted between one and two periods after
    /// its last use.
    pub team_idle_secs: u64,
    /// Job queue: `embedded` (a file in the data directory) or
    /// `kafka://host:port[/topic-prefix]`.
    pub queue: String,
    /// Partitions of every job topic. Changing it on an existing queue
    /// moves teams to other partitions.
    pub queue_partitions: u32,
    /// This node's index among `node_count` nodes; it consumes the job
    /// partitions whose number modulo `node_count` is this index.
    pub node_index: u32,
    /// Number of nodes sharing the job queue.
    pub node_count: u32,
    /// Attempts per job before it goes to the dead-letter table.
    pub job_max_attempts: u32,
    /// Pause before a job's first retry, in milliseconds; doubles per retry.
    pub job_backoff_ms: u64,
    /// URL that push notifications are POSTed to as JSON; unset sends none.
    pub push_gateway_url: Option<String>,
    /// Let link unfurls fetch private, loopback and link-local addresses.
    pub unfurl_allow_private: bool,
    /// Time allowed for each unfurl request, in milliseconds.
    pub unfurl_timeout_ms: u64,
    /// Bytes of a linked page read at most.
    pub unfurl_max_bytes: usize,
    /// Fault injection for crash tests: when set, the outbox relay writes this
    /// file once it has read unsent jobs and then holds them without
    /// publishing, until the node stops.
    pub fault_relay_hold_marker: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            store: None,
            store_pool_size: 8,
            public_url: None,
            durable: true,
            session_queue: 1024,
            max_batch: 512,
            max_body_bytes: 1024 * 1024,
            max_webhook_body_bytes: 1024 * 1024,
            max_file_bytes: 100 * 1024 * 1024,
            shutdown_timeout_secs: 10,
            presence_idle_ms: 30 * 60 * 1000,
            presence_batch_ms: 100,
            team_idle_secs: 0,
            queue: "embedded".into(),
            queue_partitions: 8,
            node_index: 0,
            node_count: 1,
            job_max_attempts: 5,
            job_backoff_ms: 200,
            push_gateway_url: None,
            unfurl_allow_private: false,
            unfurl_timeout_ms: 3_000,
            unfurl_max_bytes: 512 * 1024,
            fault_relay_hold_marker: None,
        }
    }
}

/// Error reading a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML for these settings.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: toml::de::Error,
    },
}

impl Config {
    /// Reads settings from a TOML file; missing keys keep their defaults.
    pub fn from_toml_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Returns the default path of the embedded SQLite database.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("switchboard.db")
    }

    /// Returns the store URL: the configured one, or SQLite at
    /// [`Config::store_path`].
    pub fn store_url(&self) -> Result<StoreUrl, InvalidStoreUrl> {
        match &self.store {
            Some(url) => StoreUrl::parse(url),
            None => Ok(StoreUrl::Sqlite(self.store_path())),
        }
    }

    /// Returns the directory that contains uploaded files' bytes.
    pub fn files_dir(&self) -> PathBuf {
        self.data_dir.join("files")
    }

    /// Returns the path of the bootstrap file written on first start.
    pub fn bootstrap_path(&self) -> PathBuf {
        self.data_dir.join("bootstrap.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_defaults() {
        let config: Config = toml::from_str("listen = \"0.0.0.0:9000\"\ndurable = false").unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert!(!config.durable);
        assert_eq!(config.session_queue, Config::default().session_queue);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<Config>("lisen = \"x\"").is_err());
    }
}
