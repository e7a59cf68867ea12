//! Audited resources, for the audit trail's tests: an organization's dossiers (soft-deleted,
//! bulk-written, with a hidden field, a field only `finance` sees, a field masked for
//! `intern`s, and after-hooks that refuse on demand), notices every organization shares
//! (deleted for good), and memos each author alone reads (soft-deleted, with no hooks).

use arc_runtime::config::{Audit, InMemoryAudit};
use arc_runtime::prelude::*;

/// A dossier of an organization.
#[resource(
    hooks,
    presets(audited, soft_delete, bulk, multi_tenant(field = "org_id")),
    query(filter = [title, stage], sort = [title])
)]
#[permissions(list = org_member, get = org_member, default = roles("admin"))]
pub struct Dossier {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    /// `fail` makes `after_create` refuse; `fail` on update makes `after_update` refuse.
    #[field(min_len = 1, max_len = 100)]
    pub title: String,
    #[field(default, max_len = 20)]
    pub stage: String,
    /// Never shown, never audited.
    #[field(hidden, max_len = 200)]
    pub secret: Option<String>,
    /// Shown to `finance` only.
    #[field(visible_to("finance"))]
    pub budget: Option<i64>,
    /// Masked for `intern`s.
    #[field(redact_for("intern"), max_len = 200)]
    pub contact: Option<String>,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn refused(what: &str) -> ArcError {
    ArcError::new(
        arc_runtime::ErrorCode::Conflict,
        format!("{what} refused by a hook"),
    )
}

impl Hooks for Dossier {
    async fn after_create(
        _: &WriteContext<'_>,
        row: &dossier_entity::Model,
    ) -> Result<(), ArcError> {
        if row.title == "fail" {
            return Err(refused("create"));
        }
        Ok(())
    }

    async fn after_update(
        _: &WriteContext<'_>,
        _: &dossier_entity::Model,
        row: &dossier_entity::Model,
    ) -> Result<(), ArcError> {
        if row.title == "fail" {
            return Err(refused("update"));
        }
        Ok(())
    }

    async fn after_delete(
        _: &WriteContext<'_>,
        row: &dossier_entity::Model,
    ) -> Result<(), ArcError> {
        if row.title == "keep" {
            return Err(refused("delete"));
        }
        Ok(())
    }
}

/// A notice every organization shares: written by platform admins, deleted for good.
#[resource(presets(audited, bulk), query(filter = [text]))]
#[permissions(list = public, get = public, default = roles("admin"))]
pub struct Notice {
    #[field(id)]
    pub id: Uuid,
    #[field(min_len = 1, max_len = 200)]
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A memo of an organization, read by its author alone (no role lets anyone else by).
#[resource(
    presets(
        audited,
        soft_delete,
        bulk,
        multi_tenant(field = "org_id"),
        owned_by_user(field = "author")
    ),
    query(filter = [text])
)]
#[permissions(default = org_member)]
pub struct Memo {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    #[field(system)]
    pub author: String,
    #[field(min_len = 1, max_len = 200)]
    pub text: String,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Dossiers, notices and memos, with their trail in the app's database (the default),
/// authenticating tokens signed with the notes secret ([`crate::notes::bearer`]).
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db)
        .resource::<Dossier>()
        .resource::<Notice>()
        .resource::<Memo>()
        .auth(crate::notes::auth())
}

/// The same app, its trail kept in memory.
pub fn app_in_memory(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    app(db).audit(Audit::new().store(InMemoryAudit::new()))
}
