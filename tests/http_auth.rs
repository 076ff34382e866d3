//! The authentication matrix over real sockets: every token case against every endpoint,
//! with HS256 and RS256 servers; tokens are made here with `jsonwebtoken` (the RS256 pair
//! is a test-only key under `tests/fixtures/`).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tributary::connectors::http::HttpIngestOnly;
use tributary::engine::{Runtime, RuntimeConfig};
use tributary::pipelines::iot;
use tributary::queries::ApiConfig;
use tributary::queries::http::{AuthConfig, JwtConfig, JwtKey, Secret};

use crate::common::{Answer, StartedPipeline, TestServer, call};

/// The HS256 secret of the test servers.
pub const SECRET: &str = "test-only-hs256-secret-0123456789abcdef";
const RS256_PRIVATE: &str = include_str!("fixtures/jwt_rs256_private.pem");
const RS256_PUBLIC: &str = include_str!("fixtures/jwt_rs256_public.pem");

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Claims for `sub` with `scope`, valid for an hour, for the default audience.
pub fn claims(sub: &str, scope: &str) -> Value {
    json!({"sub": sub, "scope": scope, "aud": "tributary", "iat": now(), "exp": now() + 3600})
}

/// `claims` signed HS256 with `secret`.
pub fn hs256(secret: &str, claims: &Value) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )?)
}

fn rs256(claims: &Value) -> anyhow::Result<String> {
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_pem(RS256_PRIVATE.as_bytes())?,
    )?)
}

/// An unsigned token (`alg: none`), which must never verify.
fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// HS256 authentication with the test secret.
pub fn hs256_auth() -> AuthConfig {
    AuthConfig::jwt(JwtConfig::new(JwtKey::Hs256 {
        secret: Secret::new(SECRET),
    }))
}

/// The IoT pipeline on HTTP ingest only, served with `config`.
pub async fn serve_ingest_only(config: ApiConfig) -> anyhow::Result<(StartedPipeline, TestServer)> {
    let run = StartedPipeline::start(|| {
        Ok(Runtime::start(RuntimeConfig::with_workers(2), |p| {
            iot::build(p, &HttpIngestOnly)
        })?)
    })
    .await?;
    let server = TestServer::serve(run.state()?.with_config(config)?).await?;
    Ok((run, server))
}

/// One endpoint: method, path, body, the scope it needs (`None`: any valid token) and
/// the status a caller with that scope gets.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    body: Option<(&'static str, &'static [u8])>,
    scope: Option<&'static str>,
    ok: u16,
}

const ENDPOINTS: [Endpoint; 6] = [
    Endpoint {
        method: "POST",
        path: "/v1/sql",
        body: Some(("application/json", br#"{"sql": "SELECT 1 AS one"}"#)),
        scope: Some("read"),
        ok: 200,
    },
    Endpoint {
        method: "POST",
        path: "/v1/ingest/readings",
        body: Some((
            "application/x-ndjson",
            br#"{"sensor_id": 1, "ts": 1767225600000, "value": 20.5}"#,
        )),
        scope: Some("ingest"),
        ok: 200,
    },
    // An unknown projection, so an authorised call answers at once (404) instead of streaming.
    Endpoint {
        method: "GET",
        path: "/v1/subscribe/no_such_projection",
        body: None,
        scope: Some("read"),
        ok: 404,
    },
    Endpoint {
        method: "GET",
        path: "/readyz",
        body: None,
        scope: Some("read"),
        ok: 200,
    },
    Endpoint {
        method: "GET",
        path: "/metrics",
        body: None,
        scope: Some("admin"),
        ok: 200,
    },
    Endpoint {
        method: "GET",
        path: "/no/such/endpoint",
        body: None,
        scope: None,
        ok: 404,
    },
];

async fn send(server: &TestServer, e: &Endpoint, authorization: Option<&str>) -> anyhow::Result<Answer> {
    call(
        server.addr,
        e.method,
        e.path,
        authorization,
        e.body.map(|(t, b)| (t, b.to_vec())),
    )
    .await
}

/// Every endpoint refuses `authorization` with `401`, a JSON error naming `reason`, and a
/// `WWW-Authenticate: Bearer` challenge carrying `code` (if any).
async fn assert_refused(
    server: &TestServer,
    case: &str,
    authorization: Option<&str>,
    code: Option<&str>,
) -> anyhow::Result<()> {
    for e in &ENDPOINTS {
        let answer = send(server, e, authorization).await?;
        assert_eq!(answer.status, 401, "{case} {} {}: {}", e.method, e.path, answer.text);
        let challenge = answer.header("www-authenticate");
        assert!(
            challenge.starts_with("Bearer realm=\"tributary\""),
            "{case}: {challenge}"
        );
        match code {
            Some(code) => assert!(challenge.contains(&format!("error=\"{code}\"")), "{case}: {challenge}"),
            None => assert!(!challenge.contains("error="), "{case}: {challenge}"),
        }
        let error = answer.json()?["error"].as_str().unwrap_or_default().to_string();
        assert!(!error.is_empty(), "{case}: {}", answer.text);
        if let Some(token) = authorization.and_then(|a| a.split(' ').nth(1)) {
            assert!(!answer.text.contains(token), "{case}: the answer echoes the token");
            assert!(!challenge.contains(token), "{case}: the challenge echoes the token");
        }
    }
    Ok(())
}

/// Valid tokens: the right scope is served, every other scope is `403`.
async fn assert_scopes(server: &TestServer, sign: impl Fn(&Value) -> anyhow::Result<String>) -> anyhow::Result<()> {
    for e in &ENDPOINTS {
        let granted = e.scope.unwrap_or("read");
        let token = sign(&claims("alice", granted))?;
        let answer = send(server, e, Some(&format!("Bearer {token}"))).await?;
        assert_eq!(
            answer.status, e.ok,
            "{} {} with {granted}: {}",
            e.method, e.path, answer.text
        );

        let others: Vec<&str> = ["read", "ingest", "admin"]
            .into_iter()
            .filter(|s| Some(*s) != e.scope)
            .collect();
        let token = sign(&claims("bob", &others.join(" ")))?;
        let answer = send(server, e, Some(&format!("Bearer {token}"))).await?;
        match e.scope {
            Some(scope) => {
                assert_eq!(
                    answer.status, 403,
                    "{} {} without {scope}: {}",
                    e.method, e.path, answer.text
                );
                let challenge = answer.header("www-authenticate");
                assert!(
                    challenge.contains("error=\"insufficient_scope\"")
                        && challenge.contains(&format!("scope=\"{scope}\"")),
                    "{challenge}"
                );
            }
            None => assert_eq!(answer.status, e.ok, "{}: {}", e.path, answer.text),
        }
        // A token with no scope at all gets nothing but an unknown path's 404.
        let token = sign(&json!({"sub": "carol", "aud": "tributary", "exp": now() + 3600}))?;
        let answer = send(server, e, Some(&format!("Bearer {token}"))).await?;
        let expected = if e.scope.is_some() { 403 } else { e.ok };
        assert_eq!(answer.status, expected, "{} without scopes: {}", e.path, answer.text);
    }
    // Liveness stays open, with or without a token.
    let healthz = call(server.addr, "GET", "/healthz", None, None).await?;
    assert_eq!(healthz.status, 200, "{}", healthz.text);
    let healthz = call(server.addr, "GET", "/healthz", Some("Bearer not-a-token"), None).await?;
    assert_eq!(healthz.status, 200, "{}", healthz.text);
    Ok(())
}

/// The token cases every server must refuse, signed with the server's own key by `sign`.
async fn assert_bad_tokens(server: &TestServer, sign: impl Fn(&Value) -> anyhow::Result<String>) -> anyhow::Result<()> {
    let all = "read ingest admin";
    assert_refused(server, "no header", None, None).await?;
    assert_refused(
        server,
        "basic scheme",
        Some("Basic YWxpY2U6c2VjcmV0"),
        Some("invalid_request"),
    )
    .await?;
    assert_refused(server, "bearer without token", Some("Bearer"), Some("invalid_request")).await?;
    assert_refused(server, "not a JWT", Some("Bearer not.a.jwt"), Some("invalid_token")).await?;
    let none = unsigned(&claims("mallory", all));
    assert_refused(
        server,
        "alg none",
        Some(&format!("Bearer {none}")),
        Some("invalid_token"),
    )
    .await?;

    let mut expired = claims("alice", all);
    expired["exp"] = json!(now() - 3600);
    let token = sign(&expired)?;
    assert_refused(
        server,
        "expired",
        Some(&format!("Bearer {token}")),
        Some("invalid_token"),
    )
    .await?;

    let mut early = claims("alice", all);
    early["nbf"] = json!(now() + 3600);
    let token = sign(&early)?;
    assert_refused(
        server,
        "not yet valid",
        Some(&format!("Bearer {token}")),
        Some("invalid_token"),
    )
    .await?;

    let mut audience = claims("alice", all);
    audience["aud"] = json!("someone-else");
    let token = sign(&audience)?;
    assert_refused(
        server,
        "wrong audience",
        Some(&format!("Bearer {token}")),
        Some("invalid_token"),
    )
    .await?;

    let mut no_audience = claims("alice", all);
    if let Some(c) = no_audience.as_object_mut() {
        c.remove("aud");
    }
    let token = sign(&no_audience)?;
    assert_refused(
        server,
        "no audience",
        Some(&format!("Bearer {token}")),
        Some("invalid_token"),
    )
    .await?;

    let mut no_expiry = claims("alice", all);
    if let Some(c) = no_expiry.as_object_mut() {
        c.remove("exp");
    }
    let token = sign(&no_expiry)?;
    assert_refused(
        server,
        "no expiry",
        Some(&format!("Bearer {token}")),
        Some("invalid_token"),
    )
    .await?;

    // A valid token with its signature replaced.
    let token = sign(&claims("alice", all))?;
    let (signed, _) = token.rsplit_once('.').unwrap_or_default();
    let forged = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(b"forged signature bytes"));
    assert_refused(
        server,
        "bad signature",
        Some(&format!("Bearer {forged}")),
        Some("invalid_token"),
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_server_auth_matrix_over_every_endpoint() -> anyhow::Result<()> {
    let (run, server) = serve_ingest_only(ApiConfig {
        auth: hs256_auth(),
        ..ApiConfig::default()
    })
    .await?;
    let sign = |c: &Value| hs256(SECRET, c);
    assert_bad_tokens(&server, sign).await?;
    // Signed with another secret, or with the right algorithm family's other member.
    let other = hs256(
        "another-secret-0123456789abcdef-012345",
        &claims("alice", "read ingest admin"),
    )?;
    assert_refused(
        &server,
        "other secret",
        Some(&format!("Bearer {other}")),
        Some("invalid_token"),
    )
    .await?;
    let rs = rs256(&claims("alice", "read ingest admin"))?;
    assert_refused(
        &server,
        "RS256 token",
        Some(&format!("Bearer {rs}")),
        Some("invalid_token"),
    )
    .await?;
    assert_scopes(&server, sign).await?;
    server.stop().await?;
    run.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_server_auth_matrix_over_every_endpoint() -> anyhow::Result<()> {
    let (run, server) = serve_ingest_only(ApiConfig {
        auth: AuthConfig::jwt(JwtConfig::new(JwtKey::Rs256 {
            public_key_pem: RS256_PUBLIC.to_string(),
        })),
        ..ApiConfig::default()
    })
    .await?;
    assert_bad_tokens(&server, rs256).await?;
    // An HS256 token "signed" with the public key (the classic algorithm confusion).
    let confused = hs256(RS256_PUBLIC, &claims("alice", "read ingest admin"))?;
    assert_refused(
        &server,
        "HS256 with the public key",
        Some(&format!("Bearer {confused}")),
        Some("invalid_token"),
    )
    .await?;
    assert_scopes(&server, rs256).await?;
    server.stop().await?;
    run.shutdown().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_without_authentication_is_refused_unless_asked_for_on_loopback() -> anyhow::Result<()> {
    let run = StartedPipeline::start(|| {
        Ok(Runtime::start(RuntimeConfig::with_workers(1), |p| {
            iot::build(p, &HttpIngestOnly)
        })?)
    })
    .await?;
    // Not configured at all: `serve` refuses even on loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let refused = tributary::queries::serve(listener, run.state()?, async {}).await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("no authentication configured"), "{message}");
    // Asked for, on an address other hosts reach: refused before any socket is opened.
    let open = AuthConfig::unauthenticated_loopback();
    let message = open
        .check_bind("0.0.0.0:8080".parse()?)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("refusing to serve without authentication on 0.0.0.0:8080"),
        "{message}"
    );
    run.shutdown().await
}
