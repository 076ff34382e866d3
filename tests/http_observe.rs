//! Observability and the rest of access control over real sockets: `/metrics`, `/readyz`
//! (flipping with a reader's connectivity), `system.sources`, the rate limit, the audit log
//! (file and `system.audit`) and tokens and secrets kept out of the logs.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tributary::connectors::generator::SensorReading;
use tributary::engine::source::{Source, SourceOutput, SourceReader, SourceStatus, WorkerInfo};
use tributary::engine::{EngineError, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::ApiConfig;
use tributary::queries::audit::AuditLog;
use tributary::queries::http::RateLimitConfig;

use crate::common::{Answer, StartedPipeline, TestServer, call};
use crate::http_auth::{SECRET, claims, hs256, hs256_auth, serve_ingest_only};

const NDJSON: &str = "application/x-ndjson";

async fn ingest(server: &TestServer, token: Option<&str>, body: &str) -> anyhow::Result<Answer> {
    let auth = token.map(|t| format!("Bearer {t}"));
    call(
        server.addr,
        "POST",
        "/v1/ingest/readings",
        auth.as_deref(),
        Some((NDJSON, body.as_bytes().to_vec())),
    )
    .await
}

async fn sql(server: &TestServer, token: Option<&str>, sql: &str) -> anyhow::Result<Answer> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let body = json!({ "sql": sql }).to_string().into_bytes();
    call(
        server.addr,
        "POST",
        "/v1/sql",
        auth.as_deref(),
        Some(("application/json", body)),
    )
    .await
}

/// The value of the sample whose line starts with `series` (name and labels), if any.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.strip_prefix(series).is_some_and(|rest| rest.starts_with(' ')))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_ingest_and_show_latency_and_frontiers() -> anyhow::Result<()> {
    let (run, server) = serve_ingest_only(ApiConfig::default()).await?;
    let stream = r#"{stream="readings",source="http ingest only"}"#;
    let addr = server.addr;
    let scrape = move || async move {
        let answer = call(addr, "GET", "/metrics", None, None).await?;
        anyhow::ensure!(answer.status == 200, "{}", answer.text);
        anyhow::Ok(answer)
    };
    let before = scrape().await?;
    assert!(
        before.header("content-type").starts_with("text/plain; version=0.0.4"),
        "{}",
        before.header("content-type")
    );
    let count = |text: &str, name: &str| sample(text, &format!("tributary_events_{name}_total{stream}"));
    let received_before = count(&before.text, "received").unwrap_or(0.0);

    let answer = ingest(
        &server,
        None,
        "{\"sensor_id\": 1, \"ts\": 1767225600000, \"value\": 1.5}\n{\"sensor_id\": 2, \"ts\": 1767225600000, \"value\": 2.5}\n{\"sensor_id\": \"x\"}",
    )
    .await?;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = sql(&server, None, "SELECT count(*) FROM sensor_stats").await?;
    assert_eq!(answer.status, 200, "{}", answer.text);

    let after = scrape().await?.text;
    assert_eq!(count(&after, "received"), Some(received_before + 3.0), "{after}");
    assert_eq!(count(&after, "accepted"), Some(2.0), "{after}");
    assert_eq!(count(&after, "dead_lettered"), Some(1.0), "{after}");
    assert_eq!(count(&after, "late"), Some(0.0), "{after}");
    assert!(
        after.contains("# TYPE tributary_http_request_duration_seconds histogram"),
        "{after}"
    );
    assert_eq!(
        sample(
            &after,
            r#"tributary_http_request_duration_seconds_count{route="/v1/sql",method="POST"}"#
        ),
        Some(1.0),
        "{after}"
    );
    assert!(
        after.contains(r#"tributary_http_request_duration_seconds_bucket{le="+Inf",route="/v1/sql",method="POST"} 1"#)
            || after.contains(
                r#"tributary_http_request_duration_seconds_bucket{route="/v1/sql",method="POST",le="+Inf"} 1"#
            ),
        "{after}"
    );
    for projection in ["sensor_stats", "alerts"] {
        let labels = format!("{{projection=\"{projection}\"}}");
        assert!(
            sample(&after, &format!("tributary_projection_frontier{labels}")).is_some(),
            "{projection}: {after}"
        );
        assert!(
            sample(&after, &format!("tributary_projection_frontier_delay_seconds{labels}")).is_some_and(|s| s >= 0.0),
            "{projection}: {after}"
        );
        assert!(
            sample(&after, &format!("tributary_projection_epochs_behind{labels}")).is_some(),
            "{projection}: {after}"
        );
    }
    assert_eq!(sample(&after, "tributary_ready"), Some(1.0), "{after}");
    // No action sink in this pipeline: the delivery families are there, at zero.
    assert_eq!(
        sample(&after, r#"tributary_action_deliveries_total{outcome="delivered"}"#),
        Some(0.0),
        "{after}"
    );
    assert_eq!(sample(&after, "tributary_action_queue_depth"), Some(0.0), "{after}");
    server.stop().await?;
    run.shutdown().await
}

/// A source whose readers report the connection `connected` says.
struct Flaky {
    connected: Arc<AtomicBool>,
}

struct FlakyReader {
    connected: Arc<AtomicBool>,
}

impl Source<SensorReading> for Flaky {
    fn describe(&self) -> String {
        "flaky".to_string()
    }

    fn open(&self, _worker: WorkerInfo) -> Result<Box<dyn SourceReader<SensorReading>>, EngineError> {
        Ok(Box::new(FlakyReader {
            connected: self.connected.clone(),
        }))
    }
}

impl SourceReader<SensorReading> for FlakyReader {
    fn poll(&mut self, out: &mut SourceOutput<'_, SensorReading>, _budget: usize) -> SourceStatus {
        out.report_connected(self.connected.load(Ordering::SeqCst));
        out.report_lag(3);
        SourceStatus::Idle
    }
}

/// Polls `/readyz` until its status is `want` (at most 30 s) and returns the last answer.
async fn readyz_until(server: &TestServer, want: u16) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(server.addr, "GET", "/readyz", None, None).await?;
        if answer.status == want {
            return answer.json();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "/readyz never answered {want}: {}",
            answer.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_and_system_sources_follow_the_readers_connectivity() -> anyhow::Result<()> {
    let connected = Arc::new(AtomicBool::new(true));
    let source = Flaky {
        connected: connected.clone(),
    };
    let run = StartedPipeline::start(move || {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), move |p| {
            iot::build(p, &source)
        })?)
    })
    .await?;
    let server = TestServer::serve(run.state()?).await?;

    let ready = readyz_until(&server, 200).await?;
    assert_eq!(ready["ready"], json!(true), "{ready}");
    assert_eq!(
        ready["sources"],
        json!([{"stream": "readings", "source": "flaky", "connected": true}])
    );

    connected.store(false, Ordering::SeqCst);
    let unready = readyz_until(&server, 503).await?;
    assert_eq!(unready["ready"], json!(false), "{unready}");
    assert_eq!(unready["disconnected"], json!(["readings"]), "{unready}");
    let answer = sql(
        &server,
        None,
        "SELECT stream, source, connected, received, lag FROM system.sources",
    )
    .await?;
    assert_eq!(
        answer.json()?["rows"],
        json!([["readings", "flaky", false, 0, 6]]),
        "{}",
        answer.text
    );
    let metrics = call(server.addr, "GET", "/metrics", None, None).await?.text;
    assert_eq!(
        sample(
            &metrics,
            r#"tributary_source_connected{stream="readings",source="flaky"}"#
        ),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "tributary_ready"), Some(0.0), "{metrics}");
    // Liveness is not readiness.
    assert_eq!(call(server.addr, "GET", "/healthz", None, None).await?.status, 200);

    connected.store(true, Ordering::SeqCst);
    readyz_until(&server, 200).await?;
    let answer = sql(&server, None, "SELECT connected, rate_per_s >= 0 FROM system.sources").await?;
    assert_eq!(answer.json()?["rows"], json!([[true, true]]), "{}", answer.text);
    server.stop().await?;
    run.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_rate_gets_429_with_retry_after_and_others_do_not() -> anyhow::Result<()> {
    let (run, server) = serve_ingest_only(ApiConfig {
        auth: hs256_auth(),
        rate_limit: RateLimitConfig {
            requests_per_second: 1,
            burst: 2,
            ..RateLimitConfig::default()
        },
        ..ApiConfig::default()
    })
    .await?;
    let carol = hs256(SECRET, &claims("carol", "read"))?;
    let mut limited = None;
    for _ in 0..20 {
        let answer = sql(&server, Some(&carol), "SELECT 1").await?;
        if answer.status == 429 {
            limited = Some(answer);
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let Some(limited) = limited else {
        anyhow::bail!("20 requests at a limit of 1/s with bursts of 2 were never limited");
    };
    let retry_after: u64 = limited.header("retry-after").parse()?;
    assert!(retry_after >= 1, "{retry_after}");
    assert!(
        limited.json()?["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rate limit"),
        "{}",
        limited.text
    );
    // Another subject from the same address has its own bucket.
    let dave = hs256(SECRET, &claims("dave", "read"))?;
    assert_eq!(sql(&server, Some(&dave), "SELECT 1").await?.status, 200);
    server.stop().await?;
    run.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_and_admin_calls_are_audited_in_the_file_and_system_audit() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let audit = Arc::new(AuditLog::open(dir.path(), AuditLog::DEFAULT_RECENT_CAPACITY)?);
    let run = StartedPipeline::start(|| {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), |p| {
            iot::build(p, &tributary::connectors::http::HttpIngestOnly)
        })?)
    })
    .await?;
    let state = run
        .state()?
        .with_config(ApiConfig {
            auth: hs256_auth(),
            ..ApiConfig::default()
        })?
        .with_audit(audit);
    let server = TestServer::serve(state).await?;
    let started = crate::http_auth::now() * 1000;

    let alice = hs256(SECRET, &claims("alice", "ingest read"))?;
    let bob = hs256(SECRET, &claims("bob", "read"))?;
    let ops = hs256(SECRET, &claims("ops", "admin"))?;
    let reading = r#"{"sensor_id": 1, "ts": 1767225600000, "value": 1.5}"#;
    assert_eq!(ingest(&server, Some(&alice), reading).await?.status, 200);
    assert_eq!(ingest(&server, Some(&bob), reading).await?.status, 403);
    assert_eq!(ingest(&server, None, reading).await?.status, 401);
    let metrics = call(server.addr, "GET", "/metrics", Some(&format!("Bearer {ops}")), None).await?;
    assert_eq!(metrics.status, 200);
    // Reads are not audited.
    assert_eq!(sql(&server, Some(&bob), "SELECT 1").await?.status, 200);

    let answer = sql(
        &server,
        Some(&alice),
        // No ORDER BY: entries can share a millisecond; the table keeps their order.
        "SELECT who, client, method, path, status, outcome FROM system.audit",
    )
    .await?;
    let expected = json!([
        ["alice", "127.0.0.1", "POST", "/v1/ingest/readings", 200, "ok"],
        ["bob", "127.0.0.1", "POST", "/v1/ingest/readings", 403, "forbidden"],
        [
            "unauthenticated",
            "127.0.0.1",
            "POST",
            "/v1/ingest/readings",
            401,
            "unauthorized"
        ],
        ["ops", "127.0.0.1", "GET", "/metrics", 200, "ok"]
    ]);
    assert_eq!(answer.json()?["rows"], expected, "{}", answer.text);

    let text = std::fs::read_to_string(dir.path().join(AuditLog::FILE_NAME))?;
    let lines: Vec<Value> = text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let from_file: Vec<Value> = lines
        .iter()
        .map(|e| json!([e["who"], e["client"], e["method"], e["path"], e["status"], e["outcome"]]))
        .collect();
    assert_eq!(Value::Array(from_file), expected, "{text}");
    let finished = crate::http_auth::now() * 1000 + 1000;
    for line in &lines {
        let at = line["at_ms"].as_i64().unwrap_or_default();
        assert!((started - 1000..=finished).contains(&at), "{line}");
    }
    for token in [&alice, &bob, &ops] {
        assert!(!text.contains(token.as_str()), "the audit file holds a token");
    }
    server.stop().await?;
    run.shutdown().await
}

/// Collects everything the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One thread (current-thread runtime) so the thread-local subscriber sees the server.
#[tokio::test(flavor = "current_thread")]
async fn tokens_and_secrets_never_reach_the_logs() -> anyhow::Result<()> {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .json()
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let config = ApiConfig {
        auth: hs256_auth(),
        ..ApiConfig::default()
    };
    tracing::info!(?config, "starting with this config");
    let state = tributary::queries::ApiState::from_catalog(Arc::new(tributary::engine::LiveCatalog::new(1)))
        .with_config(config)?;
    tracing::info!(?state, "the whole API state");
    let server = TestServer::serve(state).await?;
    let good = hs256(SECRET, &claims("alice", "read"))?;
    let forged = hs256("another-secret-0123456789abcdef-012345", &claims("alice", "read"))?;
    let mut expired_claims = claims("alice", "read");
    expired_claims["exp"] = json!(crate::http_auth::now() - 3600);
    let expired = hs256(SECRET, &expired_claims)?;
    let scopeless = hs256(SECRET, &claims("alice", "ingest"))?;
    assert_eq!(sql(&server, Some(&good), "SELECT 1").await?.status, 200);
    for token in [&forged, &expired, &scopeless] {
        let status = sql(&server, Some(token), "SELECT 1").await?.status;
        assert!(status == 401 || status == 403, "{status}");
    }
    let garbage = call(server.addr, "GET", "/metrics", Some("Bearer garbage-token-text"), None).await?;
    assert_eq!(garbage.status, 401);
    server.stop().await?;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned();
    assert!(
        logs.contains("request not authenticated"),
        "refusals are logged: {logs}"
    );
    assert!(logs.contains("[redacted]"), "{logs}");
    assert!(!logs.contains(SECRET), "the secret is in the logs: {logs}");
    for token in [&good, &forged, &expired, &scopeless] {
        assert!(!logs.contains(token.as_str()), "a token is in the logs: {logs}");
        // Not even its signature part.
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(!logs.contains(signature), "a token signature is in the logs");
    }
    assert!(!logs.contains("garbage-token-text"), "{logs}");
    Ok(())
}
