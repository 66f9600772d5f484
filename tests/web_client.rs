//! The web client in a real browser. The test starts the `switchboard` binary
//! on a loopback port and signs two users in with login links from the admin
//! CLI. Then it runs tests/web/run.mjs (Playwright driving Debian's Chromium)
//! and restarts the node when the script requests it.
//!
//! Needs `node`, `npm` and `/usr/bin/chromium` (`.ci/run` installs them); the
//! test fails with a message naming what is missing. It installs the pinned
//! `playwright-core` into tests/web/node_modules with `npm ci` when missing.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// How long the browser script may run, restarts included.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);
/// Real name of a third user, which the page must show as text.
const HOSTILE_REAL_NAME: &str = r#"<img src=x onerror="window.__injected='name'">Mallory"#;
/// How long the node may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the Chromium binary, or fails naming how to install it.
fn chromium() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    assert!(
        path.is_file(),
        "Chromium not found at {}: install it with `apt-get install -y chromium` \
         (as .ci/run does) or set CHROMIUM_PATH",
        path.display()
    );
    path
}

/// Installs the pinned playwright-core into tests/web when it is missing.
fn ensure_playwright(web_dir: &Path) {
    let status = Command::new("node").arg("--version").status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "node not found: install Node.js 20 or newer (Debian: apt-get install -y nodejs npm)"
    );
    if web_dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(web_dir)
        .status()
        .expect("npm runs (install npm: apt-get install -y npm)");
    assert!(status.success(), "npm ci failed in {}", web_dir.display());
}

/// Returns a loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().unwrap().port()
}

/// A `switchboard serve` process.
struct Node {
    /// The running binary.
    child: Child,
    /// Lines of its standard output up to "Switchboard API at".
    banner: Vec<String>,
}

impl Node {
    fn start(data_dir: &Path, port: u16) -> Node {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env("SWITCHBOARD_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the switchboard binary");
        let stdout = child.stdout.take().expect("piped stdout");
        let banner = read_banner(stdout);
        Node { child, banner }
    }

    /// Sends SIGTERM and waits for the graceful stop.
    fn stop(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill() with a pid this test started and a valid signal.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the node's stdout until it prints where the API listens, then keeps
/// draining it on a thread so the node never blocks on a full pipe.
fn read_banner(stdout: ChildStdout) -> Vec<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = Vec::new();
        let mut sent = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if !sent {
                banner.push(line.clone());
                if line.starts_with("Switchboard API at") {
                    let _ = sender.send(std::mem::take(&mut banner));
                    sent = true;
                }
            }
        }
    });
    receiver
        .recv_timeout(START_TIMEOUT)
        .expect("the node printed `Switchboard API at` in time")
}

fn admin(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("SWITCHBOARD_LOG", "warn")
        .output()
        .expect("run switchboard admin");
    assert!(
        output.status.success(),
        "switchboard admin {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[test]
fn two_browsers_chat_through_node() {
    let chromium = chromium();
    let web_dir = repo_root().join("tests/web");
    ensure_playwright(&web_dir);

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let mut node = Node::start(data.path(), port);

    // The first start prints a login link for the admin.
    let admin_link = node
        .banner
        .iter()
        .map(|line| line.trim())
        .find(|line| line.starts_with(&format!("{base_url}/login?token=sbl-")))
        .unwrap_or_else(|| panic!("no admin login link in {:#?}", node.banner))
        .to_owned();

    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("bootstrap.json")).unwrap())
            .unwrap();
    let team = bootstrap["team_id"].as_str().unwrap();
    let admin_id = bootstrap["admin"]["user_id"].as_str().unwrap();
    let admin_user: Value = serde_json::from_str(&admin(
        data.path(),
        &[
            "create-user",
            "--team",
            team,
            "--name",
            "bob",
            "--real-name",
            "Bob Builder",
        ],
    ))
    .unwrap();
    assert!(admin_user["user_id"].is_string(), "{admin_user}");
    admin(
        data.path(),
        &[
            "create-user",
            "--team",
            team,
            "--name",
            "mallory",
            "--real-name",
            HOSTILE_REAL_NAME,
        ],
    );
    let bob_link = admin(data.path(), &["login-link", "bob"]);
    assert!(
        bob_link.starts_with(&format!("{base_url}/login?token=sbl-{team}-")),
        "{bob_link}"
    );
    let admin_name = admin_user_name(&base_url, &bootstrap, admin_id);

    let artifacts = repo_root().join("target/web-artifacts");
    let mut script = Command::new("node")
        .arg(web_dir.join("run.mjs"))
        .current_dir(&web_dir)
        .env("CHROMIUM_PATH", &chromium)
        .env("SWITCHBOARD_URL", &base_url)
        .env("LOGIN_LINK_A", &admin_link)
        .env("LOGIN_LINK_B", &bob_link)
        .env("USER_A_NAME", &admin_name)
        .env("USER_B_NAME", "bob")
        .env("ARTIFACTS_DIR", &artifacts)
        .env("HOSTILE_REAL_NAME", HOSTILE_REAL_NAME)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node tests/web/run.mjs");
    let mut to_script = script.stdin.take().unwrap();
    let (lines_sender, lines) = mpsc::channel();
    let script_stdout = script.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(script_stdout).lines() {
            let Ok(line) = line else { break };
            if lines_sender.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = std::time::Instant::now() + SCRIPT_TIMEOUT;
    let mut output = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                println!("{line}");
                if line == "RESTART_NODE" {
                    node.stop();
                    node = Node::start(data.path(), port);
                    writeln!(to_script, "NODE_RESTARTED").expect("write to the script");
                }
                output.push(line);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = script.kill();
                panic!(
                    "the browser script ran past {SCRIPT_TIMEOUT:?}:\n{}",
                    output.join("\n")
                );
            }
        }
    }
    let status = script.wait().expect("wait for the browser script");
    drop(node);

    assert!(
        status.success(),
        "browser checks failed ({status}):\n{}",
        output.join("\n")
    );
    assert!(
        output
            .iter()
            .any(|line| line.ends_with(" passed, 0 failed")),
        "the script printed no summary:\n{}",
        output.join("\n")
    );
    for name in [format!("{admin_name}.png"), "bob.png".to_owned()] {
        assert!(artifacts.join(&name).is_file(), "screenshot {name} missing");
    }
}

/// Returns the admin's user name through the Web API.
fn admin_user_name(base_url: &str, bootstrap: &Value, admin_id: &str) -> String {
    let token = bootstrap["admin"]["token"].as_str().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body: Value = runtime.block_on(async {
        reqwest::Client::new()
            .get(format!("{base_url}/api/users.info?user={admin_id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("users.info request")
            .json()
            .await
            .expect("users.info body")
    });
    body["user"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("users.info answered {body}"))
        .to_owned()
}
