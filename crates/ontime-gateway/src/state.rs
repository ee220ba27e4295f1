//! What every handler shares.

use std::sync::Arc;

use ontime_nats::Topology;

use crate::config::GatewayConfig;
use crate::error::GatewayError;
use crate::replies::ReplyRouter;

/// The handlers' shared state: small and cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub topology: Topology,
    pub config: Arc<GatewayConfig>,
    pub replies: ReplyRouter,
}

impl AppState {
    /// Starts the reply router on the topology's connection.
    pub async fn new(topology: Topology, config: GatewayConfig) -> Result<Self, GatewayError> {
        let replies = ReplyRouter::start(&topology.client).await?;
        Ok(Self {
            topology,
            config: Arc::new(config),
            replies,
        })
    }
}
