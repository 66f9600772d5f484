//! The handler of each job kind. A handler returns the writes that record its
//! effect, and the worker commits them in one write set with the job's
//! `FinishJob`, so a job delivered twice takes effect once. Effects outside the
//! store (an HTTP push, an edited message) happen before that commit, so they
//! can repeat when a node dies in between; their receivers get the job id to
//! recognize a repeat. The reminder handler commits its message and its
//! `FinishJob` together itself ([`Handled::Finished`]).

mod billing;
mod message_post;
mod push;
mod reminder;
mod slackbot;
pub mod unfurl;

use std::sync::Arc;
use std::time::Duration;

use switchboard_actors::jobs::{Job, JobPayload};
use switchboard_actors::ports::Write;
use switchboard_actors::Hub;

use super::metrics::JobMetrics;
pub use unfurl::UnfurlSettings;

/// Settings of the job handlers and workers.
#[derive(Clone, Debug)]
pub struct JobSettings {
    /// Attempts per job before it is dead-lettered.
    pub max_attempts: u32,
    /// Pause before the first retry; doubles with each further retry.
    pub backoff_base: Duration,
    /// URL that push notifications are POSTed to; `None` sends none.
    pub push_gateway_url: Option<String>,
    /// Limits of the page fetches of unfurls.
    pub unfurl: UnfurlSettings,
}

/// The context shared by every handler.
pub struct JobContext {
    /// Shared node state.
    pub hub: Hub,
    /// Settings.
    pub settings: JobSettings,
    /// Client for push-gateway posts.
    pub http: reqwest::Client,
    /// Counters.
    pub metrics: Arc<JobMetrics>,
}

/// What a handler did, when it succeeded.
#[derive(Debug)]
pub enum Handled {
    /// These writes record its effect; the worker commits them in one write
    /// set with the job's `FinishJob`.
    Writes(Vec<Write>),
    /// The handler committed its effect and the job's `FinishJob` itself.
    Finished,
    /// Another delivery of the job had finished it; nothing was done.
    AlreadyFinished,
}

/// Runs the handler of a job's kind.
pub async fn handle(context: &JobContext, job: &Job) -> Result<Handled, String> {
    let writes = match job.decode()? {
        JobPayload::MessagePost { channel_id, ts } => {
            message_post::handle(context, &job.team_id, &channel_id, ts).await
        }
        JobPayload::PushNotification {
            user_id,
            channel_id,
            ts,
            author,
            text,
            reason,
        } => {
            let push = push::Push {
                job_id: &job.id,
                team_id: &job.team_id,
                user_id: &user_id,
                channel_id: &channel_id,
                ts,
                author: &author,
                text: &text,
                reason: &reason,
            };
            push::handle(context, push).await
        }
        JobPayload::UrlUnfurl {
            channel_id,
            ts,
            urls,
        } => unfurl::handle(context, &job.team_id, &channel_id, ts, &urls).await,
        JobPayload::Billing { month } => {
            billing::handle(context, &job.id, &job.team_id, &month).await
        }
        JobPayload::Reminder { reminder_id } => {
            return reminder::handle(context, job, &reminder_id).await;
        }
    };
    writes.map(Handled::Writes)
}
