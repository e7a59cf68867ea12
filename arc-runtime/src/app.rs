//! The application: shared state, the builder that mounts resources, and serving.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = arc_runtime::db::connect("sqlite::memory:").await?;
//! let app = arc_runtime::App::new(db); // .resource::<Product>() ...
//! app.migrate().await?;
//! app.serve("127.0.0.1:3000").await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::net::ToSocketAddrs;

use crate::error::{ArcError, ErrorCode};
use crate::migration;
use crate::plugins::health::{self, Health};
use crate::plugins::hygiene::{Cors, SecurityHeaders};
use crate::plugins::metrics::{self, Metrics};
use crate::plugins::request_id;
use crate::plugins::versioning::VersionBy;
use crate::preset::Preset;
use crate::query::{CursorKey, QueryLimits};
use crate::resource::Resource;

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// The default time a request may take before it is answered 503.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time in-flight requests get to finish at shutdown.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(20);

/// What every handler shares: the database pool and the settings of the query grammar.
#[derive(Clone, Debug)]
pub struct ArcState(Arc<StateInner>);

#[derive(Debug)]
struct StateInner {
    db: DatabaseConnection,
    cursor_key: CursorKey,
    limits: QueryLimits,
}

impl ArcState {
    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.0.db
    }

    /// The key that signs keyset cursors.
    pub fn cursor_key(&self) -> &CursorKey {
        &self.0.cursor_key
    }

    /// Bounds of the list query grammar.
    pub fn query_limits(&self) -> &QueryLimits {
        &self.0.limits
    }
}

/// Builds an application from resources.
pub struct App {
    db: DatabaseConnection,
    routes: Router<ArcState>,
    migrator: migration::Migrator,
    resources: Vec<crate::openapi::Registered>,
    custom_routes: Vec<String>,
    title: String,
    version: String,
    docs: bool,
    cursor_key: Option<CursorKey>,
    limits: QueryLimits,
    body_limit: usize,
    auth: Option<crate::auth::Auth>,
    health: Health,
    metrics: Option<Metrics>,
    timeout: Option<Duration>,
    max_in_flight: Option<usize>,
    drain: Duration,
    preset: Preset,
    cors: Option<Cors>,
    security_headers: Option<SecurityHeaders>,
    compression: bool,
    expose_causes: bool,
    etag: bool,
    rate_limit: Option<crate::plugins::rate_limit::RateLimit>,
    steps: crate::plugins::steps::Steps,
    layers: Vec<LayerFn>,
    versioning: Option<crate::plugins::versioning::Versioning>,
    on_shutdown: Vec<ShutdownHook>,
}

/// Code run once at shutdown, after in-flight requests drained and before the pool closes.
type ShutdownHook = Box<dyn FnOnce() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// How long each shutdown hook may take.
pub const SHUTDOWN_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// A layer given to [`App::layer`], applied when the router is built.
type LayerFn = Box<dyn FnOnce(Router<ArcState>) -> Router<ArcState> + Send>;

impl App {
    /// An application over `db`, with no resource yet.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            routes: Router::new(),
            migrator: migration::Migrator::default(),
            resources: Vec::new(),
            custom_routes: Vec::new(),
            title: "arc app".to_owned(),
            version: "0.1.0".to_owned(),
            docs: true,
            cursor_key: None,
            limits: QueryLimits::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            auth: None,
            health: Health::new(),
            metrics: Some(Metrics::new()),
            timeout: Some(DEFAULT_TIMEOUT),
            max_in_flight: None,
            drain: DEFAULT_DRAIN,
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
        }
    }

    /// Runs `hook` at shutdown, after in-flight requests drained and before the database pool
    /// closes (flush buffers, leave a cluster), each within [`SHUTDOWN_HOOK_TIMEOUT`], in the
    /// order given.
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_shutdown.push(Box::new(move || Box::pin(hook())));
        self
    }

    /// Serves these API versions (see [`crate::plugins::versioning`]). With a path prefix,
    /// the resource routes are mounted under `/v{version}` for each one.
    pub fn versioning(mut self, versions: Option<crate::plugins::versioning::Versioning>) -> Self {
        self.versioning = versions;
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

    /// Limits each key's requests to the API (see [`crate::plugins::rate_limit`]); off by
    /// default. Health, metrics and the documents are not limited.
    pub fn rate_limit(mut self, limit: Option<crate::plugins::rate_limit::RateLimit>) -> Self {
        self.rate_limit = limit;
        self
    }

    /// ETags on `200` reads and `304` for a matching `If-None-Match` (on by default).
    pub fn etag(mut self, on: bool) -> Self {
        self.etag = on;
        self
    }

    /// Applies a preset's defaults (see [`crate::preset`]); settings made afterwards win.
    pub fn preset(mut self, preset: Preset) -> Self {
        self.preset = preset;
        self.expose_causes = preset.exposes_causes();
        let hsts = matches!(preset, Preset::Production | Preset::Edge);
        self.security_headers = Some(SecurityHeaders { hsts });
        self.compression = hsts;
        self.cors = (preset == Preset::Development).then(Cors::any);
        (self.timeout, self.max_in_flight, self.body_limit) = match preset {
            Preset::Production => (Some(DEFAULT_TIMEOUT), Some(1024), DEFAULT_BODY_LIMIT),
            Preset::Development => (Some(DEFAULT_TIMEOUT), None, DEFAULT_BODY_LIMIT),
            Preset::Testing => (Some(Duration::from_secs(5)), None, DEFAULT_BODY_LIMIT),
            Preset::Edge => (Some(Duration::from_secs(10)), Some(256), 256 * 1024),
        };
        self
    }

    /// Cross-origin rules (`None`: no CORS headers, browsers keep to the same origin).
    pub fn cors(mut self, cors: Option<Cors>) -> Self {
        self.cors = cors;
        self
    }

    /// Security headers on every response (on by default; `None` turns them off).
    pub fn security_headers(mut self, headers: Option<SecurityHeaders>) -> Self {
        self.security_headers = headers;
        self
    }

    /// Gzip responses for clients that accept it.
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }

    /// What keeps this app from starting under its preset: in production and edge, a
    /// missing cursor secret (instances would not accept each other's cursors).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if matches!(self.preset, Preset::Production | Preset::Edge) && self.cursor_key.is_none() {
            problems.push(
                "no cursor secret: set one (App::cursor_secret) so every instance accepts the others' cursors"
                    .to_owned(),
            );
        }
        problems
    }

    /// Mounts an app-defined route beside the resources'.
    pub fn route(mut self, path: &str, route: MethodRouter<ArcState>) -> Self {
        self.routes = self.routes.route(path, route);
        self.custom_routes.push(path.to_owned());
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

    /// Prometheus metrics at `/_metrics` (on by default); `None` turns them off.
    pub fn metrics(mut self, metrics: Option<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// The longest a request may take before it is answered 503 (default 30 s; `None`: no
    /// limit).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sheds load above `n` requests in flight: the excess is answered 503 with
    /// `Retry-After` at once instead of queueing (default: no limit).
    pub fn max_in_flight(mut self, n: Option<usize>) -> Self {
        self.max_in_flight = n;
        self
    }

    /// How long in-flight requests get to finish at shutdown (default 20 s).
    pub fn drain_timeout(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    /// The metrics of this app, to record app-specific ones or render them elsewhere.
    pub fn metrics_handle(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// Mounts a resource's routes and registers its migration.
    pub fn resource<R: Resource>(mut self) -> Self {
        self.routes = self.routes.merge(R::router());
        self.migrator.add::<R>();
        self.resources.push(crate::openapi::Registered {
            meta: R::META,
            schemas: R::schemas,
        });
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

    /// The mounted resources' descriptions.
    pub fn resources(&self) -> Vec<&'static crate::resource::ResourceMeta> {
        self.resources.iter().map(|r| r.meta).collect()
    }

    /// The routes the app serves beside its resources' (health, metrics, documents, the
    /// registry, and the app's own, method `*`).
    pub fn service_routes(&self) -> Vec<crate::openapi::ServiceRoute> {
        use crate::openapi::ServiceRoute;
        use axum::http::Method;
        let route = |path: &str, summary, access, produces| ServiceRoute {
            method: Method::GET,
            path: path.to_owned(),
            summary,
            access,
            produces,
        };
        let mut out = vec![
            route(
                "/_health/live",
                "The process answers.",
                "public",
                "application/json",
            ),
            route(
                "/_health/ready",
                "Every critical check passes and the app is not draining.",
                "public",
                "application/json",
            ),
        ];
        if let Some(metrics) = &self.metrics {
            let access = if metrics.has_token() {
                "bearer token"
            } else {
                "public"
            };
            out.push(route(
                "/_metrics",
                "Prometheus metrics.",
                access,
                "text/plain",
            ));
        }
        if self.docs {
            out.push(route(
                "/_docs",
                "This documentation, for people.",
                "public",
                "text/html",
            ));
            out.push(route(
                "/_docs/openapi.json",
                "The OpenAPI 3.1 document.",
                "public",
                "application/json",
            ));
            out.push(route(
                "/_docs/docs.js",
                "The docs page's script.",
                "public",
                "text/javascript",
            ));
            out.push(route(
                "/_docs/docs.css",
                "The docs page's style.",
                "public",
                "text/css",
            ));
            out.push(route(
                "/_resources",
                "The registry (arc-describe/v1).",
                "admin",
                "application/json",
            ));
        }
        out
    }

    /// Runs the readiness checks now (the database ping and the registered ones), with
    /// their errors, for an operator's eyes (the CLI's `doctor`).
    pub async fn health_report(&self) -> crate::plugins::health::Report {
        self.health
            .clone()
            .database(self.db.clone())
            .expose_errors(true)
            .report()
            .await
    }

    /// The paths of the routes added with [`App::route`].
    pub fn custom_routes(&self) -> &[String] {
        &self.custom_routes
    }

    fn document(&self) -> crate::openapi::Document {
        let prefixes = match &self.versioning {
            Some(v) if v.by() == VersionBy::PathPrefix => {
                v.names().map(|name| format!("/v{name}")).collect()
            }
            _ => vec![String::new()],
        };
        crate::openapi::Document {
            title: self.title.clone(),
            version: self.version.clone(),
            resources: self.resources.clone(),
            service: self.service_routes(),
            security_schemes: self
                .auth
                .as_ref()
                .map(crate::auth::Auth::security_schemes)
                .unwrap_or_default(),
            rate_limited: self.rate_limit.is_some(),
            prefixes,
            limits: self.limits,
        }
    }

    /// The OpenAPI 3.1 document of the app (what `/_docs/openapi.json` serves).
    pub fn openapi(&self) -> Result<serde_json::Value, crate::openapi::DocumentError> {
        self.document().build()
    }

    /// The registry: `{"$schema": "arc-describe/v1", ..}` (what `/_resources` serves).
    pub fn describe(&self) -> serde_json::Value {
        crate::registry::describe(
            &self.title,
            &self.version,
            &self.resources,
            &self.service_routes(),
            &self.limits,
        )
    }

    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The mounted resources' migrations, as a migrator (`up`, `down`, `status`, `fresh`).
    pub fn migrator(&self) -> migration::Migrator {
        self.migrator.clone()
    }

    /// Applies the pending migrations: creates every mounted resource's table and indexes.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        self.migrator.up(&self.db, None).await
    }

    /// Rolls back every applied migration, the last mounted first. Data is lost.
    pub async fn migrate_down(&self) -> Result<(), DbErr> {
        self.migrator.down(&self.db, None).await
    }

    /// The axum router: every route, health and metrics, the contract's 404 and 405, and the
    /// layers, outermost first: request ids, compression, CORS, the pipeline (trace span and
    /// context, error envelope, ETags, security headers, metrics, load shedding, the timeout
    /// and panic catching: one middleware), the body limit, then, for the API alone (the
    /// resources, the app's routes, the registry and the 404/405 answers), authentication,
    /// rate limits, steps and the app's own layers.
    ///
    /// Health, metrics and the documents are service routes: they answer whatever the callers
    /// send and however many there are (a load balancer's probe or a scraper is not a user),
    /// so they sit outside authentication and the rate limit; `/_metrics` checks its own
    /// token ([`Metrics::bearer_token`]).
    pub fn into_router(self) -> Router {
        self.build().0
    }

    fn build(self) -> (Router, Health) {
        let (documents, registry) = if self.docs {
            let document = self
                .openapi()
                .map_err(|e| e.to_string())
                .and_then(|doc| serde_json::to_vec(&doc).map_err(|e| e.to_string()))
                .map(bytes::Bytes::from);
            if let Err(e) = &document {
                tracing::error!(error = %e, "the OpenAPI document could not be made");
            }
            (
                Some(crate::docs::docs_routes(document)),
                Some(crate::docs::registry_route(self.describe())),
            )
        } else {
            (None, None)
        };
        let health = self
            .health
            .clone()
            .database(self.db.clone())
            .expose_errors(self.expose_causes);
        let state = ArcState(Arc::new(StateInner {
            db: self.db,
            cursor_key: self.cursor_key.unwrap_or_else(CursorKey::random),
            limits: self.limits,
        }));
        let api = match &self.versioning {
            None => self.routes,
            Some(v) if v.by() == VersionBy::Header => self.routes.layer(from_fn_with_state(
                v.scope(None),
                crate::plugins::versioning::layer,
            )),
            Some(v) => v.names().fold(Router::new(), |router, name| {
                let prefix = format!("/v{name}");
                let scope = v.scope(Some(name));
                let versioned = self
                    .routes
                    .clone()
                    .layer(from_fn_with_state(scope, crate::plugins::versioning::layer));
                router.nest(&prefix, versioned)
            }),
        };

        // The API: what callers reach with their credentials, under their limits. The
        // registry is for admins, so it is here too; so are the 404 and 405 answers (an
        // unknown path is a caller's request like any other).
        let mut api = match registry {
            Some(registry) => api.merge(registry),
            None => api,
        }
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
        for apply in self.layers {
            api = apply(api);
        }
        if !self.steps.is_empty() {
            api = api.layer(from_fn_with_state(
                Arc::new(self.steps.clone()),
                crate::plugins::steps::layer,
            ));
        }
        if self.auth.is_some() || self.rate_limit.is_some() {
            // Inside the request-id layer, so authentication errors carry the id; the rate
            // limit right after authentication, so the caller is known.
            api = api.layer(crate::auth::AccessLayer::with(
                self.auth.clone(),
                self.rate_limit.clone(),
            ));
        }

        // The service routes: no caller, no limit. Metrics check their own token.
        let mut service = Router::new();
        if let Some(metrics) = &self.metrics {
            let metrics = metrics.clone();
            service = service.route(
                "/_metrics",
                get(move |headers| metrics::render(metrics.clone(), headers)),
            );
        }
        if let Some(documents) = documents {
            service = service.merge(documents);
        }
        let service = service.method_not_allowed_fallback(method_not_allowed);

        let pipeline = crate::plugins::pipeline::Pipeline {
            metrics: self.metrics.clone(),
            expose_causes: self.expose_causes,
            security_headers: self.security_headers,
            etag: self.etag,
            timeout: self.timeout,
            in_flight: self
                .max_in_flight
                .map(crate::plugins::pipeline::InFlight::new),
        };
        // Health is not shed: a probe answered 503 because the instance is busy takes it out
        // of the balancer (or restarts it), which moves its load onto the others until they
        // fall over too. Readiness says whether the instance can serve, not how busy it is;
        // the probes are cheap and do not count against the limit. The timeout still
        // applies: a readiness check stuck past it is a 503, which is the truth.
        let probes = crate::plugins::pipeline::Pipeline {
            in_flight: None,
            ..pipeline.clone()
        };
        let ready = health.clone();
        let health_routes = Router::new()
            .route("/_health/live", get(health::live))
            .route(
                "/_health/ready",
                get(move || {
                    let health = ready.clone();
                    async move { health.report().await }
                }),
            )
            .method_not_allowed_fallback(method_not_allowed)
            .layer(from_fn_with_state(
                Arc::new(probes),
                crate::plugins::pipeline::layer,
            ));
        let mut router = health_routes.merge(
            service
                .merge(api)
                .layer(DefaultBodyLimit::max(self.body_limit))
                .layer(from_fn_with_state(
                    Arc::new(pipeline),
                    crate::plugins::pipeline::layer,
                )),
        );
        if let Some(cors) = &self.cors {
            router = router.layer(cors.layer());
        }
        if self.compression {
            router = router.layer(
                tower_http::compression::CompressionLayer::new()
                    .compress_when(crate::plugins::hygiene::Compressible),
            );
        }
        let router = router.layer(request_id::RequestIdLayer).with_state(state);
        (router, health)
    }

    /// Serves on `addr` until Ctrl-C or SIGTERM, then drains (see [`App::serve_on`]).
    pub async fn serve(self, addr: impl ToSocketAddrs) -> std::io::Result<()> {
        self.serve_on(tokio::net::TcpListener::bind(addr).await?)
            .await
    }

    /// Serves on a bound listener until Ctrl-C or SIGTERM, then drains.
    pub async fn serve_on(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// Serves until `signal` resolves; then readiness turns 503, no new connection is
    /// accepted, in-flight requests get the drain timeout to finish, and the database pool is
    /// closed.
    pub async fn serve_until(
        mut self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(std::io::Error::other(format!(
                "refusing to start ({:?} preset): {}",
                self.preset,
                problems.join("; ")
            )));
        }
        let db = self.db.clone();
        let drain = self.drain;
        let hooks = std::mem::take(&mut self.on_shutdown);
        let (router, health) = self.build();
        let draining = health.draining();
        let started = Arc::new(tokio::sync::Notify::new());
        let notify = started.clone();
        let on_signal = async move {
            signal.await;
            draining.set();
            tracing::info!("shutting down: draining in-flight requests");
            notify.notify_one();
        };
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = axum::serve(listener, service).with_graceful_shutdown(on_signal);
        let deadline = async {
            started.notified().await;
            tokio::time::sleep(drain).await;
        };
        tokio::select! {
            result = server.into_future() => result?,
            () = deadline => tracing::warn!(
                "drain timeout ({} s) passed with requests in flight; closing",
                drain.as_secs()
            ),
        }
        for hook in hooks {
            if tokio::time::timeout(SHUTDOWN_HOOK_TIMEOUT, hook())
                .await
                .is_err()
            {
                tracing::warn!("a shutdown hook took longer than {SHUTDOWN_HOOK_TIMEOUT:?}");
            }
        }
        if let Err(e) = db.close().await {
            tracing::warn!(error = %e, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

async fn not_found() -> ArcError {
    ArcError::not_found("Route not found")
}

async fn method_not_allowed() -> ArcError {
    ArcError::new(
        ErrorCode::MethodNotAllowed,
        "Method not allowed on this route",
    )
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
