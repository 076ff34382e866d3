//! [`KafkaSource`]: the description every worker opens its own consumer from.

use std::marker::PhantomData;
use std::sync::atomic::AtomicU8;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::Offset;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::TopicPartitionList;
use serde::de::DeserializeOwned;
use tributary_engine::EngineError;
use tributary_engine::record::JsonDecoder;
use tributary_engine::source::{Source, SourceCheckpoint, SourceReader, WorkerInfo};

use super::context::{BrokerState, SourceContext};
use super::lag::PartitionLag;
use super::reader::{ErrorThrottle, KafkaReader, Positions};
use super::{KafkaError, KafkaEventTime, KafkaSourceConfig, StartOffsets};

/// How long `open` waits for topic metadata when assigning partitions explicitly.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// The next offset to read per `(topic, partition)`, as recorded in history.
type Resume = std::collections::BTreeMap<(String, i32), i64>;

/// A Kafka consumer-group source of JSON records of type `T` (see the module docs).
pub struct KafkaSource<T> {
    config: KafkaSourceConfig,
    lag: Arc<PartitionLag>,
    _record: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for KafkaSource<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSource")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + 'static> KafkaSource<T> {
    /// Validates the configuration and builds the source; no connection is made until the
    /// workers open their readers.
    pub fn try_new(config: KafkaSourceConfig) -> Result<Self, KafkaError> {
        config.validate()?;
        Ok(Self {
            config,
            lag: Arc::new(PartitionLag::default()),
            _record: PhantomData,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &KafkaSourceConfig {
        &self.config
    }

    /// Per-partition lag of this source's consumers, updated every
    /// `statistics_interval_ms`.
    pub fn lag(&self) -> Arc<PartitionLag> {
        self.lag.clone()
    }

    fn client_config(&self, worker: WorkerInfo) -> ClientConfig {
        let c = &self.config;
        let mut client = ClientConfig::new();
        client
            .set("bootstrap.servers", &c.brokers)
            .set("group.id", &c.group_id)
            .set("client.id", format!("tributary-{}-w{}", c.group_id, worker.index))
            // Offsets are committed by `processed`, after the records reached the projections.
            .set("enable.auto.commit", "false")
            .set(
                "auto.offset.reset",
                match c.start {
                    StartOffsets::Latest => "latest",
                    StartOffsets::Earliest | StartOffsets::Offsets(_) => "earliest",
                },
            )
            .set("session.timeout.ms", c.session_timeout_ms.to_string())
            // librdkafka requires heartbeats well inside the session timeout.
            .set(
                "heartbeat.interval.ms",
                (c.session_timeout_ms / 3).clamp(1, 3_000).to_string(),
            )
            .set("statistics.interval.ms", c.statistics_interval_ms.to_string());
        for (key, value) in &c.properties {
            client.set(key, value);
        }
        client
    }

    /// Opens a reader: in the group (subscribed) by default; assigned this worker's
    /// partitions directly with explicit offsets, or when resuming after history (`resume`:
    /// the manifest's next offsets, partitions it lacks start at the group's committed offset).
    fn open_reader(&self, worker: WorkerInfo, resume: Option<&Resume>) -> Result<KafkaReader<T>, KafkaError> {
        let offsets = Arc::new(Mutex::new(Default::default()));
        let context = SourceContext {
            worker: worker.index,
            lag: self.lag.clone(),
            offsets: offsets.clone(),
            brokers: AtomicU8::new(BrokerState::Unknown as u8),
        };
        let consumer: BaseConsumer<SourceContext> = self.client_config(worker).create_with_context(context)?;
        let mut positions = Positions::new();
        match (&self.config.start, resume) {
            (start, Some(resume)) => {
                let explicit = match start {
                    StartOffsets::Offsets(offsets) => Some(offsets),
                    StartOffsets::Earliest | StartOffsets::Latest => None,
                };
                let list = self.assignment(&consumer, worker, |topic, partition| {
                    let first = self.config.topics.first().is_some_and(|t| t == topic);
                    resume
                        .get(&(topic.to_string(), partition))
                        .copied()
                        .or_else(|| explicit.filter(|_| first).and_then(|o| o.get(&partition).copied()))
                })?;
                for element in list.elements() {
                    if let Offset::Offset(next) = element.offset() {
                        positions
                            .entry(element.topic().to_string())
                            .or_default()
                            .insert(element.partition(), next);
                    }
                }
                consumer.assign(&list)?;
            }
            (StartOffsets::Offsets(start), None) => {
                if self.config.topics.len() != 1 {
                    return Err(KafkaError::InvalidConfig {
                        field: "topics",
                        reason: "explicit offsets need exactly one topic".to_string(),
                    });
                }
                consumer.assign(&self.assignment(&consumer, worker, |_, partition| start.get(&partition).copied())?)?;
            }
            (StartOffsets::Earliest | StartOffsets::Latest, None) => {
                let topics: Vec<&str> = self.config.topics.iter().map(String::as_str).collect();
                consumer.subscribe(&topics)?;
            }
        }
        Ok(KafkaReader {
            positions,
            consumer,
            decoder: JsonDecoder::new(self.config.max_record_bytes),
            timestamp_field: match &self.config.event_time {
                KafkaEventTime::KafkaTimestamp { field } => Some(field.clone()),
                KafkaEventTime::Payload => None,
            },
            offsets,
            errors: ErrorThrottle::default(),
        })
    }

    /// This worker's partitions (`partition % peers == index`) of every topic, at the offsets
    /// `start` gives; partitions without one resume from the group's committed offset (else
    /// where [`KafkaSourceConfig::start`] says).
    fn assignment(
        &self,
        consumer: &BaseConsumer<SourceContext>,
        worker: WorkerInfo,
        start: impl Fn(&str, i32) -> Option<i64>,
    ) -> Result<TopicPartitionList, KafkaError> {
        let mut list = TopicPartitionList::new();
        for topic in &self.config.topics {
            let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
            let partitions = metadata
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map(|t| t.partitions().len())
                .filter(|n| *n > 0)
                .ok_or_else(|| KafkaError::UnknownTopic(topic.clone()))?;
            for partition in (0..partitions).filter(|p| p % worker.peers == worker.index) {
                let partition = i32::try_from(partition).map_err(|_| KafkaError::UnknownTopic(topic.clone()))?;
                let offset = start(topic, partition).map_or(Offset::Stored, Offset::Offset);
                list.add_partition_offset(topic, partition, offset)?;
            }
        }
        Ok(list)
    }
}

impl<T: DeserializeOwned + Send + 'static> Source<T> for KafkaSource<T> {
    fn describe(&self) -> String {
        format!(
            "kafka(brokers={}, topics={}, group={})",
            self.config.brokers,
            self.config.topics.join(","),
            self.config.group_id
        )
    }

    fn open(&self, worker: WorkerInfo) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        match self.open_reader(worker, None) {
            Ok(reader) => Ok(Box::new(reader)),
            Err(e) => Err(EngineError::Source {
                source_name: self.describe(),
                reason: e.to_string(),
            }),
        }
    }

    /// With history the partitions are assigned directly (`partition % workers`), never
    /// rebalanced between workers, and each starts at the manifest's next offset: a
    /// rebalance would hand a partition over at the group's committed offset, behind what
    /// history holds, and its records would be in history twice.
    fn open_resuming(
        &self,
        worker: WorkerInfo,
        resume: Option<&SourceCheckpoint>,
    ) -> Result<Box<dyn SourceReader<T>>, EngineError> {
        let fail = |reason: String| EngineError::Source {
            source_name: self.describe(),
            reason,
        };
        let positions: Resume = match resume {
            None => Resume::new(),
            Some(SourceCheckpoint::Kafka { partitions }) => partitions
                .iter()
                .map(|p| ((p.topic.clone(), p.partition), p.next_offset))
                .collect(),
            Some(other) => return Err(fail(format!("cannot resume from a non-Kafka position {other:?}"))),
        };
        match self.open_reader(worker, Some(&positions)) {
            Ok(reader) => Ok(Box::new(reader)),
            Err(e) => Err(fail(e.to_string())),
        }
    }
}
