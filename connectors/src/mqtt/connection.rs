//! The network side shared by the source and the sink: client options (credentials, TLS via
//! rustls on the `ring` provider), and the thread that drives a rumqttc [`Connection`].
//!
//! rumqttc makes progress only while its event loop is polled, so each source and sink owns
//! one thread that does nothing else. Broker trouble never reaches the dataflow: the thread
//! logs the error (at most once per [`ERROR_LOG_INTERVAL`], with a count of the ones it kept
//! quiet) and polls again after an exponential backoff, which makes rumqttc reconnect. What
//! to do with the traffic is the [`NetworkHandler`]'s business (forward publishes to the
//! source reader, count the sink's acknowledgements).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttc::{
    Connection, ConnectionError, Event, MqttOptions, Outgoing, Packet, Publish, TlsConfiguration, Transport,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{MqttError, MqttTls};

/// First pause after a connection error; it doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Connection errors are logged at most this often.
const ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Where and how to connect: what the source and sink configurations have in common.
#[derive(Debug)]
pub(super) struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
    pub client_id: &'a str,
    pub credentials: Option<&'a (String, String)>,
    pub tls: Option<&'a Arc<rustls::ClientConfig>>,
    pub keep_alive_s: u64,
}

impl Endpoint<'_> {
    /// rumqttc options for this endpoint: a persistent session (`clean_session = !persistent`),
    /// and an incoming packet limit at the protocol maximum so that any message the broker
    /// delivers is read — an oversized one is dead-lettered by the decoder rather than
    /// breaking the connection and being redelivered forever.
    pub fn options(&self, persistent_session: bool) -> MqttOptions {
        /// The largest packet MQTT can encode (a 4-byte remaining length).
        const MQTT_MAX_PACKET: usize = 268_435_455;
        let mut options = MqttOptions::new(self.client_id, self.host, self.port);
        options
            .set_keep_alive(Duration::from_secs(self.keep_alive_s))
            .set_clean_session(!persistent_session)
            .set_max_packet_size(MQTT_MAX_PACKET, MQTT_MAX_PACKET);
        if let Some((user, password)) = self.credentials {
            options.set_credentials(user.clone(), password.clone());
        }
        if let Some(tls) = self.tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls.clone())));
        }
        options
    }
}

/// Builds the rustls client configuration (ring provider) from the PEM files of `tls`.
pub(super) fn tls_config(tls: &MqttTls) -> Result<Arc<rustls::ClientConfig>, MqttError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certificates(&tls.ca_file)? {
        roots.add(cert)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match &tls.client_auth {
        None => builder.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|source| MqttError::TlsFile {
                path: key_file.clone(),
                source,
            })?;
            builder.with_client_auth_cert(read_certificates(cert_file)?, key)?
        }
    };
    Ok(Arc::new(config))
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, MqttError> {
    let tls_file = |source| MqttError::TlsFile {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|e| tls_file(rustls::pki_types::pem::Error::Io(e)))?;
    let certs = CertificateDer::pem_reader_iter(file)
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_file)?;
    if certs.is_empty() {
        return Err(MqttError::TlsFileEmpty {
            path: path.to_path_buf(),
            what: "PEM certificate",
        });
    }
    Ok(certs)
}

/// What a network thread does with the traffic of its connection.
pub(super) trait NetworkHandler: Send + 'static {
    /// The broker accepted the connection; `session_present`: it kept our session.
    fn connected(&mut self, session_present: bool);
    /// A message arrived. Returns false when the thread should stop (the reader is gone).
    fn publish(&mut self, publish: Publish, stop: &AtomicBool) -> bool {
        let _ = (publish, stop);
        true
    }
    /// The broker acknowledged one of our QoS 1 publishes.
    fn acknowledged(&mut self) {}
    /// The broker answered a subscription; `granted`: every filter was accepted.
    fn subscription_answered(&mut self, granted: bool) {
        let _ = granted;
    }
    /// The connection failed; rumqttc reconnects on the next poll.
    fn disconnected(&mut self) {}
}

/// Starts the thread that polls `connection` until `stop` is set and a disconnect went out
/// (or every client handle is gone).
pub(super) fn spawn_network_thread(
    name: String,
    mut connection: Connection,
    stop: Arc<AtomicBool>,
    mut handler: impl NetworkHandler,
) -> Result<JoinHandle<()>, MqttError> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let mut backoff = MIN_BACKOFF;
            let mut errors = ErrorLog::default();
            while let Ok(event) = connection.recv() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        backoff = MIN_BACKOFF;
                        tracing::info!(client = %name, session_present = ack.session_present, "connected to the MQTT broker");
                        handler.connected(ack.session_present);
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        if !handler.publish(publish, &stop) {
                            break;
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => handler.acknowledged(),
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        let granted = !ack.return_codes.contains(&rumqttc::SubscribeReasonCode::Failure);
                        if !granted {
                            tracing::error!(client = %name, codes = ?ack.return_codes, "the broker refused a subscription");
                        }
                        handler.subscription_answered(granted);
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                    Ok(_) => {}
                    Err(error) => {
                        handler.disconnected();
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        errors.log(&name, &error, backoff);
                        sleep_unless_stopped(backoff, &stop);
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
            tracing::debug!(client = %name, "MQTT network thread ends");
        })
        .map_err(MqttError::Spawn)
}

fn sleep_unless_stopped(pause: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + pause;
    while !stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

/// Logs connection errors at most once per [`ERROR_LOG_INTERVAL`].
#[derive(Debug, Default)]
struct ErrorLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl ErrorLog {
    fn log(&mut self, client: &str, error: &ConnectionError, retry_in: Duration) {
        if self.last.is_some_and(|t| t.elapsed() < ERROR_LOG_INTERVAL) {
            self.suppressed += 1;
            return;
        }
        tracing::warn!(
            client,
            %error,
            retry_in_ms = retry_in.as_millis() as u64,
            suppressed_since_last = self.suppressed,
            "MQTT connection error; reconnecting"
        );
        self.last = Some(Instant::now());
        self.suppressed = 0;
    }
}
