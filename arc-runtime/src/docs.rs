//! The service routes that describe the app: `/_docs/openapi.json` (the OpenAPI document),
//! `/_docs` (a page rendering it, with its script and style served by the app itself, so it
//! works with no internet) and `/_resources` (the registry, for admins).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use crate::app::ArcState;
use crate::auth::Caller;
use crate::error::ArcError;

const PAGE: &str = include_str!("../assets/docs.html");
const SCRIPT: &str = include_str!("../assets/docs.js");
const STYLE: &str = include_str!("../assets/docs.css");

/// The page may load its own script and style and fetch the document; nothing else.
const PAGE_POLICY: HeaderValue = HeaderValue::from_static(
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; frame-ancestors 'none'",
);

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// The document's routes. `document` is the serialized OpenAPI document, or why it could
/// not be made (answered as a 500 and logged at build).
pub(crate) fn docs_routes(document: Result<Bytes, String>) -> Router<ArcState> {
    let document = Arc::new(document);
    Router::new()
        .route(
            "/_docs/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    match &*document {
                        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone())
                            .into_response(),
                        Err(why) => ArcError::internal(why.clone()).into_response(),
                    }
                }
            }),
        )
        .route(
            "/_docs",
            get(|| async { asset("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/_docs/docs.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/_docs/docs.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}

/// `/_resources`: the registry, for callers with the platform role `admin`.
pub(crate) fn registry_route(description: serde_json::Value) -> Router<ArcState> {
    let description = Arc::new(description);
    Router::new().route(
        "/_resources",
        get(move |caller: Caller| {
            let description = description.clone();
            async move {
                if !caller.is_authenticated() {
                    return ArcError::unauthorized("Authentication required").into_response();
                }
                if !caller.has_platform_role("admin") {
                    return ArcError::forbidden("The registry is for admins").into_response();
                }
                // An admin's answer: kept out of shared caches.
                let private = [
                    (header::CACHE_CONTROL, "private, no-cache"),
                    (header::VARY, "authorization, x-api-key"),
                ];
                (StatusCode::OK, private, axum::Json(&*description)).into_response()
            }
        }),
    )
}
