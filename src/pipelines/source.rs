//! `--source` for the reference pipelines' examples: the built-in generator (the embedded
//! default), HTTP ingest only, or a Kafka topic.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use tributary_connectors::http::HttpIngestOnly;
use tributary_connectors::kafka::{KafkaSource, KafkaSourceConfig};
use tributary_engine::EngineError;
use tributary_engine::source::Source;

/// Where an example's input stream comes from. HTTP ingest (`POST /v1/ingest/<stream>`)
/// works with every choice while the source runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSource {
    /// The pipeline's deterministic generator.
    Generator,
    /// HTTP ingest only.
    Http,
    /// `kafka://HOST:PORT[,HOST:PORT]/TOPIC`: JSON events, one per message.
    Kafka {
        /// Bootstrap servers.
        brokers: String,
        /// Topic.
        topic: String,
    },
}

impl EventSource {
    /// Opens the source: `generator` for [`EventSource::Generator`], otherwise HTTP ingest or a
    /// Kafka consumer in group `group_id`.
    pub fn open<T, G>(&self, group_id: &str, generator: G) -> Result<Arc<dyn Source<T>>, EngineError>
    where
        T: DeserializeOwned + Send + 'static,
        G: Source<T>,
    {
        Ok(match self {
            Self::Generator => Arc::new(generator),
            Self::Http => Arc::new(HttpIngestOnly),
            Self::Kafka { brokers, topic } => {
                let config = KafkaSourceConfig {
                    brokers: brokers.clone(),
                    topics: vec![topic.clone()],
                    group_id: group_id.to_string(),
                    ..KafkaSourceConfig::default()
                };
                Arc::new(KafkaSource::try_new(config).map_err(|e| EngineError::Source {
                    source_name: self.to_string(),
                    reason: e.to_string(),
                })?)
            }
        })
    }

    /// Whether the source ends by itself (only a bounded generator can).
    pub fn is_generator(&self) -> bool {
        *self == Self::Generator
    }
}

impl FromStr for EventSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = "expected generator, http or kafka://HOST:PORT/TOPIC";
        match s {
            "generator" => return Ok(Self::Generator),
            "http" => return Ok(Self::Http),
            _ => {}
        }
        let rest = s.strip_prefix("kafka://").ok_or_else(|| format!("`{s}`: {usage}"))?;
        match rest.split_once('/') {
            Some((brokers, topic)) if brokers.contains(':') && !topic.is_empty() && !topic.contains('/') => {
                Ok(Self::Kafka {
                    brokers: brokers.to_string(),
                    topic: topic.to_string(),
                })
            }
            _ => Err(format!("`{s}`: missing host:port or topic; {usage}")),
        }
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generator => f.write_str("generator"),
            Self::Http => f.write_str("http"),
            Self::Kafka { brokers, topic } => write!(f, "kafka://{brokers}/{topic}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_round_trips_and_explains_bad_ones() {
        for good in ["generator", "http", "kafka://a:9092,b:9092/posts"] {
            let parsed: EventSource = good.parse().expect("valid");
            assert_eq!(parsed.to_string(), good);
        }
        assert_eq!(
            "kafka://127.0.0.1:9092/orders".parse(),
            Ok(EventSource::Kafka {
                brokers: "127.0.0.1:9092".into(),
                topic: "orders".into()
            })
        );
        for bad in [
            "kafka://host/x",
            "kafka://h:1",
            "kafka://h:1/",
            "mqtt://h:1/x",
            "nope",
            "kafka://h:1/a/b",
        ] {
            let err = bad.parse::<EventSource>().expect_err(bad);
            assert!(err.contains(bad), "{err}");
        }
    }
}
