//! Jobs: work that follows a commit and runs outside the request that caused
//! it (mentions and unread counts, push notifications, link unfurls,
//! reminders, billing). A job is written to the store's outbox in the same
//! transaction as the change that caused it. A relay copies it to a
//! [`JobQueue`], and workers run it at least once.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{random_id, ChannelId, TeamId, UserId};
use crate::ts::Ts;

/// The kind of work a job does. Each kind has its own topic on the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobKind {
    /// Side effects of a posted message: mentions, unread counts, pushes.
    MessagePost,
    /// One push notification to the push gateway.
    PushNotification,
    /// Fetch the pages a message links to and attach their previews.
    UrlUnfurl,
    /// Deliver a due reminder.
    Reminder,
    /// Compute a team's billable seats.
    Billing,
}

impl JobKind {
    /// Every kind, in a fixed order.
    pub const ALL: [JobKind; 5] = [
        JobKind::MessagePost,
        JobKind::PushNotification,
        JobKind::UrlUnfurl,
        JobKind::Reminder,
        JobKind::Billing,
    ];

    /// Returns the kind's name, used as the topic name and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::MessagePost => "message_post",
            JobKind::PushNotification => "push_notification",
            JobKind::UrlUnfurl => "url_unfurl",
            JobKind::Reminder => "reminder",
            JobKind::Billing => "billing",
        }
    }

    /// Parses a name returned by [`JobKind::as_str`].
    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// One unit of work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Unique id (`J…`); handlers are idempotent by it.
    pub id: String,
    /// Team the job belongs to; the queue partitions by it.
    pub team_id: TeamId,
    /// The kind of work.
    pub kind: JobKind,
    /// The kind's arguments as JSON text (a [`JobPayload`]).
    pub payload: String,
    /// When the job was written to the outbox.
    pub enqueued: Ts,
}

impl Job {
    /// Creates a job with a fresh id, enqueued now.
    pub fn new(team_id: TeamId, payload: &JobPayload) -> Job {
        Job {
            id: random_id('J'),
            team_id,
            kind: payload.kind(),
            payload: serde_json::to_string(payload).expect("job payloads serialize to JSON"),
            enqueued: Ts::now(),
        }
    }

    /// Creates a job with a chosen id, enqueued now. A fixed id makes enqueuing
    /// idempotent: the outbox rejects a second insert of the id, and a worker
    /// skips a job whose id is already done.
    pub fn with_id(id: String, team_id: TeamId, payload: &JobPayload) -> Job {
        Job {
            id,
            ..Job::new(team_id, payload)
        }
    }

    /// Decodes the payload.
    pub fn decode(&self) -> Result<JobPayload, String> {
        serde_json::from_str(&self.payload)
            .map_err(|error| format!("invalid payload of job {}: {error}", self.id))
    }

    /// Returns the partition of this job's team among `partitions`. The hash is
    /// FNV-1a, so every node and every restart agree on it.
    pub fn partition(&self, partitions: u32) -> u32 {
        team_partition(&self.team_id, partitions)
    }
}

/// Returns the partition of a team among `partitions` (FNV-1a of the id).
pub fn team_partition(team_id: &TeamId, partitions: u32) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in team_id.as_str().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % partitions.max(1)
}

/// The arguments of each job kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobPayload {
    /// A message was committed.
    MessagePost {
        /// Its conversation.
        channel_id: ChannelId,
        /// Its `ts`.
        ts: Ts,
    },
    /// Notify a user who is not connected.
    PushNotification {
        /// The recipient.
        user_id: UserId,
        /// The conversation of the message.
        channel_id: ChannelId,
        /// The message.
        ts: Ts,
        /// The author.
        author: UserId,
        /// The message text.
        text: String,
        /// Why the user is notified: `"dm"` or `"mention"`.
        reason: String,
    },
    /// Unfurl the links of a message.
    UrlUnfurl {
        /// Its conversation.
        channel_id: ChannelId,
        /// Its `ts`.
        ts: Ts,
        /// The links, in order of appearance.
        urls: Vec<String>,
    },
    /// Deliver a reminder.
    Reminder {
        /// The reminder's id (`Rm…`).
        reminder_id: String,
    },
    /// Count a team's billable seats for a month.
    Billing {
        /// The month, `YYYY-MM`.
        month: String,
    },
}

impl JobPayload {
    /// Returns the kind of job that carries this payload.
    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::MessagePost { .. } => JobKind::MessagePost,
            JobPayload::PushNotification { .. } => JobKind::PushNotification,
            JobPayload::UrlUnfurl { .. } => JobKind::UrlUnfurl,
            JobPayload::Reminder { .. } => JobKind::Reminder,
            JobPayload::Billing { .. } => JobKind::Billing,
        }
    }
}

/// A job read back from the queue, with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedJob {
    /// Offset of the record in its partition.
    pub offset: i64,
    /// The job.
    pub job: Job,
}

/// Error of a queue operation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue backend failed or is unreachable.
    #[error("job queue failed: {0}")]
    Backend(String),
    /// A record could not be decoded.
    #[error("invalid job record: {0}")]
    Decode(String),
}

/// A durable, partitioned log of jobs: one topic per [`JobKind`], partitioned
/// by team. Consumers track their own offsets (stored in the [`Store`]), as
/// with Kafka without consumer groups.
///
/// [`Store`]: crate::ports::Store
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Returns the backend's name for logs and metrics (`embedded`, `kafka`).
    fn name(&self) -> &'static str;

    /// Returns the number of partitions of every topic.
    fn partitions(&self) -> u32;

    /// Appends jobs to their topics and partitions. On `Ok`, every job is
    /// durable in the queue.
    async fn publish(&self, jobs: &[Job]) -> Result<(), QueueError>;

    /// Returns up to `max` jobs of one partition from `offset` on, in order.
    /// Returns an empty list when there is nothing new, possibly after waiting
    /// briefly for new records.
    async fn fetch(
        &self,
        kind: JobKind,
        partition: u32,
        offset: i64,
        max: usize,
    ) -> Result<Vec<QueuedJob>, QueueError>;
}

/// A job that failed every attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadJob {
    /// The job.
    pub job: Job,
    /// Number of attempts made.
    pub attempts: u32,
    /// The error of the last attempt.
    pub error: String,
    /// When it was given up.
    pub died: Ts,
}

/// A member's read position and counters in one conversation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadState {
    /// `ts` of the last message the member has read.
    pub last_read: Ts,
    /// Messages from others after `last_read`.
    pub unread_count: u32,
    /// Of those, messages that mention the member.
    pub mention_count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("nope"), None);
    }

    #[test]
    fn payload_round_trips() {
        let payload = JobPayload::MessagePost {
            channel_id: ChannelId::from("C1"),
            ts: Ts(5),
        };
        let job = Job::new(TeamId::from("T1"), &payload);
        assert_eq!(job.kind, JobKind::MessagePost);
        assert_eq!(job.decode().unwrap(), payload);
    }

    #[test]
    fn partition_is_stable() {
        let team = TeamId::from("TABC");
        assert_eq!(team_partition(&team, 8), team_partition(&team, 8));
        assert!(team_partition(&team, 8) < 8);
        assert_eq!(team_partition(&team, 1), 0);
    }
}
