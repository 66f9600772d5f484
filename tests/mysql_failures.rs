//! Failure behaviour of a node whose store is MySQL: an unreachable server at
//! start, and a server lost and restarted while the node runs.
//!
//! The outage test starts a private MariaDB server (`mariadb-install-db` and
//! `mariadbd` from the PATH or /usr/sbin) on its own port and data directory,
//! so it can stop and restart it without touching any other database. It is
//! ignored unless asked for, like every test that needs MariaDB:
//!
//! ```sh
//! cargo test --test mysql_failures -- --include-ignored
//! ```

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use common::TestNode;
use switchboard_engine::Config;

/// How long the private server may take to accept connections.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the node may take to serve posts again after the server is back.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

fn free_loopback_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("failed to bind a loopback port")
        .local_addr()
        .expect("bound listener has an address")
        .port()
}

/// Returns the path of a MariaDB program: from the PATH, else /usr/sbin or
/// /usr/bin, where Debian installs them.
fn mariadb_program(name: &str) -> PathBuf {
    for directory in ["/usr/sbin", "/usr/bin"] {
        let path = Path::new(directory).join(name);
        if path.exists() {
            return path;
        }
    }
    PathBuf::from(name)
}

/// A MariaDB server of the test's own, on a loopback port and a temporary data
/// directory. Killed when dropped.
struct PrivateMariaDb {
    /// Data directory, socket and log.
    dir: tempfile::TempDir,
    /// TCP port on 127.0.0.1.
    port: u16,
    /// The running `mariadbd`, if started.
    server: Option<Child>,
}

impl PrivateMariaDb {
    /// Creates the system tables in a new data directory and starts the server.
    fn start() -> PrivateMariaDb {
        let dir = tempfile::tempdir().expect("failed to create a temporary directory");
        let data = dir.path().join("data");
        let output = Command::new(mariadb_program("mariadb-install-db"))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg("--user=root")
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .stdin(Stdio::null())
            .output()
            .expect("failed to run mariadb-install-db");
        assert!(
            output.status.success(),
            "mariadb-install-db failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut server = PrivateMariaDb {
            dir,
            port: free_loopback_port(),
            server: None,
        };
        server.run();
        server
    }

    /// Starts `mariadbd` on the data directory and waits until it accepts TCP
    /// connections.
    fn run(&mut self) {
        let root = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join("mariadbd.log"))
            .expect("failed to open the server log");
        let child = Command::new(mariadb_program("mariadbd"))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", root.join("data").display()))
            .arg(format!("--socket={}", root.join("mariadbd.sock").display()))
            .arg(format!(
                "--pid-file={}",
                root.join("mariadbd.pid").display()
            ))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg("--user=root")
            .arg("--skip-log-bin")
            .arg("--innodb-buffer-pool-size=64M")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("failed to clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("failed to start mariadbd");
        self.server = Some(child);

        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            if let Some(status) = self
                .server
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                panic!("mariadbd exited with {status}; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not accept connections on {address} within {SERVER_START_TIMEOUT:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server with SIGTERM (a clean shutdown) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let pid = child.id().to_string();
            let status = Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .expect("failed to run kill");
            assert!(status.success(), "kill -TERM {pid} failed");
            child.wait().expect("failed to wait for mariadbd");
        }
    }

    /// Runs SQL through the `mariadb` client as root.
    fn execute(&self, sql: &str) {
        let output = Command::new(mariadb_program("mariadb"))
            .args(["--no-defaults", "-uroot", "-h127.0.0.1"])
            .arg(format!("-P{}", self.port))
            .args(["-e", sql])
            .output()
            .expect("failed to run the mariadb client");
        assert!(
            output.status.success(),
            "{sql} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mariadbd.log")).unwrap_or_default()
    }

    /// Returns a store URL of database `database` on this server.
    fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn unreachable_mysql_stops_node_with_masked_url() {
    let scratch = tempfile::tempdir().expect("failed to create a temporary directory");
    // A port that was just free and is closed again, so the connection is refused.
    let port = free_loopback_port();
    let url = format!("mysql://switchboard:hunter2-secret@127.0.0.1:{port}/switchboard");

    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(scratch.path())
        .args(["--store", &url])
        .stdin(Stdio::null())
        .output()
        .expect("failed to run the switchboard binary");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(
        !output.status.success(),
        "the node started without its store:\n{stderr}"
    );
    let masked = format!("mysql://switchboard:****@127.0.0.1:{port}/switchboard");
    assert!(
        stderr.contains(&masked),
        "the error names the URL {masked}:\n{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password leaked:\n{stderr}"
    );
}

#[test]
fn admin_command_honours_store_and_masks_password() {
    let port = free_loopback_port();
    let url = format!("mysql://admin:hunter2-secret@127.0.0.1:{port}/switchboard");

    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["admin", "create-team", "--name", "Acme", "--store", &url])
        .stdin(Stdio::null())
        .output()
        .expect("failed to run the switchboard binary");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(
        !output.status.success(),
        "create-team succeeded without a store:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("mysql://admin:****@127.0.0.1:{port}/switchboard")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the password leaked:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs MariaDB: set SWITCHBOARD_TEST_MYSQL_URL"]
async fn node_survives_mysql_restart() {
    let mut mariadb = tokio::task::spawn_blocking(PrivateMariaDb::start)
        .await
        .expect("server start task");
    mariadb.execute("CREATE DATABASE switchboard CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    let data_dir = tempfile::tempdir().expect("failed to create a temporary directory");
    let node = TestNode::start_with_config(Config {
        store: Some(mariadb.url("switchboard")),
        ..TestNode::config(data_dir.path())
    })
    .await;

    let admin = node.bootstrap.admin.token.clone();
    let (listener_id, listener_token) = node.create_user("listener").await;
    let created = node
        .call_ok("conversations.create", &admin, json!({"name": "outage"}))
        .await;
    let channel = created["channel"]["id"].as_str().unwrap().to_owned();
    node.call_ok(
        "conversations.invite",
        &admin,
        json!({"channel": channel, "users": listener_id}),
    )
    .await;
    let mut socket = node.connect(&listener_token).await;

    node.call_ok(
        "chat.postMessage",
        &admin,
        json!({"channel": channel, "text": "before the outage"}),
    )
    .await;
    assert_eq!(socket.next_message().await["text"], "before the outage");

    let mut mariadb = tokio::task::spawn_blocking(move || {
        mariadb.stop();
        mariadb
    })
    .await
    .expect("server stop task");

    let during = node
        .call(
            "chat.postMessage",
            &admin,
            json!({"channel": channel, "text": "during the outage"}),
        )
        .await;
    assert_eq!(during, json!({"ok": false, "error": "internal_error"}));

    let mariadb = tokio::task::spawn_blocking(move || {
        mariadb.run();
        mariadb
    })
    .await
    .expect("server restart task");

    // The node reconnects by itself: posts succeed again within the bound.
    let deadline = Instant::now() + RECOVERY_TIMEOUT;
    loop {
        let after = node
            .call(
                "chat.postMessage",
                &admin,
                json!({"channel": channel, "text": "after the outage"}),
            )
            .await;
        if after["ok"] == true {
            break;
        }
        assert_eq!(after["error"], "internal_error", "{after}");
        assert!(
            Instant::now() < deadline,
            "posts still fail {RECOVERY_TIMEOUT:?} after MySQL restarted: {after}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The failed post was never delivered: the next message is the one after.
    assert_eq!(socket.next_message().await["text"], "after the outage");
    let history = node
        .call_ok("conversations.history", &admin, json!({"channel": channel}))
        .await;
    let texts: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|message| message["text"].as_str())
        .collect();
    assert!(texts.contains(&"before the outage"), "{texts:?}");
    assert!(texts.contains(&"after the outage"), "{texts:?}");
    assert!(!texts.contains(&"during the outage"), "{texts:?}");

    node.stop().await;
    drop(mariadb);
}
