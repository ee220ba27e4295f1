//! What a call carries beyond its target, and what it may not reach: the target guard's
//! check of a literal address, the secret headers opened, the prerequisites applied (an
//! OAuth2 token fetched, shared and refreshed on a 401) and the secrets that sign it.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ontime_core::fire::Fire;
use ontime_core::id::Namespace;
use ontime_core::retry::AttemptClass;
use ontime_core::target::HttpTarget;
use ontime_core::trust::guard::TargetGuard;
use ontime_core::trust::prerequisite::Prerequisite;
use ontime_core::trust::seal::SecretKey;
use ontime_core::trust::signing::{self, SigningSecret};
use ontime_nats::TrustView;

use crate::call::{self, CallResult, Extra};
use crate::oauth::{ClientCredentials, TokenCache};

/// The worker's side of trust, shared by its calls.
pub struct Trust {
    pub view: TrustView,
    pub key: Option<SecretKey>,
    pub guard: Arc<TargetGuard>,
    pub tokens: TokenCache,
}

/// Why a call cannot be made as defined, and whether trying again may help.
struct Unready {
    class: AttemptClass,
    error: String,
}

impl Unready {
    fn for_good(error: String) -> Self {
        Self {
            class: AttemptClass::Final,
            error,
        }
    }

    fn for_now(error: String) -> Self {
        Self {
            class: AttemptClass::Retryable,
            error,
        }
    }
}

/// An OAuth2 token a call carries, to drop it if the target refuses it.
struct Fetched {
    cache_key: String,
    token: String,
}

impl Trust {
    /// Makes attempt `attempt` of `fire` to `target`, in namespace `ns`.
    pub async fn call(
        &self,
        http: &reqwest::Client,
        ns: &Namespace,
        target: &HttpTarget,
        fire: &Fire,
        attempt: u32,
        started_at: DateTime<Utc>,
    ) -> CallResult {
        let (extra, fetched) = match self.prepare(ns, target).await {
            Ok(ready) => ready,
            Err(unready) => return call::not_made(unready.class, unready.error),
        };
        let result = call::make(http, target, fire, attempt, started_at, &extra).await;
        if result.status_code != Some(401) || fetched.is_empty() {
            return result;
        }
        // The target refused an OAuth2 token: it may have been revoked or rotated before it
        // expired. Fetch fresh ones and try once more within this attempt.
        for f in &fetched {
            self.tokens.invalidate(&f.cache_key, &f.token);
        }
        match self.prepare(ns, target).await {
            Ok((extra, _)) => call::make(http, target, fire, attempt, started_at, &extra).await,
            Err(unready) => call::not_made(unready.class, unready.error),
        }
    }

    async fn prepare(
        &self,
        ns: &Namespace,
        target: &HttpTarget,
    ) -> Result<(Extra, Vec<Fetched>), Unready> {
        if let Err(refusal) = self.guard.check_url(&target.url) {
            return Err(Unready::for_good(format!(
                "refused by the target guard: {refusal}"
            )));
        }
        let mut extra = Extra::default();
        for (name, sealed) in &target.secret_headers {
            let value = self.open(sealed).map_err(|why| {
                Unready::for_good(format!("secret header {name} cannot be opened: {why}"))
            })?;
            extra.headers.push((name.clone(), value));
        }
        let mut fetched = Vec::new();
        for name in &target.prerequisites {
            let Some((stored, revision)) = self.view.prerequisite(ns, name) else {
                return Err(Unready::for_now(format!(
                    "namespace {ns} has no prerequisite {name:?}"
                )));
            };
            let cache_key = format!("{ns}/{name}/{revision}");
            let header = self
                .apply(&stored.prerequisite, &cache_key)
                .await
                .map_err(|e| e.within(name))?;
            if let Some(token) = header.token {
                fetched.push(Fetched { cache_key, token });
            }
            extra.headers.push((header.name, header.value));
        }
        extra.signing = self.signing_secrets(ns);
        Ok((extra, fetched))
    }

    /// The header a prerequisite adds, and the OAuth2 token in it, if it is one.
    async fn apply(&self, prerequisite: &Prerequisite, cache_key: &str) -> Result<Added, Unready> {
        let open = |sealed: &str| {
            self.open(sealed)
                .map_err(|why| Unready::for_good(format!("its secret cannot be opened: {why}")))
        };
        Ok(match prerequisite {
            Prerequisite::Bearer { token } => {
                Added::header("authorization", format!("Bearer {}", open(token)?))
            }
            Prerequisite::Basic { username, password } => {
                let pair = format!("{username}:{}", open(password)?);
                Added::header("authorization", format!("Basic {}", STANDARD.encode(pair)))
            }
            Prerequisite::Header { header, value } => Added::header(header, open(value)?),
            Prerequisite::Oauth2 {
                token_url,
                client_id,
                client_secret,
                scope,
                audience,
                client_auth,
            } => {
                let creds = ClientCredentials {
                    token_url: token_url.clone(),
                    client_id: client_id.clone(),
                    client_secret: open(client_secret)?,
                    scope: scope.clone(),
                    audience: audience.clone(),
                    auth: *client_auth,
                };
                // The token endpoint may be down for a moment: the policy retries.
                let token = self
                    .tokens
                    .token(cache_key, &creds)
                    .await
                    .map_err(|e| Unready::for_now(e.to_string()))?;
                Added {
                    name: "authorization".into(),
                    value: format!("Bearer {token}"),
                    token: Some(token),
                }
            }
        })
    }

    /// The namespace's signing secrets; with none, the one derived from the installation's
    /// key, so that every call is signed. None without a key.
    fn signing_secrets(&self, ns: &Namespace) -> Vec<SigningSecret> {
        let Some(key) = &self.key else {
            return Vec::new();
        };
        let own: Vec<SigningSecret> = self
            .view
            .signing_keys(ns)
            .iter()
            .filter_map(|stored| {
                let text = key
                    .open_str(&stored.secret)
                    .inspect_err(|e| tracing::warn!(error = %e, secret = %stored.id, "a signing secret cannot be opened"))
                    .ok()?;
                SigningSecret::parse(&text).ok()
            })
            .collect();
        if own.is_empty() {
            vec![signing::derived(key, ns.as_str())]
        } else {
            own
        }
    }

    fn open(&self, sealed: &str) -> Result<String, String> {
        let key = self
            .key
            .as_ref()
            .ok_or_else(|| "this worker has no secret key (ONTIME_SECRET_KEY)".to_owned())?;
        key.open_str(sealed).map_err(|e| e.to_string())
    }
}

/// A header a prerequisite adds.
struct Added {
    name: String,
    value: String,
    token: Option<String>,
}

impl Added {
    fn header(name: &str, value: String) -> Self {
        Self {
            name: name.to_owned(),
            value,
            token: None,
        }
    }
}

impl Unready {
    fn within(self, prerequisite: &str) -> Self {
        Self {
            error: format!("prerequisite {prerequisite}: {}", self.error),
            ..self
        }
    }
}
