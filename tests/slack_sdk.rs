//! Compatibility test with the official Python `slack_sdk`.
//!
//! Starts a node on a loopback port, creates a second user with the admin
//! subcommand and runs `tests/python/conversation.py`, which drives a whole
//! conversation through `slack_sdk.WebClient` and `slack_sdk.rtm_v2.RTMClient`.
//! The venv and node helpers are in `tests/common/sdk.rs`.

mod common;

use std::fs;
use std::time::Duration;

use common::sdk::{
    bootstrap_str, create_user, free_loopback_port, prepare_venv, python_script, run_logged,
    start_node, wait_for_bootstrap,
};

/// The script waits at most 10 s per RTM event, so even a run in which many
/// events are missing ends well within this bound.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn slack_sdk_conversation() {
    let scratch = tempfile::tempdir().expect("failed to create a temporary directory");
    let data_dir = scratch.path().join("data");
    fs::create_dir(&data_dir).expect("failed to create the data directory");

    let python = prepare_venv(scratch.path());

    let port = free_loopback_port();
    let mut node = start_node(&data_dir, port, scratch.path().join("node.log"), &[]);
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

    let (user_id, user_token) = create_user(&data_dir, team_id, "sdk-listener", scratch.path());

    let mut command = python_script(&python, "conversation.py");
    command
        .env("SB_API_URL", api_url)
        .env("SB_ADMIN_TOKEN", admin_token)
        .env("SB_USER_TOKEN", &user_token)
        .env("SB_USER_ID", &user_id)
        .env("SB_BOT_TOKEN", bot_token);
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
