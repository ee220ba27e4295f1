//! `/v1/namespaces/{ns}/topics[/{topic}[/subscribers[/{sub}]]]`: topics and their
//! subscribers. They are configuration, not timers: each change is one compare-and-set of
//! the topic's KV entry, made here, and holds for every occurrence that fires after it.

use axum::Json;
use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use chrono::Utc;
use ontime_core::topic::{Subscriber, SubscriberSpec, Topic, TopicRecord, TopicSpec};
use ontime_core::{Namespace, TopicName, ValidationError};
use ontime_nats::topics::TopicError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::input::{self, NsPath, SubscriberPath, TopicPath};
use crate::protect;
use crate::state::AppState;

/// Default and largest page of a listing.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn router(max_body_bytes: usize) -> Router<AppState> {
    let limit = DefaultBodyLimit::max(max_body_bytes);
    Router::new()
        .route("/v1/namespaces/{ns}/topics", get(list_topics))
        .route(
            "/v1/namespaces/{ns}/topics/{topic}",
            get(get_topic)
                .put(put_topic)
                .delete(delete_topic)
                .layer(limit),
        )
        .route(
            "/v1/namespaces/{ns}/topics/{topic}/subscribers",
            get(list_subscribers),
        )
        .route(
            "/v1/namespaces/{ns}/topics/{topic}/subscribers/{sub}",
            get(get_subscriber)
                .put(put_subscriber)
                .delete(delete_subscriber)
                .layer(limit),
        )
}

/// A page of topics.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicPage {
    pub items: Vec<Topic>,
    /// Pass back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A page of a topic's subscribers, by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriberPage {
    pub items: Vec<Subscriber>,
    pub next_cursor: Option<String>,
}

fn no_topic(name: &str) -> ApiError {
    ApiError::not_found(format!("no topic {name}"))
}

/// Topic `name` of `ns` as stored and its revision; 404 when there is none.
async fn existing(
    state: &AppState,
    ns: &Namespace,
    name: &TopicName,
) -> Result<(TopicRecord, u64), ApiError> {
    state
        .topology
        .topics
        .get(ns, name)
        .await?
        .ok_or_else(|| no_topic(name.as_str()))
}

fn topic_error(error: TopicError, what: &str) -> ApiError {
    match error {
        TopicError::NotFound => no_topic(what),
        TopicError::Refused(e) => ApiError(e),
        TopicError::Nats(e) => e.into(),
    }
}

/// Create a topic, or change its description and metadata (its subscribers are kept).
#[utoipa::path(
    put, path = "/v1/namespaces/{ns}/topics/{topic}", tag = "topics",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("topic" = String, Path, description = "Topic name: 1-255 of A-Z a-z 0-9 . _ - ~ @ + ="),
    ),
    request_body = TopicSpec,
    responses(
        (status = 201, description = "Created", body = Topic),
        (status = 200, description = "Changed", body = Topic),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn put_topic(
    State(state): State<AppState>,
    TopicPath(ns, name): TopicPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = input::body(body, state.config.max_body_bytes)?;
    let spec: TopicSpec = ontime_core::error::from_json_slice(&body)?;
    spec.validate()?;
    let (record, revision, created) = state
        .topology
        .topics
        .define(&ns, &name, spec, Utc::now())
        .await
        .map_err(|e| topic_error(e, name.as_str()))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(record.view(&ns, &name, revision))).into_response())
}

/// A topic.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/topics/{topic}", tag = "topics",
    params(("ns" = String, Path, description = "Namespace"), ("topic" = String, Path, description = "Topic name")),
    responses(
        (status = 200, description = "The topic", body = Topic),
        (status = 404, description = "No such topic", body = ValidationError),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn get_topic(
    State(state): State<AppState>,
    TopicPath(ns, name): TopicPath,
) -> Result<Json<Topic>, ApiError> {
    let (record, revision) = existing(&state, &ns, &name).await?;
    Ok(Json(record.view(&ns, &name, revision)))
}

/// Delete a topic and its subscribers. Timers that name it fail their next occurrences
/// (`topic … does not exist`) until it is created again.
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/topics/{topic}", tag = "topics",
    params(("ns" = String, Path, description = "Namespace"), ("topic" = String, Path, description = "Topic name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such topic", body = ValidationError),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn delete_topic(
    State(state): State<AppState>,
    TopicPath(ns, name): TopicPath,
) -> Result<StatusCode, ApiError> {
    if state.topology.topics.delete(&ns, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_topic(name.as_str()))
    }
}

/// The topics of a namespace, by name.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/topics", tag = "topics",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("limit" = Option<usize>, Query, description = "Page size, 1-1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of topics", body = TopicPage),
        (status = 422, description = "A parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn list_topics(
    State(state): State<AppState>,
    NsPath(ns): NsPath,
    RawQuery(query): RawQuery,
) -> Result<Json<TopicPage>, ApiError> {
    let params = input::query(query.as_deref(), &["limit", "cursor"])?;
    let limit = input::limit(&params, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = params.get("cursor").map(String::as_str);
    let (found, next_cursor) = state.topology.topics.list(&ns, limit, cursor).await?;
    Ok(Json(TopicPage {
        items: found
            .iter()
            .map(|(name, record, revision)| record.view(&ns, name, *revision))
            .collect(),
        next_cursor,
    }))
}

/// Add a subscriber to a topic, or replace it. Occurrences that fire from now on deliver to
/// it.
#[utoipa::path(
    put, path = "/v1/namespaces/{ns}/topics/{topic}/subscribers/{sub}", tag = "topics",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("topic" = String, Path, description = "Topic name"),
        ("sub" = String, Path, description = "Subscriber id: 1-255 of A-Z a-z 0-9 . _ - ~ @ + ="),
    ),
    request_body = SubscriberSpec,
    responses(
        (status = 201, description = "Added", body = Subscriber),
        (status = 200, description = "Replaced", body = Subscriber),
        (status = 400, description = "Not JSON", body = ValidationError),
        (status = 404, description = "No such topic", body = ValidationError),
        (status = 409, description = "The topic has the most subscribers it may", body = ValidationError),
        (status = 413, description = "Body over the limit", body = ValidationError),
        (status = 422, description = "A field is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn put_subscriber(
    State(state): State<AppState>,
    SubscriberPath(ns, name, id): SubscriberPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = input::body(body, state.config.max_body_bytes)?;
    let mut spec: SubscriberSpec = ontime_core::error::from_json_slice(&body)?;
    spec.validate()?;
    if let Some(http) = &mut spec.target.http {
        protect::http_target(&state, &ns, http).map_err(|e| e.within("target.http"))?;
    }
    let (record, added) = state
        .topology
        .topics
        .subscribe(&ns, &name, &id, spec, Utc::now())
        .await
        .map_err(|e| topic_error(e, name.as_str()))?;
    let shown = record
        .subscriber(&ns, &name, &id)
        .ok_or_else(|| ApiError::internal("subscribing", "the subscriber is not in its topic"))?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(shown)).into_response())
}

/// A subscriber.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/topics/{topic}/subscribers/{sub}", tag = "topics",
    params(("ns" = String, Path, description = "Namespace"), ("topic" = String, Path, description = "Topic name"), ("sub" = String, Path, description = "Subscriber id")),
    responses(
        (status = 200, description = "The subscriber", body = Subscriber),
        (status = 404, description = "No such topic or subscriber", body = ValidationError),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn get_subscriber(
    State(state): State<AppState>,
    SubscriberPath(ns, name, id): SubscriberPath,
) -> Result<Json<Subscriber>, ApiError> {
    let (record, _) = existing(&state, &ns, &name).await?;
    record
        .subscriber(&ns, &name, &id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("topic {name} has no subscriber {id}")))
}

/// Remove a subscriber. Its deliveries not made yet are skipped.
#[utoipa::path(
    delete, path = "/v1/namespaces/{ns}/topics/{topic}/subscribers/{sub}", tag = "topics",
    params(("ns" = String, Path, description = "Namespace"), ("topic" = String, Path, description = "Topic name"), ("sub" = String, Path, description = "Subscriber id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such topic or subscriber", body = ValidationError),
        (status = 422, description = "A path parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn delete_subscriber(
    State(state): State<AppState>,
    SubscriberPath(ns, name, id): SubscriberPath,
) -> Result<StatusCode, ApiError> {
    let removed = state
        .topology
        .topics
        .unsubscribe(&ns, &name, &id, Utc::now())
        .await
        .map_err(|e| topic_error(e, name.as_str()))?;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "topic {name} has no subscriber {id}"
        )))
    }
}

/// The subscribers of a topic, by id.
#[utoipa::path(
    get, path = "/v1/namespaces/{ns}/topics/{topic}/subscribers", tag = "topics",
    params(
        ("ns" = String, Path, description = "Namespace"),
        ("topic" = String, Path, description = "Topic name"),
        ("limit" = Option<usize>, Query, description = "Page size, 1-1000 (default 100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of subscribers", body = SubscriberPage),
        (status = 404, description = "No such topic", body = ValidationError),
        (status = 422, description = "A parameter is invalid", body = ValidationError),
        (status = 503, description = "NATS is unavailable", body = ValidationError),
    )
)]
pub async fn list_subscribers(
    State(state): State<AppState>,
    TopicPath(ns, name): TopicPath,
    RawQuery(query): RawQuery,
) -> Result<Json<SubscriberPage>, ApiError> {
    let params = input::query(query.as_deref(), &["limit", "cursor"])?;
    let limit = input::limit(&params, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = params.get("cursor").map(String::as_str);
    let (record, _) = existing(&state, &ns, &name).await?;
    let mut items: Vec<Subscriber> = record
        .subscribers
        .keys()
        .filter(|id| cursor.is_none_or(|c| id.as_str() > c))
        .take(limit + 1)
        .filter_map(|id| record.subscriber(&ns, &name, id))
        .collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|s| s.id.clone())
    } else {
        None
    };
    Ok(Json(SubscriberPage { items, next_cursor }))
}
