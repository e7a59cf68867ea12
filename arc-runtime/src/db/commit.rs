//! Group commit: the writes of a SQLite file that are one statement, run on a thread of their
//! own and committed together.
//!
//! A create that is one statement and nothing else (no hook, event, audit entry or
//! idempotency key goes with it) would run on the writer's sqlx connection: a message to its
//! worker thread and a wake-up back, and a commit (a write to the log) per row. The
//! [`Committer`] is one thread with one rusqlite connection instead: it takes every statement
//! waiting for it, runs them in one transaction (`BEGIN IMMEDIATE` .. `COMMIT`), and answers
//! each one after the commit, so no caller hears of a row that a crash could still take back.
//! A statement alone in its batch runs without `BEGIN` and `COMMIT`.
//!
//! A statement that fails (a unique key, a foreign key) is undone by SQLite itself (its
//! conflict resolution, `ABORT`, backs out that statement and keeps the transaction) and is
//! answered its own error; the others commit. An error that ends the transaction (the disk
//! full, an I/O error) fails every statement of the batch.
//!
//! The committer's connection and the writer's (writes in a transaction) take turns
//! ([`Turn`]): SQLite would otherwise make one sleep in its busy handler until the other
//! commits. None of it runs on the async runtime: a request waits for its answer. The
//! connection gets the pool's `foreign_keys`, `synchronous`, `journal_size_limit` and
//! `busy_timeout`; its commits are counted for the checkpointer ([`wal`](super::wal)).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};

use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::sync::oneshot;

use super::rows::{self, Decode, Failure};
use super::wal::Wal;
use super::writer::Turn;

/// The most statements one transaction of the committer takes.
const MAX_BATCH: usize = 128;

/// How many prepared statements the committer's connection keeps.
const STATEMENT_CACHE: usize = 64;

/// The thread writes go to (see the module). Dropped with the app: the thread ends once the
/// statements sent to it are answered.
#[derive(Debug)]
pub(super) struct Committer {
    jobs: Sender<Box<dyn Job>>,
    /// The most statements a batch has had.
    largest: Arc<AtomicUsize>,
}

/// A statement waiting for the committer, and the caller waiting for its answer.
trait Job: Send {
    /// Runs the statement on `db`, in the batch's transaction or alone.
    fn run(&mut self, db: &Connection);
    /// Answers the caller: the statement's rows when `committed`, else its own failure or
    /// the batch's.
    fn answer(self: Box<Self>, committed: Result<(), &Failure>);
}

/// A statement with its values bound and what its rows become.
struct Pending<D: Decode> {
    sql: String,
    values: Vec<Sql>,
    decode: D,
    /// Its rows, once it ran.
    rows: Option<Result<Vec<D::Out>, Failure>>,
    reply: oneshot::Sender<Result<Vec<D::Out>, Failure>>,
}

impl<D: Decode> Job for Pending<D> {
    fn run(&mut self, db: &Connection) {
        let values = std::mem::take(&mut self.values).into_iter().map(Some);
        self.rows = Some(rows::query(db, &self.sql, values, &self.decode));
    }

    fn answer(self: Box<Self>, committed: Result<(), &Failure>) {
        let answer = match (self.rows, committed) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(rows)), Ok(())) => Ok(rows),
            (_, Err(batch)) => Err(batch.clone()),
            (None, Ok(())) => Err(Failure::Db(rows::query_err("the statement did not run"))),
        };
        // The caller may be gone (its request dropped): the row is written all the same.
        let _ = self.reply.send(answer);
    }
}

/// The pragmas of the app's pool that change what a write does or how long it waits for a
/// lock, read off the writer's connection.
struct Pragmas {
    foreign_keys: i64,
    synchronous: i64,
    journal_size_limit: i64,
    busy_timeout: i64,
}

impl Pragmas {
    async fn of(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let read = |name: &'static str| async move {
            let sql = format!("PRAGMA {name}");
            let row = db
                .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
                .await?
                .ok_or_else(|| DbErr::Custom(format!("PRAGMA {name} answered nothing")))?;
            row.try_get_by_index::<i64>(0)
        };
        Ok(Self {
            foreign_keys: read("foreign_keys").await?,
            synchronous: read("synchronous").await?,
            journal_size_limit: read("journal_size_limit").await?,
            busy_timeout: read("busy_timeout").await?,
        })
    }
}

impl Committer {
    /// Opens a connection to `path` with the pragmas of the writer `db` and starts the
    /// committer's thread on it, which commits in the writer's `turn` and counts its commits
    /// for the checkpointer `wal` (when there is one).
    pub(super) async fn start(
        db: &DatabaseConnection,
        path: &std::path::Path,
        turn: Turn,
        wal: Option<Arc<Wal>>,
    ) -> Result<Self, DbErr> {
        let pragmas = Pragmas::of(db).await?;
        let conn = open(path, &pragmas, wal.is_some()).map_err(rows::query_err)?;
        let (jobs, waiting) = std::sync::mpsc::channel();
        let largest = Arc::new(AtomicUsize::new(0));
        let thread = Serve {
            db: conn,
            waiting,
            turn,
            wal,
            largest: Arc::clone(&largest),
        };
        std::thread::Builder::new()
            .name("arc-sqlite-committer".into())
            .spawn(move || thread.run())
            .map_err(rows::query_err)?;
        tracing::debug!(path = %path.display(), "database: the committer started");
        Ok(Self { jobs, largest })
    }

    /// The most statements one batch has had so far.
    pub(super) fn largest_batch(&self) -> usize {
        self.largest.load(Ordering::Relaxed)
    }

    /// Runs `sql` with `values` on the committer; its rows decoded by `decode` once they are
    /// committed.
    pub(super) async fn run<D: Decode>(
        &self,
        sql: String,
        values: Vec<Sql>,
        decode: D,
    ) -> Result<Vec<D::Out>, Failure> {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            sql,
            values,
            decode,
            rows: None,
            reply,
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| Failure::Db(rows::query_err("the committer has stopped")))?;
        answer
            .await
            .map_err(|_| Failure::Db(rows::query_err("the committer has stopped")))?
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        tracing::debug!(
            largest_batch = self.largest_batch(),
            "database: the committer stops once its statements are answered"
        );
    }
}

/// The committer's connection to `path`.
fn open(
    path: &std::path::Path,
    pragmas: &Pragmas,
    checkpointer: bool,
) -> rusqlite::Result<Connection> {
    let db = rows::open(path)?;
    db.pragma_update(None, "foreign_keys", pragmas.foreign_keys)?;
    db.pragma_update(None, "synchronous", pragmas.synchronous)?;
    db.pragma_update(None, "journal_size_limit", pragmas.journal_size_limit)?;
    db.pragma_update(None, "busy_timeout", pragmas.busy_timeout)?;
    if checkpointer {
        // The checkpointer checkpoints (see `wal`).
        db.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    db.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    rows::register_regexp(&db)?;
    Ok(db)
}

/// What the committer's thread holds.
struct Serve {
    db: Connection,
    waiting: Receiver<Box<dyn Job>>,
    turn: Turn,
    wal: Option<Arc<Wal>>,
    largest: Arc<AtomicUsize>,
}

impl Serve {
    /// Batches of the statements waiting, each committed in the writer's turn, until the app
    /// is gone.
    fn run(self) {
        let db = &self.db;
        while let Ok(first) = self.waiting.recv() {
            let mut batch = Vec::with_capacity(8);
            batch.push(first);
            batch.extend(self.waiting.try_iter().take(MAX_BATCH - 1));
            self.largest.fetch_max(batch.len(), Ordering::Relaxed);
            let turn = self.turn.blocking_lock();
            let committed = if let [alone] = batch.as_mut_slice() {
                alone.run(db);
                Ok(())
            } else {
                together(db, &mut batch)
            };
            drop(turn);
            if let (Ok(()), Some(wal)) = (&committed, &self.wal) {
                wal.committed();
            }
            for job in batch {
                job.answer(committed.as_ref().map(|_| ()));
            }
        }
        tracing::debug!("database: the committer stopped");
    }
}

/// Runs `batch` in one transaction.
fn together(db: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), Failure> {
    db.prepare_cached("BEGIN IMMEDIATE")?.raw_execute()?;
    for job in batch.iter_mut() {
        job.run(db);
        if db.is_autocommit() {
            // The statement's failure ended the transaction: nothing of the batch is written.
            return Err(Failure::Db(rows::query_err(
                "the batch's transaction was rolled back by an error",
            )));
        }
    }
    let committed = db.prepare_cached("COMMIT")?.raw_execute();
    if let Err(err) = committed {
        if !db.is_autocommit() {
            let _ = db.execute_batch("ROLLBACK");
        }
        return Err(err.into());
    }
    Ok(())
}
