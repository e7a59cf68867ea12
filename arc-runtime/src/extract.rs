//! Extractors whose rejections are contract errors: JSON object bodies and path ids.
//!
//! A body that is not `application/json` is a 415, one over the body limit a 413, malformed
//! JSON or a non-object a 400; a path segment that does not decode is a 404 (a malformed id
//! names no row).

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::{StatusCode, header, request::Parts};
use bytes::Bytes;
use serde_json::{Map, Value as Json};

use crate::error::{ArcError, ErrorCode};

/// A JSON object body.
#[derive(Debug)]
pub(crate) struct JsonObject(pub Map<String, Json>);

fn is_json(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ArcError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(ArcError::new(
                ErrorCode::UnsupportedMediaType,
                "Content-Type must be application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        let value: Json = serde_json::from_slice(&bytes)
            .map_err(|e| ArcError::bad_request(format!("Malformed JSON body: {e}")))?;
        match value {
            Json::Object(map) => Ok(Self(map)),
            _ => Err(ArcError::bad_request("The JSON body must be an object")),
        }
    }
}

fn body_rejection(rejection: BytesRejection) -> ArcError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ArcError::new(ErrorCode::PayloadTooLarge, "Request body is too large")
    } else {
        ArcError::bad_request("Could not read the request body")
    }
}

/// The route's last path parameter (a row's id or slug; an `{orgId}` before it is the
/// access layer's), as text; a segment that does not decode is a 404.
#[derive(Debug)]
pub(crate) struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ArcError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .ok()
            .and_then(|Path(mut params)| params.pop())
            .map(|(_, value)| Self(value))
            .ok_or_else(|| ArcError::not_found("Not found"))
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/jsonx"));
    }
}
