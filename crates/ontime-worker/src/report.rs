//! An attempt's report (its execution-log entry, which the schedulers apply) and the
//! settling of its fire message.

use std::time::Duration;

use ontime_core::timer::Attempt;
use ontime_nats::settle::Delivery;

use crate::Ctx;
use crate::deliver::Settle;

/// Hands the fire back, to be delivered again shortly (NATS did not answer a read or a
/// write it needs).
pub(crate) async fn retry_soon(delivery: Delivery) {
    delivery.again_after(Duration::from_millis(500)).await;
}

/// Reports the attempt, then settles the fire message as decided; an attempt that could not
/// be reported would be lost from the record, so its message is redelivered instead.
pub(crate) async fn report_and_settle(
    ctx: &Ctx,
    key: &ontime_core::TimerKey,
    attempt: Attempt,
    rearm: bool,
    settle: Settle,
    delivery: Delivery,
) {
    // The call was made: given back, the fire would be called again. The report (its log
    // entry, de-duplicated by its id) is tried again instead, the fire held meanwhile, for
    // as long as a stream takes to get a new leader.
    let log = &ctx.topology.log;
    let reported = ontime_nats::pull::with_progress(
        &delivery,
        ctx.config.progress_interval,
        ontime_nats::retry::patiently(
            REPORT_PATIENCE,
            Duration::from_millis(200),
            "reporting an attempt",
            || log.report(&attempt, key, rearm),
        ),
    )
    .await;
    if let Err(e) = reported {
        tracing::warn!(error = %e, timer = %key, "an attempt could not be reported; its fire will be delivered again");
        return retry_soon(delivery).await;
    }
    match settle {
        Settle::Ack => delivery.done().await,
        Settle::NakAfter(wait) => delivery.again_after(wait).await,
    }
}

/// How long a worker keeps trying to report an attempt whose call it made.
const REPORT_PATIENCE: Duration = Duration::from_secs(30);

/// Writes the attempt to the execution log, which is also its report to the schedulers;
/// waits for the ack. Returns false if it failed.
pub(crate) async fn report(
    ctx: &Ctx,
    key: &ontime_core::TimerKey,
    attempt: Attempt,
    rearm: bool,
) -> bool {
    ctx.topology.log.report(&attempt, key, rearm).await.is_ok()
}
