//! Compensations in the audit trail: a failed run leaves one entry (action `compensate`,
//! resource `_compensation`, its run id as `documentId`) saying what failed and how each
//! undo went, by the caller of the request that ran it.

use serde_json::{Map, Value as Json, json};

use super::{Compensation, CompensationDone, CompensationFailed};
use crate::app::ArcState;
use crate::audit::{self, AuditAction, AuditEntry};
use crate::auth::AuthContext;
use crate::custom::RouteContext;

/// Where a run is recorded, and by whom: the app's audit trail and the caller of the
/// request. A [`RouteContext`] is one (`run_recorded(&ctx, ..)`); a plain handler makes one
/// from its state and caller with [`Recorder::new`].
#[derive(Clone, Copy, Debug)]
pub struct Recorder<'a> {
    state: &'a ArcState,
    caller: &'a AuthContext,
}

impl<'a> Recorder<'a> {
    /// Records into `state`'s audit trail, as done by `caller`.
    pub fn new(state: &'a ArcState, caller: &'a AuthContext) -> Self {
        Recorder { state, caller }
    }
}

impl<'a> From<&'a RouteContext> for Recorder<'a> {
    fn from(route: &'a RouteContext) -> Self {
        Recorder::new(route.state(), route.caller())
    }
}

impl<C> Compensation<C> {
    /// [`Compensation::run`], and a run that fails leaves an entry in the audit trail (a run
    /// that completes leaves none: nothing was compensated): action `compensate`, resource
    /// `_compensation`, `documentId` the run's [id](CompensationFailed::id), with the caller's
    /// user, organization and request, and in `after` the compensation's `name`, the
    /// `failedStep`, its `error`, the steps `undone` and the `undoFailures` (`step`,
    /// `attempts`, `error`). Platform admins read it in `GET /_audit`, and the admins of the
    /// caller's organization.
    ///
    /// Recording is best effort: the entry is written after the undos, and an app without
    /// an audit trail, or a trail that cannot keep the entry, leaves the run's result as it
    /// is (the miss is logged at `error`).
    ///
    /// ```no_run
    /// use arc_runtime::{ArcError, Compensation, ErrorCode, RouteContext};
    ///
    /// async fn checkout(ctx: RouteContext, saga: &Compensation<u64>) -> Result<u64, ArcError> {
    ///     match saga.run_recorded(&ctx, 0).await {
    ///         Ok(done) => Ok(done.context),
    ///         // Its steps undone (or not), and on record for the organization's admins.
    ///         Err(failed) => Err(ArcError::new(ErrorCode::Conflict, format!("checkout failed at {}", failed.step))),
    ///     }
    /// }
    /// ```
    pub async fn run_recorded<'r>(
        &self,
        recorder: impl Into<Recorder<'r>>,
        context: C,
    ) -> Result<CompensationDone<C>, CompensationFailed<C>> {
        let recorder = recorder.into();
        let outcome = self.run(context).await;
        if let Err(failed) = &outcome {
            let entry = AuditEntry::own(
                audit::COMPENSATION,
                failed.id.to_string(),
                AuditAction::Compensate,
                recorder.caller,
                after(failed),
            );
            if let Err(e) = audit::keep(recorder.state, entry).await {
                tracing::error!(compensation = %failed.name, id = %failed.id, error = %e, "compensation: the audit entry was not kept");
            }
        }
        outcome
    }
}

/// The entry's `after`: what failed and how each undo went.
fn after<C>(failed: &CompensationFailed<C>) -> Map<String, Json> {
    let undo_failures: Vec<Json> = failed
        .undo_failures()
        .map(|(step, attempts, error)| {
            json!({"step": step, "attempts": attempts, "error": error.to_string()})
        })
        .collect();
    let mut after = Map::new();
    after.insert("name".into(), Json::from(failed.name.as_str()));
    after.insert("failedStep".into(), Json::from(failed.step.as_str()));
    after.insert("error".into(), Json::from(failed.error.to_string()));
    after.insert("undone".into(), Json::from_iter(failed.undone()));
    after.insert("undoFailures".into(), Json::Array(undo_failures));
    after
}
