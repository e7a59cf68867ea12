//! The one middleware in front of every route, running the always-on plugins in a single
//! pass: the request's trace and span, metrics, load shedding, the request timeout, panic
//! catching, the error envelope, security headers and ETags. One tower service rather than a
//! layer each keeps the per-request cost to one boxed future, however many of them are on (a
//! layer is cloned with its route on every request). It is written by hand rather than with
//! `axum::middleware::from_fn`, which clones the route under it and boxes it once more on
//! every request: what the pipeline does before the route runs is synchronous, so it is done
//! in `call`, and only the waiting is boxed.
//!
//! Order, on the way in: the request id (when no layer sits in front of the pipeline, else
//! the [request id layer](super::request_id) did it), trace, metrics timer, the in-flight
//! limit (503 with `Retry-After` when full), then the rest of the stack under the timeout
//! (503) and a panic guard (500). On the way out: the envelope first (so metrics and tags see
//! the final status), then `accept-encoding` in a caller's answer's `Vary` when compression
//! may encode it (see [`vary_on_encoding`](crate::crud::handlers::vary_on_encoding); before
//! the tag, so a `304` varies as its `200` does), ETags, security headers, metrics, the
//! trace's `traceparent`, and the request id.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};
use tower_http::compression::Predicate;
use tracing::Instrument;

use super::hygiene::{Compressible, SecurityHeaders};
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
    /// Whether compression sits around the pipeline.
    pub compression: bool,
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

    fn try_acquire(&self) -> Option<Permit> {
        let before = self.current.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(Arc::clone(&self.current));
        (before < self.max).then_some(permit)
    }
}

/// One request's place under an [`InFlight`] limit, given back on drop.
struct Permit(Arc<AtomicUsize>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The pipeline as a layer over each route (the App adds it with `Router::layer`).
#[derive(Clone, Debug)]
pub(crate) struct PipelineLayer(Arc<Pipeline>);

impl PipelineLayer {
    pub(crate) fn new(pipeline: Pipeline) -> Self {
        Self(Arc::new(pipeline))
    }
}

impl<S> Layer<S> for PipelineLayer {
    type Service = PipelineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PipelineService {
            pipeline: Arc::clone(&self.0),
            inner,
        }
    }
}

/// The service of [`PipelineLayer`]: the pipeline around one route.
#[derive(Clone, Debug)]
pub(crate) struct PipelineService<S> {
    pipeline: Arc<Pipeline>,
    inner: S,
}

/// The pipeline's response future.
type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> Service<Request> for PipelineService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// The way in, up to the route's future: the route's `call` runs here, before the
    /// request's id and trace are in scope. Under `Router::layer` the route is axum's, whose
    /// `call` only makes its future (the handler runs when it is polled, in scope).
    fn call(&mut self, mut req: Request) -> Answer {
        let pipeline = Arc::clone(&self.pipeline);
        let id = pipeline.request_id.then(|| request_id::adopt(&mut req));
        let way_in = WayIn {
            start: Instant::now(),
            trace: trace::begin(&req),
            timer: pipeline.metrics.as_ref().map(|_| Timer::start(&req)),
            conditional: if pipeline.etag {
                etag::conditional(&req)
            } else {
                None
            },
        };
        // Over the in-flight limit, the route is not called at all. The route's future is
        // boxed once here: the layers below (scope, span, panic guard, timeout) each wrap
        // it, and moving a pointer through them is cheaper than moving the future itself
        // (the request is in it).
        let route = match &pipeline.in_flight {
            None => Ok((None, Box::pin(self.inner.call(req)))),
            Some(limit) => match limit.try_acquire() {
                Some(permit) => Ok((Some(permit), Box::pin(self.inner.call(req)))),
                None => Err(()),
            },
        };
        let answer = async move {
            let response = match route {
                Ok((permit, route)) => {
                    let (context, span) = &way_in.trace;
                    let response = trace::scope(*context, guarded(&pipeline, route))
                        .instrument(span.clone())
                        .await;
                    drop(permit);
                    response
                }
                Err(()) => ArcError::new(ErrorCode::ServiceUnavailable, "Server busy, try again")
                    .with_retry_after(1)
                    .into_response(),
            };
            Ok(way_out(&pipeline, way_in, response).await)
        };
        match id {
            None => Box::pin(answer),
            Some(id) => Box::pin(request_id::scope(id.clone(), answer).map(|answer| {
                answer.map(|mut response| {
                    response.headers_mut().insert(request_id::HEADER, id);
                    response
                })
            })),
        }
    }
}

/// What the way in noted for the way out.
struct WayIn {
    start: Instant,
    trace: (trace::TraceContext, tracing::Span),
    timer: Option<Timer>,
    conditional: Option<Vec<HeaderValue>>,
}

/// The way out: the envelope first (so metrics and tags see the final status), then `Vary`
/// for compression, ETags, security headers, metrics and the trace's `traceparent`.
async fn way_out(pipeline: &Pipeline, way_in: WayIn, response: Response) -> Response {
    let mut response = errors::envelope(response, pipeline.expose_causes);
    // Before the tag: a `304` carries the `Vary` its `200` would have.
    if pipeline.compression && Compressible.should_compress(&response) {
        crate::crud::handlers::vary_on_encoding(response.headers_mut());
    }
    if let Some(if_none_match) = way_in.conditional {
        response = etag::apply(response, if_none_match).await;
    }
    if let Some(headers) = &pipeline.security_headers {
        headers.apply(&mut response);
    }
    if let (Some(metrics), Some(timer)) = (&pipeline.metrics, way_in.timer) {
        metrics.observe(timer, &response);
    }
    let (context, span) = &way_in.trace;
    trace::finish(span, context, way_in.start, &mut response);
    response
}

/// The route, under the timeout and the panic guard.
async fn guarded<F>(pipeline: &Pipeline, route: F) -> Response
where
    F: Future<Output = Result<Response, Infallible>>,
{
    let run = AssertUnwindSafe(route).catch_unwind();
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
    match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(panic) => errors::panic_response(panic),
    }
}
