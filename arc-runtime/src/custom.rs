//! Routes of the app's own under the framework's rules: a [`CustomRoute`] names its method,
//! path, permission rule (the `#[permissions]` vocabulary), request and answer types; the
//! app mounts it with [`App::route_with`](crate::App::route_with). Its handler gets the
//! caller and a [`RouteContext`] that reads resources' rows within the caller's scope, and it
//! is in the document, the registry and `routes` like any resource route.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::action::Operation;
use crate::app::ArcState;
use crate::auth::{AuthContext, Caller};
use crate::crud::access::{Read, Scope, decide, find, parse_id, scope};
use crate::error::ArcError;
use crate::extract::JsonObject;
use crate::permissions::{self, Access, CheckContext, Rule, condition, evaluate};
use crate::resource::{Resource, ResourceMeta};

type Answer = Pin<Box<dyn Future<Output = Result<Value, ArcError>> + Send>>;
type Call = Arc<dyn Fn(RouteContext, Option<Value>) -> Answer + Send + Sync>;
type SchemaOf = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// A route of the app's own, under a permission rule, documented from its types.
///
/// ```no_run
/// use arc_runtime::{ArcError, CustomRoute, Rule, RouteContext};
/// # use arc_runtime::prelude::*;
/// # #[resource] #[permissions(default = authenticated)]
/// # pub struct Order { #[field(id)] pub id: Uuid, pub total: i64 }
///
/// #[derive(serde::Deserialize, schemars::JsonSchema)]
/// struct Refund { reason: String }
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct Refunded { order: Uuid, amount: i64 }
///
/// async fn refund(ctx: RouteContext, body: Refund) -> Result<Refunded, ArcError> {
///     // The order as the caller may read it: their tenant, owner and rules; else a 404.
///     let order = ctx.find::<Order>(ctx.param("id").unwrap_or_default()).await?;
///     let _ = body.reason;
///     Ok(Refunded { order: order.id, amount: order.total })
/// }
///
/// # fn f(app: arc_runtime::App) -> arc_runtime::App {
/// app.route_with(
///     CustomRoute::post("/orders/{id}/refund", refund)
///         .permission(Rule::Roles(&["admin"]))
///         .of::<Order>()
///         .summary("Refund an order"),
/// )
/// # }
/// ```
#[must_use = "mount it with App::route_with"]
pub struct CustomRoute {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) rule: Rule,
    pub(crate) resource: Option<&'static ResourceMeta>,
    pub(crate) status: StatusCode,
    pub(crate) errors: Vec<u16>,
    pub(crate) request: Option<SchemaOf>,
    pub(crate) response: SchemaOf,
    call: Call,
}

impl std::fmt::Debug for CustomRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomRoute")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

impl CustomRoute {
    /// `GET path`, answered by `handler` with the caller's context.
    pub fn get<O, F, Fut>(path: &'static str, handler: F) -> Self
    where
        F: Fn(RouteContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ArcError>> + Send + 'static,
        O: Serialize + schemars::JsonSchema + 'static,
    {
        Self::without_body(Method::GET, path, handler)
    }

    /// `POST path` without a body (anything sent is not read), answered by `handler` with
    /// the caller's context: for a command the path says all of.
    pub fn post_empty<O, F, Fut>(path: &'static str, handler: F) -> Self
    where
        F: Fn(RouteContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ArcError>> + Send + 'static,
        O: Serialize + schemars::JsonSchema + 'static,
    {
        Self::without_body(Method::POST, path, handler)
    }

    /// `POST path` with a JSON body of type `B`.
    pub fn post<B, O, F, Fut>(path: &'static str, handler: F) -> Self
    where
        F: Fn(RouteContext, B) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ArcError>> + Send + 'static,
        B: DeserializeOwned + schemars::JsonSchema + Send + 'static,
        O: Serialize + schemars::JsonSchema + 'static,
    {
        Self::with_body(Method::POST, path, handler)
    }

    /// `PATCH path` with a JSON body of type `B`.
    pub fn patch<B, O, F, Fut>(path: &'static str, handler: F) -> Self
    where
        F: Fn(RouteContext, B) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ArcError>> + Send + 'static,
        B: DeserializeOwned + schemars::JsonSchema + Send + 'static,
        O: Serialize + schemars::JsonSchema + 'static,
    {
        Self::with_body(Method::PATCH, path, handler)
    }

    fn without_body<O, F, Fut>(method: Method, path: &'static str, handler: F) -> Self
    where
        F: Fn(RouteContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ArcError>> + Send + 'static,
        O: Serialize + schemars::JsonSchema + 'static,
    {
        let call: Call = Arc::new(move |ctx, _| {
            let answer = handler(ctx);
            Box::pin(async move { encode(answer.await?) })
        });
        Self::new(method, path, call, None, schema_of::<O>)
    }

    fn with_body<B, O, F, Fut>(method: Method, path: &'static str, handler: F) -> Self
    where
        F: Fn(RouteContext, B) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ArcError>> + Send + 'static,
        B: DeserializeOwned + schemars::JsonSchema + Send + 'static,
        O: Serialize + schemars::JsonSchema + 'static,
    {
        let handler = Arc::new(handler);
        let call: Call = Arc::new(move |ctx, body| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let body = body.unwrap_or(Value::Null);
                let body: B = serde_json::from_value(body)
                    .map_err(|e| ArcError::bad_request(format!("The body does not fit: {e}")))?;
                encode(handler(ctx, body).await?)
            })
        });
        Self::new(method, path, call, Some(schema_of::<B>), schema_of::<O>)
    }

    fn new(
        method: Method,
        path: &'static str,
        call: Call,
        request: Option<SchemaOf>,
        response: SchemaOf,
    ) -> Self {
        CustomRoute {
            method,
            path,
            summary: "",
            // Closed until the app says who may call it.
            rule: Rule::Deny,
            resource: None,
            status: StatusCode::OK,
            errors: Vec::new(),
            request,
            response,
            call,
        }
    }

    /// Who may call it: a rule of the `#[permissions]` vocabulary (`Rule::Roles(&["admin"])`,
    /// `Rule::Any(&[..])`, [`when!`](crate::when) for a predicate, sync or asynchronous).
    /// Without one, nobody may (a 401 or 403).
    pub fn permission(mut self, rule: Rule) -> Self {
        self.rule = rule;
        self
    }

    /// The resource it acts on: its rule is decided as on `R`'s routes (roles in the active
    /// organization count on a `multi_tenant` resource), a rule that grants some rows only
    /// (`owner`, a row `when(..)`) narrows what [`RouteContext::find`] finds of `R`, and the
    /// document files it under `R`'s tag.
    pub fn of<R: Resource>(mut self) -> Self {
        self.resource = Some(R::META);
        self
    }

    /// One line about it, for the document.
    pub fn summary(mut self, summary: &'static str) -> Self {
        self.summary = summary;
        self
    }

    /// The status of its answer (200 unless said).
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Error statuses its handler answers beside those the framework gives it (400 for a
    /// body that does not fit, 401/403, 404 for a row not found): `.errors(&[409])`.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }

    /// What the document, the registry and `routes` show of it.
    pub(crate) fn doc(&self) -> RouteDoc {
        RouteDoc {
            method: self.method.clone(),
            path: self.path.to_owned(),
            summary: self.summary,
            permission: self.rule.to_string(),
            public: self.rule.is_public(),
            tag: self.resource.map(|meta| meta.collection()),
            request: self.request,
            response: self.response,
            status: self.status,
            errors: self.errors.clone(),
        }
    }

    /// Its handler for the router: the rule, then the body, then the app's code.
    pub(crate) fn method_router(&self) -> axum::routing::MethodRouter<ArcState> {
        let route = Arc::new(Admission {
            rule: self.rule,
            name: self.path,
            resource: self.resource,
            status: self.status,
            call: Arc::clone(&self.call),
            body: self.request.is_some(),
        });
        let handler = move |State(state): State<ArcState>,
                            caller: Caller,
                            params: Option<Path<Vec<(String, String)>>>,
                            request: Request| {
            let route = Arc::clone(&route);
            async move {
                route
                    .serve(state, caller, params.map(|Path(p)| p), request)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            }
        };
        axum::routing::on(
            axum::routing::MethodFilter::try_from(self.method.clone())
                .unwrap_or(axum::routing::MethodFilter::GET),
            handler,
        )
    }
}

/// What the document, the registry and `routes` show of a [`CustomRoute`].
#[derive(Clone)]
pub(crate) struct RouteDoc {
    pub method: Method,
    /// Where it is served (under its base path, if any).
    pub path: String,
    pub summary: &'static str,
    /// Its rule, as written.
    pub permission: String,
    /// Whether anyone may call it (no 401/403).
    pub public: bool,
    /// The tag of its resource (`orders`), if any.
    pub tag: Option<&'static str>,
    pub request: Option<SchemaOf>,
    pub response: SchemaOf,
    pub status: StatusCode,
    pub errors: Vec<u16>,
}

impl std::fmt::Debug for RouteDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.permission)
    }
}

/// A field table for rules not tied to a resource (`owner(..)` cannot be written there).
static APP: ResourceMeta = ResourceMeta::app();

/// What a request must pass, and what answers it.
struct Admission {
    rule: Rule,
    name: &'static str,
    resource: Option<&'static ResourceMeta>,
    status: StatusCode,
    call: Call,
    body: bool,
}

impl Admission {
    async fn serve(
        &self,
        state: ArcState,
        caller: Caller,
        params: Option<Vec<(String, String)>>,
        request: Request,
    ) -> Result<Response, ArcError> {
        let meta = self.resource.unwrap_or(&APP);
        let ctx = CheckContext {
            db: state.db(),
            caller: &caller,
            resource: meta.name,
            operation: self.name,
        };
        let answers = permissions::ask(&self.rule, &ctx).await?;
        // Without a resource, roles are platform roles and no row filter holds (`APP` has
        // no tenant and no fields).
        let rows = match evaluate(&self.rule, &caller, meta, &answers) {
            Access::Full => None,
            // Rows of the route's resource: what `find` may find of it.
            Access::Rows(rows) if self.resource.is_some() => {
                Some(condition(meta, &rows, &caller, &answers))
            }
            Access::Rows(_) | Access::Denied if caller.is_authenticated() => {
                return Err(ArcError::forbidden("You do not have permission to do this"));
            }
            Access::Rows(_) | Access::Denied => {
                return Err(ArcError::unauthorized("Authentication required"));
            }
        };
        let body = if self.body {
            let JsonObject(map) = JsonObject::from_request(request, &state).await?;
            Some(Value::Object(map))
        } else {
            None
        };
        let ctx = RouteContext {
            caller: caller.0,
            state,
            params: params.unwrap_or_default(),
            resource: self.resource,
            rows,
        };
        let data = (self.call)(ctx, body).await?;
        Ok((
            self.status,
            axum::Json(json!({ "success": true, "data": data })),
        )
            .into_response())
    }
}

fn encode<O: Serialize>(answer: O) -> Result<Value, ArcError> {
    serde_json::to_value(answer).map_err(ArcError::internal)
}

fn schema_of<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<T>()
}

/// What a [`CustomRoute`]'s handler sees: the caller, the path's parameters, the database,
/// and the rows of resources it may read.
pub struct RouteContext {
    caller: Arc<AuthContext>,
    state: ArcState,
    params: Vec<(String, String)>,
    resource: Option<&'static ResourceMeta>,
    rows: Option<sea_orm::Condition>,
}

impl std::fmt::Debug for RouteContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteContext")
            .field("caller", &self.caller.user_id)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl RouteContext {
    /// Who calls.
    pub fn caller(&self) -> &AuthContext {
        &self.caller
    }

    /// The path parameter `name` (`{id}` in the route's path), as sent.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find_map(|(k, v)| (k == name).then_some(v.as_str()))
    }

    /// The caller's active organization (`x-organization-id`), if any. `None` also for an
    /// [elevated](crate::AuthContext::elevated) caller acting across every organization,
    /// even where the route's rule asks for a membership: scope queries by it accordingly.
    pub fn org(&self) -> Option<&str> {
        self.caller.org_id.as_deref()
    }

    /// The app's state, for the framework's own routes (its writer, its stores).
    pub(crate) fn state(&self) -> &ArcState {
        &self.state
    }

    /// The database, for the handler's own queries (scope them yourself, or read rows
    /// through [`RouteContext::find`]).
    pub fn db(&self) -> &DatabaseConnection {
        self.state.db()
    }

    /// The live row of `R` whose id is `id`, as the caller may read it on `R`'s own routes
    /// (the get rule, tenant, owner, read hooks) and, when `R` is the route's resource, the
    /// rows its rule grants; a 404 otherwise, the same as for a row that does not exist.
    pub async fn find<R: Resource>(&self, id: &str) -> Result<R::Model, ArcError> {
        let db = self.state.db();
        let decided = decide(R::META, Operation::Get, &self.caller, db).await?;
        let mut rows = decided
            .readable(db, Read::One, scope(R::META, Scope::Live))
            .await?;
        if let (Some(route), Some(granted)) = (self.resource, &self.rows)
            && route.name == R::META.name
        {
            rows = rows.add(granted.clone());
        }
        find::<R, _>(db, parse_id(R::META, id)?, rows).await
    }
}
