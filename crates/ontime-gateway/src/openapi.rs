//! The OpenAPI document, generated from the handlers' annotations and the core's schemas.

use axum::Json;
use utoipa::OpenApi;

use crate::responses::{Accepted, BatchResponse, BatchResult, ExecutionPage, Health, TimerPage};
use crate::routes::{batch, control, executions, health, preview, timers};
use crate::validate::{BatchRequest, NewTimer};

/// ontime's native API.
#[derive(OpenApi)]
#[openapi(
    info(title = "ontime", description = "Durable, distributed scheduling of HTTP calls. Errors are always `{\"error\": CODE, \"message\": ..., \"field\": ...}`."),
    paths(
        timers::put_timer,
        timers::create_timer,
        timers::get_timer,
        timers::list_timers,
        timers::patch_timer,
        timers::delete_timer,
        control::pause_timer,
        control::resume_timer,
        control::trigger_timer,
        batch::create_batch,
        preview::preview,
        executions::list_executions,
        health::health,
        health::ready,
        openapi_json,
    ),
    components(schemas(
        ontime_core::timer::TimerSpec,
        ontime_core::timer::TimerView,
        ontime_core::timer::TimerStatus,
        ontime_core::timer::Attempt,
        ontime_core::timer::AttemptOutcome,
        ontime_core::schedule::Schedule,
        ontime_core::schedule::Misfire,
        ontime_core::schedule::Overlap,
        preview::Preview,
        ontime_core::target::Target,
        ontime_core::target::HttpTarget,
        ontime_core::retry::RetryPolicy,
        ontime_core::ValidationError,
        ontime_core::ErrorCode,
        NewTimer,
        BatchRequest,
        BatchResponse,
        BatchResult,
        Accepted,
        TimerPage,
        ExecutionPage,
        Health,
    )),
    tags(
        (name = "timers", description = "Create, read, change, pause, trigger and cancel timers"),
        (name = "schedules", description = "Check a schedule before using it"),
        (name = "operations", description = "Health, readiness and this document"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves, as the document must list it.
    pub const ENDPOINTS: &[(&str, &str)] = &[
        ("put", "/v1/namespaces/{ns}/timers/{id}"),
        ("get", "/v1/namespaces/{ns}/timers/{id}"),
        ("patch", "/v1/namespaces/{ns}/timers/{id}"),
        ("delete", "/v1/namespaces/{ns}/timers/{id}"),
        ("post", "/v1/namespaces/{ns}/timers"),
        ("get", "/v1/namespaces/{ns}/timers"),
        ("post", "/v1/namespaces/{ns}/timers:batch"),
        ("get", "/v1/namespaces/{ns}/timers/{id}/executions"),
        ("post", "/v1/namespaces/{ns}/timers/{id}:pause"),
        ("post", "/v1/namespaces/{ns}/timers/{id}:resume"),
        ("post", "/v1/namespaces/{ns}/timers/{id}:trigger"),
        ("get", "/v1/schedules:preview"),
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/openapi.json"),
    ];

    #[test]
    fn every_endpoint_is_documented() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (method, path) in ENDPOINTS {
            assert!(
                paths.get(*path).and_then(|p| p.get(*method)).is_some(),
                "{method} {path} is missing from the document"
            );
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(
            documented,
            ENDPOINTS.len(),
            "the document lists an endpoint the router does not serve"
        );
    }

    #[test]
    fn core_schemas_are_included_and_referenced_ones_resolve() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "TimerSpec",
            "TimerView",
            "ValidationError",
            "ErrorCode",
            "Schedule",
            "RetryPolicy",
            "NewTimer",
            "BatchResponse",
        ] {
            assert!(schemas.contains_key(name), "schema {name} is missing");
        }
        // Every `$ref` points at a schema the document defines.
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = piece.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "dangling $ref to {name}");
        }
    }
}
