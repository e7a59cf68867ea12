//! Resources with every hook, for the hook tests: entries whose writes are shaped, refused and
//! audited by hooks, inside the write's transaction.

use arc_runtime::ErrorCode;
use arc_runtime::prelude::*;
use arc_runtime::sea_orm::{ActiveModelTrait, ActiveValue};

/// An entry of the ledger.
#[resource(
    hooks,
    presets(bulk),
    query(filter = [code, locked, amount], sort = [code])
)]
#[permissions(default = public)]
pub struct Entry {
    #[field(id)]
    pub id: Uuid,
    /// Upper-cased by `before_create`.
    #[field(min_len = 1)]
    pub code: String,
    /// A locked entry refuses updates (`before_update`).
    #[field(default)]
    pub locked: bool,
    pub amount: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One line per write of an entry, written by the after hooks in the same transaction.
#[resource(query(sort = [created_at]))]
#[permissions(default = public)]
pub struct AuditLine {
    #[field(id)]
    pub id: Uuid,
    pub what: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The app's own event of a large entry (|amount| of 1000 or more), published by
/// `after_create` with the write (declared by the event tests).
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct LargeEntry {
    pub code: String,
    pub amount: i64,
}

impl arc_runtime::DomainEvent for LargeEntry {
    const NAME: &'static str = "ledger.large";
    const VERSION: u32 = 2;
}

async fn audit(ctx: &WriteContext<'_>, what: String) -> Result<(), ArcError> {
    let now = Utc::now();
    audit_line_entity::ActiveModel {
        id: ActiveValue::Set(Uuid::new_v4()),
        what: ActiveValue::Set(what),
        created_at: ActiveValue::Set(now),
        updated_at: ActiveValue::Set(now),
    }
    .insert(ctx.txn)
    .await?;
    Ok(())
}

impl Hooks for Entry {
    async fn before_create(
        _: &WriteContext<'_>,
        row: &mut entry_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if let ActiveValue::Set(code) = &row.code {
            row.code = ActiveValue::Set(code.trim().to_uppercase());
        }
        Ok(())
    }

    async fn after_create(
        ctx: &WriteContext<'_>,
        created: &entry_entity::Model,
    ) -> Result<(), ArcError> {
        if created.amount.abs() >= 1000 {
            // Published before the refusal below: a refused write takes it back with it.
            let large = LargeEntry {
                code: created.code.clone(),
                amount: created.amount,
            };
            match ctx.publish(&large).await {
                // Events off, or not declared: these apps do without it.
                Err(arc_runtime::PublishError::Off | arc_runtime::PublishError::Undeclared(_)) => {}
                other => other?,
            }
        }
        if created.amount < 0 {
            return Err(ArcError::new(
                ErrorCode::Conflict,
                "the ledger cannot go negative",
            ));
        }
        audit(ctx, format!("created {}", created.code)).await
    }

    async fn before_update(
        _: &WriteContext<'_>,
        current: &entry_entity::Model,
        _: &mut entry_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if current.locked {
            return Err(ArcError::new(ErrorCode::Conflict, "entry is locked"));
        }
        Ok(())
    }

    async fn after_update(
        ctx: &WriteContext<'_>,
        before: &entry_entity::Model,
        after: &entry_entity::Model,
    ) -> Result<(), ArcError> {
        audit(
            ctx,
            format!("{} {} -> {}", after.code, before.amount, after.amount),
        )
        .await
    }

    async fn after_delete(
        ctx: &WriteContext<'_>,
        deleted: &entry_entity::Model,
    ) -> Result<(), ArcError> {
        if deleted.code == "KEEP" {
            return Err(ArcError::new(ErrorCode::Conflict, "KEEP entries stay"));
        }
        audit(ctx, format!("deleted {}", deleted.code)).await
    }
}

/// An app serving entries and their audit lines.
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<Entry>().resource::<AuditLine>()
}
