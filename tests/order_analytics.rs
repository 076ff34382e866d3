//! The order-analytics pipeline end to end: generated order lifecycles → `orders`, hourly
//! revenue per product and category, and the status funnel, read over real HTTP and checked
//! against DataFusion batch SQL over the same events; a live ⋈ `history.orders` query; late
//! placements and cancellations sent over HTTP ingest correct their (older) windows.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use tributary::connectors::history::{ParquetHistoryConfig, ParquetHistoryStore};
use tributary::connectors::http::HttpIngestOnly;
use tributary::engine::history::HistoryStore;
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::order_analytics::{
    self, OrderAnalyticsConfig, OrderEvent, OrderGenerator, OrderGeneratorConfig,
};
use tributary::queries::{ApiState, HistorySources};

use crate::common::{StartedPipeline, TestServer};

const ORDERS: u64 = 4_000;
const HOUR: i64 = 3_600_000;

fn generator() -> anyhow::Result<OrderGenerator> {
    Ok(OrderGenerator::try_new(OrderGeneratorConfig {
        rate: 0,
        // 400 orders an hour over 10 hours of placements.
        spacing_ms: 9_000,
        orders: Some(ORDERS),
        ..OrderGeneratorConfig::default()
    })?)
}

/// Runs the pipeline over the bounded generator on 2 workers, with history in `dir`.
fn finished_catalog(dir: &std::path::Path, events: u64) -> anyhow::Result<Arc<LiveCatalog>> {
    let source = generator()?;
    let store: Arc<dyn HistoryStore> = Arc::new(ParquetHistoryStore::open(ParquetHistoryConfig::in_data_dir(dir))?);
    let run = Runtime::start_with_history(
        RuntimeConfig::with_workers(2),
        Arc::new(DeadLetterQueue::default()),
        Arc::default(),
        Some(store),
        move |p| order_analytics::build(p, &source, OrderAnalyticsConfig::default()),
    )?;
    let catalog = run.catalog();
    let counters = run.counters();
    run.join()?;
    let c = counters.snapshot()[order_analytics::ORDERS_STREAM];
    assert_eq!((c.received, c.accepted, c.dead_lettered), (events, events, 0));
    Ok(catalog)
}

/// DataFusion over the events as `events`, with the oracle's `orders` view: per order the
/// event with the greatest event time.
async fn oracle(events: &[OrderEvent]) -> anyhow::Result<SessionContext> {
    let int = |name: &str| Field::new(name, DataType::Int64, false);
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    let schema = Arc::new(Schema::new(vec![
        int("order_id"),
        text("status"),
        int("ts"),
        int("created_at"),
        int("customer_id"),
        int("product_id"),
        text("category"),
        int("quantity"),
        int("unit_price_cents"),
    ]));
    let ints = |f: fn(&OrderEvent) -> i64| Arc::new(Int64Array::from_iter_values(events.iter().map(f)));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            ints(|e| e.order_id),
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.status.as_str()))),
            ints(|e| e.ts),
            ints(|e| e.created_at),
            ints(|e| e.customer_id),
            ints(|e| e.product_id),
            Arc::new(StringArray::from_iter_values(
                events.iter().map(|e| e.category.as_str()),
            )),
            ints(|e| e.quantity),
            ints(|e| e.unit_price_cents),
        ],
    )?;
    let ctx = SessionContext::new();
    ctx.register_table("events", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
    ctx.sql(
        "CREATE VIEW orders AS
         SELECT order_id, status, created_at, ts AS updated_at, customer_id, product_id, category,
                quantity, quantity * unit_price_cents AS amount_cents
         FROM (SELECT *, row_number() OVER (PARTITION BY order_id ORDER BY ts DESC) AS version FROM events)
         WHERE version = 1",
    )
    .await?
    .collect()
    .await?;
    Ok(ctx)
}

/// Every cell of the result as JSON, so rows compare with the HTTP API's.
async fn oracle_rows(ctx: &SessionContext, sql: &str) -> anyhow::Result<Value> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let row: Vec<Value> = (0..b.num_columns())
                .map(|c| match b.column(c).data_type() {
                    DataType::Int64 => json!(b.column(c).as_primitive::<Int64Type>().value(r)),
                    _ => json!(b.column(c).as_string::<i32>().value(r)),
                })
                .collect();
            rows.push(Value::Array(row));
        }
    }
    Ok(Value::Array(rows))
}

async fn live(server: &TestServer, sql: &str, min_ticket: Option<u64>) -> anyhow::Result<Value> {
    let mut body = json!({ "sql": sql });
    if let Some(ticket) = min_ticket {
        body["min_ticket"] = json!(ticket);
    }
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/sql", server.addr))
        .timeout(Duration::from_secs(30))
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let answer: Value = response.json().await?;
    anyhow::ensure!(status == 200, "{sql}: {status} {answer}");
    Ok(answer["rows"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_orders_revenue_and_funnel_equal_datafusion_batch_sql_and_join_history() -> anyhow::Result<()> {
    let events: Vec<OrderEvent> = generator()?.events(ORDERS).collect();
    let ctx = oracle(&events).await?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_path_buf();
    let count = events.len() as u64;
    let catalog = tokio::task::spawn_blocking(move || finished_catalog(&data, count)).await??;
    let mut state = ApiState::from_catalog(catalog);
    state.sql = Arc::new(
        state
            .sql
            .as_ref()
            .clone()
            .with_history(HistorySources::new(dir.path().join("history"))),
    );
    let server = TestServer::serve(state).await?;

    let orders = "SELECT order_id, status, CAST(created_at AS BIGINT), CAST(updated_at AS BIGINT), customer_id,
                         product_id, category, quantity, amount_cents FROM orders ORDER BY order_id";
    let expected = oracle_rows(
        &ctx,
        &orders
            .replace("CAST(created_at AS BIGINT)", "created_at")
            .replace("CAST(updated_at AS BIGINT)", "updated_at"),
    )
    .await?;
    assert_eq!(expected.as_array().map(Vec::len), Some(ORDERS as usize));
    assert_eq!(live(&server, orders, None).await?, expected);

    for (table, key) in [
        ("revenue_by_product", "product_id"),
        ("revenue_by_category", "category"),
    ] {
        let sql = format!(
            "SELECT {key}, CAST(window_start AS BIGINT) AS start, CAST(window_end AS BIGINT) - CAST(window_start AS BIGINT),
                    orders, revenue_cents FROM {table} ORDER BY {key}, start"
        );
        let oracle_sql = format!(
            "SELECT {key}, created_at / {HOUR} * {HOUR} AS start, {HOUR}, count(*), sum(amount_cents)
             FROM orders WHERE status <> 'cancelled' GROUP BY {key}, start ORDER BY {key}, start"
        );
        let expected = oracle_rows(&ctx, &oracle_sql).await?;
        assert!(
            expected.as_array().is_some_and(|rows| rows.len() > 30),
            "{table}: {expected}"
        );
        assert_eq!(live(&server, &sql, None).await?, expected, "{table}");
    }

    let funnel = "SELECT status, reached, current FROM status_funnel ORDER BY status";
    let expected = oracle_rows(
        &ctx,
        "SELECT r.status, r.reached, coalesce(c.current, 0)
         FROM (SELECT status, count(DISTINCT order_id) AS reached FROM events GROUP BY status) r
         LEFT JOIN (SELECT status, count(*) AS current FROM orders GROUP BY status) c ON r.status = c.status
         ORDER BY r.status",
    )
    .await?;
    assert_eq!(
        expected.as_array().map(Vec::len),
        Some(5),
        "every stage occurs: {expected}"
    );
    assert_eq!(live(&server, funnel, None).await?, expected);

    // Live ⋈ history: each category's revenue in the newest hour next to what history says
    // about the hours before it.
    let newest = events.iter().map(|e| e.created_at).max().unwrap_or(0) / HOUR * HOUR;
    let join = format!(
        "SELECT r.category, r.revenue_cents, h.placed, h.placed_cents
         FROM revenue_by_category r
         JOIN (SELECT category, count(*) AS placed, sum(quantity * unit_price_cents) AS placed_cents
               FROM history.orders WHERE status = 'created' AND created_at < {newest} GROUP BY category) h
           ON r.category = h.category
         WHERE CAST(r.window_start AS BIGINT) = {newest}
         ORDER BY r.category"
    );
    let expected = oracle_rows(
        &ctx,
        &format!(
            "SELECT r.category, r.revenue_cents, h.placed, h.placed_cents
             FROM (SELECT category, sum(amount_cents) AS revenue_cents FROM orders
                   WHERE status <> 'cancelled' AND created_at >= {newest} GROUP BY category) r
             JOIN (SELECT category, count(*) AS placed, sum(quantity * unit_price_cents) AS placed_cents
                   FROM events WHERE status = 'created' AND created_at < {newest} GROUP BY category) h
               ON r.category = h.category
             ORDER BY r.category"
        ),
    )
    .await?;
    assert!(expected.as_array().is_some_and(|rows| rows.len() >= 3), "{expected}");
    assert_eq!(live(&server, &join, None).await?, expected);
    server.stop().await
}

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z, an hour boundary

fn order(order_id: i64, status: &str, ts: i64, created_at: i64, cents: i64) -> String {
    json!({
        "order_id": order_id, "status": status, "ts": ts, "created_at": created_at,
        "customer_id": 1, "product_id": 9, "category": "toys", "quantity": 2, "unit_price_cents": cents,
    })
    .to_string()
}

async fn ingest(server: &TestServer, lines: &[String]) -> anyhow::Result<Value> {
    let response = reqwest::Client::new()
        .post(format!(
            "http://{}/v1/ingest/{}",
            server.addr,
            order_analytics::ORDERS_STREAM
        ))
        .header("content-type", "application/x-ndjson")
        .timeout(Duration::from_secs(30))
        .body(lines.join("\n"))
        .send()
        .await?;
    let status = response.status().as_u16();
    let answer: Value = response.json().await?;
    anyhow::ensure!(status == 200, "{status} {answer}");
    Ok(answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_late_placements_and_cancellations_correct_their_hour() -> anyhow::Result<()> {
    let run = StartedPipeline::start(|| {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), |p| {
            order_analytics::build(p, &HttpIngestOnly, OrderAnalyticsConfig::default())
        })?)
    })
    .await?;
    let server = TestServer::serve(run.state()?).await?;
    let revenue = "SELECT CAST(window_start AS BIGINT), orders, revenue_cents FROM revenue_by_product
                   WHERE product_id = 9 ORDER BY 1";

    // Two orders in the first hour, one in the second.
    let answer = ingest(
        &server,
        &[
            order(1, "created", T0 + 60_000, T0 + 60_000, 1_000),
            order(2, "created", T0 + 120_000, T0 + 120_000, 2_500),
            order(3, "created", T0 + HOUR + 5_000, T0 + HOUR + 5_000, 300),
        ],
    )
    .await?;
    let ticket = answer["ticket"].as_u64().unwrap_or_default();
    assert_eq!(
        live(&server, revenue, Some(ticket)).await?,
        json!([[T0, 2, 7_000], [T0 + HOUR, 1, 600]])
    );

    // A placement from the first hour arrives after the second hour began; order 2 is
    // cancelled; order 1 ships (status changes, revenue does not); a bad status is refused.
    let answer = ingest(
        &server,
        &[
            order(4, "created", T0 + 3_000_000, T0 + 3_000_000, 100),
            order(2, "cancelled", T0 + HOUR + 9_000, T0 + 120_000, 2_500),
            order(1, "shipped", T0 + HOUR + 10_000, T0 + 60_000, 1_000),
            order(5, "lost", T0 + HOUR, T0 + HOUR, 1),
        ],
    )
    .await?;
    assert_eq!(
        (answer["accepted"].clone(), answer["rejected"].clone()),
        (json!(3), json!(1)),
        "{answer}"
    );
    let reason = answer["errors"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("unknown status \"lost\""), "{answer}");
    let ticket = answer["ticket"].as_u64().unwrap_or_default();
    assert_eq!(
        live(&server, revenue, Some(ticket)).await?,
        json!([[T0, 2, 2_200], [T0 + HOUR, 1, 600]]),
        "order 4 joined the first hour, order 2 left it"
    );
    assert_eq!(
        live(
            &server,
            "SELECT order_id, status FROM orders ORDER BY order_id",
            Some(ticket)
        )
        .await?,
        json!([[1, "shipped"], [2, "cancelled"], [3, "created"], [4, "created"]])
    );
    assert_eq!(
        live(
            &server,
            "SELECT status, reached, current FROM status_funnel ORDER BY status",
            Some(ticket)
        )
        .await?,
        json!([["cancelled", 1, 1], ["created", 4, 2], ["shipped", 1, 1]])
    );
    // A stage older than the order's current one changes nothing.
    let answer = ingest(&server, &[order(1, "confirmed", T0 + 90_000, T0 + 60_000, 1_000)]).await?;
    let ticket = answer["ticket"].as_u64().unwrap_or_default();
    assert_eq!(
        live(&server, "SELECT status FROM orders WHERE order_id = 1", Some(ticket)).await?,
        json!([["shipped"]])
    );
    server.stop().await?;
    run.shutdown().await
}
