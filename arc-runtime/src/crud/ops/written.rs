//! What follows every write, in one place for all of them: inside its transaction, the
//! outbox's events and, for an `audited` resource, the audit trail's entries, both made from
//! the rows before and after the write ([`record`]); then its commit, and what waits for the
//! commit: the query cache's bump, the relay's wake-up, the trail's count and a store
//! outside the database ([`commit`]).

use sea_orm::DatabaseTransaction;

use crate::app::ArcState;
use crate::audit::AuditEntry;
use crate::auth::AuthContext;
use crate::error::ArcError;
use crate::events::{self, Change};
use crate::resource::Resource;

/// The rows a write touched.
pub(super) struct Written<'a, M> {
    /// What it did to them.
    pub(super) change: Change,
    /// Each row as it was, for the writes that had one (updates, restores, deletes), in the
    /// order of `after`; empty for a create.
    pub(super) before: &'a [M],
    /// Each row as it is now, for the writes that leave one (creates, updates, restores,
    /// soft deletes); empty for a delete for good.
    pub(super) after: &'a [M],
}

impl<'a, M> Written<'a, M> {
    /// `rows` created.
    pub(super) fn created(rows: &'a [M]) -> Self {
        Self {
            change: Change::Created,
            before: &[],
            after: rows,
        }
    }

    /// `before[i]` became `after[i]` by `change`.
    pub(super) fn changed(change: Change, before: &'a [M], after: &'a [M]) -> Self {
        Self {
            change,
            before,
            after,
        }
    }
}

/// What waits for a write's commit.
#[must_use = "commit the transaction with `commit`"]
#[derive(Default)]
pub(super) struct AfterCommit {
    /// The audit entries the write made.
    entries: Vec<AuditEntry>,
}

/// Records what the write did in its transaction `txn`: an event per row (the row after, or
/// the row before when none is left) and, when `R` is `audited`, its audit entries. Errors
/// roll the write back.
pub(super) async fn record<R: Resource>(
    state: &ArcState,
    txn: &DatabaseTransaction,
    caller: &AuthContext,
    written: Written<'_, R::Model>,
) -> Result<AfterCommit, ArcError> {
    let rows = if written.after.is_empty() {
        written.before
    } else {
        written.after
    };
    events::record::<R>(state, txn, caller, written.change, rows).await?;
    let entries = match state.audit() {
        Some(audit) if R::META.presets.audited => {
            audit
                .write::<R>(txn, caller, written.change, written.before, written.after)
                .await?
        }
        _ => Vec::new(),
    };
    Ok(AfterCommit { entries })
}

/// Commits `txn`, a write of `R`, then does what waited for it: makes the query cache's
/// answers that depend on `R` old (before the write answers, so no later read is served what
/// was there before it), wakes the events relay and hands the audit entries on (counted;
/// kept by a store outside the database). A request with an idempotency key first seals its
/// key in `txn` (a lost lease rolls the write back).
pub(super) async fn commit<R: Resource>(
    state: &ArcState,
    txn: DatabaseTransaction,
    after: AfterCommit,
) -> Result<(), ArcError> {
    crate::plugins::idempotency::seal(&txn).await?;
    // Armed before the commit: a request dropped after it still bumps (a commit that failed
    // bumps too, which costs one miss).
    let bump = state.cache().map(|cache| cache.before_commit(R::META));
    let committed = txn.commit().await;
    if let Some(bump) = bump {
        bump.run().await;
    }
    committed?;
    state.committed();
    if let Some(audit) = state.audit() {
        audit.committed(after.entries).await;
    }
    Ok(())
}
