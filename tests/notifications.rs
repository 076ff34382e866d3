//! The notifications pipeline end to end: generated delivery logs → `notification_state`,
//! `user_digest` and `delivery_lag`, read over real HTTP and checked against DataFusion
//! batch SQL over the same events; every failed notification in the dead-letter queue; a
//! client following `GET /v1/subscribe/notification_state` sees each state change of
//! events sent over HTTP ingest, duplicates and out-of-order events included.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use tributary::connectors::http::HttpIngestOnly;
use tributary::engine::source::DeadLetterQueue;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::notifications::{
    self, NotificationEvent, NotificationGenerator, NotificationGeneratorConfig, NotificationsConfig,
};
use tributary::queries::ApiState;

use crate::common::{StartedPipeline, TestServer};

const NOTIFICATIONS: u64 = 3_000;

fn generator() -> anyhow::Result<NotificationGenerator> {
    Ok(NotificationGenerator::try_new(NotificationGeneratorConfig {
        users: 40,
        rate: 0,
        // 3,000 notifications over about three and a half days.
        spacing_ms: 100_000,
        notifications: Some(NOTIFICATIONS),
        ..NotificationGeneratorConfig::default()
    })?)
}

fn finished(events: u64) -> anyhow::Result<(Arc<LiveCatalog>, ApiState)> {
    let source = generator()?;
    let dead_letters = Arc::new(DeadLetterQueue::default());
    let dlq = dead_letters.clone();
    let run = Runtime::start_with(RuntimeConfig::with_workers(2), dead_letters, move |p| {
        notifications::build(p, &source, NotificationsConfig::default(), &dlq)
    })?;
    let catalog = run.catalog();
    let state = ApiState::for_pipeline(&run);
    let counters = run.counters();
    run.join()?;
    let c = counters.snapshot()[notifications::EVENTS_STREAM];
    assert_eq!((c.received, c.accepted, c.dead_lettered), (events, events, 0));
    Ok((catalog, state))
}

/// DataFusion over the events, with the oracle's `states` view: the state machine written
/// as aggregates over each notification's well-formed lifecycle.
async fn oracle(events: &[NotificationEvent]) -> anyhow::Result<SessionContext> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("notification_id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("channel", DataType::Utf8, false),
        Field::new("step", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
    ]));
    let ints = |f: fn(&NotificationEvent) -> i64| Arc::new(Int64Array::from_iter_values(events.iter().map(f)));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            ints(|e| e.notification_id),
            ints(|e| e.user_id),
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.channel.as_str()))),
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.step.as_str()))),
            ints(|e| e.ts),
        ],
    )?;
    let ctx = SessionContext::new();
    ctx.register_table("events", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
    ctx.sql(
        "CREATE VIEW states AS
         SELECT notification_id, user_id, channel,
                CASE WHEN delivered > 0 THEN 'delivered'
                     WHEN bounced >= 3 THEN 'failed'
                     WHEN sent > bounced THEN 'sent'
                     ELSE 'pending' END AS state,
                sent AS attempts, greatest(sent - 1, 0) AS retries, queued_at, updated_at
         FROM (SELECT notification_id, min(user_id) AS user_id, min(channel) AS channel,
                      sum(CASE WHEN step = 'sent' THEN 1 ELSE 0 END) AS sent,
                      sum(CASE WHEN step = 'bounced' THEN 1 ELSE 0 END) AS bounced,
                      sum(CASE WHEN step = 'delivered' THEN 1 ELSE 0 END) AS delivered,
                      min(ts) AS queued_at, max(ts) AS updated_at
               FROM events GROUP BY notification_id)",
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
                    DataType::Float64 => json!(b.column(c).as_primitive::<Float64Type>().value(r)),
                    _ => json!(b.column(c).as_string::<i32>().value(r)),
                })
                .collect();
            rows.push(Value::Array(row));
        }
    }
    Ok(Value::Array(rows))
}

async fn live(server: &TestServer, sql: &str) -> anyhow::Result<Value> {
    let (status, body) = server.sql(sql).await?;
    anyhow::ensure!(status == 200, "{sql}: {status} {body}");
    Ok(body["rows"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_states_digests_and_lag_equal_datafusion_batch_sql_and_failures_are_dead_lettered()
-> anyhow::Result<()> {
    let events: Vec<NotificationEvent> = generator()?.events(NOTIFICATIONS).collect();
    let ctx = oracle(&events).await?;
    let count = events.len() as u64;
    let (_, state) = tokio::task::spawn_blocking(move || finished(count)).await??;
    let server = TestServer::serve(state).await?;

    let states = live(
        &server,
        "SELECT notification_id, user_id, channel, state, attempts, retries,
                CAST(queued_at AS BIGINT), CAST(updated_at AS BIGINT)
         FROM notification_state ORDER BY notification_id",
    )
    .await?;
    let expected = oracle_rows(&ctx, "SELECT * FROM states ORDER BY notification_id").await?;
    assert_eq!(expected.as_array().map(Vec::len), Some(NOTIFICATIONS as usize));
    assert_eq!(states, expected);

    let by_state = oracle_rows(&ctx, "SELECT state, count(*) FROM states GROUP BY state ORDER BY state").await?;
    assert_eq!(
        by_state.as_array().map(Vec::len),
        Some(4),
        "every state occurs: {by_state}"
    );

    let digest = live(
        &server,
        "SELECT user_id, CAST(day AS BIGINT) AS day, notifications, delivered, failed, open, retries
         FROM user_digest ORDER BY user_id, day",
    )
    .await?;
    let expected = oracle_rows(
        &ctx,
        "SELECT user_id, queued_at / 86400000 * 86400000 AS day, count(*),
                sum(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END),
                sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END),
                sum(CASE WHEN state IN ('pending', 'sent') THEN 1 ELSE 0 END),
                sum(retries)
         FROM states GROUP BY user_id, day ORDER BY user_id, day",
    )
    .await?;
    assert!(
        expected.as_array().is_some_and(|d| d.len() > 40 * 3),
        "several days per user"
    );
    assert_eq!(digest, expected);

    let lag = live(
        &server,
        "SELECT channel, delivered, avg_ms, max_ms FROM delivery_lag ORDER BY channel",
    )
    .await?;
    let expected = oracle_rows(
        &ctx,
        "SELECT channel, count(*), avg(CAST(updated_at - queued_at AS DOUBLE)), max(updated_at - queued_at)
         FROM states WHERE state = 'delivered' GROUP BY channel ORDER BY channel",
    )
    .await?;
    assert_eq!(lag.as_array().map(Vec::len), Some(3));
    for (l, o) in lag
        .as_array()
        .into_iter()
        .flatten()
        .zip(expected.as_array().into_iter().flatten())
    {
        assert_eq!((&l[0], &l[1], &l[3]), (&o[0], &o[1], &o[3]));
        let (a, b) = (l[2].as_f64().unwrap_or(f64::NAN), o[2].as_f64().unwrap_or(0.0));
        assert!((a - b).abs() <= 1e-9 * b.abs(), "avg {a} vs {b}");
    }

    let failed = oracle_rows(
        &ctx,
        "SELECT notification_id FROM states WHERE state = 'failed' ORDER BY 1",
    )
    .await?;
    let letters = live(
        &server,
        "SELECT CAST(json_id AS BIGINT) FROM (
             SELECT regexp_match(reason, 'notification ([0-9]+) ')[1] AS json_id
             FROM system.dlq WHERE kind = 'delivery' AND stream = 'notification_events')
         ORDER BY 1",
    )
    .await?;
    assert!(failed.as_array().is_some_and(|f| f.len() > 50), "{failed}");
    assert_eq!(letters, failed, "one dead letter per failed notification");
    server.stop().await
}

fn event(id: i64, step: &str, ts: i64, detail: &str) -> String {
    json!({"notification_id": id, "user_id": 5, "channel": "sms", "step": step, "ts": ts, "detail": detail}).to_string()
}

const T0: i64 = 1_767_225_600_000;

/// A subscriber to `GET /v1/subscribe/{projection}` over SSE.
struct Subscriber {
    response: reqwest::Response,
    buffer: String,
}

impl Subscriber {
    async fn open(server: &TestServer, projection: &str) -> anyhow::Result<Self> {
        let response = reqwest::Client::new()
            .get(format!("http://{}/v1/subscribe/{projection}", server.addr))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "{}", response.status());
        Ok(Self {
            response,
            buffer: String::new(),
        })
    }

    /// The next message that is not a heartbeat.
    async fn next(&mut self) -> anyhow::Result<Value> {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let data: String = block.lines().filter_map(|l| l.strip_prefix("data:")).collect();
                    let message: Value = serde_json::from_str(data.trim())?;
                    if message["type"] != "heartbeat" {
                        return Ok(message);
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("stream ended"))?;
                self.buffer.push_str(std::str::from_utf8(&chunk)?);
            }
        })
        .await
        .map_err(|_| anyhow::anyhow!("no message within 30 s"))?
    }

    /// Applies change messages to `rows` (`(state, attempts)` of each row) until they equal
    /// `expected`; fails on a retraction of a row that is not there.
    async fn until(&mut self, rows: &mut Vec<(String, i64)>, expected: &[(&str, i64)]) -> anyhow::Result<()> {
        let expected: Vec<(String, i64)> = expected.iter().map(|(s, a)| (s.to_string(), *a)).collect();
        while *rows != expected {
            let message = self.next().await?;
            anyhow::ensure!(message["type"] == "change", "{message}");
            for c in message["changes"].as_array().into_iter().flatten() {
                let row = (
                    c["row"][3].as_str().unwrap_or_default().to_string(),
                    c["row"][4].as_i64().unwrap_or(-1),
                );
                match c["diff"].as_i64() {
                    Some(1) => rows.push(row),
                    Some(-1) => {
                        let at = rows.iter().position(|r| *r == row);
                        let at = at.ok_or_else(|| anyhow::anyhow!("retracted {row:?}, not in {rows:?}"))?;
                        rows.remove(at);
                    }
                    _ => anyhow::bail!("unexpected change {c}"),
                }
            }
        }
        Ok(())
    }
}

/// Ingests NDJSON `lines`; returns the ticket.
async fn ingest(server: &TestServer, lines: &[String]) -> anyhow::Result<u64> {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "http://{}/v1/ingest/{}",
            server.addr,
            notifications::EVENTS_STREAM
        ))
        .header("content-type", "application/x-ndjson")
        .timeout(Duration::from_secs(30))
        .body(lines.join("\n"))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(answer["accepted"] == json!(lines.len()), "{answer}");
    answer["ticket"]
        .as_u64()
        .ok_or_else(|| anyhow::anyhow!("no ticket: {answer}"))
}

/// `sql`'s rows once the answer reflects `ticket`.
async fn live_at(server: &TestServer, sql: &str, ticket: u64) -> anyhow::Result<Value> {
    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/sql", server.addr))
        .timeout(Duration::from_secs(30))
        .json(&json!({"sql": sql, "min_ticket": ticket}))
        .send()
        .await?;
    let status = response.status().as_u16();
    let body: Value = response.json().await?;
    anyhow::ensure!(status == 200, "{sql}: {status} {body}");
    Ok(body["rows"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_follows_each_state_change_and_the_final_bounce_is_dead_lettered() -> anyhow::Result<()> {
    let dead_letters = Arc::new(DeadLetterQueue::default());
    let run = StartedPipeline::start(move || {
        let dlq = dead_letters.clone();
        Ok(Runtime::start_with(
            RuntimeConfig::with_workers(2),
            dead_letters,
            move |p| notifications::build(p, &HttpIngestOnly, NotificationsConfig::default(), &dlq),
        )?)
    })
    .await?;
    let server = TestServer::serve(run.state()?).await?;
    let mut feed = Subscriber::open(&server, notifications::NOTIFICATION_STATE).await?;
    let snapshot = feed.next().await?;
    assert_eq!(
        (snapshot["type"].clone(), snapshot["rows"].clone()),
        (json!("snapshot"), json!([]))
    );

    let mut rows = Vec::new();
    ingest(&server, &[event(1, "queued", T0, "")]).await?;
    feed.until(&mut rows, &[("pending", 0)]).await?;
    // Sent twice (an at-least-once redelivery): one attempt.
    ingest(
        &server,
        &[event(1, "sent", T0 + 100, ""), event(1, "sent", T0 + 100, "")],
    )
    .await?;
    feed.until(&mut rows, &[("sent", 1)]).await?;
    // A bounce with attempts left is a retry.
    ingest(&server, &[event(1, "bounced", T0 + 500, "no such number")]).await?;
    feed.until(&mut rows, &[("pending", 1)]).await?;
    // Attempts 2 and 3 bounce; the outcome of attempt 3 arrives before its send.
    ingest(
        &server,
        &[
            event(1, "sent", T0 + 4_100, ""),
            event(1, "bounced", T0 + 5_000, "no such number"),
            event(1, "bounced", T0 + 9_000, "no such number"),
        ],
    )
    .await?;
    feed.until(&mut rows, &[("pending", 2)]).await?;
    ingest(&server, &[event(1, "sent", T0 + 8_100, "")]).await?;
    feed.until(&mut rows, &[("failed", 3)]).await?;
    // A delivery report after the final state changes nothing.
    let ticket = ingest(&server, &[event(1, "delivered", T0 + 9_500, "")]).await?;
    let state = live_at(
        &server,
        "SELECT state, attempts, retries FROM notification_state",
        ticket,
    )
    .await?;
    let dlq = live(&server, "SELECT kind, reason FROM system.dlq").await?;
    assert_eq!(state, json!([["failed", 3, 2]]));
    assert_eq!(dlq[0][0], json!("delivery"), "{dlq}");
    assert!(
        dlq[0][1]
            .as_str()
            .is_some_and(|r| r.contains("notification 1 ") && r.contains("no such number")),
        "{dlq}"
    );
    assert_eq!(dlq.as_array().map(Vec::len), Some(1), "{dlq}");
    drop(feed);
    server.stop().await?;
    run.shutdown().await
}
