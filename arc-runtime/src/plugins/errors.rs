//! The one error mapper: whatever fails below it (a panicking handler, a timeout, a tower
//! layer's bare status) reaches the client as the contract's error envelope, with the request
//! id, and a panic's message never leaves the process.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::{ArcError, ErrorCode};

/// The response to a panic: 500 `INTERNAL_ERROR`; the panic is logged, not sent.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!(panic = %message, "handler panicked");
    ArcError::new(ErrorCode::Internal, "Internal server error").into_response()
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// `response` as an envelope when it is an error without one.
pub fn envelope(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let code = ErrorCode::for_status(status);
    let message = match status.as_u16() {
        503 => "Service unavailable, try again later",
        408 | 504 => "The request took too long",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let retry_after: Option<HeaderValue> = response.headers().get(header::RETRY_AFTER).cloned();
    let mut mapped = ArcError::new(code, message).into_response();
    *mapped.status_mut() = status;
    if let Some(value) = retry_after {
        mapped.headers_mut().insert(header::RETRY_AFTER, value);
    }
    mapped
}

/// Applies [`envelope`] to every response.
#[derive(Clone, Copy, Debug, Default)]
pub struct EnvelopeLayer;

impl<S> Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Envelope { inner }
    }
}

/// The service of [`EnvelopeLayer`].
#[derive(Clone, Debug)]
pub struct Envelope<S> {
    inner: S,
}

impl<S> Service<Request> for Envelope<S>
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
        let future = self.inner.call(req);
        Box::pin(async move { future.await.map(envelope) })
    }
}
