//! Every write starts and ends here. It runs on the app's one writer
//! ([`Writer`](crate::db::Writer)): in a transaction begun by [`begin`] (`BEGIN IMMEDIATE` on
//! SQLite), or, when one statement is the whole write and nothing goes with it (no hook of
//! the resource's, no event, no audit entry, no idempotency key to seal), alone outside a
//! transaction of its own ([`Alone`]: on a SQLite file a create goes to the committer, which
//! commits it in a batch with others). Inside the transaction, the outbox's events and, for an `audited`
//! resource, the audit trail's entries, both made from the rows before and after the write
//! ([`record`]); then its commit, and what waits for the commit: the query cache's bump, the
//! relay's wake-up, the trail's count and a store outside the database ([`commit`]).

use std::future::Future;

use sea_orm::DatabaseTransaction;

use crate::app::ArcState;
use crate::audit::AuditEntry;
use crate::auth::AuthContext;
use crate::cache::Bump;
use crate::crud::record::Record;
use crate::db::{Txn, Writer};
use crate::error::ArcError;
use crate::events::{self, Change};
use crate::hooks::Hooks;
use crate::resource::{Resource, ResourceMeta};

/// Begins a write of `R`'s transaction on the app's writer: `BEGIN IMMEDIATE` on SQLite (the
/// write lock from its first statement, so it never waits in SQLite's busy handler), unless
/// the resource has hooks (see [`Writer::begin`](crate::db::Writer::begin)).
pub(super) async fn begin<R: Hooks>(state: &ArcState) -> Result<Txn, ArcError> {
    Ok(state.writer().begin(!R::DECLARED).await?)
}

/// The transaction of an action: never `BEGIN IMMEDIATE`, as the action runs the app's code
/// (see [`Writer::begin`]).
pub(super) async fn begin_action(state: &ArcState) -> Result<Txn, ArcError> {
    Ok(state.writer().begin(false).await?)
}

/// A write of `R` that is one statement and nothing else, run without a transaction of its
/// own: a create through [`Writer::insert`] (on a SQLite file, in a batch of the committer's),
/// another statement in autocommit on [`Writer::conn`]. Made by
/// [`Alone::of`] only when nothing goes with the write: the resource declares no hooks, the
/// app records no events, the resource is not audited, and the request holds no idempotency
/// key to seal.
#[must_use = "finish the write with `done`"]
pub(super) struct Alone<'a> {
    state: &'a ArcState,
    /// The query cache's bump, armed before the statement (see [`commit`]).
    bump: Option<Bump>,
}

impl<'a> Alone<'a> {
    /// The way to run a write of `R` alone, or `None` when it needs its transaction.
    pub(super) fn of<R: Hooks>(state: &'a ArcState) -> Option<Self> {
        let alone = !R::DECLARED
            && state.events().is_none()
            && !R::META.presets.audited
            && !crate::plugins::idempotency::unsealed();
        alone.then(|| Self {
            state,
            bump: state.cache().map(|cache| cache.before_commit(R::META)),
        })
    }

    /// The writer, to run the statement on (see [`Writer::insert`] and [`Writer::conn`]).
    pub(super) fn writer(&self) -> &'a Writer {
        self.state.writer()
    }

    /// What waits for the statement `result`: the query cache's bump (a failed statement
    /// bumps too, which costs one miss).
    pub(super) async fn done<T, E>(mut self, result: Result<T, E>) -> Result<T, ArcError>
    where
        ArcError: From<E>,
    {
        if let Some(bump) = self.bump.take() {
            bump.run().await;
        }
        Ok(result?)
    }
}

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
/// roll the write back. The rows become records here, when anything records them; the
/// recording itself is compiled once for every resource.
pub(super) fn record<'a, R: Resource>(
    state: &'a ArcState,
    txn: &'a DatabaseTransaction,
    caller: &'a AuthContext,
    written: Written<'_, R::Model>,
) -> impl Future<Output = Result<AfterCommit, ArcError>> + Send + 'a {
    let audited = state.audit().is_some() && R::META.presets.audited;
    let records = |rows: &[R::Model]| rows.iter().map(Record::of::<R>).collect::<Vec<_>>();
    // The audit compares both sides; the events need the side they carry alone.
    let (before, after) = if audited {
        (records(written.before), records(written.after))
    } else if state.events().is_none() {
        (Vec::new(), Vec::new())
    } else if written.after.is_empty() {
        (records(written.before), Vec::new())
    } else {
        (Vec::new(), records(written.after))
    };
    record_records(state, txn, caller, R::META, written.change, before, after)
}

/// [`record`], of the rows as records.
async fn record_records(
    state: &ArcState,
    txn: &DatabaseTransaction,
    caller: &AuthContext,
    meta: &'static ResourceMeta,
    change: Change,
    before: Vec<Record>,
    after: Vec<Record>,
) -> Result<AfterCommit, ArcError> {
    let rows = if after.is_empty() { &before } else { &after };
    events::record(state, txn, caller, meta, change, rows).await?;
    let entries = match state.audit() {
        Some(audit) if meta.presets.audited => {
            audit
                .write(txn, caller, meta, change, &before, &after)
                .await?
        }
        _ => Vec::new(),
    };
    Ok(AfterCommit { entries })
}

/// Commits `txn`, a write of `meta`'s resource, then does what waited for it: makes the query
/// cache's answers that depend on it old (before the write answers, so no later read is served what
/// was there before it), wakes the events relay and hands the audit entries on (counted;
/// kept by a store outside the database). A request with an idempotency key first seals its
/// key in `txn` (a lost lease rolls the write back).
pub(super) async fn commit(
    state: &ArcState,
    meta: &'static ResourceMeta,
    txn: Txn,
    after: AfterCommit,
) -> Result<(), ArcError> {
    crate::plugins::idempotency::seal(&txn).await?;
    // Armed before the commit: a request dropped after it still bumps (a commit that failed
    // bumps too, which costs one miss).
    let bump = state.cache().map(|cache| cache.before_commit(meta));
    let committed = txn.commit().await;
    if let Some(bump) = bump {
        bump.run().await;
    }
    committed?;
    state.writer().committed();
    state.committed();
    if let Some(audit) = state.audit() {
        audit.committed(after.entries).await;
    }
    Ok(())
}

/// A write the framework makes itself, outside a resource's routes (an invitation's
/// answer, which makes a member): each change recorded as those routes record theirs (an
/// event per row, audit entries for an `audited` resource), then one commit as theirs.
#[must_use = "commit the write with `commit`"]
pub(crate) struct FrameworkWrite<'a> {
    state: &'a ArcState,
    caller: &'a AuthContext,
    after: AfterCommit,
}

impl<'a> FrameworkWrite<'a> {
    /// A write on behalf of `caller`.
    pub(crate) fn new(state: &'a ArcState, caller: &'a AuthContext) -> Self {
        Self {
            state,
            caller,
            after: AfterCommit::default(),
        }
    }

    /// `row` of `R` was created in `txn`.
    pub(crate) async fn created<R: Resource>(
        &mut self,
        txn: &DatabaseTransaction,
        row: &R::Model,
    ) -> Result<(), ArcError> {
        let written = Written::created(std::slice::from_ref(row));
        let after = record::<R>(self.state, txn, self.caller, written).await?;
        self.after.entries.extend(after.entries);
        Ok(())
    }

    /// `before`, a row of `R`, became `after` in `txn`.
    pub(crate) async fn updated<R: Resource>(
        &mut self,
        txn: &DatabaseTransaction,
        before: &R::Model,
        after: &R::Model,
    ) -> Result<(), ArcError> {
        let written = Written::changed(
            Change::Updated,
            std::slice::from_ref(before),
            std::slice::from_ref(after),
        );
        let recorded = record::<R>(self.state, txn, self.caller, written).await?;
        self.after.entries.extend(recorded.entries);
        Ok(())
    }

    /// Commits `txn`, whose cached answers of `metas` go old, and does what waited for it.
    pub(crate) async fn commit(
        self,
        txn: Txn,
        metas: &[&'static ResourceMeta],
    ) -> Result<(), ArcError> {
        let Some((first, rest)) = metas.split_first() else {
            return Ok(txn.commit().await?);
        };
        // Armed before the commit, run after it (see `commit`).
        let bumps: Vec<Bump> = match self.state.cache() {
            Some(cache) => rest.iter().map(|meta| cache.before_commit(meta)).collect(),
            None => Vec::new(),
        };
        let committed = commit(self.state, first, txn, self.after).await;
        for bump in bumps {
            bump.run().await;
        }
        committed
    }
}
