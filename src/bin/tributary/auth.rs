//! The demo's authentication settings, from the environment: the library takes them as
//! explicit config, only the binary reads variables.
//!
//! * `TRIBUTARY_JWT_SECRET` — HS256 secret: JWT auth on every endpoint but `/healthz`;
//! * `TRIBUTARY_JWT_PUBLIC_KEY_FILE` — RS256 public key (PEM) instead;
//! * `TRIBUTARY_JWT_AUDIENCE` — the accepted `aud` (default `tributary`).
//!
//! With neither key the demo serves without authentication, which the API allows on a
//! loopback address only; the demo says so in its log.

use std::net::SocketAddr;

use anyhow::Context;
use tributary::queries::http::{AuthConfig, JwtConfig, JwtKey, Secret};

/// Environment variable holding the HS256 secret.
pub const SECRET_VAR: &str = "TRIBUTARY_JWT_SECRET";
/// Environment variable naming the RS256 public key file.
pub const PUBLIC_KEY_VAR: &str = "TRIBUTARY_JWT_PUBLIC_KEY_FILE";
/// Environment variable holding the accepted audience.
pub const AUDIENCE_VAR: &str = "TRIBUTARY_JWT_AUDIENCE";

/// The authentication settings for a server on `listen`, checked against it.
pub fn from_env(listen: SocketAddr) -> anyhow::Result<AuthConfig> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let key = match (var(SECRET_VAR), var(PUBLIC_KEY_VAR)) {
        (Some(_), Some(_)) => anyhow::bail!("set either {SECRET_VAR} or {PUBLIC_KEY_VAR}, not both"),
        (Some(secret), None) => Some(JwtKey::Hs256 {
            secret: Secret::new(secret),
        }),
        (None, Some(path)) => Some(JwtKey::Rs256 {
            public_key_pem: std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the JWT public key {path} ({PUBLIC_KEY_VAR})"))?,
        }),
        (None, None) => None,
    };
    let auth = match key {
        Some(key) => {
            let mut jwt = JwtConfig::new(key);
            if let Some(audience) = var(AUDIENCE_VAR) {
                jwt.audience = audience;
            }
            AuthConfig::jwt(jwt)
        }
        None => AuthConfig::unauthenticated_loopback(),
    };
    auth.check_bind(listen)?;
    if auth.jwt.is_some() {
        tracing::info!("JWT authentication on: every endpoint but /healthz needs a bearer token");
    } else {
        tracing::warn!(
            "authentication is OFF (no {SECRET_VAR} or {PUBLIC_KEY_VAR}): every caller has every scope; allowed because {listen} is a loopback address"
        );
    }
    Ok(auth)
}
