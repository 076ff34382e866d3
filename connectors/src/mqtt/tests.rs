//! Fast tests of the MQTT source and sink against an embedded `rumqttd` broker on a free
//! loopback port: a real pipeline counts what it reads, bad messages reach the dead-letter
//! queue, the sink publishes where its template says.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde::{Deserialize, Serialize};
use tributary_engine::source::{RejectKind, SourcePosition};
use tributary_engine::{RunningPipeline, Runtime, RuntimeConfig};
use tributary_operators::CountPerKey;

use super::{MqttError, MqttSink, MqttSinkConfig, MqttSource, MqttSourceConfig, MqttTls};
use crate::generator::SensorReading;

const STREAM: &str = "readings";
const COUNTS: &str = "counts";

/// One row of the test projection: readings per sensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SensorCount {
    sensor_id: i64,
    count: i64,
}

/// Starts an embedded rumqttd (one MQTT 3.1.1 listener) on a free port; returns the port.
pub(crate) fn start_broker() -> anyhow::Result<u16> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 1 << 20,
        // Small, so a source that never acknowledged would stall the test.
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen: ([127, 0, 0, 1], port).into(),
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        router: rumqttd::RouterConfig {
            max_connections: 100,
            max_outgoing_packet_count: 200,
            max_segment_size: 10 << 20,
            max_segment_count: 10,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("v4".to_string(), server)])),
        ..rumqttd::Config::default()
    };
    std::thread::spawn(move || {
        if let Err(e) = rumqttd::Broker::new(config).start() {
            eprintln!("embedded broker stopped: {e}");
        }
    });
    wait_until("the broker to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })?;
    Ok(port)
}

pub(crate) fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("timed out after {timeout:?} waiting for {what}")
}

/// Publishes every `(topic, payload)` at QoS 1 and returns once the broker acknowledged all.
fn publish_all(port: u16, messages: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let mut options = MqttOptions::new("test-publisher", "127.0.0.1", port);
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut connection) = Client::new(options, 64);
    let expected = messages.len();
    let publishing = client.clone();
    let publisher = std::thread::spawn(move || -> Result<(), rumqttc::ClientError> {
        for (topic, payload) in messages {
            publishing.publish(topic, QoS::AtLeastOnce, false, payload)?;
        }
        Ok(())
    });
    let mut acknowledged = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged < expected && Instant::now() < deadline {
        match connection.recv_timeout(Duration::from_secs(1)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acknowledged += 1,
            Ok(Ok(_)) | Err(rumqttc::RecvTimeoutError::Timeout) => {}
            Ok(Err(e)) => anyhow::bail!("publisher connection failed: {e}"),
            Err(rumqttc::RecvTimeoutError::Disconnected) => break,
        }
    }
    publisher.join().map_err(|_| anyhow::anyhow!("publisher panicked"))??;
    anyhow::ensure!(
        acknowledged == expected,
        "{acknowledged} of {expected} publishes acknowledged"
    );
    client.disconnect()?;
    Ok(())
}

fn source_config(port: u16, client_id: &str, topics: &[&str]) -> MqttSourceConfig {
    MqttSourceConfig {
        host: "127.0.0.1".into(),
        port,
        topics: topics.iter().map(|t| t.to_string()).collect(),
        client_id: client_id.into(),
        key_from_topic: Some("sensors/{sensor_id}/reading".into()),
        ..MqttSourceConfig::default()
    }
}

/// A running pipeline that is shut down when dropped, so a failing test ends instead of
/// waiting forever for an unbounded source.
struct Running(Option<RunningPipeline>);

impl Running {
    fn get(&self) -> anyhow::Result<&RunningPipeline> {
        self.0
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("pipeline already shut down"))
    }

    fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(run) = self.0.take() {
            run.shutdown()?;
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(run) = self.0.take() {
            let _ = run.shutdown();
        }
    }
}

/// Starts a 2-worker pipeline `readings → count_per_key(sensor_id)` over `source`, and waits
/// until the source is subscribed.
fn start_counting(source: MqttSource<SensorReading>) -> anyhow::Result<(Running, Arc<MqttSource<SensorReading>>)> {
    let source = Arc::new(source);
    let shared = source.clone();
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| {
        let counts = p
            .source(STREAM, shared.as_ref())?
            .map(|r: SensorReading| (r.sensor_id, ()))
            .count_per_key()
            .map(|(sensor_id, count)| SensorCount { sensor_id, count });
        p.projection(COUNTS, counts, |row| row.sensor_id)
    })?;
    let run = Running(Some(run));
    wait_until("the source's subscription", Duration::from_secs(10), || {
        source.is_subscribed()
    })?;
    Ok((run, source))
}

/// The `counts` projection as `sensor_id → count`.
fn counts(run: &RunningPipeline) -> anyhow::Result<BTreeMap<i64, i64>> {
    let catalog = run.catalog();
    let read = catalog.read();
    let table = read.table(COUNTS).ok_or_else(|| anyhow::anyhow!("no projection"))?;
    let batch = table.snapshot()?;
    let ids = batch.column(0).as_primitive::<Int64Type>();
    let counts = batch.column(1).as_primitive::<Int64Type>();
    Ok((0..batch.num_rows()).map(|r| (ids.value(r), counts.value(r))).collect())
}

/// Waits until the projection holds `total` readings.
fn wait_for_total(run: &RunningPipeline, total: i64) -> anyhow::Result<BTreeMap<i64, i64>> {
    let mut last = BTreeMap::new();
    let reached = wait_until(
        &format!("{total} readings in the projection"),
        Duration::from_secs(30),
        || {
            last = counts(run).unwrap_or_default();
            last.values().sum::<i64>() >= total
        },
    );
    reached.map_err(|e| anyhow::anyhow!("{e}; projection holds {last:?}"))?;
    Ok(last)
}

#[test]
fn counts_readings_per_sensor_keyed_by_topic_level() -> anyhow::Result<()> {
    const SENSORS: i64 = 10;
    const PER_SENSOR: i64 = 150;
    let port = start_broker()?;
    let source = MqttSource::try_new(source_config(port, "count-test", &["sensors/+/reading"]))?;
    let (running, _source) = start_counting(source)?;
    let run = running.get()?;
    let messages: Vec<(String, Vec<u8>)> = (0..SENSORS * PER_SENSOR)
        .map(|i| {
            let payload = format!(r#"{{"ts": {}, "value": {}.5}}"#, 1_700_000_000_000i64 + i, i % 7);
            (format!("sensors/{}/reading", i % SENSORS), payload.into_bytes())
        })
        .collect();
    publish_all(port, messages)?;

    let counts = wait_for_total(run, SENSORS * PER_SENSOR)?;
    let expected: BTreeMap<i64, i64> = (0..SENSORS).map(|s| (s, PER_SENSOR)).collect();
    assert_eq!(counts, expected);
    let c = run.counters().snapshot()[STREAM];
    let published = (SENSORS * PER_SENSOR) as u64;
    assert_eq!((c.received, c.accepted, c.dead_lettered), (published, published, 0));
    running.shutdown()?;
    Ok(())
}

#[test]
fn bad_messages_reach_the_dead_letter_queue_and_counters_reconcile() -> anyhow::Result<()> {
    let port = start_broker()?;
    let config = MqttSourceConfig {
        max_record_bytes: 1024,
        ..source_config(port, "dlq-test", &["sensors/#"])
    };
    let (running, _source) = start_counting(MqttSource::try_new(config)?)?;
    let run = running.get()?;
    let oversized = format!(r#"{{"ts": 1, "value": 1.0, "pad": "{}"}}"#, "x".repeat(2000));
    let bad: Vec<(&str, Vec<u8>, RejectKind, &str)> = vec![
        (
            "sensors/1/reading",
            b"{\"ts\": 1,".to_vec(),
            RejectKind::MalformedJson,
            "",
        ),
        (
            "sensors/2/reading",
            br#"{"ts": 1, "value": "hot"}"#.to_vec(),
            RejectKind::InvalidFields,
            "value",
        ),
        // The topic does not match `key_from_topic`, so nothing supplies `sensor_id`.
        (
            "sensors/3/status",
            br#"{"ts": 1, "value": 1.0}"#.to_vec(),
            RejectKind::InvalidFields,
            "sensor_id",
        ),
        (
            "sensors/4/reading",
            oversized.into_bytes(),
            RejectKind::Oversized,
            "1024",
        ),
        (
            "sensors/5/reading",
            b"{\"ts\": 1, \"value\": \xff}".to_vec(),
            RejectKind::InvalidUtf8,
            "",
        ),
        (
            "sensors/6/reading",
            br#"{"ts": "yesterday", "value": 1.0}"#.to_vec(),
            RejectKind::InvalidFields,
            "ts",
        ),
        (
            "sensors/7/reading",
            b"[1, 2]".to_vec(),
            RejectKind::NotAnObject,
            "array",
        ),
    ];
    let good = [
        ("sensors/8/reading", br#"{"ts": 1, "value": 1.0}"#.to_vec()),
        (
            "sensors/8/reading",
            br#"{"ts": "2026-11-22T10:00:00Z", "value": 2.0}"#.to_vec(),
        ),
        // The payload's own field wins over the topic level.
        (
            "sensors/8/reading",
            br#"{"sensor_id": 9, "ts": 3, "value": 3.0}"#.to_vec(),
        ),
    ];
    let messages = bad
        .iter()
        .map(|(t, p, _, _)| (t.to_string(), p.clone()))
        .chain(good.iter().map(|(t, p)| (t.to_string(), p.clone())))
        .collect();
    publish_all(port, messages)?;

    let counts = wait_for_total(run, 3)?;
    assert_eq!(counts, BTreeMap::from([(8, 2), (9, 1)]));
    wait_until("every dead letter", Duration::from_secs(10), || {
        run.dead_letters().recent().len() >= bad.len()
    })?;
    let letters = run.dead_letters().recent();
    assert_eq!(letters.len(), bad.len());
    let mut sequences = Vec::new();
    for (topic, payload, kind, mentions) in &bad {
        let letter = letters
            .iter()
            .find(|l| &l.raw == payload)
            .ok_or_else(|| anyhow::anyhow!("no dead letter for the message on {topic}"))?;
        assert_eq!(letter.kind, *kind, "{topic}: {}", letter.reason);
        assert!(letter.reason.contains(mentions), "{topic}: {}", letter.reason);
        assert_eq!(letter.stream, STREAM);
        match &letter.position {
            SourcePosition::Mqtt { topic: t, sequence } => {
                assert_eq!(t, topic);
                sequences.push(*sequence);
            }
            other => anyhow::bail!("{topic}: position {other:?} is not an MQTT one"),
        }
    }
    sequences.sort_unstable();
    sequences.dedup();
    assert_eq!(sequences.len(), bad.len(), "every message has its own sequence");
    assert!(
        sequences.iter().all(|s| *s < 10),
        "sequences count messages from 0: {sequences:?}"
    );
    let c = run.counters().snapshot()[STREAM];
    assert_eq!((c.received, c.accepted, c.dead_lettered), (10, 3, 7));
    running.shutdown()?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Alert {
    sensor_id: i64,
    level: String,
    value: f64,
}

#[test]
fn sink_publishes_json_to_the_topic_its_template_names() -> anyhow::Result<()> {
    let port = start_broker()?;
    let (subscriber, mut connection) = Client::new(MqttOptions::new("test-subscriber", "127.0.0.1", port), 16);
    subscriber.subscribe("alerts/#", QoS::AtLeastOnce)?;
    let mut received = Vec::new();
    let mut subscribed = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sink = None;
    let alerts = [
        Alert {
            sensor_id: 17,
            level: "high".into(),
            value: 99.5,
        },
        Alert {
            sensor_id: 3,
            level: "low".into(),
            value: -1.0,
        },
    ];
    while received.len() < alerts.len() && Instant::now() < deadline {
        match connection.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => subscribed = true,
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                let alert: Alert = serde_json::from_slice(&p.payload)?;
                received.push((p.topic.clone(), alert));
            }
            Ok(Ok(_)) | Err(rumqttc::RecvTimeoutError::Timeout) => {}
            Ok(Err(e)) => anyhow::bail!("subscriber connection failed: {e}"),
            Err(rumqttc::RecvTimeoutError::Disconnected) => break,
        }
        if subscribed && sink.is_none() {
            let mut s = MqttSink::<Alert>::try_new(MqttSinkConfig {
                port,
                topic: "alerts/{sensor_id}/{level}".into(),
                ..MqttSinkConfig::default()
            })?;
            for alert in &alerts {
                s.send(alert)?;
            }
            s.flush()?;
            sink = Some(s);
        }
    }
    let expected: Vec<(String, Alert)> = alerts
        .iter()
        .map(|a| (format!("alerts/{}/{}", a.sensor_id, a.level), a.clone()))
        .collect();
    assert_eq!(received, expected);
    if let Some(s) = sink {
        s.close()?;
    }
    Ok(())
}

#[test]
fn sink_refuses_a_record_that_cannot_fill_the_template() -> anyhow::Result<()> {
    let port = start_broker()?;
    let mut sink = MqttSink::<serde_json::Value>::try_new(MqttSinkConfig {
        port,
        client_id: "refusing-sink".into(),
        topic: "alerts/{sensor_id}".into(),
        ..MqttSinkConfig::default()
    })?;
    let err = sink.send(&serde_json::json!({"value": 1.0})).err();
    assert!(
        matches!(&err, Some(MqttError::MissingTopicField { field, .. }) if field == "sensor_id"),
        "{err:?}"
    );
    let err = sink.send(&serde_json::json!(5)).err();
    assert!(matches!(err, Some(MqttError::NotAnObject("a number"))), "{err:?}");
    sink.close()?;
    Ok(())
}

#[test]
fn try_new_rejects_bad_configuration_clearly() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("no-such-ca.pem");
    let with_ca = |ca_file| MqttSourceConfig {
        topics: vec!["sensors/#".into()],
        tls: Some(MqttTls {
            ca_file,
            client_auth: None,
        }),
        ..MqttSourceConfig::default()
    };
    let err = MqttSource::<SensorReading>::try_new(with_ca(missing.clone())).err();
    assert!(
        matches!(&err, Some(MqttError::TlsFile { path, .. }) if path == &missing),
        "{err:?}"
    );
    assert!(
        err.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("no-such-ca.pem")
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n")?;
    let err = MqttSource::<SensorReading>::try_new(with_ca(empty)).err();
    assert!(matches!(err, Some(MqttError::TlsFileEmpty { .. })), "{err:?}");

    let cases = [
        (MqttSourceConfig::default(), "topics"),
        (
            MqttSourceConfig {
                topics: vec!["sensors/#/x".into()],
                ..MqttSourceConfig::default()
            },
            "topics",
        ),
        (
            MqttSourceConfig {
                topics: vec!["s/#".into()],
                client_id: String::new(),
                ..MqttSourceConfig::default()
            },
            "client_id",
        ),
        (
            MqttSourceConfig {
                topics: vec!["s/#".into()],
                buffer: 0,
                ..MqttSourceConfig::default()
            },
            "buffer",
        ),
    ];
    for (config, field) in cases {
        let err = MqttSource::<SensorReading>::try_new(config).err();
        assert!(
            matches!(&err, Some(MqttError::InvalidConfig { field: f, .. }) if *f == field),
            "{err:?}"
        );
    }
    let err = MqttSource::<SensorReading>::try_new(MqttSourceConfig {
        topics: vec!["s/#".into()],
        key_from_topic: Some("s/{}".into()),
        ..MqttSourceConfig::default()
    })
    .err();
    assert!(matches!(err, Some(MqttError::InvalidPattern { .. })), "{err:?}");
    Ok(())
}
