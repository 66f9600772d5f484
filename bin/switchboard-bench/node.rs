//! Servers under test, each in a child process so that its memory can be read
//! apart from the load generator's: a Switchboard node (`switchboard serve`)
//! or the bare baseline server (this binary with a hidden flag). Children are
//! killed when their handle is dropped.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tokio::process::{Child, Command};

use crate::system::rss_bytes;

/// Maximum wait for a child to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Maximum wait for a child to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A running server child process.
pub struct ChildServer {
    child: Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// File that receives the child's stdout and stderr.
    pub log_path: PathBuf,
}

impl ChildServer {
    /// Starts `switchboard serve` on a free loopback port over `data_dir`,
    /// which must hold a seeded store, and waits until `api.test` responds.
    pub async fn start_node(
        binary: &Path,
        data_dir: &Path,
        durable: bool,
    ) -> anyhow::Result<ChildServer> {
        let address = free_loopback_address()?;
        let log_path = data_dir.join("node.log");
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(address.to_string())
            .arg("--durable")
            .arg(durable.to_string())
            .env("SWITCHBOARD_LOG", "warn");
        let server = ChildServer::spawn(command, address, log_path).await?;
        server.wait_for_api().await?;
        Ok(server)
    }

    /// Starts this binary as the baseline server on a free loopback port.
    pub async fn start_baseline(log_dir: &Path) -> anyhow::Result<ChildServer> {
        let binary = std::env::current_exe().context("finding the path of this binary failed")?;
        let address = free_loopback_address()?;
        let mut command = Command::new(binary);
        command
            .arg("--internal-baseline-server")
            .arg(address.to_string());
        ChildServer::spawn(command, address, log_dir.join("baseline.log")).await
    }

    async fn spawn(
        mut command: Command,
        address: SocketAddr,
        log_path: PathBuf,
    ) -> anyhow::Result<ChildServer> {
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {} failed", log_path.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let child = command
            .spawn()
            .context("starting the server process failed")?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("the server process exited at once"))?;
        let mut server = ChildServer {
            child,
            pid,
            base_url: format!("http://{address}"),
            log_path,
        };
        server.wait_for_port(address).await?;
        Ok(server)
    }

    /// Waits until the port accepts TCP connections.
    async fn wait_for_port(&mut self, address: SocketAddr) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if tokio::net::TcpStream::connect(address).await.is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server process exited with {status} before listening; see {}",
                    self.log_path.display()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "the server did not listen on {address} within {READY_TIMEOUT:?}; see {}",
                    self.log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `GET /api/api.test` returns `"ok":true`.
    async fn wait_for_api(&self) -> anyhow::Result<()> {
        let url = format!("{}/api/api.test", self.base_url);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let response = client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if let Ok(response) = response {
                if let Ok(body) = response.text().await {
                    if body.contains(r#""ok":true"#) {
                        return Ok(());
                    }
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "{url} did not respond within {READY_TIMEOUT:?}; see {}",
                    self.log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Returns the child's resident set size in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_bytes(self.pid)
    }

    /// Sends SIGTERM and waits for the exit; kills the child after
    /// [`STOP_TIMEOUT`].
    pub async fn stop(mut self) {
        // SAFETY: kill only sends a signal to the child this handle started.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(
                    pid = self.pid,
                    "server did not stop after SIGTERM; killing it"
                );
                let _ = self.child.kill().await;
            }
        }
    }
}

/// Returns a loopback address with a port that was free a moment ago.
fn free_loopback_address() -> anyhow::Result<SocketAddr> {
    let listener =
        TcpListener::bind("127.0.0.1:0").context("finding a free loopback port failed")?;
    Ok(listener.local_addr()?)
}

/// Returns the `switchboard` binary: `explicit`, or the one next to this
/// binary (both are built into the same target directory).
pub fn node_binary(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if !path.is_file() {
            bail!("node binary {} not found", path.display());
        }
        return Ok(path.to_owned());
    }
    let exe = std::env::current_exe().context("finding the path of this binary failed")?;
    let sibling = exe.with_file_name("switchboard");
    if !sibling.is_file() {
        bail!(
            "node binary {} not found: build it with `cargo build --release --bins` or pass --node-bin",
            sibling.display()
        );
    }
    Ok(sibling)
}
