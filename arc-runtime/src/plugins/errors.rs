//! The one error mapper: whatever fails below it (a panicking handler, a timeout, a tower
//! layer's bare status) reaches the client as the contract's error envelope, with the request
//! id, and a panic's message never leaves the process. In development it adds a 500's cause
//! as `details.cause` (found in the response's extensions, never in a body).

use std::any::Any;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::{ArcError, ErrorCode, InternalCause};

/// The response to a panic: 500 `INTERNAL_ERROR`; the panic is logged, not sent.
pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
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

/// `response` as an envelope when it is an error without one; with `expose_causes`, a 500's
/// cause is added as `details.cause`.
pub(crate) fn envelope(response: Response, expose_causes: bool) -> Response {
    if expose_causes && let Some(InternalCause(cause)) = response.extensions().get().cloned() {
        return ArcError::new(ErrorCode::Internal, "Internal server error")
            .with_details(serde_json::json!({ "cause": &*cause }))
            .into_response();
    }
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
