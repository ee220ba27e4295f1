//! The trace a request belongs to. A request that carries a W3C `traceparent` continues its
//! trace: the gateway's part of it gets a span id of its own, which the commands the request
//! sends carry, and with them every call they make (`traceparent` on the call, a child of
//! that span).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use ontime_core::trace::TraceParent;

tokio::task_local! {
    static CURRENT: Option<TraceParent>;
}

/// The header.
pub const TRACEPARENT: &str = "traceparent";

/// Runs the request within its trace, if it sent one.
pub async fn within(request: Request, next: Next) -> Response {
    let trace = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
        .map(|parent| parent.child(rand::random()));
    CURRENT.scope(trace, next.run(request)).await
}

/// The trace of the request being served, if it has one.
pub fn current() -> Option<TraceParent> {
    CURRENT.try_with(|t| *t).ok().flatten()
}
