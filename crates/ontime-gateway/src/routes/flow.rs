//! Flow limits: at most so many calls a second and so many at once, for a namespace's calls
//! (`/v1/namespaces/{ns}/limits`) or for those to one host (`…/hosts/{host}/limits`). Every
//! worker applies them together; a call over a limit waits for its turn.

use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use ontime_core::ValidationError;
use ontime_core::flow::FlowLimit;
use ontime_core::id::Namespace;
use ontime_nats::trust::StoredFlowLimit;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::input::{self, HostPath, NsPath};
use crate::routes::trust::settle;
use crate::state::AppState;

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(max_body_bytes);
    Router::new()
        .route(
            "/v1/namespaces/{ns}/limits",
            get(get_namespace_limit)
                .put(put_namespace_limit)
                .delete(delete_namespace_limit)
                .layer(limit),
        )
        .route(
            "/v1/namespaces/{ns}/hosts/{host}/limits",
            get(get_host_limit)
                .put(put_host_limit)
                .delete(delete_host_limit)
                .layer(limit),
        )
        .route("/v1/namespaces/{ns}/hosts", get(list_host_limits))
}

/// A flow limit in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowLimitView {
    /// The host whose calls it covers; absent for the namespace's limit, which covers all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(flatten)]
    pub limit: FlowLimit,
}

/// The hosts of a namespace that have a limit of their own.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowLimitList {
    pub items: Vec<FlowLimitView>,
}

fn view(stored: StoredFlowLimit) -> FlowLimitView {
    FlowLimitView {
        host: stored.host,
        limit: stored.limit,
    }
}

fn current(
    state: &AppState,
    ns: &Namespace,
    host: Option<&str>,
) -> Result<FlowLimitView, ApiError> {
    let limit = state.trust.flow_limit(ns, host).ok_or_else(|| {
        ApiError::not_found(match host {
            Some(host) => format!("namespace {ns} has no limit for host {host}"),
            None => format!("namespace {ns} has no limit"),
        })
    })?;
    Ok(FlowLimitView {
        host: host.map(str::to_owned),
        limit,
    })
}

async fn put(
    state: &AppState,
    ns: &Namespace,
    host: Option<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = input::body(body, state.config.max_body_bytes)?;
    let limit: FlowLimit = ontime_core::error::from_json_slice(&body)?;
    limit.validate()?;
    let replaced = state.trust.flow_limit(ns, host.as_deref()).is_some();
    let stored = StoredFlowLimit { host, limit };
    state.topology.trust.put_flow_limit(ns, &stored).await?;
    settle(state).await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view(stored))).into_response())
}

async fn delete(
    state: &AppState,
    ns: &Namespace,
    host: Option<&str>,
) -> Result<StatusCode, ApiError> {
    current(state, ns, host)?;
    state.topology.trust.delete_flow_limit(ns, host).await?;
    settle(state).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The namespace's limit, over all its calls.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/limits", tag = "limits",
    params(("ns" = String, Path, description = "Namespace")),
    responses(
        (status = 200, description = "The limit", body = FlowLimitView),
        (status = 404, description = "The namespace has no limit", body = ValidationError),
        (status = 422, description = "Invalid namespace", body = ValidationError),
    )
)]
pub async fn get_namespace_limit(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
) -> Result<Json<FlowLimitView>, ApiError> {
    current(&state, &ns, None).map(Json)
}

/// Set the namespace's limit, over all its HTTP calls: calls from then on wait for their
/// turn under it (and under their host's limit, if it has one).
#[utoipa::path(
    put, path = "/v1/namespaces/{ns}/limits", tag = "limits",
    params(("ns" = String, Path, description = "Namespace")),
    request_body = FlowLimit,
    responses(
        (status = 201, description = "Set", body = FlowLimitView),
        (status = 200, description = "Replaced", body = FlowLimitView),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn put_namespace_limit(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    put(&state, &ns, None, body).await
}

/// Remove the namespace's limit.
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/limits", tag = "limits",
    params(("ns" = String, Path, description = "Namespace")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "The namespace has no limit", body = ValidationError),
        (status = 422, description = "Invalid namespace", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn delete_namespace_limit(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
) -> Result<StatusCode, ApiError> {
    delete(&state, &ns, None).await
}

/// The hosts of the namespace with a limit of their own.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/hosts", tag = "limits",
    params(("ns" = String, Path, description = "Namespace")),
    responses(
        (status = 200, description = "The hosts' limits, by host", body = FlowLimitList),
        (status = 422, description = "Invalid namespace", body = ValidationError),
    )
)]
pub async fn list_host_limits(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
) -> Json<FlowLimitList> {
    let items = state
        .trust
        .flow_limits(&ns)
        .into_iter()
        .filter(|stored| stored.host.is_some())
        .map(view)
        .collect();
    Json(FlowLimitList { items })
}

/// The limit over the namespace's calls to one host.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/hosts/{host}/limits", tag = "limits",
    params(("ns" = String, Path, description = "Namespace"), ("host" = String, Path, description = "A host name or address, as URLs write it (no port)")),
    responses(
        (status = 200, description = "The limit", body = FlowLimitView),
        (status = 404, description = "The host has no limit", body = ValidationError),
        (status = 422, description = "Invalid namespace or host", body = ValidationError),
    )
)]
pub async fn get_host_limit(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    HostPath(host): HostPath,
) -> Result<Json<FlowLimitView>, ApiError> {
    current(&state, &ns, Some(&host)).map(Json)
}

/// Set the limit over the namespace's calls to one host (whatever the port or scheme).
#[utoipa::path(
    put, path = "/v1/namespaces/{ns}/hosts/{host}/limits", tag = "limits",
    params(("ns" = String, Path, description = "Namespace"), ("host" = String, Path, description = "A host name or address, as URLs write it (no port)")),
    request_body = FlowLimit,
    responses(
        (status = 201, description = "Set", body = FlowLimitView),
        (status = 200, description = "Replaced", body = FlowLimitView),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn put_host_limit(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    HostPath(host): HostPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    put(&state, &ns, Some(host), body).await
}

/// Remove the limit over the namespace's calls to one host.
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/hosts/{host}/limits", tag = "limits",
    params(("ns" = String, Path, description = "Namespace"), ("host" = String, Path, description = "A host name or address, as URLs write it (no port)")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "The host has no limit", body = ValidationError),
        (status = 422, description = "Invalid namespace or host", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn delete_host_limit(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    HostPath(host): HostPath,
) -> Result<StatusCode, ApiError> {
    delete(&state, &ns, Some(&host)).await
}
