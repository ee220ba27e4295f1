//! Who is asking, and whether they may.
//!
//! [`identify`] runs on every request: it reads `Authorization: Bearer <token>`, looks the
//! token up in the gateway's live copy of the trust bucket and leaves a [`Caller`] in the
//! request. Each router then checks the caller against the namespace and role its routes
//! need ([`native_access`] for `/v1`, [`guarded`] for the seeds' APIs, which answer in their
//! own error shapes), and [`Caller::require`] is there for handlers whose namespace is in the
//! body. `/health`, `/ready`, `/metrics`, `/openapi.json` and the pages of `/console/` and
//! `/docs/` (which call the API with the token their user gives) check nothing.

use axum::Router;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{FromRequestParts, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use ontime_core::ErrorCode;
use ontime_core::id::Namespace;
use ontime_core::trust::access::{Grant, Role, Scope, split_token};
use ontime_nats::TrustView;
use sha2::{Digest, Sha256};

use crate::config::Auth;
use crate::error::ApiError;
use crate::state::AppState;

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Tokens are off: anyone may do anything.
    Everyone,
    /// A valid token.
    Token(Grant),
    /// No token, or one that is unknown, revoked or expired; why, for the answer.
    Anonymous(&'static str),
}

impl Caller {
    /// Ok when the caller may act as `role` in `namespace`; 401 or 403 otherwise.
    pub fn require(&self, role: Role, namespace: &Namespace) -> Result<(), ApiError> {
        match self {
            Self::Everyone => Ok(()),
            Self::Anonymous(why) => Err(ApiError::new(ErrorCode::Unauthorized, *why)),
            Self::Token(grant) if grant.allows(role, namespace) => Ok(()),
            Self::Token(grant) => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "token {} may not {} in namespace {namespace}",
                    grant.token_id,
                    act(role)
                ),
            )),
        }
    }

    /// Ok when the caller has `role` in at least one namespace (routes that touch no
    /// namespace's data, such as a schedule's preview).
    pub fn require_any(&self, role: Role) -> Result<(), ApiError> {
        match self {
            Self::Everyone => Ok(()),
            Self::Anonymous(why) => Err(ApiError::new(ErrorCode::Unauthorized, *why)),
            Self::Token(grant) if grant.role >= role => Ok(()),
            Self::Token(grant) => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("token {} may not {}", grant.token_id, act(role)),
            )),
        }
    }

    /// The namespaces in which the caller has `role`: 401 or 403 if there are none.
    pub fn scope_for(&self, role: Role) -> Result<Scope, ApiError> {
        self.require_any(role)?;
        self.scope()
            .map(|(_, scope)| scope)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, NO_TOKEN))
    }

    /// What the caller may see and grant: every namespace when tokens are off.
    pub fn scope(&self) -> Option<(Role, Scope)> {
        match self {
            Self::Everyone => Some((Role::Admin, Scope::All)),
            Self::Token(grant) => Some((grant.role, grant.scope.clone())),
            Self::Anonymous(_) => None,
        }
    }
}

fn act(role: Role) -> &'static str {
    match role {
        Role::Read => "read",
        Role::Write => "write",
        Role::Command => "run commands",
        Role::Admin => "administer",
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    /// The caller [`identify`] found; a request it did not see is nobody's.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller::Anonymous(NO_TOKEN)))
    }
}

const NO_TOKEN: &str = "this route needs a token: send `Authorization: Bearer <token>`";
const BAD_TOKEN: &str = "the token is unknown, revoked or expired";

/// Finds a request's caller.
pub struct Authenticator {
    auth: Auth,
    /// SHA-256 of the operator's admin token, compared digest to digest.
    admin: Option<[u8; 32]>,
    trust: TrustView,
}

impl Authenticator {
    pub fn new(auth: Auth, trust: TrustView) -> Self {
        let admin = match &auth {
            Auth::Tokens {
                admin_token: Some(token),
            } => Some(Sha256::digest(token.as_bytes()).into()),
            _ => None,
        };
        Self { auth, admin, trust }
    }

    pub fn identify(&self, headers: &HeaderMap) -> Caller {
        if self.auth == Auth::Off {
            return Caller::Everyone;
        }
        let Some(token) = bearer(headers) else {
            return Caller::Anonymous(NO_TOKEN);
        };
        if self
            .admin
            .is_some_and(|admin| <[u8; 32]>::from(Sha256::digest(token.as_bytes())) == admin)
        {
            return Caller::Token(Grant {
                token_id: "operator".into(),
                role: Role::Admin,
                scope: Scope::All,
            });
        }
        split_token(token)
            .and_then(|(id, secret)| {
                let record = self.trust.token(id)?;
                record.verify(secret, Utc::now()).then(|| record.grant())
            })
            .map_or(Caller::Anonymous(BAD_TOKEN), Caller::Token)
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Leaves the request's [`Caller`] in its extensions, for the checks downstream.
pub async fn identify(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let caller = state.auth.identify(request.headers());
    if let Caller::Token(grant) = &caller {
        tracing::Span::current().record("token", grant.token_id.as_str());
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The role a method needs: reading for GET and HEAD, `writes` for anything else.
fn role_of(method: &Method, writes: Role) -> Role {
    if matches!(*method, Method::GET | Method::HEAD) {
        Role::Read
    } else {
        writes
    }
}

/// The native routes' check: the namespace of the path (`{ns}`), or any namespace for a
/// route without one; reads need `read`, anything else `writes`.
pub fn native_access(
    writes: Role,
) -> impl Fn(Caller, Result<RawPathParams, RawPathParamsRejection>, Request, Next) -> NativeCheck + Clone
{
    move |caller, params, request, next| {
        let role = role_of(request.method(), writes);
        let namespace = match &params {
            Ok(params) => params
                .iter()
                .find(|(name, _)| *name == "ns")
                .map(|(_, value)| Namespace::parse(value).ok()),
            // A parameter that is not UTF-8: the route refuses it.
            Err(_) => Some(None),
        };
        let verdict = match namespace {
            None => caller.require_any(role),
            Some(Some(ns)) => caller.require(role, &ns),
            // Not a namespace: the route refuses it, and shows nothing, unless nobody asked.
            Some(None) => match caller {
                Caller::Anonymous(why) => Err(ApiError::new(ErrorCode::Unauthorized, why)),
                _ => Ok(()),
            },
        };
        Box::pin(async move {
            match verdict {
                Ok(()) => next.run(request).await,
                Err(e) => challenge(e.into_response()),
            }
        })
    }
}

/// The future of a check.
pub type NativeCheck = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// `router`'s routes, open only to callers allowed in `namespace` (reads need `read`,
/// anything else `write`), or to any caller with a token when `namespace` is `None` (the
/// handlers then check the namespace they read in the body). Refusals are answered as `E`,
/// the API's own error shape.
pub fn guarded<E>(router: Router<AppState>, namespace: Option<Namespace>) -> Router<AppState>
where
    E: From<ApiError> + IntoResponse + 'static,
{
    guarded_with::<E>(router, namespace, Role::Write)
}

/// [`guarded`], with the role anything but a read needs (`command` for an API whose writes
/// define commands).
pub fn guarded_with<E>(
    router: Router<AppState>,
    namespace: Option<Namespace>,
    writes: Role,
) -> Router<AppState>
where
    E: From<ApiError> + IntoResponse + 'static,
{
    router.route_layer(axum::middleware::from_fn(
        move |caller: Caller, request: Request, next: Next| {
            let role = role_of(request.method(), writes);
            let verdict = match &namespace {
                Some(ns) => caller.require(role, ns),
                None => caller.require_any(Role::Read),
            };
            async move {
                match verdict {
                    Ok(()) => next.run(request).await,
                    Err(e) => challenge(E::from(e).into_response()),
                }
            }
        },
    ))
}

/// A 401 says how to authenticate (RFC 6750).
pub fn challenge(mut response: Response) -> Response {
    if response.status() == axum::http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"ontime\""),
        );
    }
    response
}

/// The first admin token of an installation whose operator gave none: made by the first
/// gateway that starts with tokens on, and returned to it alone, to show once. `None` when
/// one was made before (by this gateway or another, now or at an earlier start).
pub async fn first_admin_token(
    topology: &ontime_nats::Topology,
) -> Result<Option<String>, ontime_nats::NatsError> {
    if !topology.trust.claim_bootstrap().await? {
        return Ok(None);
    }
    let (record, token) = ontime_core::trust::access::TokenRecord::issue(
        fresh_token(),
        "first admin".into(),
        Role::Admin,
        Scope::All,
        Utc::now(),
        None,
    );
    topology.trust.create_token(&record).await?;
    Ok(Some(token))
}

/// The random bytes of a new token.
pub fn fresh_token() -> ontime_core::trust::access::TokenRandom {
    ontime_core::trust::access::TokenRandom {
        id: rand::random(),
        secret: rand::random(),
        salt: rand::random(),
    }
}
