//! The one writer: the connection every write of the CRUD routes runs on.
//!
//! SQLite takes one writer at a time. A write transaction begun (`BEGIN DEFERRED`) on any of
//! a pool's connections reads first and asks for the write lock on its first write, so under
//! concurrency writers collide: they sleep in SQLite's busy handler (a millisecond and more
//! each time), or fail outright when the read snapshot they hold went stale. On a SQLite file
//! the writer is therefore a pool of **one** connection of its own beside the app's pool:
//! writes wait for it in this process, in order (the pool's fair queue), and a write
//! transaction starts with `BEGIN IMMEDIATE`, so it holds the write lock from its first
//! statement. Reads stay on the app's pool (WAL: they never wait for the writer).
//!
//! On PostgreSQL, and on a SQLite pool of one connection (`sqlite::memory:`), the writer is
//! the app's pool itself and a transaction begins as it always did.

use std::time::Duration;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// How long a write waits for the writer before it fails (the app pool's wait, too).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The connection writes run on (see the module).
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    /// A pool of one connection of its own (a SQLite file), or the app's pool.
    db: DatabaseConnection,
    /// Whether the database is SQLite (transactions begin `IMMEDIATE`).
    sqlite: bool,
}

impl Writer {
    /// The writer of the app whose pool is `db`: on a SQLite file pool of more than one
    /// connection, a pool of one connection with the same options (opened on first use);
    /// otherwise `db` itself.
    pub(crate) fn new(db: &DatabaseConnection) -> Self {
        let shared = || Self {
            db: db.clone(),
            sqlite: db.get_database_backend() == DbBackend::Sqlite,
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
        let one = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
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
}
