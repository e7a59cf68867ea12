//! A typed client for calling another arc-rs service: [`ServiceClient`].
//!
//! Every call carries the request id and the W3C `traceparent` of the request it is made
//! for (when it is made on that request's task), a timeout, and the service's circuit
//! breaker ([`Breaker`], which counts attempts). Calls that may be repeated are retried
//! with backoff: reads, `PUT` and `DELETE`. `POST` and `PATCH` carry an `idempotency-key`
//! that stays the same across their attempts; they are repeated when surely not applied,
//! and after an answer that leaves it open only with
//! [`ServiceClientBuilder::retry_mutations`].
//! [`ServiceClient::resource`] gives a resource's routes as typed methods, with the
//! contract's envelopes unwrapped and its errors as [`ClientError::Status`].
//!
//! ```no_run
//! # async fn run() -> Result<(), arc_runtime::client::ClientError> {
//! use arc_runtime::client::{Breaker, ServiceClient};
//! use std::time::Duration;
//!
//! let shop = ServiceClient::builder("shop", "http://shop.internal:3000")
//!     .bearer(std::env::var("SHOP_TOKEN").unwrap_or_default())
//!     .timeout(Duration::from_secs(2))
//!     .breaker(Breaker { failures: 5, open_for: Duration::from_secs(30), probes: 1 })
//!     .build()?;
//! let status: serde_json::Value = shop.get("/_health/ready").send().await?.json()?;
//! # let _ = status;
//! # Ok(())
//! # }
//! ```

mod breaker;
mod resource;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

pub use breaker::{Breaker, CircuitState};
pub use resource::{Deleted, Page, ResourceClient};

use crate::plugins::metrics::Metrics;
use crate::retry::Retry;
use breaker::CircuitBreaker;

/// The header a mutation's idempotency key goes in.
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Why a call did not give an answer the caller can use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The service's circuit is open: the call was not made.
    #[error("{service}: circuit open, calls resume in {retry_in:?}")]
    CircuitOpen {
        /// The service.
        service: Arc<str>,
        /// How long the circuit stays open (zero while its probes are out).
        retry_in: Duration,
    },
    /// No answer within the timeout, on the last attempt.
    #[error("{service}: no answer within {after:?}")]
    Timeout {
        /// The service.
        service: Arc<str>,
        /// The timeout of an attempt.
        after: Duration,
    },
    /// No connection, or the connection broke, on the last attempt.
    #[error("{service}: {source}")]
    Transport {
        /// The service.
        service: Arc<str>,
        /// What failed.
        source: reqwest::Error,
    },
    /// The service answered with an error status.
    #[error("{}: {} {} ({})", .0.service, .0.status.as_u16(), .0.message, .0.code)]
    Status(Box<ErrorAnswer>),
    /// The answer was longer than [`ServiceClientBuilder::max_response`].
    #[error("{service}: the answer is longer than {limit} bytes")]
    TooLarge {
        /// The service.
        service: Arc<str>,
        /// The limit.
        limit: usize,
    },
    /// The answer is not the JSON the caller expects.
    #[error("{service}: unexpected answer: {source}")]
    Decode {
        /// The service.
        service: Arc<str>,
        /// Why it did not decode.
        source: serde_json::Error,
    },
    /// The request could not be made: a bad base URL or path, or a body that does not
    /// serialize.
    #[error("{service}: bad request: {reason}")]
    Request {
        /// The service.
        service: Arc<str>,
        /// What is wrong.
        reason: String,
    },
}

impl ClientError {
    /// The answer's status, when the service answered with an error.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status(answer) => Some(answer.status),
            _ => None,
        }
    }

    /// The contract's machine code of the answer (`NOT_FOUND`), when the service answered
    /// with an error envelope.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Status(answer) => Some(&answer.code),
            _ => None,
        }
    }
}

/// An error answer, as the contract's envelope gives it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ErrorAnswer {
    /// The service.
    pub service: Arc<str>,
    /// The status.
    pub status: StatusCode,
    /// The machine code (`VALIDATION_ERROR`), or the status's reason when the answer is not
    /// an envelope.
    pub code: String,
    /// The human message.
    pub message: String,
    /// The service's request id.
    pub request_id: Option<String>,
    /// The envelope's `details` (a validation error's `errors`).
    pub details: Option<serde_json::Value>,
}

impl ErrorAnswer {
    fn read(service: &Arc<str>, status: StatusCode, body: &[u8]) -> ErrorAnswer {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope {
            error: Option<String>,
            code: Option<String>,
            request_id: Option<String>,
            details: Option<serde_json::Value>,
        }
        let envelope = serde_json::from_slice::<Envelope>(body).ok();
        let reason = status.canonical_reason().unwrap_or("error");
        let (error, code, request_id, details) = envelope
            .map(|e| (e.error, e.code, e.request_id, e.details))
            .unwrap_or_default();
        ErrorAnswer {
            service: service.clone(),
            status,
            code: code.unwrap_or_else(|| reason.to_uppercase().replace(' ', "_")),
            message: error.unwrap_or_else(|| reason.to_owned()),
            request_id,
            details,
        }
    }
}

/// A client of one service: cheap to clone (the clones share the connection pool and the
/// circuit breaker). See the [module](self).
#[derive(Clone, Debug)]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: Arc<str>,
    base: reqwest::Url,
    http: reqwest::Client,
    headers: HeaderMap,
    timeout: Duration,
    retry: Retry,
    retry_mutations: bool,
    max_response: usize,
    breaker: CircuitBreaker,
}

/// How a [`ServiceClient`] is made: [`ServiceClient::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until it is built"]
pub struct ServiceClientBuilder {
    service: Arc<str>,
    base: String,
    headers: HeaderMap,
    bad_header: Option<String>,
    timeout: Duration,
    connect_timeout: Duration,
    retry: Retry,
    retry_mutations: bool,
    breaker: Breaker,
    max_response: usize,
    metrics: Option<Metrics>,
}

impl ServiceClient {
    /// A client of the service `service` (its name in logs, errors and metrics) at `base`
    /// (`http://orders.internal:3000`, or with a path prefix: `https://api.example.com/v1`).
    pub fn builder(service: impl Into<String>, base: impl Into<String>) -> ServiceClientBuilder {
        ServiceClientBuilder {
            service: service.into().into(),
            base: base.into(),
            headers: HeaderMap::new(),
            bad_header: None,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            retry: Retry {
                attempts: 3,
                base: Duration::from_millis(100),
                max: Duration::from_secs(2),
            },
            retry_mutations: false,
            breaker: Breaker::default(),
            max_response: 16 * 1024 * 1024,
            metrics: None,
        }
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// Where the service's circuit is.
    pub fn circuit(&self) -> CircuitState {
        self.inner.breaker.state()
    }

    /// The routes of the resource `R` on the service, as typed methods.
    pub fn resource<R: crate::Resource>(&self) -> ResourceClient<R> {
        ResourceClient::new(self.clone())
    }

    /// A call of `method` to `path` (below the base), to be sent.
    pub fn call(&self, method: Method, path: &str) -> Call {
        Call {
            client: self.clone(),
            method,
            path: path.to_owned(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            idempotency_key: None,
            problem: None,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Call {
        self.call(Method::GET, path)
    }

    /// `POST path`.
    pub fn post(&self, path: &str) -> Call {
        self.call(Method::POST, path)
    }

    /// `PATCH path`.
    pub fn patch(&self, path: &str) -> Call {
        self.call(Method::PATCH, path)
    }

    /// `PUT path`.
    pub fn put(&self, path: &str) -> Call {
        self.call(Method::PUT, path)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Call {
        self.call(Method::DELETE, path)
    }
}

impl ServiceClientBuilder {
    /// Sends `Authorization: Bearer <token>` with every call.
    pub fn bearer(self, token: impl AsRef<str>) -> Self {
        let value = format!("Bearer {}", token.as_ref());
        self.header(header::AUTHORIZATION.as_str(), &value)
    }

    /// Sends the header `name: value` with every call (an API key, a tenant). A name or
    /// value that is not one is refused by [`ServiceClientBuilder::build`].
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::try_from(name),
            HeaderValue::try_from(value).map(|mut v| {
                v.set_sensitive(true);
                v
            }),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            _ => self.bad_header = Some(name.to_owned()),
        }
        self
    }

    /// How long an attempt may take, answer included (10 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long connecting may take (3 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How calls that may be repeated are retried (3 attempts, 100 ms doubling up to 2 s, by
    /// default; `attempts: 1` never retries). A `Retry-After` the service sends is
    /// honoured, up to `max`.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry.at_least_once();
        self
    }

    /// Also repeats a `POST` or `PATCH` that may have been applied (no answer in time, a
    /// 500, 502 or 504): safe when the service keeps idempotency keys for the route (the
    /// key is the same on each attempt), a second write otherwise. By default those are
    /// final, and only mutations that surely were not applied are repeated (no connection,
    /// 429, 503, the key still in flight).
    pub fn retry_mutations(mut self) -> Self {
        self.retry_mutations = true;
        self
    }

    /// The circuit breaker's settings ([`Breaker::default`]).
    pub fn breaker(mut self, breaker: Breaker) -> Self {
        self.breaker = breaker;
        self
    }

    /// The longest answer read (16 MiB by default).
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// Publishes the circuit's state as `arc_circuit_breaker_state{service}` (0 closed, 1
    /// open, 2 half-open) in `metrics` (the app's: `App::metrics_handle`).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The client.
    ///
    /// # Errors
    ///
    /// [`ClientError::Request`] when the base is not an http(s) URL or a header is not
    /// one; [`ClientError::Transport`] when the HTTP client cannot be made (no TLS roots).
    pub fn build(self) -> Result<ServiceClient, ClientError> {
        let service = self.service;
        let bad = |reason: String| ClientError::Request {
            service: service.clone(),
            reason,
        };
        if let Some(name) = self.bad_header {
            return Err(bad(format!("the header `{name}` is not a valid header")));
        }
        let mut base = reqwest::Url::parse(&self.base)
            .map_err(|e| bad(format!("the base `{}` is not a URL: {e}", self.base)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(bad(format!(
                "the base `{}` is not an http(s) URL",
                self.base
            )));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad(format!(
                "the base `{}` has a query or fragment",
                self.base
            )));
        }
        // The paths of calls are appended to the base's.
        let trimmed = base.path().trim_end_matches('/').to_owned();
        base.set_path(&trimmed);
        let user_agent = concat!("arc-rs/", env!("CARGO_PKG_VERSION"));
        let http = reqwest::Client::builder()
            .user_agent(user_agent)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            // A service that redirects is misconfigured; following would carry the token
            // elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| ClientError::Transport {
                service: service.clone(),
                source,
            })?;
        let breaker = CircuitBreaker::new(self.breaker, service.clone(), self.metrics);
        Ok(ServiceClient {
            inner: Arc::new(Inner {
                service,
                base,
                http,
                headers: self.headers,
                timeout: self.timeout,
                retry: self.retry,
                retry_mutations: self.retry_mutations,
                max_response: self.max_response,
                breaker,
            }),
        })
    }
}

/// One call, to be sent: [`ServiceClient::call`].
#[derive(Debug)]
#[must_use = "a call does nothing until it is sent"]
pub struct Call {
    client: ServiceClient,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<Bytes>,
    idempotency_key: Option<HeaderValue>,
    /// What makes the call one that cannot be sent (a body that does not serialize, a bad
    /// header): [`Call::send`] answers it as [`ClientError::Request`].
    problem: Option<String>,
}

impl Call {
    /// Adds query parameters (`[("status", "active"), ("sort", "-price")]`).
    pub fn query<K: Into<String>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.query
            .extend(pairs.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The body, as JSON.
    pub fn json(mut self, body: &impl Serialize) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => self.body = Some(bytes.into()),
            Err(e) => self.problem = Some(format!("the body does not serialize: {e}")),
        }
        self
    }

    /// Sends the header `name: value` with this call, in place of the client's of that
    /// name (a bad one makes the call fail as [`ClientError::Request`]).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(mut value)) => {
                // Never shown in a `Debug` of the call (an authorization, a key).
                value.set_sensitive(true);
                self.headers.insert(name, value);
            }
            _ => self.problem = Some(format!("the header `{name}` is not a valid header")),
        }
        self
    }

    /// The idempotency key of this mutation (by default a new UUID per call, the same on
    /// each of its attempts): pass the key of the work this call belongs to, so that a
    /// caller retrying that work does not apply it twice either.
    pub fn idempotency_key(mut self, key: &str) -> Self {
        match HeaderValue::try_from(key) {
            Ok(key) => self.idempotency_key = Some(key),
            Err(_) => self.problem = Some(format!("the idempotency key `{key}` is not a header")),
        }
        self
    }

    fn mutation(&self) -> bool {
        matches!(self.method, Method::POST | Method::PATCH)
    }

    /// Sends the call, retrying as the client says; the answer when it is a 2xx.
    ///
    /// # Errors
    ///
    /// [`ClientError::Status`] for an error answer (after the retries when it was a 5xx or
    /// a 429); [`ClientError::CircuitOpen`], [`ClientError::Timeout`],
    /// [`ClientError::Transport`], [`ClientError::TooLarge`], [`ClientError::Request`].
    pub async fn send(self) -> Result<Answer, ClientError> {
        let inner = self.client.inner.clone();
        let service = &inner.service;
        let request_error = |reason: String| ClientError::Request {
            service: service.clone(),
            reason,
        };
        if let Some(problem) = self.problem {
            return Err(request_error(problem));
        }
        let url = self.url().map_err(request_error)?;
        let mut headers = inner.headers.clone();
        headers.extend(self.headers.clone());
        propagate(&mut headers);
        if self.body.is_some() {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if self.mutation() {
            let key = match self.idempotency_key.clone() {
                Some(key) => key,
                None => HeaderValue::try_from(uuid::Uuid::new_v4().to_string())
                    .map_err(|e| request_error(format!("an idempotency key: {e}")))?,
            };
            headers.insert(IDEMPOTENCY_KEY, key);
        }
        let span = tracing::debug_span!(
            "service call",
            service = %service,
            method = %self.method,
            path = %self.path,
        );
        attempts(&inner, &self.method, &url, &headers, self.body.as_ref())
            .instrument(span)
            .await
    }

    /// The base's URL with the call's path and query.
    fn url(&self) -> Result<reqwest::Url, String> {
        let base = &self.client.inner.base;
        if !self.path.starts_with('/') || self.path.contains(['?', '#', '\\']) {
            return Err(format!(
                "the path `{}` is not an absolute path without query",
                self.path
            ));
        }
        // `..` (`%2e%2e` alike: URLs decode dots) would step out of the base's path.
        if self.path.split('/').any(crate::percent::dot_segment) {
            return Err(format!(
                "the path `{}` has a `.` or `..` segment",
                self.path
            ));
        }
        let prefix = base.path().trim_end_matches('/');
        let mut url = base.clone();
        url.set_path(&format!("{prefix}{}", self.path));
        if !url.path().starts_with(prefix) {
            return Err(format!("the path `{}` leaves the base", self.path));
        }
        if !self.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&self.query);
        }
        Ok(url)
    }
}

/// Sends a call until an answer is final, the attempts are spent or the circuit is open.
async fn attempts(
    inner: &Inner,
    method: &Method,
    url: &reqwest::Url,
    headers: &HeaderMap,
    body: Option<&Bytes>,
) -> Result<Answer, ClientError> {
    let service = &inner.service;
    // A POST or PATCH that may have been applied is repeated only when the client says the
    // service keeps idempotency keys; one that surely was not (no connection, 429, 503, its
    // key still in flight) always is.
    let repeatable = !matches!(*method, Method::POST | Method::PATCH) || inner.retry_mutations;
    let mut attempt = 1;
    // What the previous attempt came to: the answer when the circuit opens meanwhile.
    let mut previous: Option<ClientError> = None;
    loop {
        let permit = match inner.breaker.admit() {
            Ok(permit) => permit,
            Err(retry_in) => {
                return Err(previous.unwrap_or_else(|| ClientError::CircuitOpen {
                    service: service.clone(),
                    retry_in,
                }));
            }
        };
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .headers(headers.clone());
        if let Some(body) = body {
            request = request.body(body.clone());
        }
        let outcome = match request.send().await {
            Ok(response) => read(inner, response).await,
            Err(source) => Err(Failure::from(source)),
        };
        let last = attempt >= inner.retry.attempts;
        let wait = match outcome {
            Ok(answer) if answer.status.is_success() => {
                permit.succeeded();
                return Ok(answer);
            }
            Ok(answer) => {
                let status = answer.status;
                if status.is_server_error() {
                    permit.failed();
                } else {
                    // A 4xx is the service working.
                    permit.succeeded();
                }
                // Worth another attempt: a service busy (not applied), the same idempotency
                // key still in flight (409 with `Retry-After`), or failing when repeating
                // the call is safe.
                let again = matches!(status.as_u16(), 429 | 503)
                    || (status == StatusCode::CONFLICT && answer.retry_after().is_some())
                    || (repeatable && matches!(status.as_u16(), 500 | 502 | 504));
                let error =
                    ClientError::Status(Box::new(ErrorAnswer::read(service, status, &answer.body)));
                if last || !again {
                    return Err(error);
                }
                previous = Some(error);
                answer.retry_after().map_or_else(
                    || inner.retry.backoff(attempt),
                    |wait| wait.min(inner.retry.max),
                )
            }
            Err(Failure::TooLarge) => {
                permit.succeeded();
                return Err(Failure::TooLarge.into_error(inner));
            }
            Err(failure) => {
                permit.failed();
                let sent = !matches!(&failure, Failure::Transport(e) if e.is_connect());
                if last || (sent && !repeatable) {
                    return Err(failure.into_error(inner));
                }
                tracing::debug!(service = %service, attempt, "attempt failed: {failure:?}");
                previous = Some(failure.into_error(inner));
                inner.retry.backoff(attempt)
            }
        };
        tracing::debug!(service = %service, attempt, ?wait, "retrying");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// What an attempt came to, short of an answer.
#[derive(Debug)]
enum Failure {
    Timeout,
    Transport(reqwest::Error),
    TooLarge,
}

impl Failure {
    fn from(error: reqwest::Error) -> Failure {
        if error.is_timeout() {
            Failure::Timeout
        } else {
            Failure::Transport(error)
        }
    }

    fn into_error(self, inner: &Inner) -> ClientError {
        let service = inner.service.clone();
        match self {
            Failure::Timeout => ClientError::Timeout {
                service,
                after: inner.timeout,
            },
            Failure::Transport(source) => ClientError::Transport { service, source },
            Failure::TooLarge => ClientError::TooLarge {
                service,
                limit: inner.max_response,
            },
        }
    }
}

/// Reads the answer, at most `max_response` bytes of it.
async fn read(inner: &Inner, mut response: reqwest::Response) -> Result<Answer, Failure> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    if response
        .content_length()
        .is_some_and(|n| n > inner.max_response as u64)
    {
        return Err(Failure::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Failure::from)? {
        if body.len() + chunk.len() > inner.max_response {
            return Err(Failure::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        service: inner.service.clone(),
        status,
        headers,
        body: body.into(),
    })
}

/// The request id and `traceparent` of the request this task handles, when it handles one
/// and the call does not set them itself.
fn propagate(headers: &mut HeaderMap) {
    use crate::plugins::{request_id::HEADER, trace::TRACEPARENT};
    if !headers.contains_key(HEADER)
        && let Some(id) = crate::request_id()
    {
        headers.insert(HEADER, id);
    }
    if !headers.contains_key(TRACEPARENT)
        && let Some(trace) = crate::trace_context()
    {
        headers.insert(TRACEPARENT, trace.traceparent());
    }
}

/// A 2xx answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Answer {
    service: Arc<str>,
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Answer {
    /// The body as `T`.
    ///
    /// # Errors
    ///
    /// [`ClientError::Decode`] when it is not `T` as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|source| ClientError::Decode {
            service: self.service.clone(),
            source,
        })
    }

    /// `Retry-After` (seconds, or an HTTP date), when the answer has one.
    fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
        match value.parse::<u64>() {
            Ok(seconds) => Some(Duration::from_secs(seconds)),
            Err(_) => {
                let at = httpdate::parse_http_date(value).ok()?;
                Some(
                    at.duration_since(std::time::SystemTime::now())
                        .unwrap_or(Duration::ZERO),
                )
            }
        }
    }
}
