//! The Kafka backend of the job queue, through `rskafka`. Every job kind has
//! its own topic (`{prefix}.{kind}`), partitioned by team. The record key is
//! the team id and the value is [`codec::encode`] of the job. `rskafka` has no
//! consumer groups, so the workers choose their partitions themselves and
//! keep their offsets in the store.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use rskafka::chrono::{TimeZone, Utc};
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;
use switchboard_actors::jobs::{Job, JobKind, JobQueue, QueueError, QueuedJob};

use super::codec;

/// Largest fetch response, in bytes.
const FETCH_MAX_BYTES: i32 = 4 * 1024 * 1024;

/// Maximum time the broker waits for records before it returns an empty
/// fetch, in milliseconds.
const FETCH_WAIT_MS: i32 = 100;

/// How long topic creation may take on the broker, in milliseconds.
const CREATE_TOPIC_TIMEOUT_MS: i32 = 5_000;

/// The Kafka queue (see the module docs).
pub struct KafkaQueue {
    /// One client per (kind, partition), created at startup.
    partitions: HashMap<(JobKind, u32), Arc<PartitionClient>>,
    /// Number of partitions of every topic.
    partition_count: u32,
}

/// The broker and topic prefix of a Kafka queue, parsed from
/// `kafka://host:port[/prefix]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaAddress {
    /// Bootstrap broker, `host:port`.
    pub broker: String,
    /// Topic name prefix; `switchboard` when the URL has no path.
    pub prefix: String,
}

impl KafkaAddress {
    /// Parses `kafka://host:port` or `kafka://host:port/prefix`.
    pub fn parse(url: &str) -> Result<KafkaAddress, String> {
        let rest = url
            .strip_prefix("kafka://")
            .ok_or_else(|| format!("invalid Kafka URL {url:?}: expected kafka://host:port"))?;
        let (broker, prefix) = match rest.split_once('/') {
            Some((broker, prefix)) if !prefix.is_empty() => (broker, prefix),
            Some((broker, _)) => (broker, "switchboard"),
            None => (rest, "switchboard"),
        };
        if broker.is_empty() || !broker.contains(':') {
            return Err(format!(
                "invalid Kafka URL {url:?}: expected kafka://host:port"
            ));
        }
        Ok(KafkaAddress {
            broker: broker.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// Returns the topic of a job kind.
    pub fn topic(&self, kind: JobKind) -> String {
        format!("{}.{}", self.prefix, kind.as_str())
    }
}

fn backend(context: &str) -> impl FnOnce(KafkaError) -> QueueError + '_ {
    move |error| QueueError::Backend(format!("{context}: {error}"))
}

impl KafkaQueue {
    /// Connects to the broker, creates every topic that does not exist yet
    /// with `partitions` partitions (replication factor 1), and opens a client
    /// for each partition.
    pub async fn connect(
        address: &KafkaAddress,
        partitions: u32,
    ) -> Result<KafkaQueue, QueueError> {
        let partitions = partitions.max(1);
        let client = ClientBuilder::new(vec![address.broker.clone()])
            .client_id("switchboard")
            .build()
            .await
            .map_err(backend(&format!(
                "failed to connect to Kafka at {}",
                address.broker
            )))?;
        let controller = client
            .controller_client()
            .map_err(backend("failed to reach the Kafka controller"))?;
        for kind in JobKind::ALL {
            let topic = address.topic(kind);
            match controller
                .create_topic(&topic, partitions as i32, 1, CREATE_TOPIC_TIMEOUT_MS)
                .await
            {
                Ok(()) => tracing::info!(%topic, partitions, "created Kafka topic"),
                Err(KafkaError::ServerError {
                    protocol_error: ProtocolError::TopicAlreadyExists,
                    ..
                }) => {}
                Err(error) => {
                    return Err(QueueError::Backend(format!(
                        "failed to create Kafka topic {topic}: {error}"
                    )))
                }
            }
        }
        let mut clients = HashMap::new();
        for kind in JobKind::ALL {
            for partition in 0..partitions {
                let topic = address.topic(kind);
                let partition_client = client
                    .partition_client(&topic, partition as i32, UnknownTopicHandling::Retry)
                    .await
                    .map_err(backend(&format!("failed to open {topic}/{partition}")))?;
                clients.insert((kind, partition), Arc::new(partition_client));
            }
        }
        tracing::info!(broker = %address.broker, prefix = %address.prefix, partitions, "connected Kafka job queue");
        Ok(KafkaQueue {
            partitions: clients,
            partition_count: partitions,
        })
    }

    fn client(&self, kind: JobKind, partition: u32) -> Result<&Arc<PartitionClient>, QueueError> {
        self.partitions.get(&(kind, partition)).ok_or_else(|| {
            QueueError::Backend(format!(
                "no Kafka partition {partition} for {}; the queue has {} partitions",
                kind.as_str(),
                self.partition_count
            ))
        })
    }
}

#[async_trait]
impl JobQueue for KafkaQueue {
    fn name(&self) -> &'static str {
        "kafka"
    }

    fn partitions(&self) -> u32 {
        self.partition_count
    }

    async fn publish(&self, jobs: &[Job]) -> Result<(), QueueError> {
        let mut groups: HashMap<(JobKind, u32), Vec<Record>> = HashMap::new();
        for job in jobs {
            let timestamp = Utc
                .timestamp_micros(job.enqueued.0 as i64)
                .single()
                .unwrap_or_default();
            groups
                .entry((job.kind, job.partition(self.partition_count)))
                .or_default()
                .push(Record {
                    key: Some(job.team_id.as_str().as_bytes().to_vec()),
                    value: Some(codec::encode(job)),
                    headers: Default::default(),
                    timestamp,
                });
        }
        // One produce request per partition, all in flight at once.
        let produces = groups
            .into_iter()
            .map(|((kind, partition), records)| async move {
                let client = self.client(kind, partition)?;
                client
                    .produce(records, Compression::NoCompression)
                    .await
                    .map(drop)
                    .map_err(backend(&format!(
                        "failed to produce to {}/{partition}",
                        client.topic()
                    )))
            });
        try_join_all(produces).await.map(drop)
    }

    async fn fetch(
        &self,
        kind: JobKind,
        partition: u32,
        offset: i64,
        max: usize,
    ) -> Result<Vec<QueuedJob>, QueueError> {
        let client = self.client(kind, partition)?;
        let (records, _high_watermark) = client
            .fetch_records(offset, 1..FETCH_MAX_BYTES, FETCH_WAIT_MS)
            .await
            .map_err(backend(&format!(
                "failed to fetch from {}/{partition} at offset {offset}",
                client.topic()
            )))?;
        records
            .into_iter()
            // A fetch can return records of the batch before `offset`.
            .filter(|record| record.offset >= offset)
            .take(max)
            .map(|record| {
                let value = record.record.value.unwrap_or_default();
                Ok(QueuedJob {
                    offset: record.offset,
                    job: codec::decode(&value)?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let plain = KafkaAddress::parse("kafka://127.0.0.1:9092").unwrap();
        assert_eq!(plain.broker, "127.0.0.1:9092");
        assert_eq!(plain.prefix, "switchboard");
        let prefixed = KafkaAddress::parse("kafka://host:1/test7").unwrap();
        assert_eq!(prefixed.topic(JobKind::UrlUnfurl), "test7.url_unfurl");
        assert!(KafkaAddress::parse("http://host:1").is_err());
        assert!(KafkaAddress::parse("kafka://host").is_err());
    }
}
