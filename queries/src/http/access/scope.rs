//! Scopes and the route → required-access table.
//!
//! Every route of the router is looked up here by its path pattern, so a route added
//! without an entry is not open by accident: it needs the `admin` scope until it is listed.
//! Scopes do not imply each other; a token that should query and ingest carries both.

use std::fmt;

/// A permission a token can grant, in its space-separated `scope` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Query: SQL, readiness.
    Read,
    /// Write records into streams.
    Ingest,
    /// Operate the server: metrics, and any route not listed in [`required_access`].
    Admin,
}

impl Scope {
    /// The scope's name in the `scope` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Ingest => "ingest",
            Self::Admin => "admin",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Self::Read),
            "ingest" => Some(Self::Ingest),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scopes a token grants; unknown names are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet {
    read: bool,
    ingest: bool,
    admin: bool,
}

impl ScopeSet {
    /// Every scope (unauthenticated loopback mode).
    pub fn all() -> Self {
        Self {
            read: true,
            ingest: true,
            admin: true,
        }
    }

    /// Parses an OAuth2 `scope` claim: names separated by spaces.
    pub fn parse(claim: &str) -> Self {
        let mut set = Self::default();
        for scope in claim.split(' ').filter_map(Scope::parse) {
            match scope {
                Scope::Read => set.read = true,
                Scope::Ingest => set.ingest = true,
                Scope::Admin => set.admin = true,
            }
        }
        set
    }

    /// Whether `scope` is granted.
    pub fn contains(&self, scope: Scope) -> bool {
        match scope {
            Scope::Read => self.read,
            Scope::Ingest => self.ingest,
            Scope::Admin => self.admin,
        }
    }
}

/// What a request needs to be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (liveness only).
    Public,
    /// A valid token, whatever its scopes (an unknown path: answering `404` to anyone
    /// would tell strangers which paths exist).
    Authenticated,
    /// A valid token granting this scope.
    Scope(Scope),
}

impl Access {
    /// Whether calls needing this access go to the audit log: ingest and admin calls.
    pub fn is_audited(self) -> bool {
        matches!(self, Self::Scope(Scope::Ingest | Scope::Admin))
    }
}

/// The access the route `route` (its path pattern, e.g. `/v1/ingest/{stream}`; `None`
/// when no route matched) requires, whatever the method.
pub fn required_access(route: Option<&str>) -> Access {
    match route {
        None => Access::Authenticated,
        Some("/healthz") => Access::Public,
        Some("/readyz" | "/v1/sql" | "/v1/subscribe/{projection}") => Access::Scope(Scope::Read),
        Some("/v1/ingest/{stream}") => Access::Scope(Scope::Ingest),
        Some(_) => Access::Scope(Scope::Admin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_claim_is_space_separated_and_ignores_unknown_names() {
        let set = ScopeSet::parse("read  ingest openid");
        assert!(set.contains(Scope::Read));
        assert!(set.contains(Scope::Ingest));
        assert!(!set.contains(Scope::Admin));
        assert!(!ScopeSet::parse("readingest").contains(Scope::Read));
        assert!(!ScopeSet::parse("").contains(Scope::Read));
    }

    #[test]
    fn unlisted_routes_need_admin_and_only_healthz_is_public() {
        assert_eq!(required_access(Some("/healthz")), Access::Public);
        assert_eq!(required_access(Some("/v1/sql")), Access::Scope(Scope::Read));
        assert_eq!(
            required_access(Some("/v1/subscribe/{projection}")),
            Access::Scope(Scope::Read)
        );
        assert_eq!(
            required_access(Some("/v1/ingest/{stream}")),
            Access::Scope(Scope::Ingest)
        );
        assert_eq!(required_access(Some("/v1/new-thing")), Access::Scope(Scope::Admin));
        assert_eq!(required_access(None), Access::Authenticated);
        assert!(Access::Scope(Scope::Ingest).is_audited());
        assert!(Access::Scope(Scope::Admin).is_audited());
        assert!(!Access::Scope(Scope::Read).is_audited());
    }
}
