use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;
use crate::id::TimerKey;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn key() -> TimerKey {
    TimerKey::from_subject_suffix("ns.t1").unwrap()
}

fn upsert(after: &str) -> Command {
    let spec: TimerSpec = serde_json::from_value(json!({
        "schedule": {"after": after}, "target": {"http": {"url": "http://x.test/"}}
    }))
    .unwrap();
    Command::new(key(), CommandBody::upsert(spec))
}

fn changed(a: Result<Applied, ValidationError>) -> TimerRecord {
    outcome(a).record
}

fn outcome(a: Result<Applied, ValidationError>) -> Outcome {
    match a.unwrap() {
        Applied::Changed(o) => *o,
        Applied::Unchanged => panic!("expected a change"),
    }
}

/// Fires the pending wake-up at `now`: the one fire message and the record.
fn fire_one(r: &TimerRecord, now: DateTime<Utc>) -> (Fire, TimerRecord) {
    let o = fire(r, &pending_wake(r).unwrap(), now).unwrap();
    assert_eq!(o.fires.len(), 1, "{o:?}");
    (o.fires[0].clone(), o.record)
}

/// An attempt of the oldest occurrence in flight.
fn attempt(
    r: &TimerRecord,
    n: u32,
    outcome: AttemptOutcome,
    next_at: Option<DateTime<Utc>>,
) -> Attempt {
    let occurrence = r.in_flight[0];
    Attempt {
        delivery_id: r.delivery_id(occurrence),
        generation: r.generation,
        occurrence,
        attempt: n,
        due_at: r.anchor,
        occurrence_due_at: None,
        started_at: r.anchor,
        latency_ms: 3,
        status_code: Some(500),
        error: None,
        outcome,
        next_at,
        subscriber: None,
        subscribers: Vec::new(),
        fan_out: 0,
        run: None,
        note: None,
        response: None,
    }
}

const NOW: &str = "2026-11-24T10:00:00Z";

#[test]
fn upsert_arms_the_first_occurrence() {
    let r = changed(apply(None, &upsert("90s"), 7, t(NOW), t(NOW)));
    assert_eq!(r.status, TimerStatus::Scheduled);
    assert_eq!(r.generation, 7);
    assert_eq!(r.next_fire_at, Some(t(NOW) + Duration::seconds(90)));
    let wake = pending_wake(&r).unwrap();
    assert_eq!((wake.generation, wake.occurrence, wake.attempt), (7, 1, 1));
}

#[test]
fn stale_and_redelivered_commands_change_nothing() {
    let r = changed(apply(None, &upsert("90s"), 7, t(NOW), t(NOW)));
    assert_eq!(
        apply(Some((&r, 1)), &upsert("5s"), 7, t(NOW), t(NOW)).unwrap(),
        Applied::Unchanged
    );
    assert_eq!(
        apply(Some((&r, 1)), &upsert("5s"), 3, t(NOW), t(NOW)).unwrap(),
        Applied::Unchanged
    );
    let delete = Command::new(key(), CommandBody::Delete);
    assert_eq!(
        apply(Some((&r, 1)), &delete, 5, t(NOW), t(NOW)).unwrap(),
        Applied::Unchanged
    );
    // A delete that is newer wins, and an older upsert delivered after it cannot revive the timer.
    let gone = changed(apply(Some((&r, 1)), &delete, 9, t(NOW), t(NOW)));
    assert_eq!(gone.status, TimerStatus::Cancelled);
    assert!(pending_wake(&gone).is_none());
    assert_eq!(
        apply(Some((&gone, 2)), &upsert("5s"), 8, t(NOW), t(NOW)).unwrap(),
        Applied::Unchanged
    );
}

#[test]
fn if_match_is_checked_against_the_revision() {
    let r = changed(apply(None, &upsert("90s"), 7, t(NOW), t(NOW)));
    let mut cmd = Command::new(key(), CommandBody::Delete);
    cmd.expected_revision = Some(4);
    assert_eq!(
        apply(Some((&r, 5)), &cmd, 9, t(NOW), t(NOW))
            .unwrap_err()
            .code,
        ErrorCode::RevisionConflict
    );
    cmd.expected_revision = Some(5);
    assert!(matches!(
        apply(Some((&r, 5)), &cmd, 9, t(NOW), t(NOW)).unwrap(),
        Applied::Changed(_)
    ));
}

#[test]
fn patch_and_delete_of_a_missing_timer_are_not_found() {
    let patch = Command::new(
        key(),
        CommandBody::Patch {
            patch: json!({"retry": {"max_attempts": 2}}),
        },
    );
    assert_eq!(
        apply(None, &patch, 1, t(NOW), t(NOW)).unwrap_err().code,
        ErrorCode::NotFound
    );
    let delete = Command::new(key(), CommandBody::Delete);
    assert_eq!(
        apply(None, &delete, 1, t(NOW), t(NOW)).unwrap_err().code,
        ErrorCode::NotFound
    );
}

#[test]
fn patch_moves_the_due_time_and_merges_the_target() {
    let r = changed(apply(None, &upsert("90s"), 7, t(NOW), t(NOW)));
    let later = t(NOW) + Duration::hours(1);
    let patch = Command::new(
        key(),
        CommandBody::Patch {
            patch: json!({"schedule": {"at": later}, "target": {"http": {"method": "PUT"}}}),
        },
    );
    let p = changed(apply(Some((&r, 1)), &patch, 8, t(NOW), t(NOW)));
    assert_eq!(p.next_fire_at, Some(later));
    assert_eq!(p.spec.target.http.as_ref().unwrap().method, "PUT");
    assert_eq!(p.spec.target.http.as_ref().unwrap().url, "http://x.test/");
    assert_eq!(pending_wake(&p).unwrap().generation, 8);

    let bad = Command::new(
        key(),
        CommandBody::Patch {
            patch: json!({"target": {"http": {"url": "nope"}}}),
        },
    );
    assert_eq!(
        apply(Some((&p, 2)), &bad, 9, t(NOW), t(NOW))
            .unwrap_err()
            .field
            .as_deref(),
        Some("target.http.url")
    );
    let unknown = Command::new(
        key(),
        CommandBody::Patch {
            patch: json!({"colour": "red"}),
        },
    );
    assert_eq!(
        apply(Some((&p, 2)), &unknown, 9, t(NOW), t(NOW))
            .unwrap_err()
            .field
            .as_deref(),
        Some("colour")
    );
}

/// A patch of metadata alone: `patch` applied to `r` at sequence `seq`.
fn patch_metadata(
    r: &TimerRecord,
    patch: serde_json::Value,
    seq: u64,
) -> Result<Applied, ValidationError> {
    let cmd = Command::new(key(), CommandBody::Patch { patch });
    apply(Some((r, seq - 1)), &cmd, seq, t(NOW), t(NOW))
}

#[test]
fn metadata_is_kept_shown_and_merged_by_patches() {
    let mut create = upsert("90s");
    if let CommandBody::Upsert { spec, .. } = &mut create.body {
        spec.metadata = [("app", "crony"), ("team", "a")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
    }
    let r = changed(apply(None, &create, 7, t(NOW), t(NOW)));
    assert_eq!(r.view(1).metadata, r.spec.metadata);
    assert_eq!(r.spec.metadata["app"], "crony");

    // Add a key, change one, remove one; the schedule keeps its place.
    let p = changed(patch_metadata(
        &r,
        json!({"metadata": {"owner": "ops", "app": "cron2", "team": null}}),
        8,
    ));
    let keys: Vec<(&str, &str)> = p
        .spec
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(keys, [("app", "cron2"), ("owner", "ops")]);
    assert_eq!(p.next_fire_at, r.next_fire_at);
    assert_eq!(p.spec.schedule, r.spec.schedule);
    assert_eq!(p.spec.target, r.spec.target);

    // `"metadata": null` removes every key; removing an absent key changes nothing else.
    let q = changed(patch_metadata(&p, json!({"metadata": null}), 9));
    assert!(q.spec.metadata.is_empty());
    let q = changed(patch_metadata(&q, json!({"metadata": {"gone": null}}), 10));
    assert!(q.spec.metadata.is_empty());
    let v = serde_json::to_value(&q.spec).unwrap();
    assert!(
        v.get("metadata").is_none(),
        "empty metadata is not written: {v}"
    );

    // The merged map is validated: a bad key, value or count is refused with its field.
    let field = |patch| patch_metadata(&p, patch, 11).unwrap_err().field;
    assert_eq!(
        field(json!({"metadata": {"a b": "x"}})).as_deref(),
        Some("metadata.a b")
    );
    assert_eq!(
        field(json!({"metadata": {"app": "x".repeat(513)}})).as_deref(),
        Some("metadata.app")
    );
    assert_eq!(
        field(json!({"metadata": {"app": 7}})).as_deref(),
        Some("metadata.app")
    );
    assert_eq!(field(json!({"metadata": "x"})).as_deref(), Some("metadata"));
    let many: serde_json::Map<String, serde_json::Value> =
        (0..31).map(|i| (format!("k{i}"), json!("v"))).collect();
    assert_eq!(
        field(json!({ "metadata": many })).as_deref(),
        Some("metadata")
    );
}

#[test]
fn specs_without_metadata_and_records_written_before_it_still_decode() {
    // A record as a build without metadata wrote it: no `metadata` anywhere.
    let old = json!({
        "namespace": "ns", "id": "t1",
        "spec": {"schedule": {"after": "90s"}, "target": {"http": {"url": "http://x.test/"}}},
        "status": "scheduled", "generation": 7, "occurrence": 1,
        "anchor": NOW, "next_fire_at": "2026-11-24T10:01:30Z",
        "attempts": 0, "last_result": null, "runs": 0, "successes": 0, "failures": 0,
        "created_at": NOW, "updated_at": NOW
    });
    let r: TimerRecord = serde_json::from_value(old).unwrap();
    assert!(r.spec.metadata.is_empty());
    assert_eq!(
        serde_json::to_value(r.view(3)).unwrap()["metadata"],
        json!({})
    );
    // And a spec with metadata is refused on its bad entries, as any command is.
    let bad = json!({"v": 1, "kind": "upsert", "namespace": "ns", "id": "t1",
        "spec": {"schedule": {"after": "5s"}, "target": {"http": {"url": "http://x.test/"}},
                 "metadata": {"ok": "1", "no way": "2"}}});
    assert_eq!(
        Command::decode(bad.to_string().as_bytes())
            .unwrap_err()
            .field
            .as_deref(),
        Some("spec.metadata.no way")
    );
}

#[test]
fn fire_runs_once_and_stale_wakeups_are_ignored() {
    let r = changed(apply(None, &upsert("1s"), 7, t(NOW), t(NOW)));
    let wake = pending_wake(&r).unwrap();
    let (msg, fired) = fire_one(&r, t(NOW));
    assert_eq!(msg.delivery_id(), "ns/t1/7/1");
    assert_eq!(msg.msg_id(), wake.fire_msg_id());
    assert_eq!(fired.status, TimerStatus::Running);
    assert_eq!(fired.runs, 1);
    assert!(
        fire(&fired, &wake, t(NOW)).is_none(),
        "a second wake-up of the same occurrence must not fire"
    );
    let mut old = wake.clone();
    old.generation = 6;
    assert!(fire(&r, &old, t(NOW)).is_none());
}

#[test]
fn reports_drive_the_outcome_idempotently() {
    let r = changed(apply(None, &upsert("1s"), 7, t(NOW), t(NOW)));
    let (_, fired) = fire_one(&r, t(NOW));
    let report = |rec: &TimerRecord, a: Attempt, rearm| {
        apply(
            Some((rec, 3)),
            &Command::new(key(), CommandBody::Report { attempt: a, rearm }),
            100,
            t(NOW),
            t(NOW),
        )
    };
    let retry_at = t(NOW) + Duration::minutes(10);
    let held = changed(report(
        &fired,
        attempt(&fired, 1, AttemptOutcome::Retrying, Some(retry_at)),
        true,
    ));
    let wake = pending_wake(&held).unwrap();
    assert_eq!((wake.attempt, wake.due_at), (2, retry_at));
    let (msg, fired2) = fire_one(&held, t(NOW));
    assert_eq!(msg.attempt, 2);
    assert_eq!(fired2.runs, 1, "a retry is not a new run");
    let ok = attempt(&fired2, 2, AttemptOutcome::Succeeded, None);
    let done = changed(report(&fired2, ok.clone(), false));
    assert_eq!(
        (done.status, done.successes, done.attempts),
        (TimerStatus::Succeeded, 1, 2)
    );
    assert_eq!(report(&done, ok, false).unwrap(), Applied::Unchanged);
}

#[test]
fn a_fire_of_an_occurrence_that_ended_is_told_apart() {
    let r = changed(apply(None, &upsert("1s"), 7, t(NOW), t(NOW)));
    let (fire, fired) = fire_one(&r, t(NOW));
    assert!(!fire.has_ended(r.last_result.as_ref()), "not called yet");
    let report = |rec: &TimerRecord, a: Attempt| {
        changed(apply(
            Some((rec, 3)),
            &Command::new(
                key(),
                CommandBody::Report {
                    attempt: a,
                    rearm: false,
                },
            ),
            100,
            t(NOW),
            t(NOW),
        ))
    };
    let retrying = attempt(&fired, 1, AttemptOutcome::Retrying, Some(t(NOW)));
    let after_a_failure = report(&fired, retrying);
    assert!(
        !fire.has_ended(after_a_failure.last_result.as_ref()),
        "a retry is still to come"
    );
    let done = report(&fired, attempt(&fired, 1, AttemptOutcome::Succeeded, None));
    assert!(fire.has_ended(done.last_result.as_ref()));
    // Another occurrence, another definition, a replay, a subscriber's delivery: not ended.
    let next = Fire {
        occurrence: 2,
        ..fire.clone()
    };
    assert!(!next.has_ended(done.last_result.as_ref()));
    let redefined = Fire {
        generation: 8,
        ..fire.clone()
    };
    assert!(!redefined.has_ended(done.last_result.as_ref()));
    let replay = Fire {
        replay: true,
        ..fire.clone()
    };
    assert!(!replay.has_ended(done.last_result.as_ref()));
    let delivery = fire.for_subscriber(crate::id::SubscriberId::parse("s1").unwrap(), 1);
    assert!(!delivery.has_ended(done.last_result.as_ref()));
    let mut delivered = done.last_result.clone().unwrap();
    delivered.subscriber = Some(crate::id::SubscriberId::parse("s1").unwrap());
    assert!(
        !fire.has_ended(Some(&delivered)),
        "a subscriber's result does not end the topic's occurrence"
    );
}

#[test]
fn a_callback_can_reschedule() {
    let r = changed(apply(None, &upsert("1s"), 7, t(NOW), t(NOW)));
    let (_, fired) = fire_one(&r, t(NOW));
    let again = t(NOW) + Duration::hours(2);
    let cmd = Command::new(
        key(),
        CommandBody::Report {
            attempt: attempt(&fired, 1, AttemptOutcome::Rescheduled, Some(again)),
            rearm: false,
        },
    );
    let next = changed(apply(Some((&fired, 3)), &cmd, 100, t(NOW), t(NOW)));
    assert_eq!(
        (next.status, next.occurrence, next.next_fire_at),
        (TimerStatus::Scheduled, 2, Some(again))
    );
    assert_eq!(pending_wake(&next).unwrap().occurrence, 2);
}

#[test]
fn a_first_report_records_the_firing_even_after_a_pause() {
    // A one-time timer's firing is not written (deferred to its first report); a pause
    // applied in between must not make the report look like one about another occurrence.
    let r = changed(apply(None, &upsert("1s"), 7, t(NOW), t(NOW)));
    let o = fire(&r, &pending_wake(&r).unwrap(), t(NOW)).unwrap();
    assert!(o.deferred);
    let pause = Command::new(key(), CommandBody::Pause);
    let paused = changed(apply(Some((&r, 1)), &pause, 8, t(NOW), t(NOW)));
    assert_eq!(paused.status, TimerStatus::Paused);
    let fire = &o.fires[0];
    let ok = Attempt {
        occurrence_due_at: Some(fire.occurrence_due_at),
        due_at: fire.due_at,
        status_code: Some(200),
        ..attempt(&o.record, 1, AttemptOutcome::Succeeded, None)
    };
    let cmd = Command::new(
        key(),
        CommandBody::Report {
            attempt: ok,
            rearm: false,
        },
    );
    let done = changed(apply(Some((&paused, 2)), &cmd, 100, t(NOW), t(NOW)));
    assert_eq!(
        (done.status, done.runs, done.successes, done.last_command),
        (TimerStatus::Succeeded, 1, 1, 8)
    );
    assert!(pending_wake(&done).is_none(), "it must not fire again");
}

#[test]
fn an_upsert_may_create_the_timer_paused_and_a_resume_arms_it() {
    let mut cmd = upsert("1s");
    if let CommandBody::Upsert { paused, .. } = &mut cmd.body {
        *paused = true;
    }
    let r = changed(apply(None, &cmd, 7, t(NOW), t(NOW)));
    assert_eq!(r.status, TimerStatus::Paused);
    // Paused from the start: nothing is armed, so nothing can fire.
    assert!(pending_wake(&r).is_none());
    let later = t(NOW) + Duration::seconds(2);
    let resume = Command::new(key(), CommandBody::Resume);
    let resumed = changed(apply(Some((&r, 1)), &resume, 8, later, later));
    assert_ne!(resumed.status, TimerStatus::Paused);
    assert!(pending_wake(&resumed).is_some());
    // A plain upsert of the paused timer replaces it whole, paused state included.
    let replaced = changed(apply(Some((&r, 1)), &upsert("1s"), 9, later, later));
    assert_eq!(replaced.status, TimerStatus::Scheduled);
}

mod bounds;
mod recurring;
