//! Access control for every route: authentication (JWT bearer tokens, or none on
//! loopback), the route's required scope, a per-client rate limit, the audit log of ingest
//! and admin calls, and the request metrics.
//!
//! It is one middleware layered over the whole router ([`enforce`]), so a route added
//! later is covered without touching its handler; what a route needs comes from the
//! route → access table in [`scope`]. Per request:
//!
//! 1. look up the matched route's [`Access`]; `/healthz` is public and skips the rest;
//! 2. verify the bearer token (or, in unauthenticated mode, grant every scope);
//! 3. rate-limit the client — the token's subject, else the peer IP — `429` with
//!    `Retry-After` (before answering a bad token, so guessing tokens is limited too);
//! 4. a refused token is `401` with `WWW-Authenticate: Bearer …`; a missing scope `403`;
//! 5. run the handler, then audit ingest/admin calls and record the request's latency.
//!
//! Nothing here logs or audits a token: refusals name the reason only.

mod config;
mod jwt;
mod rate_limit;
mod scope;

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use config::{AuthConfig, AuthConfigError, JwtConfig, JwtKey, RateLimitConfig, Secret};
pub use jwt::{Principal, TokenError};
pub use scope::{Access, Scope, ScopeSet, required_access};

use super::{ApiError, ApiState};
use crate::audit::AuditEntry;
use jwt::JwtVerifier;
use rate_limit::RateLimiter;

/// The realm named in `WWW-Authenticate`.
const REALM: &str = "tributary";

/// How requests are authenticated, built once from [`AuthConfig`].
#[derive(Debug)]
enum Mode {
    Jwt(Box<JwtVerifier>),
    Unauthenticated,
    NotConfigured,
}

/// Authentication and rate limiting of one server (see the module docs).
#[derive(Debug)]
pub struct AccessControl {
    mode: Mode,
    limiter: RateLimiter,
}

/// Why a request was not authenticated.
#[derive(Debug)]
enum AuthFailure {
    Token(TokenError),
    NotConfigured,
}

impl AccessControl {
    /// Access control with `auth` and `rate_limit`, once both are checked.
    pub fn new(auth: &AuthConfig, rate_limit: &RateLimitConfig) -> Result<Self, AuthConfigError> {
        auth.validate()?;
        rate_limit.validate()?;
        let mode = match (&auth.jwt, auth.allow_unauthenticated_loopback) {
            (Some(jwt), _) => Mode::Jwt(Box::new(JwtVerifier::new(jwt)?)),
            (None, true) => Mode::Unauthenticated,
            (None, false) => Mode::NotConfigured,
        };
        Ok(Self {
            mode,
            limiter: RateLimiter::new(rate_limit),
        })
    }

    /// Access control that authenticates nobody: the state before authentication is
    /// chosen, so a server nobody configured is closed rather than open.
    pub fn deny_all(rate_limit: &RateLimitConfig) -> Self {
        Self {
            mode: Mode::NotConfigured,
            limiter: RateLimiter::new(rate_limit),
        }
    }

    fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthFailure> {
        match &self.mode {
            Mode::Jwt(verifier) => verifier.verify(authorization).map_err(AuthFailure::Token),
            Mode::Unauthenticated => Ok(Principal {
                subject: None,
                scopes: ScopeSet::all(),
            }),
            Mode::NotConfigured => Err(AuthFailure::NotConfigured),
        }
    }
}

/// The middleware (see the module docs).
pub(crate) async fn enforce(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let access = required_access(route.as_deref());

    let (response, who) = if access == Access::Public {
        (next.run(request).await, None)
    } else {
        // A header that is not text cannot be a bearer token: it verifies as malformed.
        let authorization = request
            .headers()
            .get(AUTHORIZATION)
            .map(|value| value.to_str().unwrap_or(""));
        let principal = state.access.authenticate(authorization);
        let client = match &principal {
            Ok(Principal {
                subject: Some(subject), ..
            }) => format!("sub:{subject}"),
            _ => format!("ip:{}", peer.as_deref().unwrap_or("unknown")),
        };
        let who = match &principal {
            Ok(p) => p.subject.clone().unwrap_or_else(|| "anonymous".to_string()),
            Err(_) => "unauthenticated".to_string(),
        };
        let response = match (state.access.limiter.check(&client, Instant::now()), principal) {
            (Err(wait), _) => rate_limited(wait.as_secs_f64()),
            (Ok(()), Err(failure)) => {
                tracing::debug!(route = route.as_deref().unwrap_or("unmatched"), reason = ?failure, "request not authenticated");
                unauthorized(&failure)
            }
            (Ok(()), Ok(principal)) => match access {
                Access::Scope(scope) if !principal.scopes.contains(scope) => {
                    tracing::debug!(route = route.as_deref().unwrap_or("unmatched"), %scope, who = %who, "request lacks a scope");
                    forbidden(scope)
                }
                _ => next.run(request).await,
            },
        };
        (response, Some(who))
    };

    let status = response.status().as_u16();
    if access.is_audited() {
        state.audit.record(AuditEntry {
            at_ms: now_ms(),
            who: who.unwrap_or_default(),
            client: peer,
            method: method.to_string(),
            path,
            status,
            outcome: AuditEntry::outcome_of(status).to_string(),
        });
    }
    state
        .metrics
        .observe_request(route.as_deref(), method.as_str(), status, started.elapsed());
    response
}

fn unauthorized(failure: &AuthFailure) -> Response {
    let (message, challenge) = match failure {
        AuthFailure::NotConfigured => (
            "authentication is not configured on this server".to_string(),
            format!("Bearer realm=\"{REALM}\""),
        ),
        AuthFailure::Token(e) => {
            let challenge = match e.oauth_code() {
                Some(code) => format!("Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{e}\""),
                None => format!("Bearer realm=\"{REALM}\""),
            };
            (e.to_string(), challenge)
        }
    };
    with_challenge(ApiError::new(StatusCode::UNAUTHORIZED, message), &challenge)
}

fn forbidden(scope: Scope) -> Response {
    let challenge = format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{scope}\"");
    with_challenge(
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this endpoint needs the `{scope}` scope"),
        ),
        &challenge,
    )
}

fn with_challenge(error: ApiError, challenge: &str) -> Response {
    match HeaderValue::from_str(challenge) {
        Ok(value) => error.with_header(WWW_AUTHENTICATE, value).into_response(),
        Err(_) => error.into_response(),
    }
}

fn rate_limited(wait_seconds: f64) -> Response {
    // Whole seconds, rounded up, at least one (Retry-After has no fractions).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let seconds = wait_seconds.ceil().max(1.0) as u32;
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!("rate limit exceeded; retry in {seconds} s"),
    )
    .with_header(RETRY_AFTER, HeaderValue::from(seconds))
    .into_response()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
