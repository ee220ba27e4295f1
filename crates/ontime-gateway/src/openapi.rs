//! The OpenAPI document: generated from the handlers' annotations and the core's types, then
//! refined by hand ([`refine`], [`schemas`]) where a derived schema says less than the server
//! checks: the pattern of a name, the kinds of a schedule, the grammar of a duration, bounds.
//! A client (or a fuzzer) that follows the document gets past validation, and every answer
//! the server gives is one the document describes.

mod schemas;

use std::sync::LazyLock;

use axum::Json;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::config::GatewayConfig;
use crate::responses::{
    Accepted, BatchResponse, BatchResult, ExecutionPage, Health, Liveness, TimerPage,
};
use crate::routes::{
    batch, control, executions, flow, health, letters, namespaces, preview, timers, topics, trust,
};

/// The generated part of the document; [`document`] is what is served.
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
        letters::list_dead_letters,
        letters::get_dead_letter,
        letters::discard_dead_letter,
        letters::replay_dead_letter,
        topics::put_topic,
        topics::get_topic,
        topics::delete_topic,
        topics::list_topics,
        topics::put_subscriber,
        topics::get_subscriber,
        topics::delete_subscriber,
        topics::list_subscribers,
        trust::create_token,
        trust::list_tokens,
        trust::get_token,
        trust::revoke_token,
        trust::list_signing_secrets,
        trust::create_signing_secret,
        trust::delete_signing_secret,
        trust::list_prerequisites,
        trust::get_prerequisite,
        trust::put_prerequisite,
        trust::delete_prerequisite,
        namespaces::list_namespaces,
        flow::get_namespace_limit,
        flow::put_namespace_limit,
        flow::delete_namespace_limit,
        flow::list_host_limits,
        flow::get_host_limit,
        flow::put_host_limit,
        flow::delete_host_limit,
        health::health,
        health::ready,
        health::metrics,
        openapi_json,
    ),
    components(schemas(
        namespaces::NamespaceList,
        ontime_core::flow::FlowLimit,
        flow::FlowLimitView,
        flow::FlowLimitList,
        ontime_core::timer::TimerView,
        ontime_core::timer::TimerStatus,
        ontime_core::schedule::ScheduleKind,
        ontime_core::timer::Attempt,
        ontime_core::timer::AttemptOutcome,
        ontime_core::timer::FanOut,
        ontime_core::topic::Topic,
        ontime_core::topic::TopicSpec,
        ontime_core::topic::Subscriber,
        ontime_core::topic::SubscriberSpec,
        topics::TopicPage,
        topics::SubscriberPage,
        ontime_core::schedule::Misfire,
        ontime_core::schedule::Overlap,
        preview::Preview,
        ontime_core::timer::DeadLetter,
        ontime_core::timer::Run,
        letters::DeadLetterPage,
        letters::Replay,
        ontime_core::ValidationError,
        ontime_core::ErrorCode,
        BatchResponse,
        BatchResult,
        Accepted,
        TimerPage,
        ExecutionPage,
        Health,
        Liveness,
        ontime_core::trust::access::Role,
        ontime_core::trust::prerequisite::Prerequisite,
        ontime_core::trust::prerequisite::ClientAuth,
        ontime_core::trust::prerequisite::StoredPrerequisite,
        trust::NewToken,
        trust::TokenView,
        trust::IssuedToken,
        trust::TokenList,
        trust::SigningSecretView,
        trust::NewSigningSecret,
        trust::SigningSecretRequest,
        trust::SigningSecretList,
        trust::PrerequisiteList,
    )),
    tags(
        (name = "timers", description = "Create, read, change, pause, trigger and cancel timers"),
        (name = "schedules", description = "Check a schedule before using it"),
        (name = "topics", description = "Topics and their subscribers: a timer whose target is a topic delivers each occurrence to every subscriber"),
        (name = "limits", description = "Flow limits: at most so many calls a second and at once, for a namespace or one of its target hosts, across every worker"),
        (name = "access", description = "API tokens, and each namespace's signing secrets and prerequisites"),
        (name = "operations", description = "Health, readiness and this document"),
    )
)]
pub struct ApiDoc;

/// The document as served: [`ApiDoc`], refined. Built once.
pub fn document() -> Value {
    static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        refine(&mut doc, &GatewayConfig::default());
        doc
    });
    DOCUMENT.clone()
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Json<Value> {
    Json(document())
}

/// Page sizes and preview counts: 1 to 1,000.
const MAX_PAGE: u64 = 1000;

/// Replaces the derived schemas by the hand-written ones, and tightens every parameter,
/// body and answer to what the server accepts and gives.
fn refine(doc: &mut Value, config: &GatewayConfig) {
    for (name, schema) in schemas::components(config.max_batch_items) {
        doc["components"]["schemas"][name] = schema;
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, operations) in paths.iter_mut() {
        let open = OPEN_PATHS.contains(&path.as_str());
        let Some(operations) = operations.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            refine_parameters(operation);
            refine_answers(operation);
            if open {
                operation["security"] = json!([]);
            } else {
                refusals(operation);
            }
        }
    }
    doc["components"]["securitySchemes"]["token"] = json!({
        "type": "http",
        "scheme": "bearer",
        "description": "An API token, `ot_<id>_<secret>` (see `/v1/tokens`). Not needed when the gateway runs without tokens.",
    });
    doc["security"] = json!([{ "token": [] }]);
    // The derived view says "a map of strings"; the bounds are the definition's.
    doc["components"]["schemas"]["TimerView"]["properties"]["metadata"] =
        schemas::reference("Metadata");
    // A token's namespaces: names, or `*` alone for all of them.
    doc["components"]["schemas"]["NewToken"]["properties"]["namespaces"] = json!({
        "type": "array",
        "minItems": 1,
        "uniqueItems": true,
        "items": { "anyOf": [schemas::reference("Namespace"), { "const": "*" }] },
        "description": "The namespaces the token covers, or `[\"*\"]` for every one",
    });
    let patch = &mut doc["paths"]["/v1/namespaces/{ns}/timers/{id}"]["patch"]["requestBody"];
    patch["content"]["application/json"]["schema"] = schemas::reference("TimerPatch");
    patch["required"] = json!(true);
}

/// The routes anyone may call, token or not.
const OPEN_PATHS: &[&str] = &["/health", "/ready", "/metrics", "/openapi.json"];

/// Every route but the open ones answers 401 without a valid token and 403 outside its
/// scope or role.
fn refusals(operation: &mut Value) {
    let error = schemas::reference("ValidationError");
    operation["responses"]["401"] = json!({
        "description": "No token, or one that is unknown, revoked or expired",
        "headers": { "WWW-Authenticate": { "schema": { "type": "string" } } },
        "content": { "application/json": { "schema": error } },
    });
    operation["responses"]["403"] = json!({
        "description": "The token's role or namespaces do not cover this request",
        "content": { "application/json": { "schema": schemas::reference("ValidationError") } },
    });
}

/// The schema of each parameter, by its name and place.
fn refine_parameters(operation: &mut Value) {
    let executions = operation["operationId"] == "list_executions";
    let operation_id = operation["operationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let prerequisite = operation_id.ends_with("_prerequisite");
    // Tokens' and signing secrets' ids are hex.
    let hex_id = matches!(
        operation_id.as_str(),
        "get_token" | "revoke_token" | "delete_signing_secret"
    );
    // A dead letter's id is its delivery id as one token (`=HH` escapes).
    let letter_id = operation_id.ends_with("_dead_letter");
    // `get_mut`, not indexing: indexing a `Value` mutably inserts `null` where nothing was.
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for parameter in parameters {
        let place = parameter["in"].as_str().unwrap_or_default().to_owned();
        let name = parameter["name"].as_str().unwrap_or_default().to_owned();
        let schema = match (place.as_str(), name.as_str()) {
            ("path", "ns") => schemas::reference("Namespace"),
            ("path", "id") if hex_id => json!({ "type": "string", "pattern": "^[0-9a-f]{1,64}$" }),
            ("path", "id") if letter_id => {
                json!({ "type": "string", "pattern": "^[A-Za-z0-9_=-]{1,1024}(:replay)?$" })
            }
            ("path", "id") => schemas::reference("TimerId"),
            ("path", "name") if prerequisite => schemas::reference("PrerequisiteName"),
            ("header", "Idempotency-Key") => schemas::idempotency_key(),
            ("header", "If-Match") => schemas::if_match(),
            ("query", "limit" | "count") => {
                json!({ "type": "integer", "minimum": 1, "maximum": MAX_PAGE })
            }
            ("query", "max_runs") => {
                json!({ "type": "integer", "minimum": 1, "maximum": u64::MAX })
            }
            ("query", "cursor") if executions => {
                json!({ "type": "string", "pattern": "^[0-9]{1,19}$" })
            }
            ("query", "cursor") => schemas::reference("TimerId"),
            ("query", "at" | "start_at" | "end_at" | "from") => {
                json!({ "type": "string", "format": "date-time" })
            }
            ("query", "after" | "every") => schemas::reference("Duration"),
            ("query", "cron") => schemas::reference("CronExpression"),
            ("query", "iso") => schemas::reference("IsoRepetition"),
            ("query", "timezone") => schemas::reference("TimeZone"),
            ("query", "metadata") => schemas::metadata_filter(),
            _ => continue,
        };
        parameter["schema"] = schema;
    }
}

/// Answers carrying a timer carry its revision as the `ETag`, quoted.
fn refine_answers(operation: &mut Value) {
    let Some(answers) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for answer in answers.values_mut() {
        let schema = answer.pointer("/content/application~1json/schema/$ref");
        if schema.and_then(Value::as_str) == Some("#/components/schemas/TimerView") {
            answer["headers"]["ETag"] = json!({
                "description": "The timer's revision, quoted: send it back in `If-Match`",
                "required": true,
                "schema": { "type": "string", "pattern": "^\"[0-9]+\"$" },
            });
        }
    }
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
        ("get", "/v1/namespaces/{ns}/dead-letters"),
        ("get", "/v1/namespaces/{ns}/dead-letters/{id}"),
        ("delete", "/v1/namespaces/{ns}/dead-letters/{id}"),
        ("post", "/v1/namespaces/{ns}/dead-letters/{id}"),
        ("post", "/v1/namespaces/{ns}/timers/{id}:pause"),
        ("post", "/v1/namespaces/{ns}/timers/{id}:resume"),
        ("post", "/v1/namespaces/{ns}/timers/{id}:trigger"),
        ("get", "/v1/schedules:preview"),
        ("put", "/v1/namespaces/{ns}/topics/{topic}"),
        ("get", "/v1/namespaces/{ns}/topics/{topic}"),
        ("delete", "/v1/namespaces/{ns}/topics/{topic}"),
        ("get", "/v1/namespaces/{ns}/topics"),
        (
            "put",
            "/v1/namespaces/{ns}/topics/{topic}/subscribers/{sub}",
        ),
        (
            "get",
            "/v1/namespaces/{ns}/topics/{topic}/subscribers/{sub}",
        ),
        (
            "delete",
            "/v1/namespaces/{ns}/topics/{topic}/subscribers/{sub}",
        ),
        ("get", "/v1/namespaces/{ns}/topics/{topic}/subscribers"),
        ("post", "/v1/tokens"),
        ("get", "/v1/tokens"),
        ("get", "/v1/tokens/{id}"),
        ("delete", "/v1/tokens/{id}"),
        ("get", "/v1/namespaces/{ns}/signing-secrets"),
        ("post", "/v1/namespaces/{ns}/signing-secrets"),
        ("delete", "/v1/namespaces/{ns}/signing-secrets/{id}"),
        ("get", "/v1/namespaces/{ns}/prerequisites"),
        ("get", "/v1/namespaces/{ns}/prerequisites/{name}"),
        ("put", "/v1/namespaces/{ns}/prerequisites/{name}"),
        ("delete", "/v1/namespaces/{ns}/prerequisites/{name}"),
        ("get", "/v1/namespaces"),
        ("get", "/v1/namespaces/{ns}/limits"),
        ("put", "/v1/namespaces/{ns}/limits"),
        ("delete", "/v1/namespaces/{ns}/limits"),
        ("get", "/v1/namespaces/{ns}/hosts"),
        ("get", "/v1/namespaces/{ns}/hosts/{host}/limits"),
        ("put", "/v1/namespaces/{ns}/hosts/{host}/limits"),
        ("delete", "/v1/namespaces/{ns}/hosts/{host}/limits"),
        ("get", "/health"),
        ("get", "/ready"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];

    #[test]
    fn every_endpoint_is_documented() {
        let doc = document();
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
    fn metadata_is_bounded_everywhere_and_filterable_in_listings() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["Metadata"]["maxProperties"], 32);
        for name in ["TimerSpec", "NewTimer", "TimerView"] {
            assert_eq!(
                schemas[name]["properties"]["metadata"]["$ref"], "#/components/schemas/Metadata",
                "{name}"
            );
        }
        assert_eq!(
            schemas["TimerPatch"]["properties"]["metadata"]["$ref"],
            "#/components/schemas/MetadataPatch"
        );
        let list = &doc["paths"]["/v1/namespaces/{ns}/timers"]["get"]["parameters"];
        let filter = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "metadata")
            .expect("the metadata filter is documented");
        assert_eq!(filter["in"], "query");
        assert_eq!(filter["style"], "form");
        assert_eq!(filter["explode"], true);
        assert_eq!(
            filter["schema"]["propertyNames"]["pattern"],
            "^metadata\\.[A-Za-z0-9._-]{1,64}$"
        );
    }

    #[test]
    fn core_schemas_are_included_and_referenced_ones_resolve() {
        let doc = document();
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
