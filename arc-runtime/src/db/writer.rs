//! The one writer: the connection every write of the CRUD routes runs on.
//!
//! SQLite takes one writer at a time. A write transaction begun (`BEGIN DEFERRED`) on any of
//! a pool's connections reads first and asks for the write lock on its first write, so under
//! concurrency writers collide: they sleep in SQLite's busy handler (a millisecond and more
//! each time), or fail outright when the read snapshot they hold went stale. On a SQLite file
//! the writer is therefore a pool of **one** connection of its own beside the app's pool:
//! writes wait for it in this process, in order (the pool's fair queue), and a write
//! transaction starts with `BEGIN IMMEDIATE`, so it holds the write lock from its first
//! statement. Reads go to the app's pool or the inline readers ([`Reader`](super::Reader)); in
//! WAL mode they never wait for the writer.
//!
//! On PostgreSQL, and on a SQLite pool of one connection (`sqlite::memory:`), the writer is
//! the app's pool itself and a transaction begins as it always did.
//!
//! ## The write-ahead log
//!
//! SQLite's automatic checkpoint (after a commit that leaves 1000 pages or more in the WAL)
//! is passive: it copies into the database the pages no reader still needs, and the WAL
//! starts again from its beginning only when a write finds every page copied **and** no
//! reader on a snapshot that reads from the WAL. Under a steady stream of reads on the app's
//! pool there is nearly always such a reader, so the log is never started again and grows
//! with every commit (checkpoint starvation); before the one writer, writers waiting in the
//! busy handler on the pool's other connections held those snapshots themselves. So every
//! [`WAL_CHECK_EVERY`] commits the writer looks at the log's size, and above [`WAL_LIMIT`]
//! it runs `PRAGMA wal_checkpoint(TRUNCATE)` in a task of its own (on the writer: writes wait
//! for it; readers that started before it are waited for, readers after it read the
//! database file), which empties the log and truncates its file.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

/// After how many commits the writer looks at the size of the write-ahead log.
pub(crate) const WAL_CHECK_EVERY: u32 = 128;

/// The size of the write-ahead log above which the writer empties and truncates it (the
/// automatic checkpoint keeps it near 4 MiB when readers let it).
pub(crate) const WAL_LIMIT: u64 = 16 << 20;

/// The writer's watch over the write-ahead log of a SQLite file.
#[derive(Debug)]
struct Wal {
    /// The `-wal` file beside the database.
    path: PathBuf,
    /// Commits so far.
    commits: AtomicU32,
    /// Whether a truncating checkpoint is under way.
    running: AtomicBool,
}

/// The connection writes run on (see the module).
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    /// A pool of one connection of its own (a SQLite file), or the app's pool.
    db: DatabaseConnection,
    /// Whether the database is SQLite (transactions begin `IMMEDIATE`).
    sqlite: bool,
    /// The watch over the write-ahead log, on a writer of its own for a SQLite file.
    wal: Option<Arc<Wal>>,
}

impl Writer {
    /// The writer of the app whose pool is `db`: on a SQLite file pool of more than one
    /// connection, a pool of one connection with the same options (opened on first use);
    /// otherwise `db` itself.
    pub(crate) fn new(db: &DatabaseConnection) -> Self {
        let shared = || Self {
            db: db.clone(),
            sqlite: db.get_database_backend() == DbBackend::Sqlite,
            wal: None,
        };
        let sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) = &db.inner else {
            return shared();
        };
        let pool = db.get_sqlite_connection_pool();
        if pool.options().get_max_connections() <= 1 {
            // One connection already (`:memory:`): it is the writer.
            return shared();
        }
        let options = (*pool.connect_options()).clone();
        let mut path = options.get_filename().as_os_str().to_owned();
        path.push("-wal");
        let wal = Wal {
            path: path.into(),
            commits: AtomicU32::new(0),
            running: AtomicBool::new(false),
        };
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
            wal: Some(Arc::new(wal)),
        }
    }

    /// The writer's connection, for a write that is one statement run alone (autocommit).
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a write transaction: on SQLite `BEGIN IMMEDIATE` (the write lock from the
    /// start) when `immediate`, the database's default `BEGIN` otherwise and elsewhere.
    ///
    /// A transaction that runs a resource's hooks is not `immediate`: a hook runs code of
    /// its own for as long as it takes, and SQLite's write lock held over it would stop every
    /// writer outside the writer (an idempotency key's claim on the app's pool, another
    /// process). Writes of this process wait for the writer either way.
    pub(crate) async fn begin(&self, immediate: bool) -> Result<DatabaseTransaction, DbErr> {
        if self.sqlite && immediate {
            let options = TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            };
            self.db.begin_with_options(options).await
        } else {
            self.db.begin().await
        }
    }

    /// Called after every commit of a write: every [`WAL_CHECK_EVERY`] commits, when the
    /// write-ahead log is over [`WAL_LIMIT`], empties and truncates it in a task of its own
    /// (see the module).
    pub(crate) fn committed(&self) {
        let Some(wal) = &self.wal else {
            return;
        };
        let n = wal.commits.fetch_add(1, Ordering::Relaxed);
        if n % WAL_CHECK_EVERY != WAL_CHECK_EVERY - 1 {
            return;
        }
        let size = std::fs::metadata(&wal.path).map_or(0, |m| m.len());
        if size <= WAL_LIMIT || wal.running.swap(true, Ordering::AcqRel) {
            return;
        }
        let (db, wal) = (self.db.clone(), Arc::clone(wal));
        tokio::spawn(async move {
            truncate(&db, size).await;
            wal.running.store(false, Ordering::Release);
        });
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)` on the writer `db`, whose log has `size` bytes.
async fn truncate(db: &DatabaseConnection, size: u64) {
    let pragma = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(TRUNCATE)");
    match db.query_one_raw(pragma).await {
        // (busy, pages in the log, pages checkpointed): busy when a reader or a writer
        // outside this process held on past the busy timeout; the next check tries again.
        Ok(Some(row)) => {
            let busy = row.try_get_by_index::<i64>(0).unwrap_or(1) != 0;
            if busy {
                tracing::debug!(wal_bytes = size, "database: the WAL is busy; not truncated");
            } else {
                tracing::debug!(wal_bytes = size, "database: the WAL is truncated");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, wal_bytes = size, "database: WAL checkpoint failed"),
    }
}
