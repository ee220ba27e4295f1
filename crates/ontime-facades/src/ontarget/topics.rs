//! Topics: `GET|POST /schedule/topics`, `GET|PUT|DELETE /schedule/topics/{topic}`.
//!
//! A topic is the native topic named by its UUID, `{"id", "name", "description"}`: its name
//! is the metadata entry `ontarget.name` (at most 512 characters), its description the native
//! one (at most 1024). A change writes only the fields given and not empty, as the
//! original's did. Deleting a topic deletes its subscribers and its events, so that nothing
//! fires for it any more.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Extension, Router};
use chrono::Utc;
use ontime_core::id::{Namespace, TopicName};
use ontime_core::topic::{MAX_DESCRIPTION_CHARS, TopicRecord, TopicSpec};
use ontime_gateway::{ApiError, AppState};
use serde::Serialize;

use super::answer::{Answer, Text};
use super::fields::Fields;
use super::pages::{self, Page};
use super::{Ontarget, Segments, events, existing_topic, new_id, overridable, refused};

/// The metadata entry holding a topic's name.
pub const NAME_KEY: &str = "ontarget.name";

/// The longest name: a metadata value's bound.
const MAX_NAME_CHARS: usize = ontime_core::metadata::MAX_VALUE_CHARS;

/// How many topics one read of a full listing takes.
const READ_PAGE: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/schedule/topics", overridable(get(list).post(create)))
        .route(
            "/schedule/topics/{topic}",
            overridable(get(read).put(update).delete(delete)),
        )
}

/// A topic as the API shows it.
#[derive(Debug, Serialize)]
struct Topic<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
}

fn shown<'a>(id: &'a TopicName, record: &'a TopicRecord) -> Topic<'a> {
    Topic {
        id: id.as_str(),
        name: record.metadata.get(NAME_KEY).map_or("", String::as_str),
        description: &record.description,
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    RawQuery(query): RawQuery,
) -> Answer {
    let page = pages::requested(query.as_deref())?;
    let (found, next) = match &page {
        Some(Page { limit, cursor }) => {
            state
                .topology
                .topics
                .list(&api.namespace, *limit, cursor.as_deref())
                .await?
        }
        None => (every_topic(&state, &api.namespace).await?, None),
    };
    let topics: Vec<Topic<'_>> = found
        .iter()
        .map(|(id, record, _)| shown(id, record))
        .collect();
    Ok(pages::listing(
        &topics,
        "/schedule/topics",
        page.as_ref(),
        next,
    ))
}

async fn every_topic(
    state: &AppState,
    ns: &Namespace,
) -> Result<Vec<(TopicName, TopicRecord, u64)>, Text> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (found, next) = state
            .topology
            .topics
            .list(ns, READ_PAGE, cursor.as_deref())
            .await?;
        all.extend(found);
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(all),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    fields: Fields,
) -> Answer {
    let spec = definition(&fields, None)?;
    let id = new_id();
    // A UUID is always a valid topic name.
    let name = TopicName::parse(&id).unwrap_or_else(|_| unreachable!());
    state
        .topology
        .topics
        .define(&api.namespace, &name, spec, Utc::now())
        .await
        .map_err(|e| {
            refused(e, || {
                ApiError::internal("creating a topic", "its definition found no topic").into()
            })
        })?;
    Ok(Text::new(StatusCode::CREATED, format!("CREATED: {id}")).into_response())
}

async fn read(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments(id): Segments<String>,
) -> Answer {
    let no_topic = || Text::not_found(format!("NO TOPIC: {id}"));
    let (name, record) = existing_topic(&state, &api, &id)
        .await?
        .ok_or_else(no_topic)?;
    Ok(Text::json(&shown(&name, &record)).into_response())
}

async fn update(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments(id): Segments<String>,
    fields: Fields,
) -> Answer {
    let create_first = || Text::bad_request(format!("CREATE FIRST: {id}"));
    let (name, record) = existing_topic(&state, &api, &id)
        .await?
        .ok_or_else(create_first)?;
    let spec = definition(&fields, Some(&record))?;
    if spec.description != record.description || spec.metadata != record.metadata {
        state
            .topology
            .topics
            .redefine(&api.namespace, &name, spec, Utc::now())
            .await
            .map_err(|e| refused(e, create_first))?;
    }
    Ok(Text::ok(format!("UPDATED: {id}")).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments(id): Segments<String>,
) -> Answer {
    let not_removed = || Text::not_found(format!("NOT REMOVED: {id}"));
    let (name, _) = existing_topic(&state, &api, &id)
        .await?
        .ok_or_else(not_removed)?;
    // Its events first: should this request fail half-way, the topic is still there to be
    // deleted again, and no event is left firing at a topic that is gone.
    events::delete_all(&state, &api, name.as_str()).await?;
    if !state.topology.topics.delete(&api.namespace, &name).await? {
        return Err(not_removed());
    }
    Ok(Text::ok(format!("REMOVED: {id}")).into_response())
}

/// The topic `fields` define, from `current` for a change: the fields given and not empty
/// replace the topic's.
fn definition(fields: &Fields, current: Option<&TopicRecord>) -> Result<TopicSpec, Text> {
    let mut spec = current.map_or_else(TopicSpec::default, |c| TopicSpec {
        description: c.description.clone(),
        metadata: c.metadata.clone(),
    });
    if let Some(name) = fields.get("name") {
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Text::bad_request(format!(
                "NAME TOO LONG: at most {MAX_NAME_CHARS} characters"
            )));
        }
        spec.metadata.insert(NAME_KEY.to_owned(), name.to_owned());
    }
    if let Some(description) = fields.get("description") {
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Text::bad_request(format!(
                "DESCRIPTION TOO LONG: at most {MAX_DESCRIPTION_CHARS} characters"
            )));
        }
        description.clone_into(&mut spec.description);
    }
    spec.validate().map_err(|e| Text::bad_request(e.message))?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_takes_the_fields_given_and_not_empty() {
        let created =
            definition(&Fields::from([("name", "a"), ("description", "")]), None).unwrap();
        assert_eq!(
            created.metadata.get(NAME_KEY).map(String::as_str),
            Some("a")
        );
        assert_eq!(created.description, "");
        let record = TopicRecord::defined(None, created, Utc::now());
        let changed = definition(
            &Fields::from([("name", ""), ("description", "c")]),
            Some(&record),
        )
        .unwrap();
        assert_eq!(
            changed.metadata.get(NAME_KEY).map(String::as_str),
            Some("a")
        );
        assert_eq!(changed.description, "c");
    }

    #[test]
    fn names_and_descriptions_are_bounded() {
        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        assert!(
            definition(&Fields::from([("name", long.as_str())]), None)
                .unwrap_err()
                .body
                .starts_with("NAME TOO LONG")
        );
        assert!(
            definition(&Fields::from([("description", long.as_str())]), None)
                .unwrap_err()
                .body
                .starts_with("DESCRIPTION TOO LONG")
        );
    }
}
