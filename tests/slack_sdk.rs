//! Compatibility tests with the official Python `slack_sdk`.
//!
//! Starts a node on a loopback port, creates a second user with the admin
//! subcommand and runs `tests/python/conversation.py`, which drives a whole
//! conversation through `slack_sdk.WebClient` and `slack_sdk.rtm_v2.RTMClient`,
//! and `tests/python/files.py`, which uploads with `files_upload_v2`.
//! The first run creates a virtual environment at `target/slack-sdk-venv` and
//! installs the pinned `slack_sdk` from PyPI, so it needs `python3` with the
//! `venv` module and access to PyPI. Later runs reuse that environment.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The slack_sdk release the script was written and checked against.
const SLACK_SDK_VERSION: &str = "3.48.0";

const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(30);
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
const ADMIN_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
const PIP_TIMEOUT: Duration = Duration::from_secs(300);
/// The script waits at most 10 s per RTM event, so even a run in which many
/// events are missing ends well within this bound.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Kills the node when dropped, and prints its log when the test is panicking.
struct NodeGuard {
    child: Child,
    log_path: PathBuf,
}

impl NodeGuard {
    fn print_log(&self) {
        let log = fs::read_to_string(&self.log_path).unwrap_or_else(|error| {
            format!("(could not read {}: {error})", self.log_path.display())
        });
        eprintln!("----- node stdout and stderr -----\n{log}\n----- end of node output -----");
    }
}

impl Drop for NodeGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            self.print_log();
        }
    }
}

fn target_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp` and follows CARGO_TARGET_DIR.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent directory")
        .to_path_buf()
}

/// Waits for `child` to exit, killing it after `timeout`. Returns None on timeout.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().expect("failed to poll a child process") {
            Some(status) => return Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            None => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Runs `command` with stdout and stderr written to files next to `output_stem`.
/// Returns the exit status (None on timeout), stdout and stderr.
fn run_logged(
    mut command: Command,
    output_stem: &Path,
    timeout: Duration,
) -> (Option<ExitStatus>, String, String) {
    let stdout_path = output_stem.with_extension("stdout");
    let stderr_path = output_stem.with_extension("stderr");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).expect("failed to create a stdout file"))
        .stderr(File::create(&stderr_path).expect("failed to create a stderr file"))
        .spawn()
        .unwrap_or_else(|error| panic!("failed to start {command:?}: {error}"));
    let status = wait_with_timeout(&mut child, timeout);
    let stdout = fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    (status, stdout, stderr)
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

fn venv_has_pinned_sdk(venv: &Path) -> bool {
    let check = format!(
        "import sys, slack_sdk.version; sys.exit(slack_sdk.version.__version__ != '{SLACK_SDK_VERSION}')"
    );
    Command::new(venv_python(venv))
        .args(["-c", &check])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false)
}

/// Returns the Python interpreter of a virtual environment with the pinned
/// slack_sdk, creating the environment when it is missing or outdated.
fn prepare_venv(scratch: &Path) -> PathBuf {
    // The tests of this file run on parallel threads; one builds the venv
    // while the others wait, so they never install into it at once.
    static VENV_LOCK: Mutex<()> = Mutex::new(());
    let _guard = VENV_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let venv = target_dir().join("slack-sdk-venv");
    if venv_has_pinned_sdk(&venv) {
        return venv_python(&venv);
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).unwrap_or_else(|error| {
            panic!(
                "failed to remove the outdated venv {}: {error}",
                venv.display()
            )
        });
    }

    let mut create = Command::new("python3");
    create.arg("-m").arg("venv").arg(&venv);
    let (status, stdout, stderr) = run_logged(create, &scratch.join("venv"), PIP_TIMEOUT);
    assert!(
        status.is_some_and(|status| status.success()),
        "`python3 -m venv {}` failed (status {status:?}); python3 with the venv module is required.\n{stdout}{stderr}",
        venv.display()
    );

    let mut install = Command::new(venv_python(&venv));
    install.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        &format!("slack_sdk=={SLACK_SDK_VERSION}"),
    ]);
    let (status, stdout, stderr) = run_logged(install, &scratch.join("pip"), PIP_TIMEOUT);
    assert!(
        status.is_some_and(|status| status.success()),
        "pip could not install slack_sdk=={SLACK_SDK_VERSION} into {} (status {status:?}); \
         check that PyPI is reachable.\n{stdout}{stderr}",
        venv.display()
    );
    assert!(
        venv_has_pinned_sdk(&venv),
        "slack_sdk=={SLACK_SDK_VERSION} is not importable from {} after pip install",
        venv.display()
    );
    venv_python(&venv)
}

fn free_loopback_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("failed to bind a loopback port");
    listener
        .local_addr()
        .expect("bound listener has an address")
        .port()
}

/// Starts `switchboard serve` on `data_dir`, with the store `store` when given
/// (the embedded SQLite store otherwise).
fn start_node(
    data_dir: &Path,
    store: Option<&str>,
    port: u16,
    log_path: PathBuf,
    extra_args: &[&str],
) -> NodeGuard {
    let log = File::create(&log_path).expect("failed to create the node log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .arg("serve")
        .args(extra_args)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir);
    if let Some(store) = store {
        command.args(["--store", store]);
    }
    let child = command
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(
            log.try_clone()
                .expect("failed to clone the log file handle"),
        )
        .stderr(log)
        .spawn()
        .expect("failed to start the switchboard binary");
    NodeGuard { child, log_path }
}

/// Waits until the node has written a complete bootstrap.json and accepts TCP connections.
fn wait_for_bootstrap(node: &mut NodeGuard, data_dir: &Path, port: u16) -> Value {
    let path = data_dir.join("bootstrap.json");
    let deadline = Instant::now() + BOOTSTRAP_TIMEOUT;
    let bootstrap = loop {
        if let Some(status) = node.child.try_wait().expect("failed to poll the node") {
            panic!(
                "the node exited with {status} before writing {}",
                path.display()
            );
        }
        // The file may be seen half written, so parse errors mean "not yet".
        if let Ok(text) = fs::read_to_string(&path) {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                break value;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the node did not write a valid {} within {BOOTSTRAP_TIMEOUT:?}",
            path.display()
        );
        thread::sleep(Duration::from_millis(100));
    };

    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + LISTEN_TIMEOUT;
    while TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the node wrote bootstrap.json but does not accept connections on {address} within {LISTEN_TIMEOUT:?}"
        );
        thread::sleep(Duration::from_millis(100));
    }
    bootstrap
}

fn bootstrap_str<'a>(bootstrap: &'a Value, pointer: &str) -> &'a str {
    bootstrap
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("bootstrap.json has no string at {pointer}: {bootstrap}"))
}

/// Creates the second user with `switchboard admin create-user` while the node runs.
fn create_user(
    data_dir: &Path,
    store: Option<&str>,
    team_id: &str,
    scratch: &Path,
) -> (String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    command
        .args(["admin", "create-user", "--data-dir"])
        .arg(data_dir);
    if let Some(store) = store {
        command.args(["--store", store]);
    }
    command
        .args(["--team", team_id, "--name", "sdk-listener"])
        .args([
            "--email",
            "sdk-listener@example.com",
            "--real-name",
            "SDK Listener",
        ]);
    let (status, stdout, stderr) =
        run_logged(command, &scratch.join("create-user"), ADMIN_COMMAND_TIMEOUT);
    assert!(
        status.is_some_and(|status| status.success()),
        "`switchboard admin create-user` failed (status {status:?})\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    let line = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("");
    let created: Value = serde_json::from_str(line).unwrap_or_else(|error| {
        panic!("`switchboard admin create-user` did not print a JSON line ({error})\nstdout:\n{stdout}")
    });
    let field = |name: &str| {
        created[name]
            .as_str()
            .unwrap_or_else(|| panic!("create-user output has no string {name}: {created}"))
            .to_owned()
    };
    (field("user_id"), field("token"))
}

#[test]
fn slack_sdk_conversation() {
    run_conversation(None);
}

/// Runs the conversation against a node whose store is a new, empty database
/// on the MySQL server of `SWITCHBOARD_TEST_MYSQL_URL`.
#[test]
#[ignore = "needs MariaDB: set SWITCHBOARD_TEST_MYSQL_URL"]
fn slack_sdk_conversation_on_mysql() {
    with_mysql_database("conversation", run_conversation);
}

/// Runs `files_upload_v2` against a node on a new MySQL database.
#[test]
#[ignore = "needs MariaDB: set SWITCHBOARD_TEST_MYSQL_URL"]
fn slack_sdk_files_upload_v2_on_mysql() {
    with_mysql_database("files", run_files_upload);
}

/// Creates a new, empty database on the MySQL server of
/// `SWITCHBOARD_TEST_MYSQL_URL` (the node creates the demo workspace only in an
/// empty store), runs `test` with its URL, and drops the database afterwards.
fn with_mysql_database(name: &str, test: fn(Option<&str>)) {
    let base_url = std::env::var("SWITCHBOARD_TEST_MYSQL_URL").expect(
        "SWITCHBOARD_TEST_MYSQL_URL is not set; set it to mysql://user:password@host:port/database",
    );
    let (server_url, _) = base_url
        .rsplit_once('/')
        .expect("SWITCHBOARD_TEST_MYSQL_URL ends with /DATABASE");
    let database = format!("switchboard_sdk_{name}_{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().expect("failed to start a tokio runtime");
    let run_sql = |sql: String| {
        runtime.block_on(async {
            let mut connection = mysql_async::Conn::from_url(&base_url)
                .await
                .expect("failed to connect to SWITCHBOARD_TEST_MYSQL_URL");
            mysql_async::prelude::Queryable::query_drop(&mut connection, &sql)
                .await
                .unwrap_or_else(|error| panic!("{sql} failed: {error}"));
            connection.disconnect().await.expect("failed to disconnect");
        })
    };
    run_sql(format!("DROP DATABASE IF EXISTS {database}"));
    run_sql(format!(
        "CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    ));

    test(Some(&format!("{server_url}/{database}")));

    run_sql(format!("DROP DATABASE {database}"));
}

/// Starts a node on `store` (the embedded store when `None`), creates a second
/// user with the admin command and runs `conversation.py` against the node.
fn run_conversation(store: Option<&str>) {
    let scratch = tempfile::tempdir().expect("failed to create a temporary directory");
    let data_dir = scratch.path().join("data");
    fs::create_dir(&data_dir).expect("failed to create the data directory");

    let python = prepare_venv(scratch.path());

    let port = free_loopback_port();
    let mut node = start_node(&data_dir, store, port, scratch.path().join("node.log"), &[]);
    let bootstrap = wait_for_bootstrap(&mut node, &data_dir, port);

    let api_url = bootstrap_str(&bootstrap, "/api_url");
    let team_id = bootstrap_str(&bootstrap, "/team_id");
    let admin_token = bootstrap_str(&bootstrap, "/admin/token");
    let bot_token = bootstrap_str(&bootstrap, "/bot/token");
    assert_eq!(
        api_url,
        format!("http://127.0.0.1:{port}/api/"),
        "bootstrap.json api_url"
    );

    let (user_id, user_token) = create_user(&data_dir, store, team_id, scratch.path());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/conversation.py");
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .env("SB_API_URL", api_url)
        .env("SB_ADMIN_TOKEN", admin_token)
        .env("SB_USER_TOKEN", &user_token)
        .env("SB_USER_ID", &user_id)
        .env("SB_BOT_TOKEN", bot_token)
        .env("PYTHONUNBUFFERED", "1")
        // Keep the SDK from routing loopback requests through a proxy set in the environment.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy");
    let (status, stdout, stderr) = run_logged(
        command,
        &scratch.path().join("conversation"),
        SCRIPT_TIMEOUT,
    );

    println!("----- conversation.py stdout -----\n{stdout}");
    println!("----- conversation.py stderr -----\n{stderr}");
    let status =
        status.unwrap_or_else(|| panic!("conversation.py timed out after {SCRIPT_TIMEOUT:?}"));
    assert!(
        status.success(),
        "conversation.py failed with {status}; its output is above"
    );
}

/// Upload limit of the node in `slack_sdk_files_upload_v2`, in bytes.
const TEST_MAX_FILE_BYTES: &str = "65536";

#[test]
fn slack_sdk_files_upload_v2() {
    run_files_upload(None);
}

/// Starts a node on `store` (the embedded store when `None`) with a small file
/// limit, creates a user outside the shared channels, and runs `files.py`.
fn run_files_upload(store: Option<&str>) {
    let scratch = tempfile::tempdir().expect("failed to create a temporary directory");
    let data_dir = scratch.path().join("data");
    fs::create_dir(&data_dir).expect("failed to create the data directory");

    let python = prepare_venv(scratch.path());

    let port = free_loopback_port();
    let mut node = start_node(
        &data_dir,
        store,
        port,
        scratch.path().join("node.log"),
        &["--max-file-bytes", TEST_MAX_FILE_BYTES],
    );
    let bootstrap = wait_for_bootstrap(&mut node, &data_dir, port);
    let api_url = bootstrap_str(&bootstrap, "/api_url");
    let team_id = bootstrap_str(&bootstrap, "/team_id");
    let (_, outsider_token) = create_user(&data_dir, store, team_id, scratch.path());

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/files.py");
    let mut command = Command::new(&python);
    command
        .arg(&script)
        .env("SB_API_URL", api_url)
        .env("SB_ADMIN_TOKEN", bootstrap_str(&bootstrap, "/admin/token"))
        .env("SB_BOT_TOKEN", bootstrap_str(&bootstrap, "/bot/token"))
        .env("SB_USER_TOKEN", &outsider_token)
        .env("SB_MAX_FILE_BYTES", TEST_MAX_FILE_BYTES)
        .env("PYTHONUNBUFFERED", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy");
    let (status, stdout, stderr) =
        run_logged(command, &scratch.path().join("files"), SCRIPT_TIMEOUT);

    println!("----- files.py stdout -----\n{stdout}");
    println!("----- files.py stderr -----\n{stderr}");
    let status = status.unwrap_or_else(|| panic!("files.py timed out after {SCRIPT_TIMEOUT:?}"));
    assert!(
        status.success(),
        "files.py failed with {status}; its output is above"
    );
}
