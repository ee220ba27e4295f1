//! The gateway's knobs.

use std::time::Duration;

/// How the gateway waits and what it accepts.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// How long a request waits for the scheduler's reply once JetStream has acknowledged its
    /// command. Past it the answer is `202 Accepted` with the command id: the command is
    /// durable and will be applied, the gateway just did not see it happen.
    pub reply_timeout: Duration,
    /// How long a request waits for JetStream to acknowledge its command (the publish
    /// included). Past it the command is published once more under the same id, which
    /// JetStream stores at most once, and waited for as long again; then the answer is `503
    /// unavailable`. A request therefore lasts at most `2 × ack_timeout + reply_timeout`.
    pub ack_timeout: Duration,
    /// Largest body of a single-timer request (PUT, POST, PATCH).
    pub max_body_bytes: usize,
    /// Largest body of `POST …/timers:batch`. Separate from `max_body_bytes` because 1,000
    /// timers with modest payloads weigh several MB.
    pub max_batch_body_bytes: usize,
    /// Most timers in one batch.
    pub max_batch_items: usize,
    /// The operator's limits (the interval floor) every definition is validated against;
    /// the schedulers must use the same.
    pub limits: ontime_core::Limits,
    /// Whether requests need a token.
    pub auth: Auth,
    /// The addresses targets may not name (a literal forbidden address is refused with 422;
    /// the workers check every address they connect to).
    pub guard: ontime_core::trust::guard::TargetGuard,
    /// The key that seals secret headers, signing secrets and prerequisites' credentials;
    /// without one, requests that carry a secret are refused.
    pub secret_key: Option<ontime_core::trust::seal::SecretKey>,
    /// The namespaces whose timers may run commands (none by default).
    pub command_namespaces: Vec<ontime_core::Namespace>,
    /// The process's Prometheus recorder, rendered on `/metrics` (see [`crate::metrics`]).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// Whether the API asks for tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// Anyone who reaches the gateway may do anything: for a gateway on a loopback address.
    #[default]
    Off,
    /// Every route but `/health`, `/ready`, `/metrics`, `/openapi.json` and the console's and
    /// the documentation's pages needs a token.
    Tokens {
        /// An admin token over every namespace given by the operator (`ONTIME_ADMIN_TOKEN`),
        /// checked in memory and never stored: changed by restarting with another.
        admin_token: Option<String>,
    },
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            reply_timeout: Duration::from_secs(5),
            ack_timeout: Duration::from_secs(5),
            max_body_bytes: 1024 * 1024,
            max_batch_body_bytes: 16 * 1024 * 1024,
            max_batch_items: 1000,
            limits: ontime_core::Limits::default(),
            auth: Auth::Off,
            guard: ontime_core::trust::guard::TargetGuard::default(),
            secret_key: None,
            command_namespaces: Vec::new(),
            metrics: None,
        }
    }
}
