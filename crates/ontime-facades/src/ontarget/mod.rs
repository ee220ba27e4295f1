//! ontime-ontarget's API (`/schedule/...` and its home document at `/`): topics, their
//! subscribers, and events that fan a body out to every subscriber of a topic at a time or
//! on an ISO 8601 repetition.
//!
//! Everything it shows is native, in the facade's namespace, and visible through `/v1`:
//! - a topic is a native topic named by its UUID; its `name` is the metadata entry
//!   `ontarget.name` and its `description` the native one ([`topics`]);
//! - a subscriber is a native subscriber of that topic with an HTTP target, its UUID as id
//!   ([`subscribers`]);
//! - an event is a native timer, its UUID as id, whose target is the topic with the request's
//!   body and Content-Type; its metadata says `facade: ontarget`, its topic
//!   (`ontarget.topic`) and its timespec as written (`ontarget.timestamp` or
//!   `ontarget.interval`) ([`events`], [`timespec`]).
//!
//! Every answer is plain text or JSON text, `text/html; charset=utf-8`, as the original's
//! ([`answer`]); a path or method it has no route for is Express's 404, `Cannot <METHOD>
//! <path>`. `X-HTTP-Method-Override` on a POST is honoured, as it was ([`overridable`]).

mod answer;
mod events;
mod fields;
mod instant;
mod pages;
mod settings;
mod subscribers;
mod timespec;
mod topics;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get};
use axum::{Extension, Router};
use chrono_tz::Tz;
use ontime_core::id::{Namespace, TopicName};
use ontime_core::topic::TopicRecord;
use ontime_gateway::AppState;
use ontime_nats::topics::TopicError;
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

use answer::Text;

/// The metadata entry `facade: ontarget` that marks a timer as one of the facade's events.
pub const FACADE_KEY: &str = "facade";
pub const FACADE: &str = "ontarget";

/// Where the API keeps its objects and how it reads local times.
#[derive(Debug, Clone)]
pub struct Ontarget {
    pub namespace: Namespace,
    /// The wall clock of a timespec written without an offset (the original used its
    /// server's local time).
    pub timezone: Tz,
}

/// The API's routes over `api`.
pub fn router(api: Ontarget) -> Router<AppState> {
    let namespace = api.namespace.clone();
    let routes = Router::new()
        .route("/", overridable(get(home)))
        .route("/schedule", overridable(get(alive)))
        .route("/schedule/", overridable(get(alive)))
        .merge(topics::routes())
        .merge(subscribers::routes())
        .merge(events::routes())
        .route("/schedule/{*rest}", any(no_route))
        .layer(Extension(Arc::new(api)));
    ontime_gateway::guarded::<answer::Text>(routes, Some(namespace))
}

/// The methods a POST may say it is, with `X-HTTP-Method-Override`.
const OVERRIDES: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// `methods`, with Express's 404 for any other method, and reached by a POST too when its
/// `X-HTTP-Method-Override` names one of them: the original's method-override ran before its
/// routing. The method is chosen here, in one handler for every method, because a layer
/// runs only once the method has been routed.
fn overridable(methods: MethodRouter<AppState>) -> MethodRouter<AppState> {
    let methods = methods.fallback(no_route);
    any(move |State(state): State<AppState>, mut request: Request| {
        let methods = methods.clone();
        async move {
            if let Some(method) = overriding(&request) {
                *request.method_mut() = method;
            }
            methods.with_state(state).oneshot(request).await
        }
    })
}

/// The method a POST's `X-HTTP-Method-Override` names, if it is one a client may name.
fn overriding(request: &Request) -> Option<Method> {
    if request.method() != Method::POST {
        return None;
    }
    let named = request
        .headers()
        .get("x-http-method-override")?
        .to_str()
        .ok()?
        .trim()
        .to_ascii_uppercase();
    let method = Method::from_bytes(named.as_bytes()).ok()?;
    OVERRIDES.contains(&method).then_some(method)
}

/// The home document, exactly as the original wrote it.
const HOME: &str = "\n{\n  \"uber\": {\n    \"version\": \"1.0\"\n  }\n}";

async fn home() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/vnd.uber+json; charset=utf-8",
        )],
        HOME,
    )
        .into_response()
}

/// `GET /schedule`: the original meant it to say `OK` (it answered 500 for a missing status).
async fn alive() -> Text {
    Text::ok("OK")
}

async fn no_route(method: Method, uri: Uri) -> Text {
    Text::no_route(method.as_str(), uri.path())
}

/// The segments of a request's path (`Segments<String>`, `Segments<(String, String)>`…),
/// decoded; one that does not decode (percent-encoded bytes that are not UTF-8) is a 400
/// `INVALID PATH`.
pub struct Segments<T>(pub T);

impl<T, S> FromRequestParts<S> for Segments<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Text;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Text> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(segments)) => Ok(Segments(segments)),
            Err(_) => Err(Text::bad_request("INVALID PATH")),
        }
    }
}

/// The native topic a path's `:topic` names; `None` when it can name none (so no topic).
fn topic_name(raw: &str) -> Option<TopicName> {
    TopicName::parse(raw).ok()
}

/// Topic `topic` (as a path names it) as stored, if it exists.
async fn existing_topic(
    state: &AppState,
    api: &Ontarget,
    topic: &str,
) -> Result<Option<(TopicName, TopicRecord)>, Text> {
    let Some(name) = topic_name(topic) else {
        return Ok(None);
    };
    let found = state.topology.topics.get(&api.namespace, &name).await?;
    Ok(found.map(|(record, _)| (name, record)))
}

/// A change of a topic or of a subscriber that did not happen, in the API's words:
/// `missing` when the topic is not there.
fn refused(error: TopicError, missing: impl FnOnce() -> Text) -> Text {
    match error {
        TopicError::NotFound => missing(),
        TopicError::Refused(e) => Text::bad_request(e.message),
        TopicError::Nats(e) => e.into(),
    }
}

/// A fresh UUID v4, the id of every object the API creates.
fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
