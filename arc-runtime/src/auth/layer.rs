//! The tower layer that authenticates (and rate-limits) every request, and the
//! `x-organization-id` rule.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::{Auth, AuthContext};
use crate::error::{ArcError, ErrorCode};
use crate::plugins::rate_limit::{self, RateLimit};
use crate::stores::BoxFuture;

/// The header that selects the active organization.
pub(crate) const ORG_HEADER: &str = "x-organization-id";

/// Selects the active organization from `x-organization-id`: only an authenticated caller
/// may send it (401 otherwise, checked first), and it must be one the caller belongs to (400
/// when empty or over 128 bytes, 403 `ORG_ACCESS_DENIED` otherwise). Roles and the team in
/// the token's own active org do not carry over to another one.
pub(crate) fn select_org(context: &mut Arc<AuthContext>, parts: &Parts) -> Result<(), ArcError> {
    let Some(value) = parts.headers.get(ORG_HEADER) else {
        return Ok(());
    };
    // Who asks comes first: an anonymous caller is told to authenticate (401), whatever the
    // header says, as the document promises for every operation that needs credentials.
    if !context.is_authenticated() {
        return Err(ArcError::unauthorized(
            "Authentication is required to select an organization",
        ));
    }
    let org = org_named(value)?;
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
    context.implied_org_roles.clear();
    context.team_id = None;
    Ok(())
}

/// Makes the organization a route's path names the one the request selects, as if
/// `x-organization-id` named it: the same membership check follows. A path names one in
/// `{orgId}` (see [`ORG_PARAM`](arc_spec::names::ORG_PARAM)), or, on the item routes of
/// the organizations themselves (`org_items`: `/organizations/{id}` where they are served,
/// under each version prefix and base path), in `{id}`. A header naming another
/// organization than the path is a 400.
pub(crate) async fn org_from_path(parts: &mut Parts, org_items: &[String]) -> Result<(), ArcError> {
    use axum::extract::{FromRequestParts, MatchedPath, RawPathParams};
    let Ok(params) = RawPathParams::from_request_parts(parts, &()).await else {
        return Ok(());
    };
    // The item route itself, or one under it (`/organizations/{id}/restore`).
    let is_org_item = |template: &str| {
        org_items
            .iter()
            .any(|item| crate::crud::response::is_under(template, item))
    };
    let name = match parts.extensions.get::<MatchedPath>() {
        Some(matched) if is_org_item(matched.as_str()) => "id",
        _ => arc_spec::names::ORG_PARAM,
    };
    let Some((_, org)) = params.iter().find(|(param, _)| *param == name) else {
        return Ok(());
    };
    let named = HeaderValue::from_str(org).map_err(|_| {
        ArcError::bad_request("The organization in the path is not a valid organization id")
    })?;
    match parts.headers.get(ORG_HEADER) {
        Some(header) if org_named(header)? != org => Err(ArcError::bad_request(
            "x-organization-id names another organization than the path",
        )),
        Some(_) => Ok(()),
        None => {
            parts.headers.insert(ORG_HEADER, named);
            Ok(())
        }
    }
}

/// The organization an `x-organization-id` value names: 400 when it is blank or over 128
/// bytes.
pub(crate) fn org_named(value: &HeaderValue) -> Result<&str, ArcError> {
    let org = value.to_str().unwrap_or("").trim();
    if org.is_empty() || org.len() > 128 {
        return Err(ArcError::bad_request(
            "x-organization-id is empty or too long",
        ));
    }
    Ok(org)
}

/// Who may come in: runs [`Auth`] on every request (the [`AuthContext`] goes in its
/// extensions) and then the rate limit, which keys on that caller. One layer for both: a
/// tower layer costs a clone and a boxed future per request.
#[derive(Clone, Debug, Default)]
pub struct AccessLayer {
    auth: Option<Arc<Auth>>,
    rate_limit: Option<Arc<RateLimit>>,
    /// The templates of the organizations' own item routes (`/organizations/{id}`, under
    /// each version prefix), when [`App::organizations_under`](crate::App::organizations_under)
    /// mounts them.
    org_items: Arc<[String]>,
}

impl AccessLayer {
    /// Authentication with `auth`, no rate limit.
    pub fn new(auth: Auth) -> Self {
        Self {
            auth: Some(Arc::new(auth)),
            rate_limit: None,
            org_items: Arc::new([]),
        }
    }

    /// Authentication when `auth` is set (every caller is anonymous otherwise), then
    /// `rate_limit` when set.
    pub fn with(auth: Option<Auth>, rate_limit: Option<RateLimit>) -> Self {
        Self {
            auth: auth.map(Arc::new),
            rate_limit: rate_limit.map(Arc::new),
            org_items: Arc::new([]),
        }
    }

    /// The organizations' own item routes are `{collection}/{id}` for each of the
    /// `collections` they are served at: their `{id}` selects the organization, as
    /// `{orgId}` does elsewhere.
    pub(crate) fn organizations_at(mut self, collections: impl Iterator<Item = String>) -> Self {
        self.org_items = collections.map(|c| format!("{c}/{{id}}")).collect();
        self
    }
}

impl<S> Layer<S> for AccessLayer {
    type Service = AccessService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessService {
            inner,
            access: self.clone(),
        }
    }
}

/// The service of [`AccessLayer`].
#[derive(Clone, Debug)]
pub struct AccessService<S> {
    inner: S,
    access: AccessLayer,
}

impl<S> Service<Request> for AccessService<S>
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
        let access = self.access.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Some(auth) = &access.auth {
                // The path's organization, then who calls: an anonymous caller hears 401
                // before anything the path or the header got wrong.
                let from_path = org_from_path(&mut parts, &access.org_items).await;
                match auth.authenticate(&parts).await {
                    Ok(context) => {
                        if let Err(error) = from_path {
                            return Ok(error.into_response());
                        }
                        parts.extensions.insert(context);
                    }
                    Err(error) => return Ok(error.into_response()),
                }
            }
            let counted = parts.extensions.get::<rate_limit::Counted>().is_some();
            let hit = match &access.rate_limit {
                Some(limit) if !counted => match limit.admit(&parts).await {
                    Ok(hit) => hit,
                    Err(refused) => return Ok(refused),
                },
                _ => None,
            };
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            if let Some(hit) = &hit {
                rate_limit::annotate(&mut response, hit);
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(org: &str) -> Parts {
        let request = axum::http::Request::builder()
            .header(ORG_HEADER, org)
            .body(())
            .expect("request");
        request.into_parts().0
    }

    fn member() -> Arc<AuthContext> {
        Arc::new(AuthContext {
            user_id: Some("ada".into()),
            org_id: Some("acme".into()),
            orgs: vec!["acme".into()],
            ..AuthContext::default()
        })
    }

    #[test]
    fn an_anonymous_caller_is_asked_to_authenticate_before_the_header_is_judged() {
        for org in ["", "  ", &"x".repeat(200), "acme"] {
            let mut anonymous = Arc::new(AuthContext::anonymous());
            let error = select_org(&mut anonymous, &parts(org)).expect_err(org);
            assert_eq!(error.code(), ErrorCode::Unauthorized, "{org:?}");
        }
    }

    #[test]
    fn an_authenticated_caller_gets_400_for_an_empty_or_long_header_and_403_elsewhere() {
        for org in ["", "  ", &"x".repeat(200)] {
            let error = select_org(&mut member(), &parts(org)).expect_err(org);
            assert_eq!(error.code(), ErrorCode::BadRequest, "{org:?}");
        }
        let error = select_org(&mut member(), &parts("globex")).expect_err("globex");
        assert_eq!(error.code(), ErrorCode::OrgAccessDenied);
        let mut context = member();
        select_org(&mut context, &parts("acme")).expect("own org");
        assert_eq!(context.org_id.as_deref(), Some("acme"));
    }
}
