//! Steps across resources: guards (may refuse a request before its handler) and transforms
//! (may rewrite a successful JSON answer). Anything more (an intercept around the handler) is a
//! tower layer or `axum::middleware::from_fn`, given to [`crate::App::layer`].
//!
//! Both run inside authentication, so they see the caller.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::action::ResourceAction;
use crate::auth::AuthContext;
use crate::error::ArcError;

/// What a step knows of the request.
#[derive(Debug)]
pub struct StepContext<'a> {
    /// The method.
    pub method: &'a Method,
    /// The route template (`/products/{id}`), when a route matched.
    pub route: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The caller.
    pub caller: &'a AuthContext,
    /// The resource and action that answered (transforms only).
    pub operation: Option<ResourceAction>,
}

/// May refuse a request with a contract error.
pub(crate) type Guard = Arc<dyn Fn(&StepContext<'_>) -> Result<(), ArcError> + Send + Sync>;
/// May rewrite a successful JSON answer.
pub(crate) type Transform = Arc<dyn Fn(&StepContext<'_>, &mut serde_json::Value) + Send + Sync>;

/// The app's guards and transforms, in the order given.
#[derive(Clone, Default)]
pub(crate) struct Steps {
    /// Run before the handler; the first error answers the request.
    pub guards: Vec<Guard>,
    /// Run on 2xx JSON answers.
    pub transforms: Vec<Transform>,
}

impl std::fmt::Debug for Steps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Steps")
            .field("guards", &self.guards.len())
            .field("transforms", &self.transforms.len())
            .finish()
    }
}

impl Steps {
    /// Whether there is nothing to run.
    pub(crate) fn is_empty(&self) -> bool {
        self.guards.is_empty() && self.transforms.is_empty()
    }
}

/// The middleware: `from_fn_with_state(Arc<Steps>, steps::layer)` (the App adds it).
pub(crate) async fn layer(State(steps): State<Arc<Steps>>, req: Request, next: Next) -> Response {
    let seen = Seen {
        caller: caller(&req),
        method: req.method().clone(),
        route: req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned()),
        headers: req.headers().clone(),
    };
    for guard in &steps.guards {
        if let Err(e) = guard(&seen.context(None)) {
            return e.into_response();
        }
    }
    let response = next.run(req).await;
    if steps.transforms.is_empty() || !response.status().is_success() {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return response;
    }
    let operation = response.extensions().get::<ResourceAction>().copied();
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ArcError::new(crate::ErrorCode::Internal, "Internal server error").into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    for transform in &steps.transforms {
        transform(&seen.context(operation), &mut value);
    }
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(bytes))
}

/// The request as the steps see it.
struct Seen {
    caller: Arc<AuthContext>,
    method: Method,
    route: Option<String>,
    headers: HeaderMap,
}

impl Seen {
    fn context(&self, operation: Option<ResourceAction>) -> StepContext<'_> {
        StepContext {
            method: &self.method,
            route: self.route.as_deref(),
            headers: &self.headers,
            caller: &self.caller,
            operation,
        }
    }
}

fn caller(req: &Request) -> Arc<AuthContext> {
    req.extensions()
        .get::<Arc<AuthContext>>()
        .cloned()
        .unwrap_or_else(|| Arc::new(AuthContext::anonymous()))
}
