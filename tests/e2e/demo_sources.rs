//! `tributary demo --source mqtt://…` and `--source kafka://…`: the binary runs the IoT
//! pipeline on a real broker, and HTTP ingest still works beside it.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig, SensorReading};

use super::kafka::produce_readings;
use super::mosquitto::Mosquitto;
use super::mqtt::publish_all;
use super::support::{free_port, wait_until};
use super::tansu::Tansu;

/// The demo binary, killed when dropped.
struct Demo {
    child: Child,
    addr: SocketAddr,
    _data: TempDir,
}

impl Demo {
    fn spawn(source: &str) -> anyhow::Result<Self> {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let data = tempfile::tempdir()?;
        let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args([
                "demo",
                "--source",
                source,
                "--listen",
                &addr.to_string(),
                "--workers",
                "2",
            ])
            .arg("--data")
            .arg(data.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self {
            child,
            addr,
            _data: data,
        })
    }

    fn post(&self, path: &str, body: Vec<u8>) -> anyhow::Result<Value> {
        let url = format!("http://{}{path}", self.addr);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let response = reqwest::Client::new()
                    .post(url)
                    .header("content-type", "application/json")
                    .timeout(Duration::from_secs(10))
                    .body(body)
                    .send()
                    .await?;
                anyhow::ensure!(response.status() == 200, "{path} answered {}", response.status());
                Ok(response.json().await?)
            })
    }

    /// The status `GET /readyz` answers (0 when the request itself fails).
    fn readyz(&self) -> u16 {
        let url = format!("http://{}/readyz", self.addr);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()
            .and_then(|rt| {
                rt.block_on(async {
                    let client = reqwest::Client::new();
                    let response = client.get(url).timeout(Duration::from_secs(10)).send().await.ok()?;
                    Some(response.status().as_u16())
                })
            })
            .unwrap_or(0)
    }

    /// Readings counted in `sensor_stats` for sensors other than `except`.
    fn counted(&self, except: i64) -> i64 {
        let sql = format!("SELECT coalesce(sum(count), 0) FROM sensor_stats WHERE sensor_id <> {except}");
        self.post("/v1/sql", json!({ "sql": sql }).to_string().into_bytes())
            .ok()
            .and_then(|body| body["rows"][0][0].as_i64())
            .unwrap_or(-1)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn readings(n: u64) -> anyhow::Result<Vec<SensorReading>> {
    let generator = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        ..SensorGeneratorConfig::default()
    })?;
    Ok(generator.readings(n).collect())
}

/// One reading over HTTP ingest, beside the broker source.
fn ingest_one(demo: &Demo) -> anyhow::Result<()> {
    let report = demo.post(
        "/v1/ingest/readings",
        br#"{"sensor_id": 3, "ts": 1700000000000, "value": 1.5}"#.to_vec(),
    )?;
    anyhow::ensure!(report["accepted"] == 1, "{report}");
    Ok(())
}

#[test]
fn demo_on_mqtt_counts_what_is_published_takes_http_ingest_and_reports_readiness() -> anyhow::Result<()> {
    const PROBE_SENSOR: i64 = 999;
    let mut mosquitto = Mosquitto::start()?;
    let demo = Demo::spawn(&format!("mqtt://127.0.0.1:{}/sensors/+/reading", mosquitto.port()))?;
    // The demo's first subscription has no session yet: probe until a reading arrives.
    let probe = br#"{"ts": 1, "value": 0.0}"#.to_vec();
    wait_until("the demo's MQTT subscription", Duration::from_secs(60), || {
        let sent = publish_all(
            mosquitto.port(),
            vec![(format!("sensors/{PROBE_SENSOR}/reading"), probe.clone())],
        );
        let sql = format!("SELECT count(*) FROM sensor_stats WHERE sensor_id = {PROBE_SENSOR}");
        sent.is_ok()
            && demo
                .post("/v1/sql", json!({ "sql": sql }).to_string().into_bytes())
                .is_ok_and(|b| b["rows"][0][0].as_i64().unwrap_or(0) > 0)
    })?;

    let sent = readings(1_000)?;
    let messages = sent
        .iter()
        .map(|r| Ok((format!("sensors/{}/reading", r.sensor_id), serde_json::to_vec(r)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    publish_all(mosquitto.port(), messages)?;
    ingest_one(&demo)?;
    wait_until("1,001 readings in sensor_stats", Duration::from_secs(60), || {
        demo.counted(PROBE_SENSOR) == 1_001
    })?;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(demo.counted(PROBE_SENSOR), 1_001, "nothing counted twice");

    // Readiness follows the broker: not ready while it is down, ready again once the
    // source has reconnected; the queries keep answering throughout.
    assert_eq!(demo.readyz(), 200);
    mosquitto.stop()?;
    wait_until("/readyz to answer 503", Duration::from_secs(30), || {
        demo.readyz() == 503
    })?;
    assert_eq!(
        demo.counted(PROBE_SENSOR),
        1_001,
        "queries answer while the broker is down"
    );
    mosquitto.restart()?;
    wait_until("/readyz to answer 200 again", Duration::from_secs(60), || {
        demo.readyz() == 200
    })?;
    Ok(())
}

#[test]
fn demo_on_kafka_counts_what_is_produced_and_takes_http_ingest() -> anyhow::Result<()> {
    let tansu = Tansu::start()?;
    tansu.create_topic("readings", 4)?;
    let demo = Demo::spawn(&format!("kafka://{}/readings", tansu.brokers()))?;
    let sent = readings(2_000)?;
    produce_readings(&tansu.brokers(), "readings", &sent)?;
    wait_until("the demo to serve", Duration::from_secs(60), || demo.counted(-1) >= 0)?;
    ingest_one(&demo)?;
    wait_until("2,001 readings in sensor_stats", Duration::from_secs(90), || {
        demo.counted(-1) == 2_001
    })?;
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(demo.counted(-1), 2_001, "nothing counted twice");
    Ok(())
}
