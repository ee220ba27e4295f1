//! The Durable Timer API's documents, as `api/durable-timer-api.yaml` defines them, and the
//! body of the callback (which the document leaves open).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /timers/create`. Unknown fields are refused (400), so a misspelt one is never
/// silently ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTimerRequest {
    pub namespace: String,
    pub id: String,
    pub execute_at: DateTime<Utc>,
    pub callback_url: String,
    #[serde(default)]
    pub payload: Option<Map<String, Value>>,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicyIn>,
    #[serde(default)]
    pub callback_timeout_seconds: Option<i64>,
}

/// `POST /timers/update`: every field but the timer's selection is optional; those given
/// replace the timer's (a `retryPolicy` replaces the whole policy).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateTimerRequest {
    pub namespace: String,
    pub timer_id: String,
    #[serde(default)]
    pub execute_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub callback_url: Option<String>,
    #[serde(default)]
    pub payload: Option<Map<String, Value>>,
    #[serde(default)]
    pub retry_policy: Option<RetryPolicyIn>,
    #[serde(default)]
    pub callback_timeout_seconds: Option<i64>,
}

impl UpdateTimerRequest {
    /// Whether the request changes nothing (it then reads the timer).
    pub fn is_empty(&self) -> bool {
        self.execute_at.is_none()
            && self.callback_url.is_none()
            && self.payload.is_none()
            && self.retry_policy.is_none()
            && self.callback_timeout_seconds.is_none()
    }
}

/// `POST /timers/get` and `/timers/delete`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TimerSelection {
    pub namespace: String,
    pub timer_id: String,
}

/// A retry policy as clients send it: the document's fields, and the spellings its examples
/// and design notes use (`maxRetries`, `maxRetryAttemptsDuration`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RetryPolicyIn {
    #[serde(default)]
    pub max_attempts: Option<i64>,
    /// Retries after the first attempt: `maxAttempts − 1`.
    #[serde(default)]
    pub max_retries: Option<i64>,
    #[serde(default, alias = "maxRetryAttemptsDuration")]
    pub max_attempts_duration: Option<String>,
    #[serde(default)]
    pub initial_interval: Option<String>,
    #[serde(default)]
    pub backoff_multiplier: Option<f64>,
    #[serde(default)]
    pub max_interval: Option<String>,
}

/// A timer as the API answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timer {
    pub id: String,
    pub namespace: String,
    pub execute_at: DateTime<Utc>,
    pub callback_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    pub retry_policy: RetryPolicyOut,
    pub callback_timeout_seconds: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed_at: Option<DateTime<Utc>>,
}

/// The policy in force, every field filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPolicyOut {
    pub max_attempts: u32,
    pub initial_interval: String,
    pub backoff_multiplier: f64,
    pub max_interval: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attempts_duration: Option<String>,
}

/// The JSON body POSTed to `callbackUrl`: the timer's namespace and id, the instant it was
/// set to execute at, and its payload (absent when it has none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackBody {
    pub namespace: String,
    pub id: String,
    pub execute_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Map<String, Value>>,
}
