//! A Tansu broker (Kafka protocol, in-memory storage) on a free loopback port, for one test.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::support::{broker_binary, free_port, wait_for_port};

/// A running Tansu broker; killed on drop. Its storage is in memory: a restart loses every
/// topic and message.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Tansu {
    /// Starts a broker on a free port and waits until it accepts connections.
    pub fn start() -> anyhow::Result<Self> {
        let binary = broker_binary("TRIBUTARY_TANSU", "tansu")?;
        let port = free_port()?;
        let mut tansu = Self {
            binary,
            port,
            child: None,
        };
        tansu.spawn()?;
        Ok(tansu)
    }

    /// The bootstrap servers for clients.
    pub fn brokers(&self) -> String {
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
                &self.url(),
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

    /// Kills the broker and starts a new one on the same port (with empty storage).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn()
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
