//! The in-process queue and its workers: due jobs in order, leased while they run, retried
//! with backoff, dead-lettered after the last attempt, returned at shutdown.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use serde::Serialize;
use serde_json::Value as Json;
use tokio::time::Instant;
use uuid::Uuid;

use super::{JobContext, Registry, Runner, Schedule, lock};
use crate::app::ArcState;
use crate::retry::Retry;

/// One queue's counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
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

/// A job that failed its last attempt.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// A job in the queue.
#[derive(Clone, Debug)]
struct Entry {
    id: Uuid,
    job: &'static str,
    payload: Json,
    /// The attempt its next run is (1-based).
    attempt: u32,
}

#[derive(Debug, Default)]
struct State {
    /// Waiting jobs by when they are due (then by arrival).
    waiting: BTreeMap<(Instant, u64), Entry>,
    /// Running jobs by id.
    running: HashMap<Uuid, Entry>,
    /// Counts by queue.
    counts: HashMap<&'static str, QueueStats>,
    dead: HashMap<&'static str, VecDeque<DeadLetter>>,
    /// Arrival order of waiting jobs.
    seq: u64,
}

impl State {
    fn count(&mut self, job: &'static str) -> &mut QueueStats {
        self.counts.entry(job).or_insert_with(|| QueueStats {
            name: job.to_owned(),
            ..QueueStats::default()
        })
    }

    fn wait(&mut self, entry: Entry, due: Instant) {
        self.seq += 1;
        self.count(entry.job).pending += 1;
        self.waiting.insert((due, self.seq), entry);
    }

    /// The first due job, moved to running; else when the next one is due.
    fn take(&mut self, now: Instant) -> Result<Entry, Option<Instant>> {
        let Some(entry) = self.waiting.first_entry() else {
            return Err(None);
        };
        if entry.key().0 > now {
            return Err(Some(entry.key().0));
        }
        let entry = entry.remove();
        let count = self.count(entry.job);
        count.pending -= 1;
        count.running += 1;
        self.running.insert(entry.id, entry.clone());
        Ok(entry)
    }
}

/// How long an attempt may run by default: five minutes.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The settings a runtime runs with (set by the builder, read when it starts).
#[derive(Debug)]
struct Settings {
    retry: Retry,
    concurrency: usize,
    /// The longest an attempt may run: past it, it is a failed attempt.
    timeout: Duration,
}

/// An app's jobs: the registry, the queue, the workers.
pub(crate) struct JobsRuntime {
    registry: Mutex<Registry>,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Poked when a job is enqueued.
    wake: tokio::sync::Notify,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for JobsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobsRuntime")
            .field("registry", &*lock(&self.registry))
            .field("settings", &*lock(&self.settings))
            .finish_non_exhaustive()
    }
}

impl JobsRuntime {
    pub(super) fn new(retry: Retry, concurrency: usize) -> JobsRuntime {
        let (stop, _) = tokio::sync::watch::channel(false);
        JobsRuntime {
            registry: Mutex::new(Registry::default()),
            settings: Mutex::new(Settings {
                retry,
                concurrency,
                timeout: DEFAULT_TIMEOUT,
            }),
            state: Mutex::new(State::default()),
            wake: tokio::sync::Notify::new(),
            stop,
            tasks: Mutex::new(Vec::new()),
        }
    }

    /// Registers `job`; false if it already was.
    pub(super) fn register(&self, job: &'static str, ty: std::any::TypeId, runner: Runner) -> bool {
        let mut registry = lock(&self.registry);
        if registry.runners.contains_key(job) {
            return false;
        }
        registry.runners.insert(job, runner);
        registry.types.insert(job, ty);
        drop(registry);
        lock(&self.state).count(job);
        true
    }

    /// Whether `job` is registered as the type `ty` (`None`: not registered at all).
    pub(super) fn registered_as(&self, job: &str, ty: std::any::TypeId) -> Option<bool> {
        lock(&self.registry).types.get(job).map(|t| *t == ty)
    }

    pub(super) fn add_schedule(&self, schedule: Schedule) {
        lock(&self.registry).schedules.push(schedule);
    }

    pub(super) fn set_retry(&self, retry: Retry) {
        lock(&self.settings).retry = retry;
    }

    pub(super) fn set_concurrency(&self, concurrency: usize) {
        lock(&self.settings).concurrency = concurrency;
    }

    pub(super) fn set_timeout(&self, timeout: Duration) {
        lock(&self.settings).timeout = timeout;
    }

    /// The schedules: the job, the expression, the next time.
    pub(crate) fn schedules(&self) -> Vec<(&'static str, String, Option<DateTime<Utc>>)> {
        lock(&self.registry)
            .schedules
            .iter()
            .map(|s| (s.job, s.expression.clone(), s.schedule.upcoming(Utc).next()))
            .collect()
    }

    /// Enqueues `payload` of the registered `job`, due now; its id.
    pub(super) fn push(&self, job: &'static str, payload: Json) -> Uuid {
        let id = Uuid::new_v4();
        let entry = Entry {
            id,
            job,
            payload,
            attempt: 1,
        };
        lock(&self.state).wait(entry, Instant::now());
        self.wake.notify_one();
        id
    }

    pub(crate) fn stats(&self) -> Vec<QueueStats> {
        let mut stats: Vec<QueueStats> = lock(&self.state).counts.values().cloned().collect();
        stats.sort_by(|a, b| a.name.cmp(&b.name));
        stats
    }

    pub(crate) fn dead_letters(&self, job: &str) -> Vec<DeadLetter> {
        lock(&self.state)
            .dead
            .get(job)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Starts the workers and the schedules on the current Tokio runtime (none outside one:
    /// jobs wait in the queue).
    pub(crate) fn spawn(self: &Arc<Self>, state: ArcState) {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!("jobs: no Tokio runtime, so no workers; jobs wait in the queue");
            return;
        }
        let mut tasks = lock(&self.tasks);
        tasks.push(tokio::spawn(work(self.clone(), state)));
        let schedules = lock(&self.registry).schedules.clone();
        for schedule in schedules {
            tasks.push(tokio::spawn(tick(self.clone(), schedule)));
        }
    }

    /// Stops starting jobs and gives the running ones `within` to finish; those still running
    /// then are stopped and returned to their queue (their attempt not counted).
    pub(crate) async fn shutdown(&self, within: Duration) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        let all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(within, all).await.is_err() {
            for abort in aborts {
                abort.abort();
            }
        }
        let mut state = lock(&self.state);
        let running: Vec<Entry> = state.running.drain().map(|(_, e)| e).collect();
        let unfinished = running.len();
        let now = Instant::now();
        for entry in running {
            state.count(entry.job).running -= 1;
            state.wait(entry, now);
        }
        let waiting = state.waiting.len();
        if waiting > 0 {
            // The queue is in memory: what it holds ends with the process.
            tracing::warn!(
                waiting,
                unfinished,
                "jobs: at shutdown, jobs not run (those unfinished included) are lost with the process"
            );
        }
    }

    /// Records the end of `entry`'s run.
    fn finish(&self, entry: Entry, result: Result<(), String>) {
        let retry = lock(&self.settings).retry;
        let mut state = lock(&self.state);
        if state.running.remove(&entry.id).is_none() {
            return;
        }
        let count = state.count(entry.job);
        count.running -= 1;
        match result {
            Ok(()) => count.done += 1,
            Err(error) if entry.attempt < retry.attempts => {
                count.failed += 1;
                let wait = retry.backoff(entry.attempt);
                tracing::warn!(job = entry.job, id = %entry.id, attempt = entry.attempt, %error, ?wait, "jobs: attempt failed; retried");
                let due = Instant::now() + wait;
                state.wait(
                    Entry {
                        attempt: entry.attempt + 1,
                        ..entry
                    },
                    due,
                );
                drop(state);
                // The workers may be asleep until a job is due: this one is, later.
                self.wake.notify_one();
            }
            Err(error) => {
                count.failed += 1;
                count.dead += 1;
                // Not the payload: it may hold what logs should not.
                tracing::error!(job = entry.job, id = %entry.id, attempts = entry.attempt, %error, "jobs: last attempt failed; dead-lettered");
                let dead = state.dead.entry(entry.job).or_default();
                if dead.len() >= DeadLetter::KEPT {
                    dead.pop_front();
                }
                dead.push_back(DeadLetter {
                    id: entry.id,
                    job: entry.job.to_owned(),
                    payload: entry.payload,
                    attempts: entry.attempt,
                    error,
                    at: Utc::now(),
                });
            }
        }
    }
}

/// The workers: takes due jobs while a slot is free, until the runtime stops.
async fn work(runtime: Arc<JobsRuntime>, state: ArcState) {
    let (concurrency, timeout) = {
        let settings = lock(&runtime.settings);
        (settings.concurrency, settings.timeout)
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut stop = runtime.stop.subscribe();
    let mut running = tokio::task::JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let next = lock(&runtime.state).take(Instant::now());
        match next {
            Ok(entry) => {
                let runner = lock(&runtime.registry).runners.get(entry.job).cloned();
                let ctx = JobContext {
                    id: entry.id,
                    attempt: entry.attempt,
                    state: state.clone(),
                };
                let runtime = runtime.clone();
                running.spawn(async move {
                    let result = match runner {
                        Some(runner) => {
                            let run =
                                AssertUnwindSafe(runner(entry.payload.clone(), ctx)).catch_unwind();
                            // A job that hangs would hold its slot for ever.
                            match tokio::time::timeout(timeout, run).await {
                                Ok(ran) => ran
                                    .unwrap_or_else(|_| Err("the job panicked".into()))
                                    .map_err(|e| e.to_string()),
                                Err(_) => Err(format!("the job ran past {timeout:?}")),
                            }
                        }
                        None => Err(format!("job `{}` is not registered", entry.job)),
                    };
                    runtime.finish(entry, result);
                    drop(permit);
                });
            }
            Err(next) => {
                drop(permit);
                let sleep = next.map_or(Duration::from_secs(3600), |due| {
                    due.saturating_duration_since(Instant::now())
                });
                tokio::select! {
                    () = runtime.wake.notified() => {}
                    () = tokio::time::sleep(sleep) => {}
                    _ = stop.changed() => break,
                }
            }
        }
        // Reap the ended runs, so the set does not grow.
        while running.try_join_next().is_some() {}
    }
    // Stopping: the running jobs finish (or the caller's window ends and aborts this task,
    // dropping them: they are returned to their queue).
    while running.join_next().await.is_some() {}
}

/// Enqueues `schedule`'s job at each of its times, until the runtime stops.
async fn tick(runtime: Arc<JobsRuntime>, schedule: Schedule) {
    let mut stop = runtime.stop.subscribe();
    loop {
        let Some(next) = schedule.schedule.upcoming(Utc).next() else {
            return;
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        match (schedule.make)() {
            Ok(payload) => {
                let id = runtime.push(schedule.job, payload);
                tracing::debug!(job = schedule.job, %id, "jobs: enqueued by its schedule");
            }
            Err(e) => {
                tracing::error!(job = schedule.job, error = %e, "jobs: a scheduled job could not be serialized");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(job: &'static str) -> Entry {
        Entry {
            id: Uuid::new_v4(),
            job,
            payload: Json::Null,
            attempt: 1,
        }
    }

    #[tokio::test]
    async fn jobs_are_taken_when_due_in_order_and_counted() {
        let mut state = State::default();
        let now = Instant::now();
        let (a, b, later) = (entry("a"), entry("a"), entry("b"));
        state.wait(later.clone(), now + Duration::from_secs(10));
        state.wait(a.clone(), now);
        state.wait(b.clone(), now);
        assert_eq!(state.count("a").pending, 2);
        assert_eq!(state.take(now).map(|e| e.id).ok(), Some(a.id));
        assert_eq!(state.take(now).map(|e| e.id).ok(), Some(b.id));
        // The next is not due: when it is.
        assert_eq!(
            state.take(now).map(|e| e.id),
            Err(Some(now + Duration::from_secs(10)))
        );
        assert_eq!((state.count("a").pending, state.count("a").running), (0, 2));
        assert_eq!(state.count("b").pending, 1);
        assert_eq!(
            state.take(now + Duration::from_secs(10)).map(|e| e.id).ok(),
            Some(later.id)
        );
        assert_eq!(
            state.take(now + Duration::from_secs(10)).map(|e| e.id),
            Err(None)
        );
    }

    #[tokio::test]
    async fn the_last_failure_dead_letters_and_earlier_ones_retry() {
        let runtime = JobsRuntime::new(
            Retry {
                attempts: 2,
                base: Duration::from_millis(10),
                max: Duration::from_millis(10),
            },
            1,
        );
        let id = runtime.push("a", Json::from(1));
        let first = lock(&runtime.state).take(Instant::now());
        let first = first.ok().filter(|e| e.id == id).map(|e| e.attempt);
        assert_eq!(first, Some(1));
        let running = lock(&runtime.state).running.get(&id).cloned();
        runtime.finish(running.expect("running"), Err("no".into()));
        let stats = runtime.stats();
        assert_eq!(
            (stats[0].pending, stats[0].failed, stats[0].dead),
            (1, 1, 0)
        );
        let later = Instant::now() + Duration::from_millis(20);
        let second = lock(&runtime.state)
            .take(later)
            .ok()
            .map(|e| (e.id, e.attempt));
        assert_eq!(second, Some((id, 2)));
        let running = lock(&runtime.state).running.get(&id).cloned();
        runtime.finish(running.expect("running"), Err("still no".into()));
        let stats = runtime.stats();
        assert_eq!(
            (stats[0].pending, stats[0].failed, stats[0].dead),
            (0, 2, 1)
        );
        let dead = runtime.dead_letters("a");
        assert_eq!(
            (dead[0].id, dead[0].attempts, dead[0].error.as_str()),
            (id, 2, "still no")
        );
    }
}
