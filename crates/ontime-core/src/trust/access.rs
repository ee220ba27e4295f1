//! Who may do what: API tokens, their roles and the namespaces they cover.
//!
//! A token reads `ot_<id>_<secret>`. The id names its record (and is safe to show and log);
//! the secret is kept only as a salted HMAC-SHA256, so the bucket that holds the records
//! gives nobody a usable token. The secret is 32 random bytes, so a salted hash is as strong
//! as a slow password hash would be, without its cost on every request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::hex;
use crate::id::Namespace;

/// What a token may do, each role including the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read timers, executions, topics and the namespace's settings (never a secret).
    Read,
    /// Create, change, trigger and delete timers, topics and subscribers.
    Write,
    /// Also timers that run commands, in namespaces the operator enabled for them.
    Command,
    /// Manage the namespace's signing secrets and prerequisites, and tokens within its scope.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Command => "command",
            Self::Admin => "admin",
        }
    }
}

/// The namespaces a token covers: `["*"]` for all of them, or a list.
/// (Shown in the API's document as a list of strings.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub enum Scope {
    All,
    Only(Vec<Namespace>),
}

impl Scope {
    pub fn covers(&self, namespace: &Namespace) -> bool {
        match self {
            Self::All => true,
            Self::Only(list) => list.contains(namespace),
        }
    }

    /// Whether every namespace of `other` is in this scope.
    pub fn includes(&self, other: &Scope) -> bool {
        match (self, other) {
            (Self::All, _) => true,
            (Self::Only(_), Self::All) => false,
            (Self::Only(_), Self::Only(list)) => list.iter().all(|ns| self.covers(ns)),
        }
    }
}

impl TryFrom<Vec<String>> for Scope {
    type Error = String;

    fn try_from(list: Vec<String>) -> Result<Self, String> {
        if list.iter().any(|n| n == "*") {
            return if list.len() == 1 {
                Ok(Self::All)
            } else {
                Err("\"*\" stands for every namespace and cannot be listed with others".into())
            };
        }
        if list.is_empty() {
            return Err("a token needs at least one namespace, or \"*\" for all".into());
        }
        let mut namespaces = Vec::with_capacity(list.len());
        for name in list {
            let ns = Namespace::parse(&name).map_err(|e| format!("{name:?}: {}", e.message))?;
            if !namespaces.contains(&ns) {
                namespaces.push(ns);
            }
        }
        Ok(Self::Only(namespaces))
    }
}

impl From<Scope> for Vec<String> {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::All => vec!["*".into()],
            Scope::Only(list) => list.iter().map(|ns| ns.as_str().to_owned()).collect(),
        }
    }
}

/// What a token grants: its role over its namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token's id, for the log.
    pub token_id: String,
    pub role: Role,
    pub scope: Scope,
}

impl Grant {
    /// Whether the grant allows `role` in `namespace`.
    pub fn allows(&self, role: Role, namespace: &Namespace) -> bool {
        self.role >= role && self.scope.covers(namespace)
    }
}

/// A token as it is stored: everything but its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub namespaces: Scope,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The salt, base64url.
    pub salt: String,
    /// HMAC-SHA256 of the secret keyed by the salt, base64url.
    pub hash: String,
}

impl TokenRecord {
    /// A new token's record and the token itself, to be shown once. `id`, `secret` and `salt`
    /// are random bytes the caller draws.
    pub fn issue(
        random: TokenRandom,
        name: String,
        role: Role,
        namespaces: Scope,
        created_at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> (Self, String) {
        let id = hex(&random.id);
        let secret = URL_SAFE_NO_PAD.encode(random.secret);
        let token = format!("{TOKEN_PREFIX}{id}_{secret}");
        let record = Self {
            hash: URL_SAFE_NO_PAD
                .encode(mac(&random.salt, secret.as_bytes()).finalize().into_bytes()),
            salt: URL_SAFE_NO_PAD.encode(random.salt),
            id,
            name,
            role,
            namespaces,
            created_at,
            expires_at,
        };
        (record, token)
    }

    /// Whether `secret` is this token's secret, compared in constant time; an expired token
    /// matches nothing.
    pub fn verify(&self, secret: &str, now: DateTime<Utc>) -> bool {
        if self.expires_at.is_some_and(|at| at <= now) {
            return false;
        }
        let (Ok(salt), Ok(hash)) = (
            URL_SAFE_NO_PAD.decode(&self.salt),
            URL_SAFE_NO_PAD.decode(&self.hash),
        ) else {
            return false;
        };
        mac(&salt, secret.as_bytes()).verify_slice(&hash).is_ok()
    }

    pub fn grant(&self) -> Grant {
        Grant {
            token_id: self.id.clone(),
            role: self.role,
            scope: self.namespaces.clone(),
        }
    }
}

/// The random bytes a token is made of.
pub struct TokenRandom {
    pub id: [u8; 8],
    pub secret: [u8; 32],
    pub salt: [u8; 16],
}

/// Every token starts with this, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "ot_";

/// A presented token split into its id and secret; `None` when it is not one of ours.
pub fn split_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty())
        .then_some((id, secret))
}

fn mac(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(name: &str) -> Namespace {
        Namespace::parse(name).unwrap()
    }

    fn random(n: u8) -> TokenRandom {
        TokenRandom {
            id: [n; 8],
            secret: [n.wrapping_add(1); 32],
            salt: [n.wrapping_add(2); 16],
        }
    }

    #[test]
    fn an_issued_token_verifies_and_nothing_else_does() {
        let now = Utc::now();
        let (record, token) =
            TokenRecord::issue(random(7), "ci".into(), Role::Write, Scope::All, now, None);
        let (id, secret) = split_token(&token).unwrap();
        assert_eq!(id, record.id);
        assert!(record.verify(secret, now));
        assert!(!record.verify(&secret.replace('C', "D"), now));
        assert!(!record.verify("", now));
        let (other, _) =
            TokenRecord::issue(random(9), "x".into(), Role::Read, Scope::All, now, None);
        assert!(!other.verify(secret, now));
        assert!(
            !token.contains(&record.hash),
            "the stored hash is not the secret"
        );
    }

    #[test]
    fn an_expired_token_verifies_no_more() {
        let now = Utc::now();
        let at = now + chrono::Duration::seconds(10);
        let (record, token) =
            TokenRecord::issue(random(1), "t".into(), Role::Read, Scope::All, now, Some(at));
        let secret = split_token(&token).unwrap().1;
        assert!(record.verify(secret, now));
        assert!(!record.verify(secret, at));
    }

    #[test]
    fn roles_include_the_lesser_ones_within_the_scope() {
        let grant = Grant {
            token_id: "x".into(),
            role: Role::Write,
            scope: Scope::Only(vec![ns("billing")]),
        };
        assert!(grant.allows(Role::Read, &ns("billing")));
        assert!(grant.allows(Role::Write, &ns("billing")));
        assert!(!grant.allows(Role::Admin, &ns("billing")));
        assert!(!grant.allows(Role::Read, &ns("payroll")));
    }

    #[test]
    fn scopes_read_and_compare() {
        let all: Scope = serde_json::from_str(r#"["*"]"#).unwrap();
        assert_eq!(all, Scope::All);
        let two: Scope = serde_json::from_str(r#"["a","b","a"]"#).unwrap();
        assert_eq!(two, Scope::Only(vec![ns("a"), ns("b")]));
        assert!(all.includes(&two));
        assert!(!two.includes(&all));
        assert!(two.includes(&Scope::Only(vec![ns("b")])));
        assert!(!Scope::Only(vec![ns("b")]).includes(&two));
        for bad in [r#"[]"#, r#"["*","a"]"#, r#"["not a namespace!"]"#] {
            assert!(serde_json::from_str::<Scope>(bad).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&two).unwrap(), r#"["a","b"]"#);
    }

    #[test]
    fn only_our_tokens_split() {
        assert_eq!(
            split_token("ot_0123456789abcdef_secret"),
            Some(("0123456789abcdef", "secret"))
        );
        for bad in [
            "",
            "ot_",
            "ot_short_x",
            "xx_0123456789abcdef_s",
            "ot_0123456789abcdeg_s",
            "ot_0123456789abcdef_",
        ] {
            assert_eq!(split_token(bad), None, "{bad}");
        }
    }
}
