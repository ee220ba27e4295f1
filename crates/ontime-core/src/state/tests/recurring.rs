//! Recurring timers, controls, and what the scheduler and reports make of their occurrences.

use super::*;

fn define(schedule: serde_json::Value, seq: u64, now: &str) -> TimerRecord {
    let spec: TimerSpec = serde_json::from_value(json!({
        "schedule": schedule, "target": {"http": {"url": "http://x.test/"}}
    }))
    .unwrap();
    let cmd = Command::new(key(), CommandBody::upsert(spec));
    changed(apply(None, &cmd, seq, t(now), t(now)))
}

fn report(rec: &TimerRecord, a: Attempt, rearm: bool) -> Applied {
    apply(
        Some((rec, 3)),
        &Command::new(key(), CommandBody::Report { attempt: a, rearm }),
        1000,
        t(NOW),
        t(NOW),
    )
    .unwrap()
}

fn control(rec: &TimerRecord, body: CommandBody, seq: u64, now: DateTime<Utc>) -> Outcome {
    outcome(apply(
        Some((rec, 3)),
        &Command::new(key(), body),
        seq,
        now,
        now,
    ))
}

#[test]
fn a_recurring_timer_moves_on_after_each_occurrence() {
    let r = define(json!({"every": "10s"}), 7, NOW);
    assert_eq!(r.next_fire_at, Some(t("2026-11-24T10:00:10Z")));
    let (f1, r) = fire_one(&r, t("2026-11-24T10:00:10Z"));
    assert_eq!((f1.occurrence, f1.due_at), (1, t("2026-11-24T10:00:10Z")));
    assert_eq!(r.status, TimerStatus::Running);
    assert_eq!(r.next_fire_at, Some(t("2026-11-24T10:00:20Z")));
    assert_eq!(pending_wake(&r).unwrap().occurrence, 2);
    // The second occurrence fires while the first is still in flight (overlap: allow).
    let (f2, r) = fire_one(&r, t("2026-11-24T10:00:20Z"));
    assert_eq!(f2.delivery_id(), "ns/t1/7/2");
    assert_eq!(r.in_flight, vec![1, 2]);
    // The first one's report still counts, although the schedule has moved on.
    let Applied::Changed(o) = report(&r, attempt(&r, 1, AttemptOutcome::Succeeded, None), false)
    else {
        panic!()
    };
    let r = o.record;
    assert_eq!((r.successes, r.in_flight.clone()), (1, vec![2]));
    assert_eq!(r.status, TimerStatus::Running);
    let Applied::Changed(o) = report(&r, attempt(&r, 1, AttemptOutcome::Failed, None), false)
    else {
        panic!()
    };
    assert_eq!(o.record.status, TimerStatus::Scheduled);
    assert_eq!(o.record.failures, 1);
    assert_eq!(o.record.runs, 2);
}

#[test]
fn max_runs_and_iso_counts_complete_the_timer() {
    let r = define(json!({"every": "1s", "max_runs": 2}), 7, NOW);
    let (_, r) = fire_one(&r, r.next_fire_at.unwrap());
    let (_, r) = fire_one(&r, r.next_fire_at.unwrap());
    assert_eq!(r.next_fire_at, None);
    assert!(pending_wake(&r).is_none());
    assert!(r.upcoming(5).is_empty());
    let Applied::Changed(o) = report(&r, attempt(&r, 1, AttemptOutcome::Succeeded, None), false)
    else {
        panic!()
    };
    let Applied::Changed(o) = report(
        &o.record,
        attempt(&o.record, 1, AttemptOutcome::Succeeded, None),
        false,
    ) else {
        panic!()
    };
    assert_eq!(o.record.status, TimerStatus::Completed);

    let r = define(json!({"iso": "R3/2026-11-24T10:00:01Z/PT1S"}), 7, NOW);
    assert_eq!(r.upcoming(10).len(), 3);
    let (_, r) = fire_one(&r, t("2026-11-24T10:00:01Z"));
    let (_, r) = fire_one(&r, t("2026-11-24T10:00:02Z"));
    let (f, r) = fire_one(&r, t("2026-11-24T10:00:03Z"));
    assert_eq!(f.occurrence, 3);
    assert_eq!((r.next_fire_at, r.runs), (None, 3));
}

#[test]
fn a_schedule_with_no_future_occurrence_is_refused() {
    let spec: TimerSpec = serde_json::from_value(json!({
        "schedule": {"iso": "R2/2020-01-01T00:00:00Z/PT1S"},
        "target": {"http": {"url": "http://x.test/"}}
    }))
    .unwrap();
    let cmd = Command::new(key(), CommandBody::upsert(spec));
    let e = apply(None, &cmd, 1, t(NOW), t(NOW)).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("schedule"));
}

#[test]
fn misfire_policies() {
    // Down from 10:00:05 to 10:00:59: occurrences at :10, :20 ... :50 were missed too.
    let late = t("2026-11-24T10:00:59Z");
    let at = |policy: &str| {
        let r = define(json!({"every": "10s", "misfire": policy}), 7, NOW);
        fire(&r, &pending_wake(&r).unwrap(), late).unwrap()
    };
    let once = at("fire_once");
    assert_eq!(once.fires.len(), 1);
    assert_eq!(once.fires[0].due_at, t("2026-11-24T10:00:50Z"));
    assert_eq!(once.record.skipped, 4);
    assert_eq!(once.log[0].outcome, AttemptOutcome::Skipped);
    assert_eq!(once.record.next_fire_at, Some(t("2026-11-24T10:01:00Z")));

    let skip = at("skip");
    assert!(skip.fires.is_empty());
    assert_eq!(skip.record.skipped, 5);
    assert_eq!(skip.record.status, TimerStatus::Scheduled);
    assert_eq!(skip.record.next_fire_at, Some(t("2026-11-24T10:01:00Z")));

    let all = at("fire_all");
    assert_eq!(all.fires.len(), 5);
    let occurrences: Vec<u64> = all.fires.iter().map(|f| f.occurrence).collect();
    assert_eq!(occurrences, vec![1, 2, 3, 4, 5]);
    assert!(all.log.is_empty());

    // A little late is not a misfire: the occurrence fires and the schedule goes on from it.
    let r = define(json!({"every": "10s", "misfire": "skip"}), 7, NOW);
    let o = fire(&r, &pending_wake(&r).unwrap(), t("2026-11-24T10:00:12Z")).unwrap();
    assert_eq!(o.fires.len(), 1);
    assert_eq!(o.record.next_fire_at, Some(t("2026-11-24T10:00:20Z")));

    // fire_all is bounded.
    let r = define(json!({"every": "1s", "misfire": "fire_all"}), 7, NOW);
    let o = fire(&r, &pending_wake(&r).unwrap(), t("2026-11-24T11:00:00Z")).unwrap();
    assert_eq!(o.fires.len(), crate::schedule::MAX_CATCH_UP);
    assert_eq!(
        o.fires.last().unwrap().due_at,
        t("2026-11-24T10:59:54Z"),
        "the latest missed are the ones made up for"
    );
    assert_eq!(
        o.record.next_fire_at,
        Some(t("2026-11-24T10:59:55Z")),
        "the first occurrence not more than 5 s late is not missed: it fires as usual"
    );
}

#[test]
fn overlap_skip_skips_while_one_is_in_flight() {
    let r = define(json!({"every": "10s", "overlap": "skip"}), 7, NOW);
    let (_, r) = fire_one(&r, t("2026-11-24T10:00:10Z"));
    let o = fire(&r, &pending_wake(&r).unwrap(), t("2026-11-24T10:00:20Z")).unwrap();
    assert!(o.fires.is_empty());
    assert_eq!(o.log[0].outcome, AttemptOutcome::Skipped);
    assert_eq!(o.record.skipped, 1);
    assert_eq!(o.record.next_fire_at, Some(t("2026-11-24T10:00:30Z")));
    let Applied::Changed(done) = report(
        &o.record,
        attempt(&o.record, 1, AttemptOutcome::Succeeded, None),
        false,
    ) else {
        panic!()
    };
    let o = fire(
        &done.record,
        &pending_wake(&done.record).unwrap(),
        t("2026-11-24T10:00:30Z"),
    )
    .unwrap();
    assert_eq!(o.fires.len(), 1);
    assert_eq!(
        o.fires[0].occurrence, 3,
        "the skipped occurrence had number 2"
    );
}

#[test]
fn pause_resume_and_trigger() {
    let r = define(json!({"every": "10s"}), 7, NOW);
    let paused = control(&r, CommandBody::Pause, 8, t(NOW)).record;
    assert_eq!(paused.status, TimerStatus::Paused);
    assert!(pending_wake(&paused).is_none());
    assert!(
        fire(
            &paused,
            &pending_wake(&r).unwrap(),
            t("2026-11-24T10:00:10Z")
        )
        .is_none()
    );
    assert_eq!(paused.view(1).next_fire_at, None);
    // A redelivered or older control command changes nothing.
    assert_eq!(
        apply(
            Some((&paused, 3)),
            &Command::new(key(), CommandBody::Resume),
            8,
            t(NOW),
            t(NOW)
        )
        .unwrap(),
        Applied::Unchanged
    );
    // Triggered while paused: one run now, the schedule untouched.
    let trig = control(&paused, CommandBody::Trigger, 9, t("2026-11-24T10:00:03Z"));
    assert_eq!(trig.fires.len(), 1);
    assert_eq!(trig.fires[0].due_at, t("2026-11-24T10:00:03Z"));
    assert_eq!(trig.record.status, TimerStatus::Paused);
    assert_eq!((trig.record.runs, trig.record.triggered), (1, 1));
    // Resumed a minute later: the missed occurrence follows the misfire policy (fire_once).
    let resumed = control(
        &trig.record,
        CommandBody::Resume,
        10,
        t("2026-11-24T10:01:05Z"),
    )
    .record;
    assert_eq!(
        resumed.status,
        TimerStatus::Running,
        "the triggered run is in flight"
    );
    let wake = pending_wake(&resumed).unwrap();
    assert_eq!(wake.occurrence, 2, "occurrence 1 was the triggered run");
    let o = fire(&resumed, &wake, t("2026-11-24T10:01:05Z")).unwrap();
    assert_eq!(o.fires.len(), 1);
    assert_eq!(o.fires[0].due_at, t("2026-11-24T10:00:50Z"));
    // 10:01:00 is 5 s late, not more: not missed, it fires next, as scheduled.
    assert_eq!(o.record.next_fire_at, Some(t("2026-11-24T10:01:00Z")));
}

#[test]
fn controls_on_a_finished_timer_conflict() {
    let r = define(json!({"after": "1s"}), 7, NOW);
    let (_, r) = fire_one(&r, t(NOW));
    let Applied::Changed(done) = report(&r, attempt(&r, 1, AttemptOutcome::Succeeded, None), false)
    else {
        panic!()
    };
    assert_eq!(done.record.status, TimerStatus::Succeeded);
    let e = apply(
        Some((&done.record, 3)),
        &Command::new(key(), CommandBody::Trigger),
        20,
        t(NOW),
        t(NOW),
    )
    .unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
}

#[test]
fn a_callback_can_stop_a_recurring_timer() {
    let r = define(json!({"cron": "* * * * * *"}), 7, NOW);
    let (_, r) = fire_one(&r, r.next_fire_at.unwrap());
    let Applied::Changed(o) = report(&r, attempt(&r, 1, AttemptOutcome::Stopped, None), false)
    else {
        panic!()
    };
    assert_eq!(o.record.status, TimerStatus::Completed);
    assert!(pending_wake(&o.record).is_none());
}

#[test]
fn a_callback_moves_the_next_occurrence_of_a_recurring_timer() {
    let r = define(json!({"every": "1h"}), 7, NOW);
    let (_, r) = fire_one(&r, r.next_fire_at.unwrap());
    let moved = t("2026-11-24T11:30:00Z");
    let Applied::Changed(o) = report(
        &r,
        attempt(&r, 1, AttemptOutcome::Rescheduled, Some(moved)),
        false,
    ) else {
        panic!()
    };
    assert_eq!(o.record.next_fire_at, Some(moved));
    let (f, next) = fire_one(&o.record, moved);
    assert_eq!(f.due_at, moved);
    assert_eq!(
        next.next_fire_at,
        Some(t("2026-11-24T12:00:00Z")),
        "then the schedule goes on"
    );
}

#[test]
fn held_retries_and_the_next_occurrence_share_the_wake_up() {
    let r = define(json!({"every": "1m"}), 7, NOW);
    let (_, r) = fire_one(&r, t("2026-11-24T10:01:00Z"));
    let retry_at = t("2026-11-24T10:01:30Z");
    let Applied::Changed(o) = report(
        &r,
        attempt(&r, 1, AttemptOutcome::Retrying, Some(retry_at)),
        true,
    ) else {
        panic!()
    };
    let r = o.record;
    // The retry is earlier than the next occurrence: it is armed first, then the occurrence.
    let wake = pending_wake(&r).unwrap();
    assert_eq!(
        (wake.occurrence, wake.attempt, wake.due_at),
        (1, 2, retry_at)
    );
    let (f, r) = fire_one(&r, retry_at);
    assert_eq!((f.occurrence, f.attempt), (1, 2));
    let wake = pending_wake(&r).unwrap();
    assert_eq!((wake.occurrence, wake.attempt), (2, 1));
    // A duplicate of the rearm report changes nothing.
    assert_eq!(
        report(
            &r,
            attempt(&r, 1, AttemptOutcome::Retrying, Some(retry_at)),
            true
        ),
        Applied::Unchanged
    );
}

#[test]
fn patching_the_target_refires_what_is_in_flight() {
    let r = define(json!({"every": "1m"}), 7, NOW);
    let (_, r) = fire_one(&r, t("2026-11-24T10:01:00Z"));
    let patch = Command::new(
        key(),
        CommandBody::Patch {
            patch: json!({"target": {"http": {"method": "PUT"}}}),
        },
    );
    let o = outcome(apply(
        Some((&r, 3)),
        &patch,
        9,
        t("2026-11-24T10:01:01Z"),
        t("2026-11-24T10:01:01Z"),
    ));
    assert_eq!(o.fires.len(), 1);
    assert_eq!((o.fires[0].generation, o.fires[0].occurrence), (9, 1));
    assert_eq!(o.record.next_fire_at, r.next_fire_at);
    assert_eq!(pending_wake(&o.record).unwrap().generation, 9);
}

#[test]
fn a_one_time_firing_is_recorded_by_its_first_report() {
    let r = define(json!({"after": "1s"}), 7, NOW);
    let o = fire(&r, &pending_wake(&r).unwrap(), t(NOW)).unwrap();
    assert!(o.deferred, "one-time firings are not written");
    // The report arrives against the record as it was before the firing.
    let mut a = attempt(&o.record, 1, AttemptOutcome::Retrying, None);
    a.occurrence_due_at = r.next_fire_at;
    let Applied::Changed(after) = report(&r, a.clone(), false) else {
        panic!("the report must record the firing")
    };
    assert_eq!(after.record.status, TimerStatus::Running);
    assert_eq!(
        (after.record.runs, after.record.in_flight.clone()),
        (1, vec![1])
    );
    assert!(pending_wake(&after.record).is_none());
    assert_eq!(report(&after.record, a, false), Applied::Unchanged);
    // A report of another generation does not count as the firing.
    let mut stale = attempt(&o.record, 1, AttemptOutcome::Succeeded, None);
    stale.generation = 6;
    stale.occurrence_due_at = r.next_fire_at;
    assert_eq!(report(&r, stale, false), Applied::Unchanged);
    // Recurring firings are always written: they move the schedule.
    let rec = define(json!({"every": "1s"}), 7, NOW);
    assert!(
        !fire(&rec, &pending_wake(&rec).unwrap(), t(NOW))
            .unwrap()
            .deferred
    );
}

#[test]
fn a_due_instant_keeps_its_occurrence_number_whatever_is_decided() {
    let r = define(json!({"every": "10s", "misfire": "fire_all"}), 7, NOW);
    let wake = pending_wake(&r).unwrap();
    let identities = |o: &Outcome| -> Vec<(u64, DateTime<Utc>)> {
        o.fires.iter().map(|f| (f.occurrence, f.due_at)).collect()
    };
    // One scheduler fires on time, another (holding a redelivered wake-up) much later.
    let early = fire(&r, &wake, t("2026-11-24T10:00:11Z")).unwrap();
    let late = fire(&r, &wake, t("2026-11-24T10:00:59Z")).unwrap();
    assert_eq!(identities(&early), vec![(1, t("2026-11-24T10:00:10Z"))]);
    assert_eq!(identities(&late)[0], identities(&early)[0]);
    assert_eq!(identities(&late)[4], (5, t("2026-11-24T10:00:50Z")));
    // fire_once keeps the number of the occurrence it makes up for.
    let once = define(json!({"every": "10s"}), 7, NOW);
    let o = fire(
        &once,
        &pending_wake(&once).unwrap(),
        t("2026-11-24T10:00:59Z"),
    )
    .unwrap();
    assert_eq!(identities(&o), vec![(5, t("2026-11-24T10:00:50Z"))]);
    assert_eq!((o.log[0].occurrence, o.record.occurrence), (1, 6));
}

#[test]
fn a_trigger_or_redefinition_redelivered_after_its_write_sends_its_calls_again() {
    let r = define(json!({"every": "10s"}), 7, NOW);
    let (_, r) = fire_one(&r, t("2026-11-24T10:00:10Z"));
    let trigger = Command::new(key(), CommandBody::Trigger);
    let o = control(&r, CommandBody::Trigger, 20, t(NOW));
    let triggered = o.record;
    assert_eq!(o.fires.len(), 1);
    // Redelivered: the record already has it, so nothing changes, and its call is sent again
    // (the same delivery id) while it is in flight and unreported.
    assert_eq!(
        apply(Some((&triggered, 4)), &trigger, 20, t(NOW), t(NOW)).unwrap(),
        Applied::Unchanged
    );
    assert_eq!(unsent(&triggered, &trigger, 20, t(NOW)), o.fires);
    // Not for another command, nor once the occurrence was reported.
    assert!(unsent(&triggered, &trigger, 21, t(NOW)).is_empty());
    let occurrence = o.fires[0].occurrence;
    let succeeded = Attempt {
        occurrence,
        delivery_id: triggered.delivery_id(occurrence),
        ..attempt(&triggered, 1, AttemptOutcome::Succeeded, None)
    };
    let Applied::Changed(reported) = report(&triggered, succeeded, false) else {
        panic!()
    };
    assert!(unsent(&reported.record, &trigger, 20, t(NOW)).is_empty());

    // A new target: the occurrences in flight are fired again under the new generation, and
    // sent again if the patch is redelivered.
    let patch = Command::new(
        key(),
        CommandBody::Patch {
            patch: json!({"target": {"http": {"url": "http://y.test/"}}}),
        },
    );
    let o = outcome(apply(Some((&triggered, 4)), &patch, 30, t(NOW), t(NOW)));
    assert_eq!(o.fires.len(), 2);
    assert_eq!(unsent(&o.record, &patch, 30, t(NOW)), o.fires);
    assert!(unsent(&o.record, &patch, 29, t(NOW)).is_empty());
}
