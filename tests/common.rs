//! Helpers shared by the integration tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tributary::connectors::generator::{SensorGenerator, SensorGeneratorConfig};
use tributary::engine::{LiveCatalog, Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::http::AuthConfig;
use tributary::queries::{ApiConfig, ApiState, serve};

/// A server on a free loopback port, serving `catalog`.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    pub async fn start(catalog: Arc<LiveCatalog>) -> anyhow::Result<Self> {
        Self::serve(ApiState::from_catalog(catalog)).await
    }

    /// A server for `state` (e.g. [`ApiState::for_pipeline`]). A state whose
    /// authentication is not configured serves unauthenticated (the server is on loopback).
    pub async fn serve(state: ApiState) -> anyhow::Result<Self> {
        let state = if state.config.auth == AuthConfig::default() {
            let config = ApiConfig {
                auth: AuthConfig::unauthenticated_loopback(),
                ..state.config.clone()
            };
            state.with_config(config)?
        } else {
            state
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// POSTs `{"sql": sql}` and returns the status and JSON body.
    pub async fn sql(&self, sql: &str) -> anyhow::Result<(u16, Value)> {
        post_sql(self.addr, sql).await
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await??;
        Ok(())
    }
}

/// POSTs `{"sql": sql}` to `addr` and returns the status and JSON body.
pub async fn post_sql(addr: SocketAddr, sql: &str) -> anyhow::Result<(u16, Value)> {
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/v1/sql"))
        .timeout(Duration::from_secs(30))
        .json(&serde_json::json!({ "sql": sql }))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await?))
}

/// A running pipeline, started and stopped off the async workers (dropping it, e.g. on a
/// failed assertion, shuts it down: see `RunningPipeline`'s `Drop`).
pub struct StartedPipeline(Option<tributary::engine::RunningPipeline>);

impl StartedPipeline {
    /// Starts `build` off the async workers.
    pub async fn start(
        build: impl FnOnce() -> anyhow::Result<tributary::engine::RunningPipeline> + Send + 'static,
    ) -> anyhow::Result<Self> {
        Ok(Self(Some(tokio::task::spawn_blocking(build).await??)))
    }

    /// The pipeline's API state (authentication not configured yet).
    pub fn state(&self) -> anyhow::Result<ApiState> {
        let run = self
            .0
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("pipeline already stopped"))?;
        Ok(ApiState::for_pipeline(run))
    }

    /// Stops the sources and waits until the dataflow has drained.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(run) = self.0.take() {
            tokio::task::spawn_blocking(move || run.shutdown()).await??;
        }
        Ok(())
    }
}

/// The answer to one HTTP request: status, headers and body text.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Answer {
    /// A header as text (empty when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The body as JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.text)
            .map_err(|e| anyhow::anyhow!("{}: not JSON ({e}): {:?}", self.status, self.text))
    }
}

/// Sends `method path` to `addr` with an optional raw `Authorization` header and body.
pub async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> anyhow::Result<Answer> {
    let method = reqwest::Method::from_bytes(method.as_bytes())?;
    let mut request = reqwest::Client::new()
        .request(method, format!("http://{addr}{path}"))
        .timeout(Duration::from_secs(30));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some((content_type, bytes)) = body {
        request = request.header("content-type", content_type).body(bytes);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await?;
    Ok(Answer { status, headers, text })
}

/// The catalog of the IoT pipeline after it ran to the end on the generator set up by
/// `config` (a bounded one: give it a `limit`), on 2 workers.
pub fn finished_iot_catalog(config: SensorGeneratorConfig) -> anyhow::Result<Arc<LiveCatalog>> {
    let source = SensorGenerator::try_new(config)?;
    let run = Runtime::start(RuntimeConfig::with_workers(2), move |p| iot::build(p, &source))?;
    let catalog = run.catalog();
    run.join()?;
    Ok(catalog)
}
