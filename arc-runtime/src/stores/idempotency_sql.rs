//! Idempotency keys in the app's own database: [`SqlIdempotency`], whose mark of a key as
//! written is made inside the write's own transaction, and the migration of its table,
//! `arc_idempotency`.
//!
//! A key's row goes `pending` (the lease, taken in a statement of its own so other
//! instances see it at once) → `sealed` (in the write's transaction: it commits with the
//! write and only with it) → `done` (the answer, stored after the commit). A lease that ran
//! out is taken over only while its row is still `pending`, so a write that committed is
//! never run again. One window remains: an instance that stops between its commit and
//! storing the answer leaves the key `sealed` without one; a retry is then told the request
//! was carried out but its answer was not kept ([`Begin::Lost`]), until the key expires.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Index, OnConflict, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, DeriveIden};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use super::idempotency::{Begin, Claim, IdempotencyStore};
use super::{BoxFuture, StoreError};

#[derive(DeriveIden)]
enum ArcIdempotency {
    Table,
    ScopeKey,
    Fingerprint,
    Token,
    State,
    LeaseUntil,
    ExpiresAt,
    Response,
}

const PENDING: &str = "pending";
const SEALED: &str = "sealed";
const DONE: &str = "done";

/// How many claims between two sweeps of expired rows.
const SWEEP_EVERY: u64 = 512;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The store in the app's database: a row per key in `arc_idempotency`, sealed in the
/// write's transaction, so a write that committed is never run again (one window is left:
/// an instance that stops between its commit and storing the answer leaves the key without
/// one, and a retry is answered 409 `CONFLICT` until the key expires).
///
/// [`Idempotency::sql`](crate::config::Idempotency::sql) gives it and adds its table to the
/// app's migrations; built here (to wrap it), it must be over the app's own database, whose
/// migrations include that table (`Idempotency::sql()` on the app does it).
#[derive(Debug)]
pub struct SqlIdempotency {
    db: DatabaseConnection,
    claims: AtomicU64,
}

impl SqlIdempotency {
    /// The store over `db`, the app's database, whose migrations create the table.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            claims: AtomicU64::new(0),
        }
    }

    /// Deletes the rows past their expiry.
    async fn sweep(&self, now: i64) -> Result<(), DbErr> {
        let delete = Query::delete()
            .from_table(ArcIdempotency::Table)
            .and_where(Expr::col(ArcIdempotency::ExpiresAt).lt(now))
            .to_owned();
        self.db.execute(&delete).await?;
        Ok(())
    }

    async fn claim(&self, claim: &Claim<'_>) -> Result<Begin, DbErr> {
        let now = now_ms();
        if self.claims.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(now).await?;
        }
        let (lease_until, expires_at) = (now + ms(claim.lease), now + ms(claim.ttl));
        let insert = Query::insert()
            .into_table(ArcIdempotency::Table)
            .columns([
                ArcIdempotency::ScopeKey,
                ArcIdempotency::Fingerprint,
                ArcIdempotency::Token,
                ArcIdempotency::State,
                ArcIdempotency::LeaseUntil,
                ArcIdempotency::ExpiresAt,
            ])
            .values([
                claim.key.into(),
                claim.fingerprint.into(),
                claim.token.into(),
                PENDING.into(),
                lease_until.into(),
                expires_at.into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .on_conflict(
                OnConflict::column(ArcIdempotency::ScopeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        if self.db.execute(&insert).await?.rows_affected() == 1 {
            return Ok(Begin::Started);
        }
        // Taken: read it, and take it over if it has run out. Two rounds at most: a row
        // that vanished or changed hands between the statements is read again.
        for _ in 0..2 {
            let select = Query::select()
                .columns([
                    ArcIdempotency::Fingerprint,
                    ArcIdempotency::Token,
                    ArcIdempotency::State,
                    ArcIdempotency::LeaseUntil,
                    ArcIdempotency::ExpiresAt,
                    ArcIdempotency::Response,
                ])
                .from(ArcIdempotency::Table)
                .and_where(Expr::col(ArcIdempotency::ScopeKey).eq(claim.key))
                .to_owned();
            let Some(row) = self.db.query_one(&select).await? else {
                if self.db.execute(&insert).await?.rows_affected() == 1 {
                    return Ok(Begin::Started);
                }
                continue;
            };
            let fingerprint: String = row.try_get("", "fingerprint")?;
            let token: String = row.try_get("", "token")?;
            let state: String = row.try_get("", "state")?;
            let lease: i64 = row.try_get("", "lease_until")?;
            let expires: i64 = row.try_get("", "expires_at")?;
            let free = expires <= now || (state == PENDING && lease <= now);
            if !free {
                return Ok(if fingerprint != claim.fingerprint {
                    Begin::Mismatch
                } else if state == DONE {
                    let response: Option<Vec<u8>> = row.try_get("", "response")?;
                    response.map_or(Begin::Lost, Begin::Replay)
                } else if state == SEALED && lease <= now {
                    Begin::Lost
                } else {
                    Begin::InFlight
                });
            }
            // The same conditions again in the statement: a write sealed meanwhile (its
            // transaction held the row) keeps its key.
            let take_over = Query::update()
                .table(ArcIdempotency::Table)
                .value(ArcIdempotency::Fingerprint, claim.fingerprint)
                .value(ArcIdempotency::Token, claim.token)
                .value(ArcIdempotency::State, PENDING)
                .value(ArcIdempotency::LeaseUntil, lease_until)
                .value(ArcIdempotency::ExpiresAt, expires_at)
                .value(ArcIdempotency::Response, Option::<Vec<u8>>::None)
                .and_where(Expr::col(ArcIdempotency::ScopeKey).eq(claim.key))
                .and_where(Expr::col(ArcIdempotency::Token).eq(token))
                .cond_where(
                    Expr::col(ArcIdempotency::ExpiresAt).lte(now).or(Expr::col(
                        ArcIdempotency::State,
                    )
                    .eq(PENDING)
                    .and(Expr::col(ArcIdempotency::LeaseUntil).lte(now))),
                )
                .to_owned();
            if self.db.execute(&take_over).await?.rows_affected() == 1 {
                return Ok(Begin::Started);
            }
        }
        Ok(Begin::InFlight)
    }
}

impl IdempotencyStore for SqlIdempotency {
    fn begin<'a>(&'a self, claim: &'a Claim<'a>) -> BoxFuture<'a, Result<Begin, StoreError>> {
        Box::pin(async move { self.claim(claim).await.map_err(StoreError::new) })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        response: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let update = Query::update()
                .table(ArcIdempotency::Table)
                .value(ArcIdempotency::State, DONE)
                .value(ArcIdempotency::Response, response.to_vec())
                .value(ArcIdempotency::ExpiresAt, now_ms() + ms(ttl))
                .and_where(Expr::col(ArcIdempotency::ScopeKey).eq(key))
                .and_where(Expr::col(ArcIdempotency::Token).eq(token))
                .to_owned();
            self.db.execute(&update).await.map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // Only a pending key: a sealed one committed its write and must not run again.
            let delete = Query::delete()
                .from_table(ArcIdempotency::Table)
                .and_where(Expr::col(ArcIdempotency::ScopeKey).eq(key))
                .and_where(Expr::col(ArcIdempotency::Token).eq(token))
                .and_where(Expr::col(ArcIdempotency::State).eq(PENDING))
                .to_owned();
            self.db.execute(&delete).await.map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn seal<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let seal = Query::update()
                .table(ArcIdempotency::Table)
                .value(ArcIdempotency::State, SEALED)
                .and_where(Expr::col(ArcIdempotency::ScopeKey).eq(key))
                .and_where(Expr::col(ArcIdempotency::Token).eq(token))
                .and_where(Expr::col(ArcIdempotency::State).eq(PENDING))
                .to_owned();
            let sealed = txn.execute(&seal).await.map_err(StoreError::new)?;
            Ok(sealed.rows_affected() == 1)
        })
    }

    fn shared(&self) -> bool {
        true
    }
}

/// The table `arc_idempotency`, with an index on the expiry the sweep deletes by.
pub(crate) struct IdempotencyMigration;

impl MigrationName for IdempotencyMigration {
    fn name(&self) -> &str {
        "m_arc_create_idempotency_table"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for IdempotencyMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ArcIdempotency as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(T::ScopeKey)
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(T::Fingerprint).string_len(64).not_null())
                    .col(ColumnDef::new(T::Token).string_len(64).not_null())
                    .col(ColumnDef::new(T::State).string_len(16).not_null())
                    .col(ColumnDef::new(T::LeaseUntil).big_integer().not_null())
                    .col(ColumnDef::new(T::ExpiresAt).big_integer().not_null())
                    .col(ColumnDef::new(T::Response).binary().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-arc_idempotency-expires_at")
                    .table(T::Table)
                    .col(T::ExpiresAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ArcIdempotency::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
