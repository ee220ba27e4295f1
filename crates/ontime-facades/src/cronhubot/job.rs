//! A CronHubot cron job in native terms, as pure functions: a request becomes a
//! [`Definition`], a definition a native [`TimerSpec`], a native timer a [`CronJob`]. No I/O;
//! "now" is an argument.
//!
//! - `expression`: exactly six fields separated by single spaces, seconds first (the
//!   original's check, then its parser's grammar, which the native cron parser reads the
//!   same), evaluated on the facade's time zone;
//! - `url`: an HTTP GET of the url with `__cronId=<id>` set in its query (an `__cronId` of
//!   the url's own is replaced; its other parameters are kept, in their order). The answer
//!   may stop the job: a 2xx whose JSON body has `"code": 400` (the native `steer` answer);
//! - `retries`, 0 to 10: retries after a failed call, with ontime's backoff;
//! - `request_timeout`: each call's timeout in seconds (default 3);
//! - `stop_at`: `YYYY-MM-DD HH:MM:SS` on the facade's time zone, the schedule's `end_at`;
//! - `status` 1 is a scheduled timer, 9 or 99 a paused one; a finished job (stopped by its
//!   answer, past its `stop_at`, or deleted) reads 99;
//! - `name` and `group_id` are kept in the metadata (`cronhubot.name`, `cronhubot.group_id`).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use ontime_core::timer::{TimerSpec, TimerStatus};
use ontime_core::{Limits, ValidationError};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use crate::cron_service::{Change, Service, Stored, reason};

pub const NAME_KEY: &str = "cronhubot.name";
pub const GROUP_KEY: &str = "cronhubot.group_id";

/// The query parameter that tells the callback which job called.
pub const CRON_ID: &str = "__cronId";
/// `request_timeout` when none is given, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT: u32 = 3;
/// The longest `request_timeout`: ontime's longest call timeout.
pub const MAX_REQUEST_TIMEOUT: u32 = 900;
/// How the service writes and reads a time.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// How it writes a time that is not set.
pub const NO_TIME: &str = "0000-00-00 00:00:00";
/// The original's message for an expression that is not six fields.
pub const BAD_EXPRESSION: &str = "定时配置格式不正确";

/// A cron job's fields as a client sends them. Unknown fields are ignored, as are the ones
/// the service sets itself (`id`, `created_at`, `updated_at`), so a read can be sent back.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CronJobIn {
    pub name: Option<String>,
    pub url: Option<String>,
    pub expression: Option<String>,
    pub status: Option<i64>,
    pub retries: Option<i64>,
    pub request_timeout: Option<i64>,
    pub stop_at: Option<StopAt>,
    pub group_id: Option<i64>,
}

/// A `stop_at` as given: a time, or one of the ways the original wrote "none" (`""`,
/// `0000-00-00 00:00:00`, `1999-01-01 00:00:00`). Any other text does not decode (400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAt {
    Never,
    At(NaiveDateTime),
}

impl<'de> Deserialize<'de> for StopAt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "" | NO_TIME | "1999-01-01 00:00:00" => Ok(StopAt::Never),
            _ if text.len() == 19 => NaiveDateTime::parse_from_str(&text, TIME_FORMAT)
                .map(StopAt::At)
                .map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom("stop_at is YYYY-MM-DD HH:MM:SS")),
        }
    }
}

/// A cron job as CronHubot answers it: the document's fields, the code's `group_id`, and
/// the run counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CronJob {
    pub id: u64,
    pub name: String,
    pub url: String,
    pub expression: String,
    pub status: u8,
    pub retries: u32,
    pub request_timeout: u32,
    pub stop_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub group_id: u64,
    /// Calls made (each occurrence once, whatever its retries).
    pub runs: u64,
    pub successes: u64,
    pub failures: u64,
}

/// A complete, checked cron job.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub url: String,
    pub expression: String,
    pub active: bool,
    pub retries: u32,
    pub request_timeout: u32,
    pub stop_at: Option<DateTime<Utc>>,
    pub group_id: u64,
}

/// The job `input` defines (from `current` for a merge), or the reason it is refused (422).
pub fn definition(
    input: &CronJobIn,
    current: Option<&Definition>,
    change: Change,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Definition, String> {
    let base = match (change, current) {
        (Change::Merge, Some(current)) => current.clone(),
        _ => Definition {
            name: String::new(),
            url: String::new(),
            expression: String::new(),
            active: true,
            retries: 0,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            stop_at: None,
            group_id: 0,
        },
    };
    let name = input.name.clone().unwrap_or(base.name);
    if name.chars().count() > ontime_core::metadata::MAX_VALUE_CHARS {
        return Err(format!(
            "name is longer than {} characters",
            ontime_core::metadata::MAX_VALUE_CHARS
        ));
    }
    let url = input.url.clone().unwrap_or(base.url);
    if url.trim().is_empty() {
        return Err("url is empty".into());
    }
    let expression = input.expression.clone().unwrap_or(base.expression);
    if expression.split(' ').count() != 6 {
        return Err(BAD_EXPRESSION.into());
    }
    let active = match input.status {
        None => base.active,
        Some(1) => true,
        Some(9 | 99) => false,
        Some(_) => return Err("status must be 1, 9 or 99".into()),
    };
    let retries = match input.retries {
        None => base.retries,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| *n <= 10)
            .ok_or("field retries must be between 0 and 10")?,
    };
    let request_timeout = match input.request_timeout {
        None => base.request_timeout,
        // Go's zero: not given.
        Some(0) => DEFAULT_REQUEST_TIMEOUT,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| *n <= MAX_REQUEST_TIMEOUT)
            .ok_or_else(|| {
                format!("request_timeout must be from 1 to {MAX_REQUEST_TIMEOUT} seconds")
            })?,
    };
    let stop_at = match input.stop_at {
        None => base.stop_at,
        Some(StopAt::Never) => None,
        Some(StopAt::At(local)) => {
            let at = tz
                .from_local_datetime(&local)
                .earliest()
                .ok_or_else(|| format!("stop_at does not exist on the clock of {tz}"))?
                .with_timezone(&Utc);
            if at <= now {
                return Err("stop_at before now".into());
            }
            Some(at)
        }
    };
    let group_id = match input.group_id {
        None => base.group_id,
        Some(n) => u64::try_from(n).map_err(|_| "group_id must not be negative")?,
    };
    Ok(Definition {
        name,
        url,
        expression,
        active,
        retries,
        request_timeout,
        stop_at,
        group_id,
    })
}

/// The native definition of job `id`, checked under `limits`.
pub fn spec(
    service: &Service,
    id: u64,
    d: &Definition,
    limits: &Limits,
) -> Result<TimerSpec, String> {
    let mut metadata = service.metadata();
    if !d.name.is_empty() {
        metadata.insert(NAME_KEY.into(), d.name.clone());
    }
    if d.group_id != 0 {
        metadata.insert(GROUP_KEY.into(), d.group_id.to_string());
    }
    let mut schedule = json!({"cron": d.expression, "timezone": service.timezone.name()});
    if let Some(stop_at) = d.stop_at {
        schedule["end_at"] = json!(stop_at);
    }
    let doc = json!({
        "schedule": schedule,
        "target": {"http": {
            "url": with_cron_id(&d.url, id),
            "method": "GET",
            "timeout": format!("{}s", d.request_timeout),
        }},
        "retry": {"max_attempts": d.retries + 1},
        "metadata": metadata,
    });
    let mut spec: TimerSpec = serde_json::from_value(doc).map_err(|e| e.to_string())?;
    spec.validate_with(limits).map_err(|e| refusal(&e))?;
    Ok(spec)
}

/// A native refusal in CronHubot's words: a schedule's is the parser's message, as the
/// original gave it.
fn refusal(error: &ValidationError) -> String {
    if error.field.as_deref() == Some("schedule.end_at") {
        return "stop_at before now".into();
    }
    if error
        .field
        .as_deref()
        .is_some_and(|f| f.starts_with("schedule"))
    {
        return error.message.clone();
    }
    reason(error, |path| match path {
        "target.http.url" => Some("url"),
        _ => None,
    })
}

/// `url` with `__cronId=<id>` set in its query: any `__cronId` of its own removed, the new
/// one last, the other parameters and a fragment kept.
pub fn with_cron_id(url: &str, id: u64) -> String {
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (url, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, query),
        None => (before_fragment, ""),
    };
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(CRON_ID))
        .collect();
    let ours = format!("{CRON_ID}={id}");
    pairs.push(&ours);
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// The url a client gave, from the one called: [`with_cron_id`]'s parameter taken off.
pub fn without_cron_id(url: &str, id: u64) -> String {
    let (head, fragment) = match url.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (url, None),
    };
    let ours = format!("{CRON_ID}={id}");
    let head = head
        .strip_suffix(&format!("&{ours}"))
        .or_else(|| head.strip_suffix(&format!("?{ours}")))
        .unwrap_or(head);
    match fragment {
        Some(fragment) => format!("{head}#{fragment}"),
        None => head.to_owned(),
    }
}

/// The job a native timer is, if it is one of CronHubot's.
pub fn stored(id: u64, s: &Stored<'_>) -> Option<Definition> {
    let cron = s.schedule.cron.clone()?;
    let http = s.target.http.as_ref()?;
    let meta = s.metadata;
    let timeout = http.timeout().as_secs();
    Some(Definition {
        name: meta.get(NAME_KEY).cloned().unwrap_or_default(),
        url: without_cron_id(&http.url, id),
        expression: cron,
        active: s.status != TimerStatus::Paused && !s.status.is_final(),
        retries: s.retry.max_attempts.saturating_sub(1),
        request_timeout: u32::try_from(timeout).unwrap_or(MAX_REQUEST_TIMEOUT),
        stop_at: s.schedule.end_at,
        group_id: meta
            .get(GROUP_KEY)
            .and_then(|g| g.parse().ok())
            .unwrap_or(0),
    })
}

/// Job `id` as the API shows it.
pub fn cron_job(id: u64, d: &Definition, s: &Stored<'_>, tz: Tz) -> CronJob {
    CronJob {
        id,
        name: d.name.clone(),
        url: d.url.clone(),
        expression: d.expression.clone(),
        status: if d.active { 1 } else { 99 },
        retries: d.retries,
        request_timeout: d.request_timeout,
        stop_at: d
            .stop_at
            .map_or_else(|| NO_TIME.to_owned(), |at| time(at, tz)),
        created_at: time(s.created_at, tz),
        updated_at: time(s.updated_at, tz),
        group_id: d.group_id,
        runs: s.runs,
        successes: s.successes,
        failures: s.failures,
    }
}

/// `at` as the service writes a time: `YYYY-MM-DD HH:MM:SS` on `tz`'s clock.
pub fn time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz).format(TIME_FORMAT).to_string()
}

#[cfg(test)]
mod tests;
