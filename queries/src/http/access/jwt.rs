//! Verifying bearer JWTs: signature (HS256 or RS256, only the configured one), `exp`, `nbf`,
//! `aud` and optionally `iss`, then the OAuth2-style space-separated `scope` claim.
//!
//! `alg: none` never verifies: the algorithm is fixed by the configured key, and a token
//! naming any other (or none) is refused before its signature is looked at.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::config::{AuthConfigError, JwtConfig, JwtKey};
use super::scope::ScopeSet;

/// Who made a request, as its token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`, if it has one.
    pub subject: Option<String>,
    /// The scopes the token grants.
    pub scopes: ScopeSet,
}

/// Why a token was refused. The messages name the problem, never the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization` header.
    #[error("missing bearer token: send `Authorization: Bearer <JWT>`")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("malformed Authorization header: expected `Bearer <JWT>`")]
    Malformed,
    /// Past `exp`.
    #[error("token expired")]
    Expired,
    /// Before `nbf`.
    #[error("token not valid yet")]
    NotYetValid,
    /// `aud` is not ours (or missing).
    #[error("token audience is not accepted")]
    WrongAudience,
    /// `iss` is not the configured one.
    #[error("token issuer is not accepted")]
    WrongIssuer,
    /// The signature does not verify with our key.
    #[error("token signature is invalid")]
    BadSignature,
    /// An algorithm other than the configured one (including `none`).
    #[error("token algorithm is not accepted")]
    WrongAlgorithm,
    /// Not a JWT, or missing a required claim.
    #[error("token is invalid: {0}")]
    Invalid(String),
}

impl TokenError {
    /// The RFC 6750 `error` code for `WWW-Authenticate`; `None` when no credentials were
    /// sent at all (the spec says to omit it then).
    pub fn oauth_code(&self) -> Option<&'static str> {
        match self {
            Self::Missing => None,
            Self::Malformed => Some("invalid_request"),
            _ => Some("invalid_token"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<String>,
    #[serde(default)]
    scope: String,
}

/// Verifies tokens with one key (see the module docs).
pub(crate) struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.validation.algorithms)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier {
    pub(crate) fn new(config: &JwtConfig) -> Result<Self, AuthConfigError> {
        let (key, algorithm) = match &config.key {
            JwtKey::Hs256 { secret } => (DecodingKey::from_secret(secret.expose().as_bytes()), Algorithm::HS256),
            JwtKey::Rs256 { public_key_pem } => (
                DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
                    .map_err(|e| AuthConfigError::BadPublicKey(e.to_string()))?,
                Algorithm::RS256,
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = config.leeway_seconds;
        validation.validate_nbf = true;
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
        }
        Ok(Self { key, validation })
    }

    /// Verifies the value of an `Authorization` header.
    pub(crate) fn verify(&self, authorization: Option<&str>) -> Result<Principal, TokenError> {
        let header = authorization.ok_or(TokenError::Missing)?;
        let token = bearer_token(header).ok_or(TokenError::Malformed)?;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| token_error(&e))?;
        Ok(Principal {
            subject: data.claims.sub.filter(|s| !s.is_empty()),
            scopes: ScopeSet::parse(&data.claims.scope),
        })
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive, RFC 7235).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then_some(token)
}

fn token_error(e: &jsonwebtoken::errors::Error) -> TokenError {
    match e.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::WrongAlgorithm,
        ErrorKind::MissingRequiredClaim(claim) if claim == "aud" => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => TokenError::Invalid(format!("missing `{claim}` claim")),
        // Header or claims that do not decode; jsonwebtoken's message names no token part.
        _ => TokenError::Invalid("not a well-formed JWT".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_one_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer a b"), None);
    }
}
