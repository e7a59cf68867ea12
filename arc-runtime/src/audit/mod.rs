//! The audit trail: what the `audited` preset records, and where it is read.
//!
//! Each write of an `audited` resource (create, update, delete, restore, and each row of a
//! bulk write) leaves one [`AuditEntry`] per row it changed: who, in which organization, in
//! which request, which fields changed from what to what, and when. The entries are made
//! inside the write's transaction, from the rows before and after it (`trail`), and given to
//! the app's [`AuditStore`](crate::config::AuditStore): the app's own database by default
//! ([`SqlAudit`](crate::config::SqlAudit): a rolled-back write has no entry, a committed one
//! always has its entries), or memory ([`InMemoryAudit`](crate::config::InMemoryAudit)).
//! `GET /_audit` (`route`) reads them: platform admins every entry, organization admins
//! their organization's, each through the field rules of its resource.
//!
//! ```no_run
//! # fn f(app: arc_runtime::App) -> arc_runtime::App {
//! use arc_runtime::config::{Audit, InMemoryAudit};
//! // Audit is on whenever a resource is `audited`; this keeps the entries in memory instead.
//! app.audit(Audit::new().store(InMemoryAudit::new()))
//! # }
//! ```

pub(crate) mod elevation;
mod entry;
pub(crate) mod route;
mod trail;

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::DatabaseTransaction;

pub use entry::{AuditAction, AuditEntry};
pub(crate) use entry::{AuditRecord, table, value_of};

use crate::auth::AuthContext;
use crate::crud::record::Record;
use crate::error::{ArcError, ErrorCode};
use crate::events::Change;
use crate::plugins::metrics::Metrics;
use crate::resource::ResourceMeta;
use crate::stores::{AuditStore, StoreError};

/// Where the trail is read.
pub(crate) const PATH: &str = "/_audit";

/// The resource of the entries of elevated requests ([`elevation`]).
pub(crate) const ELEVATION: &str = "_elevation";

/// The resource of the entries of failed compensations
/// ([`Compensation::run_recorded`](crate::Compensation::run_recorded)).
pub(crate) const COMPENSATION: &str = "_compensation";

/// The trail's own resources: entries of what was done through the framework, not of an
/// app's rows (no resource of an app starts with `_`). Their values are no row's, so they
/// are shown as they are, and an organization's admins read those of their organization.
pub(crate) const OWN_RESOURCES: [&str; 2] = [ELEVATION, COMPENSATION];

/// The audit trail's settings (see [`App::audit`](crate::App::audit)): where its entries
/// are kept. An app with an `audited` resource has it on with [`Audit::new`]'s defaults.
#[derive(Clone, Default)]
#[must_use]
pub struct Audit {
    store: Option<Arc<dyn AuditStore>>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field(
                "store",
                &if self.store.is_some() {
                    "custom"
                } else {
                    "sql"
                },
            )
            .finish()
    }
}

impl Audit {
    /// Whether instances share the trail (the default, the app's database, does).
    pub(crate) fn shared(&self) -> bool {
        self.store.as_ref().is_none_or(|store| store.shared())
    }

    /// The trail in the app's own database ([`SqlAudit`](crate::config::SqlAudit)), in
    /// the table `arc_audit` its migrations create.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the entries in `store` instead (e.g.
    /// [`InMemoryAudit`](crate::config::InMemoryAudit) for tests).
    pub fn store(mut self, store: impl AuditStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }
}

impl AuditEntry {
    /// An entry of one of the trail's [own resources](OWN_RESOURCES): `action` on
    /// `document_id` by `caller`, in their active organization, in this request, now, with
    /// `after` saying what happened.
    pub(crate) fn own(
        resource: &'static str,
        document_id: String,
        action: AuditAction,
        caller: &AuthContext,
        after: serde_json::Map<String, serde_json::Value>,
    ) -> AuditEntry {
        let (request_id, trace_id) = trail::request_ids();
        AuditEntry {
            id: uuid::Uuid::new_v4(),
            resource: resource.to_owned(),
            document_id,
            action,
            user_id: caller.user_id.clone(),
            organization_id: caller.org_id.clone(),
            request_id,
            trace_id,
            changes: Vec::new(),
            before: None,
            after: Some(after),
            timestamp: trail::now(),
        }
    }
}

/// Keeps `entry` in `state`'s trail on its own ([`AuditRuntime::record`]), or says why
/// not: a 503 when the store fails, or when the app has no trail (elevation turns the trail
/// on: without one, an elevated request fails closed).
pub(crate) async fn keep(state: &crate::app::ArcState, entry: AuditEntry) -> Result<(), ArcError> {
    let Some(audit) = state.audit() else {
        return Err(ArcError::new(
            ErrorCode::ServiceUnavailable,
            "The audit trail is unavailable, try again shortly",
        ));
    };
    audit.record(state.writer(), entry).await
}

/// The running audit trail of an app, shared by the writes and `GET /_audit`.
pub(crate) struct AuditRuntime {
    store: Arc<dyn AuditStore>,
    metrics: Option<Metrics>,
    /// The app's resources by name: each entry is shown through its resource's rules.
    resources: HashMap<&'static str, &'static ResourceMeta>,
}

impl std::fmt::Debug for AuditRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditRuntime").finish_non_exhaustive()
    }
}

/// A store's failure as an answer: a database error as the database's (a busy database is
/// a 503), anything else a 503: the trail cannot be kept or read now.
fn unavailable(error: StoreError) -> ArcError {
    match error.into_cause().downcast::<sea_orm::DbErr>() {
        Ok(db) => ArcError::from(*db),
        Err(cause) => {
            tracing::error!(error = %cause, "audit store unavailable");
            ArcError::new(
                ErrorCode::ServiceUnavailable,
                "The audit trail is unavailable, try again shortly",
            )
            .with_retry_after(1)
        }
    }
}

impl AuditRuntime {
    /// The trail of an app with `settings` over `db`, for its `resources`.
    pub(crate) fn start(
        settings: Audit,
        db: sea_orm::DatabaseConnection,
        metrics: Option<Metrics>,
        resources: &[&'static ResourceMeta],
    ) -> Arc<AuditRuntime> {
        let store = settings
            .store
            .unwrap_or_else(|| Arc::new(crate::stores::SqlAudit::new(db)));
        Arc::new(AuditRuntime {
            store,
            metrics,
            resources: resources.iter().map(|m| (m.name, *m)).collect(),
        })
    }

    /// Inside the write's transaction `txn`: the entries of `change` to `before` and `after`
    /// (see `trail::entries`), given to the store. They are returned for
    /// [`AuditRuntime::committed`].
    pub(crate) async fn write(
        &self,
        txn: &DatabaseTransaction,
        caller: &AuthContext,
        meta: &'static ResourceMeta,
        change: Change,
        before: &[Record],
        after: &[Record],
    ) -> Result<Vec<AuditEntry>, ArcError> {
        let entries = trail::entries(meta, caller, change, before, after)?;
        if !entries.is_empty() {
            self.store.write(txn, &entries).await.map_err(unavailable)?;
            tracing::debug!(
                resource = meta.name,
                entries = entries.len(),
                "audit entries written"
            );
        }
        Ok(entries)
    }

    /// Keeps `entry` on its own, in a transaction of its own on the `writer`; unlike a
    /// write's entries, an error when any store does not keep it.
    pub(crate) async fn record(
        &self,
        writer: &crate::db::Writer,
        entry: AuditEntry,
    ) -> Result<(), ArcError> {
        let entries = vec![entry];
        let txn = writer.begin(true).await?;
        self.store
            .write(&txn, &entries)
            .await
            .map_err(unavailable)?;
        txn.commit().await?;
        writer.committed();
        self.count(&entries);
        self.store.committed(entries).await.map_err(unavailable)
    }

    /// Counts `entries` in `arc_audit_entries_total`.
    fn count(&self, entries: &[AuditEntry]) {
        if let Some(metrics) = &self.metrics {
            metrics.record(|| {
                for entry in entries {
                    metrics::counter!(
                        "arc_audit_entries_total",
                        "resource" => entry.resource.clone(),
                        "action" => entry.action.as_str(),
                    )
                    .increment(1);
                }
            });
        }
    }

    /// After the commit of the write that made `entries`: counted, and kept by a store
    /// outside the database. The write stands whatever happens here; a failure is logged.
    pub(crate) async fn committed(&self, entries: Vec<AuditEntry>) {
        if entries.is_empty() {
            return;
        }
        self.count(&entries);
        let count = entries.len();
        if let Err(e) = self.store.committed(entries).await {
            tracing::error!(error = %e, entries = count, "audit: committed entries not kept");
        }
    }
}
