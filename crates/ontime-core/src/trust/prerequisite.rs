//! Prerequisites: named, per-namespace steps that alter a call before it is sent, attached
//! to HTTP targets by name (`"prerequisites": ["billing-oauth"]`). Their credentials are
//! secrets: stored sealed, never shown by a read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ValidationError;
use crate::target::{RESERVED_HEADERS, SECRET_MASK};

/// Longest prerequisite name.
pub const MAX_NAME_LEN: usize = 64;
/// Longest credential or URL.
const MAX_VALUE_LEN: usize = 8 * 1024;

/// What a prerequisite does to a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Prerequisite {
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// `Authorization: Basic base64(<username>:<password>)`.
    Basic { username: String, password: String },
    /// A fixed header; its value is kept as a secret. (`header`, not `name`: a stored
    /// prerequisite's `name` is its own.)
    Header { header: String, value: String },
    /// OAuth2 client credentials (RFC 6749 4.4): the token is fetched from `token_url`,
    /// cached until shortly before it expires, shared by the calls that need it, fetched
    /// again when a target answers 401, and sent as `Authorization: Bearer`.
    Oauth2 {
        token_url: String,
        client_id: String,
        client_secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
        /// How the client authenticates to the token endpoint: `basic` (the default, an
        /// `Authorization: Basic` header) or `body` (`client_id` and `client_secret` as form
        /// fields).
        #[serde(default)]
        client_auth: ClientAuth,
    },
}

/// How an OAuth2 client authenticates to its token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    #[default]
    Basic,
    Body,
}

impl Prerequisite {
    /// Checks every field; the error names it.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let filled = |field: &str, value: &str| {
            if value.is_empty() || value.len() > MAX_VALUE_LEN {
                Err(ValidationError::invalid(
                    field,
                    format!("{field} is 1 to {MAX_VALUE_LEN} bytes"),
                ))
            } else if value == SECRET_MASK {
                Err(ValidationError::invalid(
                    field,
                    "this is the mask reads show, not a secret; send the secret itself",
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Self::Bearer { token } => {
                filled("token", token)?;
                header_value("token", token)
            }
            Self::Basic { username, password } => {
                filled("username", username)?;
                if username.contains(':') {
                    return Err(ValidationError::invalid(
                        "username",
                        "username cannot contain ':'",
                    ));
                }
                filled("password", password)
            }
            Self::Header { header, value } => {
                filled("value", value)?;
                if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    return Err(ValidationError::invalid(
                        "header",
                        "not a valid header name",
                    ));
                }
                if RESERVED_HEADERS.contains(&header.to_ascii_lowercase().as_str()) {
                    return Err(ValidationError::invalid(
                        "header",
                        "this header is set by ontime and cannot be overridden",
                    ));
                }
                header_value("value", value)
            }
            Self::Oauth2 {
                token_url,
                client_id,
                client_secret,
                ..
            } => {
                filled("token_url", token_url)?;
                let url = url::Url::parse(token_url).map_err(|e| {
                    ValidationError::invalid("token_url", format!("not an absolute URL: {e}"))
                })?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(ValidationError::invalid(
                        "token_url",
                        "token_url must be an http or https URL with a host",
                    ));
                }
                filled("client_id", client_id)?;
                filled("client_secret", client_secret)
            }
        }
    }

    /// The URL the prerequisite itself calls, if any (the token endpoint), for the target
    /// guard.
    pub fn calls(&self) -> Option<&str> {
        match self {
            Self::Oauth2 { token_url, .. } => Some(token_url),
            _ => None,
        }
    }

    /// Applies `f` to every secret field (to seal or open them).
    pub fn map_secrets<E>(
        &mut self,
        mut f: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<(), E> {
        let secret = match self {
            Self::Bearer { token } => token,
            Self::Basic { password, .. } => password,
            Self::Header { value, .. } => value,
            Self::Oauth2 { client_secret, .. } => client_secret,
        };
        *secret = f(secret)?;
        Ok(())
    }

    /// The prerequisite as reads show it: every secret masked.
    pub fn masked(&self) -> Self {
        let mut shown = self.clone();
        let _ = shown.map_secrets(|_| Ok::<_, ()>(SECRET_MASK.to_owned()));
        shown
    }
}

fn header_value(field: &str, value: &str) -> Result<(), ValidationError> {
    if http::HeaderValue::from_str(value).is_err() {
        return Err(ValidationError::invalid(field, "not a valid header value"));
    }
    Ok(())
}

/// A prerequisite name: 1 to 64 of `A-Z a-z 0-9 - _`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "a prerequisite name is 1 to {MAX_NAME_LEN} of A-Z, a-z, 0-9, '-' and '_'"
        ));
    }
    Ok(())
}

/// A prerequisite as stored: its secret sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredPrerequisite {
    pub name: String,
    #[serde(flatten)]
    pub prerequisite: Prerequisite,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<Prerequisite, String> {
        let p: Prerequisite = serde_json::from_value(value).map_err(|e| e.to_string())?;
        p.validate().map_err(|e| e.field.unwrap_or_default())?;
        Ok(p)
    }

    #[test]
    fn each_kind_reads_and_checks_its_fields() {
        assert!(parse(json!({"kind": "bearer", "token": "abc"})).is_ok());
        assert!(parse(json!({"kind": "basic", "username": "u", "password": "p"})).is_ok());
        assert!(parse(json!({"kind": "header", "header": "X-Api-Key", "value": "k"})).is_ok());
        let oauth = parse(
            json!({"kind": "oauth2", "token_url": "https://auth.test/token",
            "client_id": "id", "client_secret": "s", "scope": "a b"}),
        )
        .unwrap();
        assert_eq!(oauth.calls(), Some("https://auth.test/token"));
        assert_eq!(
            parse(json!({"kind": "bearer", "token": ""})),
            Err("token".into())
        );
        assert_eq!(
            parse(json!({"kind": "bearer", "token": "a\nb"})),
            Err("token".into())
        );
        assert_eq!(
            parse(json!({"kind": "basic", "username": "a:b", "password": "p"})),
            Err("username".into())
        );
        assert_eq!(
            parse(json!({"kind": "header", "header": "webhook-signature", "value": "v"})),
            Err("header".into())
        );
        assert_eq!(
            parse(
                json!({"kind": "oauth2", "token_url": "ftp://x", "client_id": "i", "client_secret": "s"})
            ),
            Err("token_url".into())
        );
        assert_eq!(
            parse(json!({"kind": "bearer", "token": SECRET_MASK})),
            Err("token".into())
        );
        assert!(parse(json!({"kind": "bearer", "token": "t", "extra": 1})).is_err());
        assert!(parse(json!({"kind": "kerberos"})).is_err());
    }

    #[test]
    fn a_stored_prerequisite_reads_back_whatever_its_kind() {
        for p in [
            json!({"kind": "bearer", "token": "t"}),
            json!({"kind": "header", "header": "X-Key", "value": "v"}),
            json!({"kind": "oauth2", "token_url": "https://a.test/t", "client_id": "i", "client_secret": "s"}),
        ] {
            let stored = StoredPrerequisite {
                name: "n".into(),
                prerequisite: serde_json::from_value(p).unwrap(),
                updated_at: Utc::now(),
            };
            let text = serde_json::to_string(&stored).unwrap();
            assert_eq!(
                serde_json::from_str::<StoredPrerequisite>(&text).unwrap(),
                stored,
                "{text}"
            );
        }
    }

    #[test]
    fn secrets_are_mapped_and_masked_and_nothing_else() {
        let mut p = Prerequisite::Basic {
            username: "user".into(),
            password: "pw".into(),
        };
        p.map_secrets(|s| Ok::<_, ()>(format!("sealed({s})")))
            .unwrap();
        assert_eq!(
            p,
            Prerequisite::Basic {
                username: "user".into(),
                password: "sealed(pw)".into()
            }
        );
        let shown = serde_json::to_value(p.masked()).unwrap();
        assert_eq!(
            shown,
            json!({"kind": "basic", "username": "user", "password": SECRET_MASK})
        );
    }

    #[test]
    fn names_are_tokens() {
        assert!(check_name("billing-oauth_2").is_ok());
        for bad in ["", "a.b", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
