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
use crate::action::{self, Action, RoutePreset};
use crate::app::ArcState;
use crate::auth::Caller;
use crate::extract::{JsonObject, PathParam};
use crate::hooks::Hooks;
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

/// Every route of the resource `meta` describes, in a stable order ([`Action::ALL`]'s).
pub(crate) fn routes(meta: &ResourceMeta) -> Vec<RouteInfo> {
    Action::served(|preset| meta.presets.has(preset))
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

/// The handler of `route` for the resource `R`; `None` for a route of a preset `R` does not
/// declare. Each preset's arm is guarded by a constant, so a resource's build instantiates
/// the handlers it serves and no others (a route `R` lacks is not compiled for it at all).
fn endpoint<R: Hooks>(route: &RouteInfo) -> Option<Endpoint> {
    let m = &route.method;
    // The handler, with the extractors after `State` and `Caller` that it takes.
    macro_rules! route {
        ($handler:expr $(, $arg:ident: $ty:ty)*) => {
            Endpoint::new(
                m,
                $handler,
                (|state: State<ArcState>, caller: Caller $(, $arg: $ty)*| -> Boxed {
                    Box::pin($handler(state, caller $(, $arg)*).map(IntoResponse::into_response))
                }) as fn(State<ArcState>, Caller $(, $ty)*) -> Boxed,
            )
        };
    }
    macro_rules! preset {
        ($preset:ident, $($route:tt)*) => {
            if const { R::META.presets.has(RoutePreset::$preset) } {
                Some(route!($($route)*))
            } else {
                None
            }
        };
    }
    match route.action {
        Action::List => Some(route!(h::list::<R>, query: RawQuery)),
        Action::Create => Some(route!(h::create::<R>, body: JsonObject)),
        Action::Get => Some(route!(h::get::<R>, id: PathParam)),
        Action::Update => Some(route!(h::update::<R>, id: PathParam, body: JsonObject)),
        Action::Replace => Some(route!(h::replace::<R>, id: PathParam, body: JsonObject)),
        Action::Delete => Some(route!(h::delete::<R>, id: PathParam)),
        Action::Deleted => preset!(SoftDelete, h::list_deleted::<R>, query: RawQuery),
        Action::Restore => preset!(SoftDelete, h::restore::<R>, id: PathParam),
        Action::BySlug => preset!(SlugLookup, h::get_by_slug::<R>, slug: PathParam),
        Action::Tree => preset!(Tree, h::tree::<R>),
        Action::Children => preset!(Tree, h::children::<R>, id: PathParam),
        Action::BulkCreate => preset!(Bulk, h::bulk_create::<R>, body: JsonObject),
        Action::BulkUpdate => preset!(Bulk, h::bulk_update::<R>, body: JsonObject),
        Action::BulkDelete => preset!(Bulk, h::bulk_delete::<R>, body: JsonObject),
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

/// What `route` of `R` answers on success, from its handler's type.
pub(crate) fn answer<R: Hooks>(
    route: &RouteInfo,
    generator: &mut SchemaGenerator,
) -> Option<Answer> {
    endpoint::<R>(route).map(|endpoint| (endpoint.answer)(generator))
}

/// The router of `R`: every route of [`routes`], each to its generic handler; those that
/// read a body (the writes) take at most `body_limit` bytes of it. The reads cross no body
/// limit layer at all: they read none.
pub(crate) fn router<R: Hooks>(body_limit: usize) -> Router<ArcState> {
    let mut table = routes(R::META);
    // One MethodRouter per path: routes of a path are adjacent after a stable sort.
    table.sort_by(|a, b| a.path.cmp(&b.path));
    let mut router = Router::new();
    let mut rest = table.as_slice();
    while let Some(first) = rest.first() {
        let same = rest.iter().take_while(|r| r.path == first.path).count();
        let methods = rest[..same]
            .iter()
            .filter_map(|r| {
                let method = with_idempotency(R::META, r, endpoint::<R>(r)?.method);
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
