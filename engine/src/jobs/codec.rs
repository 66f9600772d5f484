//! The encoding of a job as a queue record: one format-version byte, then the
//! job in bincode 2's standard configuration. Both queue backends store
//! exactly these bytes, so a record written by one release can be recognized
//! (and rejected with a clear error) by a later one.

use bincode::{Decode, Encode};
use switchboard_actors::ids::TeamId;
use switchboard_actors::jobs::{Job, JobKind, QueueError};
use switchboard_actors::ts::Ts;

/// Version of the record layout below. Bump it when [`JobRecord`] changes.
pub const FORMAT_VERSION: u8 = 1;

/// The fields of a [`Job`] as written to the queue.
#[derive(Encode, Decode)]
struct JobRecord {
    /// The job id.
    id: String,
    /// The team id.
    team_id: String,
    /// The kind's name ([`JobKind::as_str`]), stable across reorderings.
    kind: String,
    /// The payload's JSON text.
    payload: String,
    /// Outbox time, microseconds since the Unix epoch.
    enqueued: u64,
}

/// Encodes a job as a record value.
pub fn encode(job: &Job) -> Vec<u8> {
    let record = JobRecord {
        id: job.id.clone(),
        team_id: job.team_id.to_string(),
        kind: job.kind.as_str().to_owned(),
        payload: job.payload.clone(),
        enqueued: job.enqueued.0,
    };
    let mut bytes = vec![FORMAT_VERSION];
    let body = bincode::encode_to_vec(&record, bincode::config::standard())
        .expect("encoding strings and integers into a Vec cannot fail");
    bytes.extend_from_slice(&body);
    bytes
}

/// Decodes a record value written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Job, QueueError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| QueueError::Decode("empty job record".into()))?;
    if version != FORMAT_VERSION {
        return Err(QueueError::Decode(format!(
            "job record has format version {version}, but this binary reads version {FORMAT_VERSION}"
        )));
    }
    let (record, _): (JobRecord, usize) =
        bincode::decode_from_slice(body, bincode::config::standard())
            .map_err(|error| QueueError::Decode(error.to_string()))?;
    let kind = JobKind::parse(&record.kind)
        .ok_or_else(|| QueueError::Decode(format!("unknown job kind {:?}", record.kind)))?;
    Ok(Job {
        id: record.id,
        team_id: TeamId(record.team_id),
        kind,
        payload: record.payload,
        enqueued: Ts(record.enqueued),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_actors::ids::ChannelId;
    use switchboard_actors::jobs::JobPayload;

    #[test]
    fn record_round_trips() {
        let job = Job::new(
            TeamId::from("T1"),
            &JobPayload::MessagePost {
                channel_id: ChannelId::from("C1"),
                ts: Ts(42),
            },
        );
        let bytes = encode(&job);
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode(&bytes).unwrap(), job);
    }

    #[test]
    fn other_versions_are_rejected() {
        let job = Job::new(
            TeamId::from("T1"),
            &JobPayload::Billing {
                month: "2026-01".into(),
            },
        );
        let mut bytes = encode(&job);
        bytes[0] = FORMAT_VERSION + 1;
        let error = decode(&bytes).unwrap_err();
        assert!(error.to_string().contains("format version"), "{error}");
        assert!(decode(&[]).is_err());
    }
}
