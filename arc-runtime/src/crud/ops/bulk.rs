//! The bulk writes: create many items all or nothing, and update or delete the rows a filter
//! selects, in one transaction (a bulk delete with nothing going with it, see
//! [`Alone`](super::written::Alone), is its one statement alone).

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    ModelTrait, PaginatorTrait, QueryFilter, QuerySelect, QueryTrait,
};
use serde_json::{Map, Value as Json};

use super::write::{insert, remove};
use super::written::{self, AfterCommit, Alone, Written};
use super::{MAX_BULK_ITEMS, decode_or_reject, fill_auto, id_text, now, set_values, shape};
use crate::action::Operation;
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::crud::access::{Scope, allowed, check_writable, decide, may_create};
use crate::crud::body::{self, Mode};
use crate::crud::response::{
    BulkCreated, BulkDeleted, BulkUpdated, DeleteCount, Rows, Success, UpdateCounts,
};
use crate::crud::{references, states};
use crate::error::{ArcError, FieldError};
use crate::events::Change;
use crate::hooks::{Hooks, WriteContext};
use crate::query::{self, sql};
use crate::resource::{Auto, FieldSet, Resource};

/// `POST /products/bulk` `{"items":[..]}`: all or nothing, every item's problems at once.
pub(crate) async fn bulk_create<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<BulkCreated<R>, ArcError> {
    may_create::<R>(Operation::Bulk, caller, state.db()).await?;
    may_create::<R>(Operation::Create, caller, state.db()).await?;
    let items = match body.get("items") {
        Some(Json::Array(items)) if !items.is_empty() => items,
        Some(Json::Array(_)) | None => {
            return Err(ArcError::bad_request(
                "Bulk create requires a non-empty `items` array",
            ));
        }
        Some(_) => return Err(ArcError::bad_request("`items` must be an array")),
    };
    if items.len() > MAX_BULK_ITEMS {
        return Err(ArcError::bad_request(format!(
            "at most {MAX_BULK_ITEMS} items per bulk create"
        )));
    }
    if let Some(key) = body.keys().find(|k| *k != "items") {
        return Err(ArcError::bad_request(format!(
            "unknown member `{key}` in bulk create body"
        )));
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let mut decoded = Vec::with_capacity(items.len());
    // Each decoded item's place in `items`, for its errors' names.
    let mut places = Vec::with_capacity(items.len());
    let known = FieldSet::known_to(R::META, caller);
    for (n, item) in items.iter().enumerate() {
        let prefix = format!("items[{n}].");
        match item {
            Json::Object(map) => {
                check_writable::<R>(map, caller)?;
                places.push(n);
                decoded.push(body::decode(
                    R::META,
                    known,
                    map,
                    Mode::Create,
                    &prefix,
                    &mut errors,
                ));
            }
            _ => errors.push(FieldError {
                field: format!("items[{n}]"),
                message: "must be an object".into(),
                keyword: "type",
            }),
        }
    }
    if !errors.is_empty() {
        return Err(ArcError::validation(errors));
    }
    let mut checked = references::Checked::default();
    for (n, values) in places.into_iter().zip(&decoded) {
        let prefix = format!("items[{n}].");
        checked
            .missing(
                state.db(),
                state.db(),
                R::META,
                values,
                caller,
                &prefix,
                &mut errors,
            )
            .await?;
    }
    if !errors.is_empty() {
        return Err(ArcError::validation(errors));
    }
    let txn = written::begin::<R>(state).await?;
    let mut created = Vec::with_capacity(decoded.len());
    for values in decoded {
        created.push(insert::<R>(state, &txn, caller, values).await?);
    }
    let after = written::record::<R>(state, &txn, caller, Written::created(&created)).await?;
    written::commit(state, R::META, txn, after).await?;
    Ok(BulkCreated(Rows::of(&created, shape(R::META, caller))))
}

/// The rows a bulk body's `filter` selects, inside the live scope.
/// A bulk update or delete needs the `bulk` rule and the rule of the operation it performs;
/// both row filters apply. A filter that selects every row by its construction alone
/// (`{"id": {"nin": []}}`) is refused like an empty one.
async fn bulk_filter<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    op: Operation,
    body: &Map<String, Json>,
) -> Result<Condition, ArcError> {
    let mut cond = allowed(R::META, Scope::Live, Operation::Bulk, caller, state.db()).await?;
    cond = decide(R::META, op, caller, state.db()).await?.rows(cond);
    let filter = body::object(body, "filter").map_err(ArcError::bad_request)?;
    let filters = query::parse::filters_from_json(
        R::META,
        shape(R::META, caller).fields,
        filter,
        state.query_limits(),
    )?;
    if filters
        .iter()
        .all(|f| f.matches_everything(&R::META.fields[f.field]))
    {
        return Err(ArcError::bad_request(
            "`filter` selects every row; a bulk write needs a filter that narrows it",
        ));
    }
    let backend = state.db().get_database_backend();
    for f in &filters {
        cond = cond.add(sql::filter_expr(R::META, f, backend));
    }
    Ok(cond)
}

fn only_members(body: &Map<String, Json>, allowed: &[&str]) -> Result<(), ArcError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ArcError::bad_request(format!(
            "unknown member `{key}` in bulk body"
        ))),
        None => Ok(()),
    }
}

/// The rows a bulk write of a resource with hooks (or an `audited` one) works on, locked
/// inside its transaction (`FOR UPDATE` on PostgreSQL; SQLite's write transaction holds the
/// database). Each of them runs its hooks or has its audit entry (made from it), so there
/// are at most [`MAX_BULK_ITEMS`], like a bulk create; more is a 400.
async fn bulk_rows<R: Resource>(
    txn: &sea_orm::DatabaseTransaction,
    cond: Condition,
) -> Result<Vec<R::Model>, ArcError> {
    let sort = query::parse::default_sort(R::META)?;
    let mut select = R::Entity::find().filter(cond);
    sql::order(R::META, QueryTrait::query(&mut select), &sort);
    let rows = select
        .limit(MAX_BULK_ITEMS as u64 + 1)
        .lock_exclusive()
        .all(txn)
        .await?;
    if rows.len() > MAX_BULK_ITEMS {
        return Err(ArcError::bad_request(format!(
            "the filter selects more than {MAX_BULK_ITEMS} rows, each of which runs the \
             resource's hooks or is audited; narrow it"
        )));
    }
    Ok(rows)
}

/// The rows whose ids are those of `rows`.
fn ids_of<R: Resource>(rows: &[R::Model]) -> Condition {
    let column = R::column(R::META.id);
    Condition::all().add(column.is_in(rows.iter().map(|m| m.get(column))))
}

/// `after` (the rows one statement returned) in the order of `before`, by id: the pairs
/// an audited bulk write's entries are made of.
fn aligned<R: Resource>(before: &[R::Model], after: Vec<R::Model>) -> Vec<R::Model> {
    let mut by_id: std::collections::HashMap<String, R::Model> =
        after.into_iter().map(|m| (id_text::<R>(&m), m)).collect();
    before
        .iter()
        .filter_map(|m| by_id.remove(&id_text::<R>(m)))
        .collect()
}

/// `PATCH /products/bulk` `{"filter":{..},"data":{..}}` → `{matchedCount, modifiedCount}`,
/// in one transaction. A resource with hooks updates row by row through `before_update` and
/// `after_update` (an error from any of them rolls the whole write back), and so does a
/// write of a field with declared states (each row's move is checked); any other runs a
/// single `UPDATE`, after reading (and locking) the rows it changes when the resource is
/// `audited` (their entries need the values before).
pub(crate) async fn bulk_update<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<BulkUpdated, ArcError> {
    only_members(body, &["filter", "data"])?;
    let cond = bulk_filter::<R>(state, caller, Operation::Update, body).await?;
    let data = body::object(body, "data").map_err(ArcError::bad_request)?;
    check_writable::<R>(data, caller)?;
    let values = decode_or_reject::<R>(caller, data, Mode::Patch)?;
    references::check(state.db(), state.db(), R::META, &values, caller).await?;
    let txn = written::begin::<R>(state).await?;
    // Row by row through the hooks, and wherever a field with declared states is written
    // (each row's move is its own).
    let row_by_row = R::DECLARED || states::touched(R::META.fields, values.iter().map(|v| v.0));
    let (matched, modified, after) = if row_by_row {
        let rows = bulk_rows::<R>(&txn, cond).await?;
        let ctx = WriteContext::new(state, &txn, caller);
        let mut updated = Vec::with_capacity(rows.len());
        for current in &rows {
            let mut row = current.clone().into_active_model();
            set_values::<R>(&mut row, values.clone())?;
            fill_auto::<R>(&mut row, Mode::Patch)?;
            R::before_update(&ctx, current, &mut row).await?;
            states::check::<R, _>(&*txn, state.db(), current, &row, caller).await?;
            let model = row.update(&*txn).await?;
            R::after_update(&ctx, current, &model).await?;
            updated.push(model);
        }
        let written = Written::changed(Change::Updated, &rows, &updated);
        let after = written::record::<R>(state, &txn, caller, written).await?;
        (rows.len() as u64, updated.len() as u64, after)
    } else {
        let mut update = R::Entity::update_many();
        let now = now();
        for (i, field) in R::META.fields.iter().enumerate() {
            if field.auto == Auto::UpdatedAt {
                update = update.col_expr(R::column(i), Expr::val(now.clone()));
            }
        }
        for (i, v) in values {
            update = update.col_expr(R::column(i), Expr::val(v));
        }
        if R::META.presets.audited {
            // The rows before, locked; then one statement over exactly them.
            let rows = bulk_rows::<R>(&txn, cond).await?;
            let updated = update
                .filter(ids_of::<R>(&rows))
                .exec_with_returning(&*txn)
                .await?;
            let updated = aligned::<R>(&rows, updated);
            let written = Written::changed(Change::Updated, &rows, &updated);
            let after = written::record::<R>(state, &txn, caller, written).await?;
            (rows.len() as u64, updated.len() as u64, after)
        } else {
            let matched = R::Entity::find().filter(cond.clone()).count(&*txn).await?;
            let update = update.filter(cond);
            let (modified, after) = if state.events().is_some() {
                // One statement still, returning the rows for their events.
                let updated = update.exec_with_returning(&*txn).await?;
                let written = Written::changed(Change::Updated, &[], &updated);
                let after = written::record::<R>(state, &txn, caller, written).await?;
                (updated.len() as u64, after)
            } else {
                let modified = update.exec(&*txn).await?.rows_affected;
                (modified, AfterCommit::default())
            };
            (matched, modified, after)
        }
    };
    written::commit(state, R::META, txn, after).await?;
    Ok(BulkUpdated {
        success: Success,
        data: UpdateCounts {
            matched_count: matched,
            modified_count: modified,
        },
    })
}

/// `DELETE /products/bulk` `{"filter":{..}}` → `{deletedCount}` (soft when the resource is),
/// in one transaction; row by row through `before_delete` and `after_delete` when the
/// resource has hooks, and otherwise in one statement (after reading and locking the rows
/// when the resource is `audited`).
pub(crate) async fn bulk_delete<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<BulkDeleted, ArcError> {
    only_members(body, &["filter"])?;
    let cond = bulk_filter::<R>(state, caller, Operation::Delete, body).await?;
    if let Some(alone) = Alone::of::<R>(state) {
        // One statement is the whole write.
        let deleted = delete_where::<R, _>(&*alone.writer().conn().await?, cond).await;
        return Ok(deleted_count(alone.done(deleted).await?));
    }
    let txn = written::begin::<R>(state).await?;
    let (deleted, after) = if R::DECLARED {
        let rows = bulk_rows::<R>(&txn, cond).await?;
        let ctx = WriteContext::new(state, &txn, caller);
        // The soft-deleted rows (none when rows are deleted for good).
        let mut soft = Vec::new();
        for current in &rows {
            R::before_delete(&ctx, current).await?;
            soft.extend(remove::<R>(&txn, current).await?);
            R::after_delete(&ctx, current).await?;
        }
        let written = Written::changed(Change::Deleted, &rows, &soft);
        let after = written::record::<R>(state, &txn, caller, written).await?;
        (rows.len() as u64, after)
    } else if R::META.presets.audited {
        // The rows before, locked; then one statement over exactly them.
        let rows = bulk_rows::<R>(&txn, cond).await?;
        let these = ids_of::<R>(&rows);
        let soft = match R::META.presets.soft_delete {
            Some(i) => {
                let soft = R::Entity::update_many()
                    .col_expr(R::column(i), Expr::val(now()))
                    .filter(these)
                    .exec_with_returning(&*txn)
                    .await?;
                aligned::<R>(&rows, soft)
            }
            None => {
                R::Entity::delete_many()
                    .filter(these)
                    .exec(&*txn)
                    .await
                    .map_err(references::still_referenced)?;
                Vec::new()
            }
        };
        let written = Written::changed(Change::Deleted, &rows, &soft);
        let after = written::record::<R>(state, &txn, caller, written).await?;
        (rows.len() as u64, after)
    } else if state.events().is_some() {
        // One statement still, returning the rows for their events.
        let deleted = match R::META.presets.soft_delete {
            Some(i) => {
                R::Entity::update_many()
                    .col_expr(R::column(i), Expr::val(now()))
                    .filter(cond)
                    .exec_with_returning(&*txn)
                    .await?
            }
            None => R::Entity::delete_many()
                .filter(cond)
                .exec_with_returning(&*txn)
                .await
                .map_err(references::still_referenced)?,
        };
        // The rows as they are now: soft-deleted, or as they were when deleted for good.
        let written = match R::META.presets.soft_delete {
            Some(_) => Written::changed(Change::Deleted, &[], &deleted),
            None => Written::changed(Change::Deleted, &deleted, &[]),
        };
        let after = written::record::<R>(state, &txn, caller, written).await?;
        (deleted.len() as u64, after)
    } else {
        // Nothing goes with the write, but the idempotency key it seals in its transaction.
        let deleted = delete_where::<R, _>(&*txn, cond).await?;
        (deleted, AfterCommit::default())
    };
    written::commit(state, R::META, txn, after).await?;
    Ok(deleted_count(deleted))
}

/// Deletes the rows `cond` selects in one statement (soft when the resource is), on `db`.
/// How many.
async fn delete_where<R: Resource, C: ConnectionTrait>(
    db: &C,
    cond: Condition,
) -> Result<u64, ArcError> {
    Ok(match R::META.presets.soft_delete {
        Some(i) => {
            R::Entity::update_many()
                .col_expr(R::column(i), Expr::val(now()))
                .filter(cond)
                .exec(db)
                .await?
                .rows_affected
        }
        None => {
            R::Entity::delete_many()
                .filter(cond)
                .exec(db)
                .await
                .map_err(references::still_referenced)?
                .rows_affected
        }
    })
}

fn deleted_count(deleted: u64) -> BulkDeleted {
    BulkDeleted {
        success: Success,
        data: DeleteCount {
            deleted_count: deleted,
        },
    }
}
