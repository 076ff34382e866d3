//! Exactly-once across `kill -9`: readings are produced into a real Kafka-protocol broker
//! (Tansu) while the real `tributary demo --source kafka://…` binary ingests them; the demo
//! is killed with SIGKILL at random points while the readings stream in, and started again
//! on the same data directory each time. At the end every produced reading is in history and
//! in `sensor_stats` exactly once: per-sensor counts and sums match the producer's log, read
//! by SQL over HTTP.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};

use super::kafka::produce_readings;
use super::support::{free_port, wait_until};
use super::tansu::Tansu;

const EVENTS: u64 = 60_000;
const SENSORS: u64 = 20;
const KILLS: u64 = 10;
/// How long producing one round's readings takes; the kill falls inside it or just after.
const ROUND_PRODUCTION: Duration = Duration::from_millis(1_500);
/// The round's readings go out in this many paced parts.
const PARTS: usize = 20;

/// The demo binary on `data`, SIGKILLed when dropped.
struct Demo {
    child: Child,
    addr: SocketAddr,
}

impl Demo {
    fn spawn(brokers: &str, data: &Path) -> anyhow::Result<Self> {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(["demo", "--workers", "2", "--listen", &addr.to_string()])
            .arg("--source")
            .arg(format!("kafka://{brokers}/readings"))
            .arg("--data")
            .arg(data)
            .env_remove("TRIBUTARY_JWT_SECRET")
            .env_remove("TRIBUTARY_JWT_PUBLIC_KEY_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self { child, addr })
    }

    fn request(&self, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let url = format!("http://{}{path}", self.addr);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let client = reqwest::Client::new();
                let request = match body {
                    Some(body) => client.post(url).json(&body),
                    None => client.get(url),
                };
                let response = request.timeout(Duration::from_secs(10)).send().await?;
                let status = response.status().as_u16();
                Ok((status, response.json().await.unwrap_or(Value::Null)))
            })
    }

    fn sql(&self, sql: &str) -> anyhow::Result<Value> {
        let (status, body) = self.request("/v1/sql", Some(json!({ "sql": sql })))?;
        anyhow::ensure!(status == 200, "{sql} answered {status}: {body}");
        Ok(body)
    }

    fn serving(&self) -> bool {
        self.request("/healthz", None).is_ok_and(|(status, _)| status == 200)
    }

    fn ready(&self) -> bool {
        self.request("/readyz", None).is_ok_and(|(status, _)| status == 200)
    }

    /// Readings counted in `sensor_stats` (-1 when the query fails).
    fn counted(&self) -> i64 {
        self.sql("SELECT coalesce(sum(count), 0) FROM sensor_stats")
            .ok()
            .and_then(|body| body["rows"][0][0].as_i64())
            .unwrap_or(-1)
    }

    /// SIGKILL: no drain, no flush, no goodbye.
    fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Produces `readings` in [`PARTS`] parts spread over [`ROUND_PRODUCTION`].
fn produce_paced(brokers: &str, readings: &[SensorReading]) -> anyhow::Result<()> {
    let part = readings.len().div_ceil(PARTS).max(1);
    for slice in readings.chunks(part) {
        produce_readings(brokers, "readings", slice)?;
        std::thread::sleep(ROUND_PRODUCTION / PARTS as u32);
    }
    Ok(())
}

/// SplitMix64 steps: random kill points, reproducible from the printed seed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

/// Per sensor: (count, sum of values) — what the producer sent.
fn producer_log(readings: &[SensorReading]) -> BTreeMap<i64, (i64, f64)> {
    let mut log = BTreeMap::new();
    for r in readings {
        let entry = log.entry(r.sensor_id).or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += r.value;
    }
    log
}

/// `(sensor_id, count, sum)` rows of a query into the same shape.
fn per_sensor(body: &Value) -> anyhow::Result<BTreeMap<i64, (i64, f64)>> {
    let rows = body["rows"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("no rows in {body}"))?;
    rows.iter()
        .map(|row| {
            let field = |i: usize| row[i].clone();
            let id = field(0).as_i64().ok_or_else(|| anyhow::anyhow!("bad row {row}"))?;
            let count = field(1).as_i64().ok_or_else(|| anyhow::anyhow!("bad row {row}"))?;
            let sum = field(2).as_f64().ok_or_else(|| anyhow::anyhow!("bad row {row}"))?;
            Ok((id, (count, sum)))
        })
        .collect()
}

fn assert_matches(what: &str, got: &BTreeMap<i64, (i64, f64)>, expected: &BTreeMap<i64, (i64, f64)>) {
    let counts = |m: &BTreeMap<i64, (i64, f64)>| m.iter().map(|(k, (n, _))| (*k, *n)).collect::<Vec<_>>();
    assert_eq!(counts(got), counts(expected), "{what}: per-sensor counts");
    for (sensor, (_, sum)) in got {
        let want = expected[sensor].1;
        assert!(
            (sum - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{what}: sensor {sensor} sum {sum} vs {want}"
        );
    }
}

#[test]
fn every_produced_reading_counts_once_across_kill_9_restarts() -> anyhow::Result<()> {
    let tansu = Tansu::start()?;
    tansu.create_topic("readings", 4)?;
    let readings: Vec<SensorReading> = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: SENSORS,
        rate: 0,
        ..SensorGeneratorConfig::default()
    })?
    .readings(EVENTS)
    .collect();
    let data = tempfile::tempdir()?;
    let seed = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    let mut random = Random(seed);

    // Each round starts the demo on the same data directory, streams its share of the
    // readings into the topic while the demo ingests, and kills the demo at a random point.
    let chunk = (EVENTS as usize).div_ceil(KILLS as usize + 1);
    let mut batches = readings.chunks(chunk);
    let (mut produced, mut killed_behind) = (0usize, 0);
    for round in 0..KILLS {
        let demo = Demo::spawn(&tansu.brokers(), data.path())?;
        wait_until("the demo to serve", Duration::from_secs(60), || demo.serving())?;
        let batch = batches.next().unwrap_or_default().to_vec();
        produced += batch.len();
        let brokers = tansu.brokers();
        let producer = std::thread::spawn(move || produce_paced(&brokers, &batch));
        std::thread::sleep(Duration::from_millis(100 + random.below(1_500)));
        let counted = demo.counted();
        demo.kill()?;
        producer
            .join()
            .map_err(|_| anyhow::anyhow!("the producer panicked"))??;
        if counted < produced as i64 {
            killed_behind += 1;
        }
        eprintln!("round {round}: killed with {counted} of {produced} readings counted");
    }
    assert!(
        killed_behind >= KILLS / 2,
        "only {killed_behind} kills fell while readings were still coming in"
    );
    for batch in batches {
        produce_readings(&tansu.brokers(), "readings", batch)?;
    }

    let demo = Demo::spawn(&tansu.brokers(), data.path())?;
    wait_until("every reading in sensor_stats", Duration::from_secs(90), || {
        demo.counted() >= EVENTS as i64
    })?;
    // Whatever would arrive twice would arrive now.
    std::thread::sleep(Duration::from_secs(2));
    wait_until("the demo to be ready", Duration::from_secs(10), || demo.ready())?;
    let expected = producer_log(&readings);
    let stats = demo.sql("SELECT sensor_id, count, sum FROM sensor_stats ORDER BY sensor_id")?;
    assert_matches("sensor_stats", &per_sensor(&stats)?, &expected);
    let history = demo.sql(
        "SELECT sensor_id, count(*) AS n, sum(value) AS s FROM history.readings GROUP BY sensor_id ORDER BY sensor_id",
    )?;
    assert_matches("history.readings", &per_sensor(&history)?, &expected);
    demo.kill()?;
    Ok(())
}
