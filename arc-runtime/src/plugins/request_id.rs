//! Request ids: echo a sane `x-request-id` from the client or make one, expose it to every
//! error envelope of the request (a task-local), and return it on every response.
//!
//! A tower layer, cheap enough to sit in front of every request: a made id is a per-process
//! random prefix and a counter, 32 hex digits written on the stack, and the one `HeaderValue`
//! (a reference-counted buffer) serves the request header, the task-local and the response.
//! Without CORS (whose preflights are answered before the pipeline), the pipeline does the
//! same work itself ([`adopt`], [`scope`]), and the app has one layer fewer.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

/// The header name.
pub(crate) const HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: HeaderValue;
}

/// The id of the request being handled on this task (its `x-request-id`), if any: for an
/// app's own log lines, error reports and outgoing calls. Hooks and handlers run on the
/// request's task; a task they spawn does not carry it.
pub fn current() -> Option<HeaderValue> {
    REQUEST_ID.try_with(HeaderValue::clone).ok()
}

/// The id of `request`: the client's when sane, else a new one, set on the request.
pub(crate) fn adopt(request: &mut Request) -> HeaderValue {
    match request.headers().get(&HEADER) {
        Some(given) if is_sane(given.as_bytes()) => given.clone(),
        _ => {
            let id = make();
            request.headers_mut().insert(HEADER, id.clone());
            id
        }
    }
}

/// Runs `fut` with `id` as the request's id ([`current`]).
pub(crate) fn scope<F: Future>(id: HeaderValue, fut: F) -> TaskLocalFuture<HeaderValue, F> {
    REQUEST_ID.scope(id, fut)
}

/// Whether a client-sent id is safe to echo: 1 to 128 of `[A-Za-z0-9._-]`.
pub(crate) fn is_sane(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A new id: 16 hex digits of a random per-process prefix, then 16 of a counter.
pub(crate) fn make() -> HeaderValue {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(rand::random);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 32];
    hex(prefix, &mut buf[..16]);
    hex(n, &mut buf[16..]);
    // 32 ASCII hex digits are always a valid header value. Owned by a shared buffer from the
    // start, so the clones the request, the task-local and the response take copy nothing.
    HeaderValue::from_maybe_shared(bytes::Bytes::from_owner(buf))
        .unwrap_or_else(|_| HeaderValue::from_static("0"))
}

/// Writes `v` as lower-case hex digits filling `out` (the low digits; leading zeros kept).
pub(crate) fn hex(mut v: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v & 0xf) as usize];
        v >>= 4;
    }
}

/// The layer: wraps every request in its id.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// The service of [`RequestIdLayer`].
#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S> Service<Request> for RequestIdService<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let id = adopt(&mut request);
        ResponseFuture {
            inner: scope(id.clone(), self.inner.call(request)),
            id: Some(id),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestId`]: the inner future with the id in scope.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: TaskLocalFuture<HeaderValue, F>,
        id: Option<HeaderValue>,
    }
}

impl<F, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => response,
            other => return other,
        };
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(HEADER, id);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanity() {
        assert!(is_sane(b"abc-123_x.y"));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"a b"));
        assert!(!is_sane(b"<script>"));
        assert!(!is_sane("a".repeat(129).as_bytes()));
    }

    #[test]
    fn made_ids_are_sane_and_distinct() {
        let (a, b) = (make(), make());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(is_sane(a.as_bytes()));
        assert_eq!(
            &a.as_bytes()[..16],
            &b.as_bytes()[..16],
            "one prefix per process"
        );
    }
}
