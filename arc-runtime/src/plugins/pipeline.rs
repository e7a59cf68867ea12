//! The one middleware in front of every route, running the always-on plugins in a single
//! pass: the request's trace and span, metrics, the error envelope, security headers and
//! ETags. One middleware rather than one layer each keeps the per-request cost to one boxed
//! future and one service clone, however many of them are on.
//!
//! Order, as the answer travels out: the envelope first (so metrics and tags see the final
//! status), then ETags, security headers, metrics, and the trace's `traceparent`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::hygiene::SecurityHeaders;
use super::metrics::{Metrics, Timer};
use super::{errors, etag, trace};

/// Which always-on plugins run, and how.
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    /// Prometheus metrics, when on.
    pub metrics: Option<Metrics>,
    /// Show a 500's cause in `details.cause` (development).
    pub expose_causes: bool,
    /// Security headers, when on.
    pub security_headers: Option<SecurityHeaders>,
    /// ETags and conditional GET.
    pub etag: bool,
}

/// The middleware: `from_fn_with_state(Arc<Pipeline>, pipeline::layer)` (the App adds it).
pub async fn layer(
    State(pipeline): State<Arc<Pipeline>>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let (context, span) = trace::begin(&mut req);
    let timer = pipeline.metrics.as_ref().map(|_| Timer::start(&req));
    let conditional = if pipeline.etag {
        etag::conditional(&req)
    } else {
        None
    };
    let response = next.run(req).instrument(span.clone()).await;
    let mut response = errors::envelope(response, pipeline.expose_causes);
    if let Some(if_none_match) = conditional {
        response = etag::apply(response, if_none_match).await;
    }
    if let Some(headers) = &pipeline.security_headers {
        headers.apply(&mut response);
    }
    if let (Some(metrics), Some(timer)) = (&pipeline.metrics, timer) {
        metrics.observe(timer, &response);
    }
    trace::finish(&span, &context, start, &mut response);
    response
}
