//! The Prometheus side of ontime's metrics: every part records with the `metrics` facade;
//! [`install`] makes the process's recorder a Prometheus one, and `/metrics` renders it in
//! the text format (the gateway serves it on its own listener; a scheduler or worker run
//! alone serves [`router`] on `--metrics-http`).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of the latency and lateness histograms, in seconds: from a millisecond (ontime's
/// precision) to a minute (a backlog).
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Makes a Prometheus recorder this process's recorder, and returns its handle. Call it once,
/// before any part starts; a second call fails.
pub fn install() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

/// The content type of the text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics, as Prometheus scrapes them.
pub fn render(handle: &PrometheusHandle) -> Response {
    // Histograms' and summaries' old samples are dropped as they are rendered.
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response()
}

/// `GET /metrics` alone, for a part that has no gateway.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(h): State<PrometheusHandle>| async move { render(&h) }),
        )
        .with_state(handle)
}
