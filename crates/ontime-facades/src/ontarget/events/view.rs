//! How an event shows: in a listing, alone, and which of the native timers are events.

use base64::Engine as _;
use ontime_core::target::TopicTarget;
use ontime_core::timer::TimerRecord;
use serde::Serialize;

use super::{INTERVAL_KEY, TIMESTAMP_KEY};
use crate::ontarget::{FACADE, FACADE_KEY, settings};

/// An event in a listing: always these six keys, `null` for those it has not.
#[derive(Debug, Serialize)]
pub struct Listed<'a> {
    id: &'a str,
    next: Option<String>,
    topic: &'a str,
    interval: Option<&'a str>,
    timestamp: Option<&'a str>,
    #[serde(rename = "contentType")]
    content_type: Option<&'a str>,
}

/// One event: its data too, and only the keys it has.
#[derive(Debug, Serialize)]
pub struct Shown<'a> {
    id: &'a str,
    next: Option<String>,
    topic: &'a str,
    data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    #[serde(rename = "contentType", skip_serializing_if = "Option::is_none")]
    content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_lateness: Option<String>,
}

/// An event as stored: one of the facade's timers, with a topic target.
pub struct Stored<'a> {
    record: &'a TimerRecord,
    target: &'a TopicTarget,
}

impl<'a> Stored<'a> {
    pub fn of(record: &'a TimerRecord) -> Option<Self> {
        let ours = record.spec.metadata.get(FACADE_KEY).map(String::as_str) == Some(FACADE);
        let target = record.spec.target.topic.as_ref()?;
        ours.then_some(Stored { record, target })
    }

    /// Whether it has something left to fire (or is firing it).
    pub fn live(&self) -> bool {
        !self.record.status.is_final()
    }

    /// Whether an occurrence of it is still to come: what a listing shows.
    pub fn upcoming(&self) -> bool {
        self.live() && self.record.next_fire_at.is_some()
    }

    /// Its next occurrence (its instant, for a one-time event firing now), in Unix seconds.
    fn next(&self) -> Option<String> {
        let record = self.record;
        let next = record.next_fire_at.or(record.spec.schedule.at)?;
        Some(next.timestamp().to_string())
    }

    fn meta(&self, key: &str) -> Option<&'a str> {
        self.record.spec.metadata.get(key).map(String::as_str)
    }

    pub fn listed(&self) -> Listed<'a> {
        Listed {
            id: self.record.id.as_str(),
            next: self.next(),
            topic: &self.target.name,
            interval: self.meta(INTERVAL_KEY),
            timestamp: self.meta(TIMESTAMP_KEY),
            content_type: self.target.content_type.as_deref(),
        }
    }

    pub fn shown(&self) -> Shown<'a> {
        let spec = &self.record.spec;
        let retries = settings::retries_of(&spec.retry);
        Shown {
            id: self.record.id.as_str(),
            next: self.next(),
            topic: &self.target.name,
            data: self.data(),
            interval: self.meta(INTERVAL_KEY),
            timestamp: self.meta(TIMESTAMP_KEY),
            content_type: self.target.content_type.as_deref(),
            retries: (retries > 0).then(|| retries.to_string()),
            max_lateness: spec
                .schedule
                .max_lateness
                .map(|d| settings::shown_seconds(d.get())),
        }
    }

    /// The body as text: UTF-8 as it is, other bytes each replaced by U+FFFD (the bytes
    /// sent are the body's as it came).
    fn data(&self) -> String {
        let bytes = self
            .target
            .body_base64
            .as_deref()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}
