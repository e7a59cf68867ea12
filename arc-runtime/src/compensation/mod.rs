//! Compensation: steps run in order over a context they share; when one fails, the steps
//! that completed are undone in reverse order, each undo retried with backoff, and the
//! outcome of every undo reported (and, with [`Compensation::run_recorded`], kept in the
//! audit trail).
//!
//! This is the saga pattern for work that spans systems no one transaction covers (a
//! payment provider, a warehouse, the app's own database): each step that changes something
//! elsewhere says how to take the change back.

mod recorded;

use std::borrow::Cow;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tracing::Instrument;
use uuid::Uuid;

pub use recorded::Recorder;

use crate::retry::Retry;

/// The error of a step or an undo: any error, boxed (`?` converts to it).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a step or an undo returns: a boxed future over the context, done when it is `Ok`.
pub type StepFuture<'a> = BoxFuture<'a, Result<(), BoxError>>;

/// A step's or an undo's work.
type Work<C> = Arc<dyn for<'a> Fn(&'a mut C) -> StepFuture<'a> + Send + Sync>;

/// What the run does with a step's failure, and whether it can be taken back.
enum Kind<C> {
    /// A failure fails the run; nothing to undo once it is done.
    Step,
    /// A failure fails the run; once done, `undo` takes it back.
    Undoable(Work<C>),
    /// A failure is logged and reported, never fatal; never undone.
    FireAndForget,
}

impl<C> Clone for Kind<C> {
    fn clone(&self) -> Self {
        match self {
            Kind::Step => Kind::Step,
            Kind::Undoable(undo) => Kind::Undoable(undo.clone()),
            Kind::FireAndForget => Kind::FireAndForget,
        }
    }
}

struct Step<C> {
    name: Cow<'static, str>,
    work: Work<C>,
    kind: Kind<C>,
}

impl<C> Clone for Step<C> {
    fn clone(&self) -> Self {
        Step {
            name: self.name.clone(),
            work: self.work.clone(),
            kind: self.kind.clone(),
        }
    }
}

/// What an observer is told as a run goes ([`Compensation::observe`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// The step `step` completed.
    Done {
        /// The step's name.
        step: &'a str,
    },
    /// The step `step` failed: the steps before it are undone next.
    Failed {
        /// The step's name.
        step: &'a str,
        /// Its error.
        error: &'a BoxError,
    },
    /// The fire-and-forget step `step` failed; the run goes on.
    Ignored {
        /// The step's name.
        step: &'a str,
        /// Its error.
        error: &'a BoxError,
    },
    /// The undo of `step` succeeded, at attempt `attempts`.
    Undone {
        /// The step's name.
        step: &'a str,
        /// Attempts it took, the first included.
        attempts: u32,
    },
    /// Attempt `attempt` of the undo of `step` failed; `retrying` says whether another
    /// attempt follows (else the step stays done).
    UndoFailed {
        /// The step's name.
        step: &'a str,
        /// The attempt that failed (1-based).
        attempt: u32,
        /// Its error.
        error: &'a BoxError,
        /// Whether the undo is tried again.
        retrying: bool,
    },
}

type Observer = Arc<dyn Fn(&Progress<'_>) + Send + Sync>;

/// Steps that run in order over a context `C`; when one fails, the completed ones are
/// undone in reverse order, each undo retried ([`Compensation::retry`]).
///
/// A step (and an undo) is a closure from `&mut C` to a boxed future (`Box::pin(async move
/// { .. })`), so a step can leave in the context what later steps and its own undo need (the
/// payment's id, for its refund). `?` turns any error into the step's failure. A step that
/// panics fails like one that errs. Name the context's type at [`Compensation::new`]
/// (`Compensation::<Checkout>::new`): the closures' argument is inferred from it. A run's
/// future is `Send` when `C` is.
///
/// ```
/// use arc_runtime::Compensation;
/// use arc_runtime::config::Retry;
///
/// #[derive(Default)]
/// struct Checkout { reserved: bool, payment: Option<String> }
///
/// # async fn pay() -> Result<String, std::io::Error> { Ok("pay_1".into()) }
/// # async fn refund(_: &str) -> Result<(), std::io::Error> { Ok(()) }
/// # async fn ship() -> Result<(), std::io::Error> { Err(std::io::Error::other("no courier")) }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let checkout = Compensation::<Checkout>::new("checkout")
///     .step_with_undo(
///         "reserve",
///         |c| Box::pin(async move { c.reserved = true; Ok(()) }),
///         |c| Box::pin(async move { c.reserved = false; Ok(()) }),
///     )
///     .step_with_undo(
///         "pay",
///         |c| Box::pin(async move { c.payment = Some(pay().await?); Ok(()) }),
///         |c| Box::pin(async move {
///             match &c.payment { Some(id) => Ok(refund(id).await?), None => Ok(()) }
///         }),
///     )
///     .step("ship", |_| Box::pin(async move { Ok(ship().await?) }))
///     .fire_and_forget("email", |_| Box::pin(async move { Ok(()) }))
///     .retry(Retry { attempts: 5, ..Retry::default() });
///
/// let failed = checkout.run(Checkout::default()).await.unwrap_err();
/// assert_eq!(failed.step, "ship");
/// assert!(failed.is_fully_undone());
/// assert_eq!(failed.undone().collect::<Vec<_>>(), ["pay", "reserve"]);
/// assert!(!failed.context.reserved);
/// # }
/// ```
///
/// A run is a future: dropped before it ends (a handler's future when its client hangs
/// up), it stops where it is and undoes nothing. Where that matters, run it in a task of its
/// own (`tokio::spawn`; a `Compensation` is cheap to clone).
#[must_use = "a compensation does nothing until it is run"]
pub struct Compensation<C> {
    name: Cow<'static, str>,
    steps: Vec<Step<C>>,
    retry: Retry,
    observer: Option<Observer>,
}

impl<C> Clone for Compensation<C> {
    fn clone(&self) -> Self {
        Compensation {
            name: self.name.clone(),
            steps: self.steps.clone(),
            retry: self.retry,
            observer: self.observer.clone(),
        }
    }
}

impl<C> fmt::Debug for Compensation<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compensation")
            .field("name", &self.name)
            .field(
                "steps",
                &self.steps.iter().map(|s| &*s.name).collect::<Vec<_>>(),
            )
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A run that completed: the context as the steps left it.
#[non_exhaustive]
pub struct CompensationDone<C> {
    /// The run's id (in its logs).
    pub id: Uuid,
    /// The context, as the steps left it.
    pub context: C,
    /// The fire-and-forget steps that failed, in the order they ran.
    pub ignored: Vec<StepError>,
}

impl<C> fmt::Debug for CompensationDone<C> {
    /// Everything but the context (which need not be `Debug`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompensationDone")
            .field("id", &self.id)
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}

/// A step that failed, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct StepError {
    /// The step's name.
    pub step: String,
    /// Its error.
    pub error: BoxError,
}

/// The undo of one completed step, after a run failed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Undo {
    /// The step undone (or not).
    pub step: String,
    /// How it went.
    pub outcome: UndoOutcome,
}

/// How an undo went.
#[derive(Debug)]
#[non_exhaustive]
pub enum UndoOutcome {
    /// The step was undone, at attempt `attempts`.
    Undone {
        /// Attempts it took, the first included.
        attempts: u32,
    },
    /// Every attempt failed: the step stays done. `error` is the last attempt's.
    Failed {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's error.
        error: BoxError,
    },
}

/// A run that failed at a step: which, why, and how each undo went.
#[non_exhaustive]
pub struct CompensationFailed<C> {
    /// The run's id (in its logs, and the `documentId` of its audit entry).
    pub id: Uuid,
    /// The compensation's name.
    pub name: String,
    /// The step that failed.
    pub step: String,
    /// Its error.
    pub error: BoxError,
    /// The undos of the completed steps that have one, in the order they ran (the latest
    /// step first).
    pub undos: Vec<Undo>,
    /// The fire-and-forget steps that failed before, in the order they ran.
    pub ignored: Vec<StepError>,
    /// The context, as the steps and undos left it.
    pub context: C,
}

impl<C> CompensationFailed<C> {
    /// Whether every completed step that has an undo was undone.
    pub fn is_fully_undone(&self) -> bool {
        self.undos
            .iter()
            .all(|u| matches!(u.outcome, UndoOutcome::Undone { .. }))
    }

    /// The steps undone, in the order they were.
    pub fn undone(&self) -> impl Iterator<Item = &str> {
        self.undos
            .iter()
            .filter(|u| matches!(u.outcome, UndoOutcome::Undone { .. }))
            .map(|u| u.step.as_str())
    }

    /// The undos that failed for good: their steps stay done.
    pub fn undo_failures(&self) -> impl Iterator<Item = (&str, u32, &BoxError)> {
        self.undos.iter().filter_map(|u| match &u.outcome {
            UndoOutcome::Failed { attempts, error } => Some((u.step.as_str(), *attempts, error)),
            UndoOutcome::Undone { .. } => None,
        })
    }
}

impl<C> fmt::Debug for CompensationFailed<C> {
    /// Everything but the context (which need not be `Debug`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompensationFailed")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("step", &self.step)
            .field("error", &self.error)
            .field("undos", &self.undos)
            .field("ignored", &self.ignored)
            .finish_non_exhaustive()
    }
}

impl<C> fmt::Display for CompensationFailed<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` failed at step `{}`: {}",
            self.name, self.step, self.error
        )?;
        let failed = self.undo_failures().count();
        match failed {
            0 => write!(f, " (undone)"),
            n => write!(f, " ({n} of {} undos failed)", self.undos.len()),
        }
    }
}

impl<C> std::error::Error for CompensationFailed<C> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.error)
    }
}

impl<C> Compensation<C> {
    /// A compensation named `name` (in logs and the audit trail), with no steps yet, whose
    /// undos are retried with [`Retry::default`].
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Compensation {
            name: name.into(),
            steps: Vec::new(),
            retry: Retry::default(),
            observer: None,
        }
    }

    fn push<F>(mut self, name: impl Into<Cow<'static, str>>, work: F, kind: Kind<C>) -> Self
    where
        F: for<'a> Fn(&'a mut C) -> StepFuture<'a> + Send + Sync + 'static,
    {
        self.steps.push(Step {
            name: name.into(),
            work: Arc::new(work),
            kind,
        });
        self
    }

    /// A step with nothing to undo (a read, a check, a last step): its failure fails the
    /// run, once done it stays done.
    pub fn step<F>(self, name: impl Into<Cow<'static, str>>, run: F) -> Self
    where
        F: for<'a> Fn(&'a mut C) -> StepFuture<'a> + Send + Sync + 'static,
    {
        self.push(name, run, Kind::Step)
    }

    /// A step that `undo` takes back when a later step fails. The undo is retried (see
    /// [`Compensation::retry`]), so it should be idempotent: an attempt that failed may have
    /// done its work.
    pub fn step_with_undo<F, U>(self, name: impl Into<Cow<'static, str>>, run: F, undo: U) -> Self
    where
        F: for<'a> Fn(&'a mut C) -> StepFuture<'a> + Send + Sync + 'static,
        U: for<'a> Fn(&'a mut C) -> StepFuture<'a> + Send + Sync + 'static,
    {
        self.push(name, run, Kind::Undoable(Arc::new(undo)))
    }

    /// A step whose failure is not the run's (a notification, a cache warm-up): logged and
    /// reported in [`CompensationDone::ignored`], never undone.
    pub fn fire_and_forget<F>(self, name: impl Into<Cow<'static, str>>, run: F) -> Self
    where
        F: for<'a> Fn(&'a mut C) -> StepFuture<'a> + Send + Sync + 'static,
    {
        self.push(name, run, Kind::FireAndForget)
    }

    /// How a failing undo is retried (default: [`Retry::default`]); at least one attempt.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry.at_least_once();
        self
    }

    /// Calls `observer` as the run goes: each step done or failed, each undo attempt
    /// (for metrics, or tests). It runs inline: keep it quick.
    pub fn observe(mut self, observer: impl Fn(&Progress<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Runs the steps in order over `context`. When a step fails, the completed steps are
    /// undone in reverse order (every one, whether an undo before it failed or not), and the
    /// failure says which step failed, why, and how each undo went.
    pub async fn run(&self, context: C) -> Result<CompensationDone<C>, CompensationFailed<C>> {
        let id = Uuid::new_v4();
        let span = tracing::info_span!("compensation", name = %self.name, %id);
        self.run_as(id, context).instrument(span).await
    }

    async fn run_as(
        &self,
        id: Uuid,
        mut context: C,
    ) -> Result<CompensationDone<C>, CompensationFailed<C>> {
        let mut ignored = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let step_name = &*step.name;
            let span = tracing::debug_span!("step", step = step_name);
            let error = match attempt(&step.work, &mut context).instrument(span).await {
                Ok(()) => {
                    tracing::debug!(step = step_name, "compensation: step done");
                    self.tell(&Progress::Done { step: step_name });
                    continue;
                }
                Err(error) => error,
            };
            if let Kind::FireAndForget = step.kind {
                tracing::warn!(step = step_name, %error, "compensation: fire-and-forget step failed, going on");
                self.tell(&Progress::Ignored {
                    step: step_name,
                    error: &error,
                });
                ignored.push(StepError {
                    step: step_name.to_owned(),
                    error,
                });
                continue;
            }
            tracing::warn!(step = step_name, %error, "compensation: step failed, undoing the steps before it");
            self.tell(&Progress::Failed {
                step: step_name,
                error: &error,
            });
            let undos = self.undo(&self.steps[..i], &mut context).await;
            return Err(CompensationFailed {
                id,
                name: self.name.clone().into_owned(),
                step: step_name.to_owned(),
                error,
                undos,
                ignored,
                context,
            });
        }
        Ok(CompensationDone {
            id,
            context,
            ignored,
        })
    }

    /// Undoes the `done` steps that have an undo, the latest first.
    async fn undo(&self, done: &[Step<C>], context: &mut C) -> Vec<Undo> {
        let mut undos = Vec::new();
        for step in done.iter().rev() {
            let Kind::Undoable(undo) = &step.kind else {
                continue;
            };
            let name = &*step.name;
            let mut tries = 1;
            let outcome = loop {
                let span = tracing::debug_span!("undo", step = name, attempt = tries);
                match attempt(undo, context).instrument(span).await {
                    Ok(()) => {
                        tracing::info!(step = name, attempts = tries, "compensation: step undone");
                        self.tell(&Progress::Undone {
                            step: name,
                            attempts: tries,
                        });
                        break UndoOutcome::Undone { attempts: tries };
                    }
                    Err(error) => {
                        let retrying = tries < self.retry.attempts;
                        self.tell(&Progress::UndoFailed {
                            step: name,
                            attempt: tries,
                            error: &error,
                            retrying,
                        });
                        if !retrying {
                            tracing::error!(step = name, attempts = tries, %error, "compensation: undo failed for good, the step stays done");
                            break UndoOutcome::Failed {
                                attempts: tries,
                                error,
                            };
                        }
                        tracing::debug!(step = name, attempt = tries, %error, "compensation: undo failed, retrying");
                        tokio::time::sleep(self.retry.backoff(tries)).await;
                        tries += 1;
                    }
                }
            };
            undos.push(Undo {
                step: name.to_owned(),
                outcome,
            });
        }
        undos
    }

    fn tell(&self, progress: &Progress<'_>) {
        if let Some(observer) = &self.observer {
            observer(progress);
        }
    }
}

/// Runs `work` on `context`: its error, or its panic as one.
async fn attempt<C>(work: &Work<C>, context: &mut C) -> Result<(), BoxError> {
    let panicked = |payload: Box<dyn std::any::Any + Send>| -> BoxError {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("panicked: {what}").into()
    };
    let start = move || {
        let context = context;
        work(context)
    };
    match std::panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .unwrap_or_else(|payload| Err(panicked(payload))),
        Err(payload) => Err(panicked(payload)),
    }
}

#[cfg(test)]
mod tests;
