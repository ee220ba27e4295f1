//! The trace a request belongs to (W3C trace context). A request that carries a
//! `traceparent` continues its trace; when traces are exported (an OpenTelemetry tracer
//! provider is installed, see the binary), every request starts one if it carries none, and
//! its span is exported. The commands the request sends carry the request's span as the
//! parent of what follows, and with them every call they make.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use ontime_core::trace::TraceParent;
use ontime_core::trace::span;
use opentelemetry::trace::{Span, SpanKind};
use opentelemetry::{KeyValue, global};

tokio::task_local! {
    static CURRENT: Option<TraceParent>;
}

/// The header.
pub const TRACEPARENT: &str = "traceparent";

/// Runs the request within its trace, in a span of its own.
pub async fn within(request: Request, next: Next) -> Response {
    let parent = request
        .headers()
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse);
    let name = format!("{} {}", request.method(), request.uri().path());
    let (mut span, trace) = span(
        global::tracer("ontime-gateway"),
        name,
        SpanKind::Server,
        parent,
        rand::random(),
    );
    let response = CURRENT.scope(trace, next.run(request)).await;
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    ));
    span.end();
    response
}

/// The trace of the request being served, if it has one.
pub fn current() -> Option<TraceParent> {
    CURRENT.try_with(|t| *t).ok().flatten()
}
