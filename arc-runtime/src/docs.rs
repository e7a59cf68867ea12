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
use crate::openapi::Document;

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

/// A JSON answer made when it is first asked for: the OpenAPI document and the registry,
/// which most processes never serve, and whose making was most of an app's start (and a
/// megabyte kept for its life).
struct MadeOnce {
    /// What is made, for the log.
    what: &'static str,
    make: Box<dyn Fn() -> Result<Bytes, String> + Send + Sync>,
    /// The JSON, or why it could not be made (answered as a 500, logged once; a making that
    /// panicked is kept as such too, not tried again on every request).
    made: tokio::sync::OnceCell<Result<Bytes, String>>,
}

impl MadeOnce {
    fn new(
        what: &'static str,
        make: impl Fn() -> Result<Bytes, String> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            what,
            make: Box::new(make),
            made: tokio::sync::OnceCell::new(),
        })
    }

    /// The JSON, made once on a blocking thread (a large app's takes milliseconds);
    /// requests that ask meanwhile wait for it without holding a thread.
    async fn get(self: &Arc<Self>) -> Result<Bytes, String> {
        self.made
            .get_or_init(|| {
                let this = Arc::clone(self);
                async move {
                    let what = this.what;
                    tokio::task::spawn_blocking(move || (this.make)())
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()))
                        .inspect_err(|e| tracing::error!(error = %e, "{what} could not be made"))
                }
            })
            .await
            .clone()
    }
}

/// `document` as JSON, or why it cannot be.
fn document_json(document: &Document) -> Result<Bytes, String> {
    document
        .build()
        .map_err(|e| e.to_string())
        .and_then(|doc| serde_json::to_vec(&doc).map_err(|e| e.to_string()))
        .map(Bytes::from)
}

/// The document's routes; `document` is made into JSON when first asked for.
pub(crate) fn docs_routes(document: Document) -> Router<ArcState> {
    let document = MadeOnce::new("the OpenAPI document", move || document_json(&document));
    Router::new()
        .route(
            "/_docs/openapi.json",
            get(move || {
                let document = document.clone();
                async move {
                    match document.get().await {
                        Ok(json) => {
                            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
                        }
                        Err(why) => ArcError::internal(why).into_response(),
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

/// `/_resources`: the registry, for callers with the platform role `admin`; `describe`
/// makes it, when it is first asked for.
pub(crate) fn registry_route(
    describe: impl Fn() -> serde_json::Value + Send + Sync + 'static,
) -> Router<ArcState> {
    let description = MadeOnce::new("the registry", move || {
        serde_json::to_vec(&describe())
            .map(Bytes::from)
            .map_err(|e| e.to_string())
    });
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
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CACHE_CONTROL, "private, no-cache"),
                    (header::VARY, "authorization, x-api-key"),
                ];
                match description.get().await {
                    Ok(json) => (StatusCode::OK, private, json).into_response(),
                    Err(why) => ArcError::internal(why).into_response(),
                }
            }
        }),
    )
}
