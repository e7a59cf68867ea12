//! The workers: they take due jobs from the app's [`JobStore`] while a slot is free, run each
//! under its timeout, and record how it ended (retried with backoff, dead-lettered after the
//! last attempt); the cron schedules, each time claimed once across instances; the return of
//! unfinished jobs at shutdown.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use serde_json::Value as Json;
use uuid::Uuid;

use super::store::{
    DeadLetter, InMemoryJobs, JobStore, Lease, Outcome, QueueStats, QueuedJob, Taken,
};
use super::{JobContext, Registry, Runner, Schedule, lock};
use crate::app::ArcState;
use crate::retry::Retry;
use crate::stores::{BoxFuture, StoreError};

/// How long an attempt may run by default: five minutes.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often workers ask a shared store for due jobs by default (jobs enqueued by this
/// instance wake them at once).
pub(super) const DEFAULT_POLL: Duration = Duration::from_secs(1);

/// How long shutdown waits for the workers to stop the jobs that outlasted its window.
const HALT_WAIT: Duration = Duration::from_secs(2);

/// A lease outlasts the attempt's timeout by this much: the time to record how it ended.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The wait after a store that did not answer, before asking it for jobs again.
const STORE_BACKOFF: Duration = Duration::from_secs(1);

/// The waits between the tries of a push or a finish the store did not confirm (both are
/// safe to repeat: a job's id is pushed once, a lease is finished once).
const RETRIES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(500)];

/// `step`, tried again after each of [`RETRIES`] while the store does not answer.
async fn patiently<'a, T>(
    mut step: impl FnMut() -> BoxFuture<'a, Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let mut waits = RETRIES.iter();
    loop {
        match step().await {
            Ok(done) => return Ok(done),
            Err(error) => match waits.next() {
                Some(wait) => tokio::time::sleep(*wait).await,
                None => return Err(error),
            },
        }
    }
}

/// The settings a runtime runs with (set by the builder, read when it starts).
struct Settings {
    retry: Retry,
    concurrency: usize,
    /// The longest an attempt may run: past it, it is a failed attempt.
    timeout: Duration,
    /// How often idle workers look at a shared store.
    poll: Duration,
    store: Arc<dyn JobStore>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("retry", &self.retry)
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .field("poll", &self.poll)
            .field("shared", &self.store.shared())
            .finish()
    }
}

/// An app's jobs: the registry, the store, the workers.
pub(crate) struct JobsRuntime {
    registry: Mutex<Registry>,
    settings: Mutex<Settings>,
    /// Poked when this instance enqueues a job.
    wake: tokio::sync::Notify,
    /// No job starts once it is set (shutdown).
    stop: tokio::sync::watch::Sender<bool>,
    /// The running jobs are stopped once it is set (the shutdown window ended).
    halt: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The leases this instance's workers hold, by token: returned to the store at shutdown.
    held: Mutex<HashMap<Uuid, Lease>>,
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
        let (halt, _) = tokio::sync::watch::channel(false);
        JobsRuntime {
            registry: Mutex::new(Registry::default()),
            settings: Mutex::new(Settings {
                retry,
                concurrency,
                timeout: DEFAULT_TIMEOUT,
                poll: DEFAULT_POLL,
                store: Arc::new(InMemoryJobs::new()),
            }),
            wake: tokio::sync::Notify::new(),
            stop,
            halt,
            tasks: Mutex::new(Vec::new()),
            held: Mutex::new(HashMap::new()),
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

    pub(super) fn set_poll(&self, poll: Duration) {
        lock(&self.settings).poll = poll;
    }

    pub(super) fn set_store(&self, store: Arc<dyn JobStore>) {
        lock(&self.settings).store = store;
    }

    pub(crate) fn store(&self) -> Arc<dyn JobStore> {
        lock(&self.settings).store.clone()
    }

    /// The schedules: the job, the expression, the next time.
    pub(crate) fn schedules(&self) -> Vec<(&'static str, String, Option<DateTime<Utc>>)> {
        lock(&self.registry)
            .schedules
            .iter()
            .map(|s| (s.job, s.expression.clone(), s.schedule.upcoming(Utc).next()))
            .collect()
    }

    /// Enqueues `payload` of the registered `job`, due after `after`; its id.
    pub(super) async fn push(
        &self,
        job: &'static str,
        payload: Json,
        after: Duration,
    ) -> Result<Uuid, StoreError> {
        let queued = QueuedJob::new(job, payload);
        let id = queued.id;
        let store = self.store();
        patiently(|| store.push(queued.clone(), after)).await?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Enqueues `payload` for `job`, the run of the schedule `key` due at `at`, unless that
    /// time was enqueued already: its id when this call enqueued it.
    async fn push_scheduled(
        &self,
        key: &str,
        at: DateTime<Utc>,
        job: &'static str,
        payload: Json,
    ) -> Result<Option<Uuid>, StoreError> {
        let queued = QueuedJob::new(job, payload);
        let id = queued.id;
        let store = self.store();
        let pushed = patiently(|| store.push_scheduled(key, at, queued.clone())).await?;
        if pushed {
            self.wake.notify_one();
        }
        Ok(pushed.then_some(id))
    }

    /// The registered queues, by name.
    fn queues(&self) -> Vec<&'static str> {
        let mut queues: Vec<&'static str> = lock(&self.registry).runners.keys().copied().collect();
        queues.sort_unstable();
        queues
    }

    /// Each registered queue's counts, by name.
    pub(crate) async fn stats(&self) -> Result<Vec<QueueStats>, StoreError> {
        self.store().stats(&self.queues()).await
    }

    /// The latest `limit` dead letters of `job`.
    pub(crate) async fn dead_letters(
        &self,
        job: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        self.store().dead_letters(job, limit).await
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
        for (key, schedule) in tick_keys(&schedules).into_iter().zip(schedules) {
            tasks.push(tokio::spawn(tick(self.clone(), key, schedule)));
        }
    }

    /// Stops starting jobs and gives the running ones `within` to finish; those still running
    /// then are stopped (and waited for: none runs on once its job is back in the queue) and
    /// returned to their queue, their attempt not counted.
    pub(crate) async fn shutdown(&self, within: Duration) {
        self.stop.send_replace(true);
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
        let mut all = futures_util::future::join_all(tasks);
        if tokio::time::timeout(within, &mut all).await.is_err() {
            self.halt.send_replace(true);
            // The workers stop their jobs at their next `.await`; a store that does not
            // answer, or a job that blocks its thread, is not waited for beyond this.
            if tokio::time::timeout(HALT_WAIT, all).await.is_err() {
                tracing::warn!(
                    "jobs: workers did not stop within {HALT_WAIT:?} of the shutdown window; aborted"
                );
                for abort in aborts {
                    abort.abort();
                }
            }
        }
        let held: Vec<Lease> = lock(&self.held).drain().map(|(_, lease)| lease).collect();
        let unfinished = held.len();
        let store = self.store();
        // At once, not one after another: a store that does not answer costs its tries once.
        let returns = held.iter().map(|lease| async {
            let returned = patiently(|| store.finish(lease, Outcome::Returned)).await;
            if let Err(error) = returned {
                tracing::warn!(job = %lease.job.job, id = %lease.job.id, %error, "jobs: an unfinished job could not be returned; it is due again when its lease runs out");
            }
        });
        futures_util::future::join_all(returns).await;
        if !store.shared() {
            let waiting: u64 = self
                .stats()
                .await
                .map(|stats| stats.iter().map(|s| s.pending).sum())
                .unwrap_or_default();
            if waiting > 0 {
                // The queue is in memory: what it holds ends with the process.
                tracing::warn!(
                    waiting,
                    unfinished,
                    "jobs: at shutdown, jobs not run (those unfinished included) are lost with the process"
                );
            }
        }
    }

    /// Runs `lease`'s job (unless its attempts are used up) and records how it ended.
    async fn run(&self, lease: Lease, state: ArcState) {
        let (retry, timeout, store) = {
            let settings = lock(&self.settings);
            (settings.retry, settings.timeout, settings.store.clone())
        };
        let job = &lease.job;
        let outcome = if job.attempt > retry.attempts {
            // Its last attempt ran out of its lease (its instance stopped): not run again.
            let error = job
                .error
                .clone()
                .unwrap_or_else(|| "no attempt left".into());
            tracing::error!(job = %job.job, id = %job.id, attempts = retry.attempts, %error, "jobs: no attempt left; dead-lettered");
            Outcome::Dead {
                error,
                failed: false,
            }
        } else {
            let runner = lock(&self.registry).runners.get(job.job.as_str()).cloned();
            let ctx = JobContext {
                id: job.id,
                attempt: job.attempt,
                state,
            };
            let result = match runner {
                Some(runner) => {
                    let run = AssertUnwindSafe(runner(job.payload.clone(), ctx)).catch_unwind();
                    // A job that hangs would hold its slot for ever.
                    match tokio::time::timeout(timeout, run).await {
                        Ok(ran) => ran
                            .unwrap_or_else(|_| Err("the job panicked".into()))
                            .map_err(|e| e.to_string()),
                        Err(_) => Err(format!("the job ran past {timeout:?}")),
                    }
                }
                None => Err(format!("job `{}` is not registered", job.job)),
            };
            match result {
                Ok(()) => Outcome::Done,
                Err(error) if job.attempt < retry.attempts => {
                    let after = retry.backoff(job.attempt);
                    tracing::warn!(job = %job.job, id = %job.id, attempt = job.attempt, %error, ?after, "jobs: attempt failed; retried");
                    Outcome::Retry { after, error }
                }
                Err(error) => {
                    // Not the payload: it may hold what logs should not.
                    tracing::error!(job = %job.job, id = %job.id, attempts = job.attempt, %error, "jobs: last attempt failed; dead-lettered");
                    Outcome::Dead {
                        error,
                        failed: true,
                    }
                }
            }
        };
        let retried = matches!(outcome, Outcome::Retry { .. });
        let recorded = patiently(|| store.finish(&lease, outcome.clone()));
        if let Err(error) = recorded.await {
            tracing::error!(job = %job.job, id = %job.id, %error, "jobs: how the job ended was not recorded; it is due again when its lease runs out");
        }
        lock(&self.held).remove(&lease.token);
        if retried {
            // The workers may be asleep until a job is due: this one is, later.
            self.wake.notify_one();
        }
    }
}

/// The workers: takes due jobs while a slot is free, until the runtime stops.
async fn work(runtime: Arc<JobsRuntime>, state: ArcState) {
    let (concurrency, lease_for, poll, store) = {
        let settings = lock(&runtime.settings);
        // A shared store is polled (other instances enqueue too); this process's own is
        // woken by each enqueue.
        let poll = if settings.store.shared() {
            settings.poll
        } else {
            Duration::from_secs(3600)
        };
        (
            settings.concurrency,
            settings.timeout + LEASE_MARGIN,
            poll,
            settings.store.clone(),
        )
    };
    // The queues this instance can run: another app's (or a newer version's) jobs on a
    // shared store are not taken here.
    let queues = runtime.queues();
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
        let sleep = match store.take(&queues, lease_for).await {
            Ok(Taken::Job(lease)) if *stop.borrow() => {
                // Taken as the shutdown began: back to its queue, unrun.
                let returned = patiently(|| store.finish(&lease, Outcome::Returned));
                if let Err(error) = returned.await {
                    tracing::warn!(job = %lease.job.job, id = %lease.job.id, %error, "jobs: a job taken at shutdown could not be returned; it is due again when its lease runs out");
                }
                break;
            }
            Ok(Taken::Job(lease)) => {
                lock(&runtime.held).insert(lease.token, lease.clone());
                let (runtime, state) = (runtime.clone(), state.clone());
                running.spawn(async move {
                    runtime.run(lease, state).await;
                    drop(permit);
                });
                None
            }
            Ok(Taken::Wait(next)) => Some(next.map_or(poll, |next| next.min(poll))),
            Err(error) => {
                tracing::warn!(%error, "jobs: the store did not answer; asking again shortly");
                Some(STORE_BACKOFF)
            }
        };
        if let Some(sleep) = sleep {
            tokio::select! {
                () = runtime.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
                _ = stop.changed() => break,
            }
        }
        // Reap the ended runs, so the set does not grow.
        while running.try_join_next().is_some() {}
    }
    // Stopping: the running jobs finish, or the window ends and they are stopped (and
    // waited for) before shutdown returns them to their queue.
    let mut halt = runtime.halt.subscribe();
    loop {
        let halted = async { halt.wait_for(|halted| *halted).await.is_ok() };
        tokio::select! {
            next = running.join_next() => if next.is_none() { break },
            true = halted => {
                running.abort_all();
                while running.join_next().await.is_some() {}
                break;
            }
        }
    }
}

/// The key each schedule claims its times under: its job, its expression, and how many
/// schedules alike come before it. Not its position: a schedule added elsewhere in a new
/// version of the app moves no other's key, so during a rolling deploy both versions claim
/// each time under one key and enqueue it once.
fn tick_keys(schedules: &[Schedule]) -> Vec<String> {
    schedules
        .iter()
        .enumerate()
        .map(|(index, schedule)| {
            let alike = schedules[..index]
                .iter()
                .filter(|s| s.job == schedule.job && s.expression == schedule.expression)
                .count();
            format!("{}:{}:{alike}", schedule.job, schedule.expression)
        })
        .collect()
}

/// Enqueues `schedule`'s job at each of its times (once across the instances sharing the
/// store), until the runtime stops.
async fn tick(runtime: Arc<JobsRuntime>, key: String, schedule: Schedule) {
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
        let payload = match (schedule.make)() {
            Ok(payload) => payload,
            Err(error) => {
                tracing::error!(job = schedule.job, %error, "jobs: a scheduled job could not be serialized; not enqueued");
                continue;
            }
        };
        match runtime
            .push_scheduled(&key, next, schedule.job, payload)
            .await
        {
            Ok(Some(id)) => {
                tracing::debug!(job = schedule.job, %id, "jobs: enqueued by its schedule")
            }
            Ok(None) => {
                tracing::debug!(job = schedule.job, %next, "jobs: another instance enqueued this time's job");
            }
            Err(error) => {
                tracing::warn!(job = schedule.job, %next, %error, "jobs: the store did not answer; this time's job is skipped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn schedule(job: &'static str, expression: &str) -> Schedule {
        Schedule {
            job,
            expression: expression.to_owned(),
            schedule: cron::Schedule::from_str(expression).expect("a schedule"),
            make: Arc::new(|| Ok(Json::Null)),
        }
    }

    #[test]
    fn tick_keys_tell_alike_schedules_apart_and_do_not_move_when_others_come() {
        let v1 = [schedule("a", "0 * * * * *"), schedule("a", "0 * * * * *")];
        assert_eq!(tick_keys(&v1), ["a:0 * * * * *:0", "a:0 * * * * *:1"]);
        // A new version adds a schedule in front: the old ones keep their keys.
        let v2 = [
            schedule("b", "0 0 * * * *"),
            schedule("a", "0 * * * * *"),
            schedule("a", "0 0 3 * * *"),
            schedule("a", "0 * * * * *"),
        ];
        let keys = tick_keys(&v2);
        assert_eq!(keys[1], "a:0 * * * * *:0");
        assert_eq!(keys[3], "a:0 * * * * *:1");
        assert_eq!(keys[2], "a:0 0 3 * * *:0");
    }
}
