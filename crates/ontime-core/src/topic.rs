//! Topics: named sets of subscribers in a namespace. A timer whose target is a topic delivers
//! each occurrence to every subscriber the topic has when the occurrence fires, each on its
//! own: its own delivery id, retries and log entries.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ValidationError;
use crate::id::{Namespace, SubscriberId, TopicName};
use crate::metadata::{self, Metadata};
use crate::retry::RetryPolicy;
use crate::target::SubscriberTarget;

/// Most subscribers a topic holds.
pub const MAX_SUBSCRIBERS: usize = 1000;
/// Longest description of a topic, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// What a client gives to create or replace a topic.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl TopicSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ValidationError::invalid(
                "description",
                format!("description is at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        metadata::validate(&self.metadata).map_err(|e| e.within("metadata"))
    }
}

/// A topic as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Topic {
    pub namespace: String,
    pub name: String,
    pub description: String,
    pub metadata: Metadata,
    /// How many subscribers it has.
    pub subscribers: usize,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
    /// The KV revision of this state.
    pub revision: u64,
}

/// A topic as stored: one entry holding its subscribers, so that an occurrence reads all of
/// them, as they are at that instant, in one read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicRecord {
    pub description: String,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subscribers: BTreeMap<SubscriberId, SubscriberEntry>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One subscriber, inside its topic's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriberEntry {
    pub target: SubscriberTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TopicRecord {
    /// A new topic, or `current` with `spec`'s fields (its subscribers kept).
    pub fn defined(current: Option<&TopicRecord>, spec: TopicSpec, now: DateTime<Utc>) -> Self {
        TopicRecord {
            description: spec.description,
            metadata: spec.metadata,
            subscribers: current.map(|c| c.subscribers.clone()).unwrap_or_default(),
            created_at: current.map_or(now, |c| c.created_at),
            updated_at: now,
        }
    }

    /// Sets subscriber `id` to `spec`; refused past [`MAX_SUBSCRIBERS`].
    pub fn subscribe(
        &mut self,
        id: &SubscriberId,
        spec: SubscriberSpec,
        now: DateTime<Utc>,
    ) -> Result<(), ValidationError> {
        let created_at = match self.subscribers.get(id) {
            Some(existing) => existing.created_at,
            None if self.subscribers.len() >= MAX_SUBSCRIBERS => {
                return Err(ValidationError::new(
                    crate::ErrorCode::Conflict,
                    format!("a topic has at most {MAX_SUBSCRIBERS} subscribers"),
                ));
            }
            None => now,
        };
        self.subscribers.insert(
            id.clone(),
            SubscriberEntry {
                target: spec.target,
                retry: spec.retry,
                metadata: spec.metadata,
                created_at,
                updated_at: now,
            },
        );
        self.updated_at = now;
        Ok(())
    }

    pub fn view(&self, namespace: &Namespace, name: &TopicName, revision: u64) -> Topic {
        Topic {
            namespace: namespace.to_string(),
            name: name.to_string(),
            description: self.description.clone(),
            metadata: self.metadata.clone(),
            subscribers: self.subscribers.len(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            revision,
        }
    }

    /// Subscriber `id` as the API shows it (credentials redacted), if the topic has it.
    pub fn subscriber(
        &self,
        namespace: &Namespace,
        name: &TopicName,
        id: &SubscriberId,
    ) -> Option<Subscriber> {
        let entry = self.subscribers.get(id)?;
        Some(
            Subscriber {
                namespace: namespace.to_string(),
                topic: name.to_string(),
                id: id.to_string(),
                target: entry.target.clone(),
                retry: entry.retry,
                metadata: entry.metadata.clone(),
                created_at: entry.created_at,
                updated_at: entry.updated_at,
            }
            .redacted(),
        )
    }
}

/// What a client gives to create or replace a subscriber.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberSpec {
    pub target: SubscriberTarget,
    /// This subscriber's retry policy; without one, the timer's applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl SubscriberSpec {
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        self.target.validate().map_err(|e| e.within("target"))?;
        if let Some(retry) = &mut self.retry {
            retry.validate().map_err(|e| e.within("retry"))?;
        }
        metadata::validate(&self.metadata).map_err(|e| e.within("metadata"))
    }
}

/// A subscriber as stored. The API shows it with its URL's credentials redacted
/// ([`Subscriber::redacted`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Subscriber {
    pub namespace: String,
    pub topic: String,
    pub id: String,
    pub target: SubscriberTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    pub metadata: Metadata,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl Subscriber {
    pub fn redacted(&self) -> Subscriber {
        Subscriber {
            target: self.target.redacted(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn subscriber(doc: serde_json::Value) -> Result<SubscriberSpec, ValidationError> {
        let mut spec: SubscriberSpec =
            serde_json::from_value(doc).map_err(|e| ValidationError::invalid("", e.to_string()))?;
        spec.validate().map(|()| spec)
    }

    #[test]
    fn a_subscriber_is_one_url_or_one_subject_without_a_body() {
        assert!(
            subscriber(json!({"target": {"http": {"url": "http://x.test/a", "method": "get"}}}))
                .is_ok()
        );
        assert!(subscriber(json!({"target": {"nats": {"subject": "a.b"}}})).is_ok());
        let both = subscriber(
            json!({"target": {"http": {"url": "http://x.test/a"}, "nats": {"subject": "a"}}}),
        );
        assert_eq!(both.unwrap_err().field.as_deref(), Some("target"));
        let body =
            subscriber(json!({"target": {"http": {"url": "http://x.test/a", "body": {"a": 1}}}}));
        assert_eq!(body.unwrap_err().field.as_deref(), Some("target.http.body"));
        let retry =
            subscriber(json!({"target": {"nats": {"subject": "a"}}, "retry": {"max_attempts": 0}}));
        assert_eq!(
            retry.unwrap_err().field.as_deref(),
            Some("retry.max_attempts")
        );
    }

    #[test]
    fn a_topic_description_is_bounded() {
        let long = TopicSpec {
            description: "x".repeat(MAX_DESCRIPTION_CHARS + 1),
            ..TopicSpec::default()
        };
        assert_eq!(
            long.validate().unwrap_err().field.as_deref(),
            Some("description")
        );
    }
}
