//! Who may touch which rows: the scope of a route, the rule's row filter, tenancy and
//! ownership, the stamping of new rows, and the lookup of the one row a route works on.
//!
//! Every read and write goes through [`scope`], the one place that decides which rows a
//! route can see (live rows, or deleted ones for the soft-delete routes), so a row outside it
//! is a 404 everywhere.

use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QuerySelect, Value,
};
use serde_json::{Map, Value as Json};

use crate::action::Operation;
use crate::auth::AuthContext;
use crate::error::ArcError;
use crate::hooks::{ReadContext, RowFilter};
use crate::permissions::{self, Answers, CheckContext, RowRule, Rule, authorize_by, condition};
use crate::query::sql;
use crate::resource::{FieldSet, Resource, ResourceMeta};
use crate::value;

/// Which rows a route works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Rows that are not soft-deleted (every route but the two below).
    Live,
    /// Soft-deleted rows (`GET /deleted`, `POST /:id/restore`).
    Deleted,
}

/// The condition of the rows `scope` covers, in `meta`'s table.
pub(crate) fn scope(meta: &ResourceMeta, scope: Scope) -> Condition {
    let mut cond = Condition::all();
    if let Some(i) = meta.presets.soft_delete {
        let col = sql::column(meta, i);
        cond = cond.add(match scope {
            Scope::Live => col.is_null(),
            Scope::Deleted => col.is_not_null(),
        });
    }
    cond
}

/// The rows `caller` may touch through `op`, within `within`: the scope condition plus the
/// rule's row filter, narrowed by the resource's read hook (a row the caller cannot read,
/// they cannot change): [`before_list`](crate::ReadHooks::before_list) for a bulk write,
/// [`before_get`](crate::ReadHooks::before_get) for a write of one row. Denied callers get their
/// 401/403 here, before any query.
pub(crate) async fn allowed(
    meta: &'static ResourceMeta,
    within: Scope,
    op: Operation,
    caller: &AuthContext,
    hooks: &DatabaseConnection,
) -> Result<Condition, ArcError> {
    let read = if op == Operation::Bulk {
        Read::List
    } else {
        Read::One
    };
    decide(meta, op, caller, hooks)
        .await?
        .readable(hooks, read, scope(meta, within))
        .await
}

/// A field the caller's rows are narrowed by and the value it must hold (the tenant's, the
/// owner's), if any.
pub(crate) type Narrowed<'a> = Option<(usize, &'a str)>;

/// What was decided of a caller's access to an operation of a resource: whether their rows
/// are narrowed by a row rule, to a tenant, to an owner. Its conditions are built only when
/// asked ([`Decided::rows`]): a read answered from the cache needs the decision alone.
pub(crate) struct Decided<'a> {
    meta: &'static ResourceMeta,
    caller: &'a AuthContext,
    rule: Option<RowRule>,
    tenant: Narrowed<'a>,
    owner: Narrowed<'a>,
    /// What the rule's asynchronous `when(..)` answered (their rows, for [`Decided::rule`]).
    answers: Answers,
}

impl<'a> Decided<'a> {
    /// The rule's row filter, if any.
    pub(crate) fn rule(&self) -> Option<Condition> {
        self.rule
            .as_ref()
            .map(|rows| condition(self.meta, rows, self.caller, &self.answers))
    }

    /// The tenant and the owner the caller is narrowed to (each a field and its value), when
    /// they are the whole of the caller's row filter: no row rule, no read hook. A read's
    /// statement is then the same text for every caller narrowed alike.
    pub(crate) fn plain(&self) -> Option<(Narrowed<'a>, Narrowed<'a>)> {
        (self.rule.is_none() && self.meta.read_hooks.is_none()).then_some((self.tenant, self.owner))
    }

    /// `cond` narrowed to the tenant and the owner.
    fn narrow(&self, mut cond: Condition) -> Condition {
        if let Some((i, org)) = self.tenant {
            cond = cond.add(sql::column(self.meta, i).eq(org));
        }
        if let Some((i, user)) = self.owner {
            cond = cond.add(sql::column(self.meta, i).eq(user));
        }
        cond
    }

    /// `cond` narrowed to every row the caller may touch.
    pub(crate) fn rows(&self, cond: Condition) -> Condition {
        let cond = self.narrow(cond);
        match self.rule() {
            Some(rows) => cond.add(rows),
            None => cond,
        }
    }

    /// [`Decided::rows`] of a read, narrowed by the resource's read hook for `read`
    /// ([`ReadHooks::before_list`](crate::ReadHooks::before_list) or
    /// [`before_get`](crate::ReadHooks::before_get)), which may also refuse it.
    pub(crate) async fn readable(
        &self,
        db: &DatabaseConnection,
        read: Read,
        cond: Condition,
    ) -> Result<Condition, ArcError> {
        let rows = self.rows(cond);
        let Some(hooks) = self.meta.read_hooks else {
            return Ok(rows);
        };
        let hook = match read {
            Read::List => hooks.list,
            Read::One => hooks.get,
        };
        let ctx = ReadContext {
            db,
            caller: self.caller,
        };
        let mut filter = RowFilter::default();
        hook(&ctx, &mut filter).await?;
        Ok(filter.narrow(rows))
    }
}

/// Which read hook narrows a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// Many rows: [`ReadHooks::before_list`](crate::ReadHooks::before_list).
    List,
    /// One row: [`ReadHooks::before_get`](crate::ReadHooks::before_get).
    One,
}

/// The caller's access to `op` on `meta`'s resource, or their error: a signed-in caller without an
/// organization hears that first (`ORG_SELECTION_REQUIRED`), an anonymous one that they must
/// sign in (401), before any 403. The rule's asynchronous `when(..)` ask `db`.
pub(crate) async fn decide<'a>(
    meta: &'static ResourceMeta,
    op: Operation,
    caller: &'a AuthContext,
    db: &DatabaseConnection,
) -> Result<Decided<'a>, ArcError> {
    decide_by(meta, &meta.permissions.rule(op), op.name(), caller, db).await
}

/// [`decide`] under `rule`, the rule of `asked` (an operation's or an action's name).
pub(crate) async fn decide_by<'a>(
    meta: &'static ResourceMeta,
    rule: &Rule,
    asked: &'static str,
    caller: &'a AuthContext,
    db: &DatabaseConnection,
) -> Result<Decided<'a>, ArcError> {
    // A signed-in caller's organization is checked before the app's code is asked.
    let tenancy_first = if caller.is_authenticated() {
        Some(tenancy(meta, caller)?)
    } else {
        None
    };
    let ctx = CheckContext {
        db,
        caller,
        resource: meta.name,
        operation: asked,
    };
    let answers = permissions::ask(rule, &ctx).await?;
    let rule = authorize_by(meta, rule, caller, &answers)?;
    let (tenant, owner) = match tenancy_first {
        Some(tenancy) => tenancy,
        None => tenancy(meta, caller)?,
    };
    Ok(Decided {
        meta,
        caller,
        rule,
        tenant,
        owner,
        answers,
    })
}

/// Whether `rule` (of `meta`'s resource) could let `caller` in: the caller's organization
/// as [`decide_by`] checks it, then the rule with every `when(..)` granted
/// ([`Answers::granting`]). Without the app's code or the database, so cheap enough to ask
/// of every operation at once (MCP's list of tools); a call is still decided by
/// [`decide_by`].
#[cfg(feature = "mcp")]
pub(crate) fn could_let_in(
    meta: &ResourceMeta,
    rule: &Rule,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    if caller.is_authenticated() {
        tenancy(meta, caller)?;
    }
    authorize_by(meta, rule, caller, &Answers::granting(rule)).map(|_| ())
}

/// The tenant and the owner rows are narrowed to, each as (field, value).
type Narrowing<'a> = (Option<(usize, &'a str)>, Option<(usize, &'a str)>);

/// The caller's tenant (`multi_tenant`) and, without a bypass role, the owner their rows are
/// narrowed to (`owned_by_user`). An [elevated](AuthContext::elevated) caller's rows are
/// narrowed to the organization they named, if any, and to no owner.
fn tenancy<'a>(meta: &ResourceMeta, caller: &'a AuthContext) -> Result<Narrowing<'a>, ArcError> {
    let presets = &meta.presets;
    let tenant = match presets.tenant {
        Some(_) if caller.elevated && caller.org_id.is_none() => None,
        Some(i) => Some((i, active_org(caller)?)),
        None => None,
    };
    let scope = meta.role_scope();
    let owner = match presets.owner {
        Some(i)
            if !caller.elevated
                && !presets
                    .owner_bypass
                    .iter()
                    .any(|role| caller.has_role_in(role, scope)) =>
        {
            Some((i, user(caller)?))
        }
        _ => None,
    };
    Ok((tenant, owner))
}

pub(super) fn active_org(caller: &AuthContext) -> Result<&str, ArcError> {
    caller.org_id.as_deref().ok_or_else(|| {
        ArcError::new(
            crate::error::ErrorCode::OrgSelectionRequired,
            "Select an organization (x-organization-id) for this resource",
        )
    })
}

pub(super) fn user(caller: &AuthContext) -> Result<&str, ArcError> {
    caller
        .user_id
        .as_deref()
        .ok_or_else(|| ArcError::unauthorized("Authentication required"))
}

/// Stamps a new row with its tenant and owner from the caller.
pub(super) fn stamp<R: Resource>(
    row: &mut R::ActiveModel,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    let presets = &R::META.presets;
    if let Some(i) = presets.tenant {
        row.try_set(
            R::column(i),
            Value::String(Some(active_org(caller)?.to_owned())),
        )?;
    }
    if let Some(i) = presets.owner {
        row.try_set(R::column(i), Value::String(Some(user(caller)?.to_owned())))?;
    }
    Ok(())
}

/// Like [`allowed`], for operations that create rows, where a row filter has nothing to
/// filter: only a full grant allows them.
pub(super) async fn may_create<R: Resource>(
    op: Operation,
    caller: &AuthContext,
    db: &DatabaseConnection,
) -> Result<(), ArcError> {
    match decide(R::META, op, caller, db).await?.rule {
        None => Ok(()),
        Some(_) => Err(ArcError::forbidden("You do not have permission to do this")),
    }
}

/// 403 naming every field of `body` that `caller` may not write (`writable_by`). Stricter
/// than arc, which drops such fields silently: a client never believes a write happened.
pub(super) fn check_writable<R: Resource>(
    body: &Map<String, Json>,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    // A field the caller cannot see is refused by the decoder as no field at all; naming it
    // here would tell them it exists.
    let known = FieldSet::known_to(R::META, caller);
    let refused: Vec<&str> = R::META
        .fields
        .iter()
        .enumerate()
        .filter(|(i, f)| {
            known.contains(*i) && !f.writable_by.is_empty() && body.contains_key(f.name)
        })
        .map(|(_, f)| f)
        .filter(|f| {
            !f.writable_by
                .iter()
                .any(|role| caller.has_role_in(role, R::META.role_scope()))
        })
        .map(|f| f.name)
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(
        ArcError::forbidden(format!("You may not write: {}", refused.join(", ")))
            .with_details(serde_json::json!({ "fields": refused })),
    )
}

/// A path id as a typed value; a malformed id is a 404, like a missing row.
pub(crate) fn parse_id(meta: &ResourceMeta, raw: &str) -> Result<Value, ArcError> {
    value::from_text(meta.id_field().ty, raw).map_err(|_| not_found(meta))
}

pub(super) fn not_found(meta: &ResourceMeta) -> ArcError {
    ArcError::not_found(format!("{} not found", meta.name))
}

/// One row by id, within `scope`.
pub(crate) async fn find<R: Resource, C: ConnectionTrait>(
    db: &C,
    id: Value,
    within: Condition,
) -> Result<R::Model, ArcError> {
    by_id::<R>(id, within)
        .one(db)
        .await?
        .ok_or_else(|| not_found(R::META))
}

/// The select of one row by id, within `within`.
fn by_id<R: Resource>(id: Value, within: Condition) -> sea_orm::Select<R::Entity> {
    R::Entity::find()
        .filter(within)
        .filter(R::column(R::META.id).eq(id))
}

/// [`find`], the row locked until the transaction ends: `FOR UPDATE` on PostgreSQL. SQLite
/// locks no rows: this process's writes take turns in the writer, and another process's
/// write between this read and this transaction's write makes the latter fail
/// (`SQLITE_BUSY_SNAPSHOT`) rather than be lost.
async fn find_locked<R: Resource, C: ConnectionTrait>(
    db: &C,
    id: Value,
    within: Condition,
) -> Result<R::Model, ArcError> {
    by_id::<R>(id, within)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(|| not_found(R::META))
}

/// The row a write works on (`rows`: what its rule allows within `within`), inside its transaction. A row the caller can read but
/// not change (an `owner` rule on the write, not on the read) is a 403 `OWNERSHIP_DENIED`;
/// a row the caller cannot read either stays a 404, so nothing leaks.
pub(super) async fn find_for_write<R: Resource, C: ConnectionTrait>(
    db: &C,
    hooks: &DatabaseConnection,
    id: Value,
    (within, rows): (Scope, Condition),
    caller: &AuthContext,
) -> Result<R::Model, ArcError> {
    match find_locked::<R, _>(db, id.clone(), rows).await {
        Err(e) if e.code() == crate::error::ErrorCode::NotFound => {
            let read = match within {
                Scope::Live => Operation::Get,
                Scope::Deleted => Operation::Deleted,
            };
            let Ok(readable) = allowed(R::META, within, read, caller, hooks).await else {
                return Err(e);
            };
            if find::<R, _>(db, id, readable).await.is_ok() {
                Err(ArcError::new(
                    crate::error::ErrorCode::OwnershipDenied,
                    format!("Only the owner may change this {}", R::META.name),
                ))
            } else {
                Err(e)
            }
        }
        other => other,
    }
}
