//! Helpers shared by the integration tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use tributary::engine::LiveCatalog;
use tributary::queries::{ApiState, serve};

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

    /// A server for `state` (e.g. [`ApiState::for_pipeline`]).
    pub async fn serve(state: ApiState) -> anyhow::Result<Self> {
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
