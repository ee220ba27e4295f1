//! What a fuzzer found: callbacks held to the interval floor, misfires measured per
//! occurrence, a pause racing a fire, repeated deletes.

use super::*;

fn define(schedule: serde_json::Value, seq: u64) -> TimerRecord {
    let spec: TimerSpec = serde_json::from_value(json!({
        "schedule": schedule, "target": {"http": {"url": "http://x.test/"}}
    }))
    .unwrap();
    let cmd = Command::new(key(), CommandBody::upsert(spec));
    changed(apply(None, &cmd, seq, t(NOW), t(NOW)))
}

fn apply_to(rec: &TimerRecord, body: CommandBody, seq: u64, now: DateTime<Utc>) -> Applied {
    apply(Some((rec, 3)), &Command::new(key(), body), seq, now, now).unwrap()
}

/// A first attempt of `occurrence`, due and started at `at`.
fn called(
    rec: &TimerRecord,
    occurrence: u64,
    at: DateTime<Utc>,
    outcome: AttemptOutcome,
) -> Attempt {
    Attempt {
        delivery_id: rec.delivery_id(occurrence),
        generation: rec.generation,
        occurrence,
        attempt: 1,
        due_at: at,
        occurrence_due_at: Some(at),
        started_at: at,
        latency_ms: 3,
        status_code: Some(200),
        error: None,
        outcome,
        next_at: None,
        subscriber: None,
        subscribers: Vec::new(),
        fan_out: 0,
        run: None,
        note: None,
        response: None,
    }
}

#[test]
fn a_callback_cannot_reschedule_sooner_than_the_floor() {
    let r = define(json!({"at": "2026-11-24T10:00:10Z"}), 7);
    let started = t("2026-11-24T10:00:10Z");
    for asked in [
        t("2026-11-24T09:00:00Z"),
        started,
        t("2026-11-24T10:00:10.5Z"),
    ] {
        let mut a = called(&r, 1, started, AttemptOutcome::Rescheduled);
        a.next_at = Some(asked);
        let Applied::Changed(o) = apply_to(
            &r,
            CommandBody::Report {
                attempt: a,
                rearm: false,
            },
            8,
            started,
        ) else {
            panic!("expected a change");
        };
        assert_eq!(
            o.record.next_fire_at,
            Some(t("2026-11-24T10:00:11Z")),
            "{asked}: moved to one second (the default floor) after the attempt"
        );
    }
    // A later instant is kept; a lower operator floor is honoured.
    let mut a = called(&r, 1, started, AttemptOutcome::Rescheduled);
    a.next_at = Some(t("2026-11-24T10:00:10.2Z"));
    let limits = Limits::with_min_interval(std::time::Duration::from_millis(100)).unwrap();
    let cmd = Command::new(
        key(),
        CommandBody::Report {
            attempt: a,
            rearm: false,
        },
    );
    let o = outcome(apply_with(
        Some((&r, 3)),
        &cmd,
        8,
        started,
        started,
        &limits,
    ));
    assert_eq!(o.record.next_fire_at, Some(t("2026-11-24T10:00:10.2Z")));
    // Past the latest instant: no further occurrence, the timer completes.
    let mut a = called(&r, 1, started, AttemptOutcome::Rescheduled);
    a.next_at = Some(DateTime::<Utc>::MAX_UTC);
    let Applied::Changed(o) = apply_to(
        &r,
        CommandBody::Report {
            attempt: a,
            rearm: false,
        },
        8,
        started,
    ) else {
        panic!("expected a change");
    };
    assert_eq!(o.record.next_fire_at, None);
    assert!(o.record.status.is_final());
}

#[test]
fn only_occurrences_more_than_five_seconds_late_are_missed() {
    // Every 3 s from 10:00:00, the first fired 5.8 s late: only that one is missed; the
    // next (10:00:06, 2.8 s late) is no misfire and stays pending, to fire as usual.
    let r = define(json!({"every": "3s", "misfire": "skip"}), 7);
    let o = fire(&r, &pending_wake(&r).unwrap(), t("2026-11-24T10:00:08.8Z")).unwrap();
    assert!(o.fires.is_empty());
    assert_eq!(o.record.skipped, 1);
    assert_eq!(o.record.next_fire_at, Some(t("2026-11-24T10:00:06Z")));
    let o = fire(
        &o.record,
        &pending_wake(&o.record).unwrap(),
        t("2026-11-24T10:00:08.8Z"),
    )
    .unwrap();
    assert_eq!(o.fires.len(), 1, "2.8 s late is not missed");
    assert!(o.log.is_empty());
    // Exactly five seconds late is not "more than" five.
    let r = define(json!({"every": "10s", "misfire": "skip"}), 7);
    let o = fire(&r, &pending_wake(&r).unwrap(), t("2026-11-24T10:00:15Z")).unwrap();
    assert_eq!(o.fires.len(), 1);
    let o = fire(
        &r,
        &pending_wake(&r).unwrap(),
        t("2026-11-24T10:00:15.001Z"),
    )
    .unwrap();
    assert!(o.fires.is_empty());
}

#[test]
fn a_call_in_flight_when_paused_is_logged_once_with_its_outcome() {
    // Occurrence 1 fired at 10:00:10; a pause rewrote the record before the firing was
    // written, so the record still waits for occurrence 1.
    let r = define(json!({"every": "10s", "misfire": "skip"}), 7);
    let due = t("2026-11-24T10:00:10Z");
    let Applied::Changed(paused) = apply_to(&r, CommandBody::Pause, 8, due) else {
        panic!("expected a change");
    };
    let paused = paused.record;
    assert!(fire(&paused, &pending_wake(&r).unwrap(), due).is_none());
    // Its report records the call and its outcome.
    let a = called(&paused, 1, due, AttemptOutcome::Succeeded);
    let Applied::Changed(done) = apply_to(
        &paused,
        CommandBody::Report {
            attempt: a,
            rearm: false,
        },
        9,
        due,
    ) else {
        panic!("the report of a call in flight is applied");
    };
    let done = done.record;
    assert_eq!((done.successes, done.runs, done.occurrence), (1, 1, 2));
    assert_eq!(done.status, TimerStatus::Paused);
    assert!(done.in_flight.is_empty());
    assert_eq!(done.next_fire_at, Some(t("2026-11-24T10:00:20Z")));
    // Resumed a minute later: what is skipped is occurrence 2 on, never occurrence 1 again.
    let later = t("2026-11-24T10:01:00Z");
    let Applied::Changed(resumed) = apply_to(&done, CommandBody::Resume, 10, later) else {
        panic!("expected a change");
    };
    let o = fire(
        &resumed.record,
        &pending_wake(&resumed.record).unwrap(),
        later,
    )
    .unwrap();
    assert!(o.fires.iter().all(|f| f.occurrence >= 2));
    assert!(o.log.iter().all(|a| a.occurrence >= 2), "{:?}", o.log);
}

#[test]
fn deleting_a_cancelled_timer_answers_it_unchanged() {
    let r = define(json!({"after": "1h"}), 7);
    let Applied::Changed(cancelled) = apply_to(&r, CommandBody::Delete, 8, t(NOW)) else {
        panic!("expected a change");
    };
    let cancelled = cancelled.record;
    assert_eq!(cancelled.status, TimerStatus::Cancelled);
    assert_eq!(
        apply_to(&cancelled, CommandBody::Delete, 9, t(NOW)),
        Applied::Unchanged
    );
    // If-Match still applies.
    let mut cmd = Command::new(key(), CommandBody::Delete);
    cmd.expected_revision = Some(2);
    let e = apply(Some((&cancelled, 3)), &cmd, 9, t(NOW), t(NOW)).unwrap_err();
    assert_eq!(e.code, ErrorCode::RevisionConflict);
    // Other commands on a cancelled timer still find nothing.
    let e = apply(
        Some((&cancelled, 3)),
        &Command::new(key(), CommandBody::Pause),
        9,
        t(NOW),
        t(NOW),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound);
}
