//! Events: `POST /schedule/topics/{topic}/at/<timespec>`, `GET
//! /schedule/topics/{topic}/events`, `GET|DELETE /schedule/topics/{topic}/events/{event}`.
//!
//! An event is a native timer, its UUID as id, in the facade's namespace: its schedule is
//! the timespec's (see [`super::timespec`]), its target the topic with the request's body
//! (every byte as sent) and its Content-Type (none when none was sent), and its retry policy
//! makes `?retries=` retries (default none) for the subscribers that set none of their own;
//! `?max_lateness=` (seconds) is the schedule's. The topic must exist (else 404 `NO TOPIC`).
//!
//! An event is shown while it has something to fire: a one-time event that has fired is
//! gone, as the original meant it to be. An event is read and deleted by its own id, the
//! path's topic not looked at, as the original did. Deleting one cancels its timer: it never
//! fires afterwards.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine as _;
use chrono::Utc;
use ontime_core::command::CommandBody;
use ontime_core::id::TimerId;
use ontime_core::metadata::{Metadata, TimerFilter};
use ontime_core::target::{MAX_BODY_BYTES, Target, TopicTarget};
use ontime_core::timer::{TimerRecord, TimerSpec};
use ontime_core::{ErrorCode, HumanDuration, Limits, TimerKey};
use ontime_gateway::{AppState, Outcome};

use super::answer::{Answer, Text};
use super::pages;
use super::timespec::{self, Kind, Plan};
use super::{FACADE, FACADE_KEY, Ontarget, Segments, new_id, overridable, settings, topic_name};
use crate::native;
use view::{Listed, Stored};

/// The metadata entries of an event: its topic, and its timespec as written.
pub const TOPIC_KEY: &str = "ontarget.topic";
pub const TIMESTAMP_KEY: &str = "ontarget.timestamp";
pub const INTERVAL_KEY: &str = "ontarget.interval";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/schedule/topics/{topic}/events", overridable(get(list)))
        .route(
            "/schedule/topics/{topic}/events/{event}",
            overridable(get(read).delete(delete)),
        )
        .route(
            "/schedule/topics/{topic}/at/",
            overridable(post(no_timespec)),
        )
        .route(
            "/schedule/topics/{topic}/at/{*timespec}",
            overridable(post(create)),
        )
}

/// What an event's query string may ask for.
#[derive(Debug, Clone, Default, PartialEq)]
struct Options {
    retries: u32,
    max_lateness: Option<HumanDuration>,
}

fn options(query: Option<&str>) -> Result<Options, Text> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|_| Text::bad_request("INVALID QUERY"))?;
    let mut options = Options::default();
    for (name, value) in &params {
        match name.as_str() {
            "retries" => options.retries = settings::retries(value)?,
            "max_lateness" => options.max_lateness = Some(settings::max_lateness(value)?),
            _ => {}
        }
    }
    Ok(options)
}

async fn no_timespec() -> Text {
    Text::bad_request(timespec::REQUIRED)
}

async fn create(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments((topic, spec)): Segments<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let options = options(query.as_deref())?;
    let plan = timespec::plan(&spec, Utc::now(), api.timezone, &state.config.limits)
        .map_err(Text::bad_request)?;
    let content_type = content_type(&headers)?;
    let body = to_bytes(body, state.config.max_body_bytes.min(MAX_BODY_BYTES))
        .await
        .map_err(|_| Text::too_large())?;
    let no_topic = || Text::not_found(format!("NO TOPIC: {topic}"));
    let name = topic_name(&topic).ok_or_else(no_topic)?;
    if state
        .topology
        .topics
        .get(&api.namespace, &name)
        .await?
        .is_none()
    {
        return Err(no_topic());
    }
    let event = Event {
        topic: &topic,
        spec: &spec,
        plan,
        body: &body,
        content_type,
        options,
    };
    let timer = event.timer(&state.config.limits)?;
    let id = new_id();
    // A UUID is always a valid timer id.
    let key = TimerKey::new(
        api.namespace.clone(),
        TimerId::parse(&id).unwrap_or_else(|_| unreachable!()),
    );
    match native::submit(&state, &key, CommandBody::upsert(timer), None).await? {
        Outcome::Refused(e) => Err(Text::bad_request(e.message)),
        // Applied, or durable and about to be.
        Outcome::Applied(_) | Outcome::Duplicate(_) | Outcome::Pending => {
            Ok(Text::new(StatusCode::CREATED, format!("CREATED: {id}")).into_response())
        }
    }
}

/// The request's Content-Type, as sent; a 400 for one that is not text.
fn content_type(headers: &HeaderMap) -> Result<Option<String>, Text> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Text::bad_request("INVALID CONTENT-TYPE"))
        })
        .transpose()
}

/// An event being created.
struct Event<'a> {
    topic: &'a str,
    /// The timespec as written.
    spec: &'a str,
    plan: Plan,
    body: &'a [u8],
    content_type: Option<String>,
    options: Options,
}

impl Event<'_> {
    /// The native timer of the event, checked under `limits`.
    fn timer(self, limits: &Limits) -> Result<TimerSpec, Text> {
        let mut schedule = self.plan.schedule;
        schedule.max_lateness = self.options.max_lateness;
        // Without a body nor a Content-Type, the subscribers get neither.
        let body_base64 = (!self.body.is_empty() || self.content_type.is_some())
            .then(|| base64::engine::general_purpose::STANDARD.encode(self.body));
        let target = Target {
            topic: Some(TopicTarget {
                name: self.topic.to_owned(),
                headers: Default::default(),
                body: None,
                body_base64,
                content_type: self.content_type,
            }),
            ..Target::default()
        };
        let spec_key = match self.plan.kind {
            Kind::Timestamp => TIMESTAMP_KEY,
            Kind::Interval => INTERVAL_KEY,
        };
        let metadata = Metadata::from([
            (FACADE_KEY.to_owned(), FACADE.to_owned()),
            (TOPIC_KEY.to_owned(), self.topic.to_owned()),
            (spec_key.to_owned(), self.spec.to_owned()),
        ]);
        let mut timer = TimerSpec {
            schedule,
            target,
            retry: settings::policy(self.options.retries),
            metadata,
        };
        timer
            .validate_with(limits)
            .map_err(|e| Text::bad_request(e.message))?;
        Ok(timer)
    }
}

async fn list(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments(topic): Segments<String>,
    RawQuery(query): RawQuery,
) -> Answer {
    let page = pages::requested(query.as_deref())?;
    let path = format!("/schedule/topics/{topic}/events");
    let Some(filter) = of_topic(&topic) else {
        return Ok(pages::listing::<Listed<'_>>(&[], &path, None, None));
    };
    let (found, next) = match &page {
        Some(p) => {
            let found = state
                .topology
                .timers
                .list_matching(&api.namespace, &filter, p.limit, p.cursor.as_deref())
                .await?;
            (found.items, found.next_cursor)
        }
        None => (native::all(&state, &api.namespace, &filter).await?, None),
    };
    // A page may hold fewer than `limit`: events that have fired are passed over.
    let listed: Vec<Listed<'_>> = found
        .iter()
        .filter_map(|(record, _)| Stored::of(record))
        .filter(Stored::upcoming)
        .map(|event| event.listed())
        .collect();
    Ok(pages::listing(&listed, &path, page.as_ref(), next))
}

/// The events of `topic`, for a listing; `None` when no event can have it.
fn of_topic(topic: &str) -> Option<TimerFilter> {
    let mut filter = TimerFilter::status(None);
    filter.require(FACADE_KEY, FACADE).ok()?;
    filter.require(TOPIC_KEY, topic).ok()?;
    Some(filter)
}

async fn read(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments((_, id)): Segments<(String, String)>,
) -> Answer {
    let no_event = || Text::not_found(format!("NO EVENT: {id}"));
    let (_, record) = existing(&state, &api, &id).await?.ok_or_else(no_event)?;
    let event = Stored::of(&record).ok_or_else(no_event)?;
    Ok(Text::json(&event.shown()).into_response())
}

async fn delete(
    State(state): State<AppState>,
    Extension(api): Extension<Arc<Ontarget>>,
    Segments((_, id)): Segments<(String, String)>,
) -> Answer {
    let not_removed = || Text::not_found(format!("NOT REMOVED: {id}"));
    let (key, _) = existing(&state, &api, &id).await?.ok_or_else(not_removed)?;
    match native::submit(&state, &key, CommandBody::Delete, None).await? {
        Outcome::Refused(e) if e.code == ErrorCode::NotFound => Err(not_removed()),
        Outcome::Refused(e) => Err(Text::bad_request(e.message)),
        Outcome::Applied(_) | Outcome::Duplicate(_) | Outcome::Pending => {
            Ok(Text::ok(format!("REMOVED: {id}")).into_response())
        }
    }
}

/// Event `id` as stored, if it is one of the facade's with something left to fire.
async fn existing(
    state: &AppState,
    api: &Ontarget,
    id: &str,
) -> Result<Option<(TimerKey, TimerRecord)>, Text> {
    let Ok(id) = TimerId::parse(id) else {
        return Ok(None);
    };
    let key = TimerKey::new(api.namespace.clone(), id);
    let found = native::read(state, &key).await?;
    Ok(found
        .filter(|(record, _)| Stored::of(record).is_some_and(|e| e.live()))
        .map(|(record, _)| (key, record)))
}

/// Deletes every event of `topic` that has something left to fire.
pub async fn delete_all(state: &AppState, api: &Ontarget, topic: &str) -> Result<(), Text> {
    let Some(filter) = of_topic(topic) else {
        return Ok(());
    };
    for (record, _) in native::all(state, &api.namespace, &filter).await? {
        if !Stored::of(&record).is_some_and(|e| e.live()) {
            continue;
        }
        match native::submit(state, &record.key(), CommandBody::Delete, None).await? {
            // Gone meanwhile: nothing left to stop.
            Outcome::Refused(e) if e.code == ErrorCode::NotFound => {}
            Outcome::Refused(e) => return Err(Text::bad_request(e.message)),
            Outcome::Applied(_) | Outcome::Duplicate(_) | Outcome::Pending => {}
        }
    }
    Ok(())
}

mod view;

#[cfg(test)]
mod tests;
