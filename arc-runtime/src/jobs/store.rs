//! Where jobs wait: the [`JobStore`] trait the workers run on, and its in-process
//! implementation [`InMemoryJobs`] (the default; arc-stores has the one on Redis).
//!
//! A store holds each queue's waiting jobs by when they are due, leases the first due one to
//! a worker, and records how its run ended ([`Outcome`]): done, retried later, dead-lettered,
//! or returned unrun at shutdown. It keeps each queue's counts and its latest dead letters.
//! Whether to retry and how long to wait is the runtime's decision, not the store's.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use tokio::time::Instant;
use uuid::Uuid;

use super::lock;
use crate::stores::{BoxFuture, StoreError};

/// One queue's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct QueueStats {
    /// The queue: the job's [`Job::NAME`](super::Job::NAME).
    pub name: String,
    /// Jobs waiting to run (new ones and those waiting for a retry).
    pub pending: u64,
    /// Jobs running now.
    pub running: u64,
    /// Jobs that ran to success.
    pub done: u64,
    /// Failed attempts (each retried or dead-lettered).
    pub failed: u64,
    /// Jobs dead-lettered after their last attempt.
    pub dead: u64,
}

impl QueueStats {
    /// Zero counts for the queue `name`.
    pub fn new(name: impl Into<String>) -> QueueStats {
        QueueStats {
            name: name.into(),
            ..QueueStats::default()
        }
    }
}

/// A job that failed its last attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeadLetter {
    /// The job's id.
    pub id: Uuid,
    /// Its queue.
    pub job: String,
    /// The job as it was enqueued.
    pub payload: Json,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's error.
    pub error: String,
    /// When it was dead-lettered.
    pub at: DateTime<Utc>,
}

impl DeadLetter {
    /// Dead letters kept per queue (the oldest go first).
    pub const KEPT: usize = 100;
}

/// A job as a store holds it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct QueuedJob {
    /// Its id, the same on every attempt.
    pub id: Uuid,
    /// Its queue: the job's [`Job::NAME`](super::Job::NAME).
    pub job: String,
    /// The job, serialized.
    pub payload: Json,
    /// The attempt its next run is, 1 for the first.
    pub attempt: u32,
    /// Why its previous attempt failed, if one did.
    pub error: Option<String>,
}

impl QueuedJob {
    /// A new job of the queue `job`: its first attempt next.
    pub fn new(job: impl Into<String>, payload: Json) -> QueuedJob {
        QueuedJob {
            id: Uuid::new_v4(),
            job: job.into(),
            payload,
            attempt: 1,
            error: None,
        }
    }
}

/// A job leased to a worker: only the lease's holder records how its run ended.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Lease {
    /// The job.
    pub job: QueuedJob,
    /// The lease's token.
    pub token: Uuid,
}

impl Lease {
    /// A new lease of `job`.
    pub fn new(job: QueuedJob) -> Lease {
        Lease {
            job,
            token: Uuid::new_v4(),
        }
    }
}

/// What [`JobStore::take`] found.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Taken {
    /// A due job, leased.
    Job(Lease),
    /// No job is due: the next one is in this long (`None`: no job waits).
    Wait(Option<Duration>),
}

/// How a leased job's run ended.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded: counted done, forgotten.
    Done,
    /// It failed: counted failed, due again after `after` as its next attempt.
    Retry {
        /// The wait before the next attempt.
        after: Duration,
        /// Why it failed.
        error: String,
    },
    /// Dead-lettered with `error`: after a failed last attempt (`failed`: counted as a failed
    /// attempt too), or unrun because its attempts were used up (`failed` false: an attempt
    /// that ran out of its lease was counted when it did).
    Dead {
        /// Why.
        error: String,
        /// Whether this run was an attempt that failed.
        failed: bool,
    },
    /// Returned unrun (at shutdown): due now, the same attempt next.
    Returned,
}

/// Where an app's jobs wait and what they did: [`InMemoryJobs`] by default, Redis
/// (arc-stores) for instances that share one queue. Set with
/// [`Jobs::store`](super::Jobs::store).
///
/// A shared store leases a job for a while ([`JobStore::take`]'s `lease`): a job whose
/// instance stops without finishing it is due again when its lease runs out, as a failed
/// attempt. [`conformance::check`] is the behaviour every store shares.
pub trait JobStore: Send + Sync + 'static {
    /// Enqueues `job`, due after `after` (at most [`MAX_DELAY`]). Pushing a job whose id the
    /// store still holds (waiting or running) changes nothing, so a push whose reply was lost
    /// (a timeout) may be repeated; one repeated after the job ran and ended enqueues it
    /// again (jobs run at least once).
    fn push<'a>(&'a self, job: QueuedJob, after: Duration)
    -> BoxFuture<'a, Result<(), StoreError>>;

    /// Leases the first due job of the queues `queues` (those this instance can run) for
    /// `lease`; else says when the next of theirs is due. Jobs whose lease ran out are due
    /// again first, as their next attempt.
    fn take<'a>(
        &'a self,
        queues: &'a [&'a str],
        lease: Duration,
    ) -> BoxFuture<'a, Result<Taken, StoreError>>;

    /// Records how `lease`'s run ended: nothing if the lease is no longer held (it ran out
    /// and the job was taken again).
    fn finish<'a>(
        &'a self,
        lease: &'a Lease,
        outcome: Outcome,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The counts of the queues `queues`, in that order (zero for a queue it never saw).
    fn stats<'a>(
        &'a self,
        queues: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<QueueStats>, StoreError>>;

    /// The latest `limit` dead letters of `queue`, the most recent last.
    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>>;

    /// Enqueues `job`, the run of the cron schedule `schedule` due at `at`, unless that time
    /// was enqueued already (by this instance or another sharing the store): true when
    /// `job` is that time's run (this call, or an earlier call with the same job, enqueued
    /// it). The time's claim and the job's push are one step, so instances enqueue each
    /// scheduled run once and a claimed time always has its job.
    fn push_scheduled<'a>(
        &'a self,
        schedule: &'a str,
        at: DateTime<Utc>,
        job: QueuedJob,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Whether other instances see what this one stores: false for a process's memory.
    /// Distributed apps ([`App::distributed`](crate::App::distributed)) refuse stores that
    /// are not.
    fn shared(&self) -> bool {
        false
    }
}

/// The longest a job may wait to be due: a longer delay is this one.
pub const MAX_DELAY: Duration = Duration::from_secs(365 * 24 * 3600);

/// The queue in this process's memory: lost with it, one instance's own.
#[derive(Debug, Default)]
pub struct InMemoryJobs {
    state: Mutex<State>,
}

impl InMemoryJobs {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }
}

#[derive(Debug, Default)]
struct State {
    /// Waiting jobs by when they are due (then by arrival).
    waiting: BTreeMap<(Instant, u64), QueuedJob>,
    /// Running jobs by id, with their lease's token.
    running: HashMap<Uuid, (Uuid, QueuedJob)>,
    /// The ids of the jobs waiting or running: a job pushed again is not queued twice.
    held: HashSet<Uuid>,
    /// Counts by queue.
    counts: HashMap<String, QueueStats>,
    dead: HashMap<String, VecDeque<DeadLetter>>,
    /// Arrival order of waiting jobs.
    seq: u64,
}

impl State {
    fn count(&mut self, job: &str) -> &mut QueueStats {
        if !self.counts.contains_key(job) {
            self.counts.insert(job.to_owned(), QueueStats::new(job));
        }
        self.counts
            .get_mut(job)
            .unwrap_or_else(|| unreachable!("inserted above"))
    }

    fn wait(&mut self, job: QueuedJob, after: Duration) {
        let now = Instant::now();
        let due = now.checked_add(after.min(MAX_DELAY)).unwrap_or(now);
        self.seq += 1;
        self.held.insert(job.id);
        self.count(&job.job).pending += 1;
        self.waiting.insert((due, self.seq), job);
    }

    fn take(&mut self, queues: &[&str], now: Instant) -> Taken {
        let Some(key) = self
            .waiting
            .iter()
            .find(|(_, job)| queues.contains(&job.job.as_str()))
            .map(|(key, _)| *key)
        else {
            return Taken::Wait(None);
        };
        if key.0 > now {
            return Taken::Wait(Some(key.0 - now));
        }
        let Some(job) = self.waiting.remove(&key) else {
            return Taken::Wait(None);
        };
        let count = self.count(&job.job);
        count.pending -= 1;
        count.running += 1;
        let lease = Lease::new(job);
        self.running
            .insert(lease.job.id, (lease.token, lease.job.clone()));
        Taken::Job(lease)
    }

    fn finish(&mut self, lease: &Lease, outcome: Outcome) {
        if self
            .running
            .get(&lease.job.id)
            .is_none_or(|(token, _)| *token != lease.token)
        {
            return;
        }
        self.running.remove(&lease.job.id);
        let job = lease.job.clone();
        if matches!(outcome, Outcome::Done | Outcome::Dead { .. }) {
            self.held.remove(&job.id);
        }
        let count = self.count(&job.job);
        count.running -= 1;
        match outcome {
            Outcome::Done => count.done += 1,
            Outcome::Retry { after, error } => {
                count.failed += 1;
                let next = QueuedJob {
                    attempt: job.attempt + 1,
                    error: Some(error),
                    ..job
                };
                self.wait(next, after);
            }
            Outcome::Dead { error, failed } => {
                count.failed += u64::from(failed);
                count.dead += 1;
                let dead = self.dead.entry(job.job.clone()).or_default();
                if dead.len() >= DeadLetter::KEPT {
                    dead.pop_front();
                }
                dead.push_back(DeadLetter {
                    id: job.id,
                    attempts: if failed {
                        job.attempt
                    } else {
                        job.attempt.saturating_sub(1)
                    },
                    job: job.job,
                    payload: job.payload,
                    error,
                    at: Utc::now(),
                });
            }
            Outcome::Returned => self.wait(job, Duration::ZERO),
        }
    }
}

impl JobStore for InMemoryJobs {
    fn push<'a>(
        &'a self,
        job: QueuedJob,
        after: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut state = lock(&self.state);
        if !state.held.contains(&job.id) {
            state.wait(job, after);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn take<'a>(
        &'a self,
        queues: &'a [&'a str],
        _lease: Duration,
    ) -> BoxFuture<'a, Result<Taken, StoreError>> {
        // No lease runs out here: the process that holds it is the queue's.
        let taken = lock(&self.state).take(queues, Instant::now());
        Box::pin(std::future::ready(Ok(taken)))
    }

    fn finish<'a>(
        &'a self,
        lease: &'a Lease,
        outcome: Outcome,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        lock(&self.state).finish(lease, outcome);
        Box::pin(std::future::ready(Ok(())))
    }

    fn stats<'a>(
        &'a self,
        queues: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<QueueStats>, StoreError>> {
        let state = lock(&self.state);
        let stats = queues
            .iter()
            .map(|queue| {
                state
                    .counts
                    .get(*queue)
                    .cloned()
                    .unwrap_or_else(|| QueueStats::new(*queue))
            })
            .collect();
        Box::pin(std::future::ready(Ok(stats)))
    }

    fn dead_letters<'a>(
        &'a self,
        queue: &'a str,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, StoreError>> {
        let dead = lock(&self.state)
            .dead
            .get(queue)
            .map(|dead| {
                let skip = dead.len().saturating_sub(limit);
                dead.iter().skip(skip).cloned().collect()
            })
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok(dead)))
    }

    fn push_scheduled<'a>(
        &'a self,
        _schedule: &'a str,
        _at: DateTime<Utc>,
        job: QueuedJob,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        // One instance: each of its ticks is its own.
        Box::pin(async move { self.push(job, Duration::ZERO).await.map(|()| true) })
    }
}

/// The behaviour every [`JobStore`] shares, run against each implementation (the Redis one
/// in arc-stores' tests too).
#[doc(hidden)]
#[allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a conformance check for tests: it panics on what it finds wrong"
)]
pub mod conformance {
    use super::*;

    async fn take(store: &dyn JobStore, queues: &[&str], lease: Duration) -> Lease {
        match store.take(queues, lease).await.expect("take") {
            Taken::Job(lease) => lease,
            Taken::Wait(next) => panic!("no job was due (next in {next:?})"),
        }
    }

    async fn counts(store: &dyn JobStore, queue: &str) -> (u64, u64, u64, u64, u64) {
        let stats = store.stats(&[queue]).await.expect("stats");
        let s = &stats[0];
        assert_eq!(s.name, queue);
        (s.pending, s.running, s.done, s.failed, s.dead)
    }

    /// Order, queues, leases, retries, dead letters, returns and ticks, on an empty `store`,
    /// with queues named after `prefix`. Lease expiry is [`lapsed_leases`]'s (shared stores).
    ///
    /// # Panics
    ///
    /// When the store answers otherwise.
    pub async fn check(store: &dyn JobStore, prefix: &str) {
        let queue = format!("{prefix}-a");
        let other = format!("{prefix}-b");
        let unknown = format!("{prefix}-unknown");
        let both = [queue.as_str(), other.as_str()];
        let lease = Duration::from_secs(60);
        assert_eq!(
            store.take(&both, lease).await.expect("take"),
            Taken::Wait(None)
        );
        assert_eq!(store.stats(&[]).await.expect("stats"), []);
        assert_eq!(
            counts(store, &queue).await,
            (0, 0, 0, 0, 0),
            "an unseen queue counts nothing"
        );

        // Due by time, then in order of arrival: a job pushed first but due later waits.
        let later = QueuedJob::new(&queue, serde_json::json!({"n": 3}));
        let first = QueuedJob::new(&queue, serde_json::json!({"n": 1, "big": u64::MAX}));
        let second = QueuedJob::new(&other, serde_json::json!({"n": 2}));
        store
            .push(later.clone(), Duration::from_secs(3600))
            .await
            .expect("push");
        store
            .push(first.clone(), Duration::ZERO)
            .await
            .expect("push");
        // Pushed again (a retry after a lost reply): still one job.
        store
            .push(first.clone(), Duration::ZERO)
            .await
            .expect("push");
        store
            .push(second.clone(), Duration::ZERO)
            .await
            .expect("push");
        assert_eq!(counts(store, &queue).await, (2, 0, 0, 0, 0));
        // Only the queues asked for: another instance's jobs are not taken.
        assert_eq!(
            store.take(&[unknown.as_str()], lease).await.expect("take"),
            Taken::Wait(None)
        );
        let b = take(store, &[other.as_str()], lease).await;
        assert_eq!(b.job, second, "the job comes back as it went in");
        let a = take(store, &both, lease).await;
        assert_eq!(a.job, first);
        match store.take(&both, lease).await.expect("take") {
            Taken::Wait(Some(next)) => assert!(
                next > Duration::from_secs(3500) && next <= Duration::from_secs(3600),
                "the later job is due in about an hour: {next:?}"
            ),
            other => panic!("the later job is not due yet: {other:?}"),
        }
        assert_eq!(counts(store, &queue).await, (1, 1, 0, 0, 0));

        // A stale lease changes nothing, whatever it says.
        let stale = Lease {
            token: Uuid::new_v4(),
            ..a.clone()
        };
        for outcome in [
            Outcome::Done,
            Outcome::Returned,
            Outcome::Retry {
                after: Duration::ZERO,
                error: "stale".into(),
            },
            Outcome::Dead {
                error: "stale".into(),
                failed: true,
            },
        ] {
            store.finish(&stale, outcome).await.expect("finish");
        }
        assert_eq!(counts(store, &queue).await, (1, 1, 0, 0, 0));

        // Retried: counted failed, due again after the wait, as the next attempt.
        let retry = Outcome::Retry {
            after: Duration::from_millis(200),
            error: "first try".into(),
        };
        store.finish(&a, retry).await.expect("finish");
        assert_eq!(counts(store, &queue).await, (2, 0, 0, 1, 0));
        assert!(
            matches!(store.take(&both, lease).await.expect("take"), Taken::Wait(Some(next)) if next <= Duration::from_millis(200)),
            "the retry is due after its wait"
        );
        // Finished twice: the second is the stale lease's.
        store.finish(&a, Outcome::Done).await.expect("finish");
        assert_eq!(counts(store, &queue).await, (2, 0, 0, 1, 0));
        tokio::time::sleep(Duration::from_millis(250)).await;
        let again = take(store, &both, lease).await;
        assert_eq!(
            (again.job.id, again.job.attempt, again.job.error.as_deref()),
            (first.id, 2, Some("first try"))
        );
        assert_ne!(again.token, a.token, "each lease has its own token");

        // Returned at shutdown: due now, the same attempt, nothing counted.
        store
            .finish(&again, Outcome::Returned)
            .await
            .expect("finish");
        assert_eq!(counts(store, &queue).await, (2, 0, 0, 1, 0));
        let returned = take(store, &both, lease).await;
        assert_eq!((returned.job.id, returned.job.attempt), (first.id, 2));

        // Dead-lettered after a failed last attempt.
        let dead = Outcome::Dead {
            error: "second try".into(),
            failed: true,
        };
        store.finish(&returned, dead).await.expect("finish");
        assert_eq!(counts(store, &queue).await, (1, 0, 0, 2, 1));
        store.finish(&b, Outcome::Done).await.expect("finish");
        assert_eq!(counts(store, &other).await, (0, 0, 1, 0, 0));
        let letters = store.dead_letters(&queue, 10).await.expect("dead letters");
        assert_eq!(letters.len(), 1);
        assert_eq!(
            (
                letters[0].id,
                letters[0].job.as_str(),
                letters[0].attempts,
                letters[0].error.as_str()
            ),
            (first.id, queue.as_str(), 2, "second try")
        );
        assert_eq!(letters[0].payload, first.payload);
        assert!(
            store
                .dead_letters(&other, 10)
                .await
                .expect("dead letters")
                .is_empty()
        );

        // Dead unrun: no failed attempt of its own; only the latest dead letters are
        // kept, the most recent last.
        for n in 0..3 {
            let job = QueuedJob::new(&other, serde_json::json!({ "dead": n }));
            store.push(job, Duration::ZERO).await.expect("push");
            let lease = take(store, &[other.as_str()], lease).await;
            let dead = Outcome::Dead {
                error: format!("dead {n}"),
                failed: false,
            };
            store.finish(&lease, dead).await.expect("finish");
        }
        let latest = store.dead_letters(&other, 2).await.expect("dead letters");
        let errors: Vec<_> = latest.iter().map(|d| d.error.as_str()).collect();
        assert_eq!(errors, ["dead 1", "dead 2"]);
        assert_eq!(latest[1].attempts, 0, "dead unrun: no attempt of its own");
        assert_eq!(counts(store, &other).await, (0, 0, 1, 0, 3));
        assert!(
            store
                .dead_letters(&other, 0)
                .await
                .expect("dead letters")
                .is_empty()
        );

        // Takes at once never lease one job twice.
        let many = format!("{prefix}-many");
        for n in 0..10 {
            let job = QueuedJob::new(&many, serde_json::json!({ "n": n }));
            store.push(job, Duration::ZERO).await.expect("push");
        }
        let queues = [many.as_str()];
        let takes = (0..12).map(|_| store.take(&queues, lease));
        let mut ids: Vec<Uuid> = futures_util::future::join_all(takes)
            .await
            .into_iter()
            .filter_map(|taken| match taken.expect("take") {
                Taken::Job(lease) => Some(lease.job.id),
                Taken::Wait(_) => None,
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 10, "each job leased once");
        assert_eq!(counts(store, &many).await, (0, 10, 0, 0, 0));

        // A delay past the longest is the longest, not an error or a panic.
        let far = QueuedJob::new(&unknown, serde_json::json!({}));
        store.push(far, Duration::MAX).await.expect("push");
        match store.take(&[unknown.as_str()], lease).await.expect("take") {
            Taken::Wait(Some(next)) => assert!(next <= MAX_DELAY, "{next:?}"),
            other => panic!("a far job waits: {other:?}"),
        }

        // A schedule's time is enqueued once, with its job; another time, or another
        // schedule's, is free.
        let ticks = format!("{prefix}-ticks");
        let at = Utc::now();
        let schedule = format!("{prefix}-every-second");
        let run = || QueuedJob::new(&ticks, serde_json::json!({}));
        let pushed = |first: QueuedJob| store.push_scheduled(&schedule, at, first);
        let first = run();
        assert!(pushed(first.clone()).await.expect("push"));
        // The same job again (a retry whose first answer was lost): enqueued, by that first.
        assert!(pushed(first).await.expect("push"));
        if store.shared() {
            // An instance that comes second enqueues nothing, even with a job of its own.
            assert!(!pushed(run()).await.expect("push"));
        }
        let next = at + chrono::Duration::seconds(1);
        assert!(
            store
                .push_scheduled(&schedule, next, run())
                .await
                .expect("push")
        );
        assert!(store.push_scheduled(&queue, at, run()).await.expect("push"));
        assert_eq!(
            counts(store, &ticks).await,
            (3, 0, 0, 0, 0),
            "each enqueued time has its job, once"
        );
    }

    /// A job whose lease runs out (its instance stopped) is due again as its next attempt,
    /// counted failed; the old lease finishes nothing. For shared stores.
    ///
    /// # Panics
    ///
    /// When the store answers otherwise.
    pub async fn lapsed_leases(store: &dyn JobStore, prefix: &str) {
        let queue = format!("{prefix}-lapsed");
        let queues = [queue.as_str()];
        let job = QueuedJob::new(&queue, serde_json::json!({}));
        store.push(job.clone(), Duration::ZERO).await.expect("push");
        let first = take(store, &queues, Duration::from_millis(100)).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
        let second = take(store, &queues, Duration::from_secs(60)).await;
        assert_eq!((second.job.id, second.job.attempt), (job.id, 2));
        assert!(
            second
                .job
                .error
                .as_deref()
                .is_some_and(|e| e.contains("lease")),
            "the attempt's error says why: {:?}",
            second.job.error
        );
        assert_eq!(counts(store, &queue).await, (0, 1, 0, 1, 0));
        store.finish(&first, Outcome::Done).await.expect("finish");
        assert_eq!(
            counts(store, &queue).await,
            (0, 1, 0, 1, 0),
            "the lapsed lease finishes nothing"
        );
        store.finish(&second, Outcome::Done).await.expect("finish");
        assert_eq!(counts(store, &queue).await, (0, 0, 1, 1, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_conforms() {
        conformance::check(&InMemoryJobs::new(), "memory").await;
    }
}
