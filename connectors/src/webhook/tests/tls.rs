//! `https` endpoints: a real TLS server (rustls, the test certificate in `../testdata`) on
//! 127.0.0.1:0. With the test CA configured as `root_certificate` actions are delivered;
//! without it the handshake fails, no call reaches the server and the action is
//! dead-lettered; an unreadable or empty root-certificate file stops the sink at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tributary_engine::delivery::{ActionSink, DeliveryOutcome};

use super::{Harness, action, config, wait_idle};
use crate::webhook::{WebhookConfig, WebhookError, WebhookSink};

fn testdata(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/webhook/testdata")
        .join(file)
}

/// Accepts TCP connections and completes the TLS handshake before axum sees them; a failed
/// handshake (an untrusting client) is skipped.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An https server recording each call's idempotency key, on its own runtime.
struct TlsServer {
    url: String,
    keys: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

fn serve_tls() -> anyhow::Result<TlsServer> {
    let certs = CertificateDer::pem_file_iter(testdata("server.pem"))?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(testdata("server.key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let tcp = runtime.block_on(TcpListener::bind("127.0.0.1:0"))?;
    let addr = tcp.local_addr()?;
    let keys = Arc::new(Mutex::new(Vec::new()));
    let seen = keys.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                if let (Some(key), Ok(mut seen)) = (
                    headers.get("idempotency-key").and_then(|v| v.to_str().ok()),
                    seen.lock(),
                ) {
                    seen.push(key.to_string());
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(tls)),
    };
    runtime.spawn(async move { axum::serve(listener, app).await });
    Ok(TlsServer {
        url: format!("https://{addr}/hook"),
        keys,
        _runtime: runtime,
    })
}

impl TlsServer {
    fn keys(&self) -> Vec<String> {
        self.keys.lock().map(|k| k.clone()).unwrap_or_default()
    }
}

#[test]
fn an_https_endpoint_with_a_trusted_root_receives_the_action() -> anyhow::Result<()> {
    let server = serve_tls()?;
    let h = Harness::new();
    let sink = h.sink(WebhookConfig {
        root_certificate: Some(testdata("ca.pem")),
        ..config(&server.url, &[10])
    })?;
    sink.submit(action(3));
    wait_idle(&sink)?;
    assert_eq!(server.keys(), ["sensor_anomaly:3"]);
    let record = h.record("sensor_anomaly:3")?;
    assert_eq!(
        (record.outcome, record.attempts, record.http_status),
        (DeliveryOutcome::Delivered, 1, Some(204))
    );
    Ok(())
}

#[test]
fn an_untrusted_certificate_is_refused_and_the_action_dead_lettered() -> anyhow::Result<()> {
    let server = serve_tls()?;
    let h = Harness::new();
    let sink = h.sink(config(&server.url, &[10]))?;
    sink.submit(action(4));
    wait_idle(&sink)?;
    assert!(server.keys().is_empty(), "no call got past the handshake");
    let record = h.record("sensor_anomaly:4")?;
    assert_eq!(
        (record.outcome, record.attempts, record.http_status),
        (DeliveryOutcome::DeadLettered, 2, None)
    );
    let error = record.error.unwrap_or_default();
    assert!(error.contains("certificate") || error.contains("connect"), "{error}");
    h.letter("sensor_anomaly:4")?;
    Ok(())
}

#[test]
fn an_unusable_root_certificate_file_stops_the_sink_at_start() -> anyhow::Result<()> {
    let h = Harness::new();
    let dir = tempfile::tempdir()?;
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n")?;
    for path in [dir.path().join("missing.pem"), empty] {
        let context = crate::actions::DeliveryContext::new(h.log.clone(), h.dlq.clone(), "actions");
        let err = WebhookSink::try_new(
            WebhookConfig {
                root_certificate: Some(path.clone()),
                ..WebhookConfig::new("https://127.0.0.1:9/hook")
            },
            context,
        )
        .expect_err("the sink must not start");
        assert!(matches!(err, WebhookError::RootCertificate { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
    Ok(())
}
