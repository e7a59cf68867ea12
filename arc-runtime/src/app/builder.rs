//! The builder's setters: resources, routes, plugins and the settings a preset starts from.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::MethodRouter;
use sea_orm::DatabaseConnection;

use super::{App, ArcState, MetricsChoice};
use crate::error::ArcError;
use crate::migration;
use crate::plugins::health::Health;
use crate::plugins::hygiene::{Cors, SecurityHeaders};
use crate::plugins::metrics::Metrics;
use crate::preset::Preset;
use crate::query::{CursorKey, QueryLimits};

impl App {
    /// An application over `db`, with no resource yet.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            routes: Router::new(),
            migrator: migration::Migrator::default(),
            resources: Vec::new(),
            custom_routes: Vec::new(),
            app_routes: Vec::new(),
            title: "arc app".to_owned(),
            version: "0.1.0".to_owned(),
            docs: true,
            cursor_key: None,
            limits: QueryLimits::default(),
            body_limit: App::DEFAULT_BODY_LIMIT,
            auth: None,
            organizations: None,
            noted: Vec::new(),
            health: Health::new(),
            metrics: MetricsChoice::default(),
            timeout: Some(App::DEFAULT_TIMEOUT),
            max_in_flight: None,
            drain: App::DEFAULT_DRAIN,
            preset: Preset::Development,
            cors: None,
            security_headers: Some(SecurityHeaders { hsts: false }),
            compression: false,
            expose_causes: false,
            etag: true,
            rate_limit: None,
            steps: crate::plugins::steps::Steps::default(),
            layers: Vec::new(),
            versioning: None,
            on_shutdown: Vec::new(),
            events: None,
            audit: None,
            cache: None,
            cache_off: false,
            idempotency: None,
            sessions: None,
            distributed: false,
            instances: 1,
            #[cfg(feature = "webhooks")]
            webhooks: None,
            #[cfg(feature = "mcp")]
            mcp: None,
            #[cfg(feature = "jobs")]
            jobs: None,
        }
    }

    /// Declares that several instances of this app serve together (behind one load
    /// balancer, on one database): it then refuses to start ([`App::problems`]) while any
    /// plugin that shares state keeps it in this process (the query cache, idempotency keys,
    /// rate limits, token revocation, the events' transport, the audit trail's store) or
    /// without a cursor secret, naming each one.
    pub fn distributed(mut self) -> Self {
        self.distributed = true;
        self
    }

    /// Declares how many instances serve this app (the shop reads `ARC_INSTANCES`). Under
    /// a deployed preset (production, edge), more than one is [`App::distributed`].
    pub fn instances(mut self, n: usize) -> Self {
        self.instances = n;
        self
    }

    /// Keeps the query cache with these settings (see [`Cache`](crate::config::Cache)):
    /// where its entries and versions live. On by default (in memory, 64 MiB) as soon as a
    /// resource declares `cache`; give it a shared store (Redis) when several instances serve
    /// the app.
    pub fn cache(mut self, cache: crate::cache::Cache) -> Self {
        self.cache = Some(cache);
        self.cache_off = false;
        self
    }

    /// Turns the query cache off, whatever the resources declare: every read asks the
    /// database (and answers carry no `x-cache`).
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self.cache_off = true;
        self
    }

    /// Idempotency keys with these settings (see
    /// [`Idempotency`](crate::config::Idempotency)): where keys live, how long a lease
    /// holds. On by default (in memory) as soon as a resource declares `idempotency`; its
    /// mutating routes then take an `idempotency-key` header.
    pub fn idempotency(mut self, idempotency: crate::plugins::idempotency::Idempotency) -> Self {
        self.idempotency = Some(idempotency);
        self
    }

    /// Keeps the audit trail with these settings (see [`Audit`](crate::config::Audit)):
    /// each write of an `audited` resource leaves its entries in it, in the write's
    /// transaction, and `GET /_audit` reads them. On by default (in the app's database) as
    /// soon as a resource is `audited`.
    pub fn audit(mut self, audit: crate::audit::Audit) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Turns domain events on with these settings (see [`Events`](crate::config::Events)):
    /// each write of a resource records its event in the outbox, in its transaction; the
    /// relay publishes them to the subscribers ([`App::on`]) and to `GET /events/stream`.
    /// Subscribers given to [`App::on`] before this call are kept.
    pub fn events(mut self, events: crate::events::Events) -> Self {
        let before = self
            .events
            .take()
            .map(|e| e.subscribers)
            .unwrap_or_default();
        let mut events = events;
        events.subscribers.splice(0..0, before);
        self.events = Some(events);
        self
    }

    /// Runs `handler` for each event whose type matches `pattern` (`product.*`), turning
    /// events on with their defaults if they are off (see [`Events::on`](crate::config::Events::on)).
    ///
    /// ```no_run
    /// # fn f(app: arc_runtime::App) -> arc_runtime::App {
    /// app.on("order.created", |event| async move {
    ///     println!("new order {:?} in {:?}", event.meta.resource_id, event.meta.organization_id);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// # }
    /// ```
    pub fn on<F, Fut, E>(mut self, pattern: &str, handler: F) -> Self
    where
        F: Fn(std::sync::Arc<crate::events::Event>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        let events = self.events.take().unwrap_or_default();
        self.events = Some(events.on(pattern, handler));
        self
    }

    /// Runs `hook` at shutdown, after in-flight requests drained and before the database pool
    /// closes (flush buffers, leave a cluster), each within [`App::SHUTDOWN_HOOK_TIMEOUT`], in the
    /// order given.
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_shutdown.push(Box::new(move || Box::pin(hook())));
        self
    }

    /// Serves these API versions (see [`Versioning`](crate::config::Versioning)); off by default. With a
    /// path prefix, the resource routes are mounted under `/v{version}` for each one.
    pub fn versioning(mut self, versions: crate::plugins::versioning::Versioning) -> Self {
        self.versioning = Some(versions);
        self
    }

    /// A guard run before every API handler (after authentication; not on health, metrics
    /// and the documents): an error answers the request, e.g. refusing writes during
    /// maintenance.
    pub fn guard(
        mut self,
        guard: impl Fn(&crate::plugins::steps::StepContext<'_>) -> Result<(), ArcError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.steps.guards.push(Arc::new(guard));
        self
    }

    /// A transform of every successful JSON answer (it is parsed and written again, so keep
    /// it for what needs it).
    pub fn transform(
        mut self,
        transform: impl Fn(&crate::plugins::steps::StepContext<'_>, &mut serde_json::Value)
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.steps.transforms.push(Arc::new(transform));
        self
    }

    /// Any tower layer around the API's handlers, inside authentication (so it can read the
    /// caller; health, metrics and the documents are outside it): an intercept, e.g.
    /// `axum::middleware::from_fn(..)`. Layers given later wrap those given earlier.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request, Error = std::convert::Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.layers
            .push(Box::new(move |router| router.layer(layer)));
        self
    }

    /// Limits each key's requests to the API (see [`RateLimit`](crate::config::RateLimit)); off by
    /// default. Health, metrics and the documents are not limited.
    pub fn rate_limit(mut self, limit: crate::plugins::rate_limit::RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// No rate limit (the default).
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// ETags on `200` reads and `304` for a matching `If-None-Match` (on by default).
    pub fn etag(mut self, on: bool) -> Self {
        self.etag = on;
        self
    }

    /// Applies a preset's defaults (see [`Preset`]'s table); settings made afterwards win.
    pub fn preset(mut self, preset: Preset) -> Self {
        let defaults = preset.defaults();
        self.preset = preset;
        self.expose_causes = defaults.expose_causes;
        self.security_headers = Some(SecurityHeaders {
            hsts: defaults.hsts,
        });
        self.compression = defaults.compression;
        self.cors = defaults.cors_any_origin.then(Cors::any);
        self.timeout = defaults.timeout;
        self.max_in_flight = defaults.max_in_flight;
        self.body_limit = defaults.body_limit;
        self
    }

    /// Cross-origin rules (the development preset allows any origin; the others none).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// No CORS headers: browsers keep to the same origin.
    pub fn without_cors(mut self) -> Self {
        self.cors = None;
        self
    }

    /// Security headers on every response (on by default).
    pub fn security_headers(mut self, headers: SecurityHeaders) -> Self {
        self.security_headers = Some(headers);
        self
    }

    /// No security headers (a proxy in front sets them).
    pub fn without_security_headers(mut self) -> Self {
        self.security_headers = None;
        self
    }

    /// Gzip responses for clients that accept it.
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// Mounts an app-defined route beside the resources'.
    pub fn route(mut self, path: &str, route: MethodRouter<ArcState>) -> Self {
        self.routes = self.routes.route(path, route);
        self.custom_routes.push(path.to_owned());
        self
    }

    /// Mounts a route of the app's own under the framework's rules ([`CustomRoute`]): its
    /// permission is checked before its handler runs, and it is in the OpenAPI document
    /// (with its request and answer types), the registry and `routes`.
    ///
    /// [`CustomRoute`]: crate::CustomRoute
    pub fn route_with(self, route: crate::CustomRoute) -> Self {
        self.route_under("", route)
    }

    /// [`App::route_with`] under the base path `base`, one [`mount_base`] accepts.
    pub(crate) fn route_under(mut self, base: &str, route: crate::CustomRoute) -> Self {
        let mut doc = route.doc();
        if base.is_empty() {
            self.routes = self.routes.route(route.path, route.method_router());
        } else {
            doc.path = format!("{base}{}", doc.path);
            let nested = Router::new().route(route.path, route.method_router());
            self.routes = self.routes.merge(Router::new().nest(base, nested));
        }
        self.app_routes.push(doc);
        self
    }

    /// The title and version the OpenAPI document and the registry give the app.
    pub fn info(mut self, title: impl Into<String>, version: impl Into<String>) -> Self {
        self.title = title.into();
        self.version = version.into();
        self
    }

    /// Serves `/_docs`, `/_docs/openapi.json` and `/_resources` (on by default).
    pub fn docs(mut self, on: bool) -> Self {
        self.docs = on;
        self
    }

    /// Readiness checks beside the built-in database ping (see [`Health`]).
    pub fn health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }

    /// Prometheus metrics at `/_metrics` with these settings (on by default).
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = MetricsChoice::Given(metrics);
        self
    }

    /// No metrics, and no `/_metrics`.
    pub fn without_metrics(mut self) -> Self {
        self.metrics = MetricsChoice::Off;
        self
    }

    /// The longest a request may take before it is answered 503 (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No request timeout.
    pub fn without_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Sheds load above `n` requests in flight: the excess is answered 503 with
    /// `Retry-After` at once instead of queueing (default: no limit; production 1024).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = Some(n);
        self
    }

    /// No limit on requests in flight: none is shed.
    pub fn without_max_in_flight(mut self) -> Self {
        self.max_in_flight = None;
        self
    }

    /// How long in-flight requests get to finish at shutdown (default 20 s).
    pub fn drain_timeout(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    /// Mounts a resource's routes and registers its migration.
    pub fn resource<R: crate::hooks::Actions>(self) -> Self {
        self.resource_under::<R>("")
    }

    /// [`App::resource`] with its routes under the base path `base`, one [`mount_base`]
    /// accepts.
    pub(crate) fn resource_under<R: crate::hooks::Actions>(mut self, base: &str) -> Self {
        self.migrator.add::<R>();
        self.resources.push(crate::openapi::Registered {
            meta: R::META,
            base: base.into(),
            answer: crate::crud::routes::answer::<R>,
            router: crate::crud::routes::router::<R>,
            unreadable: crate::resource::column_order::<R>,
            actions: crate::openapi::action_body::<R::Action>,
        });
        self
    }

    /// Adds a migration of the app's own (a data change, or a schema change
    /// [`Migrator::plan`](crate::Migrator::plan) refuses to make by itself), run in the order
    /// of the builder's calls among the resources' migrations: one added after
    /// `.resource::<Product>()` finds the products table there. Recorded by its name, like
    /// sea-orm-migration's; run in one transaction on every backend unless its
    /// `use_transaction` says `Some(false)`.
    ///
    /// ```no_run
    /// use arc_runtime::sea_orm_migration::prelude::*;
    /// use arc_runtime::sea_orm_migration::async_trait;
    ///
    /// #[derive(DeriveMigrationName)]
    /// struct Migration; // named after its module: m20261204_000001_backfill_weight
    ///
    /// #[async_trait::async_trait]
    /// impl MigrationTrait for Migration {
    ///     async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
    ///         let db = manager.get_connection();
    ///         db.execute_unprepared("UPDATE products SET weight = 1 WHERE weight IS NULL")
    ///             .await?;
    ///         Ok(())
    ///     }
    /// }
    /// # fn f(app: arc_runtime::App) -> arc_runtime::App {
    /// app.migration(Migration)
    /// # }
    /// ```
    pub fn migration(
        mut self,
        migration: impl sea_orm_migration::MigrationTrait + 'static,
    ) -> Self {
        self.migrator.add_migration(migration);
        self
    }

    /// Signs keyset cursors with `secret`; instances behind one load balancer must share it.
    /// Without it, a random key is made at start and cursors die with the process.
    pub fn cursor_secret(mut self, secret: &[u8]) -> Self {
        self.cursor_key = Some(CursorKey::new(secret));
        self
    }

    /// Authenticates every request with `auth`; handlers read the caller as an
    /// [`AuthContext`](crate::auth::AuthContext). Without it every caller is anonymous.
    pub fn auth(mut self, auth: crate::auth::Auth) -> Self {
        self.auth = Some(auth);
        self.members_in_database();
        self
    }

    /// Serves organizations and their members as resources ([`crate::orgs`]):
    /// `/organizations[/{id}]` (a caller creates one and is its first owner; members read it,
    /// owners and admins change it, owners delete it; `{id}` selects the organization as
    /// `x-organization-id` would) and `/organizations/{orgId}/members[/{id}]` (members read
    /// them; owners and admins manage them; only owners make or unmake owners; the last
    /// owner stays; a membership is addressed by its own id) with its invitations
    /// (`/organizations/{orgId}/invitations`, answered at
    /// `/organizations/invitations/{id}/accept` or `/reject`). Each caller's
    /// organization and role are then read from that table on every request
    /// ([`Memberships::sql`](crate::config::Memberships::sql), unless [`Auth::memberships`]
    /// gave another of its kind, with a cache say), so a change holds on the next request.
    /// [`App::organizations_under`] serves them under a base path.
    ///
    /// [`Auth::memberships`]: crate::config::Auth::memberships
    ///
    /// ```
    /// # use arc_runtime::App;
    /// # use arc_runtime::config::{Auth, JwtAuthenticator, JwtKeys};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = arc_runtime::connect("sqlite::memory:").await?;
    /// let jwt = JwtAuthenticator::new(JwtKeys::hs256(b"a secret of at least 32 bytes, not this")?);
    /// let app = App::new(db).auth(Auth::new().with(jwt)).organizations();
    /// assert!(app.problems().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn organizations(self) -> Self {
        self.organizations_under("")
    }

    /// [`App::organizations`] under the base path `base`: `organizations_under("/api")`
    /// serves `/api/organizations[/{id}]`, `/api/organizations/{orgId}/members[/{id}]` and
    /// the invitations' routes there (arc's default `basePath`, `/api/organizations`). The
    /// document, the registry, `routes` and the `Location` of a new row say the same. A
    /// base is `/` followed by segments of letters, digits, `-`, `_` and `.` (a trailing
    /// `/` is dropped); another keeps the app from starting ([`App::problems`]).
    ///
    /// ```
    /// # use arc_runtime::App;
    /// # use arc_runtime::config::{Auth, JwtAuthenticator, JwtKeys};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = arc_runtime::connect("sqlite::memory:").await?;
    /// let jwt = JwtAuthenticator::new(JwtKeys::hs256(b"a secret of at least 32 bytes, not this")?);
    /// let app = App::new(db).auth(Auth::new().with(jwt)).organizations_under("/api");
    /// assert!(app.openapi()?["paths"].get("/api/organizations/{orgId}/members").is_some());
    /// # Ok(()) }
    /// ```
    pub fn organizations_under(mut self, base: &str) -> Self {
        let base = base.strip_suffix('/').unwrap_or(base);
        if self.organizations.is_some() {
            self.noted
                .push("App::organizations: the organization routes are mounted twice".to_owned());
            return self;
        }
        if let Err(problem) = mount_base(base) {
            self.noted
                .push(format!("App::organizations_under: {problem}"));
            return self;
        }
        let base: Arc<str> = base.into();
        self.organizations = Some(base.clone());
        self.members_in_database();
        let mut app = self
            .resource_under::<crate::orgs::Organization>(&base)
            .resource_under::<crate::orgs::Member>(&base)
            .resource_under::<crate::orgs::Invitation>(&base);
        for route in crate::orgs::invitation_routes() {
            app = app.route_under(&base, route);
        }
        app
    }

    /// Webhooks (see [`webhooks`](crate::webhooks)): mounts `/webhooks` (an organization's
    /// subscriptions) and `/webhook-deliveries` (their delivery log) for the owners and
    /// admins of the active organization, and delivers each organization's events to its
    /// subscriptions, signed as arc signs them. Turns events on with their defaults if they
    /// are off (deliveries come from the outbox). Mounting them twice keeps the app from
    /// starting ([`App::problems`]).
    ///
    /// ```
    /// # use arc_runtime::App;
    /// use arc_runtime::webhooks::Webhooks;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = arc_runtime::connect("sqlite::memory:").await?;
    /// let app = App::new(db).webhooks(Webhooks::new());
    /// assert!(app.openapi()?["paths"].get("/webhooks/{id}").is_some());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "webhooks")]
    pub fn webhooks(mut self, webhooks: crate::webhooks::Webhooks) -> Self {
        if self.webhooks.is_some() {
            self.noted
                .push("App::webhooks: the webhook routes are mounted twice".to_owned());
            return self;
        }
        self.webhooks = Some(webhooks);
        self.events = Some(self.events.take().unwrap_or_default());
        let mut app = self
            .resource::<crate::webhooks::Webhook>()
            .resource::<crate::webhooks::WebhookDelivery>();
        app.migrator
            .add_migration(crate::webhooks::DeliveriesMigration);
        app
    }

    /// Serves the resources as MCP tools (see [`mcp`](crate::mcp)) at `/mcp`: each tool
    /// call runs as a request of the MCP request's caller, under the same rules. A path
    /// that is not one, or a second call, keeps the app from starting ([`App::problems`]).
    ///
    /// ```
    /// # use arc_runtime::App;
    /// use arc_runtime::mcp::Mcp;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = arc_runtime::connect("sqlite::memory:").await?;
    /// let app = App::new(db).mcp(Mcp::new().allowed_hosts(["api.example.com"]));
    /// assert!(app.problems().is_empty());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "mcp")]
    pub fn mcp(mut self, mcp: crate::mcp::Mcp) -> Self {
        let problems = mcp.problems();
        if self.mcp.is_some() {
            self.noted
                .push("App::mcp: the MCP endpoint is mounted twice".to_owned());
        } else if !problems.is_empty() {
            self.noted.extend(problems);
        } else {
            self.mcp = Some(mcp);
        }
        self
    }

    /// Background jobs (see [`jobs`](crate::jobs)): runs the job types of `jobs` on workers
    /// beside the app, enqueues their schedules and event triggers (turning events on with
    /// their defaults if a trigger needs them), serves `GET /_jobs` to platform admins, and at
    /// shutdown lets running jobs finish within the window. Given twice, or with a bad
    /// schedule, keeps the app from starting ([`App::problems`]).
    ///
    /// ```
    /// # use arc_runtime::App;
    /// use arc_runtime::jobs::Jobs;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = arc_runtime::connect("sqlite::memory:").await?;
    /// let app = App::new(db).jobs(Jobs::new().concurrency(4));
    /// assert!(app.openapi()?["paths"].get("/_jobs").is_some());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "jobs")]
    pub fn jobs(mut self, jobs: crate::jobs::Jobs) -> Self {
        if self.jobs.is_some() {
            self.noted
                .push("App::jobs: the jobs are given twice".to_owned());
            return self;
        }
        self.noted.extend(jobs.problems.iter().cloned());
        if jobs.has_triggers() {
            self.events = Some(self.events.take().unwrap_or_default());
        }
        self.jobs = Some(jobs);
        self
    }

    /// With the organization routes, memberships come from their table unless the app
    /// said where.
    fn members_in_database(&mut self) {
        if self.organizations.is_none() {
            return;
        }
        if let Some(auth) = self.auth.take() {
            self.auth = Some(if auth.memberships_settings().is_some() {
                auth
            } else {
                auth.memberships(crate::auth::Memberships::sql(self.db.clone()))
            });
        }
    }

    /// Serves `POST /auth/refresh` (rotation, reuse ends the session) and `POST /auth/logout`
    /// (revocation) for the tokens `sessions` issues at the app's login (see
    /// [`Sessions`](crate::config::Sessions)). Needs [`App::auth`], whose revocation store
    /// they revoke access tokens in.
    pub fn sessions(mut self, sessions: crate::auth::sessions::Sessions) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// The largest accepted request body, in bytes (default 1 MiB); larger ones get a 413.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Bounds of the list query grammar.
    pub fn query_limits(mut self, limits: QueryLimits) -> Self {
        self.limits = limits;
        self
    }
}

/// Whether `base` can be a base path of routes ([`App::organizations_under`]): empty (the
/// root), or `/` followed by segments of ASCII letters, digits, `-`, `_` and `.` (no `.`
/// or `..` segment, no parameter, no trailing `/`); why not otherwise.
pub(crate) fn mount_base(base: &str) -> Result<(), String> {
    if base.is_empty() {
        return Ok(());
    }
    let segments = base.strip_prefix('/').map(|rest| rest.split('/'));
    let valid = segments.is_some_and(|mut segments| {
        segments.all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{base}` is not a base path: `/` followed by segments of letters, digits, `-`, `_` and `.`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::mount_base;

    #[test]
    fn base_paths() {
        for good in ["", "/api", "/api/v1", "/a-b_c.d"] {
            assert_eq!(mount_base(good), Ok(()), "{good}");
        }
        for bad in [
            "api", "/", "//api", "/api//x", "/{id}", "/a b", "/..", "/.", "/api/*",
        ] {
            assert!(mount_base(bad).is_err(), "{bad}");
        }
    }
}
