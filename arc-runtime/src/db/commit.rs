//! Group commit: the writes of a SQLite file that are one statement, run on a thread of their
//! own and committed together.
//!
//! A create that is one statement and nothing else (no hook, event, audit entry or
//! idempotency key goes with it) would run on the writer's sqlx connection: a message to its
//! worker thread and a wake-up back, and a commit (a write to the log) per row. The
//! [`Committer`] is one thread with one rusqlite connection instead: in the writer's turn it
//! takes every statement waiting for it, runs them in one transaction (`BEGIN IMMEDIATE` ..
//! `COMMIT`), and answers each one after the commit, so no caller hears of a row that is not
//! committed (durable as the pool's `synchronous` makes commits: with `NORMAL`, a power
//! loss may take back the last ones, a crash of the process none). A statement alone in its
//! batch runs without `BEGIN` and `COMMIT`; a statement whose caller has gone before it ran
//! is not run.
//!
//! A statement that fails (a unique key, a foreign key) is backed out by SQLite itself (its
//! default conflict resolution, `ABORT`, keeps the transaction) and is answered its own
//! error; the others commit. When a failure ends the transaction instead (an
//! `ON CONFLICT ROLLBACK` clause, a deferred foreign key failing the commit, the disk full),
//! nothing of the batch is written, and each of its statements runs again by itself: only
//! the one at fault fails. A statement whose row fails to decode after it ran is answered
//! its error, and its row is committed all the same (as through sea-orm).
//!
//! The committer's connection and the writer's (writes in a transaction) take turns
//! ([`Turn`]): SQLite would otherwise make one sleep in its busy handler until the other
//! commits. None of it runs on the async runtime: a request waits for its answer. The
//! connection gets the pool's `foreign_keys`, `synchronous`, `journal_size_limit` and
//! `busy_timeout` (not its other settings: collations or functions of an app's own pool are
//! not on it); its commits are counted for the checkpointer ([`wal`](super::wal)).

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
    /// Whether its caller still waits for it (a request dropped before its statement ran:
    /// the statement is not run).
    fn wanted(&self) -> bool;
    /// Runs the statement on `db`, in the batch's transaction or alone (again, when its
    /// batch failed), and keeps what it did.
    fn run(&mut self, db: &Connection);
    /// What it did is undone: it failed after all.
    fn fail(&mut self, failure: Failure);
    /// Answers the caller what it did, once that is committed.
    fn answer(self: Box<Self>);
}

/// A statement with its values bound and what its rows become.
struct Pending<D: Decode> {
    sql: String,
    values: Vec<Sql>,
    decode: D,
    /// Its rows, once it ran.
    rows: Result<Vec<D::Out>, Failure>,
    reply: oneshot::Sender<Result<Vec<D::Out>, Failure>>,
}

impl<D: Decode> Job for Pending<D> {
    fn wanted(&self) -> bool {
        !self.reply.is_closed()
    }

    fn run(&mut self, db: &Connection) {
        let values = self.values.iter().map(Some);
        let run = || rows::query(db, &self.sql, values, &self.decode);
        // A panic while a row decodes fails this statement, not the committer's thread.
        self.rows =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
                Err(Failure::Db(rows::query_err(
                    "the statement's row could not be decoded",
                )))
            });
    }

    fn fail(&mut self, failure: Failure) {
        self.rows = Err(failure);
    }

    fn answer(self: Box<Self>) {
        // The caller may have gone since: what was written stays written.
        let _ = self.reply.send(self.rows);
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
        sql: &str,
        values: Vec<Sql>,
        decode: D,
    ) -> Result<Vec<D::Out>, Failure> {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            sql: sql.to_owned(),
            values,
            decode,
            rows: Err(Failure::Db(rows::query_err("the statement did not run"))),
            reply,
        };
        if self.jobs.send(Box::new(job)).is_err() {
            // The thread is gone (it cannot be, short of a panic outside a statement): the
            // statement did not run, the caller runs it elsewhere.
            tracing::error!("database: the committer has stopped");
            return Err(Failure::Unsupported);
        }
        // The thread went away with the statement: whether it was written is not known.
        let gone = || {
            Failure::Db(rows::query_err(
                "the committer stopped during the statement",
            ))
        };
        answer.await.map_err(|_| gone())?
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
            let turn = self.turn.blocking_lock();
            // What came while the turn was waited for joins the batch.
            let mut batch = Vec::with_capacity(8);
            batch.push(first);
            batch.extend(self.waiting.try_iter().take(MAX_BATCH - 1));
            batch.retain(|job| job.wanted());
            self.largest.fetch_max(batch.len(), Ordering::Relaxed);
            let failed = match batch.as_mut_slice() {
                [] => continue,
                [alone] => {
                    alone.run(db);
                    settle(db, alone);
                    None
                }
                _ => together(db, &mut batch).err(),
            };
            if let Some(failure) = failed {
                // Nothing of the batch is written (one statement's failure ended the
                // transaction, or the commit failed): each statement runs again by itself,
                // so only the one at fault fails.
                tracing::warn!(error = ?failure, statements = batch.len(), "database: a batch failed; its statements run again one by one");
                for job in &mut batch {
                    job.run(db);
                    settle(db, job);
                }
            }
            drop(turn);
            if let Some(wal) = &self.wal {
                wal.committed();
            }
            for job in batch {
                job.answer();
            }
        }
        tracing::debug!("database: the committer stopped");
    }
}

/// After `job` ran alone: a transaction its statement left open is rolled back, and the job
/// failed.
fn settle(db: &Connection, job: &mut Box<dyn Job>) {
    if db.is_autocommit() {
        return;
    }
    let rolled_back = db.execute_batch("ROLLBACK");
    job.fail(Failure::Db(rows::query_err(format!(
        "the statement left a transaction open (rolled back: {rolled_back:?})"
    ))));
}

/// Runs `batch` in one transaction; on an error, nothing of it is written (a transaction
/// left open is rolled back). A batch whose transaction could not begin is answered that
/// failure, each statement (`Ok`: nothing to run again).
fn together(db: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), Failure> {
    let begun = db
        .prepare_cached("BEGIN IMMEDIATE")
        .and_then(|mut begin| begin.raw_execute());
    if let Err(err) = begun {
        // Not begun (the file stayed locked past the busy timeout, say): each statement
        // fails with it, as it would have alone.
        let failure = Failure::from(err);
        for job in batch.iter_mut() {
            job.fail(failure.clone());
        }
        return Ok(());
    }
    let done = (|| {
        for job in batch.iter_mut() {
            job.run(db);
            if db.is_autocommit() {
                return Err(Failure::Db(rows::query_err(
                    "a statement's failure rolled the batch's transaction back",
                )));
            }
        }
        db.prepare_cached("COMMIT")?.raw_execute()?;
        Ok(())
    })();
    if done.is_err()
        && !db.is_autocommit()
        && let Err(e) = db.execute_batch("ROLLBACK")
    {
        tracing::error!(error = %e, "database: the committer could not roll a batch back");
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::rows::testing::{Int, remove};

    /// A decoder that panics on every row.
    struct Panics;

    impl Decode for Panics {
        type Out = ();
        type Plan = ();

        fn plan(&self, _: &rusqlite::Statement<'_>) -> Option<()> {
            Some(())
        }

        fn row(&self, (): &(), _: &rusqlite::Row<'_>) -> Result<(), DbErr> {
            panic!("a row that cannot be decoded")
        }
    }

    /// A panic while a statement's row decodes fails that statement only: the committer's
    /// thread goes on with the next one.
    #[tokio::test]
    async fn a_panic_in_a_statement_does_not_stop_the_committer() {
        let path =
            std::env::temp_dir().join(format!("arc-commit-{}.db", uuid::Uuid::new_v4().simple()));
        let db = crate::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("sqlite file");
        db.execute_unprepared("CREATE TABLE n (v INTEGER NOT NULL)")
            .await
            .expect("table");
        let committer = Committer::start(&db, &path, Turn::default(), None)
            .await
            .expect("started");
        let sql = "INSERT INTO n (v) VALUES (?1) RETURNING v";
        let panicked = committer.run(sql, vec![Sql::Integer(1)], Panics).await;
        assert!(matches!(panicked, Err(Failure::Db(_))), "{panicked:?}");
        let rows = committer
            .run(sql, vec![Sql::Integer(2)], Int)
            .await
            .expect("the committer goes on");
        assert_eq!(rows, vec![2]);
        remove(&path);
    }
}
