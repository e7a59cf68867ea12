//! The axum handlers of every resource route: each one extracts, then calls [`super::ops`].
//!
//! They are generic over the resource; the macro's `router()` names them per route, so the
//! route table of a resource reads `get(handlers::list::<Product>)`.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use super::ops::{self, Scope};
use crate::app::ArcState;
use crate::auth::Caller;
use crate::extract::{JsonObject, PathParam};
use crate::hooks::Hooks;
use crate::resource::Resource;

/// The response, labelled with the resource and operation for the metrics layer.
fn respond<R: Resource>(
    operation: &'static str,
    result: Result<Response, crate::ArcError>,
) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response.extensions_mut().insert(CrudOperation {
        resource: R::META.name,
        operation,
    });
    response
}

/// Which resource operation produced a response (in its extensions), for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrudOperation {
    /// The resource's name.
    pub resource: &'static str,
    /// `list`, `get`, `create`, `update`, `delete`, `deleted`, `restore`, `tree`,
    /// `bulk_create`, `bulk_update` or `bulk_delete`.
    pub operation: &'static str,
}

/// `GET /{path}`
pub async fn list<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Response {
    respond::<R>(
        "list",
        ops::list::<R>(&st, &caller, q.as_deref(), Scope::Live).await,
    )
}

/// `GET /{path}/{id}`
pub async fn get<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Response {
    respond::<R>("get", ops::get::<R>(&st, &caller, &id).await)
}

/// `POST /{path}`
pub async fn create<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Response {
    respond::<R>("create", ops::create::<R>(&st, &caller, &body).await)
}

/// `PATCH /{path}/{id}` and `PUT /{path}/{id}`
pub async fn update<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
    JsonObject(body): JsonObject,
) -> Response {
    respond::<R>("update", ops::update::<R>(&st, &caller, &id, &body).await)
}

/// `DELETE /{path}/{id}`
pub async fn delete<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Response {
    respond::<R>("delete", ops::delete::<R>(&st, &caller, &id).await)
}

/// `GET /{path}/deleted` (soft_delete)
pub async fn list_deleted<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Response {
    respond::<R>(
        "deleted",
        ops::list::<R>(&st, &caller, q.as_deref(), Scope::Deleted).await,
    )
}

/// `POST /{path}/{id}/restore` (soft_delete)
pub async fn restore<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Response {
    respond::<R>("restore", ops::restore::<R>(&st, &caller, &id).await)
}

/// `GET /{path}/slug/{slug}` (slug_lookup)
pub async fn get_by_slug<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(slug): PathParam,
) -> Response {
    respond::<R>("get", ops::get_by_slug::<R>(&st, &caller, &slug).await)
}

/// `GET /{path}/tree` (tree)
pub async fn tree<R: Resource>(State(st): State<ArcState>, caller: Caller) -> Response {
    respond::<R>("tree", ops::tree::<R>(&st, &caller).await)
}

/// `GET /{path}/{parent_id}/children` (tree)
pub async fn children<R: Resource>(
    State(st): State<ArcState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> Response {
    respond::<R>("tree", ops::children::<R>(&st, &caller, &id).await)
}

/// `POST /{path}/bulk` (bulk)
pub async fn bulk_create<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Response {
    respond::<R>(
        "bulk_create",
        ops::bulk_create::<R>(&st, &caller, &body).await,
    )
}

/// `PATCH /{path}/bulk` (bulk)
pub async fn bulk_update<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Response {
    respond::<R>(
        "bulk_update",
        ops::bulk_update::<R>(&st, &caller, &body).await,
    )
}

/// `DELETE /{path}/bulk` (bulk)
pub async fn bulk_delete<R: Hooks>(
    State(st): State<ArcState>,
    caller: Caller,
    JsonObject(body): JsonObject,
) -> Response {
    respond::<R>(
        "bulk_delete",
        ops::bulk_delete::<R>(&st, &caller, &body).await,
    )
}
