//! `POST /v1/ingest/{stream}` and the `system` tables, over real sockets, on the IoT pipeline.
//!
//! Every bad-input case a client can produce is sent for real: bad lines must be answered
//! with their line and reason, dead-lettered with their raw text, counted, and must never
//! hide the good lines of the same body, which become visible at the answered ticket.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::connectors::http::HttpIngestOnly;
use tributary::engine::{RunningPipeline, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::{ApiConfig, ApiState};

use crate::common::TestServer;

/// The answer to one HTTP request: status, headers and JSON body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn request(method: reqwest::Method, url: String, content_type: &str, body: Vec<u8>) -> anyhow::Result<Answer> {
    let response = reqwest::Client::new()
        .request(method, url)
        .header("content-type", content_type)
        .timeout(Duration::from_secs(30))
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await?;
    let body = serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{status}: not JSON ({e}): {text:?}"))?;
    Ok(Answer { status, headers, body })
}

async fn ingest(server: &TestServer, stream: &str, body: impl Into<Vec<u8>>) -> anyhow::Result<Answer> {
    let url = format!("http://{}/v1/ingest/{stream}", server.addr);
    request(reqwest::Method::POST, url, "application/x-ndjson", body.into()).await
}

/// Runs `sql` until the answer's `as_of` reaches `ticket` (read-your-writes), at most 30 s.
async fn sql_at(server: &TestServer, sql: &str, ticket: u64) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.sql(sql).await?;
        anyhow::ensure!(status == 200, "{sql}: {body}");
        if body["as_of"].as_u64().is_some_and(|as_of| as_of >= ticket) {
            return Ok(body["rows"].clone());
        }
        anyhow::ensure!(Instant::now() < deadline, "as_of never reached ticket {ticket}: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running pipeline that is shut down however the test ends: dropping a
/// [`RunningPipeline`] joins its workers, so without this a failed assertion would hang the
/// test instead of failing it.
struct Running(Option<RunningPipeline>);

impl Running {
    async fn start(build: impl FnOnce() -> anyhow::Result<RunningPipeline> + Send + 'static) -> anyhow::Result<Self> {
        Ok(Self(Some(tokio::task::spawn_blocking(build).await??)))
    }

    fn state(&self) -> anyhow::Result<ApiState> {
        let run = self
            .0
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("pipeline already stopped"))?;
        Ok(ApiState::for_pipeline(run))
    }

    /// Waits until every source has ended and the dataflow has drained.
    async fn join(mut self) -> anyhow::Result<()> {
        if let Some(run) = self.0.take() {
            tokio::task::spawn_blocking(move || run.join()).await??;
        }
        Ok(())
    }

    /// Stops the sources and waits until the dataflow has drained.
    async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(run) = self.0.take() {
            tokio::task::spawn_blocking(move || run.shutdown()).await??;
        }
        Ok(())
    }
}

/// The IoT pipeline fed only by HTTP ingest, served with `config`.
async fn ingest_only(config: ApiConfig) -> anyhow::Result<(Running, TestServer)> {
    let run = Running::start(|| {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), |p| {
            iot::build(p, &HttpIngestOnly)
        })?)
    })
    .await?;
    let server = TestServer::serve(run.state()?.with_config(config)?).await?;
    Ok((run, server))
}

async fn stop(run: Running, server: TestServer) -> anyhow::Result<()> {
    server.stop().await?;
    run.shutdown().await
}

fn reading(sensor_id: i64, ts: i64, value: f64) -> String {
    json!({"sensor_id": sensor_id, "ts": ts, "value": value}).to_string()
}

const TS: i64 = 1_700_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_with_every_bad_kind_accepts_the_good_lines_and_dead_letters_the_rest() -> anyhow::Result<()> {
    let (run, server) = ingest_only(ApiConfig::default()).await?;
    let oversized = format!(
        r#"{{"sensor_id": 6, "ts": {TS}, "value": 1.0, "pad": "{}"}}"#,
        "x".repeat(1_100 * 1024)
    );
    let mut body = Vec::new();
    for line in [
        reading(1, TS, 10.0),                                                      // 1 good (ms)
        r#"{"sensor_id": 1, "ts": "2023-11-14T22:13:21Z", "value": 20.0}"#.into(), // 2 good (RFC 3339)
        r#"{"sensor_id": 2, "ts": 1700000000000, "value": 5.5"#.into(),            // 3 malformed JSON
        r#"{"sensor_id": "two", "ts": 1700000000000, "value": 1.0}"#.into(),       // 4 wrong type
        r#"{"sensor_id": 3, "value": 1.0}"#.into(),                                // 5 missing field
    ] {
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
    }
    body.extend_from_slice(b"{\"sensor_id\": 4, \"ts\": 1700000000000, \"value\": 1.0, \"note\": \"\xff\xfe\"}\n"); // 6 invalid UTF-8
    body.extend_from_slice(br#"{"sensor_id": 5, "ts": "yesterday", "value": 1.0}"#); // 7 bad event time
    body.push(b'\n');
    body.extend_from_slice(oversized.as_bytes()); // 8 over the 1 MiB record limit
    body.extend_from_slice(b"\n\n"); // 9 blank: skipped, still counted as a line
    body.extend_from_slice(reading(2, TS + 1_000, 7.0).as_bytes()); // 10 good
    assert!(body.len() < ApiConfig::DEFAULT_MAX_INGEST_BODY_BYTES);

    let answer = ingest(&server, "readings", body).await?;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["accepted"], json!(3), "{}", answer.body);
    assert_eq!(answer.body["rejected"], json!(6), "{}", answer.body);
    let errors = answer.body["errors"].as_array().cloned().unwrap_or_default();
    let lines: Vec<u64> = errors.iter().filter_map(|e| e["line"].as_u64()).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8], "{}", answer.body);
    let reason = |i: usize| errors[i]["reason"].as_str().unwrap_or_default().to_string();
    let expected_reasons = [
        "malformed JSON",
        "sensor_id",
        "missing field `ts`",
        "invalid UTF-8 after",
        "cannot parse event time \"yesterday\"",
        "exceeds the limit of 1048576 bytes",
    ];
    for (i, needle) in expected_reasons.iter().enumerate() {
        assert!(
            reason(i).contains(needle),
            "line {}: {:?} lacks {needle:?}",
            lines[i],
            reason(i)
        );
    }
    let ticket = answer.body["ticket"].as_u64().unwrap_or_default();
    assert!(ticket > 0, "{}", answer.body);

    let stats = sql_at(
        &server,
        "SELECT sensor_id, count, sum, last_value FROM sensor_stats ORDER BY sensor_id",
        ticket,
    )
    .await?;
    assert_eq!(stats, json!([[1, 2, 30.0, 20.0], [2, 1, 7.0, 7.0]]));

    let dlq = sql_at(
        &server,
        "SELECT stream, source, position, kind, reason, raw, rejected_at FROM system.dlq ORDER BY position",
        ticket,
    )
    .await?;
    let dlq = dlq.as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = dlq.iter().filter_map(|r| r[3].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "malformed_json",
            "invalid_fields",
            "invalid_fields",
            "invalid_utf8",
            "invalid_fields",
            "oversized"
        ]
    );
    for (row, line) in dlq.iter().zip(&lines) {
        assert_eq!(row[0], json!("readings"));
        assert_eq!(row[1], json!("http"));
        assert_eq!(row[2], json!(format!("http:request 0 line {line}")));
        assert!(row[6].as_str().is_some_and(|t| t.len() >= 19), "rejected_at: {row}");
    }
    assert_eq!(
        dlq[0][5],
        json!(r#"{"sensor_id": 2, "ts": 1700000000000, "value": 5.5"#)
    );
    assert_eq!(
        dlq[3][5],
        json!("{\"sensor_id\": 4, \"ts\": 1700000000000, \"value\": 1.0, \"note\": \"\u{fffd}\u{fffd}\"}")
    );
    assert_eq!(
        dlq[4][4],
        json!(reason(4)),
        "the DLQ keeps the reason the client was given"
    );
    assert_eq!(dlq[5][5].as_str().map(str::len), Some(oversized.len()));

    let streams = sql_at(
        &server,
        "SELECT stream, received, accepted, dead_lettered FROM system.streams",
        ticket,
    )
    .await?;
    assert_eq!(streams, json!([["readings", 9, 3, 6]]));
    stop(run, server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_array_and_empty_bodies() -> anyhow::Result<()> {
    let (run, server) = ingest_only(ApiConfig::default()).await?;

    let object = ingest(&server, "readings", reading(10, TS, 1.5)).await?;
    assert_eq!(object.status, 200, "{}", object.body);
    assert_eq!(object.body["accepted"], json!(1));
    assert_eq!(object.body["rejected"], json!(0));
    assert_eq!(object.body["errors"], json!([]));

    let array = format!(
        "[{}, {}, {}]",
        reading(11, TS, 1.0),
        r#"{"sensor_id": 11, "ts": "soon", "value": 2.0}"#,
        reading(11, TS + 1, 3.0)
    );
    let array = ingest(&server, "readings", array).await?;
    assert_eq!(array.status, 200, "{}", array.body);
    assert_eq!(array.body["accepted"], json!(2));
    assert_eq!(array.body["rejected"], json!(1));
    assert_eq!(array.body["errors"][0]["line"], json!(2), "{}", array.body);

    let empty = ingest(&server, "readings", Vec::new()).await?;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(
        empty.body,
        json!({"accepted": 0, "rejected": 0, "errors": [], "ticket": 0})
    );

    let ticket = [&object, &array]
        .iter()
        .filter_map(|a| a.body["ticket"].as_u64())
        .max()
        .unwrap_or_default();
    let rows = sql_at(
        &server,
        "SELECT sensor_id, count, sum FROM sensor_stats ORDER BY sensor_id",
        ticket,
    )
    .await?;
    assert_eq!(rows, json!([[10, 1, 1.5], [11, 2, 4.0]]));
    let streams = sql_at(
        &server,
        "SELECT received, accepted, dead_lettered FROM system.streams",
        ticket,
    )
    .await?;
    assert_eq!(streams, json!([[4, 3, 1]]));
    stop(run, server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_request_failures_are_json_with_the_right_status() -> anyhow::Result<()> {
    let config = ApiConfig {
        max_ingest_body_bytes: 1_024,
        ..ApiConfig::default()
    };
    let (run, server) = ingest_only(config).await?;

    let too_big = ingest(&server, "readings", vec![b' '; 4_096]).await?;
    assert_eq!(too_big.status, 413, "{}", too_big.body);
    let message = too_big.body["error"].as_str().unwrap_or_default();
    assert!(message.contains("limit of 1024 bytes"), "{message}");

    let unknown = ingest(&server, "nope", reading(1, TS, 1.0)).await?;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let message = unknown.body["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("no stream `nope`") && message.contains("readings"),
        "{message}"
    );

    let url = format!("http://{}/v1/ingest/readings", server.addr);
    let wrong_method = request(reqwest::Method::GET, url, "application/x-ndjson", Vec::new()).await?;
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.body);
    assert_eq!(
        wrong_method.headers.get("allow").map(|v| v.as_bytes()),
        Some(&b"POST"[..])
    );
    assert!(wrong_method.body["error"].is_string(), "{}", wrong_method.body);

    let url = format!("http://{}/v1/sql", server.addr);
    let long_sql = json!({ "sql": format!("SELECT 1 -- {}", "x".repeat(1 << 20)) }).to_string();
    let sql_too_big = request(reqwest::Method::POST, url, "application/json", long_sql.into_bytes()).await?;
    assert_eq!(
        sql_too_big.status, 413,
        "/v1/sql keeps its 1 MiB limit: {}",
        sql_too_big.body
    );

    let (status, body) = server.sql("SELECT * FROM system.nope").await?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("system.nope")),
        "{body}"
    );
    let (status, body) = server
        .sql("SELECT * FROM system.frontiers WHERE projection = 'sensor_stats'")
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"][0][0], json!("sensor_stats"));
    assert_eq!(body["rows"][0][1], body["as_of"], "{body}");
    stop(run, server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_source_ended_answers_503() -> anyhow::Result<()> {
    let source = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 5,
        rate: 0,
        limit: Some(100),
        ..SensorGeneratorConfig::default()
    })?;
    let run = Running::start(move || {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), move |p| {
            iot::build(p, &source)
        })?)
    })
    .await?;
    let state = run.state()?;
    // A bounded source ends by itself: its stream then closes to ingest.
    run.join().await?;
    let server = TestServer::serve(state).await?;
    let closed = ingest(&server, "readings", reading(1, TS, 1.0)).await?;
    assert_eq!(closed.status, 503, "{}", closed.body);
    assert!(
        closed.body["error"].as_str().is_some_and(|e| e.contains("closed")),
        "{}",
        closed.body
    );
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_works_while_the_generator_runs() -> anyhow::Result<()> {
    let source = SensorGenerator::try_new(SensorGeneratorConfig {
        sensors: 5,
        rate: 500,
        ..SensorGeneratorConfig::default()
    })?;
    let run = Running::start(move || {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), move |p| {
            iot::build(p, &source)
        })?)
    })
    .await?;
    let server = TestServer::serve(run.state()?).await?;
    let body = [1.0, 2.0, 3.0].map(|v| reading(1_000, TS, v)).join("\n");
    let answer = ingest(&server, "readings", body).await?;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["accepted"], json!(3), "{}", answer.body);
    let ticket = answer.body["ticket"].as_u64().unwrap_or_default();
    let rows = sql_at(
        &server,
        "SELECT count, sum FROM sensor_stats WHERE sensor_id = 1000",
        ticket,
    )
    .await?;
    assert_eq!(rows, json!([[3, 6.0]]));
    // Counters are exact once the sources stop (a running source moves them between reads).
    run.shutdown().await?;
    let (status, body) = server
        .sql("SELECT received, accepted, dead_lettered, received = accepted + dead_lettered FROM system.streams")
        .await?;
    assert_eq!(status, 200, "{body}");
    let streams = &body["rows"];
    assert!(
        streams[0][1].as_u64().is_some_and(|n| n > 3),
        "generated readings count too: {streams}"
    );
    assert_eq!(streams[0][3], json!(true), "{streams}");
    server.stop().await
}
