//! Workers' reports: each attempt a worker writes to the execution log is also its report,
//! applied here to the timer's record (one message serves the log and the record).

use std::sync::Arc;

use async_nats::jetstream::{AckKind, Message};
use ontime_core::command::{Command, CommandBody};
use ontime_core::timer::Attempt;
use ontime_nats::pull::Handled;

use crate::Ctx;
use crate::arm::ack;
use crate::commands::{apply, conclude, position};

#[tracing::instrument(level = "debug", skip_all, fields(subject = %message.subject))]
pub async fn handle(ctx: Arc<Ctx>, message: Message) -> Handled {
    let Some((seq, accepted_at)) = position(&message) else {
        return Handled::Done;
    };
    let rearm = ontime_nats::log::report_of(message.headers.as_ref());
    let key = ctx.topology.names().key_of_subject(&message.subject);
    let (message, acker) = message.split();
    // The scheduler's own entries (skipped occurrences) are not reports.
    let Some(rearm) = rearm else {
        ack(Some(acker)).await;
        return Handled::Done;
    };
    let attempt = serde_json::from_slice::<Attempt>(&message.payload);
    let (Some(key), Ok(attempt)) = (key, attempt) else {
        tracing::error!(subject = %message.subject, "an unreadable report; dropped");
        let _ = acker.ack_with(AckKind::Term).await;
        return Handled::Done;
    };
    let cmd = Command::new(key, CommandBody::Report { attempt, rearm });
    let outcome = apply(&ctx, &cmd, seq, accepted_at).await;
    conclude(&ctx, outcome, None, acker).await
}
