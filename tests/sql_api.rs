//! `POST /v1/sql` beyond plain JSON, over real sockets: result formats by `Accept`,
//! positional parameters, the default row limit, the per-query timeout and memory limit,
//! refused file/URL/table-function reads, and read-your-writes with `min_ticket`.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::ipc::reader::StreamReader;
use serde_json::{Value, json};
use tributary::connectors::generator::SensorGeneratorConfig;
use tributary::connectors::http::HttpIngestOnly;
use tributary::engine::{LiveCatalog, RunningPipeline, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::{ApiConfig, ApiState};

use crate::common::TestServer;

/// A finished IoT pipeline: 20 sensors × 100 readings.
fn finished_catalog() -> anyhow::Result<Arc<LiveCatalog>> {
    crate::common::finished_iot_catalog(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(2_000),
        ..SensorGeneratorConfig::default()
    })
}

async fn server_with(config: ApiConfig) -> anyhow::Result<TestServer> {
    let catalog = tokio::task::spawn_blocking(finished_catalog).await??;
    TestServer::serve(ApiState::from_catalog(catalog).with_config(config)?).await
}

/// The raw answer to `POST /v1/sql` with `body` and `accept`.
async fn post(server: &TestServer, body: Value, accept: Option<&str>) -> anyhow::Result<reqwest::Response> {
    let mut request = reqwest::Client::new()
        .post(format!("http://{}/v1/sql", server.addr))
        .timeout(Duration::from_secs(60))
        .json(&body);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    Ok(request.send().await?)
}

async fn post_json(server: &TestServer, body: Value) -> anyhow::Result<(u16, Value)> {
    let response = post(server, body, None).await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

const THREE: &str = "SELECT sensor_id, count, last_ts FROM sensor_stats ORDER BY sensor_id LIMIT 3";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ndjson_csv_and_arrow_by_accept_and_406_otherwise() -> anyhow::Result<()> {
    let server = server_with(ApiConfig::default()).await?;

    let ndjson = post(&server, json!({"sql": THREE}), Some("application/x-ndjson")).await?;
    assert_eq!(ndjson.status(), 200);
    assert_eq!(header(&ndjson, "content-type"), "application/x-ndjson");
    assert_eq!(header(&ndjson, "tributary-as-of"), u64::MAX.to_string());
    assert_eq!(header(&ndjson, "tributary-truncated"), "false");
    let rows: Vec<Value> = ndjson
        .text()
        .await?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1]["sensor_id"], json!(1));
    assert_eq!(rows[1]["count"], json!(100));
    assert!(
        rows[1]["last_ts"]
            .as_str()
            .is_some_and(|t| t.starts_with("2023-11-14T"))
    );

    let csv = post(&server, json!({"sql": THREE}), Some("text/csv")).await?;
    assert_eq!(csv.status(), 200);
    assert!(header(&csv, "content-type").starts_with("text/csv"));
    let text = csv.text().await?;
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(lines[0], ["sensor_id", "count", "last_ts"]);
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[3][..2], ["2", "100"]);

    let empty = post(
        &server,
        json!({"sql": "SELECT sensor_id FROM sensor_stats WHERE sensor_id < 0"}),
        Some("text/csv"),
    )
    .await?;
    assert_eq!(empty.text().await?, "sensor_id\n", "an empty CSV still has its header");

    let arrow = post(
        &server,
        json!({"sql": THREE}),
        Some("application/vnd.apache.arrow.stream"),
    )
    .await?;
    assert_eq!(arrow.status(), 200);
    assert_eq!(header(&arrow, "content-type"), "application/vnd.apache.arrow.stream");
    let bytes = arrow.bytes().await?;
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None)?;
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>()?;
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(batches[0].schema().field(1).name(), "count");

    let refused = post(&server, json!({"sql": THREE}), Some("image/png")).await?;
    assert_eq!(refused.status(), 406);
    let body: Value = refused.json().await?;
    assert!(body["error"].as_str().is_some_and(|m| m.contains("text/csv")), "{body}");

    let (status, body) = post_json(&server, json!({"sql": THREE})).await?;
    assert_eq!(
        (status, &body["truncated"]),
        (200, &json!(false)),
        "JSON is the default"
    );
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positional_parameters_bind_and_bad_ones_are_400() -> anyhow::Result<()> {
    let server = server_with(ApiConfig::default()).await?;
    let (status, body) = post_json(
        &server,
        json!({"sql": "SELECT sensor_id, count FROM sensor_stats WHERE sensor_id = $1 OR sensor_id = $2 ORDER BY sensor_id",
               "params": [3, 5]}),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], json!([[3, 100], [5, 100]]));

    let (status, body) = post_json(
        &server,
        json!({"sql": "SELECT $1 AS s, $2 AS f, $3 AS b", "params": ["x", 1.5, true]}),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], json!([["x", 1.5, true]]));

    let cases = [
        json!({"sql": "SELECT sensor_id FROM sensor_stats WHERE sensor_id = $1", "params": [[1]]}),
        json!({"sql": "SELECT sensor_id FROM sensor_stats WHERE sensor_id = $1", "params": ["seven"]}),
        json!({"sql": "SELECT $1 + $2", "params": [1]}),
    ];
    for case in cases {
        let (status, body) = post_json(&server, case.clone()).await?;
        assert_eq!(status, 400, "{case}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_row_limit_cuts_and_says_so_an_explicit_limit_wins() -> anyhow::Result<()> {
    let server = server_with(ApiConfig {
        sql_row_limit: 5,
        ..ApiConfig::default()
    })
    .await?;
    let (status, body) = post_json(
        &server,
        json!({"sql": "SELECT sensor_id FROM sensor_stats ORDER BY sensor_id"}),
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], json!([[0], [1], [2], [3], [4]]));
    assert_eq!(body["truncated"], json!(true));

    let (_, body) = post_json(&server, json!({"sql": "SELECT sensor_id FROM sensor_stats LIMIT 12"})).await?;
    assert_eq!(
        body["rows"].as_array().map(Vec::len),
        Some(12),
        "an explicit LIMIT wins"
    );
    assert_eq!(body["truncated"], json!(false));

    let (_, body) = post_json(
        &server,
        json!({"sql": "SELECT sensor_id FROM sensor_stats WHERE sensor_id < 5"}),
    )
    .await?;
    assert_eq!(body["rows"].as_array().map(Vec::len), Some(5));
    assert_eq!(body["truncated"], json!(false), "exactly at the limit is not cut");

    let csv = post(
        &server,
        json!({"sql": "SELECT sensor_id FROM sensor_stats"}),
        Some("text/csv"),
    )
    .await?;
    assert_eq!(header(&csv, "tributary-truncated"), "true");
    assert_eq!(csv.text().await?.lines().count(), 6);
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_timeout_is_408_and_the_next_one_works() -> anyhow::Result<()> {
    let server = server_with(ApiConfig {
        sql_timeout_ms: 300,
        ..ApiConfig::default()
    })
    .await?;
    let (status, body) = post_json(
        &server,
        json!({"sql": "SELECT count(*) FROM generate_series(1, 1000000000000) AS t(v) WHERE v % 7 = 3"}),
    )
    .await?;
    assert_eq!(status, 408, "{body}");
    assert!(body["error"].as_str().is_some_and(|m| m.contains("300ms")), "{body}");
    let (status, body) = post_json(&server, json!({"sql": "SELECT count(*) FROM sensor_stats"})).await?;
    assert_eq!((status, &body["rows"]), (200, &json!([[20]])));
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_the_memory_limit_is_413_and_the_next_one_works() -> anyhow::Result<()> {
    let server = server_with(ApiConfig {
        sql_memory_limit_bytes: 1 << 20,
        ..ApiConfig::default()
    })
    .await?;
    let (status, body) = post_json(
        &server,
        json!({"sql": "SELECT v, count(*) FROM generate_series(1, 3000000) AS t(v) GROUP BY v ORDER BY v DESC LIMIT 1"}),
    )
    .await?;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("memory limit of 1048576 bytes")),
        "{body}"
    );
    let (status, body) = post_json(&server, json!({"sql": "SELECT count(*) FROM sensor_stats"})).await?;
    assert_eq!((status, &body["rows"]), (200, &json!([[20]])));
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_urls_and_table_functions_are_403() -> anyhow::Result<()> {
    let server = server_with(ApiConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("data.csv");
    std::fs::write(&file, "a\n1\n")?;
    let path = file.display();
    let refused = [
        format!("SELECT * FROM '{path}'"),
        "SELECT * FROM '/etc/passwd'".to_string(),
        "SELECT * FROM 'https://example.com/data.parquet'".to_string(),
        format!("SELECT * FROM read_csv('{path}')"),
        format!("SELECT * FROM read_parquet('{path}')"),
        format!("SELECT * FROM read_json('{path}')"),
        format!("SELECT * FROM sensor_stats JOIN '{path}' AS f ON true"),
        format!("WITH x AS (SELECT * FROM '{path}') SELECT * FROM x"),
        format!("SELECT * FROM sensor_stats WHERE sensor_id IN (SELECT a FROM '{path}')"),
        format!("EXPLAIN SELECT * FROM '{path}'"),
        format!("CREATE EXTERNAL TABLE ext STORED AS CSV LOCATION '{path}'"),
        format!("COPY (SELECT 1) TO '{}'", dir.path().join("out.csv").display()),
        "CREATE TABLE t AS SELECT 1".to_string(),
        "INSERT INTO sensor_stats SELECT * FROM sensor_stats".to_string(),
    ];
    for sql in &refused {
        let (status, body) = post_json(&server, json!({"sql": sql})).await?;
        assert_eq!(status, 403, "{sql}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|m| m.contains("not allowed")),
            "{sql}: {body}"
        );
    }
    assert!(!dir.path().join("out.csv").exists());
    let (status, body) = post_json(
        &server,
        json!({"sql": "SELECT count(*) FROM generate_series(1, 10) AS t(v)"}),
    )
    .await?;
    assert_eq!((status, &body["rows"]), (200, &json!([[10]])), "generators are allowed");
    server.stop().await
}

/// A pipeline fed only by HTTP ingest, stopped however the test ends (dropping a
/// `RunningPipeline` joins its workers, which would hang a failed test).
struct IngestOnly(Option<RunningPipeline>);

impl Drop for IngestOnly {
    fn drop(&mut self) {
        if let Some(run) = &self.0 {
            run.shutdown_handle().shutdown();
        }
    }
}

async fn ingest_only(config: ApiConfig) -> anyhow::Result<(IngestOnly, TestServer)> {
    let run = tokio::task::spawn_blocking(|| {
        Runtime::start(RuntimeConfig::with_workers(2), |p| iot::build(p, &HttpIngestOnly))
    })
    .await??;
    let server = TestServer::serve(ApiState::for_pipeline(&run).with_config(config)?).await?;
    Ok((IngestOnly(Some(run)), server))
}

async fn stop(mut run: IngestOnly, server: TestServer) -> anyhow::Result<()> {
    server.stop().await?;
    if let Some(run) = run.0.take() {
        tokio::task::spawn_blocking(move || run.shutdown()).await??;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_ticket_reads_its_writes_and_a_ticket_not_reached_is_503() -> anyhow::Result<()> {
    let (run, server) = ingest_only(ApiConfig {
        min_ticket_wait_ms: 300,
        ..ApiConfig::default()
    })
    .await?;
    let client = reqwest::Client::new();
    let mut tickets = Vec::new();
    for sensor in [41, 42, 43] {
        let answer: Value = client
            .post(format!("http://{}/v1/ingest/readings", server.addr))
            .timeout(Duration::from_secs(30))
            .body(json!({"sensor_id": sensor, "ts": 1_700_000_000_000i64, "value": 1.0}).to_string())
            .send()
            .await?
            .json()
            .await?;
        let ticket = answer["ticket"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no ticket: {answer}"))?;
        // Straight after the ingest, with no polling: the query waits for the ticket.
        let (status, body) = post_json(
            &server,
            json!({"sql": "SELECT count FROM sensor_stats WHERE sensor_id = $1", "params": [sensor], "min_ticket": ticket}),
        )
        .await?;
        assert_eq!(status, 200, "{body}");
        assert!(body["as_of"].as_u64().is_some_and(|a| a >= ticket), "{body}");
        assert_eq!(body["rows"], json!([[1]]), "ticket {ticket}: {body}");
        tickets.push(ticket);
    }
    let far = tickets.iter().max().copied().unwrap_or(0) + 1_000_000_000;
    let response = post(&server, json!({"sql": "SELECT 1", "min_ticket": far}), None).await?;
    assert_eq!(response.status(), 503);
    assert_eq!(header(&response, "retry-after"), "1");
    let body: Value = response.json().await?;
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("min_ticket") && m.contains("300ms")),
        "{body}"
    );
    stop(run, server).await
}
