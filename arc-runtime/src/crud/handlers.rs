//! The axum handlers of every resource route: each one extracts, then calls [`super::ops`].
//!
//! They are generic over the resource. [`super::routes`] mounts those a resource serves, each
//! as a function pointer that boxes its future, and reads what each answers from its type.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::response::{
    BulkCreated, BulkDeleted, BulkUpdated, Cached, Created, Deleted, Listing, Nodes, One, Outcome,
};

use super::ops::{self, Scope};
use crate::action::{Action, ResourceAction};
use crate::app::ArcState;
use crate::auth::Caller;
use crate::error::ArcError;
use crate::extract::{JsonObject, PathParam};
use crate::hooks::{Actions, Hooks};
use crate::plugins::etag::Audience;
use crate::resource::Resource;

/// The headers a caller's answers vary on: who is asking, in which organization, and
/// whether with platform elevation.
pub(crate) const VARY: HeaderValue = HeaderValue::from_static(VARY_TEXT);
const VARY_TEXT: &str = "authorization, x-api-key, x-organization-id, x-arc-scope";

/// [`VARY`] and `accept-encoding` first, for an answer compression may encode: what
/// compression would add, put where its check for it finds it at once (it scans the value
/// byte by byte for the name, about 1,200 instructions through [`VARY`] alone).
const VARY_ENCODED: HeaderValue = HeaderValue::from_static(
    "accept-encoding, authorization, x-api-key, x-organization-id, x-arc-scope",
);

/// Names `accept-encoding` in the `Vary` of a caller's answer (a resource's, the audit
/// trail's: those that carry [`VARY`]); the pipeline calls it for the answers compression
/// may encode. An answer whose `Vary` is not [`VARY`] is left alone, for compression to
/// append to.
pub(crate) fn vary_on_encoding(headers: &mut axum::http::HeaderMap) {
    if let Some(vary) = headers.get_mut(header::VARY)
        && vary.as_bytes() == VARY_TEXT.as_bytes()
    {
        *vary = VARY_ENCODED;
    }
}

/// A handler's answer: the outcome of its operation (or the error), labelled with the
/// resource and action (for metrics, logs and steps) and marked as what it is: an answer for
/// this caller. Shared caches must not serve it to anyone else (`Vary`; `Cache-Control:
/// private` when the caller signed in), and its `ETag` is made from the caller's view as well
/// as the body ([`Audience`]). Its type says what the route answers: the document reads it
/// ([`super::routes::Answers`]).
#[must_use]
pub(crate) struct Reply<O> {
    result: Result<O, ArcError>,
    operation: ResourceAction,
    audience: Audience,
    signed_in: bool,
}

impl<O: Outcome> Reply<O> {
    /// `result`, answered to `caller` by `action` of `R`.
    pub(crate) fn new<R: Resource>(
        caller: &Caller,
        action: Action,
        result: Result<O, ArcError>,
    ) -> Self {
        Self {
            result,
            operation: ResourceAction {
                resource: R::META.name,
                action,
            },
            audience: Audience(std::sync::Arc::clone(&caller.0)),
            signed_in: caller.is_authenticated(),
        }
    }
}

impl<O: Outcome> IntoResponse for Reply<O> {
    fn into_response(self) -> Response {
        let mut response = self
            .result
            .and_then(Outcome::into_response)
            .unwrap_or_else(IntoResponse::into_response);
        let headers = response.headers_mut();
        headers.insert(header::VARY, VARY);
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if self.signed_in {
                "private, no-cache"
            } else {
                "no-cache"
            }),
        );
        let extensions = response.extensions_mut();
        extensions.insert(self.operation);
        extensions.insert(self.audience);
        response
    }
}

/// `GET /{path}`
pub(crate) async fn list<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Reply<Cached<Listing<R>>> {
    Reply::new::<R>(
        &caller,
        Action::List,
        ops::list(R::META, &st, &caller, q.as_deref(), Scope::Live)
            .await
            .map(|c| c.map(Listing::retype)),
    )
}

/// `GET /{path}/{id}`
pub(crate) async fn get<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
    RawQuery(q): RawQuery,
) -> Reply<Cached<One<R>>> {
    let got = ops::get(R::META, &st, &caller, &id, q.as_deref()).await;
    Reply::new::<R>(&caller, Action::Get, got.map(|c| c.map(One::retype)))
}

/// `POST /{path}`
pub(crate) async fn create<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Reply<Created<R>> {
    Reply::new::<R>(
        &caller,
        Action::Create,
        ops::create::<R>(&st, &caller, &body).await,
    )
}

/// `PATCH /{path}/{id}`
pub(crate) async fn update<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
    JsonObject(body): JsonObject,
) -> Reply<One<R>> {
    Reply::new::<R>(
        &caller,
        Action::Update,
        ops::update::<R>(&st, &caller, &id, &body).await,
    )
}

/// `PUT /{path}/{id}`: the same as `PATCH`, labelled `replace` as the document names it.
pub(crate) async fn replace<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
    JsonObject(body): JsonObject,
) -> Reply<One<R>> {
    Reply::new::<R>(
        &caller,
        Action::Replace,
        ops::update::<R>(&st, &caller, &id, &body).await,
    )
}

/// `DELETE /{path}/{id}`
pub(crate) async fn delete<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Reply<Deleted> {
    Reply::new::<R>(
        &caller,
        Action::Delete,
        ops::delete::<R>(&st, &caller, &id).await,
    )
}

/// `GET /{path}/deleted` (soft_delete)
pub(crate) async fn list_deleted<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Reply<Cached<Listing<R>>> {
    Reply::new::<R>(
        &caller,
        Action::Deleted,
        ops::list(R::META, &st, &caller, q.as_deref(), Scope::Deleted)
            .await
            .map(|c| c.map(Listing::retype)),
    )
}

/// `POST /{path}/{id}/action` (actions)
pub(crate) async fn act<R: Actions>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
    JsonObject(body): JsonObject,
) -> Reply<One<R>> {
    let acted = ops::act::<R>(&st, &caller, &id, &body).await;
    Reply::new::<R>(&caller, Action::Act, acted)
}

/// `POST /{path}/{id}/restore` (soft_delete)
pub(crate) async fn restore<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Reply<One<R>> {
    Reply::new::<R>(
        &caller,
        Action::Restore,
        ops::restore::<R>(&st, &caller, &id).await,
    )
}

/// `GET /{path}/slug/{slug}` (slug_lookup)
pub(crate) async fn get_by_slug<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(slug): PathParam,
    RawQuery(q): RawQuery,
) -> Reply<Cached<One<R>>> {
    Reply::new::<R>(
        &caller,
        Action::BySlug,
        ops::get_by_slug(R::META, &st, &caller, &slug, q.as_deref())
            .await
            .map(|c| c.map(One::retype)),
    )
}

/// `GET /{path}/tree` (tree)
pub(crate) async fn tree<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
) -> Reply<Cached<Nodes<R>>> {
    let tree = ops::tree(R::META, &st, &caller).await;
    Reply::new::<R>(&caller, Action::Tree, tree.map(|c| c.map(Nodes::retype)))
}

/// `GET /{path}/{parent_id}/children` (tree)
pub(crate) async fn children<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Reply<Cached<Nodes<R>>> {
    Reply::new::<R>(
        &caller,
        Action::Children,
        ops::children(R::META, &st, &caller, &id)
            .await
            .map(|c| c.map(Nodes::retype)),
    )
}

/// `POST /{path}/bulk` (bulk)
pub(crate) async fn bulk_create<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Reply<BulkCreated<R>> {
    Reply::new::<R>(
        &caller,
        Action::BulkCreate,
        ops::bulk_create::<R>(&st, &caller, &body).await,
    )
}

/// `PATCH /{path}/bulk` (bulk)
pub(crate) async fn bulk_update<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Reply<BulkUpdated> {
    Reply::new::<R>(
        &caller,
        Action::BulkUpdate,
        ops::bulk_update::<R>(&st, &caller, &body).await,
    )
}

/// `DELETE /{path}/bulk` (bulk)
pub(crate) async fn bulk_delete<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Reply<BulkDeleted> {
    Reply::new::<R>(
        &caller,
        Action::BulkDelete,
        ops::bulk_delete::<R>(&st, &caller, &body).await,
    )
}
