//! Who may touch which rows: the scope of a route, the rule's row filter, tenancy and
//! ownership, the stamping of new rows, and the lookup of the one row a route works on.
//!
//! Every read and write goes through [`scope`], the one place that decides which rows a
//! route can see (live rows, or deleted ones for the soft-delete routes), so a row outside it
//! is a 404 everywhere.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, Value,
};
use serde_json::{Map, Value as Json};

use crate::action::Operation;
use crate::auth::AuthContext;
use crate::error::ArcError;
use crate::permissions::authorize;
use crate::resource::{FieldSet, Resource};
use crate::value;

/// Which rows a route works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Rows that are not soft-deleted (every route but the two below).
    Live,
    /// Soft-deleted rows (`GET /deleted`, `POST /:id/restore`).
    Deleted,
}

/// The condition of the rows `scope` covers.
pub(crate) fn scope<R: Resource>(scope: Scope) -> Condition {
    let mut cond = Condition::all();
    if let Some(i) = R::META.presets.soft_delete {
        let col = R::column(i);
        cond = cond.add(match scope {
            Scope::Live => col.is_null(),
            Scope::Deleted => col.is_not_null(),
        });
    }
    cond
}

/// The rows `caller` may touch through `op`, within `within`: the scope condition plus the
/// rule's row filter. Denied callers get their 401/403 here, before any query.
pub(crate) fn allowed<R: Resource>(
    within: Scope,
    op: Operation,
    caller: &AuthContext,
) -> Result<Condition, ArcError> {
    let (rows, cond) = checked::<R>(op, caller, scope::<R>(within))?;
    Ok(match rows {
        Some(rows) => cond.add(rows),
        None => cond,
    })
}

/// `cond` narrowed to the caller's tenant (`multi_tenant`) and, without a bypass role, to
/// their own rows (`owned_by_user`).
pub(super) fn tenancy<R: Resource>(
    mut cond: Condition,
    caller: &AuthContext,
) -> Result<Condition, ArcError> {
    let presets = &R::META.presets;
    if let Some(i) = presets.tenant {
        cond = cond.add(R::column(i).eq(active_org(caller)?));
    }
    let scope = R::META.role_scope();
    if let Some(i) = presets.owner
        && !presets
            .owner_bypass
            .iter()
            .any(|role| caller.has_role_in(role, scope))
    {
        cond = cond.add(R::column(i).eq(user(caller)?));
    }
    Ok(cond)
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
pub(super) fn may_create<R: Resource>(op: Operation, caller: &AuthContext) -> Result<(), ArcError> {
    match checked::<R>(op, caller, Condition::all())? {
        (None, _) => Ok(()),
        (Some(_), _) => Err(ArcError::forbidden("You do not have permission to do this")),
    }
}

/// The rule's row filter and `cond` narrowed by [`tenancy`]. A signed-in caller without an
/// organization hears that first (`ORG_SELECTION_REQUIRED`), an anonymous one that they must
/// sign in (401).
pub(super) fn checked<R: Resource>(
    op: Operation,
    caller: &AuthContext,
    cond: Condition,
) -> Result<(Option<Condition>, Condition), ArcError> {
    if caller.is_authenticated() {
        let cond = tenancy::<R>(cond, caller)?;
        Ok((authorize::<R>(op, caller)?, cond))
    } else {
        let rows = authorize::<R>(op, caller)?;
        Ok((rows, tenancy::<R>(cond, caller)?))
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
pub(crate) fn parse_id<R: Resource>(raw: &str) -> Result<Value, ArcError> {
    value::from_text(R::META.id_field().ty, raw).map_err(|_| not_found::<R>())
}

pub(super) fn not_found<R: Resource>() -> ArcError {
    ArcError::not_found(format!("{} not found", R::META.name))
}

/// One row by id, within `scope`.
pub(super) async fn find<R: Resource, C: ConnectionTrait>(
    db: &C,
    id: Value,
    within: Condition,
) -> Result<R::Model, ArcError> {
    R::Entity::find()
        .filter(within)
        .filter(R::column(R::META.id).eq(id))
        .one(db)
        .await?
        .ok_or_else(not_found::<R>)
}

/// The row a write works on (`rows`: what its rule allows within `within`), inside its transaction. A row the caller can read but
/// not change (an `owner` rule on the write, not on the read) is a 403 `OWNERSHIP_DENIED`;
/// a row the caller cannot read either stays a 404, so nothing leaks.
pub(super) async fn find_for_write<R: Resource, C: ConnectionTrait>(
    db: &C,
    id: Value,
    (within, rows): (Scope, Condition),
    caller: &AuthContext,
) -> Result<R::Model, ArcError> {
    match find::<R, _>(db, id.clone(), rows).await {
        Err(e) if e.code() == crate::error::ErrorCode::NotFound => {
            let read = match within {
                Scope::Live => Operation::Get,
                Scope::Deleted => Operation::Deleted,
            };
            let Ok(readable) = allowed::<R>(within, read, caller) else {
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
