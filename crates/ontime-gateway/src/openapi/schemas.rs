//! The schemas written by hand: what the derived ones cannot say (a schedule is one of five
//! kinds, a name is a pattern, a duration a grammar) or say too loosely (no bounds, unknown
//! fields allowed). Each follows the validation in `ontime-core` (`id.rs`, `schedule.rs`,
//! `target.rs`, `retry.rs`, `metadata.rs`, `recurrence/`): a value these schemas allow may still be refused
//! where a rule is not a pattern (a cron day that never comes, an interval under the server's
//! floor, a start after the end), and that refusal is the documented 422.

use ontime_core::id::{MAX_NAMESPACE_LEN, MAX_TIMER_ID_LEN};
use ontime_core::metadata::{MAX_KEY_LEN, MAX_KEYS, MAX_VALUE_CHARS};
use ontime_core::target::{
    MAX_BODY_BYTES, MAX_HEADERS, MAX_SUBJECT_LEN, MAX_URL_LEN, RESERVED_HEADERS,
};
use serde_json::{Value, json};

use crate::input::MAX_IDEMPOTENCY_KEY_LEN;

/// `$ref` to a component.
pub fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Every hand-written component, by name.
pub fn components(max_batch_items: usize) -> Vec<(&'static str, Value)> {
    vec![
        ("Namespace", namespace()),
        ("TimerId", timer_id()),
        ("Duration", duration()),
        ("CronExpression", cron()),
        ("IsoRepetition", iso()),
        ("TimeZone", time_zone()),
        ("Schedule", schedule()),
        ("Target", target()),
        ("NatsTarget", nats_target()),
        ("TopicTarget", topic_target()),
        ("SubscriberTarget", subscriber_target()),
        ("HttpTarget", http_target(false)),
        ("HttpTargetPatch", http_target(true)),
        ("RetryPolicy", retry(false)),
        ("RetryPolicyPatch", retry(true)),
        ("Metadata", metadata()),
        ("MetadataPatch", metadata_patch()),
        ("TimerSpec", timer_spec(false)),
        ("NewTimer", timer_spec(true)),
        ("TimerPatch", timer_patch()),
        ("BatchRequest", batch_request(max_batch_items)),
        ("PrerequisiteName", prerequisite_name()),
        ("CommandTarget", command_target()),
    ]
}

/// Header names and values, at most [`MAX_HEADERS`], none of `reserved`.
fn header_map(description: &str, reserved: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": description,
        "maxProperties": MAX_HEADERS,
        "propertyNames": {
            "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
            "not": { "enum": reserved },
        },
        "additionalProperties": { "type": "string", "pattern": HEADER_VALUE },
    })
}

fn command_target() -> Value {
    use ontime_core::target::{MAX_COMMAND_ENV, MAX_COMMAND_LEN};
    json!({
        "type": "object",
        "description": "A command line run with `/bin/sh -c` at every attempt, in a clean environment (the operator's variables and these) and a process group of its own; a non-zero exit, a signal or the timeout is a failed attempt",
        "properties": {
            "run": { "type": "string", "minLength": 1, "maxLength": MAX_COMMAND_LEN, "pattern": "\\S" },
            "env": {
                "type": "object",
                "maxProperties": MAX_COMMAND_ENV,
                "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
                "additionalProperties": { "type": "string", "maxLength": MAX_COMMAND_LEN },
            },
            "dir": { "type": "string", "pattern": "^/", "maxLength": 4096 },
            "timeout": {
                "allOf": [reference("Duration")],
                "description": "More than 0 and at most 24h (default 10m); past it the process group is killed",
            },
        },
        "required": ["run"],
        "additionalProperties": false,
    })
}

fn prerequisite_name() -> Value {
    json!({
        "type": "string",
        "description": "A prerequisite's name",
        "minLength": 1,
        "maxLength": ontime_core::trust::prerequisite::MAX_NAME_LEN,
        "pattern": "^[A-Za-z0-9_-]+$",
    })
}

/// `.` and `..` are refused as names: clients resolve them as relative path segments.
fn not_a_dot_segment() -> Value {
    json!({ "enum": [".", ".."] })
}

fn namespace() -> Value {
    json!({
        "type": "string",
        "description": "A namespace: the scope of timer ids. Not `.` or `..`.",
        "minLength": 1,
        "maxLength": MAX_NAMESPACE_LEN,
        "pattern": "^[A-Za-z0-9._-]+$",
        "not": not_a_dot_segment(),
        "example": "shop",
    })
}

fn timer_id() -> Value {
    json!({
        "type": "string",
        "description": "A timer id, unique in its namespace. No `/`, `:` or white space; not `.` or `..`.",
        "minLength": 1,
        "maxLength": MAX_TIMER_ID_LEN,
        "pattern": "^[A-Za-z0-9._~@+=-]+$",
        "not": not_a_dot_segment(),
        "example": "order-42-reminder",
    })
}

/// A number of a duration or ISO component: up to 12 digits (longer ones overflow the
/// latest instant ontime accepts anyway).
const N: &str = "[0-9]{1,12}";

/// `90s`, `1h30m`, `500ms`, `1.5s`, `2d`, `1w`, or an ISO 8601 duration of fixed length
/// (`PT90M`, `P1DT2H`, `P1W`): what `HumanDuration` reads, and all that it writes.
fn duration() -> Value {
    let human = format!("(?:{N}(?:ns|us|ms|s|m|h|d|w)|{N}\\.[0-9]{{1,9}}s)+");
    let time = format!("T(?:{N}H(?:{N}M)?(?:{N}S)?|{N}M(?:{N}S)?|{N}S)");
    let iso = format!("P(?:{N}W|{N}D(?:{time})?|{time})");
    json!({
        "type": "string",
        "description": "A duration: `90s`, `1h30m`, `500ms`, `1.5s`, `2d`, `1w` (units ns, us, ms, s, m, h, d, w), or ISO 8601 of fixed length (`PT90M`, `P1DT2H`, `P1W`). Months and years have no fixed length and are refused here.",
        "pattern": format!("^(?:{human}|{iso})$"),
        "example": "90s",
    })
}

/// One cron field: `*`, `?` where allowed, values and ranges in range, lists, steps.
fn cron_field(value: &str, question_mark: bool) -> String {
    let item = format!("(?:\\*|{value}(?:-{value})?)(?:/[1-9][0-9]?)?");
    let list = format!("{item}(?:,{item})*");
    if question_mark {
        format!("(?:\\?|{list})")
    } else {
        list
    }
}

fn cron() -> Value {
    let sixty = "[1-5]?[0-9]";
    let hour = "(?:2[0-3]|1[0-9]|[0-9])";
    let day = "(?:3[01]|[12][0-9]|[1-9])";
    let month = "(?:1[0-2]|[1-9]|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)";
    let weekday = "(?:[0-7]|SUN|MON|TUE|WED|THU|FRI|SAT)";
    let five = [
        cron_field(sixty, false),
        cron_field(hour, false),
        cron_field(day, true),
        cron_field(month, false),
        cron_field(weekday, true),
    ]
    .join(" ");
    let six = format!("{} {five}", cron_field(sixty, false));
    let macros = "@(?:yearly|annually|monthly|weekly|daily|midnight|hourly)";
    json!({
        "type": "string",
        "description": "A cron expression: 6 fields (second minute hour day-of-month month day-of-week), classic 5 (seconds 0), or a macro. Fields take `*`, values, ranges `a-b` (not reversed), lists, steps `/n`, `?` in the day fields, `JAN`-`DEC`, `SUN`-`SAT` (any case). An expression no day can match (`0 0 30 2 *`) is refused.",
        "pattern": format!("^(?:{six}|{five}|{macros})$"),
        "example": "0 30 9 * * MON-FRI",
    })
}

fn iso() -> Value {
    let instant = "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z";
    let n = "[0-9]{1,4}";
    let time = format!("T(?:{n}H(?:{n}M)?(?:{n}S)?|{n}M(?:{n}S)?|{n}S)");
    let date = format!("(?:{n}Y(?:{n}M)?(?:{n}D)?|{n}M(?:{n}D)?|{n}D|{n}W)");
    let period = format!("P(?:{date}(?:{time})?|{time})");
    json!({
        "type": "string",
        "description": "An ISO 8601 repeating interval: `R[n]/<start>/<duration>`, `R[n]/<duration>/<end>` or `R[n]/<start>/<end>`; `R` alone repeats without end, `R0` is refused. Calendar units follow `timezone`. A period under the server's floor (1s by default) is refused, and so is a repetition with no occurrence left.",
        "pattern": format!("^R(?:[1-9][0-9]{{0,3}})?/(?:{instant}/{period}|{period}/{instant}|{instant}/{instant})$"),
        "example": "R5/2026-12-01T00:00:00Z/P1D",
    })
}

fn time_zone() -> Value {
    json!({
        "type": "string",
        "description": "An IANA time zone name (case-sensitive); an unknown name is refused (422).",
        "pattern": "^(?:UTC|[A-Z][A-Za-z_]+(?:/[A-Z][A-Za-z0-9_+-]+){1,2})$",
        "examples": ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"],
    })
}

fn instant(description: &str) -> Value {
    json!({ "type": "string", "format": "date-time", "description": description })
}

/// One kind of schedule: its own field, and the refinements that apply to it.
fn kind(name: &str, value: Value, description: &str, refinements: &[&str]) -> Value {
    let mut properties = serde_json::Map::new();
    properties.insert(name.to_owned(), value);
    for field in refinements {
        let schema = match *field {
            "timezone" => reference("TimeZone"),
            "start_at" => instant("No occurrence before this instant (`every` counts from it)"),
            "end_at" => instant("No occurrence after this instant; the timer then completes"),
            "stop_at" => instant("Another name of `end_at` (give one of them)"),
            "max_runs" => json!({
                "type": "integer", "minimum": 1, "maximum": u64::MAX,
                "description": "The timer completes after this many scheduled runs",
            }),
            "misfire" => reference("Misfire"),
            "overlap" => reference("Overlap"),
            "max_lateness" => json!({
                "allOf": [reference("Duration")],
                "description": "No call later than this after its due time (logged as `expired`)",
            }),
            other => unreachable!("no refinement {other}"),
        };
        properties.insert((*field).to_owned(), schema);
    }
    json!({
        "type": "object",
        "title": name,
        "description": description,
        "required": [name],
        "properties": properties,
        "additionalProperties": false,
    })
}

fn schedule() -> Value {
    const RECURRING: &[&str] = &[
        "timezone",
        "start_at",
        "end_at",
        "stop_at",
        "max_runs",
        "misfire",
        "overlap",
        "max_lateness",
    ];
    let every: Vec<&str> = RECURRING
        .iter()
        .copied()
        .filter(|f| *f != "timezone")
        .collect();
    json!({
        "description": "When a timer fires: exactly one kind (`at`, `after`, `cron`, `every` or `iso`) with the refinements that apply to it. `end_at` must be after `start_at`; a schedule with no occurrence left is refused.",
        "oneOf": [
            kind("at", instant("Fire once at this instant (one in the past fires at once), at the latest 9999-12-31T23:59:59.999Z"),
                "One call at an instant", &["max_lateness"]),
            kind("after", json!({"allOf": [reference("Duration")], "description": "Fire once, this long after the command was accepted"}),
                "One call after a delay", &["max_lateness"]),
            kind("cron", reference("CronExpression"), "Recurring, on the wall clock of `timezone`", RECURRING),
            kind("every", json!({"allOf": [reference("Duration")], "description": "A fixed interval of absolute time, at least the server's floor (1s by default)"}),
                "Recurring, a fixed interval from `start_at` or from creation", &every),
            kind("iso", reference("IsoRepetition"), "Recurring, an ISO 8601 repeating interval", RECURRING),
        ],
    })
}

fn target() -> Value {
    json!({
        "type": "object",
        "description": "Where a timer's call goes: exactly one of an HTTP request, a NATS message, every subscriber of a topic, or a command run by a command worker (in a namespace enabled for commands, by a token with the `command` role).",
        "properties": {
            "http": reference("HttpTarget"),
            "nats": reference("NatsTarget"),
            "topic": reference("TopicTarget"),
            "command": reference("CommandTarget"),
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": false,
    })
}

fn subscriber_target() -> Value {
    json!({
        "type": "object",
        "description": "Where a subscriber's deliveries go: exactly one of an HTTP request or a NATS message, without a body (each delivery carries the body of the timer that fires the topic).",
        "properties": {
            "http": reference("HttpTarget"),
            "nats": reference("NatsTarget"),
        },
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": false,
    })
}

/// A NATS subject a message may be published on: no wildcard, no empty token, not `$…`.
const SUBJECT: &str = "^[^$.\\s*>][^.\\s]*(?:\\.[^.\\s*>][^.\\s]*)*$";

/// Headers, a body given as JSON or base64, and its content type: what a NATS message and a
/// topic's deliveries carry.
fn message_fields() -> Value {
    let reserved: Vec<&str> = RESERVED_HEADERS.to_vec();
    json!({
        "headers": {
            "type": "object",
            "maxProperties": MAX_HEADERS,
            "propertyNames": {
                "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
                "not": { "enum": reserved },
            },
            "additionalProperties": { "type": "string", "pattern": HEADER_VALUE },
        },
        "body": {
            "description": format!("A JSON body (at most {MAX_BODY_BYTES} bytes once encoded), sent as application/json unless `content_type` says otherwise"),
        },
        "body_base64": {
            "type": "string",
            "description": format!("A raw body, standard base64 (at most {MAX_BODY_BYTES} bytes decoded), sent with `content_type` if given and without a Content-Type otherwise; not with `body`"),
            "maxLength": MAX_BODY_BYTES.div_ceil(3) * 4,
            "pattern": BASE64,
        },
        "content_type": { "type": "string", "pattern": HEADER_VALUE },
    })
}

fn nats_target() -> Value {
    let mut properties = message_fields();
    properties["subject"] = json!({
        "type": "string",
        "description": "The subject to publish on. In a stream, the message carries the delivery id as Nats-Msg-Id and the stream's acknowledgement is the success; otherwise the server taking it is.",
        "minLength": 1,
        "maxLength": MAX_SUBJECT_LEN,
        "pattern": SUBJECT,
        "example": "billing.invoices.due",
    });
    json!({
        "type": "object",
        "description": "A message published on a NATS subject.",
        "required": ["subject"],
        "properties": properties,
        "not": { "required": ["body", "body_base64"] },
        "additionalProperties": false,
    })
}

fn topic_target() -> Value {
    let mut properties = message_fields();
    properties["name"] = reference("TimerId");
    json!({
        "description": "Every subscriber of this topic of the timer's namespace, each delivered on its own with this body, content type and headers. A name alone is short for {\"name\": …}.",
        "anyOf": [
            reference("TimerId"),
            {
                "type": "object",
                "required": ["name"],
                "properties": properties,
                "not": { "required": ["body", "body_base64"] },
                "additionalProperties": false,
            },
        ],
    })
}

/// A header value as `http::HeaderValue` takes it: no control character but tab.
const HEADER_VALUE: &str = "^[^\\x00-\\x08\\x0A-\\x1F\\x7F]*$";

/// Canonical standard base64: the unused bits of the last symbol are zero.
const BASE64: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

/// The request a timer makes. As a patch (`partial`), every field is optional and `null`
/// removes it (RFC 7396); the merged target is then validated whole.
fn http_target(partial: bool) -> Value {
    let nullable = |schema: Value| {
        if partial {
            json!({ "anyOf": [schema, { "type": "null" }] })
        } else {
            schema
        }
    };
    let reserved: Vec<&str> = RESERVED_HEADERS.to_vec();
    let mut schema = json!({
        "type": "object",
        "description": if partial {
            "Fields of `target.http` to change; `null` removes one. The merged target must be valid."
        } else {
            "An HTTP request made at every attempt."
        },
        "properties": {
            "url": nullable(json!({
                "type": "string",
                "description": "Absolute http or https URL with a host",
                "maxLength": MAX_URL_LEN,
                "pattern": "^https?://[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?(?:\\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]*)?$",
                "example": "https://api.example.com/hooks/remind",
            })),
            "method": nullable(json!({
                "type": "string",
                "description": "Default POST; any case, answered in upper case",
                "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
            })),
            "headers": nullable(header_map(
                "Headers to send; ontime's own (webhook-id, webhook-timestamp, webhook-signature, ontime-attempt) and the framing ones cannot be set",
                &reserved,
            )),
            "body": json!({
                "description": format!("A JSON body (at most {MAX_BODY_BYTES} bytes once encoded), sent as application/json unless `content_type` says otherwise"),
            }),
            "body_base64": nullable(json!({
                "type": "string",
                "description": format!("A raw body, standard base64 (at most {MAX_BODY_BYTES} bytes decoded), sent with `content_type` if given and without a Content-Type otherwise; not with `body`"),
                "maxLength": MAX_BODY_BYTES.div_ceil(3) * 4,
                "pattern": BASE64,
            })),
            "content_type": nullable(json!({ "type": "string", "pattern": HEADER_VALUE })),
            "timeout": nullable(json!({
                "allOf": [reference("Duration")],
                "description": "Per attempt, more than 0 and at most 15m (default 10s)",
            })),
            "secret_headers": nullable(header_map(
                "Headers whose values are secrets: stored encrypted, sent only to the target, shown as `********` by every read (send the secret again to change it); not also in `headers`",
                &reserved,
            )),
            "prerequisites": nullable(json!({
                "type": "array",
                "description": "Names of the namespace's prerequisites (`/v1/namespaces/{ns}/prerequisites`) applied to every attempt, in order",
                "maxItems": ontime_core::target::MAX_PREREQUISITES,
                "uniqueItems": true,
                "items": reference("PrerequisiteName"),
            })),
            "answer": nullable(json!({
                "type": "string",
                "enum": ["steer", "status"],
                "description": "What a 2xx answer means: `steer` (default) lets its body stop or move the timer ({\"code\": 400}, {\"ok\": false, \"nextExecuteAt\": …}); `status` counts any 2xx as a success",
            })),
        },
        "additionalProperties": false,
    });
    if !partial {
        schema["required"] = json!(["url"]);
        schema["not"] = json!({ "required": ["body", "body_base64"] });
    }
    schema
}

fn retry(partial: bool) -> Value {
    let mut schema = json!({
        "type": "object",
        "description": if partial {
            "Fields of `retry` to change; `null` restores a field's default. The merged policy must be valid."
        } else {
            "How a failed call is retried; every field has a default. `max_interval` is at least `initial_interval`."
        },
        "properties": {
            "max_attempts": { "type": "integer", "minimum": 1, "maximum": 100, "description": "Attempts in all, the first included (default 5)" },
            "initial_interval": { "allOf": [reference("Duration")], "description": "Wait before the second attempt, more than 0 and at most 1d (default 1s)" },
            "multiplier": { "type": "number", "minimum": 1, "maximum": 10, "description": "Each wait is the previous one times this (default 2)" },
            "max_interval": { "allOf": [reference("Duration")], "description": "No wait longer than this, at most 1d (default 10m)" },
            "max_duration": { "anyOf": [reference("Duration"), { "type": "null" }], "description": "No attempt later than this after the due time, more than 0 and at most 30d" },
        },
        "additionalProperties": false,
    });
    if partial {
        for field in [
            "max_attempts",
            "initial_interval",
            "multiplier",
            "max_interval",
        ] {
            let inner = schema["properties"][field].take();
            schema["properties"][field] = json!({ "anyOf": [inner, { "type": "null" }] });
        }
    }
    schema
}

/// A metadata key: plain enough to follow `metadata.` in a query string unescaped.
fn metadata_key() -> String {
    format!("[A-Za-z0-9._-]{{1,{MAX_KEY_LEN}}}")
}

fn metadata_value() -> Value {
    json!({ "type": "string", "maxLength": MAX_VALUE_CHARS })
}

fn metadata() -> Value {
    json!({
        "type": "object",
        "description": format!("The client's labels: at most {MAX_KEYS} keys of 1-{MAX_KEY_LEN} characters of A-Z a-z 0-9 . _ -, each value a string of at most {MAX_VALUE_CHARS} characters. Listings filter on them (`metadata.<key>=<value>`)."),
        "maxProperties": MAX_KEYS,
        "propertyNames": { "pattern": format!("^{}$", metadata_key()) },
        "additionalProperties": metadata_value(),
        "example": { "app": "crony", "owner": "team-a" },
    })
}

/// Metadata in a patch: entries set or, `null`, removed; `null` for the whole removes all.
/// The merged map must hold at most [`MAX_KEYS`] keys.
fn metadata_patch() -> Value {
    json!({
        "anyOf": [
            {
                "type": "object",
                "description": format!("Keys to set, or to remove with `null`; the merged metadata holds at most {MAX_KEYS} keys."),
                "propertyNames": { "pattern": format!("^{}$", metadata_key()) },
                "additionalProperties": { "anyOf": [metadata_value(), { "type": "null" }] },
            },
            { "type": "null" },
        ],
    })
}

/// The query parameters `metadata.<key>=<value>` of a listing, as one exploded object.
pub fn metadata_filter() -> Value {
    json!({
        "type": "object",
        "maxProperties": MAX_KEYS,
        "propertyNames": { "pattern": format!("^metadata\\.{}$", metadata_key()) },
        "additionalProperties": metadata_value(),
    })
}

/// A timer's definition; with `id`, as `POST …/timers` and batch items take it.
fn timer_spec(with_id: bool) -> Value {
    let mut schema = json!({
        "type": "object",
        "description": "A timer's definition.",
        "required": ["schedule", "target"],
        "properties": {
            "schedule": reference("Schedule"),
            "target": reference("Target"),
            "retry": reference("RetryPolicy"),
            "metadata": reference("Metadata"),
        },
        "additionalProperties": false,
    });
    if with_id {
        schema["description"] = json!(
            "A timer's definition and, optionally, its id (one is chosen when absent; a timer with this id is replaced)."
        );
        schema["properties"]["id"] = json!({ "anyOf": [reference("TimerId"), { "type": "null" }] });
    }
    schema
}

fn timer_patch() -> Value {
    json!({
        "type": "object",
        "description": "Some of `schedule` (replaced whole), `target`, `retry` and `metadata` (merged, RFC 7396: `null` removes).",
        "minProperties": 1,
        "properties": {
            "schedule": reference("Schedule"),
            "target": {
                "type": "object",
                "description": "Merged into the current target; `null` removes a kind (a target keeps exactly one).",
                "properties": {
                    "http": { "anyOf": [reference("HttpTargetPatch"), { "type": "null" }] },
                    "nats": { "anyOf": [reference("NatsTarget"), { "type": "null" }] },
                    "topic": { "anyOf": [reference("TopicTarget"), { "type": "null" }] },
                    "command": { "anyOf": [reference("CommandTarget"), { "type": "null" }] },
                },
                "additionalProperties": false,
            },
            "retry": { "anyOf": [reference("RetryPolicyPatch"), { "type": "null" }] },
            "metadata": reference("MetadataPatch"),
        },
        "additionalProperties": false,
    })
}

fn batch_request(max_items: usize) -> Value {
    json!({
        "type": "object",
        "description": "Up to 1,000 timers; each timer named at most once (a repeated id is refused in that item's result).",
        "required": ["timers"],
        "properties": {
            "timers": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_items,
                "items": reference("NewTimer"),
            },
        },
        "additionalProperties": false,
    })
}

/// `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub fn idempotency_key() -> Value {
    json!({
        "type": "string",
        "pattern": format!("^[!-~]{{1,{MAX_IDEMPOTENCY_KEY_LEN}}}$"),
        "example": "order-42-create-7f3a",
    })
}

/// `If-Match`: a revision, bare or quoted as the `ETag` gives it.
pub fn if_match() -> Value {
    json!({
        "type": "string",
        "pattern": "^(?:[1-9][0-9]{0,18}|\"[1-9][0-9]{0,18}\")$",
        "example": "\"17\"",
    })
}
