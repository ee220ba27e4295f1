//! `GET /v1/namespaces`: the namespaces in use, as far as the caller may see them.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use ontime_core::ValidationError;
use ontime_core::trust::access::Role;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/namespaces", get(list_namespaces))
}

/// The namespaces in use.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceList {
    /// In name order.
    #[schema(value_type = Vec<String>)]
    pub namespaces: Vec<ontime_core::Namespace>,
}

/// The namespaces that hold timers (cancelled ones included) or topics, among those the
/// caller's token covers. A namespace needs no creating: the first timer or topic put in it
/// makes it.
#[utoipa::path(
    get, path = "/v1/namespaces", tag = "timers",
    responses(
        (status = 200, description = "The namespaces", body = NamespaceList),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn list_namespaces(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<NamespaceList>, ApiError> {
    let scope = caller.scope_for(Role::Read)?;
    let topology = &state.topology;
    let (mut namespaces, topics) =
        tokio::try_join!(topology.timers.namespaces(), topology.topics.namespaces())?;
    namespaces.extend(topics);
    namespaces.retain(|ns| scope.covers(ns));
    Ok(Json(NamespaceList {
        namespaces: namespaces.into_iter().collect(),
    }))
}
