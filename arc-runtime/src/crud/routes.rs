//! The route table of a resource: which routes its presets give it, with the handler of each.
//! The actions (method, path, preset, rules: [`Action`]) are one table shared with the macro;
//! this one serves the router, the OpenAPI document, the registry and the CLI's `routes`, so
//! none of them can disagree with another.

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use schemars::SchemaGenerator;

use super::handlers::{self as h, Reply};
use super::response::Outcome;
use crate::action::{self, Action};
use crate::app::ArcState;
use crate::auth::Caller;
use crate::extract::{JsonObject, PathParam};
use crate::hooks::Actions;
use crate::plugins::idempotency;
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

/// Whether the resource `meta` describes serves `action`: always, unless the route is a
/// preset's and the resource does not declare that preset. A `const fn`, so [`endpoint`]
/// asks it at compile time.
const fn serves(meta: &ResourceMeta, action: Action) -> bool {
    match action.preset() {
        Some(preset) => meta.presets.has(preset),
        None => true,
    }
}

/// Every route of the resource `meta` describes, in a stable order ([`Action::ALL`]'s).
pub(crate) fn routes(meta: &ResourceMeta) -> Vec<RouteInfo> {
    Action::ALL
        .into_iter()
        .filter(|&action| serves(meta, action))
        .map(|action| RouteInfo {
            method: action::method(action),
            path: action.path(meta.path),
            action,
        })
        .collect()
}

/// A handler function, and the outcome it answers with: for `F: Fn(..) -> Future<Output =
/// Reply<O>>`, `O`. The document describes a route by asking its handler's type, as
/// dropshot's `ApiEndpoint` does, so a route cannot answer one thing and document another.
pub(crate) trait Answers<Args> {
    /// What the handler answers on success.
    type Outcome: Outcome;
}

macro_rules! answers {
    ($($arg:ident),*) => {
        impl<F, Fut, O, $($arg,)*> Answers<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut,
            Fut: std::future::Future<Output = Reply<O>>,
            O: Outcome,
        {
            type Outcome = O;
        }
    };
}
answers!(A, B);
answers!(A, B, C);
answers!(A, B, C, D);

/// What a route answers on success, as the document states it.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body's schema (named types land in the generator's definitions).
    pub schema: schemars::Schema,
    /// The headers it carries: `(name, description)`.
    pub headers: &'static [(&'static str, &'static str)],
}

/// One route's handler, and what it answers.
struct Endpoint {
    method: MethodRouter<ArcState>,
    answer: fn(&mut SchemaGenerator) -> Answer,
}

/// What a route's handler gives axum: its future, boxed. The handlers of one shape (their
/// extractors) then have one type, a function pointer, so axum's handler and tower's service
/// machinery, and the proofs that their futures are `Send`, compile once for all of them
/// rather than once per route and resource.
type Boxed = BoxFuture<'static, Response>;

impl Endpoint {
    /// `boxed`, the handler `typed` with its future boxed, on `method`; its answer read from
    /// the type of `typed` (which is only named, never called, here).
    fn new<H, A, B, T>(method: &Method, _typed: H, boxed: B) -> Self
    where
        H: Answers<A>,
        B: Handler<T, ArcState>,
        T: 'static,
    {
        fn answer<O: Outcome>(generator: &mut SchemaGenerator) -> Answer {
            Answer {
                status: O::STATUS,
                schema: generator.subschema_for::<O>(),
                headers: O::HEADERS,
            }
        }
        let filter = MethodFilter::try_from(method.clone()).unwrap_or(MethodFilter::GET);
        Self {
            method: on(filter, boxed),
            answer: answer::<<H as Answers<A>>::Outcome>,
        }
    }
}

/// The handler of `route` for the resource `R`; `None` for a route `R` does not serve. Each
/// arm asks [`serves`] in a constant, so a resource's build instantiates the handlers of the
/// routes it serves and no others.
fn endpoint<R: Actions>(route: &RouteInfo) -> Option<Endpoint> {
    let m = &route.method;
    // `action`'s handler, with the extractors it takes after `State` and `Caller`, when `R`
    // serves it; its future boxed (see [`Boxed`]).
    macro_rules! route {
        ($action:ident, $handler:expr $(, $arg:ident: $ty:ty)*) => {
            if const { serves(R::META, Action::$action) } {
                Some(Endpoint::new(
                    m,
                    $handler,
                    (|state: State<ArcState>, caller: Caller $(, $arg: $ty)*| -> Boxed {
                        $handler(state, caller $(, $arg)*)
                            .map(IntoResponse::into_response)
                            .boxed()
                    }) as fn(State<ArcState>, Caller $(, $ty)*) -> Boxed,
                ))
            } else {
                None
            }
        };
    }
    match route.action {
        Action::List => route!(List, h::list::<R>, query: RawQuery),
        Action::Create => route!(Create, h::create::<R>, body: JsonObject),
        Action::Get => route!(Get, h::get::<R>, id: PathParam, query: RawQuery),
        Action::Update => route!(Update, h::update::<R>, id: PathParam, body: JsonObject),
        Action::Replace => route!(Replace, h::replace::<R>, id: PathParam, body: JsonObject),
        Action::Delete => route!(Delete, h::delete::<R>, id: PathParam),
        Action::Deleted => route!(Deleted, h::list_deleted::<R>, query: RawQuery),
        Action::Restore => route!(Restore, h::restore::<R>, id: PathParam),
        Action::BySlug => route!(BySlug, h::get_by_slug::<R>, slug: PathParam, query: RawQuery),
        Action::Tree => route!(Tree, h::tree::<R>),
        Action::Children => route!(Children, h::children::<R>, id: PathParam),
        Action::BulkCreate => route!(BulkCreate, h::bulk_create::<R>, body: JsonObject),
        Action::BulkUpdate => route!(BulkUpdate, h::bulk_update::<R>, body: JsonObject),
        Action::BulkDelete => route!(BulkDelete, h::bulk_delete::<R>, body: JsonObject),
        Action::Act => route!(Act, h::act::<R>, id: PathParam, body: JsonObject),
    }
}

/// `method`, behind the idempotency middleware when `route` changes data on a resource that
/// declares `idempotency`.
fn with_idempotency(
    meta: &'static ResourceMeta,
    route: &RouteInfo,
    method: MethodRouter<ArcState>,
) -> MethodRouter<ArcState> {
    match meta.idempotency {
        Some(declared) if route.action.mutates() => {
            let state = idempotency::Route {
                meta,
                action: route.action,
                ttl: declared.ttl,
            };
            method.layer(from_fn_with_state(state, idempotency::layer))
        }
        _ => method,
    }
}

/// What `route` of `R` answers on success, from its handler's type; `None` for a route `R`
/// does not serve (never one of [`routes`]).
pub(crate) fn answer<R: Actions>(
    route: &RouteInfo,
    generator: &mut SchemaGenerator,
) -> Option<Answer> {
    endpoint::<R>(route).map(|endpoint| (endpoint.answer)(generator))
}

/// The router of `R`: every route of [`routes`], each to its handler (boxing its future);
/// those that
/// read a body (the writes) take at most `body_limit` bytes of it. The reads cross no body
/// limit layer at all: they read none.
pub(crate) fn router<R: Actions>(body_limit: usize) -> Router<ArcState> {
    mount(R::META, endpoint::<R>, body_limit)
}

/// [`router`]'s work, compiled once for every resource: `meta`'s routes, each to the
/// handler `endpoint` gives it.
fn mount(
    meta: &'static ResourceMeta,
    endpoint: fn(&RouteInfo) -> Option<Endpoint>,
    body_limit: usize,
) -> Router<ArcState> {
    let mut table = routes(meta);
    // One MethodRouter per path: routes of a path are adjacent after a stable sort.
    table.sort_by(|a, b| a.path.cmp(&b.path));
    let mut router = Router::new();
    let mut rest = table.as_slice();
    while let Some(first) = rest.first() {
        let same = rest.iter().take_while(|r| r.path == first.path).count();
        let methods = rest[..same]
            .iter()
            .filter_map(|r| {
                let method = with_idempotency(meta, r, endpoint(r)?.method);
                Some(if r.action.mutates() {
                    method.layer(DefaultBodyLimit::max(body_limit))
                } else {
                    method
                })
            })
            .reduce(MethodRouter::merge)
            .unwrap_or_default();
        router = router.route(&first.path, methods);
        rest = &rest[same..];
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzz::Thing;
    use arc_runtime::prelude::*;

    /// A resource with every preset that adds routes, and an action.
    #[resource(presets(soft_delete, slug_lookup, tree, bulk), actions(touch))]
    #[permissions(default = public, touch = public)]
    #[allow(dead_code, reason = "a fixture: its route table is read, not its rows")]
    pub(crate) struct Node {
        #[field(id)]
        pub id: Uuid,
        pub slug: String,
        pub parent_id: Option<Uuid>,
        #[field(system)]
        pub deleted_at: Option<DateTime<Utc>>,
    }

    impl Actions for Node {
        type Action = NodeAction;

        async fn act(
            _: &WriteContext<'_>,
            _: &node_entity::Model,
            _: NodeAction,
            _: &mut node_entity::ActiveModel,
        ) -> Result<(), ArcError> {
            Ok(())
        }
    }

    /// The actions `R` has a handler for.
    fn handled<R: Actions>() -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|&action| {
                let route = RouteInfo {
                    method: action::method(action),
                    path: action.path(R::META.path),
                    action,
                };
                endpoint::<R>(&route).is_some()
            })
            .collect()
    }

    fn listed(meta: &ResourceMeta) -> Vec<Action> {
        routes(meta).into_iter().map(|route| route.action).collect()
    }

    #[test]
    fn a_resource_has_a_handler_for_each_route_it_serves_and_no_other() {
        assert_eq!(handled::<Node>(), Action::ALL);
        assert_eq!(listed(Node::META), Action::ALL);
        let plain = handled::<Thing>();
        assert_eq!(plain, listed(Thing::META));
        assert_eq!(plain.len(), 6);
        assert!(plain.iter().all(|action| action.preset().is_none()));
    }
}
