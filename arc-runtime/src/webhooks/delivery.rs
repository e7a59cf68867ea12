//! [`WebhookDelivery`]: the delivery log, one row per webhook and event, as a read-only
//! resource at `/webhook-deliveries` for the organization's owners and admins; and the
//! statements the deliveries run on it: enqueue (once per webhook and event, whatever the
//! redeliveries of the event), claim (a lease, so one instance attempts a delivery at a
//! time), finish, prune.
//!
//! A row's `due_at` (milliseconds since the epoch, the same on SQLite and PostgreSQL) is
//! when it is next attempted while `pending`, the end of the lease while an attempt runs,
//! and when it ended once `delivered` or `failed`.

use sea_orm::sea_query::{Expr, ExprTrait, Index, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::prelude::*;

/// Where a delivery is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, Enum,
)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or in one).
    #[default]
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed, or its webhook is gone or disabled.
    Failed,
}

/// One event's delivery to one webhook: its attempts so far and how the last one ended.
#[resource(
    name = "webhook_delivery",
    path = "/webhook-deliveries",
    table = "arc_webhook_deliveries",
    hooks,
    presets(multi_tenant(field = "organization_id")),
    query(
        filter = [webhook_id, event, status, response_status, created_at],
        sort = [created_at],
        default_sort = "created_at"
    )
)]
#[permissions(
    list = org_roles("owner", "admin"),
    get = org_roles("owner", "admin"),
    create = deny,
    update = deny,
    delete = deny
)]
pub struct WebhookDelivery {
    /// The delivery's id (the `x-webhook-delivery` header).
    #[field(id)]
    pub id: Uuid,
    /// The organization of the webhook and the event.
    #[field(system)]
    pub organization_id: String,
    /// The webhook.
    #[field(system)]
    pub webhook_id: Uuid,
    /// The event's id (the `x-webhook-id` header).
    #[field(system)]
    pub event_id: Uuid,
    /// The event's type (`order.created`).
    #[field(system)]
    pub event: String,
    /// Where it is.
    #[field(system)]
    pub status: DeliveryStatus,
    /// Attempts made.
    #[field(system)]
    pub attempts: i32,
    /// The HTTP status the receiver last answered.
    #[field(system)]
    pub response_status: Option<i32>,
    /// Why the last attempt failed.
    #[field(system)]
    pub last_error: Option<String>,
    /// See the module's documentation.
    #[field(system, hidden)]
    pub due_at: i64,
    /// The body sent (signed as is on every attempt).
    #[field(system, hidden)]
    pub body: String,
    /// When the event was handed to the webhook.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the receiver accepted it.
    #[field(system)]
    pub delivered_at: Option<DateTime<Utc>>,
}

use webhook_delivery_entity::{ActiveModel, Column, Entity, Model};

/// The log is written by the deliveries alone: its write routes refuse everyone (their
/// rules are `deny`), and this hook refuses any other way in.
impl crate::hooks::Hooks for WebhookDelivery {
    async fn before_create(
        _: &crate::hooks::WriteContext<'_>,
        _: &mut ActiveModel,
    ) -> Result<(), ArcError> {
        Err(ArcError::forbidden(
            "The delivery log is written by the deliveries",
        ))
    }
}

/// The delivery log's indexes: one row per webhook and event, and the deliveries' question
/// (what is due).
pub(crate) struct DeliveriesMigration;

impl MigrationName for DeliveriesMigration {
    fn name(&self) -> &str {
        "m_arc_webhook_delivery_indexes"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for DeliveriesMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx-arc_webhook_deliveries-once")
                    .table(Entity)
                    .col(Column::WebhookId)
                    .col(Column::EventId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-arc_webhook_deliveries-due")
                    .table(Entity)
                    .col(Column::Status)
                    .col(Column::DueAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx-arc_webhook_deliveries-once",
            "idx-arc_webhook_deliveries-due",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Entity)
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// A new delivery of `event` (id, type, the body to send) to `webhook`, due now.
pub(crate) fn new_row(
    webhook: &super::subscription::webhook_entity::Model,
    event_id: Uuid,
    event: &str,
    body: &str,
    now_ms: i64,
) -> ActiveModel {
    let now = Utc::now();
    ActiveModel {
        id: Set(Uuid::new_v4()),
        organization_id: Set(webhook.organization_id.clone()),
        webhook_id: Set(webhook.id),
        event_id: Set(event_id),
        event: Set(event.to_owned()),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        response_status: Set(None),
        last_error: Set(None),
        due_at: Set(now_ms),
        body: Set(body.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        delivered_at: Set(None),
    }
}

/// The most deliveries one statement adds: 14 values a row keeps a chunk well under the
/// bind-parameter limits of SQLite (32,766) and PostgreSQL (65,535), however many webhooks
/// an event goes to.
pub(crate) const ENQUEUE_CHUNK: usize = 500;

/// Adds `rows`, skipping any whose webhook already has its event (a redelivered event), in
/// statements of at most [`ENQUEUE_CHUNK`] rows. A chunk that fails stops the rest: the
/// event is handed over again and the chunks already added are skipped then.
pub(crate) async fn enqueue<C: ConnectionTrait>(
    db: &C,
    rows: Vec<ActiveModel>,
) -> Result<(), DbErr> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<ActiveModel> = rows.by_ref().take(ENQUEUE_CHUNK).collect();
        Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([Column::WebhookId, Column::EventId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Claims up to `limit` due deliveries until `lease_end` (their attempt counted): the
/// rows claimed. Two instances claiming at once never both get a row: the update asks
/// again that it is due, after any other update of it.
pub(crate) async fn claim<C: ConnectionTrait>(
    db: &C,
    now_ms: i64,
    lease_end: i64,
    limit: u64,
) -> Result<Vec<Model>, DbErr> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let due = || {
        Condition::all()
            .add(Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .add(Column::DueAt.lte(now_ms))
    };
    let candidates = Query::select()
        .column(Column::Id)
        .from(Entity)
        .cond_where(due())
        .order_by(Column::DueAt, sea_orm::Order::Asc)
        .limit(limit)
        .to_owned();
    Entity::update_many()
        .col_expr(Column::DueAt, Expr::value(lease_end))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(due())
        .filter(Column::Id.in_subquery(candidates))
        .exec_with_returning(db)
        .await
}

/// How an attempt ended.
#[derive(Debug)]
pub(crate) struct Ended {
    pub(crate) status: DeliveryStatus,
    /// When a `pending` delivery is next attempted; when it ended otherwise.
    pub(crate) due_at: i64,
    pub(crate) response_status: Option<i32>,
    pub(crate) error: Option<String>,
}

/// Records how the attempt of `claimed` ended, unless its lease passed and another
/// attempt took the row (then that one records): whether it was recorded.
pub(crate) async fn finish<C: ConnectionTrait>(
    db: &C,
    claimed: &Model,
    ended: Ended,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let delivered_at = (ended.status == DeliveryStatus::Delivered).then_some(now);
    let done = Entity::update_many()
        .col_expr(Column::Status, Expr::value(ended.status.as_str()))
        .col_expr(Column::DueAt, Expr::value(ended.due_at))
        .col_expr(Column::ResponseStatus, Expr::value(ended.response_status))
        .col_expr(Column::LastError, Expr::value(ended.error))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .col_expr(Column::DeliveredAt, Expr::value(delivered_at))
        .filter(Column::Id.eq(claimed.id))
        .filter(Column::Attempts.eq(claimed.attempts))
        .filter(Column::DueAt.eq(claimed.due_at))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Deletes the deliveries that ended before `before`: how many.
pub(crate) async fn prune<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, DbErr> {
    Ok(Entity::delete_many()
        .filter(Column::Status.ne(DeliveryStatus::Pending.as_str()))
        .filter(Column::DueAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use sea_orm::{EntityTrait, PaginatorTrait, Schema};

    use super::*;
    use crate::webhooks::subscription::webhook_entity;

    fn webhook(org: &str) -> webhook_entity::Model {
        webhook_entity::Model {
            id: Uuid::new_v4(),
            organization_id: org.to_owned(),
            url: "https://hooks.example.com/".to_owned(),
            events: serde_json::json!(["*"]),
            secret: "s".repeat(16),
            description: None,
            disabled: false,
            disabled_reason: None,
            failures: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    /// More deliveries than one statement could bind (14 values a row: 3,000 rows are
    /// 42,000, past SQLite's 32,766) go in chunks; a redelivered event adds none again.
    #[tokio::test]
    async fn an_event_for_more_webhooks_than_one_statement_holds_is_enqueued() {
        let db = crate::connect("sqlite::memory:").await.unwrap();
        let backend = db.get_database_backend();
        let table = Schema::new(backend).create_table_from_entity(Entity);
        db.execute(&table).await.unwrap();
        DeliveriesMigration
            .up(&SchemaManager::new(&db))
            .await
            .unwrap();
        let many = 6 * ENQUEUE_CHUNK;
        assert!(many * 14 > 32_766);
        let webhooks: Vec<_> = (0..many).map(|_| webhook("acme")).collect();
        let event = Uuid::new_v4();
        let rows = |now| {
            webhooks
                .iter()
                .map(|w| new_row(w, event, "product.created", "{}", now))
                .collect::<Vec<_>>()
        };
        enqueue(&db, rows(1)).await.unwrap();
        assert_eq!(Entity::find().count(&db).await.unwrap(), many as u64);
        enqueue(&db, rows(2)).await.unwrap();
        assert_eq!(Entity::find().count(&db).await.unwrap(), many as u64);
    }
}
