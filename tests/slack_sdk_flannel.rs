//! The Flannel boot methods with the official Python `slack_sdk`.
//!
//! Starts `switchboard serve` on a loopback port and runs
//! `tests/python/flannel.py`: `rtm.start` against `client.boot` (with unread
//! counts kept by the message-post job), the lookup methods a light client
//! uses, and an `RTMClient` that receives a message after the boot. The venv
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
fn slack_sdk_flannel_boot() {
    let scratch = tempfile::tempdir().expect("failed to create a temporary directory");
    let data_dir = scratch.path().join("data");
    fs::create_dir(&data_dir).expect("failed to create the data directory");

    let python = prepare_venv(scratch.path());

    let port = free_loopback_port();
    let mut node = start_node(&data_dir, port, scratch.path().join("node.log"), &[]);
    let bootstrap = wait_for_bootstrap(&mut node, &data_dir, port);
    let team_id = bootstrap_str(&bootstrap, "/team_id");
    let user_name = "sdk-flannel";
    let (user_id, user_token) = create_user(&data_dir, team_id, user_name, scratch.path());

    let mut command = python_script(&python, "flannel.py");
    command
        .env("SB_API_URL", bootstrap_str(&bootstrap, "/api_url"))
        .env("SB_ADMIN_TOKEN", bootstrap_str(&bootstrap, "/admin/token"))
        .env("SB_USER_TOKEN", &user_token)
        .env("SB_USER_ID", &user_id)
        .env("SB_USER_NAME", user_name);
    let (status, stdout, stderr) =
        run_logged(command, &scratch.path().join("flannel"), SCRIPT_TIMEOUT);

    println!("----- flannel.py stdout -----\n{stdout}");
    println!("----- flannel.py stderr -----\n{stderr}");
    let status = status.unwrap_or_else(|| panic!("flannel.py timed out after {SCRIPT_TIMEOUT:?}"));
    assert!(
        status.success(),
        "flannel.py failed with {status}; its output is above"
    );
}
