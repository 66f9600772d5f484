//! The push-notification job: POSTs a JSON payload to the configured push
//! gateway for a recipient who had no open session when the message was
//! handled. A non-2xx response or a transport error fails the attempt, so the
//! worker retries it.

use std::time::Duration;

use serde_json::json;
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::Write;
use switchboard_actors::presence;
use switchboard_actors::ts::Ts;

use super::JobContext;

/// How long one POST to the gateway may take.
const GATEWAY_TIMEOUT: Duration = Duration::from_secs(5);

/// One notification to send.
pub(super) struct Push<'a> {
    /// The job, sent as `job_id` so the gateway can drop a repeated delivery.
    pub job_id: &'a str,
    /// Team of the recipient.
    pub team_id: &'a TeamId,
    /// The recipient.
    pub user_id: &'a UserId,
    /// Conversation of the message.
    pub channel_id: &'a ChannelId,
    /// The message.
    pub ts: Ts,
    /// Author of the message.
    pub author: &'a UserId,
    /// Text of the message.
    pub text: &'a str,
    /// `dm` or `mention`.
    pub reason: &'a str,
}

pub(super) async fn handle(context: &JobContext, push: Push<'_>) -> Result<Vec<Write>, String> {
    let Some(gateway) = &context.settings.push_gateway_url else {
        return Ok(Vec::new());
    };
    // The user may have connected since the message was handled; a connected
    // user sees the message on their socket.
    if context.hub.registry().session_count(push.user_id) > 0 {
        return Ok(Vec::new());
    }
    // A snoozed user (do not disturb) gets no push; the message waits in the
    // conversation as unread.
    if presence::is_snoozed(&context.hub, push.team_id, push.user_id).await {
        tracing::debug!(job = push.job_id, user = %push.user_id, "push skipped: do not disturb");
        return Ok(Vec::new());
    }
    // A conversation the recipient muted sends them no push.
    let muted = context
        .hub
        .store()
        .muted_channels(push.team_id, push.user_id)
        .await
        .map_err(|error| {
            format!(
                "reading the muted channels of {} failed: {error}",
                push.user_id
            )
        })?;
    if muted.contains(push.channel_id) {
        tracing::debug!(job = push.job_id, user = %push.user_id, channel = %push.channel_id, "push skipped: muted channel");
        return Ok(Vec::new());
    }
    let body = json!({
        "job_id": push.job_id,
        "team_id": push.team_id,
        "user_id": push.user_id,
        "channel": push.channel_id,
        "ts": push.ts,
        "author": push.author,
        "text": push.text,
        "reason": push.reason,
    });
    let response = context
        .http
        .post(gateway)
        .timeout(GATEWAY_TIMEOUT)
        .json(&body)
        .send()
        .await
        .map_err(|error| format!("push to {gateway} failed: {error}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("push gateway {gateway} answered HTTP {status}"));
    }
    Ok(Vec::new())
}
