//! The application: shared state, the builder that mounts resources, and serving.
//!
//! [`App`] and [`ArcState`] live here; `builder` holds the setters, `inspect` what an app
//! says about itself (documents, registry, problems, migrations), `layers` the router and
//! its layer stack, `serve` the server and its graceful shutdown.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = arc_runtime::connect("sqlite::memory:").await?;
//! let app = arc_runtime::App::new(db); // .resource::<Product>() ...
//! app.migrate().await?;
//! app.serve("127.0.0.1:3000").await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sea_orm::DatabaseConnection;

use crate::migration;
use crate::plugins::health::Health;
use crate::plugins::hygiene::{Cors, SecurityHeaders};
use crate::plugins::metrics::Metrics;
use crate::preset::Preset;
use crate::query::{CursorKey, QueryLimits};

mod builder;
mod inspect;
mod layers;
mod serve;

pub use serve::shutdown_signal;

/// What every handler shares: the database pool and the settings of the query grammar.
#[derive(Clone, Debug)]
pub struct ArcState(Arc<StateInner>);

#[derive(Debug)]
struct StateInner {
    db: DatabaseConnection,
    writer: crate::db::Writer,
    reader: Option<crate::db::Reader>,
    /// The statements of one-row reads, kept per shape.
    kept: crate::crud::ops::Kept,
    cursor_key: CursorKey,
    limits: QueryLimits,
    events: Option<Arc<crate::events::EventsRuntime>>,
    audit: Option<Arc<crate::audit::AuditRuntime>>,
    cache: Option<Arc<crate::cache::CacheRuntime>>,
    memberships: Option<crate::auth::Memberships>,
    #[cfg(feature = "webhooks")]
    webhooks: Option<Arc<crate::webhooks::WebhooksRuntime>>,
    #[cfg(feature = "jobs")]
    jobs: Option<Arc<crate::jobs::JobsRuntime>>,
    /// The roles each role includes ([`Auth::role_hierarchy`](crate::config::Auth::role_hierarchy)).
    roles: crate::auth::RoleHierarchy,
}

impl ArcState {
    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.0.db
    }

    /// The connection every write runs on (see [`Writer`](crate::db::Writer)).
    pub(crate) fn writer(&self) -> &crate::db::Writer {
        &self.0.writer
    }

    /// Where the CRUD routes' reads go: inline on a SQLite file (see
    /// [`Reader`](crate::db::Reader)), else the pool.
    pub(crate) fn reads(&self) -> crate::db::Reads<'_> {
        match &self.0.reader {
            Some(reader) => crate::db::Reads::Inline(reader),
            None => crate::db::Reads::Pool(&self.0.db),
        }
    }

    /// The statements of one-row reads, kept per shape (see [`crate::crud::ops::Kept`]).
    pub(crate) fn kept(&self) -> &crate::crud::ops::Kept {
        &self.0.kept
    }

    /// The key that signs keyset cursors.
    pub(crate) fn cursor_key(&self) -> &CursorKey {
        &self.0.cursor_key
    }

    /// Bounds of the list query grammar.
    pub fn query_limits(&self) -> &QueryLimits {
        &self.0.limits
    }

    /// Where memberships come from, when the app resolves them from a store.
    pub(crate) fn memberships(&self) -> Option<&crate::auth::Memberships> {
        self.0.memberships.as_ref()
    }

    /// The roles each role includes (empty unless the app declared a hierarchy).
    pub(crate) fn roles(&self) -> &crate::auth::RoleHierarchy {
        &self.0.roles
    }

    /// The events plugin, when the app has it.
    pub(crate) fn events(&self) -> Option<&Arc<crate::events::EventsRuntime>> {
        self.0.events.as_ref()
    }

    /// The audit trail, when the app has it.
    pub(crate) fn audit(&self) -> Option<&Arc<crate::audit::AuditRuntime>> {
        self.0.audit.as_ref()
    }

    /// The webhooks, when the app has them.
    #[cfg(feature = "webhooks")]
    pub(crate) fn webhooks(&self) -> Option<&Arc<crate::webhooks::WebhooksRuntime>> {
        self.0.webhooks.as_ref()
    }

    /// The app's jobs: enqueue with [`JobClient::enqueue`](crate::jobs::JobClient::enqueue)
    /// (an error if the app has no jobs, see [`App::jobs`]).
    #[cfg(feature = "jobs")]
    pub fn jobs(&self) -> crate::jobs::JobClient {
        crate::jobs::JobClient::of(self.0.jobs.as_ref())
    }

    /// The jobs' runtime, when the app has jobs.
    #[cfg(feature = "jobs")]
    pub(crate) fn jobs_runtime(&self) -> Option<&Arc<crate::jobs::JobsRuntime>> {
        self.0.jobs.as_ref()
    }

    /// The query cache, when a resource of the app is cached.
    pub(crate) fn cache(&self) -> Option<&Arc<crate::cache::CacheRuntime>> {
        self.0.cache.as_ref()
    }

    /// Tells the events relay that a transaction which wrote events committed.
    pub(crate) fn committed(&self) {
        if let Some(events) = &self.0.events {
            events.wake.notify_one();
        }
    }

    /// Publishes the app's own event on its own, not with a write (with one, a hook's
    /// [`WriteContext::publish`](crate::WriteContext::publish) puts it in the write's
    /// transaction): declared ([`Events::define`](crate::config::Events::define)), checked
    /// against its schema, then into the outbox, delivered at least once.
    pub async fn publish<E: crate::events::DomainEvent>(
        &self,
        event: &E,
    ) -> Result<(), crate::events::PublishError> {
        let events = self.events().map(|e| &**e);
        crate::events::publish(events, self.writer().db(), None, event).await?;
        self.committed();
        Ok(())
    }
}

/// Builds an application from resources.
#[must_use = "an App does nothing until it is served or made into a router"]
pub struct App {
    db: DatabaseConnection,
    routes: Router<ArcState>,
    migrator: migration::Migrator,
    resources: Vec<crate::openapi::Registered>,
    custom_routes: Vec<String>,
    /// The routes mounted with [`App::route_with`], as the document shows them.
    app_routes: Vec<crate::custom::RouteDoc>,
    title: String,
    version: String,
    docs: bool,
    cursor_key: Option<CursorKey>,
    limits: QueryLimits,
    body_limit: usize,
    auth: Option<crate::auth::Auth>,
    /// The base path [`App::organizations_under`] mounted the organization routes under
    /// (empty for the root), when it did.
    organizations: Option<Arc<str>>,
    /// What the builder's calls got wrong (see [`App::problems`]).
    noted: Vec<String>,
    health: Health,
    metrics: MetricsChoice,
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
    events: Option<crate::events::Events>,
    audit: Option<crate::audit::Audit>,
    cache: Option<crate::cache::Cache>,
    cache_off: bool,
    /// Declared to run as several instances ([`App::distributed`], [`App::instances`]).
    distributed: bool,
    instances: usize,
    idempotency: Option<crate::plugins::idempotency::Idempotency>,
    sessions: Option<crate::auth::sessions::Sessions>,
    #[cfg(feature = "webhooks")]
    webhooks: Option<crate::webhooks::Webhooks>,
    #[cfg(feature = "mcp")]
    mcp: Option<crate::mcp::Mcp>,
    #[cfg(feature = "jobs")]
    jobs: Option<crate::jobs::Jobs>,
}

/// The app's metrics: its own ([`App::metrics`]), none ([`App::without_metrics`]), or by
/// default a fresh recorder, made when first needed. Making one calibrates a clock (most of
/// an app's start), which an app that turns metrics off never needs.
enum MetricsChoice {
    Default(std::sync::OnceLock<Metrics>),
    Given(Metrics),
    Off,
}

impl Default for MetricsChoice {
    fn default() -> Self {
        Self::Default(std::sync::OnceLock::new())
    }
}

impl MetricsChoice {
    /// The metrics (the default ones made now, once).
    fn get(&self) -> Option<&Metrics> {
        match self {
            Self::Default(made) => Some(made.get_or_init(Metrics::new)),
            Self::Given(metrics) => Some(metrics),
            Self::Off => None,
        }
    }

    /// Whether `/_metrics` is served, and if so whether it asks for a token; the default
    /// metrics are not made for it (they ask for none).
    fn served(&self) -> Option<bool> {
        match self {
            Self::Default(_) => Some(false),
            Self::Given(metrics) => Some(metrics.has_token()),
            Self::Off => None,
        }
    }
}

/// Code run once at shutdown, after in-flight requests drained and before the pool closes.
type ShutdownHook = Box<dyn FnOnce() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

impl App {
    /// The default request body limit: 1 MiB.
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

    /// The default time a request may take before it is answered 503.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The default time in-flight requests get to finish at shutdown.
    pub const DEFAULT_DRAIN: Duration = Duration::from_secs(20);

    /// How long each shutdown hook may take.
    pub const SHUTDOWN_HOOK_TIMEOUT: Duration = Duration::from_secs(5);
}

/// A layer given to [`App::layer`], applied when the router is built.
type LayerFn = Box<dyn FnOnce(Router<ArcState>) -> Router<ArcState> + Send>;
