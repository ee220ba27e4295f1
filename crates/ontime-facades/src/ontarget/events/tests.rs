use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ontime_core::schedule::Misfire;
use ontime_core::timer::TimerStatus;
use serde_json::{Value, json};

use super::*;

fn now() -> DateTime<Utc> {
    "2026-11-28T17:06:08Z".parse().unwrap()
}

fn event<'a>(spec: &'a str, body: &'a [u8], content_type: Option<&str>) -> Event<'a> {
    Event {
        topic: "t1",
        spec,
        plan: timespec::plan(spec, now(), Tz::UTC, &Limits::default()).unwrap(),
        body,
        content_type: content_type.map(str::to_owned),
        options: Options::default(),
    }
}

/// A record of `timer` as the scheduler would store it, next due at `next`.
fn record(timer: TimerSpec, next: Option<DateTime<Utc>>, status: TimerStatus) -> TimerRecord {
    let doc = json!({
        "namespace": "ontarget", "id": "e1", "spec": timer, "status": status,
        "generation": 1, "occurrence": 1, "anchor": now(), "next_fire_at": next,
        "attempts": 0, "last_result": null, "runs": 0, "successes": 0, "failures": 0,
        "created_at": now(), "updated_at": now(),
    });
    serde_json::from_value(doc).unwrap()
}

#[test]
fn query_options_default_to_one_call_and_no_expiry() {
    assert_eq!(options(None), Ok(Options::default()));
    let given = options(Some("retries=2&max_lateness=30&other=x")).unwrap();
    assert_eq!(given.retries, 2);
    assert_eq!(
        given.max_lateness.map(HumanDuration::get),
        Some(std::time::Duration::from_secs(30))
    );
    assert_eq!(
        options(Some("retries=many")),
        Err(Text::bad_request("INVALID RETRIES: many"))
    );
    assert_eq!(
        options(Some("max_lateness=-1")),
        Err(Text::bad_request("INVALID MAX_LATENESS: -1"))
    );
}

#[test]
fn an_event_is_a_topic_timer_with_the_body_as_sent() {
    let body = [b'a', 0x00, 0xc3, 0xb6, 0xff];
    let timer = event("2026-12-01T00:00:00Z", &body, Some("application/x-raw"))
        .timer(&Limits::default())
        .unwrap();
    let topic = timer.target.topic.as_ref().unwrap();
    assert_eq!(topic.name, "t1");
    assert_eq!(
        topic.body_bytes(),
        Some((body.to_vec(), Some("application/x-raw".to_owned())))
    );
    assert_eq!(timer.retry.max_attempts, 1);
    assert_eq!(
        timer.schedule.at,
        Some("2026-12-01T00:00:00Z".parse().unwrap())
    );
    assert_eq!(
        serde_json::to_value(&timer.metadata).unwrap(),
        json!({"facade": "ontarget", "ontarget.topic": "t1",
               "ontarget.timestamp": "2026-12-01T00:00:00Z"})
    );
}

#[test]
fn without_a_body_nor_a_content_type_none_is_sent() {
    let timer = event("2026-12-01T00:00:00Z", b"", None)
        .timer(&Limits::default())
        .unwrap();
    assert_eq!(timer.target.topic.as_ref().unwrap().body_bytes(), None);
    let typed = event("2026-12-01T00:00:00Z", b"", Some("text/plain"))
        .timer(&Limits::default())
        .unwrap();
    assert_eq!(
        typed.target.topic.as_ref().unwrap().body_bytes(),
        Some((Vec::new(), Some("text/plain".to_owned())))
    );
}

#[test]
fn a_repeating_event_skips_what_it_missed_and_may_expire() {
    let mut e = event("R/2016-05-03T11:22:33Z/PT1M", b"tick", Some("text/plain"));
    e.options = Options {
        retries: 3,
        max_lateness: Some(HumanDuration::from_secs(30)),
    };
    let timer = e.timer(&Limits::default()).unwrap();
    assert_eq!(timer.schedule.misfire, Some(Misfire::Skip));
    assert_eq!(
        timer.schedule.max_lateness,
        Some(HumanDuration::from_secs(30))
    );
    assert_eq!(timer.retry.max_attempts, 4);
    assert_eq!(
        timer.metadata.get(INTERVAL_KEY).map(String::as_str),
        Some("R/2016-05-03T11:22:33Z/PT1M")
    );
}

#[test]
fn events_show_as_the_original_showed_them() {
    let next: DateTime<Utc> = "2026-11-28T17:07:33Z".parse().unwrap();
    let mut e = event(
        "R/2016-05-03T11:22:33Z/PT1M",
        "wörld".as_bytes(),
        Some("text/plain"),
    );
    e.options.retries = 2;
    let r = record(
        e.timer(&Limits::default()).unwrap(),
        Some(next),
        TimerStatus::Scheduled,
    );
    let stored = Stored::of(&r).unwrap();
    let listed = serde_json::to_string(&stored.listed()).unwrap();
    assert_eq!(
        listed,
        r#"{"id":"e1","next":"1795885653","topic":"t1","interval":"R/2016-05-03T11:22:33Z/PT1M","timestamp":null,"contentType":"text/plain"}"#
    );
    let shown = serde_json::to_string(&stored.shown()).unwrap();
    assert_eq!(
        shown,
        r#"{"id":"e1","next":"1795885653","topic":"t1","data":"wörld","interval":"R/2016-05-03T11:22:33Z/PT1M","contentType":"text/plain","retries":"2"}"#
    );
    let bare = record(
        event("2026-12-01T00:00:00Z", b"", None)
            .timer(&Limits::default())
            .unwrap(),
        None,
        TimerStatus::Running,
    );
    let shown: Value = serde_json::to_value(Stored::of(&bare).unwrap().shown()).unwrap();
    assert_eq!(
        shown,
        json!({"id": "e1", "next": "1796083200", "topic": "t1", "data": "",
               "timestamp": "2026-12-01T00:00:00Z"})
    );
}

#[test]
fn only_upcoming_events_are_listed_and_only_live_ones_shown() {
    let timer = event("2026-12-01T00:00:00Z", b"", None)
        .timer(&Limits::default())
        .unwrap();
    let at = timer.schedule.at;
    let waiting = record(timer.clone(), at, TimerStatus::Scheduled);
    let firing = record(timer.clone(), None, TimerStatus::Running);
    let done = record(timer.clone(), None, TimerStatus::Succeeded);
    let cases = [
        (&waiting, true, true),
        (&firing, false, true),
        (&done, false, false),
    ];
    for (r, upcoming, live) in cases {
        let e = Stored::of(r).unwrap();
        assert_eq!((e.upcoming(), e.live()), (upcoming, live), "{:?}", r.status);
    }
    let mut foreign = waiting.clone();
    foreign.spec.metadata.remove(FACADE_KEY);
    assert!(Stored::of(&foreign).is_none());
}
