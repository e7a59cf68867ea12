//! Reads of a SQLite file without a thread hop: the CRUD routes' selects on rusqlite
//! connections of their own, run inline on the request's task.
//!
//! sqlx runs each SQLite connection on a worker thread of its own: every statement is a
//! message to that thread and a wake-up back, which costs more than a short indexed read
//! itself. On a SQLite file the app's [`Reads`] therefore go to a [`Reader`]: a few rusqlite
//! connections (`query_only`: a statement that would write fails), each statement prepared
//! once and cached, run on the calling thread.
//!
//! Running a statement inline blocks the async runtime's thread for as long as it runs, so
//! an inline statement has a budget ([`INLINE_BUDGET`]): a watchdog thread interrupts it
//! (`sqlite3_interrupt`, which also stops the steps SQLite's progress handler never sees,
//! such as a whole-table `COUNT(*)`) when it runs longer, and it runs again from its start on
//! a blocking thread (`spawn_blocking`), where it may take up to the
//! [`STATEMENT_TIMEOUT`](super::STATEMENT_TIMEOUT) before it is stopped and answered 503,
//! like a PostgreSQL statement. A read that would wait for a lock (`SQLITE_BUSY`, rare in
//! WAL mode) does not wait inline either: it goes to a blocking thread, which waits up to
//! about the busy timeout. So a read holds the runtime's thread for about the budget and
//! one tick of the watchdog ([`WATCH_EVERY`]) at most, its rows decoded within (plus, once
//! per connection, opening it; plus the scheduling delay of a loaded machine). Without a
//! watchdog thread (none could be started) the reads go to the pool. Not bounded: SQLite's
//! own retries for a WAL read lock, which only a crashed writer's recovery makes long.
//!
//! Values are bound and rows decoded as sqlx does it on the same file ([`rows`](super::rows)),
//! so a row reads the same through either: into [`Record`]s of the resource, in the field
//! table's order. Statements are built from the field table (`query::sql`). A statement whose
//! columns are not the field table's, or whose values the reader does not bind, goes to the
//! pool instead.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use rusqlite::{Connection, InterruptHandle};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement};
use tokio::sync::Semaphore;

use super::rows::{self, Count, Decode, Failure, Records, bind, query_err, register_regexp};
use super::{ACQUIRE_TIMEOUT, BUSY_TIMEOUT, STATEMENT_TIMEOUT};
use crate::crud::record::Record;
use crate::resource::ResourceMeta;

/// How long a statement may run on the async runtime's thread before it is stopped and run
/// again on a blocking thread.
const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// How often the watchdog looks at the statements running (while any ran lately).
const WATCH_EVERY: Duration = Duration::from_millis(1);

/// How many idle looks before the watchdog sleeps until the next statement.
const WATCH_IDLE: u32 = 100;

/// How many statements each read connection keeps prepared.
const STATEMENT_CACHE: usize = 64;

/// A deadline that is no deadline: no statement runs.
const IDLE: u64 = u64::MAX;

thread_local! {
    /// Whether a statement on this thread may wait for a lock: on a blocking thread only.
    static MAY_WAIT: Cell<bool> = const { Cell::new(false) };
}

/// Where the reads of the CRUD routes go: a [`Reader`] on a SQLite file, else the app's pool
/// through sea-orm.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reads<'a> {
    /// sea-orm on the app's pool (PostgreSQL, `sqlite::memory:`, a pool of the app's own).
    Pool(&'a DatabaseConnection),
    /// The reader of a SQLite file.
    Inline(&'a Reader),
}

impl<'a> From<&'a DatabaseConnection> for Reads<'a> {
    fn from(db: &'a DatabaseConnection) -> Self {
        Self::Pool(db)
    }
}

impl Reads<'_> {
    /// The SQL dialect the statements are built for.
    pub(crate) fn backend(self) -> DbBackend {
        match self {
            Self::Pool(db) => db.get_database_backend(),
            Self::Inline(_) => DbBackend::Sqlite,
        }
    }

    /// The rows `stmt` (a `SELECT` of `meta`'s table) finds, as records of that resource.
    /// One function for every resource: nothing here is compiled per entity.
    pub(crate) async fn records(
        self,
        meta: &'static ResourceMeta,
        stmt: &Statement,
    ) -> Result<Vec<Record>, DbErr> {
        match self {
            Self::Pool(db) => pooled(db, meta, stmt).await,
            Self::Inline(reader) => {
                match reader.run("sea_orm.query_all", stmt, Records(meta)).await {
                    Err(Unsupported) => pooled(reader.pool(), meta, stmt).await,
                    Ok(done) => done,
                }
            }
        }
    }

    /// What the count statement `stmt` (`SELECT COUNT(*) ..`) counts.
    pub(crate) async fn count(self, stmt: &Statement) -> Result<u64, DbErr> {
        let pooled = async |db: &DatabaseConnection| -> Result<u64, DbErr> {
            let row = db.query_one_raw(stmt.clone()).await?;
            let n: i64 = match row {
                Some(row) => row.try_get_by_index(0)?,
                None => 0,
            };
            Ok(u64::try_from(n).unwrap_or(0))
        };
        match self {
            Self::Pool(db) => pooled(db).await,
            Self::Inline(reader) => match reader.run("sea_orm.query_one", stmt, Count).await {
                Err(Unsupported) => pooled(reader.pool()).await,
                Ok(done) => Ok(done?.into_iter().next().unwrap_or(0)),
            },
        }
    }
}

/// The rows `stmt` finds on the pool `db`, as records of `meta`'s resource.
async fn pooled(
    db: &DatabaseConnection,
    meta: &'static ResourceMeta,
    stmt: &Statement,
) -> Result<Vec<Record>, DbErr> {
    let rows = db.query_all_raw(stmt.clone()).await?;
    rows.iter().map(|row| rows::record(meta, row)).collect()
}

/// A statement's columns or values are of a type the reader does not handle: the pool runs
/// it.
struct Unsupported;

/// The read connections of a SQLite file (see the module).
#[derive(Clone, Debug)]
pub(crate) struct Reader(Arc<Pool>);

#[derive(Debug)]
struct Pool {
    /// The database file.
    path: PathBuf,
    /// The app's pool, for the statements the reader does not decode.
    db: DatabaseConnection,
    /// Connections not in use.
    idle: Mutex<Vec<Conn>>,
    /// One per connection there may be.
    permits: Arc<Semaphore>,
    /// What the connections' deadlines count from.
    epoch: Instant,
    /// How long a statement may run on a blocking thread.
    timeout: Duration,
    /// How many statements ran past their inline budget, or would have waited for a lock,
    /// and went to a blocking thread.
    moved: AtomicU64,
    /// What the watchdog watches.
    watch: Watch,
}

/// The watchdog's view of the connections: each one's deadline and the handle that stops
/// its statement.
#[derive(Default)]
struct Watch {
    /// Every connection opened.
    conns: Mutex<Vec<(Arc<AtomicU64>, InterruptHandle)>>,
    /// Whether the watchdog sleeps until woken.
    asleep: AtomicBool,
    /// The watchdog's thread, once started (`None`: none could be).
    thread: std::sync::OnceLock<Option<std::thread::Thread>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("asleep", &self.asleep)
            .finish_non_exhaustive()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The watchdog sees the pool gone and ends.
        if let Some(Some(thread)) = self.watch.thread.get() {
            thread.unpark();
        }
    }
}

/// A read connection, and until when its statement may run.
struct Conn {
    db: Connection,
    /// Nanoseconds after the pool's epoch ([`IDLE`] between statements); the watchdog stops
    /// a statement past it.
    deadline: Arc<AtomicU64>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

/// Resets [`MAY_WAIT`] when dropped, a panic included.
struct Waiting;

impl Waiting {
    fn begin() -> Self {
        MAY_WAIT.set(true);
        Self
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        MAY_WAIT.set(false);
    }
}

impl Reader {
    /// The reader of the app whose pool is `db`: on a pool of more than one connection to a
    /// SQLite file, as many rusqlite connections to the same file (opened on first use);
    /// `None` otherwise (PostgreSQL, an in-memory database, a file that is not there).
    pub(crate) fn new(db: &DatabaseConnection) -> Option<Self> {
        let sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) = &db.inner else {
            return None;
        };
        let pool = db.get_sqlite_connection_pool();
        let size = pool.options().get_max_connections();
        let path = pool.connect_options().get_filename().to_owned();
        // One connection (`:memory:`), or an in-memory database by URI: a connection of our
        // own would be another, empty database.
        let memory = path.to_string_lossy().starts_with("file:");
        if size <= 1 || memory || !path.is_file() {
            return None;
        }
        tracing::debug!(
            connections = size,
            "database: inline readers for the SQLite file"
        );
        Some(Self(Arc::new(Pool {
            path,
            db: db.clone(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(usize::try_from(size).unwrap_or(1))),
            epoch: Instant::now(),
            timeout: STATEMENT_TIMEOUT,
            moved: AtomicU64::new(0),
            watch: Watch::default(),
        })))
    }

    /// The app's pool.
    fn pool(&self) -> &DatabaseConnection {
        &self.0.db
    }

    /// Runs `stmt`, each row decoded by `decode`, inline within [`INLINE_BUDGET`], else on a
    /// blocking thread (see the module); in a span named as sea-orm names its own.
    /// `Err(Unsupported)` when the reader cannot run it (the caller asks the pool).
    async fn run<D: Decode>(
        &self,
        name: &'static str,
        stmt: &Statement,
        decode: D,
    ) -> Result<Result<Vec<D::Out>, DbErr>, Unsupported> {
        let query = self.query(stmt, decode);
        let result = match rows::traced(name, "SELECT", &stmt.sql, query).await {
            Err(Failure::Unsupported) => return Err(Unsupported),
            Err(failure) => Err(failure.into_db_err()),
            Ok(rows) => Ok(rows),
        };
        Ok(result)
    }

    async fn query<D: Decode>(&self, stmt: &Statement, decode: D) -> Result<Vec<D::Out>, Failure> {
        let permits = Arc::clone(&self.0.permits);
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(ACQUIRE_TIMEOUT, permits.acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or(DbErr::ConnectionAcquire(
                    sea_orm::error::ConnAcquireErr::Timeout,
                ))?,
        };
        let conn = self.checkout()?;
        if self.0.watch.thread.get().is_some_and(Option::is_none) {
            // No watchdog could be started: nothing would stop a statement run here.
            self.checkin(conn);
            return Err(Failure::Unsupported);
        }
        match conn.query(&self.0, stmt, &decode, INLINE_BUDGET) {
            Err(Failure::Interrupted | Failure::Busy) => {}
            done => {
                self.checkin(conn);
                return done;
            }
        }
        // Too long (or a lock to wait for) for the runtime's thread: again, on a blocking one.
        // The connection goes back to the pool from there, even when this request is gone.
        self.0.moved.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(budget = ?INLINE_BUDGET, "database: a read moved to a blocking thread");
        let reader = self.clone();
        let stmt = stmt.clone();
        let blocking = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let waiting = Waiting::begin();
            let done = conn.query(&reader.0, &stmt, &decode, reader.0.timeout);
            drop(waiting);
            reader.checkin(conn);
            done
        });
        blocking.await.map_err(|e| Failure::Db(query_err(e)))?
    }

    /// A connection not in use, or a new one.
    fn checkout(&self) -> Result<Conn, Failure> {
        let idle = self.0.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => self
                .open()
                .map_err(|e| Failure::Db(DbErr::Conn(RuntimeErr::Internal(e.to_string())))),
        }
    }

    fn checkin(&self, conn: Conn) {
        if let Ok(mut idle) = self.0.idle.lock() {
            idle.push(conn);
        }
    }

    fn open(&self) -> rusqlite::Result<Conn> {
        let db = rows::open(&self.0.path)?;
        // Reads only: a statement that would write fails.
        db.pragma_update(None, "query_only", true)?;
        db.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        db.busy_handler(Some(busy))?;
        register_regexp(&db)?;
        let deadline = Arc::new(AtomicU64::new(IDLE));
        self.0
            .watch
            .conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((Arc::clone(&deadline), db.get_interrupt_handle()));
        self.0
            .watch
            .thread
            .get_or_init(|| spawn_watchdog(Arc::downgrade(&self.0)));
        tracing::debug!(path = %self.0.path.display(), "database: a read connection opened");
        Ok(Conn { db, deadline })
    }
}

/// Starts the watchdog of `pool`: every [`WATCH_EVERY`] it stops the statements past their
/// deadline; after [`WATCH_IDLE`] looks with none running it sleeps until a statement
/// starts; it ends with the pool. `None` when no thread could be had (statements then run
/// unwatched; logged).
fn spawn_watchdog(pool: Weak<Pool>) -> Option<std::thread::Thread> {
    let spawned = std::thread::Builder::new()
        .name("arc-sqlite-watchdog".into())
        .spawn(move || {
            let mut idle_looks = 0;
            while let Some(alive) = pool.upgrade() {
                if alive.watch.stop_late(alive.epoch) {
                    idle_looks = 0;
                } else {
                    idle_looks += 1;
                }
                if idle_looks < WATCH_IDLE {
                    drop(alive);
                    std::thread::park_timeout(WATCH_EVERY);
                    continue;
                }
                // Asleep, then one more look: a statement that began before this saw the
                // watchdog awake and does not wake it.
                alive.watch.asleep.store(true, Ordering::SeqCst);
                if alive.watch.stop_late(alive.epoch) {
                    alive.watch.asleep.store(false, Ordering::SeqCst);
                    idle_looks = 0;
                    continue;
                }
                drop(alive);
                std::thread::park();
                // Woken by a statement, or by the pool's end.
                if let Some(alive) = pool.upgrade() {
                    alive.watch.asleep.store(false, Ordering::SeqCst);
                }
                idle_looks = 0;
            }
        });
    match spawned {
        Ok(handle) => Some(handle.thread().clone()),
        Err(e) => {
            tracing::warn!(error = %e, "database: no watchdog thread for the inline reads");
            None
        }
    }
}

impl Watch {
    /// Stops every statement past its deadline; whether any statement is running.
    fn stop_late(&self, epoch: Instant) -> bool {
        let mut conns = self
            .conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A connection dropped (its request's blocking task cancelled at shutdown) is
        // watched no more.
        conns.retain(|(deadline, _)| Arc::strong_count(deadline) > 1);
        let now = nanos_since(epoch);
        let mut running = false;
        for (deadline, handle) in &*conns {
            let deadline = deadline.load(Ordering::SeqCst);
            if deadline != IDLE {
                running = true;
                if now > deadline {
                    handle.interrupt();
                }
            }
        }
        running
    }

    /// Wakes the watchdog if it sleeps (a statement begins).
    fn wake(&self) {
        if self.asleep.load(Ordering::SeqCst)
            && let Some(Some(thread)) = self.thread.get()
        {
            thread.unpark();
        }
    }
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(IDLE - 1)
}

/// SQLite's busy handler of the read connections: waits (a millisecond at a time, as many
/// times as the busy timeout has milliseconds: somewhat longer than it) on a blocking thread
/// only.
fn busy(tries: i32) -> bool {
    let waited = Duration::from_millis(u64::try_from(tries).unwrap_or(0));
    if MAY_WAIT.get() && waited < BUSY_TIMEOUT {
        std::thread::sleep(Duration::from_millis(1));
        true
    } else {
        false
    }
}

/// A connection's deadline while its statement runs: back to [`IDLE`] when dropped, a panic
/// included (the watchdog would otherwise see a statement running for ever).
struct Running<'a>(&'a AtomicU64);

impl<'a> Running<'a> {
    fn begin(slot: &'a AtomicU64, deadline: u64) -> Self {
        slot.store(deadline, Ordering::SeqCst);
        Self(slot)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(IDLE, Ordering::SeqCst);
    }
}

impl Conn {
    /// Runs `stmt`, stopped by the watchdog after `budget`.
    fn query<D: Decode>(
        &self,
        pool: &Pool,
        stmt: &Statement,
        decode: &D,
        budget: Duration,
    ) -> Result<Vec<D::Out>, Failure> {
        let limit = u64::try_from(budget.as_nanos()).unwrap_or(IDLE - 1);
        let deadline = nanos_since(pool.epoch).saturating_add(limit).min(IDLE - 1);
        let mut tries = 0;
        loop {
            let running = Running::begin(&self.deadline, deadline);
            pool.watch.wake();
            let result = self.rows(stmt, decode);
            drop(running);
            // The watchdog read the deadline of the statement before this one on this
            // connection and stopped this one: not late, run it again.
            let early = nanos_since(pool.epoch) < deadline;
            match result {
                Err(Failure::Interrupted) if early && tries < 2 => tries += 1,
                done => return done,
            }
        }
    }

    fn rows<D: Decode>(&self, stmt: &Statement, decode: &D) -> Result<Vec<D::Out>, Failure> {
        let values = stmt
            .values
            .iter()
            .flat_map(|values| values.0.iter().map(bind));
        rows::query(&self.db, &stmt.sql, values, decode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::rows::Models;
    use crate::db::rows::testing::{Int, remove};
    use crate::resource::{FieldMeta, FieldType};
    use chrono::Utc;
    use sea_orm::{QuerySelect, QueryTrait};

    /// A SQLite file of its own, its pool (as [`crate::connect`] opens it) and its reader.
    async fn file() -> (PathBuf, DatabaseConnection, Reader) {
        let path =
            std::env::temp_dir().join(format!("arc-reader-{}.db", uuid::Uuid::new_v4().simple()));
        let db = crate::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("sqlite file");
        let reader = Reader::new(&db).expect("a file has a reader");
        (path, db, reader)
    }

    /// `stmt` run by `reader`, decoded by `decode` (it must be one the reader runs).
    async fn ask<D: Decode>(
        reader: &Reader,
        stmt: Statement,
        decode: D,
    ) -> Result<Vec<D::Out>, DbErr> {
        match reader.run("t", &stmt, decode).await {
            Ok(done) => done,
            Err(Unsupported) => panic!("the reader runs it"),
        }
    }

    /// A statement that counts to `n`, one row at a time (about 50 ms per million here).
    fn count_to(n: u64) -> Statement {
        Statement::from_string(
            DbBackend::Sqlite,
            format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) \
                 SELECT count(*) FROM c"
            ),
        )
    }

    #[tokio::test]
    async fn memory_has_no_reader() {
        let db = crate::connect("sqlite::memory:").await.expect("sqlite");
        assert!(Reader::new(&db).is_none());
    }

    #[tokio::test]
    async fn a_short_read_runs_inline_and_a_long_one_on_a_blocking_thread() {
        let (path, _db, reader) = file().await;
        let short = ask(&reader, count_to(10), Count).await.expect("short");
        assert_eq!(short, vec![10]);
        assert_eq!(
            reader.0.moved.load(Ordering::Relaxed),
            0,
            "the short read stayed inline"
        );
        // Far past the inline budget: stopped there, run again on a blocking thread, whole.
        let long = ask(&reader, count_to(3_000_000), Count)
            .await
            .expect("long");
        assert_eq!(long, vec![3_000_000]);
        assert_eq!(reader.0.moved.load(Ordering::Relaxed), 1);
        // The connection came back, and its deadline does not stop the next short read.
        let again = ask(&reader, count_to(10), Count).await.expect("again");
        assert_eq!(again, vec![10]);
        assert_eq!(reader.0.idle.lock().unwrap().len(), 1);
        remove(&path);
    }

    #[tokio::test]
    async fn a_read_past_the_statement_timeout_is_stopped_and_answered_503() {
        let (path, _db, reader) = file().await;
        let pool = Pool {
            path: reader.0.path.clone(),
            db: reader.0.db.clone(),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(1)),
            epoch: Instant::now(),
            timeout: Duration::from_millis(50),
            moved: AtomicU64::new(0),
            watch: Watch::default(),
        };
        let reader = Reader(Arc::new(pool));
        // Never ends on its own.
        let endless = Statement::from_string(
            DbBackend::Sqlite,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        );
        let err = ask(&reader, endless, Count).await.expect_err("stopped");
        let answer = crate::ArcError::from(err);
        assert_eq!(answer.code(), crate::error::ErrorCode::ServiceUnavailable);
        // The connection is still good.
        assert_eq!(
            ask(&reader, count_to(3), Count).await.expect("after"),
            vec![3]
        );
        remove(&path);
    }

    #[tokio::test]
    async fn a_whole_table_count_is_stopped_inline_too() {
        use sea_orm::ConnectionTrait;
        let (path, db, reader) = file().await;
        db.execute_unprepared(
            "CREATE TABLE t (x INTEGER); \
             WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) \
             INSERT INTO t SELECT x FROM c",
        )
        .await
        .expect("fill");
        // One step of SQLite's (OP_Count) that its progress handler never sees: stopped by the
        // watchdog all the same, and answered whole from a blocking thread.
        let count = Statement::from_string(DbBackend::Sqlite, "SELECT count(*) FROM t");
        assert_eq!(
            ask(&reader, count, Count).await.expect("count"),
            vec![3_000_000]
        );
        assert_eq!(reader.0.moved.load(Ordering::Relaxed), 1);
        remove(&path);
    }

    mod sample {
        use sea_orm::entity::prelude::*;

        /// A row of every kind of field a resource has.
        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "sample")]
        pub(crate) struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: Uuid,
            pub name: String,
            pub small: i32,
            pub big: i64,
            pub ratio: f64,
            pub flag: bool,
            pub at: DateTimeUtc,
            pub amount: Decimal,
            pub doc: Json,
            pub maybe: Option<i64>,
            pub gone: Option<DateTimeUtc>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub(crate) enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    #[tokio::test]
    async fn rows_read_inline_as_the_pool_reads_them() {
        use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Schema};
        let (path, db, reader) = file().await;
        let create = Schema::new(DbBackend::Sqlite).create_table_from_entity(sample::Entity);
        db.execute(&create).await.expect("table");
        for i in 0..5_i64 {
            let row = sample::Model {
                id: uuid::Uuid::new_v4(),
                name: format!("row {i} é"),
                small: i32::try_from(i).unwrap() - 2,
                big: i64::MAX - i,
                ratio: 0.1 * i as f64,
                flag: i % 2 == 0,
                at: Utc::now() - chrono::Duration::microseconds(i * 1_234_567),
                amount: rust_decimal::Decimal::new(1234 + i, 2),
                doc: serde_json::json!({"i": i, "tags": ["a", "b"]}),
                maybe: (i % 2 == 1).then_some(i),
                gone: (i == 3).then(Utc::now),
            };
            sample::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row))
                .exec_without_returning(&db)
                .await
                .expect("insert");
        }
        let select = || {
            sample::Entity::find()
                .filter(
                    sea_orm::Condition::any()
                        .add(sample::Column::Flag.eq(true))
                        .add(sample::Column::Small.gt(0)),
                )
                .order_by_asc(sample::Column::Big)
                .limit(3)
                .offset(1)
        };
        let stmt = select().build(DbBackend::Sqlite);
        // `ask` fails if the reader hands the statement to the pool.
        let inline = ask(&reader, stmt, Models::<sample::Entity>::new())
            .await
            .expect("inline");
        let pooled = select().all(&db).await.expect("pool");
        assert_eq!(inline.len(), 3);
        assert_eq!(inline, pooled);

        // As records of a resource (the CRUD reads): the same values inline and on the
        // pool, which are those of the models.
        let stmt = select().build(DbBackend::Sqlite);
        let inline = Reads::Inline(&reader).records(&SAMPLE, &stmt).await;
        let on_pool = Reads::Pool(&db).records(&SAMPLE, &stmt).await;
        let (inline, on_pool) = (inline.expect("inline"), on_pool.expect("pool"));
        assert_eq!(inline, on_pool);
        let of_models: Vec<Vec<sea_orm::Value>> = pooled
            .iter()
            .map(|m| {
                use sea_orm::{Iterable, ModelTrait};
                sample::Column::iter().map(|c| m.get(c)).collect()
            })
            .collect();
        let of_records: Vec<Vec<sea_orm::Value>> = inline
            .iter()
            .map(|r| (0..SAMPLE.fields.len()).map(|i| r.get(i).clone()).collect())
            .collect();
        assert_eq!(of_records, of_models);

        // A count, inline and on the pool.
        let count = sample::Entity::find()
            .select_only()
            .column_as(sea_orm::sea_query::Expr::cust("COUNT(*)"), "n")
            .build(DbBackend::Sqlite);
        assert_eq!(
            Reads::Inline(&reader).count(&count).await.expect("count"),
            5
        );
        assert_eq!(Reads::Pool(&db).count(&count).await.expect("count"), 5);
        remove(&path);
    }

    #[tokio::test]
    async fn a_null_in_a_field_that_is_not_an_option_is_an_error_both_ways() {
        use sea_orm::ConnectionTrait;
        let (path, db, reader) = file().await;
        db.execute_unprepared(
            "CREATE TABLE loose (id INTEGER PRIMARY KEY, name TEXT, note TEXT); \
             INSERT INTO loose VALUES (1, 'a', NULL), (2, NULL, 'b')",
        )
        .await
        .expect("fill");
        let select = |id: i32| {
            Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT id, name, note FROM loose WHERE id = ?",
                [id.into()],
            )
        };
        for reads in [Reads::Inline(&reader), Reads::Pool(&db)] {
            // `note` is an `Option`: its null is a value.
            let rows = reads.records(&LOOSE, &select(1)).await.expect("row 1");
            assert_eq!(rows[0].get(2), &sea_orm::Value::String(None));
            // `name` is not: a null there is the database's error, never a `null` answered.
            let err = reads.records(&LOOSE, &select(2)).await.expect_err("row 2");
            assert!(err.to_string().contains("`name` is null"), "{err}");
            // A statement whose columns are not the field table's is an error, not a panic.
            let short = Statement::from_string(DbBackend::Sqlite, "SELECT id FROM loose");
            assert!(reads.records(&LOOSE, &short).await.is_err());
        }
        remove(&path);
    }

    const LOOSE_FIELDS: &[FieldMeta] = &[
        FieldMeta::new("id", FieldType::I32).id(),
        FieldMeta::new("name", FieldType::String),
        FieldMeta::new("note", FieldType::String).nullable(),
    ];

    static LOOSE: ResourceMeta = ResourceMeta::testing("loose", "loose", LOOSE_FIELDS);

    /// The `sample` table as a resource's field table, in its column order.
    const SAMPLE_FIELDS: &[FieldMeta] = &[
        FieldMeta::new("id", FieldType::Uuid).id(),
        FieldMeta::new("name", FieldType::String),
        FieldMeta::new("small", FieldType::I32),
        FieldMeta::new("big", FieldType::I64),
        FieldMeta::new("ratio", FieldType::F64),
        FieldMeta::new("flag", FieldType::Bool),
        FieldMeta::new("at", FieldType::DateTime),
        FieldMeta::new("amount", FieldType::Decimal),
        FieldMeta::new("doc", FieldType::Json),
        FieldMeta::new("maybe", FieldType::I64).nullable(),
        FieldMeta::new("gone", FieldType::DateTime).nullable(),
    ];

    static SAMPLE: ResourceMeta = ResourceMeta::testing("sample", "sample", SAMPLE_FIELDS);

    #[tokio::test]
    async fn the_readers_write_nothing() {
        let (path, db, reader) = file().await;
        sea_orm::ConnectionTrait::execute_unprepared(&db, "CREATE TABLE t (x INTEGER)")
            .await
            .expect("create");
        let insert =
            Statement::from_string(DbBackend::Sqlite, "INSERT INTO t VALUES (1) RETURNING x");
        let refused = ask(&reader, insert, Count).await.expect_err("query_only");
        assert!(refused.to_string().contains("readonly"), "{refused}");
        let rows = Statement::from_string(DbBackend::Sqlite, "SELECT count(*) FROM t");
        assert_eq!(ask(&reader, rows, Count).await.expect("count"), vec![0]);
        remove(&path);
    }

    #[tokio::test]
    async fn regexp_answers_as_sqlx_registers_it() {
        use sea_orm::ConnectionTrait;
        let (path, db, reader) = file().await;
        let cases: [(&str, Option<&str>); 7] = [
            ("^a", Some("abc")),
            ("^a", Some("cba")),
            ("(?i)ACME", Some("acme corp")),
            ("\\d+", Some("no digits")),
            ("é", Some("café")),
            ("x", None),
            ("^$", Some("")),
        ];
        for (pattern, subject) in cases {
            let stmt = || {
                Statement::from_sql_and_values(
                    DbBackend::Sqlite,
                    "SELECT coalesce(? REGEXP ?, -1)",
                    [subject.map(str::to_owned).into(), pattern.into()],
                )
            };
            let pooled: i64 = db
                .query_one_raw(stmt())
                .await
                .expect("sqlx")
                .expect("row")
                .try_get_by_index(0)
                .expect("int");
            let inline = ask(&reader, stmt(), Int).await.expect("inline");
            assert_eq!(inline, vec![pooled], "{pattern:?} on {subject:?}");
        }
        remove(&path);
    }
}
