//! What an app says about itself before it serves: its resources and routes, the OpenAPI
//! document and the registry, what keeps it from starting, its database and migrations.

use sea_orm::{DatabaseConnection, DbErr};

use super::App;
use crate::migration;
use crate::plugins::metrics::Metrics;
use crate::plugins::versioning::VersionBy;

impl App {
    /// What keeps this app from starting: a resource whose entity's columns are not its field
    /// table (a hand-written [`Resource`](crate::Resource) impl); under its preset, in production and edge, a
    /// missing cursor secret (instances would not accept each other's cursors); when several
    /// instances serve it ([`App::distributed`]), every plugin that keeps shared state in
    /// this process ([`App::local_state`]).
    pub fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = self
            .resources
            .iter()
            .filter_map(|r| (r.unreadable)())
            .collect();
        problems.extend(self.noted.iter().cloned());
        // MCP at a path the app serves already would not mount.
        #[cfg(feature = "mcp")]
        if let Some(mcp) = &self.mcp {
            let document = self.openapi().ok();
            let documented = document
                .as_ref()
                .and_then(|d| d.get("paths")?.as_object())
                .into_iter()
                .flat_map(|paths| paths.keys());
            if documented
                .chain(self.custom_routes.iter())
                .any(|path| *path == mcp.path)
            {
                problems.push(format!(
                    "App::mcp: `{}` is a route of the app already: choose another path",
                    mcp.path
                ));
            }
        }
        // A base that starts as a version's prefix would be taken for it.
        if let (Some(base), Some(versions)) = (&self.organizations, &self.versioning)
            && versions.by() == VersionBy::PathPrefix
            && versions
                .names()
                .any(|name| crate::crud::response::is_under(base, &format!("/v{name}")))
        {
            problems.push(format!(
                "App::organizations_under: `{base}` starts as a version's path prefix: choose another base"
            ));
        }
        // The organization routes write the members' table: memberships read elsewhere
        // would not hear of them.
        if self.organizations.is_some()
            && !self
                .auth
                .as_ref()
                .and_then(crate::auth::Auth::memberships_settings)
                .is_some_and(crate::auth::Memberships::in_database)
        {
            problems.push(
                "App::organizations keeps members in the database: authenticate with Auth, whose memberships are Memberships::sql (the default when none are given)".to_owned(),
            );
        }
        // A reference to a resource the app does not serve has no table to look in.
        for r in &self.resources {
            for field in r.meta.fields {
                let Some(target) = field.references else {
                    continue;
                };
                let target = target();
                // By name and table: a const's address is not its identity.
                let served = self
                    .resources
                    .iter()
                    .any(|s| s.meta.name == target.name && s.meta.table == target.table);
                if !served {
                    problems.push(format!(
                        "`{}.{}` references `{}`, which the app does not serve: add .resource::<..>() for it",
                        r.meta.name, field.name, target.name
                    ));
                }
            }
        }
        if self.sessions.is_some() && self.auth.is_none() {
            problems.push(
                "sessions need authentication: add App::auth with the JwtAuthenticator of the sessions' key"
                    .to_owned(),
            );
        }
        let cursors = self.preset.defaults().require_cursor_secret || self.is_distributed();
        if cursors && self.cursor_key.is_none() {
            problems.push(
                "no cursor secret: set one (App::cursor_secret) so every instance accepts the others' cursors"
                    .to_owned(),
            );
        }
        if self.is_distributed() {
            problems.extend(self.local_state().into_iter().map(|what| {
                format!("{what} is kept in this process, but several instances serve the app: give it a shared store")
            }));
        }
        if let Some(events) = &self.events {
            problems.extend(events.problems());
            for definition in &events.defined {
                let taken = self.resources.iter().any(|r| {
                    crate::events::Change::ALL
                        .iter()
                        .any(|change| definition.name == change.event_name(r.meta.name))
                });
                if taken {
                    problems.push(format!(
                        "event `{}` is a resource's own: choose another type",
                        definition.name
                    ));
                }
            }
        }
        problems
    }

    /// Whether several instances serve the app: declared with [`App::distributed`], or more
    /// than one [`App::instances`] under a deployed preset (production, edge).
    pub fn is_distributed(&self) -> bool {
        self.distributed || (self.preset != crate::Preset::Development && self.instances > 1)
    }

    /// The plugins on that keep state instances must share in this process's memory, named
    /// with the setting that moves them (what [`App::distributed`] refuses).
    pub fn local_state(&self) -> Vec<String> {
        let mut local = Vec::new();
        let cached: Vec<&str> = self
            .resources
            .iter()
            .filter(|r| r.meta.cache.is_some())
            .map(|r| r.meta.name)
            .collect();
        if !cached.is_empty()
            && !self.cache_off
            && !self.cache.as_ref().is_some_and(crate::cache::Cache::shared)
        {
            local.push(format!(
                "the query cache (of {}; App::cache)",
                cached.join(", ")
            ));
        }
        if self
            .idempotency_settings()
            .is_some_and(|settings| !settings.shared())
        {
            local.push("idempotency keys (App::idempotency)".to_owned());
        }
        if self
            .rate_limit
            .as_ref()
            .is_some_and(|limit| !limit.shared())
        {
            local.push("the rate limit's counters (RateLimit::store)".to_owned());
        }
        if self
            .auth
            .as_ref()
            .is_some_and(|auth| !auth.revocation_store().shared())
        {
            local.push("token revocation (Auth::revocation)".to_owned());
        }
        if self
            .auth
            .as_ref()
            .and_then(crate::auth::Auth::memberships_settings)
            .is_some_and(|m| !m.shared())
        {
            local.push("memberships (Memberships::new, Memberships::cache)".to_owned());
        }
        if self.sessions.as_ref().is_some_and(|s| !s.shared()) {
            local.push("sessions (Sessions::store)".to_owned());
        }
        if self.events.as_ref().is_some_and(|events| !events.shared()) {
            local.push("the events' transport (Events::transport)".to_owned());
        }
        if self.audit_settings().is_some_and(|audit| !audit.shared()) {
            local.push("the audit trail (Audit::store)".to_owned());
        }
        #[cfg(feature = "jobs")]
        if self.jobs.as_ref().is_some_and(|jobs| !jobs.shared()) {
            local.push("the jobs' queue (Jobs::store)".to_owned());
        }
        local
    }

    /// The sessions, when [`App::sessions`] serves them.
    pub fn sessions_settings(&self) -> Option<&crate::auth::sessions::Sessions> {
        self.sessions.as_ref()
    }

    /// The metrics of this app, to record app-specific ones or render them elsewhere.
    pub fn metrics_handle(&self) -> Option<&Metrics> {
        self.metrics.get()
    }

    /// The mounted resources' descriptions.
    pub fn resources(&self) -> Vec<&'static crate::resource::ResourceMeta> {
        self.resources.iter().map(|r| r.meta).collect()
    }

    /// The mounted resources, with where each is served.
    pub(crate) fn registered(&self) -> &[crate::openapi::Registered] {
        &self.resources
    }

    /// Where the API's routes are served: under each version's prefix (`/v2`) with path
    /// versioning, at the root (`""`) otherwise.
    pub(crate) fn path_prefixes(&self) -> Vec<String> {
        match &self.versioning {
            Some(v) if v.by() == VersionBy::PathPrefix => {
                v.names().map(|name| format!("/v{name}")).collect()
            }
            _ => vec![String::new()],
        }
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
        if let Some(token) = self.metrics.served() {
            let access = if token { "bearer token" } else { "public" };
            out.push(route(
                "/_metrics",
                "Prometheus metrics.",
                access,
                "text/plain",
            ));
        }
        if self.events.as_ref().is_some_and(|e| e.stream) {
            out.push(route(
                crate::events::STREAM_PATH,
                "The events the caller may see, as Server-Sent Events.",
                "authenticated",
                "text/event-stream",
            ));
        }
        if self.events.as_ref().is_some_and(|e| e.websocket) {
            out.push(route(
                crate::events::WS_PATH,
                "The events the caller may see, over a WebSocket (arc's protocol).",
                "authenticated",
                "application/json",
            ));
        }
        #[cfg(feature = "jobs")]
        if self.jobs.is_some() {
            out.push(route(
                crate::jobs::PATH,
                "The background jobs: each queue's pending, running, done, failed and dead counts, its latest dead letters, and the cron schedules. For platform admins.",
                "admin",
                "application/json",
            ));
        }
        if self.audit_settings().is_some() {
            out.push(route(
                crate::audit::PATH,
                "The audit trail: admins of the platform see every entry, admins of an organization its own.",
                "admin",
                "application/json",
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
    pub async fn health_report(&self) -> crate::plugins::health::HealthReport {
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

    /// The routes mounted with [`App::route_with`], as the document and `routes` show them.
    pub(crate) fn app_routes(&self) -> &[crate::custom::RouteDoc] {
        &self.app_routes
    }

    /// What the OpenAPI document is made of, as the app is now ([`App::openapi`] builds it).
    pub(super) fn document(&self) -> crate::openapi::Document {
        let prefixes = self.path_prefixes();
        crate::openapi::Document {
            title: self.title.clone(),
            version: self.version.clone(),
            resources: self.resources.clone(),
            service: self.service_routes(),
            custom: self.app_routes.clone(),
            security_schemes: self
                .auth
                .as_ref()
                .map(crate::auth::Auth::security_schemes)
                .unwrap_or_default(),
            rate_limited: self.rate_limit.is_some(),
            conditional: self.etag,
            elevation: self.elevation().is_some(),
            prefixes,
            limits: self.limits,
            roles: self
                .auth
                .as_ref()
                .map(|auth| auth.roles().describe())
                .unwrap_or_default(),
            sessions: self
                .sessions
                .as_ref()
                .filter(|_| self.auth.is_some())
                .map(|s| (s.base().to_owned(), s.cookie_settings().is_some())),
        }
    }

    /// The OpenAPI 3.1 document of the app (what `/_docs/openapi.json` serves).
    pub fn openapi(&self) -> Result<serde_json::Value, crate::openapi::DocumentError> {
        self.document().build()
    }

    /// The registry: `{"$schema": "arc-describe/v1", ..}` (what `/_resources` serves).
    pub fn describe(&self) -> serde_json::Value {
        self.description()()
    }

    /// What the registry is made of, as the app is now: [`App::describe`] makes it now,
    /// `/_resources` when first asked for.
    pub(super) fn description(&self) -> impl Fn() -> serde_json::Value + Send + Sync + 'static {
        let (title, version) = (self.title.clone(), self.version.clone());
        let (resources, service) = (self.resources.clone(), self.service_routes());
        let (custom, limits) = (self.app_routes.clone(), self.limits);
        // The app's own events, with the schemas they are checked against.
        let defined = self.events.iter().flat_map(|e| &e.defined);
        let events: Vec<serde_json::Value> = defined
            .map(
                |d| serde_json::json!({ "type": d.name, "version": d.version, "schema": d.schema }),
            )
            .collect();
        // Who passes `roles(..)` besides the role named.
        let roles = self
            .auth
            .as_ref()
            .filter(|a| !a.roles().is_empty())
            .map(|auth| serde_json::json!({ "includes": auth.roles().describe() }));
        move || {
            let mut description =
                crate::registry::describe(&title, &version, &resources, &service, &custom, &limits);
            if !events.is_empty() {
                description["events"] = events.clone().into();
            }
            if let Some(roles) = &roles {
                description["roles"] = roles.clone();
            }
            description
        }
    }

    /// The audit trail's settings: those given to [`App::audit`], or the defaults when a
    /// mounted resource is `audited` or callers may elevate; `None` when the app keeps no
    /// trail.
    pub(super) fn audit_settings(&self) -> Option<crate::audit::Audit> {
        match &self.audit {
            Some(audit) => Some(audit.clone()),
            None => (self.resources.iter().any(|r| r.meta.presets.audited)
                || self.elevation().is_some())
            .then(crate::audit::Audit::new),
        }
    }

    /// Who may elevate, when the app's [`Auth`](crate::config::Auth) lets anyone.
    pub(super) fn elevation(&self) -> Option<&crate::auth::Elevation> {
        self.auth.as_ref()?.elevation_settings()
    }

    /// The settings of idempotency keys: those given to [`App::idempotency`], or the
    /// defaults when a mounted resource declares `idempotency`; `None` when none does.
    pub(super) fn idempotency_settings(&self) -> Option<crate::plugins::idempotency::Idempotency> {
        let declared = self.resources.iter().any(|r| r.meta.idempotency.is_some());
        match &self.idempotency {
            Some(settings) => declared.then(|| settings.clone()),
            None => declared.then(crate::plugins::idempotency::Idempotency::new),
        }
    }

    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The mounted resources' migrations and the app's own, in the order they were added,
    /// then the framework's tables, as a migrator (`plan`, `up`, `down`, `status`, `fresh`).
    pub fn migrator(&self) -> migration::Migrator {
        let mut migrator = self.migrator.clone();
        if self.events.is_some() {
            migrator.add_migration(crate::events::EventsMigration);
        }
        if self.audit_settings().is_some() {
            migrator.add_migration(crate::stores::AuditMigration);
        }
        if self
            .idempotency_settings()
            .is_some_and(|settings| settings.in_database())
        {
            migrator.add_migration(crate::stores::IdempotencyMigration);
        }
        if self
            .auth
            .as_ref()
            .and_then(crate::auth::Auth::memberships_settings)
            .is_some_and(crate::auth::Memberships::in_database)
        {
            migrator.add::<crate::orgs::Member>();
        }
        migrator
    }

    /// Applies the pending migrations (creates every mounted resource's table and indexes,
    /// runs the app's own) and brings deployed tables to their structs; see
    /// [`Migrator`](crate::Migrator).
    pub async fn migrate(&self) -> Result<(), DbErr> {
        self.migrator().up(&self.db, None).await
    }

    /// Rolls back every applied migration, the last mounted first. Data is lost.
    pub async fn migrate_down(&self) -> Result<(), DbErr> {
        self.migrator().down(&self.db, None).await
    }
}
