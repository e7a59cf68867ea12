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

use axum::Router;
use axum::extract::DefaultBodyLimit;
use sea_orm::{DatabaseConnection, DbErr};
use sea_orm_migration::MigrationTrait;
use tokio::net::ToSocketAddrs;

use crate::error::{ArcError, ErrorCode};
use crate::migration::{self, ResourceMigration};
use crate::plugins::request_id;
use crate::query::{CursorKey, QueryLimits};
use crate::resource::Resource;

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

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
    migrations: Vec<Box<dyn MigrationTrait>>,
    resources: Vec<&'static crate::resource::ResourceMeta>,
    cursor_key: Option<CursorKey>,
    limits: QueryLimits,
    body_limit: usize,
    auth: Option<crate::auth::Auth>,
}

impl App {
    /// An application over `db`, with no resource yet.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            routes: Router::new(),
            migrations: Vec::new(),
            resources: Vec::new(),
            cursor_key: None,
            limits: QueryLimits::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            auth: None,
        }
    }

    /// Mounts a resource's routes and registers its migration.
    pub fn resource<R: Resource>(mut self) -> Self {
        self.routes = self.routes.merge(R::router());
        self.migrations
            .push(Box::new(ResourceMigration::<R>::new()));
        self.resources.push(R::META);
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
    pub fn resources(&self) -> &[&'static crate::resource::ResourceMeta] {
        &self.resources
    }

    /// The database pool.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Creates every mounted resource's table and indexes that do not exist yet.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        migration::run_up(&self.db, &self.migrations).await
    }

    /// Drops every mounted resource's table, the last mounted first. Data is lost.
    pub async fn migrate_down(&self) -> Result<(), DbErr> {
        migration::run_down(&self.db, &self.migrations).await
    }

    /// The axum router: every route, the contract's 404 and 405, authentication, the body
    /// limit, request ids.
    pub fn into_router(self) -> Router {
        let state = ArcState(Arc::new(StateInner {
            db: self.db,
            cursor_key: self.cursor_key.unwrap_or_else(CursorKey::random),
            limits: self.limits,
        }));
        let mut router = self
            .routes
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed);
        if let Some(auth) = &self.auth {
            // Inside the request-id layer, so authentication errors carry the id.
            router = router.layer(auth.layer());
        }
        router
            .layer(DefaultBodyLimit::max(self.body_limit))
            .layer(request_id::RequestIdLayer)
            .with_state(state)
    }

    /// Serves on `addr` until Ctrl-C or SIGTERM, then lets in-flight requests finish.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> std::io::Result<()> {
        self.serve_on(tokio::net::TcpListener::bind(addr).await?)
            .await
    }

    /// Serves on a bound listener until Ctrl-C or SIGTERM.
    pub async fn serve_on(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        axum::serve(listener, self.into_router())
            .with_graceful_shutdown(shutdown_signal())
            .await
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
    tracing::info!("shutting down");
}
