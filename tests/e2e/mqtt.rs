//! The MQTT source against a real Mosquitto: exact statistics over 20,000 QoS 1 readings, no
//! loss across a broker restart or while Tributary is away, bad input to the dead-letter queue.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};
use tributary::connectors::mqtt::{MqttSource, MqttSourceConfig};
use tributary::engine::source::{RejectKind, SourcePosition};
use tributary::engine::{EngineError, Pipeline, RunningPipeline, Runtime, RuntimeConfig};
use tributary::operators::{CountPerKey, ExactSum, Summand};
use tributary::pipelines::iot;

use crate::mosquitto::Mosquitto;
use crate::support::wait_until;

const TOPIC_FILTER: &str = "sensors/+/reading";
const KEY_FROM_TOPIC: &str = "sensors/{sensor_id}/reading";

fn source(port: u16, client_id: &str) -> anyhow::Result<Arc<MqttSource<SensorReading>>> {
    Ok(Arc::new(MqttSource::try_new(MqttSourceConfig {
        host: "127.0.0.1".into(),
        port,
        topics: vec![TOPIC_FILTER.into()],
        client_id: client_id.into(),
        key_from_topic: Some(KEY_FROM_TOPIC.into()),
        ..MqttSourceConfig::default()
    })?))
}

/// Starts `build` over `source` on 2 workers and waits for the subscription.
fn start<F>(source: &Arc<MqttSource<SensorReading>>, build: F) -> anyhow::Result<RunningPipeline>
where
    F: Fn(&mut Pipeline<'_>, &MqttSource<SensorReading>) -> Result<(), EngineError> + Send + Sync + 'static,
{
    let shared = source.clone();
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| build(p, &shared))?;
    wait_until("the MQTT subscription", Duration::from_secs(20), || {
        source.is_subscribed()
    })?;
    Ok(run)
}

/// A reading's JSON payload without `sensor_id` (the topic carries it).
fn payload(r: &SensorReading) -> Vec<u8> {
    serde_json::json!({"ts": r.ts, "value": r.value})
        .to_string()
        .into_bytes()
}

fn topic(r: &SensorReading) -> String {
    format!("sensors/{}/reading", r.sensor_id)
}

/// Publishes every `(topic, payload)` at QoS 1 and returns once Mosquitto acknowledged all.
pub(super) fn publish_all(port: u16, messages: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let (client, mut connection) = Client::new(MqttOptions::new("e2e-publisher", "127.0.0.1", port), 256);
    let expected = messages.len();
    let publishing = client.clone();
    let publisher = std::thread::spawn(move || -> Result<(), rumqttc::ClientError> {
        for (topic, payload) in messages {
            publishing.publish(topic, QoS::AtLeastOnce, false, payload)?;
        }
        Ok(())
    });
    let mut acknowledged = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
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
    let _ = connection.recv_timeout(Duration::from_secs(1));
    Ok(())
}

fn batch(run: &RunningPipeline, table: &str) -> anyhow::Result<RecordBatch> {
    let catalog = run.catalog();
    let read = catalog.read();
    let table = read
        .table(table)
        .ok_or_else(|| anyhow::anyhow!("no projection {table}"))?;
    Ok(table.snapshot()?)
}

/// The first two Int64 columns of a projection as a map.
fn int_pairs(run: &RunningPipeline, table: &str) -> anyhow::Result<BTreeMap<i64, i64>> {
    let b = batch(run, table)?;
    let (k, v) = (
        b.column(0).as_primitive::<Int64Type>(),
        b.column(1).as_primitive::<Int64Type>(),
    );
    Ok((0..b.num_rows()).map(|r| (k.value(r), v.value(r))).collect())
}

/// Waits until the counts (column 1) of `table` sum to at least `total`.
fn wait_for_total(run: &RunningPipeline, table: &str, total: i64, timeout: Duration) -> anyhow::Result<()> {
    let mut last = 0;
    wait_until(&format!("{total} readings in {table}"), timeout, || {
        last = int_pairs(run, table).map(|m| m.values().sum()).unwrap_or(0);
        last >= total
    })
    .map_err(|e| anyhow::anyhow!("{e}; it holds {last}"))
}

#[test]
fn mqtt_twenty_thousand_qos1_readings_give_exact_sensor_stats() -> anyhow::Result<()> {
    const EVENTS: u64 = 20_000;
    let broker = Mosquitto::start()?;
    let generator = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 40,
        rate: 0,
        ..SensorGeneratorConfig::default()
    })?;
    let readings: Vec<SensorReading> = generator.readings(EVENTS).collect();
    let source = source(broker.port(), "e2e-stats")?;
    let running = start(&source, iot::build)?;
    let run = &running;
    publish_all(broker.port(), readings.iter().map(|r| (topic(r), payload(r))).collect())?;
    wait_for_total(run, iot::SENSOR_STATS, EVENTS as i64, Duration::from_secs(120))?;

    // Batch recomputation: count exact, sum exact in fixed point, min and max exact.
    let mut expected: BTreeMap<i64, (i64, ExactSum, f64, f64)> = BTreeMap::new();
    for r in &readings {
        let e = expected
            .entry(r.sensor_id)
            .or_insert((0, ExactSum::default(), f64::INFINITY, f64::NEG_INFINITY));
        *e = (e.0 + 1, e.1 + r.value.exact(), e.2.min(r.value), e.3.max(r.value));
    }
    let b = batch(run, iot::SENSOR_STATS)?;
    let (id, count) = (
        b.column(0).as_primitive::<Int64Type>(),
        b.column(1).as_primitive::<Int64Type>(),
    );
    let (sum, min, max) = (
        b.column(2).as_primitive::<Float64Type>(),
        b.column(3).as_primitive::<Float64Type>(),
        b.column(4).as_primitive::<Float64Type>(),
    );
    let live: BTreeMap<i64, (i64, f64, f64, f64)> = (0..b.num_rows())
        .map(|r| (id.value(r), (count.value(r), sum.value(r), min.value(r), max.value(r))))
        .collect();
    // serde_json (without its `float_roundtrip` feature) may parse a float 1 ulp off what
    // was printed, so min and max agree to 1e-12 rather than bit for bit.
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
    assert_eq!(live.len(), expected.len());
    for ((k, (n, sum, lo, hi)), (ek, (en, esum, elo, ehi))) in live.iter().zip(&expected) {
        assert_eq!((k, n), (ek, en), "count of sensor {k}");
        assert!(
            close(*sum, esum.to_f64()),
            "sum of sensor {k}: {sum} vs {}",
            esum.to_f64()
        );
        assert!(close(*lo, *elo) && close(*hi, *ehi), "min/max of sensor {k}");
    }
    let c = run.counters().snapshot()[iot::READINGS];
    assert_eq!((c.received, c.accepted, c.dead_lettered), (EVENTS, EVENTS, 0));
    running.shutdown()?;
    Ok(())
}

/// `raw_counts`: readings per sensor as received; `distinct_counts`: distinct `(sensor, ts)`
/// per sensor, so redeliveries after a failure show as raw > distinct, losses as distinct
/// below what was published.
fn counting(p: &mut Pipeline<'_>, source: &MqttSource<SensorReading>) -> Result<(), EngineError> {
    let readings = p.source(iot::READINGS, source)?;
    let raw = readings.clone().map(|r| (r.sensor_id, ())).count_per_key();
    let distinct = readings
        .map(|r| ((r.sensor_id, r.ts), ()))
        .count_per_key()
        .map(|((sensor_id, _), _)| (sensor_id, ()))
        .count_per_key();
    p.projection("raw_counts", raw, |(k, _)| *k)?;
    p.projection("distinct_counts", distinct, |(k, _)| *k)
}

/// Readings with unique `(sensor_id, ts)`: `ts` is the index.
fn unique_readings(range: std::ops::Range<i64>) -> Vec<(String, Vec<u8>)> {
    range
        .map(|i| {
            let r = SensorReading {
                sensor_id: i % 25,
                ts: 1_700_000_000_000 + i,
                value: i as f64 / 4.0,
            };
            (topic(&r), payload(&r))
        })
        .collect()
}

fn expected_per_sensor(total: i64) -> BTreeMap<i64, i64> {
    let mut m = BTreeMap::new();
    for i in 0..total {
        *m.entry(i % 25).or_insert(0) += 1;
    }
    m
}

#[test]
fn mqtt_broker_restart_mid_stream_loses_nothing() -> anyhow::Result<()> {
    const FIRST: i64 = 8_000;
    const TOTAL: i64 = 16_000;
    let mut broker = Mosquitto::start()?;
    let source = source(broker.port(), "e2e-restart")?;
    let running = start(&source, counting)?;
    let run = &running;
    publish_all(broker.port(), unique_readings(0..FIRST))?;
    // Stop as soon as Tributary is reading: what it has not acknowledged stays queued in the
    // persistent session, which Mosquitto saves on SIGTERM.
    wait_until("the first readings", Duration::from_secs(30), || {
        run.counters().snapshot()[iot::READINGS].received > 0
    })?;
    broker.stop()?;
    std::thread::sleep(Duration::from_millis(500));
    broker.restart()?;
    publish_all(broker.port(), unique_readings(FIRST..TOTAL))?;
    wait_for_total(run, "distinct_counts", TOTAL, Duration::from_secs(120))
        .map_err(|e| anyhow::anyhow!("{e}; mosquitto log:\n{}", broker.log()))?;
    assert_eq!(
        int_pairs(run, "distinct_counts")?,
        expected_per_sensor(TOTAL),
        "nothing lost"
    );
    let raw = int_pairs(run, "raw_counts")?;
    let expected = expected_per_sensor(TOTAL);
    assert!(
        raw.iter().all(|(k, n)| *n >= expected[k]),
        "at-least-once: raw counts never below the distinct ones: {raw:?}"
    );
    let c = run.counters().snapshot()[iot::READINGS];
    assert_eq!(c.received, c.accepted + c.dead_lettered);
    assert_eq!(c.dead_lettered, 0);
    running.shutdown()?;
    Ok(())
}

#[test]
fn mqtt_messages_published_while_tributary_is_away_arrive_on_reconnect() -> anyhow::Result<()> {
    const BEFORE: i64 = 3_000;
    const AWAY: i64 = 5_000;
    let mut broker = Mosquitto::start()?;
    let first = source(broker.port(), "e2e-away")?;
    let running = start(&first, counting)?;
    publish_all(broker.port(), unique_readings(0..BEFORE))?;
    wait_for_total(&running, "distinct_counts", BEFORE, Duration::from_secs(60))?;
    // Shutting down acknowledges everything processed, then disconnects: the session stays.
    running.shutdown()?;

    publish_all(broker.port(), unique_readings(BEFORE..BEFORE + AWAY))?;
    // The queued messages survive a broker restart too (persistence).
    broker.stop()?;
    broker.restart()?;

    let second = source(broker.port(), "e2e-away")?;
    let running = start(&second, counting)?;
    let run = &running;
    wait_for_total(run, "raw_counts", AWAY, Duration::from_secs(60))
        .map_err(|e| anyhow::anyhow!("{e}; mosquitto log:\n{}", broker.log()))?;
    std::thread::sleep(Duration::from_millis(500));
    let mut expected = BTreeMap::new();
    for i in BEFORE..BEFORE + AWAY {
        *expected.entry(i % 25).or_insert(0) += 1;
    }
    assert_eq!(
        int_pairs(run, "distinct_counts")?,
        expected,
        "every message published while away"
    );
    assert_eq!(
        int_pairs(run, "raw_counts")?,
        expected,
        "and nothing acknowledged before the shutdown comes back"
    );
    running.shutdown()?;
    Ok(())
}

#[test]
fn mqtt_bad_input_reaches_the_dead_letter_queue_with_reasons() -> anyhow::Result<()> {
    let broker = Mosquitto::start()?;
    let source = Arc::new(MqttSource::try_new(MqttSourceConfig {
        port: broker.port(),
        topics: vec!["sensors/#".into()],
        client_id: "e2e-dlq".into(),
        key_from_topic: Some(KEY_FROM_TOPIC.into()),
        max_record_bytes: 512,
        ..MqttSourceConfig::default()
    })?);
    let running = start(&source, iot::build)?;
    let run = &running;
    let bad: Vec<(&str, Vec<u8>, RejectKind, &str)> = vec![
        (
            "sensors/1/reading",
            b"{\"ts\": 1,".to_vec(),
            RejectKind::MalformedJson,
            "EOF",
        ),
        (
            "sensors/2/reading",
            br#"{"ts": 1, "value": "hot"}"#.to_vec(),
            RejectKind::InvalidFields,
            "value",
        ),
        (
            "sensors/x/status",
            br#"{"ts": 1, "value": 1.0}"#.to_vec(),
            RejectKind::InvalidFields,
            "sensor_id",
        ),
        ("sensors/4/reading", vec![b' '; 600], RejectKind::Oversized, "512"),
        (
            "sensors/5/reading",
            b"{\"ts\": 1, \"value\": \xc3}".to_vec(),
            RejectKind::InvalidUtf8,
            "",
        ),
        (
            "sensors/6/reading",
            br#"{"ts": "yesterday", "value": 1.0}"#.to_vec(),
            RejectKind::InvalidFields,
            "ts",
        ),
    ];
    let good = (0..4).map(|i| {
        (
            "sensors/9/reading".to_string(),
            format!(r#"{{"ts": {i}, "value": 1.5}}"#).into_bytes(),
        )
    });
    let messages = bad
        .iter()
        .map(|(t, p, _, _)| (t.to_string(), p.clone()))
        .chain(good)
        .collect();
    publish_all(broker.port(), messages)?;
    wait_for_total(run, iot::SENSOR_STATS, 4, Duration::from_secs(30))?;
    wait_until("the dead letters", Duration::from_secs(10), || {
        run.dead_letters().recent().len() >= bad.len()
    })?;
    let letters = run.dead_letters().recent();
    assert_eq!(letters.len(), bad.len());
    for (topic, raw, kind, mentions) in &bad {
        let letter = letters
            .iter()
            .find(|l| &l.raw == raw)
            .ok_or_else(|| anyhow::anyhow!("no dead letter for {topic}"))?;
        assert_eq!(letter.kind, *kind, "{topic}: {}", letter.reason);
        assert!(letter.reason.contains(mentions), "{topic}: {}", letter.reason);
        assert!(matches!(&letter.position, SourcePosition::Mqtt { topic: t, .. } if t == topic));
    }
    let c = run.counters().snapshot()[iot::READINGS];
    assert_eq!((c.received, c.accepted, c.dead_lettered), (10, 4, 6));
    running.shutdown()?;
    Ok(())
}
