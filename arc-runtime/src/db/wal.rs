//! The write-ahead log of a SQLite file kept in bounds, off the writes' way: checkpoints on a
//! thread of their own.
//!
//! SQLite checkpoints the log itself, after a commit that leaves 1000 pages or more in it
//! (`wal_autocheckpoint`), on the connection that committed: that commit waits for the copy
//! of the pages into the database and two `fsync`s, and so does every write queued behind
//! it (measured with `arc-bench`: creates at about two thirds of their rate, their p99
//! doubled). So the app's writers on a SQLite file (the writer's connection and the
//! committer's) checkpoint nothing themselves (`wal_autocheckpoint = 0`). [`Wal`] counts
//! their commits, and every [`CHECKPOINT_EVERY`] commits wakes the checkpointer: a thread
//! with a connection of its own that runs a `PASSIVE` checkpoint beside the writes (it waits
//! for no one, and no one waits for it). The log starts again from its beginning at the
//! first write after a checkpoint that copied all of it, when no reader holds a snapshot
//! that began before that copy.
//!
//! ## Writes that never stop
//!
//! Under a steady stream of writes, no checkpoint beside them copies all of the log: the
//! writes add frames while it copies. So the checkpointer copies the last ones in the
//! writer's turn, and writes wait for that copy and its two `fsync`s. It first runs
//! checkpoints beside the writes until one finds at most [`TAIL`] pages added while the one
//! before copied ([`catch_up`]): each copies what the writes added during the last, so the
//! rest shrinks to what they add during two `fsync`s. Measured with `arc-bench` (creates on
//! 32 connections, the server on one core): writes waited 3 to 11 ms in each turn when it
//! copied all that the writes had added during one checkpoint (500 to 1,100 pages), and 2 to
//! 3 ms with the catch-up; the creates' p99 went from 16 to 11-12 ms.
//!
//! ## Checkpoint starvation
//!
//! Under a steady stream of reads there is nearly always a reader on a snapshot that reads
//! from the log, so it is never started again and grows with every commit. When a checkpoint
//! finds the log longer than [`WAL_LIMIT`], could copy all of it, and the log has not started
//! again since the wake-up before ([`generation`]), the checkpointer runs
//! `PRAGMA wal_checkpoint(TRUNCATE)` in the writer's turn (writes wait for it; it waits for
//! the readers still on the log, whose snapshots it has copied all of), which empties the
//! log and truncates its file. While a reader holds frames not yet copied, it does not try:
//! that would make every write wait for the reader. A log longer than the pool's
//! `journal_size_limit` ([`JOURNAL_SIZE_LIMIT`]) is truncated whether it started again or
//! not: that bounds the file however fast the writes and however slow the copies.
//!
//! A log that did start again since the wake-up before holds the writes of about one round:
//! with no reader in the way, the next write after the checkpoint starts it again, over the
//! same file. Truncating it would only make the writes grow the file again, block by block,
//! and the truncation itself (blocks freed, and discarded on a file system mounted with
//! `discard`) keeps the writes waiting: with it, `arc-bench`'s creates had a p99 of 15 to 20
//! ms, without it 5.6 to 7 ms (the floor's 6.3 to 6.9 ms in the same runs) and 7 to 9% more
//! of them. The file is then as long as the longest round (SQLite cuts it back to the pool's
//! `journal_size_limit` at the first commit after the log starts again): through 60 s of
//! creates (`arc-bench wal 60`), 59.9 MiB at most, against 34.9 MiB with the truncations.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use rusqlite::Connection;

use super::JOURNAL_SIZE_LIMIT;
use super::writer::Turn;

/// After how many commits of the app's writers the checkpointer runs. A commit adds a page or
/// more per table and index it wrote to the log (SQLite's own threshold is 1000 pages); a
/// batch of the committer is one commit, so under load one run copies more.
pub(super) const CHECKPOINT_EVERY: u32 = 128;

/// The length of the log above which the checkpointer empties and truncates it (see the
/// module).
pub(crate) const WAL_LIMIT: u64 = 16 << 20;

/// The pages the writes may have added to the log since the last checkpoint beside them for
/// the checkpointer to copy them in the writer's turn (writes wait for that copy); more, and
/// it runs another beside the writes first.
const TAIL: i64 = 256;

/// The most checkpoints beside the writes in one wake-up of the checkpointer before it
/// copies the rest in the writer's turn: each copies what the writes added during the one
/// before, so the rest shrinks as long as copying is faster than writing.
const CATCH_UP_RUNS: u32 = 8;

/// How long a truncating checkpoint waits for the readers still on the log (and for a
/// writer outside the app's turn), in the writer's turn: every write waits as long. A
/// reader still there after it (one moved to a blocking thread may read for up to the
/// statement timeout) puts the truncation off to the next wake-up.
const TRUNCATE_WAIT: Duration = Duration::from_millis(50);

/// The watch over the write-ahead log of a SQLite file (see the module). Dropped with the
/// app's writer: the checkpointer then ends.
#[derive(Debug)]
pub(super) struct Wal {
    /// Commits since the last wake-up of the checkpointer.
    commits: AtomicU32,
    /// Whether the checkpointer has work.
    wanted: AtomicBool,
    /// The checkpointer's thread.
    thread: std::thread::Thread,
}

impl Wal {
    /// Starts the checkpointer of the SQLite file at `path`, which truncates the log in the
    /// writer's `turn`; `None` when no thread could be started (the writers then checkpoint
    /// as SQLite does by default).
    pub(super) fn start(path: &Path, turn: Turn) -> Option<Arc<Self>> {
        let checkpointer = match Checkpointer::open(path, turn) {
            Ok(checkpointer) => checkpointer,
            Err(e) => {
                tracing::warn!(error = %e, "database: no checkpointer; SQLite checkpoints on commit");
                return None;
            }
        };
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Weak<Self>>(1);
        let spawned = std::thread::Builder::new()
            .name("arc-sqlite-checkpointer".into())
            .spawn(move || {
                if let Ok(wal) = receiver.recv() {
                    checkpointer.run(&wal);
                }
            });
        let thread = match spawned {
            Ok(handle) => handle.thread().clone(),
            Err(e) => {
                tracing::warn!(error = %e, "database: no checkpointer; SQLite checkpoints on commit");
                return None;
            }
        };
        let wal = Arc::new(Self {
            commits: AtomicU32::new(0),
            wanted: AtomicBool::new(false),
            thread,
        });
        sender.send(Arc::downgrade(&wal)).ok()?;
        Some(wal)
    }

    /// Counts a commit of the app's writers; every [`CHECKPOINT_EVERY`] commits, wakes the
    /// checkpointer.
    pub(super) fn committed(&self) {
        let n = self.commits.fetch_add(1, Ordering::Relaxed);
        if n % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            self.wanted.store(true, Ordering::Release);
            self.thread.unpark();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // The checkpointer sees the watch gone and ends.
        self.thread.unpark();
    }
}

/// The checkpointer's thread: its connection and the writer's turn.
struct Checkpointer {
    db: Connection,
    turn: Turn,
    /// The log's file (the database's path and `-wal`).
    log_path: PathBuf,
    /// The log's generation at the last wake-up (see [`generation`]).
    seen: Option<[u8; 4]>,
}

impl Checkpointer {
    /// A connection of its own to the SQLite file at `path`, which truncates the log in the
    /// writer's `turn`.
    fn open(path: &Path, turn: Turn) -> rusqlite::Result<Self> {
        let db = super::rows::open(path)?;
        db.busy_timeout(TRUNCATE_WAIT)?;
        Ok(Self {
            db,
            turn,
            log_path: log_path(path),
            seen: None,
        })
    }

    /// Checkpoints each time it is woken with work, until the watch is gone.
    fn run(mut self, wal: &Weak<Wal>) {
        loop {
            std::thread::park();
            let Some(alive) = wal.upgrade() else {
                break;
            };
            if alive.wanted.swap(false, Ordering::AcqRel) {
                drop(alive);
                if let Err(e) = self.checkpoint() {
                    tracing::warn!(error = %e, "database: WAL checkpoint failed");
                }
            }
        }
        tracing::debug!("database: the checkpointer stopped");
    }

    /// [`catch_up`] beside the writes; when it could copy all of the log, a `PASSIVE`
    /// checkpoint in the writer's turn for the last frames, so that all of the log is copied
    /// and the next write starts it again; and when the log has grown past [`WAL_LIMIT`]
    /// without starting again since the last wake-up, or past [`JOURNAL_SIZE_LIMIT`] in any
    /// case, a truncating one.
    fn checkpoint(&mut self) -> rusqlite::Result<()> {
        // Whether the log started again since the last wake-up: writes then start it again
        // after the checkpoints, and a long log is only the writes of one round.
        let generation = generation(&self.log_path);
        // No header (a log emptied, or a file that cannot be read): nothing to go by but
        // the length.
        let started_again = generation.is_none() || generation != self.seen;
        self.seen = generation;
        let db = &self.db;
        let Some(runs) = catch_up(|| wal_checkpoint(db, "PASSIVE"))? else {
            // A reader still needs frames it could not copy, or no checkpoint can run now.
            return Ok(());
        };
        let _turn = self.turn.blocking_lock();
        let (_, log, copied) = wal_checkpoint(db, "PASSIVE")?;
        tracing::trace!(
            runs_beside_the_writes = runs,
            log_pages = log,
            copied_pages = copied,
            "database: WAL checkpoint in the writer's turn"
        );
        let page: i64 = db.query_row("PRAGMA page_size", [], |row| row.get(0))?;
        let bytes = u64::try_from(log.saturating_mul(page)).unwrap_or(0);
        let long = (bytes > WAL_LIMIT && !started_again) || bytes > JOURNAL_SIZE_LIMIT;
        if !long || copied < log {
            return Ok(());
        }
        // Busy: a reader (or a writer outside the app's turn) held on past the wait; the
        // next wake-up tries again.
        let (busy, ..) = wal_checkpoint(db, "TRUNCATE")?;
        if busy {
            tracing::debug!(
                wal_bytes = bytes,
                "database: the WAL is busy; not truncated"
            );
        } else {
            tracing::debug!(wal_bytes = bytes, "database: the WAL is truncated");
        }
        Ok(())
    }
}

/// Runs `passive` (a `PASSIVE` checkpoint beside the writes: whether it was busy, the pages
/// in the log, the pages copied) until the writes added at most [`TAIL`] pages to the log
/// while the last run copied, or [`CATCH_UP_RUNS`] times: the checkpoint in the writer's
/// turn that follows copies only what they added since. The number of runs; `None` when the
/// first could not copy all of the log (a reader holds frames back: no checkpoint copies all
/// of it before the reader goes), could not run (busy: another connection checkpoints) or
/// found no log (the database is not in WAL mode). A later run that could not copy all of it
/// ends the catching up: the checkpoint in the turn tries again.
fn catch_up(
    mut passive: impl FnMut() -> rusqlite::Result<(bool, i64, i64)>,
) -> rusqlite::Result<Option<u32>> {
    let mut before = 0;
    for runs in 1..=CATCH_UP_RUNS {
        let (busy, log, copied) = passive()?;
        tracing::trace!(
            log_pages = log,
            copied_pages = copied,
            "database: WAL checkpoint"
        );
        if busy || log < 0 || copied < log {
            return Ok((runs > 1).then_some(runs));
        }
        // What the writes added while the run before copied (all of a log started again
        // meanwhile; all of it at the first run).
        let added = if log < before { log } else { log - before };
        if added <= TAIL {
            return Ok(Some(runs));
        }
        before = log;
    }
    Ok(Some(CATCH_UP_RUNS))
}

/// The write-ahead log's file of the SQLite database at `db`: its path and `-wal`.
pub(super) fn log_path(db: &Path) -> PathBuf {
    let mut path = db.as_os_str().to_owned();
    path.push("-wal");
    PathBuf::from(path)
}

/// The generation of the log in the file at `path`: its header's first salt, which SQLite
/// adds one to each time the log starts again from its beginning, and writes with the first
/// frame after that (<https://www.sqlite.org/fileformat.html#wal_file_format>); `None` while
/// it has no header (a file empty or absent: not written since it was truncated) or cannot
/// be read. A read torn by a header being written reads as another generation: a
/// truncation put off, never one too many.
fn generation(path: &Path) -> Option<[u8; 4]> {
    use std::io::Read;
    let mut header = [0; 20];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut header))
        .ok()?;
    let mut generation = [0; 4];
    generation.copy_from_slice(&header[16..20]);
    Some(generation)
}

/// `PRAGMA wal_checkpoint(mode)` on `db`: whether it could not finish (busy), the pages in
/// the log and the pages copied (both 0 once a truncating checkpoint emptied it, -1 when the
/// database is not in WAL mode).
fn wal_checkpoint(db: &Connection, mode: &str) -> rusqlite::Result<(bool, i64, i64)> {
    let sql = format!("PRAGMA wal_checkpoint({mode})");
    db.query_row(&sql, [], |row| {
        Ok((row.get::<_, i64>(0)? != 0, row.get(1)?, row.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::rows::testing::remove;

    /// A SQLite file, removed with its log when dropped (a failed test included).
    struct File(PathBuf);

    impl Drop for File {
        fn drop(&mut self) {
            remove(&self.0);
        }
    }

    /// A SQLite file in WAL mode with a table of blobs, a writer connection on it that
    /// checkpoints nothing itself (as the app's writers), and a checkpointer.
    fn file() -> (File, Connection, Checkpointer) {
        let path =
            std::env::temp_dir().join(format!("arc-wal-{}.db", uuid::Uuid::new_v4().simple()));
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                 PRAGMA wal_autocheckpoint = 0; CREATE TABLE blobs (b BLOB NOT NULL);",
            )
            .expect("set up");
        let checkpointer = Checkpointer::open(&path, Turn::default()).expect("open");
        (File(path), writer, checkpointer)
    }

    /// One round of writes between two wake-ups of the checkpointer: 64 commits of 320 KiB
    /// each, 20 MiB in the log, more than `WAL_LIMIT`.
    fn round(writer: &Connection) {
        round_of(writer, 320 << 10);
    }

    /// 64 commits of `bytes` each.
    fn round_of(writer: &Connection, bytes: u64) {
        for _ in 0..64 {
            writer
                .execute("INSERT INTO blobs (b) VALUES (zeroblob(?1))", [bytes])
                .expect("insert");
        }
    }

    fn log_bytes(checkpointer: &Checkpointer) -> u64 {
        std::fs::metadata(&checkpointer.log_path).map_or(0, |m| m.len())
    }

    /// Under writes alone, the log starts again after each wake-up: a round longer than
    /// `WAL_LIMIT` is copied, not truncated (its file would only grow again, in the writer's
    /// turn).
    #[test]
    fn a_log_that_started_again_is_not_truncated_however_long() {
        let (_file, writer, mut checkpointer) = file();
        round(&writer);
        checkpointer.checkpoint().expect("checkpoint");
        let first = generation(&checkpointer.log_path);
        round(&writer);
        let started_again = generation(&checkpointer.log_path);
        assert_ne!(first, started_again, "the log did not start again");
        checkpointer.checkpoint().expect("checkpoint");
        let bytes = log_bytes(&checkpointer);
        assert!(bytes > WAL_LIMIT, "the log was truncated: {bytes} bytes");
        // It was copied all the same: the next write starts it again.
        round(&writer);
        assert_ne!(generation(&checkpointer.log_path), started_again);
    }

    /// A round longer than the pool's `journal_size_limit` is truncated all the same: the
    /// file stays bounded however fast the writes.
    #[test]
    fn a_log_longer_than_the_journal_size_limit_is_truncated() {
        let (_file, writer, mut checkpointer) = file();
        round(&writer);
        checkpointer.checkpoint().expect("checkpoint");
        round_of(&writer, JOURNAL_SIZE_LIMIT / 60);
        checkpointer.checkpoint().expect("checkpoint");
        assert_eq!(log_bytes(&checkpointer), 0, "the log was not truncated");
    }

    /// A reader on a snapshot of all of the log keeps it from starting again: the truncation
    /// waits for it a moment only (writes wait as long), and tries again at the next
    /// wake-up.
    #[test]
    fn a_truncation_waits_for_a_reader_a_moment_only() {
        let (file, writer, mut checkpointer) = file();
        round(&writer);
        checkpointer.checkpoint().expect("checkpoint");
        round(&writer);
        // A reader on the log before it is copied; then no write starts it again.
        let reader = Connection::open(&file.0).expect("open");
        reader
            .execute_batch("BEGIN; SELECT COUNT(*) FROM blobs;")
            .expect("a read transaction");
        checkpointer.checkpoint().expect("checkpoint");
        let started = std::time::Instant::now();
        checkpointer.checkpoint().expect("checkpoint");
        assert!(
            started.elapsed() < crate::db::BUSY_TIMEOUT,
            "the truncation waited {:?} for the reader",
            started.elapsed()
        );
        assert!(
            log_bytes(&checkpointer) > WAL_LIMIT,
            "truncated under the reader"
        );
        reader.execute_batch("COMMIT").expect("the read ends");
        checkpointer.checkpoint().expect("checkpoint");
        assert_eq!(log_bytes(&checkpointer), 0, "the log was not truncated");
        drop((reader, writer, checkpointer));
    }

    /// A reader that keeps the log from starting again: once it has gone, the log, longer
    /// than `WAL_LIMIT`, is truncated.
    #[test]
    fn a_log_that_a_reader_kept_from_starting_again_is_truncated() {
        let (file, writer, mut checkpointer) = file();
        let reader = Connection::open(&file.0).expect("open");
        reader
            .execute_batch("BEGIN; SELECT COUNT(*) FROM blobs;")
            .expect("a read transaction");
        round(&writer);
        checkpointer.checkpoint().expect("checkpoint");
        round(&writer);
        checkpointer.checkpoint().expect("checkpoint");
        assert!(log_bytes(&checkpointer) > WAL_LIMIT);
        reader.execute_batch("COMMIT").expect("the read ends");
        checkpointer.checkpoint().expect("checkpoint");
        assert_eq!(log_bytes(&checkpointer), 0, "the log was not truncated");
        drop((reader, writer, checkpointer));
    }

    /// `catch_up` over checkpoints that answer `(log pages, copied pages)` in turn; the
    /// number of runs it made, and its answer.
    fn scripted(answers: &[(i64, i64)]) -> (usize, Option<u32>) {
        let mut next = answers.iter();
        let mut asked = 0;
        let runs = catch_up(|| {
            asked += 1;
            let &(log, copied) = next.next().expect("asked for one checkpoint too many");
            Ok((false, log, copied))
        })
        .expect("no error");
        (asked, runs)
    }

    #[test]
    fn it_runs_beside_the_writes_until_they_add_a_short_tail() {
        // 4,000 pages copied while the writes added 900, then 300, then 40.
        let (asked, runs) = scripted(&[(4000, 4000), (4900, 4900), (5200, 5200), (5240, 5240)]);
        assert_eq!((asked, runs), (4, Some(4)));
        // A short log at once: one run.
        assert_eq!(scripted(&[(TAIL, TAIL)]), (1, Some(1)));
    }

    #[test]
    fn a_reader_holding_frames_back_stops_it_without_a_turn() {
        assert_eq!(scripted(&[(4900, 3000)]), (1, None));
    }

    #[test]
    fn a_reader_holding_frames_back_later_ends_the_catching_up() {
        // The copy in the writer's turn tries again.
        assert_eq!(scripted(&[(4000, 4000), (4900, 3000)]), (2, Some(2)));
    }

    #[test]
    fn no_log_or_another_checkpoint_at_work_stops_it_without_a_turn() {
        let mut answers = [(true, -1, -1), (false, -1, -1)].into_iter();
        for _ in 0..2 {
            let runs = catch_up(|| Ok(answers.next().expect("one answer each"))).expect("ran");
            assert_eq!(runs, None);
        }
    }

    #[test]
    fn writes_faster_than_its_copies_stop_it_after_its_last_run() {
        let growing: Vec<(i64, i64)> = (1..=i64::from(CATCH_UP_RUNS))
            .map(|n| (n * 1000, n * 1000))
            .collect();
        assert_eq!(
            scripted(&growing),
            (CATCH_UP_RUNS as usize, Some(CATCH_UP_RUNS))
        );
    }

    #[test]
    fn a_log_started_again_meanwhile_counts_as_added_whole() {
        // The writes started the log again after the first run copied all of it.
        assert_eq!(scripted(&[(4000, 4000), (100, 100)]), (2, Some(2)));
        let (asked, runs) = scripted(&[(4000, 4000), (900, 900), (950, 950)]);
        assert_eq!((asked, runs), (3, Some(3)));
    }
}
