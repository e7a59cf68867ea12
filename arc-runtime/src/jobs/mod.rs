//! Background jobs: typed jobs run off the request path, with retries, backoff, dead letters
//! and cron schedules.
//!
//! A [`Job`] is a serializable value with a [`Job::NAME`] (its queue) and an async
//! [`Job::run`]. [`App::jobs`](crate::App::jobs) registers the app's [`Jobs`]: the job types,
//! their cron schedules, the events that enqueue them ([`Jobs::on_event`], through an events
//! subscriber), how failures are retried ([`Jobs::retry`]) and how many run at
//! once ([`Jobs::concurrency`]). Handlers enqueue with [`ArcState::jobs`](crate::ArcState::jobs)
//! (or a [`JobClient`] taken from the settings with [`Jobs::client`]).
//!
//! A failed run (an error or a panic) is attempted again after a backoff; after the last
//! attempt the job is dead-lettered: kept, with its error, in its queue's dead letters
//! ([`JobClient::dead_letters`]) and counted. `GET /_jobs` shows each queue's counts and the
//! schedules to platform admins. At shutdown no new job starts; running jobs get the shutdown
//! window to finish, and those that do not are returned to their queue.
//!
//! Where jobs wait is a [`JobStore`] ([`Jobs::store`]). The default, [`InMemoryJobs`], is
//! the instance's memory: a job enqueued and not yet run is lost if the process dies. On
//! Redis (`arc_stores::Redis::jobs`) the instances share one queue: a job enqueued by one
//! runs on whichever has a free worker, survives restarts, and one whose instance dies
//! mid-run is due again when its lease runs out (as a failed attempt); each cron time is
//! enqueued by one instance only.
//!
//! ```no_run
//! use arc_runtime::jobs::{BoxError, Job, JobContext, Jobs};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct SendReceipt { order: String }
//!
//! impl Job for SendReceipt {
//!     const NAME: &'static str = "send_receipt";
//!     async fn run(self, _ctx: JobContext) -> Result<(), BoxError> {
//!         tracing::info!(order = %self.order, "receipt sent");
//!         Ok(())
//!     }
//! }
//!
//! # async fn run(app: arc_runtime::App) -> std::io::Result<()> {
//! let jobs = Jobs::new()
//!     .job::<SendReceipt>()
//!     .on_event("order.created", |event| {
//!         Some(SendReceipt { order: event.payload["data"]["id"].as_str()?.to_owned() })
//!     });
//! app.jobs(jobs).serve("127.0.0.1:3000").await
//! # }
//! ```

mod queue;
pub(crate) mod route;
mod store;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use uuid::Uuid;

pub(crate) use queue::JobsRuntime;
pub use store::{
    DeadLetter, InMemoryJobs, JobStore, Lease, MAX_DELAY, Outcome, QueueStats, QueuedJob, Taken,
    conformance,
};

use crate::app::ArcState;
use crate::events::{Event, Events};
use crate::retry::Retry;
use crate::stores::StoreError;

/// The error a job's run fails with (any error converts into it with `?`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The path of the jobs' overview for platform admins.
pub(crate) const PATH: &str = "/_jobs";

/// A background job: a value that is serialized into its queue and run later.
///
/// ```
/// use arc_runtime::jobs::{BoxError, Job, JobContext};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Cleanup { older_than_days: u32 }
///
/// impl Job for Cleanup {
///     const NAME: &'static str = "cleanup";
///     async fn run(self, ctx: JobContext) -> Result<(), BoxError> {
///         let _db = ctx.state().db();
///         Ok(())
///     }
/// }
/// ```
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The job's name: its queue, unique in the app.
    const NAME: &'static str;

    /// Does the job. An error (or a panic) fails this attempt: the job is retried per
    /// [`Jobs::retry`], then dead-lettered. A job may run more than once (a retry after a
    /// run that did its work and then failed): make it idempotent.
    fn run(self, ctx: JobContext) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// What a running job knows: its id, its attempt, the app's state.
#[derive(Clone, Debug)]
pub struct JobContext {
    id: Uuid,
    attempt: u32,
    state: ArcState,
}

impl JobContext {
    /// The job's id (the same on every attempt).
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The attempt this run is, 1 for the first.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The app's state: its database, its jobs (a job may enqueue others).
    pub fn state(&self) -> &ArcState {
        &self.state
    }
}

/// Why a job could not be enqueued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// The app has no jobs ([`App::jobs`](crate::App::jobs) was not called).
    #[error("the app has no jobs (App::jobs)")]
    NotConfigured,
    /// The job's type was not registered with [`Jobs::job`] (or another type is, under its
    /// name).
    #[error("job `{0}` is not registered (Jobs::job)")]
    Unregistered(&'static str),
    /// The job could not be serialized.
    #[error("job `{name}` could not be serialized: {source}")]
    Serialize {
        /// The job's name.
        name: &'static str,
        /// Why.
        source: serde_json::Error,
    },
    /// The store did not confirm the job (a Redis outage, after a few tries): it may not have
    /// been enqueued.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs a job of one type from its JSON.
type Runner =
    Arc<dyn Fn(Json, JobContext) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// Makes a job from an event, or none.
type EventJob = Arc<dyn Fn(&Event) -> Option<Result<Json, serde_json::Error>> + Send + Sync>;

/// Makes a scheduled job.
type MakeJob = Arc<dyn Fn() -> Result<Json, serde_json::Error> + Send + Sync>;

/// A cron schedule and the job it enqueues.
#[derive(Clone)]
pub(crate) struct Schedule {
    pub(crate) job: &'static str,
    pub(crate) expression: String,
    pub(crate) schedule: cron::Schedule,
    pub(crate) make: MakeJob,
}

/// An event pattern and the job it enqueues.
#[derive(Clone)]
struct Trigger {
    pattern: String,
    job: &'static str,
    make: EventJob,
}

/// The app's jobs (see [`App::jobs`](crate::App::jobs)): the job types, their schedules and
/// triggers, retries and concurrency.
///
/// ```
/// use arc_runtime::config::Retry;
/// use arc_runtime::jobs::Jobs;
/// use std::time::Duration;
///
/// let jobs = Jobs::new()
///     .retry(Retry { attempts: 5, base: Duration::from_secs(1), max: Duration::from_secs(60) })
///     .concurrency(4);
/// # let _ = jobs;
/// ```
#[derive(Clone)]
#[must_use]
pub struct Jobs {
    pub(crate) runtime: Arc<JobsRuntime>,
    triggers: Vec<Trigger>,
    pub(crate) problems: Vec<String>,
}

impl std::fmt::Debug for Jobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("runtime", &self.runtime)
            .field(
                "triggers",
                &self.triggers.iter().map(|t| &t.pattern).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Jobs {
    fn default() -> Self {
        Self::new()
    }
}

impl Jobs {
    /// Jobs run at once by default.
    pub const DEFAULT_CONCURRENCY: usize = 8;

    /// No job types yet; 5 attempts per job, 1 s after the first failure, doubling to at most
    /// 5 minutes; 8 jobs at once.
    pub fn new() -> Self {
        Jobs {
            runtime: Arc::new(JobsRuntime::new(
                Retry {
                    attempts: 5,
                    base: Duration::from_secs(1),
                    max: Duration::from_secs(300),
                },
                Self::DEFAULT_CONCURRENCY,
            )),
            triggers: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Registers the job type `J`: its queue is [`Job::NAME`].
    pub fn job<J: Job>(mut self) -> Self {
        let runner: Runner = Arc::new(|json, ctx| {
            Box::pin(async move {
                let job: J = serde_json::from_value(json)?;
                job.run(ctx).await
            })
        });
        if !self
            .runtime
            .register(J::NAME, std::any::TypeId::of::<J>(), runner)
        {
            self.problems
                .push(format!("Jobs::job: job `{}` is registered twice", J::NAME));
        }
        self
    }

    /// Enqueues the job `make` returns at each time of the cron `schedule` (seconds first:
    /// `"0 */5 * * * *"` is every five minutes, in UTC). `J` is registered if it was not. A
    /// malformed schedule keeps the app from starting ([`App::problems`](crate::App::problems)).
    /// Instances sharing a store each call `make` at each time and one job is enqueued: keep
    /// it cheap and free of side effects (the job's `run` is where work happens).
    pub fn cron<J, F>(mut self, schedule: &str, make: F) -> Self
    where
        J: Job,
        F: Fn() -> J + Send + Sync + 'static,
    {
        self = self.registered::<J>();
        match cron::Schedule::from_str(schedule) {
            Ok(parsed) => self.runtime.add_schedule(Schedule {
                job: J::NAME,
                expression: schedule.to_owned(),
                schedule: parsed,
                make: Arc::new(move || serde_json::to_value(make())),
            }),
            Err(e) => self
                .problems
                .push(format!("Jobs::cron: bad schedule `{schedule}`: {e}")),
        }
        self
    }

    /// Enqueues the job `make` returns (if any) for each event whose type matches `pattern`
    /// (see [`EventPattern`](crate::config::EventPattern)), through an events subscriber:
    /// each event is handed to the queue at least once (a failed enqueue is retried as the
    /// subscriber is). On the in-memory store a job not yet run when the process stops is
    /// lost, and its event is not delivered again (at most once across a restart); a shared
    /// store keeps it. Turns
    /// the events on ([`App::events`](crate::App::events)) if they were not. `J` is
    /// registered if it was not.
    pub fn on_event<J, F>(mut self, pattern: &str, make: F) -> Self
    where
        J: Job,
        F: Fn(&Event) -> Option<J> + Send + Sync + 'static,
    {
        self = self.registered::<J>();
        self.triggers.push(Trigger {
            pattern: pattern.to_owned(),
            job: J::NAME,
            make: Arc::new(move |event| make(event).map(serde_json::to_value)),
        });
        self
    }

    /// With `J` registered: as it is, or now; another type under its name is a problem.
    fn registered<J: Job>(self) -> Self {
        match self
            .runtime
            .registered_as(J::NAME, std::any::TypeId::of::<J>())
        {
            None => self.job::<J>(),
            Some(true) => self,
            Some(false) => {
                let mut jobs = self;
                jobs.problems.push(format!(
                    "Jobs: another job type is registered as `{}`",
                    J::NAME
                ));
                jobs
            }
        }
    }

    /// How a failed job is retried: `attempts` in all (at least 1), waiting `base` after the
    /// first failure, doubling up to `max` (with jitter), then dead-lettered.
    pub fn retry(self, retry: Retry) -> Self {
        self.runtime.set_retry(retry.at_least_once());
        self
    }

    /// The longest an attempt may run (five minutes by default; at least 1 ms): one that
    /// runs past it is stopped and counts as a failed attempt, so a job that hangs does not
    /// hold a worker for ever.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.runtime
            .set_timeout(timeout.max(Duration::from_millis(1)));
        self
    }

    /// Jobs this instance runs at once (at least 1).
    pub fn concurrency(self, jobs: usize) -> Self {
        self.runtime.set_concurrency(jobs.max(1));
        self
    }

    /// Where the jobs wait ([`InMemoryJobs`] by default): a shared store (Redis, from
    /// arc-stores) lets the app's instances share one queue.
    pub fn store(self, store: impl JobStore) -> Self {
        self.runtime.set_store(Arc::new(store));
        self
    }

    /// How often idle workers ask a shared store for due jobs (1 s by default; at least
    /// 10 ms): the longest a job enqueued by another instance, or one due after a retry's
    /// wait, waits for an idle worker here.
    pub fn poll(self, every: Duration) -> Self {
        self.runtime.set_poll(every.max(Duration::from_millis(10)));
        self
    }

    /// Whether other instances see these jobs' queue (see [`JobStore::shared`]).
    pub(crate) fn shared(&self) -> bool {
        self.runtime.store().shared()
    }

    /// A client of these jobs, to enqueue and inspect them from outside the app's handlers
    /// (a CLI command, a test). Jobs enqueued before the app starts wait for it.
    pub fn client(&self) -> JobClient {
        JobClient {
            runtime: Some(self.runtime.clone()),
        }
    }

    /// Whether these jobs have event triggers (the app then needs its events).
    pub(crate) fn has_triggers(&self) -> bool {
        !self.triggers.is_empty()
    }

    /// `events` with a subscriber per trigger, each enqueueing its job.
    pub(crate) fn subscribe(&self, mut events: Events) -> Events {
        for trigger in &self.triggers {
            let runtime = self.runtime.clone();
            let make = trigger.make.clone();
            let job = trigger.job;
            events = events.on(&trigger.pattern, move |event: Arc<Event>| {
                let made = make(&event);
                let runtime = runtime.clone();
                async move {
                    let Some(made) = made else {
                        return Ok::<(), JobError>(());
                    };
                    let json = made.map_err(|source| JobError::Serialize { name: job, source })?;
                    let id = runtime
                        .push(job, json, Duration::ZERO)
                        .await
                        .map_err(JobError::Store)?;
                    tracing::debug!(job, %id, event = %event.name, "jobs: enqueued by an event");
                    Ok(())
                }
            });
        }
        events
    }
}

/// Enqueues and inspects an app's jobs ([`ArcState::jobs`](crate::ArcState::jobs),
/// [`Jobs::client`]).
///
/// ```no_run
/// # use arc_runtime::jobs::{BoxError, Job, JobContext};
/// # #[derive(serde::Serialize, serde::Deserialize)]
/// # struct SendReceipt { order: String }
/// # impl Job for SendReceipt {
/// #     const NAME: &'static str = "send_receipt";
/// #     async fn run(self, _ctx: JobContext) -> Result<(), BoxError> { Ok(()) }
/// # }
/// async fn handler(state: arc_runtime::ArcState) -> Result<(), arc_runtime::jobs::JobError> {
///     state.jobs().enqueue(SendReceipt { order: "42".into() }).await?;
///     Ok(())
/// }
/// ```
///
/// The default client is of no jobs: it enqueues nothing ([`JobError::NotConfigured`]).
#[derive(Clone, Debug, Default)]
pub struct JobClient {
    runtime: Option<Arc<JobsRuntime>>,
}

impl JobClient {
    /// The client of an app's jobs, if it has some.
    pub(crate) fn of(runtime: Option<&Arc<JobsRuntime>>) -> JobClient {
        JobClient {
            runtime: runtime.cloned(),
        }
    }

    /// Enqueues `job` to run as soon as a worker is free; its id.
    pub async fn enqueue<J: Job>(&self, job: J) -> Result<Uuid, JobError> {
        self.enqueue_after(job, Duration::ZERO).await
    }

    /// Enqueues `job` to run once `delay` has passed (at most [`MAX_DELAY`], a year); its id.
    pub async fn enqueue_after<J: Job>(&self, job: J, delay: Duration) -> Result<Uuid, JobError> {
        let runtime = self.runtime.as_ref().ok_or(JobError::NotConfigured)?;
        // Under its name, this type: another one's payload would be run as it.
        if runtime.registered_as(J::NAME, std::any::TypeId::of::<J>()) != Some(true) {
            return Err(JobError::Unregistered(J::NAME));
        }
        let json = serde_json::to_value(job).map_err(|source| JobError::Serialize {
            name: J::NAME,
            source,
        })?;
        Ok(runtime.push(J::NAME, json, delay).await?)
    }

    /// Each registered queue's counts, by name (none without jobs).
    pub async fn stats(&self) -> Result<Vec<QueueStats>, StoreError> {
        match &self.runtime {
            Some(runtime) => runtime.stats().await,
            None => Ok(Vec::new()),
        }
    }

    /// The dead letters of the queue `job` (the most recent last; at most
    /// [`DeadLetter::KEPT`] per queue).
    pub async fn dead_letters(&self, job: &str) -> Result<Vec<DeadLetter>, StoreError> {
        match &self.runtime {
            Some(runtime) => runtime.dead_letters(job, DeadLetter::KEPT).await,
            None => Ok(Vec::new()),
        }
    }
}

/// The job registry and schedules, shared by the settings and the runtime.
#[derive(Default)]
pub(crate) struct Registry {
    runners: HashMap<&'static str, Runner>,
    /// The Rust type registered under each name: another type of the same `NAME` is not it.
    types: HashMap<&'static str, std::any::TypeId>,
    schedules: Vec<Schedule>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("jobs", &self.runners.keys().collect::<Vec<_>>())
            .field(
                "schedules",
                &self
                    .schedules
                    .iter()
                    .map(|s| &s.expression)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A lock that a panic elsewhere does not poison for us.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
