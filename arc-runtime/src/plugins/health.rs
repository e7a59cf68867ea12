//! Health checks and readiness: [`Health`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;
use serde::Serialize;

use crate::error::{ArcError, ErrorCode};
use crate::stores::BoxFuture;

/// The default time a check may take before it counts as failed.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

type CheckFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[derive(Clone)]
struct Check {
    name: &'static str,
    critical: bool,
    timeout: Duration,
    run: CheckFn,
}

/// The app's readiness checks and its draining flag.
///
/// Health: `/_health/live` (the process answers) and `/_health/ready` (every registered check
/// passes within its timeout, and the app is not draining for shutdown).
///
/// Checks run concurrently; a failed or slow critical check makes readiness 503 naming it, a
/// failed non-critical one is reported and does not. The database ping is built in.
///
/// ```
/// use std::time::Duration;
/// use arc_runtime::config::Health;
/// let health = Health::new().check("cache", false, Duration::from_millis(200), || async {
///     Ok(()) // ping the cache here: `cache.ping().await?;`
/// });
/// # let _ = health;
/// ```
#[derive(Clone, Default)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Health {
    checks: Vec<Check>,
    draining: Draining,
    expose_errors: bool,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|c| c.name).collect();
        f.debug_struct("Health")
            .field("checks", &names)
            .field("draining", &self.draining.is_set())
            .finish()
    }
}

/// Set when the app starts shutting down: readiness turns 503 so load balancers stop
/// sending traffic while in-flight requests finish.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Marks the app as draining.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the app is draining.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Health {
    /// No checks yet (the app adds the database ping).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether readiness shows why a check failed (the App sets it from its preset: in
    /// development and testing only). The log always has it.
    pub fn expose_errors(mut self, expose: bool) -> Self {
        self.expose_errors = expose;
        self
    }

    /// Adds a check named `name`: `critical` ones fail readiness; each gets `timeout`. A
    /// failure is any error (`?` converts one, `Err("..".into())` makes one); readiness
    /// reports its text where errors are exposed.
    pub fn check<F, Fut>(
        mut self,
        name: &'static str,
        critical: bool,
        timeout: Duration,
        run: F,
    ) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send + 'static,
    {
        self.checks.retain(|c| c.name != name);
        self.checks.push(Check {
            name,
            critical,
            timeout,
            run: Arc::new(move || {
                let check = run();
                Box::pin(async move { check.await.map_err(|e| e.to_string()) })
            }),
        });
        self
    }

    /// Adds the critical `database` check: a ping of `db`.
    pub fn database(self, db: DatabaseConnection) -> Self {
        self.check("database", true, DEFAULT_TIMEOUT, move || {
            let db = db.clone();
            async move { Ok(db.ping().await?) }
        })
    }

    /// The draining flag: the app sets it when shutdown starts; an orchestrator's pre-stop
    /// hook can set it earlier.
    pub fn draining(&self) -> Draining {
        self.draining.clone()
    }

    /// Runs every check concurrently, each within its timeout.
    pub async fn report(&self) -> HealthReport {
        let runs = self.checks.iter().map(|check| async move {
            let start = Instant::now();
            let outcome = tokio::time::timeout(check.timeout, (check.run)()).await;
            let error = match outcome {
                Ok(Ok(())) => None,
                Ok(Err(e)) => {
                    tracing::warn!(check = check.name, error = %e, "health check failed");
                    // Its text can name hosts and users: the log has it, the public page
                    // only in development.
                    Some(if self.expose_errors {
                        e
                    } else {
                        "failed; the server log has the cause".to_owned()
                    })
                }
                Err(_) => {
                    let e = format!("timed out after {} ms", check.timeout.as_millis());
                    tracing::warn!(check = check.name, error = %e, "health check failed");
                    Some(e)
                }
            };
            CheckReport {
                name: check.name,
                status: if error.is_none() { "ok" } else { "fail" },
                critical: check.critical,
                duration_ms: start.elapsed().as_secs_f64() * 1e3,
                error,
            }
        });
        let checks = futures_util::future::join_all(runs).await;
        HealthReport {
            draining: self.draining.is_set(),
            checks,
        }
    }
}

/// One check's outcome.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    /// Its name.
    pub name: &'static str,
    /// `ok` or `fail`.
    pub status: &'static str,
    /// Whether it fails readiness.
    pub critical: bool,
    /// How long it took.
    #[serde(rename = "durationMs")]
    pub duration_ms: f64,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every check's outcome, and whether the app is draining.
#[derive(Debug)]
pub struct HealthReport {
    /// Shutting down.
    pub draining: bool,
    /// Per check.
    pub checks: Vec<CheckReport>,
}

impl HealthReport {
    /// The critical checks that failed.
    pub fn failed(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.critical && c.error.is_some())
            .map(|c| c.name)
            .collect()
    }
}

impl IntoResponse for HealthReport {
    fn into_response(self) -> Response {
        let failed = self.failed();
        if self.draining {
            return ArcError::new(ErrorCode::ServiceUnavailable, "Shutting down")
                .with_retry_after(5)
                .into_response();
        }
        if !failed.is_empty() {
            return ArcError::new(
                ErrorCode::ServiceUnavailable,
                format!("Not ready: {} failed", failed.join(", ")),
            )
            .with_details(serde_json::json!({ "checks": self.checks }))
            .into_response();
        }
        let body = serde_json::json!({ "success": true, "status": "ready", "checks": self.checks });
        (StatusCode::OK, Json(body)).into_response()
    }
}

/// `GET /_health/live`.
pub(crate) async fn live() -> Response {
    Json(serde_json::json!({ "success": true, "status": "live" })).into_response()
}
