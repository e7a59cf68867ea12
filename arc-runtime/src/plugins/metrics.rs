//! Prometheus metrics at `/_metrics`: `arc_http_requests_total` and
//! `arc_http_request_duration_seconds` by method, route template and status, and
//! `arc_crud_operations_total` by resource, operation and outcome.
//!
//! Labels are bounded: the route is the template the router matched (`/products/{id}`), or
//! `unmatched`; methods outside the standard ones count as `other`. Each [`Metrics`] has its own
//! recorder (not the process-global one), so apps and tests do not share counters.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tower::{Layer, Service};

use crate::crud::handlers::CrudOperation;

/// Request duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The app's metrics: a recorder and its renderer.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh recorder with the contract's histogram buckets.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("arc_http_request_duration_seconds".into()),
                &BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Self {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    /// Records into this app's recorder: `metrics.record(|| metrics::counter!("x").increment(1))`.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&*self.recorder, f)
    }

    /// The Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }

    /// The layer that times and counts every request.
    pub fn layer(&self) -> MetricsLayer {
        MetricsLayer {
            metrics: self.clone(),
        }
    }

    fn observe(&self, method: &'static str, route: String, response: &Response, start: Instant) {
        let status = response.status().as_u16().to_string();
        let seconds = start.elapsed().as_secs_f64();
        let crud = response.extensions().get::<CrudOperation>().copied();
        self.record(|| {
            let labels = [
                ("method", method.to_owned()),
                ("route", route),
                ("status", status),
            ];
            metrics::counter!("arc_http_requests_total", &labels).increment(1);
            metrics::histogram!("arc_http_request_duration_seconds", &labels).record(seconds);
            if let Some(op) = crud {
                let outcome = if response.status().is_success() {
                    "ok"
                } else {
                    "error"
                };
                metrics::counter!(
                    "arc_crud_operations_total",
                    "resource" => op.resource,
                    "operation" => op.operation,
                    "outcome" => outcome,
                )
                .increment(1);
            }
        });
    }
}

/// `GET /_metrics`.
pub async fn render(metrics: Metrics) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Times and counts every request (see [`Metrics`]).
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`MetricsLayer`].
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> Service<Request> for MetricsService<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        let method = method_label(req.method());
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
        let metrics = self.metrics.clone();
        let future = self.inner.call(req);
        Box::pin(async move {
            let response = future.await?;
            metrics.observe(method, route, &response, start);
            Ok(response)
        })
    }
}
