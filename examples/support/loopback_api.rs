//! The HTTP API of a benchmark example, on a free loopback port: no tokens, and a per-client
//! rate limit far above what the load can ask for (every client shares the one loopback peer
//! address, and the limiter is not what these examples measure).

use std::net::SocketAddr;

use anyhow::Context;
use serde_json::{Value, json};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tributary::queries::http::{AuthConfig, RateLimitConfig};
use tributary::queries::{ApiConfig, ApiState, serve};

/// A running API; [`LoopbackApi::stop`] shuts it down.
#[derive(Debug)]
pub struct LoopbackApi {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl LoopbackApi {
    /// Serves `state` with the benchmark settings above on `127.0.0.1:0`.
    pub async fn start(state: ApiState) -> anyhow::Result<Self> {
        let config = ApiConfig {
            auth: AuthConfig::unauthenticated_loopback(),
            rate_limit: RateLimitConfig {
                requests_per_second: 10_000_000,
                burst: 10_000_000,
                ..RateLimitConfig::default()
            },
            ..state.config.clone()
        };
        let state = state.with_config(config)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, state, async {
            let _ = stopped.await;
        }));
        Ok(Self { addr, stop, server })
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Records `stream` has accepted so far, as `system.streams` tells over `POST /v1/sql`.
    pub async fn accepted(&self, client: &reqwest::Client, stream: &str) -> anyhow::Result<u64> {
        let body: Value = client
            .post(self.url("/v1/sql"))
            .json(&json!({"sql": "SELECT accepted FROM system.streams WHERE stream = $1", "params": [stream]}))
            .send()
            .await?
            .json()
            .await?;
        body["rows"][0][0]
            .as_u64()
            .with_context(|| format!("no stream `{stream}` in system.streams: {body}"))
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await??;
        Ok(())
    }
}
