//! Webhook delivery against a real axum server on 127.0.0.1:0 that answers from a script:
//! failures then success, 429 (with `Retry-After`), 500, 404, a hang past the (scaled-down)
//! timeout; and against a port nothing listens on. Schedules are milliseconds; the tests
//! assert on what the server saw (calls, keys, order, minimum gaps) and on the delivery log
//! and dead-letter queue, never on how long anything took at most.

mod tls;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tributary_engine::delivery::{
    ActionRecord, ActionSink, DeliveryCounters, DeliveryLog, DeliveryOutcome, DeliveryRecord,
};
use tributary_engine::source::{DeadLetter, DeadLetterQueue, RejectKind, SourcePosition};

use super::{BreakerConfig, WebhookConfig, WebhookSink};
use crate::actions::DeliveryContext;

/// What the server answers to one call.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    TooManyRequests {
        retry_after_s: u64,
    },
    /// Sleeps 5 s before answering 200 (past any timeout the tests set).
    Hang,
}

/// One call the server received.
#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    key: Option<String>,
    body: serde_json::Value,
}

#[derive(Debug, Default)]
struct Script {
    replies: VecDeque<Reply>,
    then: Option<Reply>,
    calls: Vec<Call>,
}

#[derive(Clone)]
struct Hook(Arc<Mutex<Script>>);

impl Hook {
    fn calls(&self) -> Vec<Call> {
        self.0.lock().map(|s| s.calls.clone()).unwrap_or_default()
    }
}

/// A webhook server on a free loopback port, on its own runtime (dropped with it).
struct Server {
    url: String,
    hook: Hook,
    _runtime: tokio::runtime::Runtime,
}

/// Serves `replies` in order, then `then` for every further call.
fn serve(replies: &[Reply], then: Reply) -> anyhow::Result<Server> {
    let hook = Hook(Arc::new(Mutex::new(Script {
        replies: replies.iter().copied().collect(),
        then: Some(then),
        calls: Vec::new(),
    })));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(handle))
        .with_state(hook.clone());
    runtime.spawn(async move { axum::serve(listener, app).await });
    Ok(Server {
        url: format!("http://{addr}/hook"),
        hook,
        _runtime: runtime,
    })
}

async fn handle(State(hook): State<Hook>, headers: HeaderMap, body: String) -> Response {
    let reply = {
        let Ok(mut script) = hook.0.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        script.calls.push(Call {
            at: Instant::now(),
            key: headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        });
        let then = script.then;
        script.replies.pop_front().or(then).unwrap_or(Reply::Status(200))
    };
    match reply {
        Reply::Status(code) => StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
        Reply::TooManyRequests { retry_after_s } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_s.to_string())],
        )
            .into_response(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        }
    }
}

/// A URL on a port nothing listens on.
fn dead_url() -> anyhow::Result<String> {
    let addr: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    Ok(format!("http://{addr}/hook"))
}

struct Harness {
    log: Arc<DeliveryLog>,
    dlq: Arc<DeadLetterQueue>,
}

impl Harness {
    fn new() -> Self {
        Self {
            log: Arc::new(DeliveryLog::default()),
            dlq: Arc::new(DeadLetterQueue::in_memory(100)),
        }
    }

    fn sink(&self, config: WebhookConfig) -> anyhow::Result<WebhookSink> {
        let context = DeliveryContext::new(self.log.clone(), self.dlq.clone(), "actions");
        Ok(WebhookSink::try_new(config, context)?)
    }

    fn counters(&self) -> DeliveryCounters {
        let c = self.log.counters();
        assert_eq!(
            c.enqueued,
            c.delivered + c.dead_lettered + c.queued + c.in_flight,
            "{c:?}"
        );
        c
    }

    fn record(&self, id: &str) -> anyhow::Result<DeliveryRecord> {
        self.log
            .recent()
            .into_iter()
            .find(|r| r.action_id == id)
            .ok_or_else(|| anyhow::anyhow!("no delivery record for {id}"))
    }

    fn letter(&self, id: &str) -> anyhow::Result<DeadLetter> {
        let position = SourcePosition::Action { id: id.to_string() };
        self.dlq
            .recent()
            .into_iter()
            .find(|l| l.position == position)
            .ok_or_else(|| anyhow::anyhow!("no dead letter for {id}"))
    }
}

/// Waits (at most 20 s) until the sink has finished everything it accepted.
fn wait_idle(sink: &WebhookSink) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.outstanding() > 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} actions still outstanding",
            sink.outstanding()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Waits (at most 20 s) until the server has seen `n` calls.
fn wait_calls(server: &Server, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.hook.calls().len() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the server saw {} calls",
            server.hook.calls().len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn action(seq: u64) -> ActionRecord {
    ActionRecord::for_trigger(
        "sensor_anomaly",
        seq,
        seq.to_string(),
        "FIRING",
        json!({"rule": "sensor_anomaly", "sensor_id": seq, "state": "FIRING", "seq": seq}),
    )
}

/// Scaled-down settings: millisecond waits, no jitter, a breaker that never opens.
fn config(url: &str, delays_ms: &[u64]) -> WebhookConfig {
    WebhookConfig {
        timeout_ms: 2_000,
        retry_delays_ms: delays_ms.to_vec(),
        jitter: 0.0,
        breaker: BreakerConfig {
            failure_threshold: 1_000,
            cool_down_ms: 10,
        },
        ..WebhookConfig::new(url)
    }
}

#[test]
fn failures_are_retried_on_schedule_with_one_idempotency_key_then_delivered() -> anyhow::Result<()> {
    let server = serve(
        &[
            Reply::Status(500),
            Reply::TooManyRequests { retry_after_s: 0 },
            Reply::Status(503),
        ],
        Reply::Status(200),
    )?;
    let h = Harness::new();
    let sink = h.sink(config(&server.url, &[20, 40, 80, 160]))?;
    sink.submit(action(7));
    wait_idle(&sink)?;

    let calls = server.hook.calls();
    assert_eq!(calls.len(), 4, "three failures, then the success");
    assert!(calls.iter().all(|c| c.key.as_deref() == Some("sensor_anomaly:7")));
    assert!(calls.iter().all(|c| c.body == action(7).payload));
    for (i, (pair, wait)) in calls.windows(2).zip([20u64, 40, 80]).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(
            gap >= Duration::from_millis(wait),
            "retry {i} came after {gap:?}, scheduled {wait} ms"
        );
    }
    let record = h.record("sensor_anomaly:7")?;
    assert_eq!(
        (
            record.outcome,
            record.attempts,
            record.http_status,
            record.error.as_deref()
        ),
        (DeliveryOutcome::Delivered, 4, Some(200), None)
    );
    assert_eq!(
        (record.sink.as_str(), record.endpoint.as_str()),
        ("webhook", server.url.as_str())
    );
    assert!(record.finished_at_ms >= record.enqueued_at_ms);
    let c = h.counters();
    assert_eq!((c.enqueued, c.delivered, c.dead_lettered, c.attempts), (1, 1, 0, 4));
    assert!(h.dlq.recent().is_empty());
    Ok(())
}

#[test]
fn each_action_has_its_own_idempotency_key() -> anyhow::Result<()> {
    let server = serve(&[], Reply::Status(204))?;
    let h = Harness::new();
    let sink = h.sink(config(&server.url, &[10]))?;
    for seq in 0..5 {
        sink.submit(action(seq));
    }
    wait_idle(&sink)?;
    let mut keys: Vec<String> = server.hook.calls().into_iter().filter_map(|c| c.key).collect();
    keys.sort();
    let expected: Vec<String> = (0..5).map(|s| format!("sensor_anomaly:{s}")).collect();
    assert_eq!(keys, expected);
    let c = h.counters();
    assert_eq!((c.enqueued, c.delivered, c.attempts), (5, 5, 5));
    Ok(())
}

#[test]
fn a_client_error_is_dead_lettered_at_once_with_the_reason() -> anyhow::Result<()> {
    let server = serve(&[], Reply::Status(404))?;
    let h = Harness::new();
    let sink = h.sink(config(&server.url, &[10, 10]))?;
    sink.submit(action(1));
    wait_idle(&sink)?;
    assert_eq!(server.hook.calls().len(), 1, "a 4xx is not retried");
    let record = h.record("sensor_anomaly:1")?;
    assert_eq!(
        (record.outcome, record.attempts, record.http_status),
        (DeliveryOutcome::DeadLettered, 1, Some(404))
    );
    let letter = h.letter("sensor_anomaly:1")?;
    assert_eq!((letter.stream.as_str(), letter.kind), ("actions", RejectKind::Delivery));
    assert!(
        letter.reason.contains("HTTP 404") && letter.reason.contains("retrying cannot help"),
        "{}",
        letter.reason
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&letter.raw)?,
        action(1).payload
    );
    let c = h.counters();
    assert_eq!((c.enqueued, c.delivered, c.dead_lettered), (1, 0, 1));
    Ok(())
}

#[test]
fn retry_after_on_429_stretches_the_wait() -> anyhow::Result<()> {
    let server = serve(&[Reply::TooManyRequests { retry_after_s: 1 }], Reply::Status(200))?;
    let h = Harness::new();
    let sink = h.sink(config(&server.url, &[1]))?;
    sink.submit(action(2));
    wait_idle(&sink)?;
    let calls = server.hook.calls();
    assert_eq!(calls.len(), 2);
    let gap = calls[1].at.duration_since(calls[0].at);
    assert!(gap >= Duration::from_secs(1), "Retry-After: 1 was honoured: {gap:?}");
    assert_eq!(h.record("sensor_anomaly:2")?.outcome, DeliveryOutcome::Delivered);
    Ok(())
}

#[test]
fn a_hanging_endpoint_times_out_and_the_exhausted_action_is_dead_lettered() -> anyhow::Result<()> {
    let server = serve(&[], Reply::Hang)?;
    let h = Harness::new();
    let sink = h.sink(WebhookConfig {
        timeout_ms: 50,
        ..config(&server.url, &[10, 10])
    })?;
    sink.submit(action(3));
    wait_idle(&sink)?;
    assert_eq!(server.hook.calls().len(), 3);
    let record = h.record("sensor_anomaly:3")?;
    assert_eq!(
        (record.outcome, record.attempts, record.http_status),
        (DeliveryOutcome::DeadLettered, 3, None)
    );
    assert_eq!(
        record.error.as_deref(),
        Some("retries exhausted; last error: timed out after 50 ms")
    );
    let letter = h.letter("sensor_anomaly:3")?;
    assert!(letter.reason.contains("after 3 attempt(s)"), "{}", letter.reason);
    let c = h.counters();
    assert_eq!((c.enqueued, c.dead_lettered, c.attempts), (1, 1, 3));
    Ok(())
}

#[test]
fn a_dead_endpoint_is_retried_then_dead_lettered() -> anyhow::Result<()> {
    let h = Harness::new();
    let url = dead_url()?;
    let sink = h.sink(config(&url, &[5, 5]))?;
    sink.submit(action(4));
    sink.submit(action(5));
    wait_idle(&sink)?;
    for id in ["sensor_anomaly:4", "sensor_anomaly:5"] {
        let record = h.record(id)?;
        assert_eq!((record.outcome, record.attempts), (DeliveryOutcome::DeadLettered, 3));
        let error = record.error.unwrap_or_default();
        assert!(
            error.starts_with("retries exhausted; last error: cannot connect"),
            "{error}"
        );
        h.letter(id)?;
    }
    let c = h.counters();
    assert_eq!((c.enqueued, c.delivered, c.dead_lettered, c.attempts), (2, 0, 2, 6));
    Ok(())
}

#[test]
fn the_breaker_opens_fails_fast_and_recovers_after_a_probe() -> anyhow::Result<()> {
    let server = serve(&[Reply::Status(503), Reply::Status(503)], Reply::Status(200))?;
    let h = Harness::new();
    let sink = h.sink(WebhookConfig {
        breaker: BreakerConfig {
            failure_threshold: 2,
            cool_down_ms: 200,
        },
        // Attempts 3 and 4 come while the breaker is open; attempt 5 is the probe.
        ..config(&server.url, &[10, 10, 10, 400])
    })?;
    sink.submit(action(8));
    wait_idle(&sink)?;
    let calls = server.hook.calls();
    assert_eq!(
        calls.len(),
        3,
        "two failures open the breaker; the probe is the third call"
    );
    let gap = calls[2].at.duration_since(calls[1].at);
    assert!(
        gap >= Duration::from_millis(200),
        "the probe waited for the cool-down: {gap:?}"
    );
    let record = h.record("sensor_anomaly:8")?;
    assert_eq!(
        (record.outcome, record.attempts, record.http_status),
        (DeliveryOutcome::Delivered, 5, Some(200)),
        "five attempts, two of them failed fast"
    );
    assert!(!sink.breaker_open(), "the probe's success closed it");
    sink.submit(action(9));
    wait_idle(&sink)?;
    assert_eq!(h.record("sensor_anomaly:9")?.attempts, 1);
    Ok(())
}

#[test]
fn an_open_breaker_fails_fast_until_the_action_is_dead_lettered() -> anyhow::Result<()> {
    let server = serve(&[], Reply::Status(500))?;
    let h = Harness::new();
    let sink = h.sink(WebhookConfig {
        breaker: BreakerConfig {
            failure_threshold: 1,
            cool_down_ms: 60_000,
        },
        ..config(&server.url, &[5, 5])
    })?;
    sink.submit(action(10));
    wait_idle(&sink)?;
    assert_eq!(
        server.hook.calls().len(),
        1,
        "after the first failure every attempt fails fast"
    );
    assert!(sink.breaker_open());
    let record = h.record("sensor_anomaly:10")?;
    assert_eq!((record.outcome, record.attempts), (DeliveryOutcome::DeadLettered, 3));
    assert_eq!(
        record.error.as_deref(),
        Some("retries exhausted; last error: circuit breaker open: call not made")
    );
    assert_eq!(record.http_status, Some(500), "the last response seen");
    Ok(())
}

#[test]
fn a_full_queue_dead_letters_at_once_and_close_ends_what_is_left() -> anyhow::Result<()> {
    let server = serve(&[], Reply::Hang)?;
    let h = Harness::new();
    let sink = h.sink(WebhookConfig {
        queue_capacity: 1,
        max_in_flight: 1,
        ..config(&server.url, &[])
    })?;
    sink.submit(action(0));
    wait_calls(&server, 1)?; // action 0 is in flight, hanging
    sink.submit(action(1)); // queued
    sink.submit(action(2)); // no room
    let c = h.counters();
    assert_eq!(
        (c.enqueued, c.refused, c.dead_lettered, c.queued, c.in_flight),
        (3, 1, 1, 1, 1)
    );
    let full = h.letter("sensor_anomaly:2")?;
    assert!(full.reason.contains("delivery queue full"), "{}", full.reason);
    assert_eq!(h.record("sensor_anomaly:2")?.attempts, 0);

    sink.close(Duration::ZERO);
    for id in ["sensor_anomaly:0", "sensor_anomaly:1"] {
        let record = h.record(id)?;
        assert_eq!(record.outcome, DeliveryOutcome::DeadLettered, "{id}");
        assert!(
            record
                .error
                .unwrap_or_default()
                .starts_with("sink closed before delivery")
        );
    }
    sink.submit(action(3));
    assert!(h.letter("sensor_anomaly:3")?.reason.contains("closed"));
    let c = h.counters();
    assert_eq!(
        (c.enqueued, c.delivered, c.dead_lettered, c.queued, c.in_flight),
        (4, 0, 4, 0, 0)
    );
    assert_eq!(sink.outstanding(), 0);
    Ok(())
}
