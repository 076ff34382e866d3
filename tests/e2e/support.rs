//! What every end-to-end test needs: free ports, broker binaries, polling with a deadline.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The broker binary named by `env_var`, else `name` on `PATH`. Fails (never skips) when
/// neither exists: `.ci/e2e` installs them.
pub fn broker_binary(env_var: &str, name: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| anyhow::anyhow!("`{name}` not found: set {env_var} or run `bash .ci/e2e`, which installs it"))
}

/// Waits until `ready` returns true, checking every 50 ms, for at most `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("timed out after {timeout:?} waiting for {what}")
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    wait_until(&format!("127.0.0.1:{port} to accept connections"), timeout, || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
}
