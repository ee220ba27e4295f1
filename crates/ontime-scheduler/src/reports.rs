//! Workers' reports: each attempt a worker writes to the execution log is also its report,
//! applied here to the timer's record (one message serves the log and the record).

use std::sync::Arc;

use async_nats::jetstream::{AckKind, Message};
use ontime_core::command::{Command, CommandBody};
use ontime_core::timer::Attempt;

use crate::Ctx;
use crate::arm::ack;
use crate::commands::{apply, conclude};

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: Arc<Ctx>, message: Message) {
    let Ok(info) = message.info().map(|i| (i.stream_sequence, i.published)) else {
        tracing::warn!("a log entry without JetStream metadata");
        return;
    };
    let rearm = ontime_nats::log::report_of(message.headers.as_ref());
    let key = ctx.topology.names().key_of_subject(&message.subject);
    let (message, acker) = message.split();
    // The scheduler's own entries (skipped occurrences) are not reports.
    let Some(rearm) = rearm else {
        return ack(Some(acker)).await;
    };
    let attempt = serde_json::from_slice::<Attempt>(&message.payload);
    let (Some(key), Ok(attempt)) = (key, attempt) else {
        tracing::error!(subject = %message.subject, "an unreadable report; dropped");
        let _ = acker.ack_with(AckKind::Term).await;
        return;
    };
    let cmd = Command::new(key, CommandBody::Report { attempt, rearm });
    let outcome = apply(&ctx, &cmd, info.0, info.1).await;
    conclude(&ctx, outcome, None, acker).await;
}
