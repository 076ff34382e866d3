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
use tributary_engine::source::{Source, SourceReader, WorkerInfo};

use super::context::{BrokerState, SourceContext};
use super::lag::PartitionLag;
use super::reader::{ErrorThrottle, KafkaReader};
use super::{KafkaError, KafkaEventTime, KafkaSourceConfig, StartOffsets};

/// How long `open` waits for topic metadata when assigning partitions explicitly.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

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

    fn open_reader(&self, worker: WorkerInfo) -> Result<KafkaReader<T>, KafkaError> {
        let offsets = Arc::new(Mutex::new(Default::default()));
        let context = SourceContext {
            worker: worker.index,
            lag: self.lag.clone(),
            offsets: offsets.clone(),
            brokers: AtomicU8::new(BrokerState::Unknown as u8),
        };
        let consumer: BaseConsumer<SourceContext> = self.client_config(worker).create_with_context(context)?;
        match &self.config.start {
            StartOffsets::Offsets(start) => consumer.assign(&self.assignment(&consumer, worker, start)?)?,
            StartOffsets::Earliest | StartOffsets::Latest => {
                let topics: Vec<&str> = self.config.topics.iter().map(String::as_str).collect();
                consumer.subscribe(&topics)?;
            }
        }
        Ok(KafkaReader {
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

    /// This worker's partitions (`partition % peers == index`) of the single topic, at the
    /// configured offsets; partitions without one resume from the group's committed offset
    /// (else the earliest).
    fn assignment(
        &self,
        consumer: &BaseConsumer<SourceContext>,
        worker: WorkerInfo,
        start: &std::collections::BTreeMap<i32, i64>,
    ) -> Result<TopicPartitionList, KafkaError> {
        let topic = self.config.topics.first().ok_or(KafkaError::InvalidConfig {
            field: "topics",
            reason: "explicit offsets need exactly one topic".to_string(),
        })?;
        let metadata = consumer.fetch_metadata(Some(topic), METADATA_TIMEOUT)?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len())
            .filter(|n| *n > 0)
            .ok_or_else(|| KafkaError::UnknownTopic(topic.clone()))?;
        let mut list = TopicPartitionList::new();
        for partition in (0..partitions).filter(|p| p % worker.peers == worker.index) {
            let partition = i32::try_from(partition).map_err(|_| KafkaError::UnknownTopic(topic.clone()))?;
            let offset = start.get(&partition).map_or(Offset::Stored, |o| Offset::Offset(*o));
            list.add_partition_offset(topic, partition, offset)?;
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
        match self.open_reader(worker) {
            Ok(reader) => Ok(Box::new(reader)),
            Err(e) => Err(EngineError::Source {
                source_name: self.describe(),
                reason: e.to_string(),
            }),
        }
    }
}
