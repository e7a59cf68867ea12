//! HTTP hygiene from tower-http: CORS with configured origins (credentials only with explicit
//! origins), security headers, and response compression.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Errors in the HTTP configuration, found when the app is built rather than at run time.
#[derive(Debug, thiserror::Error)]
pub enum HttpConfigError {
    /// An origin that is not a valid header value or not `scheme://host[:port]`.
    #[error("invalid CORS origin `{0}` (expected scheme://host[:port])")]
    Origin(String),
    /// Credentials with any origin would let every site act as the user.
    #[error("CORS credentials need explicit origins, not any origin")]
    CredentialsWithAnyOrigin,
}

/// Cross-origin rules.
///
/// ```
/// use arc_runtime::config::Cors;
/// let cors = Cors::origins(&["https://shop.example"])?.with_credentials()?;
/// assert!(Cors::any().with_credentials().is_err());
/// # Ok::<(), arc_runtime::config::HttpConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Cors {
    origins: Option<Vec<HeaderValue>>,
    credentials: bool,
}

impl Cors {
    /// Any origin, without credentials (development).
    pub fn any() -> Self {
        Self {
            origins: None,
            credentials: false,
        }
    }

    /// Exactly these origins.
    pub fn origins(origins: &[&str]) -> Result<Self, HttpConfigError> {
        let parsed = origins
            .iter()
            .map(|o| {
                let ok = (o.starts_with("https://") || o.starts_with("http://"))
                    && !o.trim_end_matches('/').contains(['?', '#', ' '])
                    && o.split("://")
                        .nth(1)
                        .is_some_and(|h| !h.is_empty() && !h.contains('/'));
                HeaderValue::from_str(o)
                    .ok()
                    .filter(|_| ok)
                    .ok_or_else(|| HttpConfigError::Origin((*o).to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origins: Some(parsed),
            credentials: false,
        })
    }

    /// Allows cookies and `Authorization` cross-origin; only with explicit origins.
    pub fn with_credentials(mut self) -> Result<Self, HttpConfigError> {
        if self.origins.is_none() {
            return Err(HttpConfigError::CredentialsWithAnyOrigin);
        }
        self.credentials = true;
        Ok(self)
    }

    /// The tower-http layer.
    pub fn layer(&self) -> CorsLayer {
        let methods = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ];
        let headers = [
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-organization-id"),
            HeaderName::from_static("x-arc-scope"),
            HeaderName::from_static("x-arc-reason"),
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(crate::auth::sessions::CSRF_HEADER),
        ];
        let exposed = [
            HeaderName::from_static("x-request-id"),
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
        ];
        let layer = CorsLayer::new()
            .allow_methods(methods)
            .allow_headers(headers)
            .expose_headers(exposed)
            .max_age(std::time::Duration::from_secs(600));
        match &self.origins {
            None => layer.allow_origin(AllowOrigin::any()),
            Some(list) => layer
                .allow_origin(AllowOrigin::list(list.iter().cloned()))
                .allow_credentials(self.credentials),
        }
    }
}

/// Security headers added to every response that does not set them itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecurityHeaders {
    /// Send `Strict-Transport-Security` (only behind HTTPS: production).
    pub hsts: bool,
}

const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// The headers sent in every preset.
const ALWAYS: [(HeaderName, HeaderValue); 5] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (CORP, HeaderValue::from_static("same-origin")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    ),
];
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

impl SecurityHeaders {
    /// Adds the headers `response` does not set itself.
    pub fn apply(&self, response: &mut axum::response::Response) {
        // One lookup per header: `entry` finds the slot it fills.
        let present = response.headers_mut();
        for (name, value) in ALWAYS {
            present.entry(name).or_insert(value);
        }
        if self.hsts {
            present
                .entry(header::STRICT_TRANSPORT_SECURITY)
                .or_insert(HSTS);
        }
    }
}

/// Which answers gzip may compress: bodies of 256 bytes or more (smaller ones gain nothing),
/// except images (already compressed; SVG is text), event streams (compression would hold
/// events back) and gRPC. tower-http's default compresses from 32 bytes and leaves SVG out.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Compressible;

impl tower_http::compression::Predicate for Compressible {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        if response.body().size_hint().exact().is_some_and(|n| n < 256) {
            return false;
        }
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map_or(&b""[..], HeaderValue::as_bytes);
        let image = content_type.starts_with(b"image/") && !content_type.starts_with(b"image/svg");
        !image
            && !content_type.starts_with(b"text/event-stream")
            && !content_type.starts_with(b"application/grpc")
    }
}

#[cfg(test)]
mod tests {
    use tower_http::compression::Predicate;

    use super::Compressible;

    fn answer(content_type: &str, body: usize) -> axum::http::Response<String> {
        axum::http::Response::builder()
            .header("content-type", content_type)
            .body("x".repeat(body))
            .unwrap()
    }

    #[test]
    fn what_gzip_may_compress() {
        let compress = |ct, n| Compressible.should_compress(&answer(ct, n));
        assert!(compress("application/json", 4096));
        assert!(compress("text/html; charset=utf-8", 256));
        assert!(compress("image/svg+xml", 4096));
        assert!(!compress("application/json", 255), "too small to gain");
        assert!(!compress("image/png", 4096));
        assert!(!compress("text/event-stream", 4096));
        assert!(!compress("application/grpc+proto", 4096));
    }
}
