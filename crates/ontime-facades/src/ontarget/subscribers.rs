//! Subscribers: `GET|POST /schedule/topics/{topic}/subscribers`,
//! `GET|PUT|DELETE /schedule/topics/{topic}/subscribers/{subscriber}`.
//!
//! A subscriber is a native subscriber of its topic, its UUID as id, with an HTTP target:
//! `uri` (required; an absolute http or https URL), `method` (default `GET`; GET, POST, PUT,
//! PATCH, DELETE, HEAD or OPTIONS, any case) and the optional `timeout` and `retries` (see
//! [`super::settings`]). A subscriber belongs to a topic, so the path must name its topic;
//! subscribing to a topic that does not exist is a 404 `NO TOPIC`. A PUT replaces the whole
//! subscriber: what it does not give takes its default, and `uri` is required as on a POST.
//!
//! It shows as `{"id", "uri", "topic", "method"}`, with `timeout` when not the default 1 s
//! and `retries` when set. Credentials in its URI show redacted (`https://user:***@host/`),
//! as every native view shows them; calls use them as given.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use chrono::Utc;
use ontime_core::id::{SubscriberId, TopicName};
use ontime_core::metadata::Metadata;
use ontime_core::target::{AnswerUse, HttpTarget, SubscriberTarget, redact_url};
use ontime_core::topic::{SubscriberEntry, SubscriberSpec, TopicRecord};
use ontime_gateway::AppState;
use serde::Serialize;

use super::answer::{Answer, Text};
use super::fields::Fields;
use super::pages;
use super::{
    Ontarget, Segments, existing_topic, new_id, overridable, refused, settings, topic_name,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/schedule/topics/{topic}/subscribers",
            overridable(get(list).post(create)),
        )
        .route(
            "/schedule/topics/{topic}/subscribers/{subscriber}",
            overridable(get(read).put(update).delete(delete)),
        )
}

/// A subscriber as the API shows it.
#[derive(Debug, Serialize)]
struct Subscriber<'a> {
    id: &'a str,
    uri: String,
    topic: &'a str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<String>,
}

/// Subscriber `id` of `topic` as shown; `None` for one the API does not show (a NATS
/// subscriber, defined through the native API).
fn shown<'a>(
    topic: &'a TopicName,
    id: &'a SubscriberId,
    entry: &'a SubscriberEntry,
) -> Option<Subscriber<'a>> {
    let http = entry.target.http.as_ref()?;
    Some(Subscriber {
        id: id.as_str(),
        uri: redact_url(&http.url),
        topic: topic.as_str(),
        method: &http.method,
        timeout: Some(http.timeout())
            .filter(|t| *t != settings::DEFAULT_TIMEOUT)
            .map(settings::shown_seconds),
        retries: entry
            .retry
            .as_ref()
            .map(|policy| settings::retries_of(policy).to_string()),
    })
}

async fn list(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments(topic): Segments<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let page = pages::requested(query.as_deref())?;
    let path = format!("/schedule/topics/{topic}/subscribers");
    // The original listed the subscribers of any id, none for a topic that does not exist.
    let Some((name, record)) = existing_topic(&state, &api, &topic).await? else {
        return Ok(pages::listing::<Subscriber<'_>>(&[], &path, None, None));
    };
    let after = page.as_ref().and_then(|p| p.cursor.as_deref());
    let mut shown: Vec<Subscriber<'_>> = record
        .subscribers
        .iter()
        .filter(|(id, _)| after.is_none_or(|c| id.as_str() > c))
        .filter_map(|(id, entry)| shown(&name, id, entry))
        .collect();
    let next = match &page {
        Some(p) if shown.len() > p.limit => {
            shown.truncate(p.limit);
            shown.last().map(|s| s.id.to_owned())
        }
        _ => None,
    };
    Ok(pages::listing(&shown, &path, page.as_ref(), next))
}

async fn create(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments(topic): Segments<String>,
    fields: Fields,
) -> Answer {
    let spec = definition(&fields)?;
    let no_topic = || Text::not_found(format!("NO TOPIC: {topic}"));
    let name = topic_name(&topic).ok_or_else(no_topic)?;
    let id = new_id();
    // A UUID is always a valid subscriber id.
    let sub = SubscriberId::parse(&id).unwrap_or_else(|_| unreachable!());
    state
        .topology
        .topics
        .subscribe(&api.namespace, &name, &sub, spec, Utc::now())
        .await
        .map_err(|e| refused(e, no_topic))?;
    Ok(Text::new(StatusCode::CREATED, format!("CREATED: {id}")).into_response())
}

async fn read(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments((topic, id)): Segments<(String, String)>,
) -> Answer {
    let found = existing(&state, &api, &topic, &id).await?;
    let (name, sub, record) = found.ok_or_else(|| no_subscriber(&id))?;
    let entry = record
        .subscribers
        .get(&sub)
        .ok_or_else(|| no_subscriber(&id))?;
    let subscriber = shown(&name, &sub, entry).ok_or_else(|| no_subscriber(&id))?;
    Ok(Text::json(&subscriber).into_response())
}

fn no_subscriber(id: &str) -> Text {
    Text::not_found(format!("NO SUBSCRIBER: {id}"))
}

async fn update(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments((topic, id)): Segments<(String, String)>,
    fields: Fields,
) -> Answer {
    let create_first = || Text::bad_request(format!("CREATE FIRST: {id}"));
    let (name, sub, _) = existing(&state, &api, &topic, &id)
        .await?
        .ok_or_else(create_first)?;
    let spec = definition(&fields)?;
    state
        .topology
        .topics
        .subscribe(&api.namespace, &name, &sub, spec, Utc::now())
        .await
        .map_err(|e| refused(e, create_first))?;
    Ok(Text::ok(format!("UPDATED: {id}")).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments((topic, id)): Segments<(String, String)>,
) -> Answer {
    let not_removed = || Text::not_found(format!("NOT REMOVED: {id}"));
    let (name, sub, _) = existing(&state, &api, &topic, &id)
        .await?
        .ok_or_else(not_removed)?;
    let removed = state
        .topology
        .topics
        .unsubscribe(&api.namespace, &name, &sub, Utc::now())
        .await
        .map_err(|e| refused(e, not_removed))?;
    if !removed {
        return Err(not_removed());
    }
    Ok(Text::ok(format!("REMOVED: {id}")).into_response())
}

/// Subscriber `id` of topic `topic`, if the topic has it and the API shows it.
async fn existing(
    state: &AppState,
    api: &Ontarget,
    topic: &str,
    id: &str,
) -> Result<Option<(TopicName, SubscriberId, TopicRecord)>, Text> {
    let Ok(sub) = SubscriberId::parse(id) else {
        return Ok(None);
    };
    let Some((name, record)) = existing_topic(state, api, topic).await? else {
        return Ok(None);
    };
    let shows = record
        .subscribers
        .get(&sub)
        .is_some_and(|entry| entry.target.http.is_some());
    Ok(shows.then_some((name, sub, record)))
}

/// The subscriber `fields` define, or the 400 that refuses them.
fn definition(fields: &Fields) -> Result<SubscriberSpec, Text> {
    let uri = fields
        .get("uri")
        .ok_or_else(|| Text::bad_request("URI REQUIRED"))?;
    let method = fields.get("method").unwrap_or("GET");
    let timeout = match fields.get("timeout") {
        Some(given) => settings::timeout(given)?,
        None => settings::DEFAULT_TIMEOUT.into(),
    };
    let retry = fields
        .get("retries")
        .map(settings::retries)
        .transpose()?
        .map(settings::policy);
    let mut spec = SubscriberSpec {
        target: SubscriberTarget {
            http: Some(HttpTarget {
                url: uri.to_owned(),
                method: method.to_owned(),
                headers: Default::default(),
                body: None,
                body_base64: None,
                content_type: None,
                timeout: Some(timeout),
                answer: AnswerUse::Status,
                secret_headers: Default::default(),
                prerequisites: Vec::new(),
            }),
            nats: None,
        },
        retry,
        metadata: Metadata::new(),
    };
    spec.validate().map_err(|e| match e.field.as_deref() {
        Some("target.http.url") => Text::bad_request(format!("INVALID URI: {uri}")),
        Some("target.http.method") => Text::bad_request(format!("INVALID METHOD: {method}")),
        _ => Text::bad_request(e.message),
    })?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(spec: &SubscriberSpec) -> &HttpTarget {
        spec.target.http.as_ref().unwrap()
    }

    #[test]
    fn a_subscriber_is_a_get_with_a_one_second_timeout_and_no_retry_by_default() {
        let spec = definition(&Fields::from([("uri", "http://x.test/a")])).unwrap();
        assert_eq!(http(&spec).method, "GET");
        assert_eq!(http(&spec).timeout(), settings::DEFAULT_TIMEOUT);
        assert_eq!(spec.retry, None);
        let spec = definition(&Fields::from([
            ("uri", "http://x.test/a"),
            ("method", "post"),
            ("timeout", "2.5"),
            ("retries", "3"),
        ]))
        .unwrap();
        assert_eq!(http(&spec).method, "POST");
        assert_eq!(
            http(&spec).timeout(),
            std::time::Duration::from_millis(2500)
        );
        assert_eq!(spec.retry.map(|r| r.max_attempts), Some(4));
    }

    #[test]
    fn refusals_in_the_apis_words() {
        for (fields, text) in [
            (Fields::from([("method", "POST")]), "URI REQUIRED"),
            (Fields::from([("uri", "")]), "URI REQUIRED"),
            (
                Fields::from([("uri", "ftp://x.test")]),
                "INVALID URI: ftp://x.test",
            ),
            (
                Fields::from([("uri", "not a url")]),
                "INVALID URI: not a url",
            ),
            (
                Fields::from([("uri", "http://x.test"), ("method", "BREW")]),
                "INVALID METHOD: BREW",
            ),
            (
                Fields::from([("uri", "http://x.test"), ("timeout", "0")]),
                "INVALID TIMEOUT: 0",
            ),
            (
                Fields::from([("uri", "http://x.test"), ("retries", "x")]),
                "INVALID RETRIES: x",
            ),
        ] {
            assert_eq!(definition(&fields), Err(Text::bad_request(text)));
        }
    }
}
