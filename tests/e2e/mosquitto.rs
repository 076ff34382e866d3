//! A real Mosquitto broker for one test: its own config file, port and persistence directory
//! in a tempdir, stoppable and restartable on the same port, killed when dropped.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::support::{broker_binary, free_port, wait_for_port, wait_until};

/// A Mosquitto process on `127.0.0.1:port` (see the module docs).
#[derive(Debug)]
pub struct Mosquitto {
    binary: PathBuf,
    port: u16,
    config: PathBuf,
    dir: TempDir,
    child: Option<Child>,
}

impl Mosquitto {
    /// Writes the config and starts the broker on a free port.
    ///
    /// Persistence keeps the QoS 1 messages queued for persistent sessions across a restart.
    /// Mosquitto's defaults (20 messages in flight, 1,000 queued per client, the rest
    /// dropped) are raised so that a subscriber acknowledging per epoch is not throttled
    /// and a burst published while it is away is not dropped.
    pub fn start() -> anyhow::Result<Self> {
        let binary = broker_binary("TRIBUTARY_MOSQUITTO", "mosquitto")?;
        let port = free_port()?;
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("mosquitto.conf");
        let data = dir.path().join("data");
        fs::create_dir_all(&data)?;
        // Started as root, Mosquitto drops to the `mosquitto` user: without this it can write
        // neither its log nor its persistence file, and silently persists nothing.
        for writable in [dir.path(), data.as_path()] {
            fs::set_permissions(writable, fs::Permissions::from_mode(0o777))?;
        }
        fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 persistence true\n\
                 persistence_location {}/\n\
                 max_inflight_messages 1000\n\
                 max_queued_messages 1000000\n\
                 log_dest file {}\n\
                 log_type error\n\
                 log_type warning\n\
                 log_type notice\n",
                data.display(),
                dir.path().join("mosquitto.log").display()
            ),
        )?;
        let mut broker = Self {
            binary,
            port,
            config,
            dir,
            child: None,
        };
        broker.restart()?;
        Ok(broker)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts the broker again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "mosquitto is already running");
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        wait_for_port(self.port, Duration::from_secs(10))
            .map_err(|e| anyhow::anyhow!("{e}; mosquitto log:\n{}", self.log()))
    }

    /// Stops the broker with SIGTERM, so it saves its persistence file, and waits for it.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        anyhow::ensure!(status.success(), "kill -TERM mosquitto failed");
        let mut exited = false;
        wait_until("mosquitto to exit", Duration::from_secs(10), || {
            exited = matches!(child.try_wait(), Ok(Some(_)));
            exited
        })?;
        Ok(())
    }

    /// The broker's log so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
