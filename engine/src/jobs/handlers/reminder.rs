//! The reminder job: delivers a due reminder as a direct message from Slackbot
//! (`USLACKBOT`) to its recipient, with the text `Reminder: <text>.`.
//!
//! The message and the job's `FinishJob` commit in one write set through the
//! channel actor (`PostRequest::writes`), so a second delivery of the job
//! conflicts on the finish marker and posts nothing.

use switchboard_actors::channel::PostRequest;
use switchboard_actors::jobs::Job;
use switchboard_actors::ports::Write;

use super::{slackbot, Handled, JobContext};

pub(super) async fn handle(
    context: &JobContext,
    job: &Job,
    reminder_id: &str,
) -> Result<Handled, String> {
    let hub = &context.hub;
    let team_id = &job.team_id;
    let store = hub.store();
    let reminder = store
        .reminder(team_id, reminder_id)
        .await
        .map_err(|error| format!("failed to load reminder {reminder_id}: {error}"))?;
    let Some(reminder) = reminder else {
        tracing::info!(job = %job.id, team = %team_id, reminder = reminder_id, "reminder deleted before delivery; nothing sent");
        return Ok(Handled::Writes(Vec::new()));
    };
    if reminder.complete_ts != 0 {
        tracing::info!(job = %job.id, team = %team_id, reminder = reminder_id, "reminder completed before delivery; nothing sent");
        return Ok(Handled::Writes(Vec::new()));
    }
    let recipient = store
        .user(team_id, &reminder.user)
        .await
        .map_err(|error| format!("failed to load user {}: {error}", reminder.user))?;
    if recipient.is_none_or(|user| user.deleted) {
        tracing::info!(job = %job.id, team = %team_id, reminder = reminder_id, user = %reminder.user, "reminder recipient is gone or deactivated; nothing sent");
        return Ok(Handled::Writes(Vec::new()));
    }

    let slackbot = slackbot::ensure_user(hub, team_id).await?;
    let channel = slackbot::ensure_im(hub, team_id, &reminder.user).await?;
    let request = PostRequest {
        user: slackbot.id.clone(),
        text: reminder.message_text(),
        writes: vec![Write::FinishJob {
            team_id: team_id.clone(),
            job_id: job.id.clone(),
        }],
        ..PostRequest::default()
    };
    match hub.post_message(team_id, &channel.id, request).await {
        Ok(message) => {
            tracing::info!(job = %job.id, team = %team_id, reminder = reminder_id, channel = %channel.id, ts = %message.ts, "reminder delivered");
            Ok(Handled::Finished)
        }
        Err(error) => {
            // A finish marker that already exists fails the post: another
            // delivery of this job posted the message.
            let done = store.is_job_done(team_id, &job.id).await.map_err(|read| {
                format!("posting reminder {reminder_id} failed ({error}), and checking whether its job is done failed: {read}")
            })?;
            if done {
                tracing::info!(job = %job.id, team = %team_id, reminder = reminder_id, "reminder already delivered by another delivery of its job");
                return Ok(Handled::AlreadyFinished);
            }
            Err(format!(
                "posting reminder {reminder_id} to {} failed: {error}",
                channel.id
            ))
        }
    }
}
