//! The tower layer that authenticates every request, and the `x-organization-id` rule.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::{Auth, AuthContext};
use crate::error::{ArcError, ErrorCode};
use crate::stores::BoxFuture;

/// The header that selects the active organization.
pub const ORG_HEADER: &str = "x-organization-id";

/// Selects the active organization from `x-organization-id`: it must be one the caller
/// belongs to (403 `ORG_ACCESS_DENIED` otherwise). Roles and the team in the token's own
/// active org do not carry over to another one.
pub(super) fn select_org(context: &mut Arc<AuthContext>, parts: &Parts) -> Result<(), ArcError> {
    let Some(value) = parts.headers.get(ORG_HEADER) else {
        return Ok(());
    };
    let org = value.to_str().unwrap_or("").trim();
    if org.is_empty() || org.len() > 128 {
        return Err(ArcError::bad_request(
            "x-organization-id is empty or too long",
        ));
    }
    if !context.is_authenticated() {
        return Err(ArcError::unauthorized(
            "Authentication is required to select an organization",
        ));
    }
    if context.org_id.as_deref() == Some(org) {
        return Ok(());
    }
    if !context.orgs.iter().any(|o| o == org) {
        return Err(ArcError::new(
            ErrorCode::OrgAccessDenied,
            "Not a member of that organization",
        ));
    }
    // A copy only for the requests that switch organization.
    let context = Arc::make_mut(context);
    context.org_id = Some(org.to_owned());
    context.org_roles.clear();
    context.team_id = None;
    Ok(())
}

/// Runs [`Auth`] on every request and puts the [`AuthContext`] in its extensions.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    auth: Arc<Auth>,
}

impl AuthLayer {
    /// The layer for `auth`.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth: Arc::new(auth),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Auth>,
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The ready service handles this request; a fresh clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            match auth.authenticate(&parts).await {
                Ok(context) => {
                    parts.extensions.insert(context);
                    inner.call(Request::from_parts(parts, body)).await
                }
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}
