//! The route table of a resource: which routes its presets give it, with the handler of each.
//! The actions (method, path, preset, rules: [`Action`]) are one table shared with the macro;
//! this one serves the router, the OpenAPI document, the registry and the CLI's `routes`, so
//! none of them can disagree with another.

use axum::Router;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use super::handlers as h;
use crate::action::{self, Action};
use crate::app::ArcState;
use crate::hooks::Hooks;
use crate::resource::ResourceMeta;

/// One route of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// The HTTP method.
    pub method: Method,
    /// The path template, as the router writes it (`/products/{id}`).
    pub path: String,
    /// What it does.
    pub action: Action,
}

/// Every route of the resource `meta` describes, in a stable order ([`Action::ALL`]'s).
pub fn routes(meta: &ResourceMeta) -> Vec<RouteInfo> {
    Action::served(|preset| meta.presets.has(preset))
        .map(|action| RouteInfo {
            method: action::method(action),
            path: action.path(meta.path),
            action,
        })
        .collect()
}

/// The handler of `action` for the resource `R`.
fn handler<R: Hooks>(action: Action) -> MethodRouter<ArcState> {
    match action {
        Action::List => get(h::list::<R>),
        Action::Create => post(h::create::<R>),
        Action::Get => get(h::get::<R>),
        Action::Update => patch(h::update::<R>),
        Action::Replace => put(h::replace::<R>),
        Action::Delete => delete(h::delete::<R>),
        Action::Deleted => get(h::list_deleted::<R>),
        Action::Restore => post(h::restore::<R>),
        Action::BySlug => get(h::get_by_slug::<R>),
        Action::Tree => get(h::tree::<R>),
        Action::Children => get(h::children::<R>),
        Action::BulkCreate => post(h::bulk_create::<R>),
        Action::BulkUpdate => patch(h::bulk_update::<R>),
        Action::BulkDelete => delete(h::bulk_delete::<R>),
    }
}

/// The router of `R`: every route of [`routes`], each to its generic handler.
pub fn router<R: Hooks>() -> Router<ArcState> {
    let mut table = routes(R::META);
    // One MethodRouter per path: routes of a path are adjacent after a stable sort.
    table.sort_by(|a, b| a.path.cmp(&b.path));
    let mut router = Router::new();
    let mut rest = table.as_slice();
    while let Some(first) = rest.first() {
        let same = rest.iter().take_while(|r| r.path == first.path).count();
        let methods = rest[..same]
            .iter()
            .map(|r| handler::<R>(r.action))
            .reduce(MethodRouter::merge)
            .unwrap_or_default();
        router = router.route(&first.path, methods);
        rest = &rest[same..];
    }
    router
}
