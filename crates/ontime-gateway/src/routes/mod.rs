//! The HTTP routes: one router per resource, merged into one app.

pub mod batch;
pub mod control;
pub mod executions;
pub mod flow;
pub mod health;
pub mod letters;
pub mod namespaces;
pub mod preview;
pub mod timers;
pub mod topics;
pub mod trust;

use axum::http::{HeaderName, Request};
use axum::routing::get;
use axum::{Router, middleware};
use ontime_core::trust::access::Role;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use crate::{auth, error};

/// The header that carries a request's id; generated (UUIDv7) when the client sent none.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole API over `state`.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The whole API over `state`, with `extra` routes (the seeds' facades) served beside the
/// native ones, under the same request ids, tracing and fallbacks. A route of `extra` that
/// sets its own method fallback keeps it.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let config = state.config.clone();
    let native = Router::new()
        .merge(timers::router(config.max_body_bytes))
        .merge(batch::router(config.max_batch_body_bytes))
        .merge(executions::router())
        .merge(topics::router(config.max_body_bytes))
        .merge(preview::router())
        .merge(letters::router())
        .merge(namespaces::router())
        .route_layer(middleware::from_fn(auth::native_access(Role::Write)));
    let trust = trust::router(config.max_body_bytes)
        .merge(flow::router(config.max_body_bytes))
        .route_layer(middleware::from_fn(auth::native_access(Role::Admin)));
    Router::new()
        .merge(extra)
        .merge(native)
        .merge(trust)
        .merge(health::router())
        .merge(crate::console::router())
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .fallback(error::route_not_found)
        // After the merges: it applies to the routes present when it is called.
        .method_not_allowed_fallback(error::method_not_allowed)
        // Inside the trace span, which records the token's id.
        .layer(middleware::from_fn_with_state(state.clone(), auth::identify))
        .layer(middleware::from_fn(crate::trace::within))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id, token = tracing::field::Empty)
        }))
        // Outermost, so the trace span sees the id.
        .layer(SetRequestIdLayer::new(REQUEST_ID, NewRequestId))
        .with_state(state)
}

#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        uuid::Uuid::now_v7()
            .to_string()
            .parse()
            .ok()
            .map(RequestId::new)
    }
}
