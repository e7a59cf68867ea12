//! The single-row writes, each in one transaction with the resource's hooks: create, update,
//! delete (soft or for good) and restore. A create with nothing going with it (see
//! [`Alone`](super::written::Alone)) is its `INSERT` alone.

use sea_orm::{ActiveModelTrait, IntoActiveModel, ModelTrait};
use serde_json::{Map, Value as Json};

use super::written::{self, AfterCommit, Alone, Written};
use super::{decode_or_reject, fill_auto, id_text, new_row, now, set_values, shape};
use crate::action::Operation;
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::crud::access::{
    Scope, allowed, check_writable, find_for_write, may_create, not_found, parse_id,
};
use crate::crud::body::{Mode, Values};
use crate::crud::response::{Created, Deleted, DeletedRow, One, Success};
use crate::crud::{references, states};
use crate::error::ArcError;
use crate::events::Change;
use crate::hooks::{Hooks, WriteContext};
use crate::resource::Resource;
use crate::value;

pub(super) async fn insert<R: Hooks>(
    state: &ArcState,
    txn: &crate::db::Txn,
    caller: &AuthContext,
    values: Values,
) -> Result<R::Model, ArcError> {
    let mut row = new_row::<R>(values, caller)?;
    let ctx = WriteContext::new(state, txn, caller);
    R::before_create(&ctx, &mut row).await?;
    let created = row.insert(&**txn).await?;
    R::after_create(&ctx, &created).await?;
    Ok(created)
}

/// `POST /products`: 201 with the row and a `Location` header.
pub(crate) async fn create<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<Created<R>, ArcError> {
    may_create::<R>(Operation::Create, caller, state.db()).await?;
    check_writable::<R>(body, caller)?;
    let values = decode_or_reject::<R>(caller, body, Mode::Create)?;
    references::check(state.db(), state.db(), R::META, &values, caller).await?;
    let model = if let Some(alone) = Alone::of::<R>(state) {
        let row = new_row::<R>(values, caller)?;
        let inserted = alone.writer().insert::<R::Entity>(row).await;
        alone.done(inserted).await?
    } else {
        let txn = written::begin::<R>(state).await?;
        let model = insert::<R>(state, &txn, caller, values).await?;
        let rows = std::slice::from_ref(&model);
        let after = written::record::<R>(state, &txn, caller, Written::created(rows)).await?;
        written::commit(state, R::META, txn, after).await?;
        model
    };
    let location = format!(
        "{}/{}",
        R::META.path_in(caller.org_id.as_deref()),
        id_text::<R>(&model)
    );
    Ok(Created {
        one: One::of(&model, shape(R::META, caller), Some("Created successfully")),
        location,
    })
}

/// `PATCH /products/:id` (and `PUT`): absent fields stay, `null` clears nullable ones.
pub(crate) async fn update<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
    body: &Map<String, Json>,
) -> Result<One<R>, ArcError> {
    let rows = allowed(R::META, Scope::Live, Operation::Update, caller, state.db()).await?;
    check_writable::<R>(body, caller)?;
    let id = parse_id(R::META, id)?;
    let values = decode_or_reject::<R>(caller, body, Mode::Patch)?;
    let txn = written::begin::<R>(state).await?;
    let write = (Scope::Live, rows);
    let current = find_for_write::<R, _>(&*txn, state.db(), id, write, caller).await?;
    // A reference the write changes must name a row the caller can read; one it keeps as it
    // is (a PUT sending the row back) is not asked again.
    let changed: Values = values
        .iter()
        .filter(|(i, v)| current.get(R::column(*i)) != *v)
        .cloned()
        .collect();
    references::check(&*txn, state.db(), R::META, &changed, caller).await?;
    let mut row = current.clone().into_active_model();
    let changes = !values.is_empty();
    set_values::<R>(&mut row, values)?;
    if changes {
        fill_auto::<R>(&mut row, Mode::Patch)?;
    }
    let model = store_update::<R>(state, txn, caller, current, row).await?;
    Ok(One::of(
        &model,
        shape(R::META, caller),
        Some("Updated successfully"),
    ))
}

/// The rest of a write that changes `current` into `row` in `txn` (an update, an action):
/// the `before_update` hook, the declared states' check, the `UPDATE` when anything changed,
/// `after_update`, the write's events and audit entries, and the commit. The row after.
pub(super) async fn store_update<R: Hooks>(
    state: &ArcState,
    txn: crate::db::Txn,
    caller: &AuthContext,
    current: R::Model,
    mut row: R::ActiveModel,
) -> Result<R::Model, ArcError> {
    let ctx = WriteContext::new(state, &txn, caller);
    R::before_update(&ctx, &current, &mut row).await?;
    states::check::<R, _>(&*txn, state.db(), &current, &row, caller).await?;
    let changed = row.is_changed();
    let model = if changed {
        row.update(&*txn).await?
    } else {
        current.clone()
    };
    R::after_update(&ctx, &current, &model).await?;
    let after = if changed {
        let (before, after) = (std::slice::from_ref(&current), std::slice::from_ref(&model));
        let rows = Written::changed(Change::Updated, before, after);
        written::record::<R>(state, &txn, caller, rows).await?
    } else {
        AfterCommit::default()
    };
    written::commit(state, R::META, txn, after).await?;
    Ok(model)
}

/// Deletes `current`: soft (its `deleted_at` set) when the resource has `soft_delete`, for good
/// otherwise. The soft-deleted row, or `None` when it is gone.
pub(super) async fn remove<R: Resource>(
    txn: &sea_orm::DatabaseTransaction,
    current: &R::Model,
) -> Result<Option<R::Model>, ArcError> {
    match R::META.presets.soft_delete {
        Some(i) => {
            let mut row = current.clone().into_active_model();
            row.try_set(R::column(i), now())?;
            Ok(Some(row.update(txn).await?))
        }
        None => {
            current
                .clone()
                .delete(txn)
                .await
                .map_err(references::still_referenced)?;
            Ok(None)
        }
    }
}

/// `DELETE /products/:id`: soft when the resource has `soft_delete`.
pub(crate) async fn delete<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
) -> Result<Deleted, ArcError> {
    let rows = allowed(R::META, Scope::Live, Operation::Delete, caller, state.db()).await?;
    let id = parse_id(R::META, id)?;
    let txn = written::begin::<R>(state).await?;
    let write = (Scope::Live, rows);
    let current = find_for_write::<R, _>(&*txn, state.db(), id, write, caller).await?;
    let ctx = WriteContext::new(state, &txn, caller);
    R::before_delete(&ctx, &current).await?;
    let removed = remove::<R>(&txn, &current).await?;
    R::after_delete(&ctx, &current).await?;
    let before = std::slice::from_ref(&current);
    let rows = Written::changed(Change::Deleted, before, removed.as_slice());
    let after = written::record::<R>(state, &txn, caller, rows).await?;
    let soft = removed.is_some();
    written::commit(state, R::META, txn, after).await?;
    Ok(Deleted {
        success: Success,
        data: DeletedRow {
            message: "Deleted successfully",
            id: id_text::<R>(&current),
            soft,
        },
    })
}

/// `POST /products/:id/restore`: a soft-deleted row back to life.
pub(crate) async fn restore<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
) -> Result<One<R>, ArcError> {
    let field = R::META
        .presets
        .soft_delete
        .ok_or_else(|| not_found(R::META))?;
    let rows = allowed(
        R::META,
        Scope::Deleted,
        Operation::Restore,
        caller,
        state.db(),
    )
    .await?;
    let id = parse_id(R::META, id)?;
    let txn = written::begin::<R>(state).await?;
    let write = (Scope::Deleted, rows);
    let current = find_for_write::<R, _>(&*txn, state.db(), id, write, caller).await?;
    let mut row = current.clone().into_active_model();
    row.try_set(R::column(field), value::null_of(R::META.fields[field].ty))?;
    fill_auto::<R>(&mut row, Mode::Patch)?;
    let ctx = WriteContext::new(state, &txn, caller);
    R::before_update(&ctx, &current, &mut row).await?;
    // A hook that moves a declared state on restore moves it as any write does.
    states::check::<R, _>(&*txn, state.db(), &current, &row, caller).await?;
    let model = row.update(&*txn).await?;
    R::after_update(&ctx, &current, &model).await?;
    let (before, after) = (std::slice::from_ref(&current), std::slice::from_ref(&model));
    let rows = Written::changed(Change::Restored, before, after);
    let after = written::record::<R>(state, &txn, caller, rows).await?;
    written::commit(state, R::META, txn, after).await?;
    Ok(One::of(
        &model,
        shape(R::META, caller),
        Some("Restored successfully"),
    ))
}
