//! The one middleware in front of every route, running the always-on plugins in a single
//! pass: the request's trace and span, metrics, load shedding, the request timeout, panic
//! catching, the error envelope, security headers and ETags. One middleware rather than one
//! tower layer each keeps the per-request cost to one boxed future and one service clone,
//! however many of them are on (a tower layer is cloned with its route on every request).
//!
//! Order, on the way in: the request id (when no layer sits in front of the pipeline, else
//! the [request id layer](super::request_id) did it), trace, metrics timer, the in-flight
//! limit (503 with `Retry-After` when full), then the rest of the stack under the timeout
//! (503) and a panic guard (500). On the way out: the envelope first (so metrics and tags see
//! the final status), then ETags, security headers, metrics, the trace's `traceparent`, and
//! the request id.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::hygiene::SecurityHeaders;
use super::metrics::{Metrics, Timer};
use super::{errors, etag, request_id, trace};
use crate::error::{ArcError, ErrorCode};

/// Which always-on plugins run, and how.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pipeline {
    /// Prometheus metrics, when on.
    pub metrics: Option<Metrics>,
    /// Show a 500's cause in `details.cause` (development).
    pub expose_causes: bool,
    /// Security headers, when on.
    pub security_headers: Option<SecurityHeaders>,
    /// ETags and conditional GET.
    pub etag: bool,
    /// How long a request may take before it is answered 503.
    pub timeout: Option<Duration>,
    /// At most this many requests at once; more are shed with 503.
    pub in_flight: Option<InFlight>,
    /// Whether the pipeline gives requests their ids (no request id layer in front of it).
    pub request_id: bool,
}

/// A limit on requests in flight: a counter, not a queue (a request over the limit is
/// answered at once, so a client can go elsewhere).
#[derive(Clone, Debug)]
pub(crate) struct InFlight {
    max: usize,
    current: Arc<AtomicUsize>,
}

impl InFlight {
    /// At most `max` requests at once (at least one).
    pub(crate) fn new(max: usize) -> InFlight {
        InFlight {
            max: max.max(1),
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn try_acquire(&self) -> Option<Permit<'_>> {
        let before = self.current.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(&self.current);
        (before < self.max).then_some(permit)
    }
}

/// One request's place under an [`InFlight`] limit, given back on drop.
struct Permit<'a>(&'a AtomicUsize);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The middleware: `from_fn_with_state(Arc<Pipeline>, pipeline::layer)` (the App adds it).
pub(crate) async fn layer(
    State(pipeline): State<Arc<Pipeline>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !pipeline.request_id {
        return run(&pipeline, req, next).await;
    }
    let id = request_id::adopt(&mut req);
    let mut response = request_id::scope(id.clone(), run(&pipeline, req, next)).await;
    response.headers_mut().insert(request_id::HEADER, id);
    response
}

/// The pipeline, within the request's id.
async fn run(pipeline: &Pipeline, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let (context, span) = trace::begin(&req);
    let timer = pipeline.metrics.as_ref().map(|_| Timer::start(&req));
    let conditional = if pipeline.etag {
        etag::conditional(&req)
    } else {
        None
    };
    let response = trace::scope(context, guarded(pipeline, req, next))
        .instrument(span.clone())
        .await;
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

/// The rest of the stack, under the in-flight limit, the timeout and the panic guard.
async fn guarded(pipeline: &Pipeline, req: Request, next: Next) -> Response {
    let _permit = match &pipeline.in_flight {
        None => None,
        Some(limit) => match limit.try_acquire() {
            Some(permit) => Some(permit),
            None => {
                return ArcError::new(ErrorCode::ServiceUnavailable, "Server busy, try again")
                    .with_retry_after(1)
                    .into_response();
            }
        },
    };
    let run = AssertUnwindSafe(next.run(req)).catch_unwind();
    let outcome = match pipeline.timeout {
        None => run.await,
        Some(limit) => match tokio::time::timeout(limit, run).await {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
                return ArcError::new(ErrorCode::ServiceUnavailable, "The request took too long")
                    .into_response();
            }
        },
    };
    outcome.unwrap_or_else(errors::panic_response)
}
