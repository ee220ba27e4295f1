//! API tokens (`/v1/tokens`), each namespace's signing secrets
//! (`/v1/namespaces/{ns}/signing-secrets`) and prerequisites
//! (`/v1/namespaces/{ns}/prerequisites/{name}`). All live in the trust bucket; a secret is
//! shown once, when it is made, and never again: reads give an id, a hint or a mask.
//!
//! Managing tokens needs an admin token, and gives only what it has: an admin of some
//! namespaces sees, makes and revokes tokens within them only. Signing secrets and
//! prerequisites are read with `read` and changed with `admin` on their namespace.

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use ontime_core::id::Namespace;
use ontime_core::trust::access::{Role, Scope, TokenRecord};
use ontime_core::trust::prerequisite::{self, Prerequisite, StoredPrerequisite};
use ontime_core::trust::signing::SigningSecret;
use ontime_core::{ErrorCode, ValidationError};
use ontime_nats::trust::SigningKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::input::{self, IdPath, NamePath, NsPath};
use crate::protect;
use crate::state::AppState;

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(max_body_bytes);
    Router::new()
        .route(
            "/v1/tokens",
            get(list_tokens).post(create_token).layer(limit),
        )
        .route("/v1/tokens/{id}", get(get_token).delete(revoke_token))
        .route(
            "/v1/namespaces/{ns}/signing-secrets",
            get(list_signing_secrets)
                .post(create_signing_secret)
                .layer(limit),
        )
        .route(
            "/v1/namespaces/{ns}/signing-secrets/{id}",
            axum::routing::delete(delete_signing_secret),
        )
        .route("/v1/namespaces/{ns}/prerequisites", get(list_prerequisites))
        .route(
            "/v1/namespaces/{ns}/prerequisites/{name}",
            get(get_prerequisite)
                .put(put_prerequisite)
                .delete(delete_prerequisite)
                .layer(limit),
        )
}

/// A new token: its name, role and namespaces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for, for people: 1 to 100 characters.
    #[schema(example = "billing-ci", min_length = 1, max_length = 100)]
    pub name: String,
    pub role: Role,
    /// The namespaces it covers, or `["*"]` for all.
    #[schema(value_type = Vec<String>, example = json!(["billing"]))]
    pub namespaces: Scope,
    /// When it stops working; never if absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as reads show it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// The part of the token after `ot_` and before the next `_`.
    pub id: String,
    pub name: String,
    pub role: Role,
    #[schema(value_type = Vec<String>)]
    pub namespaces: Scope,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&TokenRecord> for TokenView {
    fn from(r: &TokenRecord) -> Self {
        Self {
            id: r.id.clone(),
            name: r.name.clone(),
            role: r.role,
            namespaces: r.namespaces.clone(),
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// A token just made: the only answer that carries it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The token: `ot_<id>_<secret>`. Shown this once; ontime keeps only a salted hash.
    pub token: String,
}

/// Tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub items: Vec<TokenView>,
}

/// The caller's role and scope when it may manage tokens.
fn token_admin(caller: &Caller) -> Result<Scope, ApiError> {
    caller.scope_for(Role::Admin)
}

/// Make a token.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "access",
    request_body = NewToken,
    responses(
        (status = 201, description = "Made; the answer is the only one that shows the token", body = IssuedToken),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let scope = token_admin(&caller)?;
    let body = input::body(body, state.config.max_body_bytes)?;
    let new: NewToken = ontime_core::error::from_json_slice(&body)?;
    if new.name.is_empty() || new.name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "name is 1 to 100 characters"));
    }
    if !scope.includes(&new.namespaces) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "a token can only be given namespaces its maker covers",
        ));
    }
    let now = Utc::now();
    if new.expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::invalid("expires_at", "expires_at is in the past"));
    }
    let (record, token) = TokenRecord::issue(
        crate::auth::fresh_token(),
        new.name,
        new.role,
        new.namespaces,
        now,
        new.expires_at,
    );
    state.topology.trust.create_token(&record).await?;
    settle(&state).await?;
    tracing::info!(token = %record.id, role = record.role.name(), "token made");
    let issued = IssuedToken {
        view: TokenView::from(&record),
        token,
    };
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// The tokens the caller covers.
#[utoipa::path(
    get, path = "/v1/tokens", tag = "access",
    responses(
        (status = 200, description = "Every token within the caller's namespaces", body = TokenList),
    )
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<TokenList>, ApiError> {
    let scope = token_admin(&caller)?;
    let items = state
        .trust
        .tokens()
        .iter()
        .filter(|t| scope.includes(&t.namespaces))
        .map(TokenView::from)
        .collect();
    Ok(Json(TokenList { items }))
}

fn visible_token(state: &AppState, caller: &Caller, id: &str) -> Result<TokenRecord, ApiError> {
    let scope = token_admin(caller)?;
    state
        .trust
        .token(id)
        .filter(|t| scope.includes(&t.namespaces))
        .ok_or_else(|| ApiError::not_found(format!("no token {id}")))
}

/// A token.
#[utoipa::path(
    get, path = "/v1/tokens/{id}", tag = "access",
    params(("id" = String, Path, description = "The token's id")),
    responses(
        (status = 200, description = "The token, without its secret", body = TokenView),
        (status = 404, description = "No such token within the caller's namespaces", body = ValidationError),
    )
)]
pub async fn get_token(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<Json<TokenView>, ApiError> {
    visible_token(&state, &caller, &id).map(|t| Json(TokenView::from(&t)))
}

/// Revoke a token: every gateway refuses it as soon as the change reaches it (within
/// milliseconds; NATS pushes it).
#[utoipa::path(
    delete, path = "/v1/tokens/{id}", tag = "access",
    params(("id" = String, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such token within the caller's namespaces", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    let token = visible_token(&state, &caller, &id)?;
    state.topology.trust.delete_token(&token.id).await?;
    settle(&state).await?;
    tracing::info!(token = %token.id, "token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// A signing secret as reads show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningSecretView {
    pub id: String,
    /// Enough to tell secrets apart, not to sign.
    pub hint: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<&SigningKey> for SigningSecretView {
    fn from(k: &SigningKey) -> Self {
        Self {
            id: k.id.clone(),
            hint: k.hint.clone(),
            created_at: k.created_at,
        }
    }
}

/// A signing secret just made or imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewSigningSecret {
    #[serde(flatten)]
    pub view: SigningSecretView,
    /// `whsec_…`: shown this once.
    pub secret: String,
}

/// What a new signing secret is.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigningSecretRequest {
    /// An existing `whsec_…` secret to import (24 to 64 bytes); a new one is generated when
    /// absent.
    #[serde(default)]
    pub secret: Option<String>,
}

/// A namespace's signing secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningSecretList {
    /// Every secret signs every call (`webhook-signature` carries one signature each); with
    /// none, calls are signed with a secret derived from the installation's key.
    pub items: Vec<SigningSecretView>,
}

/// The namespace's signing secrets.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/signing-secrets", tag = "access",
    params(("ns" = String, Path, description = "Namespace")),
    responses(
        (status = 200, description = "The secrets, by id and hint", body = SigningSecretList),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
    )
)]
pub async fn list_signing_secrets(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
) -> Json<SigningSecretList> {
    let items = state
        .trust
        .signing_keys(&ns)
        .iter()
        .map(SigningSecretView::from)
        .collect();
    Json(SigningSecretList { items })
}

/// Add a signing secret: generated, or imported. During a rotation the old and the new sign
/// together; delete the old one once every receiver has the new one.
#[utoipa::path(
    post, path = "/v1/namespaces/{ns}/signing-secrets", tag = "access",
    params(("ns" = String, Path, description = "Namespace")),
    request_body(content = SigningSecretRequest, description = "Optional: an existing secret to import"),
    responses(
        (status = 201, description = "Added; the only answer that shows the secret", body = NewSigningSecret),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 409, description = "The namespace has the most secrets it may (4)", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid, or the installation has no secret key", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn create_signing_secret(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = input::body(body, state.config.max_body_bytes)?;
    let request: SigningSecretRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SigningSecretRequest::default()
    } else {
        ontime_core::error::from_json_slice(&body)?
    };
    let key = protect::key(&state)?;
    if state.trust.signing_keys(&ns).len() >= MAX_SIGNING_SECRETS {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "a namespace has at most {MAX_SIGNING_SECRETS} signing secrets; delete one first"
            ),
        ));
    }
    let secret = match request.secret {
        Some(text) => {
            SigningSecret::parse(&text).map_err(|e| ApiError::invalid("secret", e.to_string()))?
        }
        None => SigningSecret::generate_from(rand::random()),
    };
    let exposed = secret.expose();
    let stored = SigningKey {
        id: short_id(),
        secret: protect::seal(key, &exposed),
        hint: secret.hint(),
        created_at: Utc::now(),
    };
    state.topology.trust.put_signing_key(&ns, &stored).await?;
    settle(&state).await?;
    let made = NewSigningSecret {
        view: SigningSecretView::from(&stored),
        secret: exposed,
    };
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

/// Most signing secrets of a namespace: enough for a rotation, few enough that every call's
/// signatures stay short.
const MAX_SIGNING_SECRETS: usize = 4;

/// Remove a signing secret: calls are no longer signed with it.
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/signing-secrets/{id}", tag = "access",
    params(("ns" = String, Path, description = "Namespace"), ("id" = String, Path, description = "The secret's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such secret", body = ValidationError),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn delete_signing_secret(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    IdPath(id): IdPath,
) -> Result<StatusCode, ApiError> {
    if !state.trust.signing_keys(&ns).iter().any(|k| k.id == id) {
        return Err(ApiError::not_found(format!(
            "namespace {ns} has no signing secret {id}"
        )));
    }
    state.topology.trust.delete_signing_key(&ns, &id).await?;
    settle(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A namespace's prerequisites, secrets masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrerequisiteList {
    pub items: Vec<StoredPrerequisite>,
}

fn shown(mut stored: StoredPrerequisite) -> StoredPrerequisite {
    stored.prerequisite = stored.prerequisite.masked();
    stored
}

fn prerequisite_name(name: &str) -> Result<(), ApiError> {
    prerequisite::check_name(name).map_err(|message| ApiError::invalid("name", message))
}

/// The namespace's prerequisites.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/prerequisites", tag = "access",
    params(("ns" = String, Path, description = "Namespace")),
    responses(
        (status = 200, description = "The prerequisites, their secrets masked", body = PrerequisiteList),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
    )
)]
pub async fn list_prerequisites(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
) -> Json<PrerequisiteList> {
    let items = state
        .trust
        .prerequisites(&ns)
        .into_iter()
        .map(shown)
        .collect();
    Json(PrerequisiteList { items })
}

/// A prerequisite.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/prerequisites/{name}", tag = "access",
    params(("ns" = String, Path, description = "Namespace"), ("name" = String, Path, description = "Prerequisite name")),
    responses(
        (status = 200, description = "The prerequisite, its secret masked", body = StoredPrerequisite),
        (status = 404, description = "No such prerequisite", body = ValidationError),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
    )
)]
pub async fn get_prerequisite(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    NamePath(name): NamePath,
) -> Result<Json<StoredPrerequisite>, ApiError> {
    prerequisite_name(&name)?;
    existing(&state, &ns, &name).map(|p| Json(shown(p)))
}

fn existing(state: &AppState, ns: &Namespace, name: &str) -> Result<StoredPrerequisite, ApiError> {
    state
        .trust
        .prerequisite(ns, name)
        .map(|(p, _)| p)
        .ok_or_else(|| ApiError::not_found(format!("namespace {ns} has no prerequisite {name}")))
}

/// Define a prerequisite, or replace it (calls made from then on use the new one).
#[utoipa::path(
    put, path = "/v1/namespaces/{ns}/prerequisites/{name}", tag = "access",
    params(("ns" = String, Path, description = "Namespace"), ("name" = String, Path, description = "Prerequisite name")),
    request_body = Prerequisite,
    responses(
        (status = 201, description = "Defined", body = StoredPrerequisite),
        (status = 200, description = "Replaced", body = StoredPrerequisite),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid, or the installation has no secret key", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn put_prerequisite(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    NamePath(name): NamePath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    prerequisite_name(&name)?;
    let body = input::body(body, state.config.max_body_bytes)?;
    let mut definition: Prerequisite = ontime_core::error::from_json_slice(&body)?;
    definition.validate()?;
    if let Some(url) = definition.calls() {
        state
            .config
            .guard
            .check_url(url)
            .map_err(|refusal| ApiError::invalid("token_url", refusal.to_string()))?;
    }
    let key = protect::key(&state)?;
    definition.map_secrets(|secret| Ok::<_, ValidationError>(protect::seal(key, secret)))?;
    let replaced = state.trust.prerequisite(&ns, &name).is_some();
    let stored = StoredPrerequisite {
        name,
        prerequisite: definition,
        updated_at: Utc::now(),
    };
    state.topology.trust.put_prerequisite(&ns, &stored).await?;
    settle(&state).await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(shown(stored))).into_response())
}

/// Remove a prerequisite. Targets that name it fail their calls until it is defined again.
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/prerequisites/{name}", tag = "access",
    params(("ns" = String, Path, description = "Namespace"), ("name" = String, Path, description = "Prerequisite name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such prerequisite", body = ValidationError),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn delete_prerequisite(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    NamePath(name): NamePath,
) -> Result<StatusCode, ApiError> {
    prerequisite_name(&name)?;
    existing(&state, &ns, &name)?;
    state.topology.trust.delete_prerequisite(&ns, &name).await?;
    settle(&state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Waits until this gateway's copy of the trust bucket has the change just made, so the
/// caller's next request sees it.
pub(crate) async fn settle(state: &AppState) -> Result<(), ApiError> {
    let revision = state.topology.trust.last_revision().await?;
    state.trust.reach(revision).await?;
    Ok(())
}

/// A short random id.
fn short_id() -> String {
    let bytes: [u8; 6] = rand::random();
    ontime_core::hex(&bytes)
}
