//! The key-lookup fast path answers exactly what DataFusion answers: every statement is run
//! by an engine with the fast path and by one without (the oracle), and must give the same
//! schema and rows; the engine's counter says which statements took the fast path.

use datafusion::arrow::util::pretty::pretty_format_batches;
use serde_json::{Value, json};
use tributary::queries::{QueryLimits, QueryRequest, QueryResult, SqlEngine};

use crate::common::TestServer;
use crate::sql_lookup::finished_catalog;

/// Schema (names, types, nullability) and rows as text, for comparing two answers.
fn shape(result: &QueryResult) -> anyhow::Result<(Vec<String>, String, bool)> {
    let fields = result
        .schema
        .fields()
        .iter()
        .map(|f| format!("{}:{}:{}", f.name(), f.data_type(), f.is_nullable()))
        .collect();
    let rows = pretty_format_batches(&result.batches)?.to_string();
    Ok((fields, rows, result.truncated))
}

/// Runs `sql` on both engines; asserts equal answers (or both failing) and whether the fast
/// path answered it.
async fn check(
    fast: &SqlEngine,
    oracle: &SqlEngine,
    sql: &str,
    params: Vec<Value>,
    expect_fast: bool,
) -> anyhow::Result<()> {
    let request = QueryRequest {
        sql: sql.to_string(),
        params,
        min_ticket: None,
    };
    let limits = QueryLimits::default();
    let before = fast.fast_path_answers();
    let answered = fast.run(&request, &limits).await;
    let took_fast = fast.fast_path_answers() - before == 1;
    let expected = oracle.run(&request, &limits).await;
    match (answered, expected) {
        (Ok(a), Ok(e)) => {
            assert_eq!(shape(&a)?, shape(&e)?, "{sql} {:?}", request.params);
            assert_eq!(a.as_of, e.as_of, "{sql}");
        }
        (Err(_), Err(_)) => {}
        (a, e) => panic!("{sql}: fast path {a:?}, DataFusion {e:?}"),
    }
    assert_eq!(took_fast, expect_fast, "{sql} {:?}: fast path taken?", request.params);
    assert_eq!(oracle.fast_path_answers(), 0, "the oracle never takes the fast path");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lookups_skip_datafusion_and_answer_what_datafusion_answers() -> anyhow::Result<()> {
    let catalog = tokio::task::spawn_blocking(finished_catalog).await??;
    let fast = SqlEngine::new(catalog.clone());
    let oracle = SqlEngine::new(catalog).without_fast_path();

    for sensor in 0..22 {
        for sql in [
            "SELECT * FROM sensor_stats WHERE sensor_id = $1",
            "SELECT sensor_id, count, avg, last_value FROM sensor_stats WHERE sensor_id = $1",
            "SELECT * FROM anomaly_state WHERE sensor_id = $1",
        ] {
            check(&fast, &oracle, sql, vec![json!(sensor)], true).await?;
        }
    }
    let alert = fast
        .execute("SELECT rule, sensor_id FROM alerts ORDER BY sensor_id LIMIT 1")
        .await?;
    let (rule, sensor) = {
        let row = pretty_format_batches(&alert.batches)?.to_string();
        let cells: Vec<String> = row
            .lines()
            .nth(3)
            .unwrap_or_default()
            .split('|')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        anyhow::ensure!(cells.len() == 2, "an active alert to look up: {row}");
        (cells[0].clone(), cells[1].parse::<i64>()?)
    };

    let fast_cases: Vec<(String, Vec<Value>)> = vec![
        ("SELECT * FROM sensor_stats WHERE sensor_id = 7".into(), vec![]),
        (
            "select COUNT, Sensor_Id from SENSOR_STATS where 5 = sensor_id".into(),
            vec![],
        ),
        ("SELECT * FROM public.sensor_stats WHERE sensor_id = 99".into(), vec![]),
        (
            "SELECT \"sensor_id\" FROM sensor_stats WHERE \"sensor_id\" = 3".into(),
            vec![],
        ),
        (
            format!("SELECT * FROM alerts WHERE rule = '{rule}' AND sensor_id = {sensor}"),
            vec![],
        ),
        (
            "SELECT * FROM alerts WHERE sensor_id = $2 AND rule = $1".into(),
            vec![json!(rule), json!(sensor)],
        ),
        (
            "SELECT * FROM alerts WHERE rule = 'no such rule' AND sensor_id = 1".into(),
            vec![],
        ),
        (
            "SELECT * FROM anomaly_state WHERE sensor_id = 4 ORDER BY ts DESC, value LIMIT 1".into(),
            vec![],
        ),
        (
            "SELECT sensor_id FROM sensor_stats WHERE sensor_id = 4 LIMIT 0".into(),
            vec![],
        ),
    ];
    for (sql, params) in fast_cases {
        check(&fast, &oracle, &sql, params, true).await?;
    }

    // Each of these needs DataFusion (a cast, another filter, an alias, an offset, a
    // function, an unknown column, a partial key, …) and must still get its answer.
    let slow_cases: Vec<(&str, Vec<Value>)> = vec![
        ("SELECT * FROM sensor_stats WHERE sensor_id = '7'", vec![]),
        ("SELECT * FROM sensor_stats WHERE sensor_id = $1", vec![json!("7")]),
        ("SELECT * FROM sensor_stats WHERE sensor_id = 7.0", vec![]),
        ("SELECT * FROM sensor_stats WHERE sensor_id = 7 AND count > 0", vec![]),
        ("SELECT sensor_id AS s FROM sensor_stats WHERE sensor_id = 7", vec![]),
        ("SELECT * FROM sensor_stats s WHERE s.sensor_id = 7", vec![]),
        (
            "SELECT * FROM sensor_stats WHERE sensor_id = 7 LIMIT 1 OFFSET 1",
            vec![],
        ),
        ("SELECT count + 1 FROM sensor_stats WHERE sensor_id = 7", vec![]),
        ("SELECT nope FROM sensor_stats WHERE sensor_id = 7", vec![]),
        ("SELECT * FROM alerts WHERE sensor_id = 3", vec![]),
        (
            "SELECT * FROM sensor_stats WHERE sensor_id = 7 OR sensor_id = 8",
            vec![],
        ),
        (
            "SELECT DISTINCT sensor_id FROM sensor_stats WHERE sensor_id = 7",
            vec![],
        ),
        ("SELECT * FROM sensor_stats WHERE sensor_id = $2", vec![json!(7)]),
        (
            "SELECT * FROM sensor_stats WHERE sensor_id = 7 AND sensor_id = 7",
            vec![],
        ),
        ("SELECT * FROM no_such_table WHERE sensor_id = 7", vec![]),
        ("SELECT * FROM system.sources WHERE stream = 'readings'", vec![]),
    ];
    for (sql, params) in slow_cases {
        check(&fast, &oracle, sql, params, false).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_answers_key_lookups_through_the_fast_path() -> anyhow::Result<()> {
    let server = TestServer::start(tokio::task::spawn_blocking(finished_catalog).await??).await?;
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/sql", server.addr))
        .json(&json!({"sql": "SELECT sensor_id, count FROM sensor_stats WHERE sensor_id = $1", "params": [7]}))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await?;
    assert_eq!(body["rows"], json!([[7, 200]]), "{body}");
    let names: Vec<&str> = body["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["sensor_id", "count"], "{body}");
    server.stop().await?;
    Ok(())
}
