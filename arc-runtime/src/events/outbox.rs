//! The transactional outbox: its tables (a migration), the event rows a write adds inside its
//! transaction, and what the relay and the stream read and mark.
//!
//! Times are milliseconds since the epoch (`BIGINT`), the same on SQLite and PostgreSQL.

use sea_orm::sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, Index, OnConflict, Order, Query, Table,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, DeriveIden, TransactionTrait,
};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};
use serde_json::{Map, Value as Json, json};

use super::{Delivery, Event, EventMeta};
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::crud::record::Record;
use crate::error::ArcError;
use crate::resource::{FieldSet, ResourceMeta, Shape};

#[derive(DeriveIden)]
enum ArcOutbox {
    Table,
    Seq,
    EventId,
    Name,
    Resource,
    Org,
    Envelope,
    Facts,
    CreatedAt,
    DeliveredAt,
    Position,
    Attempts,
    NextAttemptAt,
    LastError,
}

#[derive(DeriveIden)]
enum ArcOutboxLease {
    Table,
    Name,
    Owner,
    Until,
    // The last publication position given: durable, so positions only grow, whatever is
    // pruned. (A doc comment here would name the column: `DeriveIden` reads it.)
    Position,
}

#[derive(DeriveIden)]
enum ArcEventDeadLetters {
    Table,
    Id,
    Subscriber,
    EventId,
    Name,
    Envelope,
    Error,
    Attempts,
    CreatedAt,
}

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The events plugin's tables: `arc_outbox`, `arc_outbox_lease`, `arc_event_dead_letters`.
pub(crate) struct EventsMigration;

impl MigrationName for EventsMigration {
    fn name(&self) -> &str {
        "m_arc_create_event_tables"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for EventsMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ArcOutbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ArcOutbox::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ArcOutbox::EventId).string_len(36).not_null())
                    .col(ColumnDef::new(ArcOutbox::Name).string_len(200).not_null())
                    .col(ColumnDef::new(ArcOutbox::Resource).string_len(200).null())
                    .col(ColumnDef::new(ArcOutbox::Org).text().null())
                    .col(ColumnDef::new(ArcOutbox::Envelope).text().not_null())
                    .col(ColumnDef::new(ArcOutbox::Facts).text().not_null())
                    .col(
                        ColumnDef::new(ArcOutbox::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ArcOutbox::DeliveredAt).big_integer().null())
                    .col(ColumnDef::new(ArcOutbox::Position).big_integer().null())
                    .col(
                        ColumnDef::new(ArcOutbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(ArcOutbox::NextAttemptAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(ArcOutbox::LastError).text().null())
                    .to_owned(),
            )
            .await?;
        // The relay's question: the undelivered rows, in order.
        manager
            .create_index(
                Index::create()
                    .name("idx-arc_outbox-pending")
                    .table(ArcOutbox::Table)
                    .col(ArcOutbox::DeliveredAt)
                    .col(ArcOutbox::Seq)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The streams' question: what was published after the position they are at.
        manager
            .create_index(
                Index::create()
                    .name("idx-arc_outbox-position")
                    .table(ArcOutbox::Table)
                    .col(ArcOutbox::Position)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ArcOutboxLease::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ArcOutboxLease::Name)
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ArcOutboxLease::Owner)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ArcOutboxLease::Until)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ArcOutboxLease::Position)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ArcEventDeadLetters::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ArcEventDeadLetters::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ArcEventDeadLetters::Subscriber)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ArcEventDeadLetters::EventId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ArcEventDeadLetters::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ArcEventDeadLetters::Envelope)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ArcEventDeadLetters::Error).text().not_null())
                    .col(
                        ColumnDef::new(ArcEventDeadLetters::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ArcEventDeadLetters::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Alias::new("arc_event_dead_letters"),
            Alias::new("arc_outbox_lease"),
            Alias::new("arc_outbox"),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// What a write did to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Created,
    Updated,
    Restored,
    Deleted,
}

impl Change {
    /// Every change.
    pub(crate) const ALL: [Change; 4] = [
        Change::Created,
        Change::Updated,
        Change::Restored,
        Change::Deleted,
    ];

    /// The event type of this change to a row of `resource`.
    pub(crate) fn event_name(self, resource: &str) -> String {
        format!("{resource}.{}", self.past())
    }

    /// The event type's last segment.
    fn past(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated | Change::Restored => "updated",
            Change::Deleted => "deleted",
        }
    }

    /// The payload's `operation`.
    fn operation(self) -> &'static str {
        match self {
            Change::Created => "create",
            Change::Updated => "update",
            Change::Restored => "restore",
            Change::Deleted => "delete",
        }
    }
}

/// The fields whose values decide who may see a row: the tenant, the owner, and every field
/// a rule's row filter names (`owner(..)`, `team(..)`).
pub(crate) fn fact_fields(meta: &ResourceMeta) -> FieldSet {
    let mut set = FieldSet(0);
    for i in [meta.presets.tenant, meta.presets.owner]
        .into_iter()
        .flatten()
    {
        set.insert(i);
    }
    for op in crate::action::Operation::ALL {
        meta.permissions.rule(op).row_fields(&mut |name| {
            if let Some(i) = meta.fields.iter().position(|f| f.name == name) {
                set.insert(i);
            }
        });
    }
    set
}

/// Writes the events of `change` to `rows` into the outbox, inside the write's transaction
/// `txn` (nothing when the app has no events). One statement for all of them.
pub(crate) async fn record(
    state: &ArcState,
    txn: &DatabaseTransaction,
    caller: &AuthContext,
    meta: &'static ResourceMeta,
    change: Change,
    rows: &[Record],
) -> Result<(), ArcError> {
    if state.events().is_none() || rows.is_empty() {
        return Ok(());
    }
    let shown = Shape::for_caller(meta, caller);
    let facts = Shape {
        fields: fact_fields(meta),
        redact: FieldSet(0),
    };
    let now = chrono::Utc::now();
    let created_at = now.timestamp_millis();
    let correlation_id =
        crate::plugins::request_id::current().and_then(|v| v.to_str().ok().map(str::to_owned));
    let trace_id = crate::plugins::trace::current().map(|t| t.trace_id_hex());
    let name = change.event_name(meta.name);
    // A statement per chunk: databases bound the parameters of one (SQLite 32766).
    for chunk in rows.chunks(RECORD_CHUNK) {
        let mut insert = Query::insert();
        insert.into_table(ArcOutbox::Table).columns([
            ArcOutbox::EventId,
            ArcOutbox::Name,
            ArcOutbox::Resource,
            ArcOutbox::Org,
            ArcOutbox::Envelope,
            ArcOutbox::Facts,
            ArcOutbox::CreatedAt,
        ]);
        for record in chunk {
            let data =
                serde_json::to_value(record.shown(meta, shown)).map_err(ArcError::internal)?;
            let facts =
                serde_json::to_value(record.shown(meta, facts)).map_err(ArcError::internal)?;
            let id = crate::value::to_cursor_text(record.get(meta.id)).unwrap_or_default();
            let org = meta
                .presets
                .tenant
                .and_then(|i| facts.get(meta.fields[i].name))
                .and_then(Json::as_str)
                .map(str::to_owned)
                .or_else(|| caller.org_id.clone());
            let event = Event {
                name: name.clone(),
                payload: json!({
                    "resource": meta.name,
                    "operation": change.operation(),
                    "data": data,
                    "userId": caller.user_id,
                    "organizationId": org,
                    "timestamp": now,
                }),
                meta: EventMeta {
                    id: uuid::Uuid::new_v4(),
                    timestamp: now,
                    version: 1,
                    resource: Some(meta.name.to_owned()),
                    resource_id: Some(id),
                    user_id: caller.user_id.clone(),
                    organization_id: org.clone(),
                    correlation_id: correlation_id.clone(),
                    trace_id: trace_id.clone(),
                },
            };
            insert
                .values([
                    event.meta.id.to_string().into(),
                    name.clone().into(),
                    meta.name.into(),
                    org.into(),
                    serde_json::to_string(&event)
                        .map_err(ArcError::internal)?
                        .into(),
                    facts.to_string().into(),
                    created_at.into(),
                ])
                .map_err(ArcError::internal)?;
        }
        txn.execute(&insert).await?;
    }
    Ok(())
}

/// Writes one event of no resource (an app's own) into the outbox over `conn`: delivered to
/// the subscribers, never to the streams (no row decides who may see it).
pub(crate) async fn append<C: ConnectionTrait>(conn: &C, event: &Event) -> Result<(), DbErr> {
    let envelope =
        serde_json::to_string(event).map_err(|e| DbErr::Custom(format!("an event: {e}")))?;
    let mut insert = Query::insert();
    insert
        .into_table(ArcOutbox::Table)
        .columns([
            ArcOutbox::EventId,
            ArcOutbox::Name,
            ArcOutbox::Org,
            ArcOutbox::Envelope,
            ArcOutbox::Facts,
            ArcOutbox::CreatedAt,
        ])
        .values([
            event.meta.id.to_string().into(),
            event.name.clone().into(),
            event.meta.organization_id.clone().into(),
            envelope.into(),
            "{}".into(),
            event.meta.timestamp.timestamp_millis().into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    conn.execute(&insert).await?;
    Ok(())
}

/// Rows per outbox insert.
const RECORD_CHUNK: usize = 500;

/// One undelivered row, as the relay reads it.
pub(crate) struct Pending {
    pub(crate) delivery: Result<Delivery, String>,
    pub(crate) seq: i64,
    pub(crate) next_attempt_at: Option<i64>,
}

fn delivery(seq: i64, envelope: &str, facts: &str) -> Result<Delivery, String> {
    let event: Event = serde_json::from_str(envelope).map_err(|e| e.to_string())?;
    let facts: Map<String, Json> = serde_json::from_str(facts).map_err(|e| e.to_string())?;
    Ok(Delivery {
        seq,
        event: std::sync::Arc::new(event),
        facts,
    })
}

/// The first `limit` undelivered rows, in order.
pub(crate) async fn pending<C: ConnectionTrait>(db: &C, limit: u32) -> Result<Vec<Pending>, DbErr> {
    let select = Query::select()
        .columns([
            ArcOutbox::Seq,
            ArcOutbox::Envelope,
            ArcOutbox::Facts,
            ArcOutbox::NextAttemptAt,
        ])
        .from(ArcOutbox::Table)
        .and_where(Expr::col(ArcOutbox::DeliveredAt).is_null())
        .order_by(ArcOutbox::Seq, Order::Asc)
        .limit(u64::from(limit))
        .to_owned();
    let mut out = Vec::new();
    for row in db.query_all(&select).await? {
        let seq: i64 = row.try_get("", "seq")?;
        let envelope: String = row.try_get("", "envelope")?;
        let facts: String = row.try_get("", "facts")?;
        out.push(Pending {
            delivery: delivery(seq, &envelope, &facts),
            seq,
            next_attempt_at: row.try_get("", "next_attempt_at")?,
        });
    }
    Ok(out)
}

/// Published rows after position `after`, in publication order, at most `limit`: what the
/// streams of every instance read (and a resume from `Last-Event-ID`). Each [`Delivery`]'s
/// `seq` is its position.
pub(crate) async fn published_since<C: ConnectionTrait>(
    db: &C,
    after: i64,
    limit: u64,
) -> Result<Vec<Delivery>, DbErr> {
    let select = Query::select()
        .columns([ArcOutbox::Position, ArcOutbox::Envelope, ArcOutbox::Facts])
        .from(ArcOutbox::Table)
        .and_where(Expr::col(ArcOutbox::Position).gt(after))
        .order_by(ArcOutbox::Position, Order::Asc)
        .limit(limit)
        .to_owned();
    let mut out = Vec::new();
    for row in db.query_all(&select).await? {
        let position: i64 = row.try_get("", "position")?;
        let envelope: String = row.try_get("", "envelope")?;
        let facts: String = row.try_get("", "facts")?;
        match delivery(position, &envelope, &facts) {
            Ok(d) => out.push(d),
            Err(e) => tracing::warn!(position, error = %e, "events: unreadable outbox row skipped"),
        }
    }
    Ok(out)
}

/// The last publication position (0 before the first).
pub(crate) async fn last_position<C: ConnectionTrait>(db: &C) -> Result<i64, DbErr> {
    let select = Query::select()
        .column(ArcOutboxLease::Position)
        .from(ArcOutboxLease::Table)
        .and_where(Expr::col(ArcOutboxLease::Name).eq(RELAY))
        .to_owned();
    match db.query_one(&select).await? {
        Some(row) => row.try_get("", "position"),
        None => Ok(0),
    }
}

/// Marks `seqs` (ascending) published, if `owner` still holds the lease: delivered now, and
/// given positions after every position before, in their order, the last one kept in the
/// lease row. One transaction, the lease row locked, so positions only grow even if a lease
/// changed hands mid-round. Whether the lease was still `owner`'s.
pub(crate) async fn mark_published(
    db: &DatabaseConnection,
    owner: &str,
    seqs: &[i64],
) -> Result<bool, DbErr> {
    let (Some(first), Some(last)) = (seqs.first(), seqs.last()) else {
        return Ok(true);
    };
    let txn = db.begin().await?;
    let now = now_ms();
    let held = Query::select()
        .column(ArcOutboxLease::Position)
        .from(ArcOutboxLease::Table)
        .and_where(Expr::col(ArcOutboxLease::Name).eq(RELAY))
        .and_where(Expr::col(ArcOutboxLease::Owner).eq(owner))
        .and_where(Expr::col(ArcOutboxLease::Until).gt(now))
        .lock_exclusive()
        .to_owned();
    let Some(row) = txn.query_one(&held).await? else {
        txn.rollback().await?;
        return Ok(false);
    };
    let high: i64 = row.try_get("", "position")?;
    let offset = Ord::max(high + 1 - first, 0);
    let update = Query::update()
        .table(ArcOutbox::Table)
        .value(ArcOutbox::DeliveredAt, now)
        .value(ArcOutbox::Position, Expr::col(ArcOutbox::Seq).add(offset))
        .and_where(Expr::col(ArcOutbox::Seq).is_in(seqs.iter().copied()))
        .and_where(Expr::col(ArcOutbox::DeliveredAt).is_null())
        .to_owned();
    txn.execute(&update).await?;
    let keep = Query::update()
        .table(ArcOutboxLease::Table)
        .value(ArcOutboxLease::Position, last + offset)
        .and_where(Expr::col(ArcOutboxLease::Name).eq(RELAY))
        .to_owned();
    txn.execute(&keep).await?;
    txn.commit().await?;
    Ok(true)
}

/// Deletes delivered rows older than `before` (ms). How many.
pub(crate) async fn prune<C: ConnectionTrait>(db: &C, before: i64) -> Result<u64, DbErr> {
    let delete = Query::delete()
        .from_table(ArcOutbox::Table)
        .and_where(Expr::col(ArcOutbox::DeliveredAt).is_not_null())
        .and_where(Expr::col(ArcOutbox::DeliveredAt).lt(before))
        .to_owned();
    Ok(db.execute(&delete).await?.rows_affected())
}

/// The relay's lease: taken when free, expired or already ours; renewed by taking it again.
/// Whether `owner` holds it until `until` (ms).
pub(crate) async fn take_lease<C: ConnectionTrait>(
    db: &C,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<bool, DbErr> {
    let excluded = |col| Expr::col((Alias::new("excluded"), col));
    let upsert = Query::insert()
        .into_table(ArcOutboxLease::Table)
        .columns([
            ArcOutboxLease::Name,
            ArcOutboxLease::Owner,
            ArcOutboxLease::Until,
        ])
        .values([RELAY.into(), owner.into(), until.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .on_conflict(
            OnConflict::column(ArcOutboxLease::Name)
                .update_columns([ArcOutboxLease::Owner, ArcOutboxLease::Until])
                .action_and_where(
                    Expr::col((ArcOutboxLease::Table, ArcOutboxLease::Owner))
                        .eq(excluded(ArcOutboxLease::Owner))
                        .or(Expr::col((ArcOutboxLease::Table, ArcOutboxLease::Until)).lt(now)),
                )
                .to_owned(),
        )
        .to_owned();
    Ok(db.execute(&upsert).await?.rows_affected() == 1)
}

/// Gives the lease up, if `owner` holds it: it expires now (the row, with its last position,
/// stays).
pub(crate) async fn release_lease<C: ConnectionTrait>(db: &C, owner: &str) -> Result<(), DbErr> {
    let expire = Query::update()
        .table(ArcOutboxLease::Table)
        .value(ArcOutboxLease::Until, 0)
        .and_where(Expr::col(ArcOutboxLease::Name).eq(RELAY))
        .and_where(Expr::col(ArcOutboxLease::Owner).eq(owner))
        .to_owned();
    db.execute(&expire).await?;
    Ok(())
}

/// The lease's one row.
const RELAY: &str = "relay";

/// Keeps a subscriber's failed event, with its envelope.
pub(crate) async fn dead_letter<C: ConnectionTrait>(
    db: &C,
    subscriber: &str,
    event: &Event,
    error: &str,
    attempts: u32,
) -> Result<(), DbErr> {
    let envelope = serde_json::to_string(event).map_err(|e| DbErr::Custom(e.to_string()))?;
    let insert = Query::insert()
        .into_table(ArcEventDeadLetters::Table)
        .columns([
            ArcEventDeadLetters::Subscriber,
            ArcEventDeadLetters::EventId,
            ArcEventDeadLetters::Name,
            ArcEventDeadLetters::Envelope,
            ArcEventDeadLetters::Error,
            ArcEventDeadLetters::Attempts,
            ArcEventDeadLetters::CreatedAt,
        ])
        .values([
            subscriber.into(),
            event.meta.id.to_string().into(),
            event.name.clone().into(),
            envelope.into(),
            error.chars().take(2000).collect::<String>().into(),
            i64::from(attempts).into(),
            now_ms().into(),
        ])
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}
