//! What a timer calls when it fires: today an HTTP request.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::duration::HumanDuration;
use crate::error::ValidationError;

/// Longest callback URL accepted (the durable-timer API's limit).
pub const MAX_URL_LEN: usize = 2048;
/// Largest request body a timer may carry, after base64 decoding.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most headers a target may set.
pub const MAX_HEADERS: usize = 64;
/// Per-attempt timeout when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest per-attempt timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Headers ontime sets itself on every call; a target may not override them.
pub const RESERVED_HEADERS: &[&str] = &[
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "ontime-attempt",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

/// Where a timer's call goes: exactly one of an HTTP request, a NATS message, or every
/// subscriber of a topic.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<TopicTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandTarget>,
}

/// A command line run at every attempt with `/bin/sh -c`, by a command worker (a worker
/// started with `--commands`), in a namespace the operator enabled for commands. A non-zero
/// exit, a signal or the timeout is a failed attempt, retried by the timer's policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandTarget {
    /// The command line, given to `/bin/sh -c`.
    #[schema(example = "/usr/local/bin/rotate-logs --keep 7")]
    pub run: String,
    /// Environment variables of the run, added to the operator's; nothing else is inherited.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The working directory (absolute); the command worker's default otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    /// How long a run may take (default 10m, at most 24h); past it, its process group is
    /// killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "10m")]
    pub timeout: Option<HumanDuration>,
}

/// A command's run time when none is given.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The longest run time accepted.
pub const MAX_COMMAND_TIMEOUT: Duration = Duration::from_secs(24 * 3600);
/// Longest command line.
pub const MAX_COMMAND_LEN: usize = 64 * 1024;
/// Most environment variables a command target may set.
pub const MAX_COMMAND_ENV: usize = 64;

impl CommandTarget {
    /// The run time in force.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .map(HumanDuration::get)
            .unwrap_or(DEFAULT_COMMAND_TIMEOUT)
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.run.trim().is_empty() || self.run.len() > MAX_COMMAND_LEN {
            return Err(ValidationError::invalid(
                "run",
                format!("run is a command line of 1 to {MAX_COMMAND_LEN} bytes"),
            ));
        }
        if self.run.contains('\0') {
            return Err(ValidationError::invalid(
                "run",
                "run cannot contain a NUL byte",
            ));
        }
        if self.env.len() > MAX_COMMAND_ENV {
            return Err(ValidationError::invalid(
                "env",
                format!("at most {MAX_COMMAND_ENV} variables"),
            ));
        }
        for (name, value) in &self.env {
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !valid {
                return Err(ValidationError::invalid(
                    format!("env.{name}"),
                    "a variable's name is letters, digits and '_', not starting with a digit",
                ));
            }
            if value.contains('\0') || value.len() > MAX_COMMAND_LEN {
                return Err(ValidationError::invalid(
                    format!("env.{name}"),
                    format!("a value is at most {MAX_COMMAND_LEN} bytes, without NUL"),
                ));
            }
        }
        if let Some(dir) = &self.dir
            && (!dir.starts_with('/') || dir.contains('\0') || dir.len() > 4096)
        {
            return Err(ValidationError::invalid(
                "dir",
                "dir must be an absolute path",
            ));
        }
        if let Some(t) = self.timeout
            && (t.get().is_zero() || t.get() > MAX_COMMAND_TIMEOUT)
        {
            return Err(ValidationError::invalid(
                "timeout",
                "timeout must be more than 0 and at most 24h",
            ));
        }
        Ok(())
    }
}

/// An HTTP request made at every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTarget {
    /// Absolute `http` or `https` URL.
    #[schema(example = "https://api.example.com/hooks/reminder")]
    pub url: String,
    /// Defaults to POST.
    #[serde(default = "default_method")]
    #[schema(example = "POST")]
    pub method: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body, sent as `application/json` unless `content_type` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A raw body, base64-encoded (standard alphabet), sent with `content_type` if given, and
    /// without a Content-Type otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Per-attempt timeout (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "10s")]
    pub timeout: Option<HumanDuration>,
    /// What a 2xx answer means (default `steer`).
    #[serde(default, skip_serializing_if = "AnswerUse::is_default")]
    pub answer: AnswerUse,
    /// Headers whose values are secrets: encrypted before they are stored, sent in clear only
    /// to the target, and shown as `********` by every read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_headers: BTreeMap<String, String>,
    /// The names of the namespace's prerequisites applied to every attempt, in this order
    /// (a bearer token, basic credentials, a header, an OAuth2 token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(example = json!(["billing-oauth"]))]
    pub prerequisites: Vec<String>,
}

/// A message published on a NATS subject at every attempt. On a subject a JetStream stream
/// captures, it is published with the delivery id as `Nats-Msg-Id` (the stream stores a
/// retried delivery once) and the stream's acknowledgement is the success; on any other
/// subject it is published plainly, and the success is the server having taken it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NatsTarget {
    /// A subject without wildcards (`orders.reminders`); not one of the system's (`$…`).
    #[schema(example = "billing.invoices.due")]
    pub subject: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body, sent with `Content-Type: application/json` unless `content_type` says
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// A raw body, base64-encoded (standard alphabet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

/// Every subscriber of a topic of the timer's namespace, each getting a delivery of its own:
/// the body, content type and headers given here, to its own URL or subject. `"topic":
/// "<name>"` is short for `{"name": "<name>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TopicTarget {
    #[schema(example = "orders")]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl<'de> Deserialize<'de> for TopicTarget {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            name: String,
            #[serde(default)]
            headers: BTreeMap<String, String>,
            #[serde(default)]
            body: Option<serde_json::Value>,
            #[serde(default)]
            body_base64: Option<String>,
            #[serde(default)]
            content_type: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Name(String),
            Full(Full),
        }
        let full = match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(name) => Given::Name(name),
            other => Given::Full(Full::deserialize(other).map_err(serde::de::Error::custom)?),
        };
        Ok(match full {
            Given::Name(name) => TopicTarget {
                name,
                headers: BTreeMap::new(),
                body: None,
                body_base64: None,
                content_type: None,
            },
            Given::Full(f) => TopicTarget {
                name: f.name,
                headers: f.headers,
                body: f.body,
                body_base64: f.body_base64,
                content_type: f.content_type,
            },
        })
    }
}

/// How much of a successful (2xx) answer the timer listens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerUse {
    /// The body may steer the timer: `{"code": 400, "message": …}` stops it, `{"ok": false,
    /// "nextExecuteAt": "<RFC 3339>"}` moves its next occurrence, `{"ok": false}` alone is a
    /// failure. Any other body is a success.
    #[default]
    Steer,
    /// Only the status counts: any 2xx is a success, whatever its body says.
    Status,
}

impl AnswerUse {
    fn is_default(&self) -> bool {
        *self == Self::Steer
    }
}

fn default_method() -> String {
    "POST".into()
}

/// Methods a target may use.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Longest NATS subject a target may name.
pub const MAX_SUBJECT_LEN: usize = 256;

/// The bytes and content type of a body given as JSON or as base64, if one is. A JSON body
/// is `application/json` unless typed otherwise; a raw one has the type it is given, or none
/// (its bytes go out exactly as given, without a `Content-Type`).
fn body_bytes(
    json: Option<&serde_json::Value>,
    base64: Option<&str>,
    content_type: Option<&str>,
) -> Option<(Vec<u8>, Option<String>)> {
    if let Some(json) = json {
        let ct = content_type.unwrap_or("application/json").to_owned();
        return Some((serde_json::to_vec(json).unwrap_or_default(), Some(ct)));
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(base64?)
        .ok()?;
    Some((raw, content_type.map(str::to_owned)))
}

/// Checks a body given as JSON or base64 and its content type.
fn check_body(
    json: Option<&serde_json::Value>,
    base64: Option<&str>,
    content_type: Option<&str>,
) -> Result<(), ValidationError> {
    if let Some(ct) = content_type
        && http::HeaderValue::from_str(ct).is_err()
    {
        return Err(ValidationError::invalid(
            "content_type",
            "not a valid content type",
        ));
    }
    match (json, base64) {
        (Some(_), Some(_)) => Err(ValidationError::invalid(
            "body_base64",
            "give either body or body_base64, not both",
        )),
        (Some(json), None) => {
            let size = serde_json::to_vec(json)
                .map(|v| v.len())
                .unwrap_or(usize::MAX);
            if size > MAX_BODY_BYTES {
                return Err(ValidationError::invalid(
                    "body",
                    format!("body is {size} bytes; the limit is {MAX_BODY_BYTES}"),
                ));
            }
            Ok(())
        }
        (None, Some(b64)) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| {
                    ValidationError::invalid("body_base64", format!("not valid base64: {e}"))
                })?;
            if raw.len() > MAX_BODY_BYTES {
                return Err(ValidationError::invalid(
                    "body_base64",
                    format!("body is {} bytes; the limit is {MAX_BODY_BYTES}", raw.len()),
                ));
            }
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

/// Checks headers to send (HTTP headers, or a NATS message's, which follow the same rules).
fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    if headers.len() > MAX_HEADERS {
        return Err(ValidationError::invalid(
            "headers",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    for (name, value) in headers {
        let field = format!("headers.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(ValidationError::invalid(field, "not a valid header name"));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(ValidationError::invalid(
                field,
                "this header is set by ontime and cannot be overridden",
            ));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(ValidationError::invalid(field, "not a valid header value"));
        }
    }
    Ok(())
}

impl HttpTarget {
    /// The per-attempt timeout in force.
    pub fn timeout(&self) -> Duration {
        self.timeout
            .map(HumanDuration::get)
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// The body bytes and content type to send, if any.
    pub fn body_bytes(&self) -> Option<(Vec<u8>, Option<String>)> {
        body_bytes(
            self.body.as_ref(),
            self.body_base64.as_deref(),
            self.content_type.as_deref(),
        )
    }

    /// Whether a body (or its content type) is given.
    fn has_body(&self) -> bool {
        self.body.is_some() || self.body_base64.is_some() || self.content_type.is_some()
    }

    /// Checks every field; the error names the field relative to this target (`url`, `headers.X`…).
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        if self.url.len() > MAX_URL_LEN {
            return Err(ValidationError::invalid(
                "url",
                format!("url is longer than {MAX_URL_LEN} characters"),
            ));
        }
        let url = url::Url::parse(&self.url).map_err(|e| {
            ValidationError::invalid("url", format!("url is not an absolute URL: {e}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(ValidationError::invalid(
                "url",
                "url must be an http or https URL with a host",
            ));
        }
        self.method = self.method.to_ascii_uppercase();
        if !METHODS.contains(&self.method.as_str()) {
            return Err(ValidationError::invalid(
                "method",
                format!("method must be one of {}", METHODS.join(", ")),
            ));
        }
        check_headers(&self.headers)?;
        self.check_secrets()?;
        check_body(
            self.body.as_ref(),
            self.body_base64.as_deref(),
            self.content_type.as_deref(),
        )?;
        if let Some(t) = self.timeout
            && (t.get().is_zero() || t.get() > MAX_TIMEOUT)
        {
            return Err(ValidationError::invalid(
                "timeout",
                "timeout must be more than 0 and at most 15m",
            ));
        }
        Ok(())
    }
}

impl HttpTarget {
    /// Secret headers are headers too, never also given in clear, and never the mask a read
    /// shows (a read-modify-write must send the secret again, not its mask); prerequisites
    /// are named once each.
    fn check_secrets(&self) -> Result<(), ValidationError> {
        check_headers(&self.secret_headers).map_err(|e| {
            ValidationError::invalid(
                e.field
                    .unwrap_or_default()
                    .replacen("headers", "secret_headers", 1),
                e.message,
            )
        })?;
        for (name, value) in &self.secret_headers {
            let field = || format!("secret_headers.{name}");
            if self.headers.keys().any(|h| h.eq_ignore_ascii_case(name)) {
                return Err(ValidationError::invalid(
                    field(),
                    "this header is also in headers; give it once",
                ));
            }
            if value == SECRET_MASK {
                return Err(ValidationError::invalid(
                    field(),
                    "this is the mask reads show, not a secret; send the secret itself",
                ));
            }
        }
        if self.prerequisites.len() > MAX_PREREQUISITES {
            return Err(ValidationError::invalid(
                "prerequisites",
                format!("at most {MAX_PREREQUISITES} prerequisites"),
            ));
        }
        for (i, name) in self.prerequisites.iter().enumerate() {
            crate::trust::prerequisite::check_name(name).map_err(|message| {
                ValidationError::invalid(format!("prerequisites.{i}"), message)
            })?;
            if self.prerequisites[..i].contains(name) {
                return Err(ValidationError::invalid(
                    format!("prerequisites.{i}"),
                    format!("{name:?} is named twice"),
                ));
            }
        }
        Ok(())
    }

    /// The target as the API shows it: credentials in the URL redacted, secret headers masked.
    pub fn redacted(&self) -> HttpTarget {
        let mut shown = self.clone();
        shown.url = redact_url(&shown.url);
        for value in shown.secret_headers.values_mut() {
            SECRET_MASK.clone_into(value);
        }
        shown
    }
}

/// What reads show in place of a secret.
pub const SECRET_MASK: &str = "********";

/// Most prerequisites on one target.
pub const MAX_PREREQUISITES: usize = 8;

impl NatsTarget {
    /// The body bytes and content type to send, if any.
    pub fn body_bytes(&self) -> Option<(Vec<u8>, Option<String>)> {
        body_bytes(
            self.body.as_ref(),
            self.body_base64.as_deref(),
            self.content_type.as_deref(),
        )
    }

    fn has_body(&self) -> bool {
        self.body.is_some() || self.body_base64.is_some() || self.content_type.is_some()
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        check_subject(&self.subject)?;
        check_headers(&self.headers)?;
        check_body(
            self.body.as_ref(),
            self.body_base64.as_deref(),
            self.content_type.as_deref(),
        )
    }
}

/// A subject a message may be published on: tokens of printable characters without
/// wildcards, not a system subject (`$JS…`, `$KV…`, `$SYS…`).
fn check_subject(subject: &str) -> Result<(), ValidationError> {
    let bad = |why: &str| Err(ValidationError::invalid("subject", why.to_owned()));
    if subject.is_empty() || subject.len() > MAX_SUBJECT_LEN {
        return bad(&format!("subject is 1 to {MAX_SUBJECT_LEN} bytes"));
    }
    if subject.starts_with('$') {
        return bad("subject must not be a system subject ($…)");
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return bad("subject has an empty token (a leading, trailing or double dot)");
        }
        if token == "*" || token == ">" {
            return bad("subject must not contain wildcards (* or >)");
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("subject must not contain whitespace or control characters");
        }
    }
    Ok(())
}

impl TopicTarget {
    /// The body bytes and content type every subscriber gets, if any.
    pub fn body_bytes(&self) -> Option<(Vec<u8>, Option<String>)> {
        body_bytes(
            self.body.as_ref(),
            self.body_base64.as_deref(),
            self.content_type.as_deref(),
        )
    }

    pub fn validate(&self) -> Result<(), ValidationError> {
        crate::id::TopicName::parse(&self.name)
            .map_err(|e| ValidationError::invalid("name", e.message))?;
        check_headers(&self.headers)?;
        check_body(
            self.body.as_ref(),
            self.body_base64.as_deref(),
            self.content_type.as_deref(),
        )
    }
}

impl Target {
    /// An HTTP target.
    pub fn http(http: HttpTarget) -> Self {
        Self {
            http: Some(http),
            ..Self::default()
        }
    }

    /// Checks that exactly one kind is given, and that kind.
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        let kinds = usize::from(self.http.is_some())
            + usize::from(self.nats.is_some())
            + usize::from(self.topic.is_some())
            + usize::from(self.command.is_some());
        if kinds != 1 {
            return Err(ValidationError::invalid(
                "",
                "give exactly one target: http, nats, topic or command",
            ));
        }
        if let Some(command) = &self.command {
            command.validate().map_err(|e| e.within("command"))?;
        }
        if let Some(http) = &mut self.http {
            http.validate().map_err(|e| e.within("http"))?;
        }
        if let Some(nats) = &self.nats {
            nats.validate().map_err(|e| e.within("nats"))?;
        }
        if let Some(topic) = &self.topic {
            topic.validate().map_err(|e| e.within("topic"))?;
        }
        Ok(())
    }

    /// The target as the API shows it: credentials in the URL redacted (see [`redact_url`]).
    /// The stored target, which the worker calls, keeps them.
    pub fn redacted(&self) -> Target {
        let mut shown = self.clone();
        if let Some(http) = &mut shown.http {
            *http = http.redacted();
        }
        shown
    }
}

/// Where a subscriber's deliveries go: exactly one of an HTTP request or a NATS message,
/// without a body (every subscriber gets the body of the timer that fires the topic).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriberTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats: Option<NatsTarget>,
}

impl SubscriberTarget {
    pub fn validate(&mut self) -> Result<(), ValidationError> {
        if usize::from(self.http.is_some()) + usize::from(self.nats.is_some()) != 1 {
            return Err(ValidationError::invalid(
                "",
                "give exactly one target: http or nats",
            ));
        }
        if let Some(http) = &mut self.http {
            if http.has_body() {
                return Err(ValidationError::invalid(
                    "http.body",
                    "a subscriber has no body of its own: it gets the body of the timer that fires its topic",
                ));
            }
            http.validate().map_err(|e| e.within("http"))?;
        }
        if let Some(nats) = &self.nats {
            if nats.has_body() {
                return Err(ValidationError::invalid(
                    "nats.body",
                    "a subscriber has no body of its own: it gets the body of the timer that fires its topic",
                ));
            }
            nats.validate().map_err(|e| e.within("nats"))?;
        }
        Ok(())
    }

    /// The target one delivery of `topic` calls: this subscriber's, with the topic
    /// target's body, content type and headers (the subscriber's own headers win).
    pub fn delivering(&self, topic: &TopicTarget) -> Target {
        let mut headers = topic.headers.clone();
        let mut target = Target::default();
        if let Some(http) = &self.http {
            headers.extend(http.headers.clone());
            target.http = Some(HttpTarget {
                headers,
                body: topic.body.clone(),
                body_base64: topic.body_base64.clone(),
                content_type: topic.content_type.clone(),
                ..http.clone()
            });
        } else if let Some(nats) = &self.nats {
            headers.extend(nats.headers.clone());
            target.nats = Some(NatsTarget {
                headers,
                body: topic.body.clone(),
                body_base64: topic.body_base64.clone(),
                content_type: topic.content_type.clone(),
                ..nats.clone()
            });
        }
        target
    }

    /// The target as the API shows it, credentials redacted.
    pub fn redacted(&self) -> SubscriberTarget {
        let mut shown = self.clone();
        if let Some(http) = &mut shown.http {
            *http = http.redacted();
        }
        shown
    }
}

/// What replaces a credential in a URL the API shows.
pub const REDACTED: &str = "***";

/// `url` with its credentials hidden: the password becomes `***` (`https://user:***@host/`)
/// and a user name given alone, often a token, becomes `***` too (`https://***@host/`). A URL
/// without credentials, or one that does not parse, is returned as it is.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let result = match (parsed.username().is_empty(), parsed.password().is_some()) {
        (_, true) => parsed.set_password(Some(REDACTED)),
        (false, false) => parsed.set_username(REDACTED),
        (true, false) => return url.to_owned(),
    };
    match result {
        Ok(()) => parsed.into(),
        // A URL that cannot carry credentials has none to hide.
        Err(()) => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
