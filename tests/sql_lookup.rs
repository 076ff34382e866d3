//! Point lookups: filters on a projection's key columns are answered from its frozen map
//! (`ProjectionProvider`), everything else scans; both give the rows a scan would.

use std::sync::Arc;

use serde_json::{Value, json};
use tributary::connectors::generator::SensorGeneratorConfig;
use tributary::engine::LiveCatalog;

use crate::common::TestServer;

/// A finished IoT pipeline with frequent spikes, so some alerts stay active (also the
/// fast-path tests' catalog).
pub(crate) fn finished_catalog() -> anyhow::Result<Arc<LiveCatalog>> {
    crate::common::finished_iot_catalog(SensorGeneratorConfig {
        sensors: 20,
        rate: 0,
        limit: Some(4_000),
        spike_probability: 0.3,
        ..SensorGeneratorConfig::default()
    })
}

async fn rows(server: &TestServer, sql: &str) -> anyhow::Result<Value> {
    let (status, body) = server.sql(sql).await?;
    anyhow::ensure!(status == 200, "{sql}: {body}");
    Ok(body["rows"].clone())
}

/// The physical plan of `sql`, as EXPLAIN prints it.
async fn physical_plan(server: &TestServer, sql: &str) -> anyhow::Result<String> {
    let plan = rows(server, &format!("EXPLAIN {sql}")).await?;
    Ok(plan
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| row[0] == json!("physical_plan"))
        .map(|row| row[1].as_str().unwrap_or_default().to_string())
        .collect())
}

/// Key lookups read a memory source built from the looked-up rows; scans stream the map.
const LOOKUP: &str = "DataSourceExec";
const SCAN: &str = "StreamingTableExec";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_filters_look_up_other_queries_scan_and_answers_agree() -> anyhow::Result<()> {
    let server = TestServer::start(tokio::task::spawn_blocking(finished_catalog).await??).await?;

    let eq = "SELECT sensor_id, count FROM sensor_stats WHERE sensor_id = 7";
    assert_eq!(rows(&server, eq).await?, json!([[7, 200]]));
    let plan = physical_plan(&server, eq).await?;
    assert!(plan.contains(LOOKUP) && !plan.contains(SCAN), "{plan}");
    assert_eq!(
        rows(&server, "SELECT count FROM sensor_stats WHERE sensor_id = 99").await?,
        json!([])
    );

    let in_list = "SELECT sensor_id FROM sensor_stats WHERE sensor_id IN (4, 2, 99) ORDER BY sensor_id";
    assert_eq!(rows(&server, in_list).await?, json!([[2], [4]]));
    let plan = physical_plan(&server, in_list).await?;
    assert!(plan.contains(LOOKUP) && !plan.contains(SCAN), "{plan}");

    let key_and_other = "SELECT sensor_id FROM sensor_stats WHERE sensor_id IN (1, 2) AND count > 1000";
    assert_eq!(
        rows(&server, key_and_other).await?,
        json!([]),
        "other filters still apply"
    );

    let no_filter = "SELECT count(*), sum(count) FROM sensor_stats";
    assert_eq!(rows(&server, no_filter).await?, json!([[20, 4000]]));
    assert!(physical_plan(&server, no_filter).await?.contains(SCAN));

    let non_key = "SELECT count(*) FROM sensor_stats WHERE count = 200";
    assert_eq!(rows(&server, non_key).await?, json!([[20]]));
    let plan = physical_plan(&server, non_key).await?;
    assert!(plan.contains(SCAN), "{plan}");

    let range = "SELECT count(*) FROM sensor_stats WHERE sensor_id < 5";
    assert_eq!(rows(&server, range).await?, json!([[5]]));
    assert!(physical_plan(&server, range).await?.contains(SCAN));
    server.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_two_columns_needs_both_and_finds_each_row() -> anyhow::Result<()> {
    let server = TestServer::start(tokio::task::spawn_blocking(finished_catalog).await??).await?;
    let both = "SELECT rule, sensor_id FROM alerts WHERE rule = 'sensor_anomaly' AND sensor_id = 3";
    let plan = physical_plan(&server, both).await?;
    assert!(plan.contains(LOOKUP) && !plan.contains(SCAN), "{plan}");
    let one = "SELECT rule, sensor_id FROM alerts WHERE sensor_id = 3";
    assert!(
        physical_plan(&server, one).await?.contains(SCAN),
        "one key column of two scans"
    );

    let all = rows(&server, "SELECT rule, sensor_id, since FROM alerts ORDER BY sensor_id").await?;
    let all = all.as_array().cloned().unwrap_or_default();
    assert!(!all.is_empty(), "spikes every few readings leave some alerts active");
    for row in &all {
        let sql = format!(
            "SELECT rule, sensor_id, since FROM alerts WHERE rule = '{}' AND sensor_id = {}",
            row[0].as_str().unwrap_or_default(),
            row[1]
        );
        assert_eq!(rows(&server, &sql).await?, json!([row]), "{sql}");
        let missing = format!(
            "SELECT rule FROM alerts WHERE rule = 'other' AND sensor_id = {}",
            row[1]
        );
        assert_eq!(rows(&server, &missing).await?, json!([]));
    }
    let ids: Vec<String> = all.iter().map(|r| r[1].to_string()).collect();
    let sql = format!(
        "SELECT sensor_id FROM alerts WHERE rule IN ('sensor_anomaly', 'x') AND sensor_id IN ({}, 9999) ORDER BY sensor_id",
        ids.join(", ")
    );
    let found = rows(&server, &sql).await?;
    assert_eq!(found.as_array().map(Vec::len), Some(all.len()), "{found}");
    server.stop().await
}
