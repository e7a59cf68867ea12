//! The one writer: the connection every write of the CRUD routes runs on.
//!
//! SQLite takes one writer at a time. A write transaction begun (`BEGIN DEFERRED`) on any of
//! a pool's connections reads first and asks for the write lock on its first write, so under
//! concurrency writers collide: they sleep in SQLite's busy handler (a millisecond and more
//! each time), or fail outright when the read snapshot they hold went stale. On a SQLite file
//! the writer is therefore a pool of **one** connection of its own beside the app's pool,
//! and a write transaction starts with `BEGIN IMMEDIATE`, so it holds the write lock from its
//! first statement. A create that is one statement and nothing else goes to the
//! [`Committer`](super::commit) instead, which commits such statements in batches on a
//! connection of its own. The two take turns ([`Turn`], a fair queue in this process: a
//! transaction holds it from `BEGIN` to its end, the committer for each batch), so neither
//! ever sleeps in SQLite's busy handler waiting for the other. Reads go to the app's pool or
//! the inline readers ([`Reader`](super::Reader)); in WAL mode they never wait for a writer.
//!
//! On PostgreSQL, and on a SQLite pool of one connection (`sqlite::memory:`), the writer is
//! the app's pool itself and a transaction begins as it always did.
//!
//! A write that fails or is cancelled passes the turn on only once the writer's connection
//! is idle again ([`Held`]): sqlx runs a dropped transaction's rollback after its caller has
//! gone. The turn is waited for up to the acquire timeout, then the write is answered 503.
//!
//! The writers checkpoint nothing themselves: a checkpointer thread keeps the write-ahead
//! log in bounds ([`wal`](super::wal)).

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, Iterable, QueryTrait, SqlErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait, TryIntoModel,
};
use tokio::sync::{Mutex, OnceCell, OwnedMutexGuard};

use super::commit::Committer;
use super::rows::{self, Failure, Models};
use super::wal::Wal;

/// The writer's turn: held by a write on the writer's connection (a transaction, a statement
/// alone) and by the committer's batches, so the two connections never wait for each other
/// in SQLite.
pub(super) type Turn = Arc<Mutex<()>>;

/// What the writer of a SQLite file has of its own.
#[derive(Debug)]
struct Own {
    /// The database file.
    path: PathBuf,
    /// The watch over its write-ahead log (`None`: SQLite checkpoints on commit).
    wal: Option<Arc<Wal>>,
    /// The writer's turn, shared with the committer.
    turn: Turn,
    /// The committer, once the first write alone started it (`None`: it could not be).
    committer: OnceCell<Option<Committer>>,
}

/// The connection writes run on (see the module).
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    /// A pool of one connection of its own (a SQLite file), or the app's pool.
    db: DatabaseConnection,
    /// Whether the database is SQLite (transactions begin `IMMEDIATE`).
    sqlite: bool,
    /// On a SQLite file: its log, the turn, the committer.
    own: Option<Arc<Own>>,
}

/// Why a write failed: the database refused the row (a unique or a foreign key), or
/// anything else.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// A unique or a foreign key refused the row.
    #[error(transparent)]
    Refused(SqlErr),
    /// Anything else.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<Failure> for WriteError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused(err) => Self::Refused(err),
            other => Self::Db(other.into_db_err()),
        }
    }
}

/// The writer's turn while a write holds it. Passed on at once when the write settled
/// (committed, its statement done); else, when dropped (a write that failed or was
/// cancelled), only once the writer's connection is idle again: sqlx runs a dropped
/// transaction's rollback, or the rest of a cancelled statement, after the caller has gone,
/// and the committer must not begin before that (it would wait in SQLite's busy handler).
struct Held {
    turn: Option<OwnedMutexGuard<()>>,
    /// The writer's connection (a pool of one: a ping waits for it to be back and idle).
    db: DatabaseConnection,
}

impl Held {
    /// The write settled: the turn passes on now.
    fn settled(mut self) {
        drop(self.turn.take());
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let db = self.db.clone();
            runtime.spawn(async move {
                // The connection comes back to its pool of one after the rollback (or the
                // statement) sqlx still runs on it; the ping waits for that.
                if let Err(e) = db.ping().await {
                    tracing::debug!(error = %e, "database: the writer's connection after a failed write");
                }
                drop(turn);
            });
        }
    }
}

/// A write transaction on the writer, holding the writer's turn until it ends (committed;
/// or dropped: rolled back, then the turn passes on). Derefs to the transaction.
#[must_use = "commit the transaction with `commit`"]
pub(crate) struct Txn {
    txn: DatabaseTransaction,
    turn: Option<Held>,
    after: AfterCommit,
}

/// What waits for a transaction's commit: work its hooks handed over with
/// [`WriteContext::after_commit`](crate::WriteContext::after_commit), run in order once the
/// commit succeeded (and never when it did not).
#[derive(Default)]
pub(crate) struct AfterCommit(std::sync::Mutex<Vec<futures_util::future::BoxFuture<'static, ()>>>);

impl AfterCommit {
    /// Queues `work` for after the commit.
    pub(crate) fn push(&self, work: futures_util::future::BoxFuture<'static, ()>) {
        // A poisoned queue only means a hook panicked while pushing: the queue is still whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(work);
    }

    fn take(&self) -> Vec<futures_util::future::BoxFuture<'static, ()>> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

impl Deref for Txn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl Txn {
    /// Commits the transaction, then passes the turn on and runs what waited for the commit.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        let Self { txn, turn, after } = self;
        txn.commit().await?;
        if let Some(turn) = turn {
            turn.settled();
        }
        for work in after.take() {
            work.await;
        }
        Ok(())
    }

    /// The queue of work waiting for the commit.
    pub(crate) fn after_commit(&self) -> &AfterCommit {
        &self.after
    }
}

/// The writer's connection for a statement alone (autocommit), holding the writer's turn
/// until dropped (then passed on once the connection is idle) and counted as a commit
/// ([`Writer::committed`]). Derefs to the connection.
pub(crate) struct Conn<'a> {
    writer: &'a Writer,
    _turn: Option<Held>,
}

impl Deref for Conn<'_> {
    type Target = DatabaseConnection;

    fn deref(&self) -> &DatabaseConnection {
        &self.writer.db
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        self.writer.committed();
    }
}

impl Writer {
    /// The writer of the app whose pool is `db`: on a SQLite file pool of more than one
    /// connection, a pool of one connection with the same options (opened on first use);
    /// otherwise `db` itself.
    pub(crate) fn new(db: &DatabaseConnection) -> Self {
        let shared = || Self {
            db: db.clone(),
            sqlite: db.get_database_backend() == DbBackend::Sqlite,
            own: None,
        };
        let sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) = &db.inner else {
            return shared();
        };
        let pool = db.get_sqlite_connection_pool();
        if pool.options().get_max_connections() <= 1 {
            // One connection already (`:memory:`): it is the writer.
            return shared();
        }
        let mut options = (*pool.connect_options()).clone();
        let path = options.get_filename().to_owned();
        let turn = Turn::default();
        let wal = Wal::start(&path, Arc::clone(&turn));
        if wal.is_some() {
            // The checkpointer checkpoints (see `wal`).
            options = options.pragma("wal_autocheckpoint", "0");
        }
        let one = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(super::ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            // A local file's connection does not go away: no ping before each write.
            .test_before_acquire(false)
            .connect_lazy_with(options);
        let mut writer = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(one);
        writer.set_metric_callback(super::trace_statement);
        tracing::debug!("database: a writer of its own for the SQLite file");
        Self {
            db: writer,
            sqlite: true,
            own: Some(Arc::new(Own {
                path,
                wal,
                turn,
                committer: OnceCell::new(),
            })),
        }
    }

    /// The writer's turn, on a SQLite file: waited for up to the
    /// [`ACQUIRE_TIMEOUT`](super::ACQUIRE_TIMEOUT), as a pooled connection is (then 503).
    async fn turn(&self) -> Result<Option<Held>, DbErr> {
        let Some(own) = &self.own else {
            return Ok(None);
        };
        let turn = Arc::clone(&own.turn).lock_owned();
        match tokio::time::timeout(super::ACQUIRE_TIMEOUT, turn).await {
            Ok(turn) => Ok(Some(Held {
                turn: Some(turn),
                db: self.db.clone(),
            })),
            Err(_) => Err(DbErr::ConnectionAcquire(
                sea_orm::error::ConnAcquireErr::Timeout,
            )),
        }
    }

    /// The writer's connection, for a write that is one statement run alone (autocommit),
    /// in the writer's turn.
    pub(crate) async fn conn(&self) -> Result<Conn<'_>, DbErr> {
        Ok(Conn {
            _turn: self.turn().await?,
            writer: self,
        })
    }

    /// The writer's connection, outside the writer's turn: for the events relay and the
    /// events an app publishes, which run only when every write is a transaction (the
    /// committer has nothing to do then).
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a write transaction, in the writer's turn: on SQLite `BEGIN IMMEDIATE` (the
    /// write lock from the start) when `immediate`, the database's default `BEGIN` otherwise
    /// and elsewhere.
    ///
    /// A transaction that runs a resource's hooks is not `immediate`: a hook runs code of
    /// its own for as long as it takes, and SQLite's write lock held over it would stop every
    /// writer outside the writer (an idempotency key's claim on the app's pool, another
    /// process). Writes of this process wait for the writer's turn either way.
    pub(crate) async fn begin(&self, immediate: bool) -> Result<Txn, DbErr> {
        let turn = self.turn().await?;
        let txn = if self.sqlite && immediate {
            let options = TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            };
            self.db.begin_with_options(options).await?
        } else {
            self.db.begin().await?
        };
        Ok(Txn {
            txn,
            turn,
            after: AfterCommit::default(),
        })
    }

    /// Inserts `row` as one statement alone and reads it back: on a SQLite file through the
    /// committer (in a batch it commits with others, see [`commit`](super::commit)), else on
    /// the writer's connection, as sea-orm's `insert` does it.
    pub(crate) async fn insert<E>(&self, row: E::ActiveModel) -> Result<E::Model, WriteError>
    where
        E: EntityTrait,
        E::Model: sea_orm::IntoActiveModel<E::ActiveModel> + Send + 'static,
        E::ActiveModel: TryIntoModel<E::Model> + sea_orm::ActiveModelBehavior + Send,
    {
        let committer = match &self.own {
            Some(own) => own
                .committer
                .get_or_init(|| async {
                    let started =
                        Committer::start(&self.db, &own.path, Arc::clone(&own.turn), own.wal.clone())
                            .await;
                    started
                        .inspect_err(|e| {
                            tracing::warn!(error = %e, "database: no committer; writes alone go to the writer's connection");
                        })
                        .ok()
                })
                .await
                .as_ref(),
            None => None,
        };
        let Some(committer) = committer else {
            // The macro's active models have no `before_save` or `after_save` of their own:
            // sea-orm's `insert` is the statement below.
            return Ok(row.insert(&*self.conn().await?).await?);
        };
        let mut insert = sea_orm::Insert::<E::ActiveModel>::one(row).into_query();
        insert.returning(Query::returning().exprs(
            E::Column::iter().map(|c| c.select_as(c.into_returning_expr(DbBackend::Sqlite))),
        ));
        let stmt = DbBackend::Sqlite.build(&insert);
        let values: Option<Vec<_>> = stmt
            .values
            .iter()
            .flat_map(|values| values.0.iter().map(rows::bind))
            .collect();
        let ran = match values {
            Some(values) if Models::<E>::readable() => {
                let rows = committer.run(&stmt.sql, values, Models::<E>::new());
                rows::traced("sea_orm.query_one", "INSERT", &stmt.sql, rows).await
            }
            _ => Err(Failure::Unsupported),
        };
        let found = match ran {
            Ok(rows) => rows.into_iter().next(),
            Err(Failure::Unsupported) => {
                // A value or a column the committer does not handle (or no committer any
                // more): sea-orm runs it.
                E::find()
                    .from_raw_sql(stmt)
                    .one(&*self.conn().await?)
                    .await?
            }
            Err(failure) => return Err(failure.into()),
        };
        found.ok_or_else(|| {
            WriteError::Db(DbErr::RecordNotFound("Failed to find inserted item".into()))
        })
    }

    /// Called after every commit of a write on the writer's connection: counted for the
    /// checkpointer (see [`wal`](super::wal)).
    pub(crate) fn committed(&self) {
        if let Some(wal) = self.own.as_ref().and_then(|own| own.wal.as_ref()) {
            wal.committed();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::future::join_all;
    use sea_orm::ActiveValue::{NotSet, Set};

    use super::*;
    use crate::db::rows::testing::remove;
    use sea_orm::{ConnectionTrait, Statement};

    mod thing {
        use sea_orm::entity::prelude::*;

        /// A row with a unique code and a reference to another row.
        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "things")]
        pub(crate) struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: Uuid,
            pub code: String,
            pub parent: Option<Uuid>,
            pub at: DateTimeUtc,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub(crate) enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    mod wide {
        use sea_orm::entity::prelude::*;

        /// A row with a column the committer does not decode (`u32`).
        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "wide")]
        pub(crate) struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub n: u32,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub(crate) enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// A SQLite file of its own on a pool whose connections never wait for a lock (a busy
    /// timeout of 0: two writers that met in SQLite would fail), with the tables above, and
    /// its writer.
    async fn file() -> (PathBuf, DatabaseConnection, Writer) {
        file_with(true, "").await
    }

    /// [`file`], with `foreign_keys` on or off and `conflict` after the code's `UNIQUE`.
    async fn file_with(
        foreign_keys: bool,
        conflict: &str,
    ) -> (PathBuf, DatabaseConnection, Writer) {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
        let path =
            std::env::temp_dir().join(format!("arc-writer-{}.db", uuid::Uuid::new_v4().simple()));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(foreign_keys)
            .busy_timeout(Duration::ZERO);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .expect("sqlite file");
        let db = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        db.execute_unprepared(&format!(
            "CREATE TABLE things (id BLOB PRIMARY KEY, code TEXT NOT NULL UNIQUE {conflict}, \
             parent BLOB REFERENCES things (id), at TEXT NOT NULL); \
             CREATE TABLE wide (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"
        ))
        .await
        .expect("tables");
        let writer = Writer::new(&db);
        (path, db, writer)
    }

    fn thing(code: &str, parent: Option<uuid::Uuid>) -> thing::ActiveModel {
        thing::ActiveModel {
            id: Set(uuid::Uuid::new_v4()),
            code: Set(code.to_owned()),
            parent: Set(parent),
            at: Set(chrono::Utc::now()),
        }
    }

    async fn count(db: &DatabaseConnection, table: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        db.query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
            .await
            .expect("count")
            .expect("a row")
            .try_get_by_index(0)
            .expect("a number")
    }

    fn committer(writer: &Writer) -> &Committer {
        let own = writer.own.as_ref().expect("a writer of its own");
        own.committer
            .get()
            .and_then(Option::as_ref)
            .expect("a committer")
    }

    /// 64 creates at once: each is answered its own row as written, all of them committed,
    /// in batches of more than one.
    #[tokio::test]
    async fn creates_at_once_are_committed_together_and_answered_each_its_own() {
        let (path, db, writer) = file().await;
        let rows: Vec<_> = (0..64).map(|i| thing(&format!("c{i}"), None)).collect();
        let sent: Vec<_> = rows.iter().map(|r| r.id.clone().unwrap()).collect();
        let answers = join_all(
            rows.into_iter()
                .map(|row| writer.insert::<thing::Entity>(row)),
        )
        .await;
        for (i, answer) in answers.into_iter().enumerate() {
            let model = answer.expect("created");
            assert_eq!(
                (model.id, model.code.as_str()),
                (sent[i], format!("c{i}").as_str())
            );
        }
        assert_eq!(count(&db, "things").await, 64);
        let stored = thing::Entity::find_by_id(sent[7])
            .one(&db)
            .await
            .expect("read");
        assert_eq!(stored.map(|m| m.code), Some("c7".to_owned()));
        assert!(
            committer(&writer).largest_batch() > 1,
            "64 creates at once were committed one by one"
        );
        remove(&path);
    }

    /// A row a unique key refuses fails alone, with the refusal (409), in a batch whose other
    /// rows are committed; a row whose reference does not exist is refused by its foreign
    /// key (the pool's `foreign_keys` hold on the committer too).
    #[tokio::test]
    async fn a_refused_row_fails_alone_and_the_rest_of_its_batch_commits() {
        let (path, db, writer) = file().await;
        let codes: Vec<String> = (0..40).map(|i| format!("d{}", i % 20)).collect();
        let answers = join_all(
            codes
                .iter()
                .map(|code| writer.insert::<thing::Entity>(thing(code, None))),
        )
        .await;
        let (created, refused): (Vec<_>, Vec<_>) = answers.into_iter().partition(Result::is_ok);
        assert_eq!((created.len(), refused.len()), (20, 20));
        for answer in refused {
            let err = answer.expect_err("refused");
            assert!(
                matches!(
                    &err,
                    WriteError::Refused(SqlErr::UniqueConstraintViolation(_))
                ),
                "{err:?}"
            );
            let answered = crate::ArcError::from(err);
            assert_eq!(answered.code(), crate::ErrorCode::DuplicateKey);
        }
        assert_eq!(count(&db, "things").await, 20);
        let orphan = writer
            .insert::<thing::Entity>(thing("orphan", Some(uuid::Uuid::new_v4())))
            .await
            .expect_err("no such parent");
        assert!(
            matches!(
                &orphan,
                WriteError::Refused(SqlErr::ForeignKeyConstraintViolation(_))
            ),
            "{orphan:?}"
        );
        assert_eq!(
            crate::ArcError::from(orphan).code().status(),
            http::StatusCode::BAD_REQUEST
        );
        assert_eq!(count(&db, "things").await, 20);
        remove(&path);
    }

    /// A row whose refusal rolls the whole transaction back (`ON CONFLICT ROLLBACK`) fails
    /// alone all the same: its batch runs again statement by statement, so every other row
    /// is created and each repeat is refused (409), not answered the batch's failure.
    #[tokio::test]
    async fn a_failure_that_ends_the_batch_fails_only_its_own_row() {
        let (path, db, writer) = file_with(true, "ON CONFLICT ROLLBACK").await;
        let codes: Vec<String> = (0..40).map(|i| format!("r{}", i % 20)).collect();
        let answers = join_all(
            codes
                .iter()
                .map(|code| writer.insert::<thing::Entity>(thing(code, None))),
        )
        .await;
        let mut created = 0;
        for answer in answers {
            match answer {
                Ok(_) => created += 1,
                Err(err) => assert!(
                    matches!(
                        &err,
                        WriteError::Refused(SqlErr::UniqueConstraintViolation(_))
                    ),
                    "{err:?}"
                ),
            }
        }
        assert_eq!(created, 20);
        assert_eq!(count(&db, "things").await, 20);
        assert!(committer(&writer).largest_batch() > 1, "no batch to fail");
        remove(&path);
    }

    /// A transaction that fails (dropped without its commit) passes the turn on only once
    /// its rollback has run: creates sent meanwhile never meet it in SQLite (busy timeout 0).
    #[tokio::test]
    async fn a_failed_transaction_passes_the_turn_on_after_its_rollback() {
        let (path, db, writer) = file().await;
        writer
            .insert::<thing::Entity>(thing("start", None))
            .await
            .expect("the committer starts");
        for round in 0..50 {
            let txn = writer.begin(true).await.expect("begin");
            thing(&format!("gone{round}"), None)
                .insert(&*txn)
                .await
                .expect("insert");
            let create = writer.insert::<thing::Entity>(thing(&format!("k{round}"), None));
            let ((), created) = tokio::join!(async move { drop(txn) }, create);
            created.expect("created after the rollback");
        }
        assert_eq!(count(&db, "things").await, 51);
        remove(&path);
    }

    /// The committer's connection takes the pool's pragmas: on a pool with `foreign_keys`
    /// off (SQLite's build here turns them on by default), a row whose reference does not
    /// exist is written.
    #[tokio::test]
    async fn the_committer_takes_the_pools_pragmas() {
        let (path, db, writer) = file_with(false, "").await;
        let orphan = thing("orphan", Some(uuid::Uuid::new_v4()));
        writer
            .insert::<thing::Entity>(orphan)
            .await
            .expect("no foreign keys on this pool");
        assert_eq!(count(&db, "things").await, 1);
        remove(&path);
    }

    /// A create sent while a transaction of the writer is open waits for the transaction's
    /// end in this process (the pool's busy timeout is 0: had it met the transaction in
    /// SQLite, it would have failed), then is written; and the transaction's own write is not
    /// disturbed.
    #[tokio::test]
    async fn the_committer_waits_for_the_writers_transaction() {
        let (path, db, writer) = file().await;
        writer
            .insert::<thing::Entity>(thing("first", None))
            .await
            .expect("the committer starts");
        let txn = writer.begin(true).await.expect("begin");
        thing("in-txn", None).insert(&*txn).await.expect("insert");
        let create = tokio::spawn({
            let writer = writer.clone();
            async move { writer.insert::<thing::Entity>(thing("after", None)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !create.is_finished(),
            "the create did not wait for its turn"
        );
        txn.commit().await.expect("commit");
        let after = create
            .await
            .expect("joined")
            .expect("created after the commit");
        assert_eq!(after.code, "after");
        assert_eq!(count(&db, "things").await, 3);
        remove(&path);
    }

    /// The writers checkpoint nothing themselves (`wal_autocheckpoint = 0`): the checkpointer
    /// keeps the log short. 2000 creates one after the other (a commit each) would leave
    /// about 24 MiB in a log nobody checkpoints; the log's file never grows past 4 MiB.
    #[tokio::test]
    async fn the_checkpointer_keeps_the_log_short() {
        let (path, _db, writer) = file().await;
        let log = crate::db::wal::log_path(&path);
        let mut largest = 0;
        for i in 0..2000 {
            let row = thing(&format!("w{i}"), None);
            writer.insert::<thing::Entity>(row).await.expect("created");
            largest = largest.max(std::fs::metadata(&log).map_or(0, |m| m.len()));
        }
        assert!(largest > 0, "no log at all");
        assert!(largest <= 4 << 20, "the log's file grew to {largest} bytes");
        remove(&path);
    }

    /// A row with a column the committer does not decode is written by sea-orm on the
    /// writer's connection.
    #[tokio::test]
    async fn a_row_the_committer_does_not_decode_goes_to_the_writers_connection() {
        let (path, db, writer) = file().await;
        let row = wide::ActiveModel {
            id: NotSet,
            n: Set(4_000_000_000),
        };
        let model = writer.insert::<wide::Entity>(row).await.expect("created");
        assert_eq!(model.n, 4_000_000_000);
        assert_eq!(count(&db, "wide").await, 1);
        remove(&path);
    }

    /// On a database of one connection (`sqlite::memory:`) there is no committer: a create
    /// runs on the pool.
    #[tokio::test]
    async fn memory_has_no_committer() {
        let db = crate::connect("sqlite::memory:").await.expect("memory");
        db.execute_unprepared(
            "CREATE TABLE things (id BLOB PRIMARY KEY, code TEXT NOT NULL UNIQUE, \
             parent BLOB, at TEXT NOT NULL)",
        )
        .await
        .expect("table");
        let writer = Writer::new(&db);
        assert!(writer.own.is_none());
        let model = writer
            .insert::<thing::Entity>(thing("m", None))
            .await
            .expect("created");
        assert_eq!(model.code, "m");
        let again = writer.insert::<thing::Entity>(thing("m", None)).await;
        assert_eq!(
            crate::ArcError::from(again.expect_err("duplicate")).code(),
            crate::ErrorCode::DuplicateKey
        );
    }
}
