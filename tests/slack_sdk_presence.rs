//! Presence and do not disturb with the official Python `slack_sdk`.
//!
//! Starts `switchboard serve` on a loopback port with unbatched presence changes
//! and runs `tests/python/presence.py`: a bot's `RTMClient` subscribes with
//! `presence_sub` to a user who connects and closes two `RTMClient`s, then the
//! script checks `users.getPresence`, `users.setPresence` and `dnd.*`. The venv
//! and node helpers are in `tests/common/sdk.rs`.

mod common;

use std::fs;
use std::time::Duration;

use common::sdk::{
    bootstrap_str, create_user, free_loopback_port, prepare_venv, python_script, run_logged,
    start_node, wait_for_bootstrap,
};

/// The script waits at most 10 s per event or state change, so even a run in
/// which every wait fails ends within this bound.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn slack_sdk_presence() {
    let scratch = tempfile::tempdir().expect("failed to create a temporary directory");
    let data_dir = scratch.path().join("data");
    fs::create_dir(&data_dir).expect("failed to create the data directory");

    let python = prepare_venv(scratch.path());

    let port = free_loopback_port();
    let mut node = start_node(
        &data_dir,
        port,
        scratch.path().join("node.log"),
        &["--presence-batch-ms", "0"],
    );
    let bootstrap = wait_for_bootstrap(&mut node, &data_dir, port);
    let team_id = bootstrap_str(&bootstrap, "/team_id");
    let (user_id, user_token) = create_user(&data_dir, team_id, "sdk-presence", scratch.path());

    let mut command = python_script(&python, "presence.py");
    command
        .env("SB_API_URL", bootstrap_str(&bootstrap, "/api_url"))
        .env("SB_ADMIN_TOKEN", bootstrap_str(&bootstrap, "/admin/token"))
        .env("SB_BOT_TOKEN", bootstrap_str(&bootstrap, "/bot/token"))
        .env("SB_USER_TOKEN", &user_token)
        .env("SB_USER_ID", &user_id);
    let (status, stdout, stderr) =
        run_logged(command, &scratch.path().join("presence"), SCRIPT_TIMEOUT);

    println!("----- presence.py stdout -----\n{stdout}");
    println!("----- presence.py stderr -----\n{stderr}");
    let status = status.unwrap_or_else(|| panic!("presence.py timed out after {SCRIPT_TIMEOUT:?}"));
    assert!(
        status.success(),
        "presence.py failed with {status}; its output is above"
    );
}
