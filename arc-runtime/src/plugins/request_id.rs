//! Request ids: echo a sane `x-request-id` from the client or make one, expose it to every
//! error envelope of the request (a task-local), and return it on every response.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header name.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: Arc<str>;
}

/// The id of the request being handled on this task, if any.
pub fn current() -> Option<Arc<str>> {
    REQUEST_ID.try_with(Arc::clone).ok()
}

/// Whether a client-sent id is safe to echo: 1 to 128 of `[A-Za-z0-9._-]`.
pub fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Middleware: takes or makes the id, runs the request with it in scope, sets the header.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let id: Arc<str> = match request.headers().get(&HEADER).and_then(|v| v.to_str().ok()) {
        Some(id) if is_sane(id) => Arc::from(id),
        _ => Arc::from(uuid::Uuid::new_v4().simple().to_string()),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(HEADER, value.clone());
        let mut response = REQUEST_ID.scope(id, next.run(request)).await;
        response.headers_mut().insert(HEADER, value);
        response
    } else {
        REQUEST_ID.scope(id, next.run(request)).await
    }
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn sanity() {
        assert!(is_sane("abc-123_x.y"));
        assert!(!is_sane(""));
        assert!(!is_sane("a b"));
        assert!(!is_sane("<script>"));
        assert!(!is_sane(&"a".repeat(129)));
    }
}
