//! Request bodies, checked as pure functions: the envelope (`{"jobs": [...]}`, `{"job":
//! {...}}`, `{"proc": {...}}`; anything else is the 400) and each field (the 422's
//! `missing_field` and `invalid`). Unknown members are ignored, and `null` is the same as
//! absent. No I/O and no clock: whether a name is taken or a job exists is the routes'.

use ontime_core::Limits;
use ontime_core::metadata::MAX_VALUE_CHARS;
use ontime_core::target::CommandTarget;
use serde_json::{Map, Value};

use super::error::{Code, Invalid, Problem, Resource};
use super::model::cron_schedule;

/// A JSON object of a request.
pub type Object = Map<String, Value>;

/// The longest job name: what a metadata value holds.
pub const MAX_NAME_CHARS: usize = MAX_VALUE_CHARS;

/// `{"jobs": [{...}, ...]}`: the items, each a JSON object.
pub fn jobs(body: &[u8]) -> Result<Vec<Object>, Problem> {
    match member(body, "jobs")? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(item) => Ok(item),
                _ => Err(Problem::bad_json()),
            })
            .collect(),
        _ => Err(Problem::bad_json()),
    }
}

/// `{"<name>": {...}}`: the object.
pub fn object(body: &[u8], name: &str) -> Result<Object, Problem> {
    match member(body, name)? {
        Value::Object(item) => Ok(item),
        _ => Err(Problem::bad_json()),
    }
}

/// Member `name` of the body, which must be a JSON object.
fn member(body: &[u8], name: &str) -> Result<Value, Problem> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut doc)) => doc.remove(name).ok_or_else(Problem::bad_json),
        _ => Err(Problem::bad_json()),
    }
}

/// A field's value as given.
enum Given<'a> {
    /// Absent, or `null`.
    Absent,
    Text(&'a str),
    /// Anything but a string.
    Other,
}

fn given<'a>(item: &'a Object, field: &str) -> Given<'a> {
    match item.get(field) {
        None | Some(Value::Null) => Given::Absent,
        Some(Value::String(text)) => Given::Text(text),
        Some(_) => Given::Other,
    }
}

/// A string field that must be there.
fn required<'a>(
    item: &'a Object,
    resource: Resource,
    field: &'static str,
) -> Result<&'a str, Invalid> {
    match given(item, field) {
        Given::Text(text) => Ok(text),
        Given::Absent => Err(Invalid::new(resource, field, Code::MissingField)),
        Given::Other => Err(Invalid::new(resource, field, Code::Invalid)),
    }
}

/// A string field that may be left out.
fn optional<'a>(
    item: &'a Object,
    resource: Resource,
    field: &'static str,
) -> Result<Option<&'a str>, Invalid> {
    match given(item, field) {
        Given::Text(text) => Ok(Some(text)),
        Given::Absent => Ok(None),
        Given::Other => Err(Invalid::new(resource, field, Code::Invalid)),
    }
}

/// A new job's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub name: String,
    pub definition: String,
}

/// An item of `POST /jobs`: `name` and `definition`, both required.
pub fn new_job(item: &Object) -> Result<NewJob, Invalid> {
    let name = required(item, Resource::Job, "name")?;
    check_name(name)?;
    let definition = required(item, Resource::Job, "definition")?;
    check_definition(definition)?;
    Ok(NewJob {
        name: name.to_owned(),
        definition: definition.to_owned(),
    })
}

/// What `PUT /jobs/{id}` changes: the fields given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobChange {
    pub name: Option<String>,
    pub definition: Option<String>,
}

pub fn job_change(item: &Object) -> Result<JobChange, Invalid> {
    let name = optional(item, Resource::Job, "name")?;
    if let Some(name) = name {
        check_name(name)?;
    }
    let definition = optional(item, Resource::Job, "definition")?;
    if let Some(definition) = definition {
        check_definition(definition)?;
    }
    Ok(JobChange {
        name: name.map(str::to_owned),
        definition: definition.map(str::to_owned),
    })
}

/// A name is 1 to [`MAX_NAME_CHARS`] characters, not all blank.
fn check_name(name: &str) -> Result<(), Invalid> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Invalid::new(Resource::Job, "name", Code::Invalid));
    }
    Ok(())
}

/// A definition is a command line a command target takes: not blank, at most 64 KiB, no
/// NUL byte.
fn check_definition(definition: &str) -> Result<(), Invalid> {
    let target = CommandTarget {
        run: definition.to_owned(),
        env: Default::default(),
        dir: None,
        timeout: None,
    };
    target
        .validate()
        .map_err(|_| Invalid::new(Resource::Job, "definition", Code::Invalid))
}

/// How a proc is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// On a 5-field crontab (or a macro), minute first, in UTC.
    Cron(String),
    /// Once, now.
    Adhoc,
}

impl Trigger {
    /// `trigger_type` as the API writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cron(_) => CRON,
            Self::Adhoc => ADHOC,
        }
    }
}

pub const CRON: &str = "CRON";
pub const ADHOC: &str = "ADHOC";

/// A new proc's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProc {
    /// As given: whether it names a job is the route's to find out.
    pub job_id: String,
    pub trigger: Trigger,
}

/// The body of `POST /procs`: `job_id` and `trigger_type` required, `crontab` too for CRON
/// (and ignored for ADHOC).
pub fn new_proc(item: &Object, limits: &Limits) -> Result<NewProc, Invalid> {
    let job_id = required(item, Resource::Proc, "job_id")?;
    let trigger = match required(item, Resource::Proc, "trigger_type")? {
        CRON => {
            let crontab = required(item, Resource::Proc, "crontab")?;
            Trigger::Cron(checked_crontab(crontab, limits)?)
        }
        ADHOC => Trigger::Adhoc,
        _ => return Err(Invalid::new(Resource::Proc, "trigger_type", Code::Invalid)),
    };
    Ok(NewProc {
        job_id: job_id.to_owned(),
        trigger,
    })
}

/// A crontab as kept (trimmed): five fields, minute first (`minute hour day-of-month month
/// day-of-week`), which the native parser reads as classic cron, at second 0; or one of its
/// macros (`@hourly`, `@daily`…). Six fields would be read seconds first, so they are
/// refused, as is anything the native parser refuses or that fires more often than the
/// server allows.
pub fn checked_crontab(crontab: &str, limits: &Limits) -> Result<String, Invalid> {
    let invalid = || Invalid::new(Resource::Proc, "crontab", Code::Invalid);
    let crontab = crontab.trim();
    if !crontab.starts_with('@') && crontab.split_whitespace().count() != 5 {
        return Err(invalid());
    }
    cron_schedule(crontab)
        .validate_with(limits)
        .map_err(|_| invalid())?;
    Ok(crontab.to_owned())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;

    fn obj(value: Value) -> Object {
        match value {
            Value::Object(o) => o,
            _ => panic!("not an object"),
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn envelopes_are_json_objects_of_the_right_shape() {
        let items = jobs(br#"{"jobs": [{"name": "a"}, {}], "other": 1}"#).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(jobs(br#"{"jobs": []}"#).unwrap().len(), 0);
        for bad in [
            &b""[..],
            b"nonsense",
            b"{",
            b"[]",
            br#"{"job": []}"#,
            br#"{"jobs": null}"#,
            br#"{"jobs": {"name": "a"}}"#,
            br#"{"jobs": [1]}"#,
            br#"{"jobs": [{"name": "a"}, null]}"#,
        ] {
            assert_eq!(
                jobs(bad).unwrap_err(),
                Problem::bad_json(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(object(br#"{"proc": {}}"#, "proc").unwrap().is_empty());
        for bad in [
            &br#"{"proc": []}"#[..],
            br#"{"proc": "x"}"#,
            br#"{"job": {}}"#,
            b"1",
        ] {
            assert_eq!(object(bad, "proc").unwrap_err(), Problem::bad_json());
        }
    }

    #[test]
    fn a_job_needs_a_name_and_a_definition() {
        let job = new_job(&obj(json!({"name": "n", "definition": "echo hi", "x": 1}))).unwrap();
        assert_eq!(
            job,
            NewJob {
                name: "n".into(),
                definition: "echo hi".into()
            }
        );
        let code = |doc: Value| {
            let e = new_job(&obj(doc)).unwrap_err();
            assert_eq!(e.resource, Resource::Job);
            (e.field, e.code)
        };
        assert_eq!(
            code(json!({"definition": "x"})),
            ("name", Code::MissingField)
        );
        assert_eq!(
            code(json!({"name": null, "definition": "x"})),
            ("name", Code::MissingField)
        );
        assert_eq!(
            code(json!({"name": 5, "definition": "x"})),
            ("name", Code::Invalid)
        );
        assert_eq!(
            code(json!({"name": "  ", "definition": "x"})),
            ("name", Code::Invalid)
        );
        assert_eq!(
            code(json!({"name": "é".repeat(513), "definition": "x"})),
            ("name", Code::Invalid)
        );
        assert!(new_job(&obj(json!({"name": "é".repeat(512), "definition": "x"}))).is_ok());
        // The name is checked first.
        assert_eq!(code(json!({})), ("name", Code::MissingField));
        assert_eq!(
            code(json!({"name": "n"})),
            ("definition", Code::MissingField)
        );
        for bad in [json!(""), json!(" \n"), json!("a\0b"), json!(["ls"])] {
            assert_eq!(
                code(json!({"name": "n", "definition": bad})),
                ("definition", Code::Invalid)
            );
        }
        let long = "x".repeat(ontime_core::target::MAX_COMMAND_LEN + 1);
        assert_eq!(
            code(json!({"name": "n", "definition": long})),
            ("definition", Code::Invalid)
        );
    }

    #[test]
    fn a_change_gives_any_of_the_fields() {
        assert_eq!(job_change(&obj(json!({}))).unwrap(), JobChange::default());
        assert_eq!(
            job_change(&obj(json!({"name": "b", "definition": null}))).unwrap(),
            JobChange {
                name: Some("b".into()),
                definition: None
            }
        );
        let e = job_change(&obj(json!({"definition": ""}))).unwrap_err();
        assert_eq!((e.field, e.code), ("definition", Code::Invalid));
        let e = job_change(&obj(json!({"name": false}))).unwrap_err();
        assert_eq!((e.field, e.code), ("name", Code::Invalid));
    }

    #[test]
    fn a_proc_needs_a_job_a_trigger_and_for_cron_a_crontab() {
        let limits = Limits::default();
        let proc = |doc: Value| new_proc(&obj(doc), &limits);
        assert_eq!(
            proc(json!({"job_id": "j", "trigger_type": "CRON", "crontab": " 1 * * * * "})).unwrap(),
            NewProc {
                job_id: "j".into(),
                trigger: Trigger::Cron("1 * * * *".into())
            }
        );
        // A crontab is ignored for ADHOC, whatever it is.
        assert_eq!(
            proc(json!({"job_id": "j", "trigger_type": "ADHOC", "crontab": 7}))
                .unwrap()
                .trigger,
            Trigger::Adhoc
        );
        let refused = |doc: Value| {
            let e = proc(doc).unwrap_err();
            assert_eq!(e.resource, Resource::Proc);
            (e.field, e.code)
        };
        assert_eq!(
            refused(json!({"trigger_type": "ADHOC"})),
            ("job_id", Code::MissingField)
        );
        assert_eq!(
            refused(json!({"job_id": 1, "trigger_type": "ADHOC"})),
            ("job_id", Code::Invalid)
        );
        assert_eq!(
            refused(json!({"job_id": "j"})),
            ("trigger_type", Code::MissingField)
        );
        for bad in [json!("cron"), json!("DAILY"), json!(1), json!("")] {
            assert_eq!(
                refused(json!({"job_id": "j", "trigger_type": bad})),
                ("trigger_type", Code::Invalid)
            );
        }
        assert_eq!(
            refused(json!({"job_id": "j", "trigger_type": "CRON"})),
            ("crontab", Code::MissingField)
        );
        for bad in [
            json!(""),
            json!("* * * *"),
            json!("0 * * * * *"),
            json!("61 * * * *"),
            json!("* 24 * * *"),
            json!("@reboot"),
            json!("@every 1m"),
            json!(["* * * * *"]),
        ] {
            assert_eq!(
                refused(json!({"job_id": "j", "trigger_type": "CRON", "crontab": bad})),
                ("crontab", Code::Invalid),
            );
        }
    }

    #[test]
    fn five_fields_are_minute_first() {
        let limits = Limits::default();
        let schedule = |crontab: &str| cron_schedule(&checked_crontab(crontab, &limits).unwrap());
        assert_eq!(
            checked_crontab(" 1 * * * *\n", &limits).unwrap(),
            "1 * * * *"
        );
        let schedule_1 = schedule("1 * * * *");
        let now = t("2026-03-04T10:30:15Z");
        assert_eq!(schedule_1.first_due(now), Some(t("2026-03-04T11:01:00Z")));
        assert_eq!(
            schedule_1.upcoming(now, t("2026-03-04T11:01:00Z"), 1),
            vec![t("2026-03-04T12:01:00Z")]
        );
        assert_eq!(
            schedule("* * * * *").first_due(now),
            Some(t("2026-03-04T10:31:00Z"))
        );
        // 2026-03-04 is a Wednesday: next Monday 09:30 UTC (7 is Sunday too).
        assert_eq!(
            schedule("30 9 * * 1").first_due(now),
            Some(t("2026-03-09T09:30:00Z"))
        );
        assert_eq!(
            schedule("0 0 * * 7").first_due(now),
            Some(t("2026-03-08T00:00:00Z"))
        );
        assert_eq!(
            schedule("@hourly").first_due(now),
            Some(t("2026-03-04T11:00:00Z"))
        );
    }
}
