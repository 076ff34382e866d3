//! The SQL-over-HTTP contract, over real sockets.

use std::sync::Arc;

use serde_json::json;
use tributary::connectors::generator::SensorGeneratorConfig;
use tributary::engine::LiveCatalog;

use crate::common::TestServer;

/// A finished pipeline: 20 sensors × 100 readings.
fn finished_catalog() -> anyhow::Result<Arc<LiveCatalog>> {
    crate::common::finished_iot_catalog(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(2_000),
        ..SensorGeneratorConfig::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_returns_columns_rows_and_as_of() -> anyhow::Result<()> {
    let server = TestServer::start(tokio::task::spawn_blocking(finished_catalog).await??).await?;
    let (status, body) = server
        .sql("SELECT sensor_id, count, avg, last_ts FROM sensor_stats ORDER BY sensor_id LIMIT 3")
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["columns"],
        json!([
            {"name": "sensor_id", "type": "BIGINT"},
            {"name": "count", "type": "BIGINT"},
            {"name": "avg", "type": "DOUBLE"},
            {"name": "last_ts", "type": "TIMESTAMP"}
        ])
    );
    let rows = body["rows"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][0], json!(0));
    assert_eq!(rows[0][1], json!(100));
    assert!(
        rows[0][3].as_str().is_some_and(|s| s.starts_with("2023-11-14T")),
        "{body}"
    );
    assert_eq!(body["as_of"], json!(u64::MAX));

    let (status, body) = server
        .sql("SELECT sum(count) AS n, count(*) AS sensors FROM sensor_stats")
        .await?;
    assert_eq!(status, 200);
    assert_eq!(body["rows"], json!([[2000, 20]]));
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_is_400_with_datafusions_message_and_the_server_keeps_serving() -> anyhow::Result<()> {
    let server = TestServer::start(tokio::task::spawn_blocking(finished_catalog).await??).await?;
    let cases = [
        ("SELEC 1", "SELEC"),
        ("SELECT nope FROM sensor_stats", "nope"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT 1 +", "Expected"),
    ];
    for (sql, needle) in cases {
        let (status, body) = server.sql(sql).await?;
        assert_eq!(status, 400, "{sql}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{sql}: {message}");
        let (status, _) = server.sql("SELECT count(*) FROM sensor_stats").await?;
        assert_eq!(status, 200, "server still answers after {sql}");
    }
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_403_and_change_nothing() -> anyhow::Result<()> {
    let server = TestServer::start(tokio::task::spawn_blocking(finished_catalog).await??).await?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out.csv");
    let writes = [
        "CREATE TABLE t (a INT)".to_string(),
        "CREATE TABLE t AS SELECT * FROM sensor_stats".to_string(),
        "INSERT INTO sensor_stats VALUES (1, 1, 1.0, 1.0, 1.0, 1.0, 1.0, 0)".to_string(),
        "DELETE FROM sensor_stats".to_string(),
        "DROP TABLE sensor_stats".to_string(),
        format!("COPY sensor_stats TO '{}'", out.display()),
        format!("COPY (SELECT 1) TO '{}'", out.display()),
        format!("CREATE EXTERNAL TABLE ext STORED AS CSV LOCATION '{}'", out.display()),
        "CREATE VIEW v AS SELECT 1".to_string(),
        "SET datafusion.execution.batch_size = 1".to_string(),
        "EXPLAIN CREATE TABLE t (a INT)".to_string(),
    ];
    for sql in &writes {
        let (status, body) = server.sql(sql).await?;
        assert_eq!(status, 403, "{sql}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|m| m.contains("read-only")),
            "{sql}: {body}"
        );
    }
    assert!(!out.exists(), "COPY must not write a file");
    let (status, body) = server.sql("SELECT count(*) FROM sensor_stats").await?;
    assert_eq!((status, &body["rows"]), (200, &json!([[20]])));
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_other_than_select_are_allowed() -> anyhow::Result<()> {
    let server = TestServer::start(tokio::task::spawn_blocking(finished_catalog).await??).await?;
    for sql in [
        "EXPLAIN SELECT * FROM sensor_stats",
        "SHOW TABLES",
        "DESCRIBE sensor_stats",
        "SELECT 1 + 1",
    ] {
        let (status, body) = server.sql(sql).await?;
        assert_eq!(status, 200, "{sql}: {body}");
    }
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_json_errors() -> anyhow::Result<()> {
    let server = TestServer::start(Arc::new(LiveCatalog::new(1))).await?;
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/sql", server.addr);
    let not_json = client
        .post(&url)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await?;
    assert_eq!(not_json.status(), 400);
    let body: serde_json::Value = not_json.json().await?;
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|m| m.contains("invalid request body")),
        "{body}"
    );

    let wrong_shape = client.post(&url).json(&json!({"query": "SELECT 1"})).send().await?;
    assert_eq!(wrong_shape.status(), 422);
    let body: serde_json::Value = wrong_shape.json().await?;
    assert!(body["error"].as_str().is_some_and(|m| m.contains("sql")), "{body}");

    let huge = client
        .post(&url)
        .json(&json!({"sql": "x".repeat(2 << 20)}))
        .send()
        .await?;
    assert_eq!(huge.status(), 413);

    let missing = client.get(format!("http://{}/v2/nothing", server.addr)).send().await?;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await?;
    assert!(body["error"].is_string());

    let health = client.get(format!("http://{}/healthz", server.addr)).send().await?;
    assert_eq!(health.status(), 200);
    server.stop().await
}
