//! Connecting to the database: [`connect`], the statement events, the one writer that
//! every write runs on ([`writer`]) with its committer on a SQLite file ([`commit`]), and
//! the inline reads of a SQLite file ([`reader`]), both over [`rows`].

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

mod commit;
mod reader;
mod rows;
mod wal;
mod writer;

pub(crate) use reader::{Reader, Reads};
pub(crate) use rows::{STATEMENT_BUSY, STATEMENT_STOPPED};
pub(crate) use writer::{AfterCommit, Txn, WriteError, Writer};

/// The longest a PostgreSQL statement may run (its `statement_timeout`), below the default
/// request timeout ([`App::DEFAULT_TIMEOUT`](crate::App::DEFAULT_TIMEOUT)).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens a pool for `url` (`sqlite://file.db?mode=rwc`, `sqlite::memory:`, `postgres://..`):
/// SQLite (a file, or one shared in-memory database) or PostgreSQL, with the settings every
/// pooled connection needs.
///
/// SQLite settings are connection options, so each pooled connection gets WAL,
/// `synchronous = NORMAL`, foreign keys, a busy timeout, a `journal_size_limit` of 64 MiB
/// and the `REGEXP` function, not only the first one. An [`App`](crate::App) over a SQLite
/// file runs its writes beside this pool: transactions on one connection of its own, creates
/// alone on a committer thread that commits them in batches, the two taking turns so they
/// never wait for each other in SQLite, and checkpoints of the log on a thread of their own;
/// and the reads of its routes inline on query-only connections of their own (no thread hop;
/// a read that runs past a millisecond or two moves to a blocking thread). Those reads and
/// creates are reported as every statement is (spans and events below), but a callback set
/// with `set_metric_callback` on this pool does not see them. On PostgreSQL every connection
/// gets the [`STATEMENT_TIMEOUT`](crate::config::STATEMENT_TIMEOUT).
///
/// Every database call is a span of its own (sea-orm's `sea_orm.*` spans, children of the
/// request's span; exported by [`Telemetry`](crate::config::Telemetry)), and every statement
/// is reported as a `tracing` event with the target
/// [`STATEMENT_TARGET`](crate::config::STATEMENT_TARGET).
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, None).await
}

/// Like [`connect`], with the PostgreSQL schema search path set on every connection.
pub async fn connect_with(url: &str, pg_schema: Option<&str>) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options.sqlx_logging(false).acquire_timeout(ACQUIRE_TIMEOUT);
    if url.starts_with("sqlite:") {
        if is_memory(url) {
            // Every new connection to `:memory:` is a new, empty database: keep exactly one
            // connection, for the life of the pool.
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None::<Duration>)
                .max_lifetime(None::<Duration>);
        } else {
            options.max_connections(8);
        }
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(BUSY_TIMEOUT)
                // A log started again is cut back to this size at its first commit (SQLite
                // keeps the file otherwise); the checkpointer truncates a longer log (`wal`).
                .pragma("journal_size_limit", JOURNAL_SIZE_LIMIT.to_string())
                .with_regexp()
        });
    } else {
        options.max_connections(16);
        if let Some(schema) = pg_schema {
            options.set_schema_search_path(schema.to_owned());
        }
        // No statement of a request may hold a pooled connection for longer than the request
        // may take: one that runs away (an expensive pattern, a missing index) is cancelled
        // by the server and answered 503, instead of working on after its caller was told 503
        // and starving the pool.
        let timeout = STATEMENT_TIMEOUT.as_millis().to_string();
        options
            .map_sqlx_postgres_opts(move |o| o.options([("statement_timeout", timeout.as_str())]));
    }
    let mut db = Database::connect(options).await?;
    db.set_metric_callback(trace_statement);
    tracing::debug!(backend = ?db.get_database_backend(), "database connected");
    Ok(db)
}

/// How long a statement waits for a connection (of the pool, the writer or the readers)
/// before it fails.
pub(crate) const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a SQLite statement waits for a lock (the busy timeout).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The size SQLite cuts a write-ahead log file back to when the log starts again.
pub(super) const JOURNAL_SIZE_LIMIT: u64 = 64 << 20;

/// The `tracing` target of the event every statement of a pool from [`connect`] is reported
/// as: debug level, with the SQL without its values (`sql`, cut at 300 characters), the
/// duration (`elapsed_ms`) and whether it failed (`failed`), inside the span of the request
/// that ran it.
///
/// The target is under `sea_orm` so that `RUST_LOG=sea_orm=debug` shows the SQL and the
/// default log level (see [`Telemetry`](crate::config::Telemetry)) does not.
pub const STATEMENT_TARGET: &str = "sea_orm::statement";

/// The most SQL text a statement event carries.
const MAX_SQL: usize = 300;

fn trace_statement(info: &sea_orm::metric::Info<'_>) {
    trace(&info.statement.sql, info.elapsed, info.failed);
}

/// Reports a statement that ran for `elapsed` (see [`STATEMENT_TARGET`]).
fn trace(sql: &str, elapsed: Duration, failed: bool) {
    if !tracing::enabled!(target: STATEMENT_TARGET, tracing::Level::DEBUG) {
        return;
    }
    let end = sql
        .char_indices()
        .nth(MAX_SQL)
        .map_or(sql.len(), |(i, _)| i);
    tracing::debug!(
        target: STATEMENT_TARGET,
        elapsed_ms = elapsed.as_secs_f64() * 1e3,
        failed,
        sql = &sql[..end],
        "statement"
    );
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}
