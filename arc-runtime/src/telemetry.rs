//! The process's tracing subscriber: [`Telemetry`].

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::preset::{LogFormat, Preset};

/// A layer of the subscriber this module installs.
type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

/// Why the subscriber was not installed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// Another subscriber was installed first.
    #[error("a tracing subscriber is already installed")]
    AlreadyInstalled,
    /// The OTLP exporter could not be built (a malformed endpoint, say).
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

/// Builds the process's tracing subscriber: log lines in the preset's format and, with the `otlp`
/// feature, request and database spans exported to an OpenTelemetry collector over OTLP/HTTP.
///
/// ```no_run
/// use arc_runtime::{Preset, config::Telemetry};
/// // OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 turns the export on.
/// let _guard = Telemetry::new(Preset::Production).from_env().init().expect("telemetry");
/// // ... serve; dropping the guard flushes the spans still buffered.
/// ```
///
/// Each request is one span (`request`, with the trace context of its `traceparent`) and each database call
/// one child span of it (sea-orm's `sea_orm.*` spans, with `db.system`, `db.operation` and the
/// statement). Log lines leave the database spans and statements out unless `RUST_LOG` asks
/// for `sea_orm` (`RUST_LOG=info,sea_orm=debug`); the exporter sees the spans at info level.
#[derive(Clone, Debug)]
#[must_use = "call .init() to install it"]
pub struct Telemetry {
    preset: Preset,
    otlp_endpoint: Option<String>,
    service_name: String,
}

impl Telemetry {
    /// Log lines as the preset says: JSON for production and edge, pretty for development,
    /// warnings only (through the test writer) for testing. `RUST_LOG` overrides the levels.
    pub fn new(preset: Preset) -> Telemetry {
        Telemetry {
            preset,
            otlp_endpoint: None,
            service_name: "arc".to_owned(),
        }
    }

    /// Exports spans over OTLP/HTTP (JSON) to `endpoint`, the collector's base URL
    /// (`http://127.0.0.1:4318`); spans go to `{endpoint}/v1/traces`. Needs the `otlp`
    /// feature: without it [`init`](Self::init) logs a warning and exports nothing.
    pub fn otlp(mut self, endpoint: impl Into<String>) -> Telemetry {
        self.otlp_endpoint = Some(endpoint.into().trim_end_matches('/').to_owned());
        self
    }

    /// The `service.name` the exported spans carry (default `arc`).
    pub fn service_name(mut self, name: impl Into<String>) -> Telemetry {
        self.service_name = name.into();
        self
    }

    /// The OpenTelemetry variables: `OTEL_EXPORTER_OTLP_ENDPOINT` turns the export on,
    /// `OTEL_SERVICE_NAME` names the service.
    pub fn from_env(mut self) -> Telemetry {
        if let Some(endpoint) = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
        {
            self = self.otlp(endpoint);
        }
        if let Some(name) = std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|n| !n.is_empty())
        {
            self.service_name = name;
        }
        self
    }

    /// Installs the subscriber. Keep the guard for the life of the process: dropping it
    /// flushes and stops the exporter.
    pub fn init(self) -> Result<TelemetryGuard, TelemetryError> {
        let filter = log_filter(self.preset, std::env::var("RUST_LOG").ok().as_deref());
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        let fmt = match self.preset.defaults().log_format {
            LogFormat::Json => fmt
                .json()
                .flatten_event(true)
                .with_span_list(false)
                .with_filter(filter)
                .boxed(),
            LogFormat::Pretty => fmt.with_filter(filter).boxed(),
            LogFormat::Test => fmt.with_test_writer().with_filter(filter).boxed(),
        };
        let mut layers = vec![fmt];
        let guard = self.exporter(&mut layers)?;
        tracing_subscriber::registry()
            .with(layers)
            .try_init()
            .map_err(|_| TelemetryError::AlreadyInstalled)?;
        Ok(guard)
    }

    /// Adds the exporter's layer when one is configured.
    #[cfg(feature = "otlp")]
    fn exporter(&self, layers: &mut Vec<BoxedLayer>) -> Result<TelemetryGuard, TelemetryError> {
        let Some(endpoint) = &self.otlp_endpoint else {
            return Ok(TelemetryGuard::default());
        };
        let (layer, provider) = otlp::layer(endpoint, &self.service_name)?;
        layers.push(layer);
        Ok(TelemetryGuard {
            provider: Some(provider),
        })
    }

    #[cfg(not(feature = "otlp"))]
    fn exporter(&self, _: &mut Vec<BoxedLayer>) -> Result<TelemetryGuard, TelemetryError> {
        if self.otlp_endpoint.is_some() {
            eprintln!(
                "arc: OTLP export asked for, but arc-runtime was built without its `otlp` feature"
            );
        }
        Ok(TelemetryGuard::default())
    }
}

/// The log lines' filter: `rust_log` (the `RUST_LOG` variable) when given and valid, else
/// [`default_log_directives`] of the preset.
fn log_filter(preset: Preset, rust_log: Option<&str>) -> EnvFilter {
    rust_log
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new(default_log_directives(preset)))
}

/// The log levels of a preset when `RUST_LOG` is unset: info (warnings under test), with the
/// database left out. Statements (target `sea_orm::statement`, see [`crate::db`]) and
/// sea-orm's spans show only when `RUST_LOG` asks for them (`RUST_LOG=info,sea_orm=debug`);
/// the exporter sees the spans whatever the log level.
pub(crate) fn default_log_directives(preset: Preset) -> &'static str {
    preset.defaults().log_directives
}

/// Keeps the exporter running; dropping it flushes the buffered spans and stops it.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Sends the spans buffered so far (blocks until the collector answered or timed out).
    pub fn flush(&self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = &self.provider
            && let Err(e) = provider.force_flush()
        {
            tracing::warn!(error = %e, "flushing spans to the OTLP collector failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otlp")]
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

#[cfg(feature = "otlp")]
pub(crate) mod otlp {
    //! The OTLP exporter, and the request span's ids handed to OpenTelemetry.

    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
    };
    use opentelemetry_otlp::{Protocol, WithExportConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::LevelFilter;

    use super::{BoxedLayer, TelemetryError};
    use crate::plugins::trace::TraceContext;

    pub(super) fn layer(
        endpoint: &str,
        service_name: &str,
    ) -> Result<(BoxedLayer, SdkTracerProvider), TelemetryError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpJson)
            .with_endpoint(format!("{endpoint}/v1/traces"))
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(service_name.to_owned())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("arc-runtime");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(LevelFilter::INFO)
            .boxed();
        Ok((layer, provider))
    }

    /// Makes the request's span the OpenTelemetry span of `context`: a child of the caller's
    /// span when the request came with one, and the ids the answer's `traceparent` names
    /// taken from the exported span. Does nothing when no exporter is installed.
    pub(crate) fn adopt(span: &tracing::Span, context: &mut TraceContext) {
        if let Some(parent) = context.parent_id {
            let flags = if context.sampled {
                TraceFlags::SAMPLED
            } else {
                TraceFlags::default()
            };
            let remote = SpanContext::new(
                TraceId::from_bytes(context.trace_id.to_be_bytes()),
                SpanId::from_bytes(parent.to_be_bytes()),
                flags,
                true,
                TraceState::default(),
            );
            let parent = opentelemetry::Context::new().with_remote_span_context(remote);
            if span.set_parent(parent).is_err() {
                return; // no exporter layer: keep our own ids
            }
        }
        let otel = span.context();
        let ids = otel.span().span_context().clone();
        if ids.is_valid() {
            context.trace_id = u128::from_be_bytes(ids.trace_id().to_bytes());
            context.span_id = u64::from_be_bytes(ids.span_id().to_bytes());
            context.sampled = ids.is_sampled();
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Which of the database's targets, and of the app's, log at the level each shows.
    fn shown(preset: Preset, rust_log: Option<&str>) -> [bool; 5] {
        let subscriber = tracing_subscriber::registry().with(log_filter(preset, rust_log));
        tracing::subscriber::with_default(subscriber, || {
            [
                tracing::enabled!(target: crate::db::STATEMENT_TARGET, Level::DEBUG),
                tracing::enabled!(target: "sea_orm::driver", Level::INFO),
                tracing::enabled!(target: "sqlx::query", Level::DEBUG),
                tracing::enabled!(target: "arc_runtime::plugins::trace", Level::INFO),
                tracing::enabled!(target: "shop", Level::INFO),
            ]
        })
    }

    #[test]
    fn the_development_default_is_info_without_sql() {
        assert_eq!(
            shown(Preset::Development, None),
            [false, false, false, true, true]
        );
        assert_eq!(
            shown(Preset::Production, None),
            [false, false, false, true, true]
        );
        assert_eq!(
            shown(Preset::Testing, None),
            [false, false, false, false, false]
        );
    }

    #[test]
    fn rust_log_asks_for_the_sql() {
        assert_eq!(
            shown(Preset::Development, Some("info,sea_orm=debug")),
            [true, true, false, true, true]
        );
        assert_eq!(
            shown(Preset::Development, Some("sea_orm=debug")),
            [true, true, false, false, false]
        );
        assert_eq!(
            shown(Preset::Development, Some("not a [directive")),
            shown(Preset::Development, None),
            "an invalid RUST_LOG falls back to the default"
        );
    }
}
