//! A Tansu broker (Kafka protocol, in-memory storage) on a free loopback port, for one test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::support::{broker_binary, free_port, wait_for_port};

/// A running Tansu broker; killed on drop. Its storage is in memory.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    port: u16,
    /// The port advertised to clients: `port` itself, or a proxy's in front of it.
    advertised: u16,
    child: Option<Child>,
}

impl Tansu {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        Self::start_advertising(port, port)
    }

    /// Starts a broker on `port` that tells clients to connect to `advertised` (a proxy).
    pub fn start_advertising(port: u16, advertised: u16) -> anyhow::Result<Self> {
        let binary = broker_binary("TRIBUTARY_TANSU", "tansu")?;
        let mut tansu = Self {
            binary,
            port,
            advertised,
            child: None,
        };
        tansu.spawn()?;
        Ok(tansu)
    }

    /// The bootstrap servers for clients.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    /// The broker's own port, bypassing any proxy.
    pub fn direct_port(&self) -> u16 {
        self.port
    }

    /// The broker's own address, bypassing any proxy.
    pub fn direct_brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &self.url(),
                "--advertised-listener-url",
                &format!("tcp://127.0.0.1:{}", self.advertised),
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(20))
    }

    /// Creates `name` with `partitions` partitions (Tansu does not auto-create topics).
    pub fn create_topic(&self, name: &str, partitions: u32) -> anyhow::Result<()> {
        let output = Command::new(&self.binary)
            .args(["topic", "create", "--broker", &self.url(), "--partitions"])
            .arg(partitions.to_string())
            .arg(name)
            .output()?;
        anyhow::ensure!(
            output.status.success(),
            "tansu topic create {name} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited is fine: either way it is gone.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}
