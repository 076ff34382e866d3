//! `--source`: which source feeds the demo's `readings` stream.

use std::fmt;
use std::str::FromStr;

/// The demo's source, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceArg {
    /// The built-in sensor generator.
    Generator,
    /// No generator: HTTP ingest (`POST /v1/ingest/readings`) only.
    Http,
    /// `mqtt://HOST:PORT/TOPIC_FILTER`.
    Mqtt {
        /// Broker host.
        host: String,
        /// Broker port.
        port: u16,
        /// Topic filter, with `+`/`#` wildcards.
        filter: String,
    },
    /// `kafka://HOST:PORT[,HOST:PORT]/TOPIC`.
    Kafka {
        /// Bootstrap servers.
        brokers: String,
        /// Topic.
        topic: String,
    },
}

impl FromStr for SourceArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        // Parsed by hand: an MQTT filter may end in `#`, which a URL parser takes for a
        // fragment.
        let usage = "expected generator, http, mqtt://HOST:PORT/TOPIC_FILTER or kafka://HOST:PORT/TOPIC";
        match s {
            "generator" => return Ok(Self::Generator),
            "http" => return Ok(Self::Http),
            _ => {}
        }
        let (scheme, rest) = s.split_once("://").ok_or_else(|| format!("`{s}`: {usage}"))?;
        let (authority, path) = rest
            .split_once('/')
            .filter(|(a, p)| !a.is_empty() && !p.is_empty())
            .ok_or_else(|| format!("`{s}`: missing host:port or topic; {usage}"))?;
        match scheme {
            "mqtt" => {
                let (host, port) = authority
                    .rsplit_once(':')
                    .ok_or_else(|| format!("`{s}`: missing port; {usage}"))?;
                let port = port.parse().map_err(|_| format!("`{s}`: bad port `{port}`"))?;
                Ok(Self::Mqtt {
                    host: host.to_string(),
                    port,
                    filter: path.to_string(),
                })
            }
            "kafka" => Ok(Self::Kafka {
                brokers: authority.to_string(),
                topic: path.to_string(),
            }),
            other => Err(format!("`{s}`: unknown scheme `{other}`; {usage}")),
        }
    }
}

impl fmt::Display for SourceArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Generator => f.write_str("generator"),
            Self::Http => f.write_str("http"),
            Self::Mqtt { host, port, filter } => write!(f, "mqtt://{host}:{port}/{filter}"),
            Self::Kafka { brokers, topic } => write!(f, "kafka://{brokers}/{topic}"),
        }
    }
}

/// The `key_from_topic` pattern for a filter: its first `+` level names the sensor, so
/// `sensors/+/reading` reads `sensor_id` from `sensors/17/reading`.
pub fn sensor_topic_pattern(filter: &str) -> Option<String> {
    let levels: Vec<&str> = filter.split('/').collect();
    let first = levels.iter().position(|l| *l == "+")?;
    let pattern: Vec<&str> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| if i == first { "{sensor_id}" } else { l })
        .collect();
    Some(pattern.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_explains_bad_ones() {
        assert_eq!("generator".parse(), Ok(SourceArg::Generator));
        assert_eq!("http".parse(), Ok(SourceArg::Http));
        assert_eq!(
            "mqtt://127.0.0.1:1883/sensors/#".parse(),
            Ok(SourceArg::Mqtt {
                host: "127.0.0.1".into(),
                port: 1883,
                filter: "sensors/#".into()
            })
        );
        assert_eq!(
            "kafka://a:9092,b:9092/readings".parse(),
            Ok(SourceArg::Kafka {
                brokers: "a:9092,b:9092".into(),
                topic: "readings".into()
            })
        );
        for bad in [
            "mqtt://host/x",
            "kafka://host:1",
            "ftp://h:1/x",
            "nope",
            "mqtt://h:port/x",
        ] {
            assert!(bad.parse::<SourceArg>().is_err(), "{bad}");
        }
        assert_eq!(
            sensor_topic_pattern("sensors/+/reading").as_deref(),
            Some("sensors/{sensor_id}/reading")
        );
        assert_eq!(sensor_topic_pattern("sensors/#"), None);
    }
}
