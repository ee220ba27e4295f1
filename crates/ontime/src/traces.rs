//! Traces. When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is
//! set, the spans of the gateway's requests and of the workers' calls are exported there over
//! OTLP (HTTP, JSON), in batches (`OTEL_BSP_SCHEDULE_DELAY` and the other `OTEL_BSP_*`
//! variables tune them). A call's span is a child of the span of the request that defined
//! its timer, and the call carries it in its `traceparent`.

use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The variables that turn the export on.
const ENDPOINTS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// The exporter, installed as the process's tracer provider; flushed by [`Traces::flush`].
pub struct Traces(SdkTracerProvider);

impl Traces {
    /// Installs the exporter if an endpoint is configured, for the spans of `service`.
    pub fn install(service: &str) -> anyhow::Result<Option<Self>> {
        let configured = ENDPOINTS
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
        if !configured {
            return Ok(None);
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .build()?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service.to_owned())
                    .build(),
            )
            .build();
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing::info!("exporting traces over OTLP");
        Ok(Some(Self(provider)))
    }

    /// Exports what is left, before the process ends.
    pub async fn flush(self) {
        let provider = self.0;
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = provider.shutdown() {
                tracing::warn!(error = %e, "exporting the last traces failed");
            }
        })
        .await;
    }
}
