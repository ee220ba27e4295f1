//! Creates (or brings up to date) every stream, the buckets and the consumers, idempotently,
//! at start-up of every process. Running it from several processes at once is safe.

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};

use crate::NatsError;
use crate::commands::Commands;
use crate::commit::Grouping;
use crate::counters::Counters;
use crate::dead::DeadLetters;
use crate::fires::Fires;
use crate::flow::FlowState;
use crate::idempotency::IdempotencyStore;
use crate::letters::DeadLetterList;
use crate::log::Log;
use crate::marks::MarkStore;
use crate::names::Names;
use crate::store::TimerStore;
use crate::targets::Targets;
use crate::topics::TopicStore;
use crate::trust::TrustStore;
use crate::wake_ups::Wheel;

/// The knobs of the topology. Defaults suit one node; a cluster sets `replicas: 3`.
#[derive(Debug, Clone)]
pub struct TopologyConfig {
    pub names: Names,
    /// Replicas of every stream and of the bucket: 1 for one node, 3 for a cluster.
    pub replicas: usize,
    /// How long the fire and command streams remember message ids for de-duplication.
    pub dedup_window: Duration,
    /// Execution log entries kept per timer; the oldest are dropped first.
    pub log_per_timer: i64,
    /// How long finished timers (succeeded, failed, cancelled) and log entries are kept.
    pub retention: Duration,
    /// How long the workers' consumer waits for an ack before redelivering. Workers extend it
    /// with progress acks while a slow call lasts.
    pub ack_wait: Duration,
    /// The same for the schedulers' consumers. Short, because it is how long the other
    /// schedulers wait before taking over the due wake-ups a killed scheduler held.
    pub scheduler_ack_wait: Duration,
    /// Unacknowledged wake-ups and commands the schedulers may hold: bounds their memory.
    pub scheduler_max_ack_pending: i64,
    /// Unacknowledged calls the workers may hold at once.
    pub worker_max_ack_pending: i64,
    /// How long a message no handler could settle is kept on the dead-letter stream.
    pub dead_retention: Duration,
    /// How long an idempotency key is remembered: a retry within it is answered what the
    /// first request got; the same key for another request is refused.
    pub idempotency_retention: Duration,
    /// How the writers of fires, log entries and records group what they store.
    pub grouping: Grouping,
}

impl Default for TopologyConfig {
    fn default() -> Self {
        Self {
            names: Names::default(),
            replicas: 1,
            dedup_window: Duration::from_secs(10 * 60),
            log_per_timer: 100,
            retention: Duration::from_secs(7 * 24 * 3600),
            ack_wait: Duration::from_secs(30),
            scheduler_ack_wait: Duration::from_secs(10),
            scheduler_max_ack_pending: 100_000,
            worker_max_ack_pending: 20_000,
            dead_retention: Duration::from_secs(14 * 24 * 3600),
            idempotency_retention: Duration::from_secs(24 * 3600),
            grouping: Grouping::default(),
        }
    }
}

/// Batches delivered to the schedulers and not yet acknowledged, all instances together:
/// each applies a few at once, and one is up to `max_payload` in memory.
const BATCHES_PENDING: i64 = 64;

/// The most the dead-letter stream keeps; the oldest go first.
const DEAD_BYTES: i64 = 1 << 30;

/// Lets a bucket's stream (which the bucket's own configuration does not cover) take atomic
/// batches.
async fn allow_atomic_publish(js: &jetstream::Context, stream: &str) -> Result<(), NatsError> {
    let mut stream = js.get_stream(stream).await.map_err(NatsError::nats)?;
    let config = &stream.info().await.map_err(NatsError::nats)?.config;
    if config.allow_atomic_publish {
        return Ok(());
    }
    let config = stream::Config {
        allow_atomic_publish: true,
        ..config.clone()
    };
    js.update_stream(config).await.map_err(NatsError::nats)?;
    Ok(())
}

/// What is waiting in NATS: see [`Topology::backlog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub wake_ups: u64,
    pub calls: u64,
}

/// Creates or updates a bucket. The future is boxed here, in a frame of its own: built in
/// [`Topology::ensure`]'s, its many siblings would make that frame too large for a 2 MiB
/// thread stack in unoptimised builds.
fn key_value(
    js: &jetstream::Context,
    config: kv::Config,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<kv::Store, NatsError>> + Send + '_>>
{
    Box::pin(async move {
        js.create_or_update_key_value(config)
            .await
            .map_err(NatsError::nats)
    })
}

/// Handles on a ready topology, cheap to clone.
#[derive(Clone)]
pub struct Topology {
    pub config: TopologyConfig,
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub timers: TimerStore,
    pub marks: MarkStore,
    pub idempotency: IdempotencyStore,
    pub dead: DeadLetters,
    pub counters: Counters,
    pub topics: TopicStore,
    pub trust: TrustStore,
    /// Each namespace's calls that failed for good.
    pub dead_letters: DeadLetterList,
    /// Where the workers share the flow limits' state.
    pub flow: FlowState,
    /// The fire messages' writer.
    pub fires: Fires,
    /// The execution log's writer.
    pub log: Log,
    /// Where commands are published.
    pub commands: Commands,
    /// The timing wheel of wake-ups.
    pub wheel: Wheel,
    /// Where calls to NATS subjects go out.
    pub targets: Targets,
}

impl Topology {
    pub fn names(&self) -> &Names {
        &self.config.names
    }

    /// Creates or updates everything, then returns handles on it.
    pub async fn ensure(
        client: async_nats::Client,
        config: TopologyConfig,
    ) -> Result<Self, NatsError> {
        // On the heap: creating every stream and bucket is a large future (tens of KiB in an
        // unoptimised build), which would otherwise sit on the stack of whoever awaits it.
        Box::pin(Self::create(client, config)).await
    }

    async fn create(client: async_nats::Client, config: TopologyConfig) -> Result<Self, NatsError> {
        let js = jetstream::new(client.clone());
        let n = &config.names;
        let storage = stream::StorageType::File;
        let base = stream::Config {
            num_replicas: config.replicas,
            storage,
            ..Default::default()
        };
        let streams = [
            stream::Config {
                name: n.cmd_stream(),
                subjects: vec![n.cmd_all()],
                retention: stream::RetentionPolicy::WorkQueue,
                duplicate_window: config.dedup_window,
                ..base.clone()
            },
            stream::Config {
                name: n.sched_stream(),
                subjects: vec![n.sched_all(), n.wake_all(), n.tick_all(), n.ticked_all()],
                retention: stream::RetentionPolicy::WorkQueue,
                allow_message_schedules: true,
                // A batch's wake-ups are stored together (see `crate::batch`).
                allow_atomic_publish: true,
                // One definition per timer: a new wake-up replaces the old one.
                max_messages_per_subject: 1,
                allow_rollup: true,
                ..base.clone()
            },
            stream::Config {
                name: n.slots_stream(),
                subjects: vec![n.slots_all()],
                // One wake-up per timer and second; a second's are purged once fired.
                max_messages_per_subject: 1,
                allow_atomic_publish: true,
                ..base.clone()
            },
            stream::Config {
                name: n.fire_stream(),
                subjects: vec![n.fire_all(), n.fire_scheduled_all()],
                // Fires due together are stored together (see `crate::commit`).
                allow_atomic_publish: true,
                // Fires stored ahead as scheduled messages (see `crate::fires`); the server
                // makes each one a rollup of its subject, so a new one replaces the old.
                allow_message_schedules: true,
                allow_rollup: true,
                // Not a work queue: there each ack deletes its message, which costs a disk
                // barrier under `sync_interval: always`; settled calls are purged in bulk.
                duplicate_window: config.dedup_window,
                ..base.clone()
            },
            stream::Config {
                name: n.run_stream(),
                subjects: vec![n.run_all()],
                allow_atomic_publish: true,
                retention: stream::RetentionPolicy::WorkQueue,
                duplicate_window: config.dedup_window,
                ..base.clone()
            },
            stream::Config {
                name: n.log_stream(),
                subjects: vec![n.log_all()],
                // Entries written together are stored together (see `crate::commit`).
                allow_atomic_publish: true,
                max_messages_per_subject: config.log_per_timer,
                max_age: config.retention,
                // A worker that retries a report publishes it again under the same id.
                duplicate_window: config.dedup_window,
                allow_direct: true,
                ..base.clone()
            },
            stream::Config {
                name: n.dead_stream(),
                subjects: vec![n.dead_all()],
                max_age: config.dead_retention,
                max_bytes: DEAD_BYTES,
                duplicate_window: Duration::from_secs(60),
                ..base.clone()
            },
        ];
        for cfg in streams {
            js.create_or_update_stream(cfg)
                .await
                .map_err(NatsError::nats)?;
        }
        let bucket = |name: String| kv::Config {
            bucket: name,
            history: 1,
            num_replicas: config.replicas,
            storage,
            ..Default::default()
        };
        let kv = key_value(
            &js,
            kv::Config {
                // Enables per-entry TTLs, which expire finished timers after `retention`.
                limit_markers: Some(Duration::from_secs(60)),
                ..bucket(n.timers_bucket())
            },
        )
        .await?;
        // A batch's new timers are written together (see `crate::batch`).
        allow_atomic_publish(&js, &format!("KV_{}", n.timers_bucket())).await?;
        let marks = key_value(
            &js,
            kv::Config {
                max_age: crate::marks::MARK_TTL,
                ..bucket(n.marks_bucket())
            },
        )
        .await?;

        let idempotency = key_value(
            &js,
            kv::Config {
                max_age: config.idempotency_retention,
                ..bucket(n.idempotency_bucket())
            },
        )
        .await?;

        // Counters keep their last value only, for ever: an id once given is never given again.
        let counters = key_value(&js, bucket(n.counters_bucket())).await?;
        let topics = key_value(&js, bucket(n.topics_bucket())).await?;
        let letters = key_value(
            &js,
            kv::Config {
                max_age: config.retention,
                ..bucket(n.dead_letters_bucket())
            },
        )
        .await?;
        // Kept for ever, one revision per key: a revoked token or a removed secret is gone.
        let trust = key_value(&js, bucket(n.trust_bucket())).await?;
        let fan_outs = key_value(
            &js,
            kv::Config {
                max_age: crate::topics::FAN_OUT_TTL,
                ..bucket(n.fan_outs_bucket())
            },
        )
        .await?;

        let flow = key_value(
            &js,
            kv::Config {
                max_age: crate::flow::FLOW_TTL,
                // Enables the places' time to live.
                limit_markers: Some(Duration::from_secs(60)),
                ..bucket(n.flow_bucket())
            },
        )
        .await?;

        let pull = |durable: &str, filter: String, max_ack_pending: i64, ack_wait: Duration| {
            consumer::pull::Config {
                durable_name: Some(durable.to_owned()),
                filter_subject: filter,
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait,
                max_ack_pending,
                max_waiting: 4096,
                ..Default::default()
            }
        };
        let reports = consumer::pull::Config {
            // The log's older entries were reported before this consumer existed (as
            // commands, by earlier versions): only what comes from now on is a report to apply.
            deliver_policy: consumer::DeliverPolicy::New,
            ..pull(
                n.report_consumer(),
                n.log_all(),
                config.scheduler_max_ack_pending,
                config.scheduler_ack_wait,
            )
        };
        // Single commands and batches have consumers of their own (a work-queue stream's
        // filters may not overlap; the single commands' one is narrowed first, for an
        // installation whose consumer took every command).
        let consumers = [
            (
                n.cmd_stream(),
                pull(
                    n.cmd_consumer(),
                    n.cmd_single_all(),
                    config.scheduler_max_ack_pending,
                    config.scheduler_ack_wait,
                ),
            ),
            (
                n.cmd_stream(),
                pull(
                    n.batch_consumer(),
                    n.cmd_batch_all(),
                    BATCHES_PENDING,
                    config.scheduler_ack_wait,
                ),
            ),
            (
                n.sched_stream(),
                pull(
                    n.wake_consumer(),
                    n.wake_all(),
                    config.scheduler_max_ack_pending,
                    config.scheduler_ack_wait,
                ),
            ),
            (
                n.sched_stream(),
                pull(
                    n.tick_consumer(),
                    n.ticked_all(),
                    config.scheduler_max_ack_pending,
                    config.scheduler_ack_wait,
                ),
            ),
            (n.log_stream(), reports),
            (
                n.fire_stream(),
                pull(
                    n.fire_consumer(),
                    n.fire_all(),
                    config.worker_max_ack_pending,
                    config.ack_wait,
                ),
            ),
            (
                n.run_stream(),
                pull(
                    n.run_consumer(),
                    n.run_all(),
                    config.worker_max_ack_pending,
                    config.ack_wait,
                ),
            ),
        ];
        for (stream_name, cfg) in consumers {
            let stream = js.get_stream(&stream_name).await.map_err(NatsError::nats)?;
            stream.create_consumer(cfg).await.map_err(NatsError::nats)?;
        }
        let timers = TimerStore::new(
            js.clone(),
            kv,
            n.clone(),
            config.retention,
            config.replicas,
            config.grouping,
        );
        let marks = MarkStore::new(js.clone(), marks, n.clone(), config.replicas);
        let idempotency = IdempotencyStore::new(idempotency, config.replicas);
        let dead = DeadLetters::new(js.clone(), n.clone());
        let counters = Counters::new(js.clone(), counters, n.clone(), config.replicas);
        let topics = TopicStore::new(js.clone(), topics, fan_outs, n.clone(), config.replicas);
        let trust = TrustStore::new(trust);
        let dead_letters = DeadLetterList::new(letters);
        let flow = FlowState::new(js.clone(), flow, n.flow_bucket());
        let fires = Fires::new(&js, n.clone(), config.grouping);
        let log = Log::new(&js, n.clone(), config.grouping);
        let commands = Commands::new(js.clone(), client.clone(), config.grouping.silence);
        let wheel = Wheel::new(js.clone(), n.clone());
        let targets = Targets::new(js.clone());
        Ok(Self {
            config,
            client,
            js,
            timers,
            marks,
            idempotency,
            dead,
            counters,
            topics,
            trust,
            dead_letters,
            flow,
            fires,
            log,
            commands,
            wheel,
            targets,
        })
    }

    /// A pull consumer of this topology, by stream and durable name.
    /// It exists (see [`Self::ensure`]), so a failure to look it up is taken for a passing one
    /// (a cluster electing a leader, or busy placing streams) and tried again, for up to a
    /// minute.
    pub async fn consumer(
        &self,
        stream: &str,
        durable: &str,
    ) -> Result<consumer::PullConsumer, NatsError> {
        let what = format!("looking up consumer {durable} of {stream}");
        crate::retry::patiently(
            Duration::from_secs(60),
            Duration::from_millis(100),
            &what,
            || async {
                self.js
                    .get_stream(stream)
                    .await
                    .map_err(NatsError::nats)?
                    .get_consumer(durable)
                    .await
                    .map_err(NatsError::nats)
            },
        )
        .await
    }

    /// What is waiting: the wake-ups stored (about one per pending timer: a timer re-armed
    /// into another second has two until the first one's second has passed), and the calls
    /// stored that no worker has settled yet.
    pub async fn backlog(&self) -> Result<Backlog, NatsError> {
        let n = self.names();
        let mut slots = self
            .js
            .get_stream(n.slots_stream())
            .await
            .map_err(NatsError::nats)?;
        let wake_ups = slots.info().await.map_err(NatsError::nats)?.state.messages;
        let mut workers = self.consumer(&n.fire_stream(), n.fire_consumer()).await?;
        let info = workers.info().await.map_err(NatsError::nats)?;
        Ok(Backlog {
            wake_ups,
            calls: info.num_pending + info.num_ack_pending as u64,
        })
    }

    /// True when NATS answers and the topology is present.
    pub async fn is_ready(&self) -> bool {
        let n = self.names();
        for name in [
            n.cmd_stream(),
            n.sched_stream(),
            n.slots_stream(),
            n.fire_stream(),
            n.log_stream(),
        ] {
            if self.js.get_stream(name).await.is_err() {
                return false;
            }
        }
        true
    }
}
