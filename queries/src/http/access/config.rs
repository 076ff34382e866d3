//! Settings of authentication and rate limiting, and the rule that refuses to serve
//! without authentication anywhere but on loopback.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// How requests are authenticated. Exactly one of the two modes must be chosen: with
/// neither, every endpoint but `/healthz` answers `401` and [`serve`](crate::serve) refuses
/// to start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Verify `Authorization: Bearer <JWT>` on every endpoint but `/healthz`. Default: none.
    pub jwt: Option<JwtConfig>,
    /// Serve without authentication (every caller has every scope). Only on a loopback
    /// address: [`AuthConfig::check_bind`] refuses any other. Default: `false`.
    pub allow_unauthenticated_loopback: bool,
}

impl AuthConfig {
    /// Authentication off, for a server bound to loopback (demos, tests).
    pub fn unauthenticated_loopback() -> Self {
        Self {
            jwt: None,
            allow_unauthenticated_loopback: true,
        }
    }

    /// JWT bearer tokens verified with `jwt`.
    pub fn jwt(jwt: JwtConfig) -> Self {
        Self {
            jwt: Some(jwt),
            allow_unauthenticated_loopback: false,
        }
    }

    /// Checks the settings make sense on their own (one mode, a parsable key).
    pub fn validate(&self) -> Result<(), AuthConfigError> {
        match (&self.jwt, self.allow_unauthenticated_loopback) {
            (Some(_), true) => Err(AuthConfigError::TwoModes),
            (Some(jwt), false) => jwt.validate(),
            (None, _) => Ok(()),
        }
    }

    /// Whether a server may listen on `addr` with these settings: without JWT
    /// authentication only a loopback address is allowed, and only when
    /// `allow_unauthenticated_loopback` says so.
    pub fn check_bind(&self, addr: SocketAddr) -> Result<(), AuthConfigError> {
        self.validate()?;
        if self.jwt.is_some() {
            return Ok(());
        }
        if !self.allow_unauthenticated_loopback {
            return Err(AuthConfigError::NotConfigured);
        }
        if !addr.ip().is_loopback() {
            return Err(AuthConfigError::UnauthenticatedNotLoopback(addr));
        }
        Ok(())
    }
}

/// JWT verification settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// The key tokens are signed with; it also fixes the only accepted algorithm.
    pub key: JwtKey,
    /// The `aud` every token must carry. Default: `tributary`.
    #[serde(default = "JwtConfig::default_audience")]
    pub audience: String,
    /// The `iss` every token must carry, if set. Default: not checked.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds. Default: 30.
    #[serde(default = "JwtConfig::default_leeway_seconds")]
    pub leeway_seconds: u64,
}

impl JwtConfig {
    /// Default `audience`.
    pub const DEFAULT_AUDIENCE: &'static str = "tributary";
    /// Default `leeway_seconds`.
    pub const DEFAULT_LEEWAY_SECONDS: u64 = 30;

    /// Tokens signed with `key`, default audience and leeway.
    pub fn new(key: JwtKey) -> Self {
        Self {
            key,
            audience: Self::default_audience(),
            issuer: None,
            leeway_seconds: Self::DEFAULT_LEEWAY_SECONDS,
        }
    }

    fn default_audience() -> String {
        Self::DEFAULT_AUDIENCE.to_string()
    }

    fn default_leeway_seconds() -> u64 {
        Self::DEFAULT_LEEWAY_SECONDS
    }

    fn validate(&self) -> Result<(), AuthConfigError> {
        if self.audience.is_empty() {
            return Err(AuthConfigError::EmptyAudience);
        }
        match &self.key {
            JwtKey::Hs256 { secret } if secret.expose().len() < JwtKey::MIN_HS256_SECRET_BYTES => {
                Err(AuthConfigError::ShortSecret)
            }
            JwtKey::Hs256 { .. } => Ok(()),
            JwtKey::Rs256 { public_key_pem } => jsonwebtoken::DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
                .map(|_| ())
                .map_err(|e| AuthConfigError::BadPublicKey(e.to_string())),
        }
    }
}

/// The key JWTs are verified with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "alg", deny_unknown_fields)]
pub enum JwtKey {
    /// HMAC-SHA256 with a shared secret.
    #[serde(rename = "HS256")]
    Hs256 {
        /// The shared secret (at least 32 bytes).
        secret: Secret,
    },
    /// RSA-SHA256, verified with the issuer's public key.
    #[serde(rename = "RS256")]
    Rs256 {
        /// The public key, PEM (`-----BEGIN PUBLIC KEY-----` or `RSA PUBLIC KEY`).
        public_key_pem: String,
    },
}

impl JwtKey {
    /// Shortest accepted HS256 secret: 256 bits, the hash size (RFC 7518 §3.2).
    pub const MIN_HS256_SECRET_BYTES: usize = 32;
}

/// A secret that never shows in `Debug` output or serialized config, so logging a config
/// cannot leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the verifier only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Serialize for Secret {
    /// Serialized as `"[redacted]"`: a dumped config must not carry the secret.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// Per-client rate limit: a token bucket per token subject (or peer IP without one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second per client. Default: 100.
    pub requests_per_second: u32,
    /// Requests a client may make at once after being idle. Default: 200.
    pub burst: u32,
    /// Clients tracked at most; past it, clients whose bucket is full again are forgotten
    /// (which changes nothing for them). Default: 10,000.
    pub max_clients: usize,
}

impl RateLimitConfig {
    /// Default `requests_per_second`.
    pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 100;
    /// Default `burst`.
    pub const DEFAULT_BURST: u32 = 200;
    /// Default `max_clients`.
    pub const DEFAULT_MAX_CLIENTS: usize = 10_000;

    /// Checks every value is in range.
    pub fn validate(&self) -> Result<(), AuthConfigError> {
        if self.requests_per_second == 0 || self.burst == 0 || self.max_clients == 0 {
            return Err(AuthConfigError::ZeroRateLimit);
        }
        Ok(())
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            requests_per_second: Self::DEFAULT_REQUESTS_PER_SECOND,
            burst: Self::DEFAULT_BURST,
            max_clients: Self::DEFAULT_MAX_CLIENTS,
        }
    }
}

/// Why authentication or rate-limit settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthConfigError {
    /// Neither JWT nor unauthenticated mode was chosen.
    #[error(
        "no authentication configured: set a JWT key (TRIBUTARY_JWT_SECRET for HS256) or explicitly allow unauthenticated mode on a loopback address"
    )]
    NotConfigured,
    /// Unauthenticated mode asked for on an address other hosts can reach.
    #[error(
        "refusing to serve without authentication on {0}: unauthenticated mode is only allowed on a loopback address (127.0.0.1, ::1); set a JWT key (TRIBUTARY_JWT_SECRET) to listen on {0}"
    )]
    UnauthenticatedNotLoopback(SocketAddr),
    /// Both JWT and unauthenticated mode were chosen.
    #[error("choose either JWT authentication or unauthenticated loopback mode, not both")]
    TwoModes,
    /// An HS256 secret shorter than the hash.
    #[error("the HS256 secret must be at least {} bytes", JwtKey::MIN_HS256_SECRET_BYTES)]
    ShortSecret,
    /// An RS256 public key that does not parse.
    #[error("the RS256 public key is not a valid RSA public key in PEM: {0}")]
    BadPublicKey(String),
    /// An empty audience would match no token.
    #[error("the JWT audience must not be empty")]
    EmptyAudience,
    /// A zero rate, burst or client count would refuse every request.
    #[error("rate_limit.requests_per_second, burst and max_clients must be at least 1")]
    ZeroRateLimit,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn unauthenticated_mode_only_on_loopback_and_only_when_asked() {
        let open = AuthConfig::unauthenticated_loopback();
        assert_eq!(open.check_bind(addr("127.0.0.1:8080")), Ok(()));
        assert_eq!(open.check_bind(addr("[::1]:8080")), Ok(()));
        assert_eq!(
            open.check_bind(addr("0.0.0.0:8080")),
            Err(AuthConfigError::UnauthenticatedNotLoopback(addr("0.0.0.0:8080")))
        );
        assert!(matches!(
            open.check_bind(addr("[::]:8080")),
            Err(AuthConfigError::UnauthenticatedNotLoopback(_))
        ));
        assert_eq!(
            AuthConfig::default().check_bind(addr("127.0.0.1:8080")),
            Err(AuthConfigError::NotConfigured)
        );
        let jwt = AuthConfig::jwt(JwtConfig::new(JwtKey::Hs256 {
            secret: Secret::new("0123456789abcdef0123456789abcdef"),
        }));
        assert_eq!(jwt.check_bind(addr("0.0.0.0:8080")), Ok(()));
    }

    #[test]
    fn bad_keys_and_mixed_modes_are_refused() {
        let short = AuthConfig::jwt(JwtConfig::new(JwtKey::Hs256 {
            secret: Secret::new("short"),
        }));
        assert_eq!(short.validate(), Err(AuthConfigError::ShortSecret));
        let bad_pem = AuthConfig::jwt(JwtConfig::new(JwtKey::Rs256 {
            public_key_pem: "not a key".into(),
        }));
        assert!(matches!(bad_pem.validate(), Err(AuthConfigError::BadPublicKey(_))));
        let both = AuthConfig {
            allow_unauthenticated_loopback: true,
            ..short
        };
        assert_eq!(both.validate(), Err(AuthConfigError::TwoModes));
        let zero = RateLimitConfig {
            burst: 0,
            ..RateLimitConfig::default()
        };
        assert_eq!(zero.validate(), Err(AuthConfigError::ZeroRateLimit));
    }

    #[test]
    fn the_secret_never_shows_in_debug_or_serialized_config() -> Result<(), serde_json::Error> {
        let secret = "do-not-print-me-0123456789abcdefgh";
        let config: AuthConfig = serde_json::from_value(serde_json::json!({
            "jwt": {"key": {"alg": "HS256", "secret": secret}}
        }))?;
        assert_eq!(config.validate(), Ok(()));
        let debug = format!("{config:?}");
        let json = serde_json::to_string(&config)?;
        assert!(!debug.contains(secret), "{debug}");
        assert!(!json.contains(secret), "{json}");
        assert!(json.contains("[redacted]"), "{json}");
        Ok(())
    }
}
