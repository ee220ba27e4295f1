//! Settings shared by every part, from flags or `ONTIME_*` environment variables (flags win).

use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use ontime_core::HumanDuration;
use ontime_core::trust::guard::TargetGuard;
use ontime_core::trust::seal::SecretKey;
use ontime_nats::{Names, Topology, TopologyConfig};

/// How long a part keeps trying to create the topology at start-up before it gives up.
const TOPOLOGY_PATIENCE: Duration = Duration::from_secs(90);

/// What every part needs: where NATS is and how the topology is shaped.
#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// NATS server URL(s), comma-separated for a cluster.
    #[arg(long, env = "ONTIME_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Prefix of every subject, stream and bucket name (several installations per server).
    #[arg(long, env = "ONTIME_PREFIX", default_value = "ontime")]
    pub prefix: String,
    /// Replicas of streams and buckets: 1 for one node, 3 for a cluster.
    #[arg(long, env = "ONTIME_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    /// How long before its due time a wake-up moves from NATS into the scheduler's memory.
    #[arg(long, env = "ONTIME_LEAD", default_value = "2s")]
    pub lead: HumanDuration,
    /// How long before its due instant a scheduler emits a fire; the worker holds it until
    /// the instant, so a call never starts early and the fire's trip through NATS is done by then.
    #[arg(long, env = "ONTIME_FIRE_AHEAD", default_value = "150ms")]
    pub fire_ahead: HumanDuration,
    /// Store the fire of a one-time timer as a scheduled message when the timer is armed,
    /// instead of a wake-up: nats-server then stores the fire itself 600 ms before the instant
    /// and no scheduler takes part at the instant. Saves the schedulers' CPU where nats-server
    /// runs with its default lazy fsync; under `sync_interval: always` each such fire costs two
    /// disk barriers, one schedule at a time, which caps the calls a second. A worker holds
    /// each such fire until its instant within `--worker-concurrency`, so above about 1,500
    /// calls a second raise that too. Off by default.
    #[arg(long, env = "ONTIME_SCHEDULED_FIRES")]
    pub scheduled_fires: bool,
    /// Commands and wake-ups a scheduler processes at once.
    #[arg(long, env = "ONTIME_SCHEDULER_CONCURRENCY", default_value_t = 1024)]
    pub scheduler_concurrency: usize,
    /// Calls a worker makes at once.
    #[arg(long, env = "ONTIME_WORKER_CONCURRENCY", default_value_t = 1024)]
    pub worker_concurrency: usize,
    /// Retries waiting up to this long stay with the worker (nak with delay); longer ones
    /// are handed to the scheduler as durable wake-ups.
    #[arg(long, env = "ONTIME_NAK_MAX_DELAY", default_value = "5s")]
    pub nak_max_delay: HumanDuration,
    /// Execution log entries kept per timer.
    #[arg(long, env = "ONTIME_LOG_PER_TIMER", default_value_t = 100)]
    pub log_per_timer: i64,
    /// How long finished timers and log entries are kept.
    #[arg(long, env = "ONTIME_RETENTION", default_value = "7d")]
    pub retention: HumanDuration,
    /// The shortest interval between two scheduled calls of one timer (`every`, an ISO 8601
    /// period, a callback's `nextExecuteAt`), 1ms to 1d. Give the gateways and the
    /// schedulers the same value: each checks it.
    #[arg(long, env = "ONTIME_MIN_INTERVAL", default_value = "1s")]
    pub min_interval: HumanDuration,
    /// Internal addresses calls may reach, comma-separated: CIDRs, addresses, `loopback`,
    /// `private`, `link-local`, `all` (no guard) or `none`. Default `none` (`loopback` for
    /// `ontime dev`). Give the gateways and the workers the same list.
    #[arg(long, env = "ONTIME_ALLOW_TARGETS")]
    pub allow_targets: Option<String>,
    /// The key that encrypts secrets at rest and derives default signing secrets: 32 bytes,
    /// base64 (`ontime secret-key` makes one). Give every gateway and worker the same key.
    /// `ontime dev` keeps one in its data directory when none is given.
    #[arg(long, env = "ONTIME_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Namespaces whose timers may run commands, comma-separated (none by default). Give the
    /// gateways and the command workers the same list.
    #[arg(long, env = "ONTIME_COMMAND_NAMESPACES", value_delimiter = ',')]
    pub command_namespaces: Vec<String>,
    /// Where a scheduler or worker run alone serves `GET /metrics` (Prometheus's text
    /// format), e.g. `0.0.0.0:9090`; not served when absent. A gateway serves its own on its
    /// API's listener.
    #[arg(long, env = "ONTIME_METRICS_HTTP")]
    pub metrics_http: Option<String>,
    /// Group commit: messages waiting to be written to one stream (fires, log entries,
    /// records) are stored as one atomic batch from this many on, and fewer one by one; 0
    /// never batches. The default suits nats-server with `sync_interval: always`, as ontime
    /// ships it, where a batch costs a handful of disk barriers and each message alone one.
    /// With nats-server's default lazy fsync a batch saves no barrier and its staging costs
    /// the server CPU and the fire some latency: set 0 there.
    #[arg(long, env = "ONTIME_BATCH_FROM", default_value_t = ontime_nats::batch::WORTH_IT)]
    pub batch_from: usize,
}

/// A command worker's settings.
#[derive(Args, Debug, Clone)]
pub struct CommandArgs {
    /// Make this worker a command worker: it runs the command targets of the namespaces of
    /// `--command-namespaces`, and makes no other call. Off by default.
    #[arg(long, env = "ONTIME_COMMANDS")]
    pub commands: bool,
    /// The environment of every run, `NAME=VALUE`, comma-separated or repeated (default
    /// `PATH=/usr/local/bin:/usr/bin:/bin`); nothing else of the worker's is passed on.
    #[arg(long, env = "ONTIME_COMMAND_ENV", value_delimiter = ',')]
    pub command_env: Vec<String>,
    /// The working directory of a command target that names none (default: the system's
    /// temporary directory).
    #[arg(long, env = "ONTIME_COMMAND_DIR")]
    pub command_dir: Option<std::path::PathBuf>,
}

impl CommandArgs {
    /// What the command worker runs, when this worker is one.
    pub fn commands(&self, common: &CommonArgs) -> anyhow::Result<Option<ontime_worker::Commands>> {
        if !self.commands {
            return Ok(None);
        }
        let namespaces = common.command_namespaces()?;
        if namespaces.is_empty() {
            tracing::warn!("a command worker without --command-namespaces runs no command");
        }
        let mut commands = ontime_worker::Commands::of(namespaces);
        if !self.command_env.is_empty() {
            commands.env = self
                .command_env
                .iter()
                .map(|pair| {
                    pair.split_once('=')
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| anyhow::anyhow!("--command-env {pair:?} is not NAME=VALUE"))
                })
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(dir) = &self.command_dir {
            commands.dir = dir.clone();
        }
        Ok(Some(commands))
    }
}

impl CommonArgs {
    pub fn topology_config(&self) -> anyhow::Result<TopologyConfig> {
        anyhow::ensure!(
            matches!(self.replicas, 1 | 3 | 5),
            "--replicas must be 1, 3 or 5"
        );
        Ok(TopologyConfig {
            names: Names::new(&self.prefix).map_err(anyhow::Error::msg)?,
            replicas: self.replicas,
            log_per_timer: self.log_per_timer,
            retention: self.retention.get(),
            grouping: ontime_nats::commit::Grouping {
                from: self.batch_from,
                ..Default::default()
            },
            ..TopologyConfig::default()
        })
    }

    /// Connects and makes sure the topology exists.
    pub async fn topology(&self, url: &str, name: &str) -> anyhow::Result<Topology> {
        let config = self.topology_config()?;
        let client = ontime_nats::connect(url, name)
            .await
            .with_context(|| format!("connecting to {url}"))?;
        // The first connection may still be in progress (the server may start after us), and
        // a new cluster takes a while to place every replicated stream, more so when every
        // part of an installation creates them at once.
        ontime_nats::retry::patiently(
            TOPOLOGY_PATIENCE,
            Duration::from_millis(50),
            "creating the NATS topology",
            || Topology::ensure(client.clone(), config.clone()),
        )
        .await
        .context("creating the NATS topology")
    }

    /// The operator's limits on timers, checked once at start.
    pub fn limits(&self) -> anyhow::Result<ontime_core::Limits> {
        ontime_core::Limits::with_min_interval(self.min_interval.get())
            .map_err(|e| anyhow::anyhow!("--min-interval: {e}"))
    }

    pub fn scheduler_config(&self) -> anyhow::Result<ontime_scheduler::SchedulerConfig> {
        Ok(ontime_scheduler::SchedulerConfig {
            lead: self.lead.get(),
            fire_ahead: self.fire_ahead.get(),
            concurrency: self.scheduler_concurrency,
            limits: self.limits()?,
            scheduled_fires: self.scheduled_fires,
            ..Default::default()
        })
    }

    pub fn worker_config(
        &self,
        defaults: &PartDefaults,
    ) -> anyhow::Result<ontime_worker::WorkerConfig> {
        Ok(ontime_worker::WorkerConfig {
            concurrency: self.worker_concurrency,
            nak_max_delay: self.nak_max_delay.get(),
            limits: self.limits()?,
            guard: self.guard(defaults)?,
            secret_key: Some(self.key(defaults)?),
            ..Default::default()
        })
    }

    /// The namespaces enabled for commands.
    pub fn command_namespaces(&self) -> anyhow::Result<Vec<ontime_core::Namespace>> {
        self.command_namespaces
            .iter()
            .filter(|ns| !ns.is_empty())
            .map(|ns| {
                ontime_core::Namespace::parse(ns)
                    .map_err(|e| anyhow::anyhow!("--command-namespaces {ns:?}: {}", e.message))
            })
            .collect()
    }

    /// The target guard, from `--allow-targets` or the mode's default.
    pub fn guard(&self, defaults: &PartDefaults) -> anyhow::Result<TargetGuard> {
        let list = self
            .allow_targets
            .as_deref()
            .unwrap_or(defaults.allow_targets);
        TargetGuard::parse(list).map_err(|e| anyhow::anyhow!("--allow-targets {list:?}: {e}"))
    }

    /// The secret key: `--secret-key`, or the mode's own (`ontime dev` keeps one).
    pub fn key(&self, defaults: &PartDefaults) -> anyhow::Result<SecretKey> {
        match (&self.secret_key, &defaults.secret_key) {
            (Some(text), _) => {
                SecretKey::parse(text).map_err(|e| anyhow::anyhow!("--secret-key: {e}"))
            }
            (None, Some(key)) => Ok(key.clone()),
            (None, None) => anyhow::bail!(
                "no secret key: set ONTIME_SECRET_KEY (or --secret-key) to the same 32-byte base64 key on every gateway and worker; `ontime secret-key` makes one"
            ),
        }
    }
}

/// What a part assumes when a flag is not given: `ontime dev` is more lenient than a part
/// run alone.
pub struct PartDefaults {
    pub allow_targets: &'static str,
    pub secret_key: Option<SecretKey>,
    /// Whether `--auth auto` means tokens.
    pub tokens_by_default: bool,
}

impl PartDefaults {
    /// A gateway or worker run alone: no internal address, a key and tokens required.
    pub fn alone() -> Self {
        Self {
            allow_targets: "none",
            secret_key: None,
            tokens_by_default: true,
        }
    }
}

/// Whether the API asks for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Tokens, except for `ontime dev` bound to a loopback address.
    Auto,
    Tokens,
    /// No tokens: anyone who reaches the gateway may do anything.
    Off,
}

/// The gateway's own settings.
#[derive(Args, Debug, Clone)]
pub struct GatewayArgs {
    /// Address the REST API listens on.
    #[arg(long, env = "ONTIME_HTTP", default_value = "127.0.0.1:8080")]
    pub http: String,
    /// How long a request waits for the scheduler's reply before answering 202.
    #[arg(long, env = "ONTIME_REPLY_TIMEOUT", default_value = "5s")]
    pub reply_timeout: HumanDuration,
    /// Largest request body, in bytes (the batch endpoint allows more; see the README).
    #[arg(long, env = "ONTIME_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Namespace of the events served by the Crony API (`/events`).
    #[arg(long, env = "ONTIME_CRONY_NAMESPACE", default_value = "crony")]
    pub crony_namespace: String,
    /// Namespace of the cron jobs served by the CronHubot API (`/cronjobs`).
    #[arg(long, env = "ONTIME_CRONHUBOT_NAMESPACE", default_value = "cronhubot")]
    pub cronhubot_namespace: String,
    /// Namespace of the topics, subscribers and events served by the ontime-ontarget API
    /// (`/schedule/...`).
    #[arg(long, env = "ONTIME_ONTARGET_NAMESPACE", default_value = "ontarget")]
    pub ontarget_namespace: String,
    /// Namespace of the jobs and procs served by the CronNG API (`/jobs`, `/procs`); enable
    /// it for commands (`--command-namespaces`) for the API to create any.
    #[arg(long, env = "ONTIME_CRONNG_NAMESPACE", default_value = "cronng")]
    pub cronng_namespace: String,
    /// IANA time zone on which the Crony and CronHubot APIs read their cron expressions and
    /// write and read their times, and the ontime-ontarget API reads times written without an
    /// offset (the originals used their server's local time).
    #[arg(long, env = "ONTIME_FACADES_TIMEZONE", default_value = "UTC")]
    pub facades_timezone: String,
    /// Whether requests need an API token.
    #[arg(long, env = "ONTIME_AUTH", value_enum, default_value_t = AuthMode::Auto)]
    pub auth: AuthMode,
    /// An admin token over every namespace, at least 24 characters, checked in memory and
    /// never stored (rotate it by restarting with another). Without one, the first gateway
    /// started with tokens makes an admin token and prints it once.
    #[arg(long, env = "ONTIME_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

impl GatewayArgs {
    /// The gateway's settings; `common` gives the limits it shares with the schedulers.
    pub fn config(
        &self,
        common: &CommonArgs,
        defaults: &PartDefaults,
    ) -> anyhow::Result<ontime_gateway::GatewayConfig> {
        Ok(ontime_gateway::GatewayConfig {
            reply_timeout: self.reply_timeout.get(),
            max_body_bytes: self.max_body_bytes,
            limits: common.limits()?,
            auth: self.auth(defaults)?,
            guard: common.guard(defaults)?,
            secret_key: Some(common.key(defaults)?),
            command_namespaces: common.command_namespaces()?,
            ..Default::default()
        })
    }

    fn auth(&self, defaults: &PartDefaults) -> anyhow::Result<ontime_gateway::Auth> {
        let tokens = match self.auth {
            AuthMode::Auto => defaults.tokens_by_default,
            AuthMode::Tokens => true,
            AuthMode::Off => false,
        };
        if !tokens {
            tracing::warn!("the API runs without tokens: anyone who reaches it may do anything");
            return Ok(ontime_gateway::Auth::Off);
        }
        // An empty value (an unset variable passed through) is no token.
        let admin_token = self.admin_token.clone().filter(|t| !t.is_empty());
        if let Some(token) = &admin_token {
            anyhow::ensure!(
                token.chars().count() >= 24,
                "--admin-token must be at least 24 characters"
            );
        }
        Ok(ontime_gateway::Auth::Tokens { admin_token })
    }

    /// Where the seeds' APIs keep their timers.
    pub fn facades(&self) -> anyhow::Result<ontime_facades::FacadeConfig> {
        let namespace = |flag: &str, value: &str| {
            ontime_core::id::Namespace::parse(value)
                .map_err(|e| anyhow::anyhow!("--{flag} {value:?}: {}", e.message))
        };
        Ok(ontime_facades::FacadeConfig {
            crony_namespace: namespace("crony-namespace", &self.crony_namespace)?,
            cronhubot_namespace: namespace("cronhubot-namespace", &self.cronhubot_namespace)?,
            ontarget_namespace: namespace("ontarget-namespace", &self.ontarget_namespace)?,
            cronng_namespace: namespace("cronng-namespace", &self.cronng_namespace)?,
            timezone: self.facades_timezone.parse().map_err(|_| {
                anyhow::anyhow!(
                    "--facades-timezone {:?} is not an IANA time zone",
                    self.facades_timezone
                )
            })?,
        })
    }
}

/// When tokens are on and the operator gave no admin token, the first gateway ever started
/// makes one and prints it here, once: it is stored only as a hash.
pub async fn show_first_admin_token(
    topology: &Topology,
    config: &ontime_gateway::GatewayConfig,
) -> anyhow::Result<()> {
    if config.auth != (ontime_gateway::Auth::Tokens { admin_token: None }) {
        return Ok(());
    }
    match ontime_gateway::first_admin_token(topology)
        .await
        .context("making the first admin token")?
    {
        Some(token) => eprintln!(
            "\n  The first admin token (every namespace). It is shown this once: keep it safe.\n\n    {token}\n\n  Make narrower tokens with POST /v1/tokens; revoke this one with DELETE /v1/tokens/<id>.\n"
        ),
        None => tracing::info!(
            "API tokens are on; use a token made earlier, or start with ONTIME_ADMIN_TOKEN"
        ),
    }
    Ok(())
}
