//! `GET /v1/subscribe/{projection}` over real sockets, SSE and WebSocket, on the IoT pipeline
//! fed by HTTP ingest: the snapshot, then the changes of ingested records (a changed row is
//! `-old +new`), heartbeats, the end of the pipeline, a slow consumer, an unknown projection.
//! Applied to the snapshot, the changes must give exactly what SQL answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite;
use tributary::connectors::http::HttpIngestOnly;
use tributary::engine::{RunningPipeline, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::{ApiConfig, ApiState, SubscribeConfig};

use crate::common::{TestServer, post_sql};

const TS: i64 = 1_700_000_000_000;
/// Longest wait for any one message.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// The IoT pipeline fed only by HTTP ingest, and a server for it; the pipeline is shut
/// down when dropped, so a failed assertion fails the test instead of hanging it.
struct Fixture {
    run: Option<RunningPipeline>,
    server: Option<TestServer>,
    addr: SocketAddr,
}

impl Fixture {
    async fn start(subscribe: SubscribeConfig) -> anyhow::Result<Self> {
        let run = tokio::task::spawn_blocking(|| {
            Runtime::start(RuntimeConfig::with_workers(2), |p| iot::build(p, &HttpIngestOnly))
        })
        .await??;
        let config = ApiConfig {
            subscribe,
            ..ApiConfig::default()
        };
        let server = TestServer::serve(ApiState::for_pipeline(&run).with_config(config)?).await?;
        Ok(Self {
            run: Some(run),
            addr: server.addr,
            server: Some(server),
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Ingests NDJSON readings and returns the ticket.
    async fn ingest(&self, readings: &[(i64, i64, f64)]) -> anyhow::Result<u64> {
        let body: String = readings
            .iter()
            .map(|(sensor_id, ts, value)| format!("{}\n", json!({"sensor_id": sensor_id, "ts": ts, "value": value})))
            .collect();
        let response = reqwest::Client::new()
            .post(format!("http://{}/v1/ingest/readings", self.addr()))
            .header("content-type", "application/x-ndjson")
            .timeout(MESSAGE_TIMEOUT)
            .body(body)
            .send()
            .await?;
        let answer: Value = response.json().await?;
        anyhow::ensure!(answer["accepted"] == json!(readings.len()), "{answer}");
        answer["ticket"]
            .as_u64()
            .ok_or_else(|| anyhow::anyhow!("no ticket: {answer}"))
    }

    /// `SELECT * FROM sensor_stats` once its `as_of` reaches `ticket`.
    async fn sensor_stats_at(&self, ticket: u64) -> anyhow::Result<Value> {
        self.sql_at("SELECT * FROM sensor_stats", ticket).await
    }

    /// `sql`'s answer once its `as_of` reaches `ticket`.
    async fn sql_at(&self, sql: &str, ticket: u64) -> anyhow::Result<Value> {
        let deadline = Instant::now() + MESSAGE_TIMEOUT;
        loop {
            let (status, body) = post_sql(self.addr, sql).await?;
            anyhow::ensure!(status == 200, "{body}");
            if body["as_of"].as_u64().is_some_and(|as_of| as_of >= ticket) {
                return Ok(body);
            }
            anyhow::ensure!(Instant::now() < deadline, "as_of never reached {ticket}: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the sources and waits until the final frontier is applied.
    async fn shutdown(&mut self) -> anyhow::Result<()> {
        if let Some(run) = self.run.take() {
            tokio::task::spawn_blocking(move || run.shutdown()).await??;
        }
        Ok(())
    }

    async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown().await?;
        match self.server.take() {
            Some(server) => server.stop().await,
            None => Ok(()),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(run) = self.run.take() {
            let _ = run.shutdown();
        }
    }
}

/// A subscriber over either transport, yielding the JSON messages.
enum Client {
    Sse {
        response: reqwest::Response,
        buffer: String,
    },
    Ws(tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>),
}

impl Client {
    async fn sse(addr: SocketAddr, projection: &str) -> anyhow::Result<Self> {
        let response = reqwest::Client::new()
            .get(format!("http://{addr}/v1/subscribe/{projection}"))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "{}", response.status());
        let content_type = response.headers().get("content-type").map(|v| v.as_bytes().to_vec());
        anyhow::ensure!(
            content_type.as_deref() == Some(&b"text/event-stream"[..]),
            "{content_type:?}"
        );
        Ok(Self::Sse {
            response,
            buffer: String::new(),
        })
    }

    async fn ws(addr: SocketAddr, projection: &str) -> anyhow::Result<Self> {
        let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/subscribe/{projection}")).await?;
        Ok(Self::Ws(socket))
    }

    /// The next message; `None` once the server has ended the stream.
    async fn next(&mut self) -> anyhow::Result<Option<Value>> {
        tokio::time::timeout(MESSAGE_TIMEOUT, self.next_untimed())
            .await
            .map_err(|_| anyhow::anyhow!("no message within {MESSAGE_TIMEOUT:?}"))?
    }

    async fn next_untimed(&mut self) -> anyhow::Result<Option<Value>> {
        match self {
            Self::Sse { response, buffer } => loop {
                if let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    return parse_sse_event(&block).map(Some);
                }
                match response.chunk().await? {
                    Some(chunk) => buffer.push_str(std::str::from_utf8(&chunk)?),
                    None => {
                        anyhow::ensure!(buffer.trim().is_empty(), "stream ended inside an event: {buffer:?}");
                        return Ok(None);
                    }
                }
            },
            Self::Ws(socket) => loop {
                match socket.next().await {
                    Some(Ok(tungstenite::Message::Text(text))) => return Ok(Some(serde_json::from_str(&text)?)),
                    Some(Ok(tungstenite::Message::Close(_))) | None => return Ok(None),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                }
            },
        }
    }
}

/// One SSE event: its `event:` name must be the JSON message's `type`.
fn parse_sse_event(block: &str) -> anyhow::Result<Value> {
    let mut name = None;
    let mut data = String::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push_str(v.trim_start());
        }
    }
    let message: Value = serde_json::from_str(&data)?;
    anyhow::ensure!(
        name.as_deref() == message["type"].as_str(),
        "event {name:?} carries {message}"
    );
    Ok(message)
}

/// Rows as a multiset, to apply changes to and compare with SQL.
fn multiset(rows: &Value) -> BTreeMap<String, i64> {
    let mut set = BTreeMap::new();
    for row in rows.as_array().into_iter().flatten() {
        *set.entry(row.to_string()).or_insert(0) += 1;
    }
    set
}

/// Applies a `change` message; fails on a retraction of a row that is not there.
fn apply(state: &mut BTreeMap<String, i64>, change: &Value) -> anyhow::Result<()> {
    for c in change["changes"].as_array().into_iter().flatten() {
        let n = state.entry(c["row"].to_string()).or_insert(0);
        *n += c["diff"].as_i64().unwrap_or(0);
        anyhow::ensure!(*n >= 0, "retracted a row that was not there: {c}");
    }
    state.retain(|_, n| *n != 0);
    Ok(())
}

/// The whole contract for one transport (see the module docs).
async fn snapshot_changes_heartbeats_and_end_match_sql(ws: bool) -> anyhow::Result<()> {
    let mut fixture = Fixture::start(SubscribeConfig {
        heartbeat_interval_ms: 100,
        ..SubscribeConfig::default()
    })
    .await?;
    let first = fixture.ingest(&[(1, TS, 10.0), (2, TS, 20.0)]).await?;
    let sql = fixture.sensor_stats_at(first).await?;

    let mut client = if ws {
        Client::ws(fixture.addr(), "sensor_stats").await?
    } else {
        Client::sse(fixture.addr(), "sensor_stats").await?
    };
    let snapshot = client.next().await?.ok_or_else(|| anyhow::anyhow!("no snapshot"))?;
    assert_eq!(snapshot["type"], "snapshot", "{snapshot}");
    assert_eq!(snapshot["projection"], "sensor_stats");
    assert_eq!(snapshot["columns"], sql["columns"]);
    assert!(snapshot["as_of"].as_u64().is_some_and(|a| a >= first), "{snapshot}");
    assert_eq!(multiset(&snapshot["rows"]), multiset(&sql["rows"]));
    let mut state = multiset(&snapshot["rows"]);
    let mut as_of = snapshot["as_of"].as_u64().unwrap_or(0);

    // Sensor 1 gets a second reading (its row changes), sensor 3 is new.
    let second = fixture.ingest(&[(1, TS + 1_000, 30.0), (3, TS, 5.0)]).await?;
    let mut changes = Vec::new();
    let mut heartbeats = 0;
    loop {
        let message = client.next().await?.ok_or_else(|| anyhow::anyhow!("ended early"))?;
        match message["type"].as_str() {
            Some("change") => {
                let at = message["as_of"].as_u64().unwrap_or(0);
                assert!(at > as_of, "as_of increases: {message} after {as_of}");
                as_of = at;
                apply(&mut state, &message)?;
                changes.extend(message["changes"].as_array().cloned().unwrap_or_default());
            }
            Some("heartbeat") => {
                heartbeats += 1;
                if message["as_of"].as_u64().is_some_and(|a| a >= second) {
                    break;
                }
            }
            _ => anyhow::bail!("unexpected {message}"),
        }
    }
    assert!(heartbeats >= 1);
    // sensor_id, count: sensor 1's one-reading row is retracted and its two-reading row inserted.
    let keyed: Vec<(i64, Value, Value)> = changes
        .iter()
        .map(|c| {
            (
                c["diff"].as_i64().unwrap_or(0),
                c["row"][0].clone(),
                c["row"][1].clone(),
            )
        })
        .collect();
    assert!(keyed.contains(&(-1, json!(1), json!(1))), "{changes:?}");
    assert!(keyed.contains(&(1, json!(1), json!(2))), "{changes:?}");
    assert!(keyed.contains(&(1, json!(3), json!(1))), "{changes:?}");
    assert!(
        !keyed.iter().any(|(_, id, _)| *id == json!(2)),
        "sensor 2 did not change: {changes:?}"
    );
    assert_eq!(state, multiset(&fixture.sensor_stats_at(second).await?["rows"]));

    // The end of the pipeline ends the subscription with the reason.
    fixture.shutdown().await?;
    let closed = loop {
        let message = client
            .next()
            .await?
            .ok_or_else(|| anyhow::anyhow!("ended without `closed`"))?;
        match message["type"].as_str() {
            Some("change") => apply(&mut state, &message)?,
            Some("heartbeat") => {}
            _ => break message,
        }
    };
    assert_eq!(
        closed,
        json!({"type": "closed", "reason": "the pipeline has ended: no more changes"})
    );
    assert!(client.next().await?.is_none(), "nothing after `closed`");
    let final_sql = fixture.sensor_stats_at(u64::MAX).await?;
    assert_eq!(final_sql["as_of"], json!(u64::MAX));
    assert_eq!(state, multiset(&final_sql["rows"]));
    fixture.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_sends_the_snapshot_changes_heartbeats_and_closed_matching_sql() -> anyhow::Result<()> {
    snapshot_changes_heartbeats_and_end_match_sql(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_sends_the_snapshot_changes_heartbeats_and_closed_matching_sql() -> anyhow::Result<()> {
    snapshot_changes_heartbeats_and_end_match_sql(true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_stops_reading_is_disconnected_with_the_reason() -> anyhow::Result<()> {
    let fixture = Fixture::start(SubscribeConfig {
        queue_capacity: 1,
        ..SubscribeConfig::default()
    })
    .await?;
    // A raw socket with a small receive buffer, so the server's buffers fill without the
    // kernel absorbing megabytes on the client side.
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let mut stream = socket.connect(fixture.addr()).await?;
    stream
        .write_all(b"GET /v1/subscribe/sensor_stats HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .await?;
    let mut received = Vec::new();
    let mut buf = vec![0u8; 4096];
    while !String::from_utf8_lossy(&received).contains("event: snapshot") {
        let n = tokio::time::timeout(MESSAGE_TIMEOUT, stream.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "closed before the snapshot");
        received.extend_from_slice(&buf[..n]);
    }
    // Stop reading; every batch changes 2,000 rows (-old +new, ~0.5 MB of events), far
    // more in all than the server's socket and write buffers hold. Each batch is committed
    // before the next is sent, so each is its own change batch.
    for batch in 0..24_i64 {
        let readings: Vec<(i64, i64, f64)> = (0..2_000).map(|s| (s, TS + batch * 1_000, batch as f64)).collect();
        let ticket = fixture.ingest(&readings).await?;
        fixture.sql_at("SELECT count(*) FROM sensor_stats", ticket).await?;
    }
    let reason = "slow consumer: 2 changes behind";
    let deadline = Instant::now() + MESSAGE_TIMEOUT;
    while !String::from_utf8_lossy(&received).contains(reason) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "no `{reason}` within {MESSAGE_TIMEOUT:?}; received {} bytes, {} changes",
            received.len(),
            String::from_utf8_lossy(&received).matches("event: change").count()
        );
        let n = tokio::time::timeout(MESSAGE_TIMEOUT, stream.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "closed without `{reason}`");
        received.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.contains(&format!(
            "event: error\ndata: {{\"type\":\"error\",\"reason\":\"{reason}\"}}"
        )),
        "the reason comes as an `error` event"
    );
    // Nothing but the end of the body follows, and the server closes the connection.
    let mut rest = Vec::new();
    tokio::time::timeout(MESSAGE_TIMEOUT, stream.read_to_end(&mut rest)).await??;
    assert!(
        !String::from_utf8_lossy(&rest).contains("event:"),
        "no event after the error"
    );
    fixture.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_projection_is_404_over_sse_and_websocket_and_post_is_405() -> anyhow::Result<()> {
    let fixture = Fixture::start(SubscribeConfig::default()).await?;
    let url = format!("http://{}/v1/subscribe/nope", fixture.addr());
    let response = reqwest::Client::new().get(&url).send().await?;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await?;
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.starts_with("no projection `nope`; projections: "), "{body}");
    assert!(message.contains("sensor_stats"), "{body}");

    match tokio_tungstenite::connect_async(format!("ws://{}/v1/subscribe/nope", fixture.addr())).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 404),
        other => anyhow::bail!("expected a 404 answer to the upgrade, got {other:?}"),
    }

    let response = reqwest::Client::new()
        .post(format!("http://{}/v1/subscribe/sensor_stats", fixture.addr()))
        .send()
        .await?;
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.headers().get("allow").map(|v| v.as_bytes()),
        Some(&b"GET, HEAD"[..])
    );
    fixture.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_ends_open_subscriptions_so_it_can_stop() -> anyhow::Result<()> {
    let mut fixture = Fixture::start(SubscribeConfig::default()).await?;
    let mut sse = Client::sse(fixture.addr(), "sensor_stats").await?;
    let mut ws = Client::ws(fixture.addr(), "sensor_stats").await?;
    for client in [&mut sse, &mut ws] {
        let snapshot = client.next().await?.ok_or_else(|| anyhow::anyhow!("no snapshot"))?;
        assert_eq!(snapshot["type"], "snapshot");
    }
    let server = fixture.server.take().ok_or_else(|| anyhow::anyhow!("no server"))?;
    let stopped = tokio::spawn(server.stop());
    for client in [&mut sse, &mut ws] {
        assert_eq!(
            client.next().await?,
            Some(json!({"type": "closed", "reason": "the server is shutting down"}))
        );
        assert!(client.next().await?.is_none());
    }
    tokio::time::timeout(MESSAGE_TIMEOUT, stopped).await???;
    fixture.stop().await
}
