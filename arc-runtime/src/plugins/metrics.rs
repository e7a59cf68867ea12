//! Prometheus metrics at `/_metrics`: [`Metrics`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::action::ResourceAction;
use crate::plugins::idempotency::Replayed;

/// Request duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The handles of one route's series (its counter and histogram), by method and status.
/// Keys are the app's own (methods, statuses, route templates, resource names), never a
/// client's text, so a fast hash without flooding resistance is safe here.
type RouteSeries = FxHashMap<(&'static str, u16), FxHashMap<String, (Counter, Histogram)>>;
/// The CRUD counters, by resource, operation and outcome.
type CrudSeries = FxHashMap<(&'static str, &'static str, &'static str), Counter>;

/// The app's Prometheus metrics, served at `/_metrics`: `arc_http_requests_total` and
/// `arc_http_request_duration_seconds` by method, route template and status, and
/// `arc_crud_operations_total` by resource, operation and outcome.
///
/// Labels are bounded: the route is the template the router matched (`/products/{id}`), or
/// `unmatched`; methods outside the standard ones count as `other`. Each `Metrics` has its own
/// recorder (not the process-global one), so apps and tests do not share counters; it keeps
/// the handles of the series seen so far, so a request updates its series without building and
/// hashing their keys again.
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    routes: Arc<Mutex<RouteSeries>>,
    crud: Arc<Mutex<CrudSeries>>,
    /// SHA-256 of the bearer token `/_metrics` asks for, when it asks for one.
    token: Option<[u8; 32]>,
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
            routes: Arc::default(),
            crud: Arc::default(),
            token: None,
        }
    }

    /// `/_metrics` answers only scrapers sending `Authorization: Bearer <token>` (401 with
    /// `WWW-Authenticate` otherwise), for when the endpoint is reachable from outside the
    /// private network. The route checks the token itself, whatever authentication the app
    /// uses for its API (it is not a user's token, and no authenticator sees it).
    ///
    /// ```
    /// let metrics = arc_runtime::config::Metrics::new().bearer_token("s3cret-scraper");
    /// # let _ = metrics;
    /// ```
    pub fn bearer_token(mut self, token: impl AsRef<[u8]>) -> Self {
        self.token = Some(Sha256::digest(token.as_ref()).into());
        self
    }

    /// Whether `/_metrics` asks for a bearer token. An empty token admits nobody.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `headers` carry the token `/_metrics` asks for (true when it asks for none).
    /// The route checks it itself: it is outside the app's authentication, so a JWT
    /// authenticator reading the same `Authorization` header never sees the scraper's token.
    fn admits(&self, headers: &axum::http::HeaderMap) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map_or("", |(_, token)| token.trim());
        // No token is never the token, even when the configured one is empty (an unset
        // variable read as ""): that would open the endpoint it was meant to close.
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        constant_time_eq(&given, expected) && !given_is_empty(&given)
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

    /// Counts and times the answer of the request `timer` timed.
    pub(crate) fn observe(&self, timer: Timer, response: &Response) {
        let Timer {
            method,
            route,
            start,
        } = timer;
        let status = response.status();
        let seconds = start.elapsed().as_secs_f64();
        let (counter, histogram) = {
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
            let by_route = routes.entry((method, status.as_u16())).or_default();
            match by_route.get(route) {
                Some(handles) => handles.clone(),
                None => {
                    let labels = [
                        ("method", method.to_owned()),
                        ("route", route.to_owned()),
                        ("status", status.as_str().to_owned()),
                    ];
                    let handles = self.record(|| {
                        (
                            metrics::counter!("arc_http_requests_total", &labels),
                            metrics::histogram!("arc_http_request_duration_seconds", &labels),
                        )
                    });
                    by_route.insert(route.to_owned(), handles.clone());
                    handles
                }
            }
        };
        counter.increment(1);
        histogram.record(seconds);
        if let Some(op) = response.extensions().get::<ResourceAction>() {
            if response.extensions().get::<Replayed>().is_some() {
                // A replay ran no operation: counted apart (replays are rare).
                self.record(|| {
                    metrics::counter!(
                        "arc_idempotency_replays_total",
                        "resource" => op.resource,
                        "operation" => op.action.name(),
                    )
                    .increment(1);
                });
                return;
            }
            let outcome = if status.is_success() { "ok" } else { "error" };
            let key = (op.resource, op.action.name(), outcome);
            let counter = {
                let mut crud = self.crud.lock().unwrap_or_else(|e| e.into_inner());
                crud.entry(key)
                    .or_insert_with(|| {
                        self.record(|| {
                            metrics::counter!(
                                "arc_crud_operations_total",
                                "resource" => key.0,
                                "operation" => key.1,
                                "outcome" => key.2,
                            )
                        })
                    })
                    .clone()
            };
            counter.increment(1);
        }
    }
}

/// `GET /_metrics`.
pub(crate) async fn render(metrics: Metrics, headers: axum::http::HeaderMap) -> Response {
    if !metrics.admits(&headers) {
        return crate::error::ArcError::unauthorized("Metrics need the scraper's bearer token")
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// Whether `a` and `b` are equal, in a time that does not depend on where they differ.
/// Whether `digest` is the SHA-256 of nothing (no token given).
fn given_is_empty(digest: &[u8; 32]) -> bool {
    let empty: [u8; 32] = Sha256::digest([]).into();
    digest == &empty
}

/// The inputs are digests, so their length says nothing about the token either.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
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

/// A request being timed: its method and route, and when it started.
#[derive(Debug)]
pub(crate) struct Timer {
    method: &'static str,
    /// The matched template (shared, not copied); `None` for the fallback.
    route: Option<MatchedPath>,
    start: Instant,
}

impl Timer {
    /// Starts timing `req`.
    pub(crate) fn start(req: &Request) -> Timer {
        Timer {
            method: method_label(req.method()),
            route: req.extensions().get::<MatchedPath>().cloned(),
            start: Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(value: &str) -> axum::http::HeaderMap {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_scraper_token_is_matched_exactly() {
        let metrics = Metrics::new().bearer_token("s3cret");
        assert!(metrics.admits(&bearer("Bearer s3cret")));
        assert!(metrics.admits(&bearer("bearer  s3cret ")));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
        ] {
            assert!(!metrics.admits(&bearer(wrong)), "{wrong}");
        }
        assert!(!metrics.admits(&axum::http::HeaderMap::new()));
        assert!(Metrics::new().admits(&axum::http::HeaderMap::new()));
        // `ARC_METRICS_TOKEN=` (set, empty) closes the endpoint instead of opening it.
        let empty = Metrics::new().bearer_token("");
        assert!(!empty.admits(&axum::http::HeaderMap::new()));
        assert!(!empty.admits(&bearer("Bearer ")));
    }
}
