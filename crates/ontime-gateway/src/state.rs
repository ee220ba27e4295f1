//! What every handler shares.

use std::sync::Arc;

use ontime_nats::{Topology, TrustView};

use crate::auth::Authenticator;
use crate::config::GatewayConfig;
use crate::error::GatewayError;
use ontime_nats::replies::ReplyRouter;

/// The handlers' shared state: small and cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Behind an `Arc`: the topology's handles hold its buckets' stream descriptions (some
    /// 17 KiB in all), and the state is cloned into every request's future.
    pub topology: Arc<Topology>,
    pub config: Arc<GatewayConfig>,
    pub replies: ReplyRouter,
    /// A live copy of the tokens, signing secrets and prerequisites.
    pub trust: TrustView,
    pub auth: Arc<Authenticator>,
}

impl AppState {
    /// Starts the reply router on the topology's connection, and the live copy of the trust
    /// bucket.
    pub async fn new(topology: Topology, config: GatewayConfig) -> Result<Self, GatewayError> {
        let replies = ReplyRouter::start(&topology.client).await?;
        let trust = topology.trust.view().await?;
        Ok(Self {
            auth: Arc::new(Authenticator::new(config.auth.clone(), trust.clone())),
            topology: Arc::new(topology),
            config: Arc::new(config),
            replies,
            trust,
        })
    }
}
