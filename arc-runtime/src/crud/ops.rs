//! The CRUD operations and preset routes, generic over the resource.
//!
//! Every read and write goes through [`scope`], the one place that decides which rows a
//! route can see (live rows, or deleted ones for the soft-delete routes), so a row outside it
//! is a 404 everywhere. Writes run in one transaction with the resource's hooks.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    ModelTrait, PaginatorTrait, QueryFilter, QuerySelect, TransactionTrait, Value,
};
use serde_json::{Map, Value as Json};

use super::body::{self, Mode, Values};
use super::response::{self, Data, KeysetPage, OffsetPage, Record, Records};
use super::tree;
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::error::{ArcError, FieldError};
use crate::hooks::{Hooks, WriteContext};
use crate::permissions::{Operation, authorize};
use crate::query::{self, Paging, parse::sort_text, sql};
use crate::resource::{Auto, Resource, Shape};
use crate::value;

/// The most items of one bulk create.
pub const MAX_BULK_ITEMS: usize = 1000;
/// The most rows the tree route assembles.
pub const MAX_TREE_ROWS: u64 = 10_000;

/// Which rows a route works on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Rows that are not soft-deleted (every route but the two below).
    Live,
    /// Soft-deleted rows (`GET /deleted`, `POST /:id/restore`).
    Deleted,
}

/// The condition of the rows `scope` covers.
pub fn scope<R: Resource>(scope: Scope) -> Condition {
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
pub fn allowed<R: Resource>(
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
fn tenancy<R: Resource>(mut cond: Condition, caller: &AuthContext) -> Result<Condition, ArcError> {
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

fn active_org(caller: &AuthContext) -> Result<&str, ArcError> {
    caller.org_id.as_deref().ok_or_else(|| {
        ArcError::new(
            crate::error::ErrorCode::OrgSelectionRequired,
            "Select an organization (x-organization-id) for this resource",
        )
    })
}

fn user(caller: &AuthContext) -> Result<&str, ArcError> {
    caller
        .user_id
        .as_deref()
        .ok_or_else(|| ArcError::unauthorized("Authentication required"))
}

/// Stamps a new row with its tenant and owner from the caller.
fn stamp<R: Resource>(row: &mut R::ActiveModel, caller: &AuthContext) -> Result<(), ArcError> {
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
fn may_create<R: Resource>(op: Operation, caller: &AuthContext) -> Result<(), ArcError> {
    match checked::<R>(op, caller, Condition::all())? {
        (None, _) => Ok(()),
        (Some(_), _) => Err(ArcError::forbidden("You do not have permission to do this")),
    }
}

/// The rule's row filter and `cond` narrowed by [`tenancy`]. A signed-in caller without an
/// organization hears that first (`ORG_SELECTION_REQUIRED`), an anonymous one that they must
/// sign in (401).
fn checked<R: Resource>(
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
fn check_writable<R: Resource>(
    body: &Map<String, Json>,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    let refused: Vec<&str> = R::META
        .fields
        .iter()
        .filter(|f| !f.writable_by.is_empty() && body.contains_key(f.name))
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
pub fn parse_id<R: Resource>(raw: &str) -> Result<Value, ArcError> {
    value::from_text(R::META.id_field().ty, raw).map_err(|_| not_found::<R>())
}

fn not_found<R: Resource>() -> ArcError {
    ArcError::not_found(format!("{} not found", R::META.name))
}

/// One row by id, within `scope`.
async fn find<R: Resource, C: ConnectionTrait>(
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
async fn find_for_write<R: Resource, C: ConnectionTrait>(
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

fn now() -> Value {
    Value::ChronoDateTimeUtc(Some(chrono::Utc::now()))
}

/// Sets the fields the server fills in: ids and timestamps on create, `updated_at` on update.
/// One clock reading serves every timestamp of the write.
fn fill_auto<R: Resource>(row: &mut R::ActiveModel, mode: Mode) -> Result<(), ArcError> {
    let now = now();
    for (i, field) in R::META.fields.iter().enumerate() {
        let value = match (field.auto, mode) {
            (Auto::Uuid, Mode::Create) => Value::Uuid(Some(uuid::Uuid::new_v4())),
            (Auto::CreatedAt, Mode::Create) | (Auto::UpdatedAt, _) => now.clone(),
            _ => continue,
        };
        row.try_set(R::column(i), value)?;
    }
    Ok(())
}

fn set_values<R: Resource>(row: &mut R::ActiveModel, values: Values) -> Result<(), ArcError> {
    for (i, value) in values {
        row.try_set(R::column(i), value)?;
    }
    Ok(())
}

/// A new row from decoded create values, with defaults and automatic fields.
fn new_row<R: Resource>(values: Values, caller: &AuthContext) -> Result<R::ActiveModel, ArcError> {
    let mut row = <R::ActiveModel as ActiveModelTrait>::default();
    for (i, field) in R::META.fields.iter().enumerate() {
        if let Some(default) = field.default {
            row.try_set(R::column(i), default())?;
        }
    }
    set_values::<R>(&mut row, values)?;
    fill_auto::<R>(&mut row, Mode::Create)?;
    stamp::<R>(&mut row, caller)?;
    Ok(row)
}

fn decode_or_reject(
    meta: &crate::resource::ResourceMeta,
    body: &Map<String, Json>,
    mode: Mode,
) -> Result<Values, ArcError> {
    let mut errors = Vec::new();
    let values = body::decode(meta, body, mode, "", &mut errors);
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(ArcError::validation(errors))
    }
}

/// What `caller` is shown of each row.
fn shape<R: Resource>(caller: &AuthContext) -> Shape {
    Shape::for_caller(R::META, caller)
}

fn id_text<R: Resource>(model: &R::Model) -> String {
    value::to_cursor_text(&model.get(R::column(R::META.id))).unwrap_or_default()
}

/// `GET /products` (and `GET /products/deleted` with [`Scope::Deleted`]).
pub async fn list<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    raw_query: Option<&str>,
    within: Scope,
) -> Result<Response, ArcError> {
    let meta = R::META;
    let op = if within == Scope::Deleted {
        Operation::Deleted
    } else {
        Operation::List
    };
    let rows = allowed::<R>(within, op, caller)?;
    let shape = shape::<R>(caller);
    let spec = query::parse_query(
        meta,
        raw_query,
        state.cursor_key(),
        state.query_limits(),
        shape.fields,
    )?;
    let db = state.db();
    let cond = sql::condition::<R>(rows, &spec, db.get_database_backend());
    let base = R::Entity::find().filter(cond);
    match &spec.paging {
        Paging::Offset { page } => {
            let offset = (page - 1).saturating_mul(spec.limit);
            let rows = sql::order::<R>(base.clone(), &spec.sort)
                .offset(offset)
                .limit(spec.limit);
            let (total, docs) = tokio::try_join!(base.count(db), rows.all(db))?;
            let pages = total.div_ceil(spec.limit);
            response::json(
                StatusCode::OK,
                &OffsetPage {
                    success: true,
                    docs: Records::<R> {
                        models: &docs,
                        shape: shape.select(spec.select),
                    },
                    page: *page,
                    limit: spec.limit,
                    total,
                    pages,
                    has_next: *page < pages,
                    has_prev: *page > 1,
                },
            )
        }
        Paging::Keyset { after } => {
            let filtered = match after {
                Some(values) => base.filter(sql::after::<R>(&spec.sort, values)),
                None => base,
            };
            let mut docs = sql::order::<R>(filtered, &spec.sort)
                .limit(spec.limit + 1)
                .all(db)
                .await?;
            let has_next = docs.len() as u64 > spec.limit;
            docs.truncate(spec.limit as usize);
            let next = match docs.last() {
                Some(last) if has_next => {
                    let values: Vec<Option<String>> = spec
                        .sort
                        .iter()
                        .map(|k| value::to_cursor_text(&last.get(R::column(k.field))))
                        .collect();
                    Some(
                        state
                            .cursor_key()
                            .encode(&sort_text(meta, &spec.sort), &values),
                    )
                }
                _ => None,
            };
            response::json(
                StatusCode::OK,
                &KeysetPage {
                    success: true,
                    docs: Records::<R> {
                        models: &docs,
                        shape: shape.select(spec.select),
                    },
                    limit: spec.limit,
                    has_next,
                    next,
                },
            )
        }
    }
}

/// `GET /products/:id`
pub async fn get<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
) -> Result<Response, ArcError> {
    let rows = allowed::<R>(Scope::Live, Operation::Get, caller)?;
    let model = find::<R, _>(state.db(), parse_id::<R>(id)?, rows).await?;
    response::json(
        StatusCode::OK,
        &Data::new(Record::<R> {
            model: &model,
            shape: shape::<R>(caller),
        }),
    )
}

/// `GET /products/slug/:slug`
pub async fn get_by_slug<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    slug: &str,
) -> Result<Response, ArcError> {
    let field = R::META.presets.slug_lookup.ok_or_else(not_found::<R>)?;
    // No row holds a NUL (PostgreSQL text cannot): not found on either database.
    if slug.contains('\0') {
        return Err(not_found::<R>());
    }
    let rows = allowed::<R>(Scope::Live, Operation::Get, caller)?;
    let model = R::Entity::find()
        .filter(rows)
        .filter(R::column(field).eq(slug))
        .one(state.db())
        .await?
        .ok_or_else(not_found::<R>)?;
    response::json(
        StatusCode::OK,
        &Data::new(Record::<R> {
            model: &model,
            shape: shape::<R>(caller),
        }),
    )
}

async fn insert<R: Hooks>(
    txn: &sea_orm::DatabaseTransaction,
    caller: &AuthContext,
    values: Values,
) -> Result<R::Model, ArcError> {
    let mut row = new_row::<R>(values, caller)?;
    let ctx = WriteContext { txn, caller };
    R::before_create(&ctx, &mut row).await?;
    let created = row.insert(txn).await?;
    R::after_create(&ctx, &created).await?;
    Ok(created)
}

/// `POST /products`: 201 with the row and a `Location` header.
pub async fn create<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<Response, ArcError> {
    may_create::<R>(Operation::Create, caller)?;
    check_writable::<R>(body, caller)?;
    let values = decode_or_reject(R::META, body, Mode::Create)?;
    let db = state.db();
    let txn = db.begin().await?;
    let model = insert::<R>(&txn, caller, values).await?;
    txn.commit().await?;
    let data = Data::new(Record::<R> {
        model: &model,
        shape: shape::<R>(caller),
    })
    .with_message("Created successfully");
    let mut response = response::json(StatusCode::CREATED, &data)?;
    let location = format!("{}/{}", R::META.path, id_text::<R>(&model));
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `PATCH /products/:id` (and `PUT`): absent fields stay, `null` clears nullable ones.
pub async fn update<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
    body: &Map<String, Json>,
) -> Result<Response, ArcError> {
    let rows = allowed::<R>(Scope::Live, Operation::Update, caller)?;
    check_writable::<R>(body, caller)?;
    let id = parse_id::<R>(id)?;
    let values = decode_or_reject(R::META, body, Mode::Patch)?;
    let db = state.db();
    let txn = db.begin().await?;
    let write = (Scope::Live, rows);
    let current = find_for_write::<R, _>(&txn, id, write, caller).await?;
    let mut row = current.clone().into_active_model();
    let changes = !values.is_empty();
    set_values::<R>(&mut row, values)?;
    if changes {
        fill_auto::<R>(&mut row, Mode::Patch)?;
    }
    let ctx = WriteContext { txn: &txn, caller };
    R::before_update(&ctx, &current, &mut row).await?;
    let model = if row.is_changed() {
        row.update(&txn).await?
    } else {
        current.clone()
    };
    R::after_update(&ctx, &current, &model).await?;
    txn.commit().await?;
    let data = Data::new(Record::<R> {
        model: &model,
        shape: shape::<R>(caller),
    })
    .with_message("Updated successfully");
    response::json(StatusCode::OK, &data)
}

/// Deletes `current`: soft (its `deleted_at` set) when the resource has `soft_delete`, for good
/// otherwise. Whether it was soft.
async fn remove<R: Resource>(
    txn: &sea_orm::DatabaseTransaction,
    current: &R::Model,
) -> Result<bool, ArcError> {
    match R::META.presets.soft_delete {
        Some(i) => {
            let mut row = current.clone().into_active_model();
            row.try_set(R::column(i), now())?;
            row.update(txn).await?;
            Ok(true)
        }
        None => {
            current.clone().delete(txn).await?;
            Ok(false)
        }
    }
}

#[derive(serde::Serialize)]
struct Deleted<'a> {
    message: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    soft: bool,
}

/// `DELETE /products/:id`: soft when the resource has `soft_delete`.
pub async fn delete<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
) -> Result<Response, ArcError> {
    let rows = allowed::<R>(Scope::Live, Operation::Delete, caller)?;
    let id = parse_id::<R>(id)?;
    let db = state.db();
    let txn = db.begin().await?;
    let write = (Scope::Live, rows);
    let current = find_for_write::<R, _>(&txn, id, write, caller).await?;
    let ctx = WriteContext { txn: &txn, caller };
    R::before_delete(&ctx, &current).await?;
    let soft = remove::<R>(&txn, &current).await?;
    R::after_delete(&ctx, &current).await?;
    txn.commit().await?;
    let id = id_text::<R>(&current);
    let body = Data::new(Deleted {
        message: "Deleted successfully",
        id: &id,
        soft,
    });
    response::json(StatusCode::OK, &body)
}

/// `POST /products/:id/restore`: a soft-deleted row back to life.
pub async fn restore<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
) -> Result<Response, ArcError> {
    let field = R::META.presets.soft_delete.ok_or_else(not_found::<R>)?;
    let rows = allowed::<R>(Scope::Deleted, Operation::Restore, caller)?;
    let id = parse_id::<R>(id)?;
    let db = state.db();
    let txn = db.begin().await?;
    let write = (Scope::Deleted, rows);
    let current = find_for_write::<R, _>(&txn, id, write, caller).await?;
    let mut row = current.clone().into_active_model();
    row.try_set(R::column(field), value::null_of(R::META.fields[field].ty))?;
    fill_auto::<R>(&mut row, Mode::Patch)?;
    let ctx = WriteContext { txn: &txn, caller };
    R::before_update(&ctx, &current, &mut row).await?;
    let model = row.update(&txn).await?;
    R::after_update(&ctx, &current, &model).await?;
    txn.commit().await?;
    let data = Data::new(Record::<R> {
        model: &model,
        shape: shape::<R>(caller),
    })
    .with_message("Restored successfully");
    response::json(StatusCode::OK, &data)
}

/// `GET /categories/tree`: every live row, nested under its parent as `children`.
pub async fn tree<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
) -> Result<Response, ArcError> {
    let parent = R::META.presets.tree.ok_or_else(not_found::<R>)?;
    let allowed = allowed::<R>(Scope::Live, Operation::Tree, caller)?;
    let sort = query::parse::default_sort(R::META)?;
    let rows = sql::order::<R>(R::Entity::find().filter(allowed), &sort)
        .limit(MAX_TREE_ROWS + 1)
        .all(state.db())
        .await?;
    if rows.len() as u64 > MAX_TREE_ROWS {
        return Err(ArcError::bad_request(format!(
            "the tree has more than {MAX_TREE_ROWS} nodes; page through the list instead"
        )));
    }
    let forest = tree::Forest::<R>::build(&rows, parent, shape::<R>(caller));
    response::json(StatusCode::OK, &Data::new(forest))
}

/// `GET /categories/:parent_id/children`: the live rows whose parent is `parent_id`.
pub async fn children<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    parent_id: &str,
) -> Result<Response, ArcError> {
    let parent = R::META.presets.tree.ok_or_else(not_found::<R>)?;
    let allowed = allowed::<R>(Scope::Live, Operation::Tree, caller)?;
    let id = parse_id::<R>(parent_id)?;
    let db = state.db();
    find::<R, _>(db, id.clone(), allowed.clone()).await?;
    let sort = query::parse::default_sort(R::META)?;
    let rows = sql::order::<R>(
        R::Entity::find()
            .filter(allowed)
            .filter(R::column(parent).eq(id)),
        &sort,
    )
    .limit(MAX_TREE_ROWS)
    .all(db)
    .await?;
    response::json(
        StatusCode::OK,
        &Data::new(Records::<R> {
            models: &rows,
            shape: shape::<R>(caller),
        }),
    )
}

/// `POST /products/bulk` `{"items":[..]}`: all or nothing, every item's problems at once.
pub async fn bulk_create<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<Response, ArcError> {
    may_create::<R>(Operation::Bulk, caller)?;
    may_create::<R>(Operation::Create, caller)?;
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
    for (n, item) in items.iter().enumerate() {
        let prefix = format!("items[{n}].");
        match item {
            Json::Object(map) => {
                check_writable::<R>(map, caller)?;
                decoded.push(body::decode(
                    R::META,
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
    let db = state.db();
    let txn = db.begin().await?;
    let mut created = Vec::with_capacity(decoded.len());
    for values in decoded {
        created.push(insert::<R>(&txn, caller, values).await?);
    }
    txn.commit().await?;
    let count = created.len();
    let mut data = Data::new(Records::<R> {
        models: &created,
        shape: shape::<R>(caller),
    });
    data.count = Some(count);
    response::json(StatusCode::CREATED, &data)
}

/// The rows a bulk body's `filter` selects, inside the live scope.
/// A bulk update or delete needs the `bulk` rule and the rule of the operation it performs;
/// both row filters apply. A filter that selects every row by its construction alone
/// (`{"id": {"nin": []}}`) is refused like an empty one.
fn bulk_filter<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    op: Operation,
    body: &Map<String, Json>,
) -> Result<Condition, ArcError> {
    let mut cond = allowed::<R>(Scope::Live, Operation::Bulk, caller)?;
    if let Some(rows) = authorize::<R>(op, caller)? {
        cond = cond.add(rows);
    }
    let filter = body::object(body, "filter").map_err(ArcError::bad_request)?;
    let filters = query::parse::filters_from_json(
        R::META,
        shape::<R>(caller).fields,
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
        cond = cond.add(sql::filter_expr::<R>(f, backend));
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

/// The rows a bulk write of a resource with hooks works on, locked inside its transaction
/// (`FOR UPDATE` on PostgreSQL; SQLite's write transaction holds the database). Each of them
/// runs its hooks, so there are at most [`MAX_BULK_ITEMS`], like a bulk create; more is a 400.
async fn bulk_rows<R: Resource>(
    txn: &sea_orm::DatabaseTransaction,
    cond: Condition,
) -> Result<Vec<R::Model>, ArcError> {
    let sort = query::parse::default_sort(R::META)?;
    let rows = sql::order::<R>(R::Entity::find().filter(cond), &sort)
        .limit(MAX_BULK_ITEMS as u64 + 1)
        .lock_exclusive()
        .all(txn)
        .await?;
    if rows.len() > MAX_BULK_ITEMS {
        return Err(ArcError::bad_request(format!(
            "the filter selects more than {MAX_BULK_ITEMS} rows, each of which runs the \
             resource's hooks; narrow it"
        )));
    }
    Ok(rows)
}

/// `PATCH /products/bulk` `{"filter":{..},"data":{..}}` → `{matchedCount, modifiedCount}`,
/// in one transaction. A resource with hooks updates row by row through `before_update` and
/// `after_update` (an error from any of them rolls the whole write back); one without runs a
/// single `UPDATE`.
pub async fn bulk_update<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<Response, ArcError> {
    only_members(body, &["filter", "data"])?;
    let cond = bulk_filter::<R>(state, caller, Operation::Update, body)?;
    let data = body::object(body, "data").map_err(ArcError::bad_request)?;
    check_writable::<R>(data, caller)?;
    let values = decode_or_reject(R::META, data, Mode::Patch)?;
    let txn = state.db().begin().await?;
    let (matched, modified) = if R::DECLARED {
        let rows = bulk_rows::<R>(&txn, cond).await?;
        let ctx = WriteContext { txn: &txn, caller };
        let mut modified = 0u64;
        for current in &rows {
            let mut row = current.clone().into_active_model();
            set_values::<R>(&mut row, values.clone())?;
            fill_auto::<R>(&mut row, Mode::Patch)?;
            R::before_update(&ctx, current, &mut row).await?;
            let model = row.update(&txn).await?;
            R::after_update(&ctx, current, &model).await?;
            modified += 1;
        }
        (rows.len() as u64, modified)
    } else {
        let matched = R::Entity::find().filter(cond.clone()).count(&txn).await?;
        let mut update = R::Entity::update_many().filter(cond);
        let now = now();
        for (i, field) in R::META.fields.iter().enumerate() {
            if field.auto == Auto::UpdatedAt {
                update = update.col_expr(R::column(i), Expr::val(now.clone()));
            }
        }
        for (i, v) in values {
            update = update.col_expr(R::column(i), Expr::val(v));
        }
        (matched, update.exec(&txn).await?.rows_affected)
    };
    txn.commit().await?;
    let counts = serde_json::json!({ "matchedCount": matched, "modifiedCount": modified });
    response::json(StatusCode::OK, &Data::new(counts))
}

/// `DELETE /products/bulk` `{"filter":{..}}` → `{deletedCount}` (soft when the resource is),
/// in one transaction; row by row through `before_delete` and `after_delete` when the
/// resource has hooks.
pub async fn bulk_delete<R: Hooks>(
    state: &ArcState,
    caller: &AuthContext,
    body: &Map<String, Json>,
) -> Result<Response, ArcError> {
    only_members(body, &["filter"])?;
    let cond = bulk_filter::<R>(state, caller, Operation::Delete, body)?;
    let txn = state.db().begin().await?;
    let deleted = if R::DECLARED {
        let rows = bulk_rows::<R>(&txn, cond).await?;
        let ctx = WriteContext { txn: &txn, caller };
        for current in &rows {
            R::before_delete(&ctx, current).await?;
            remove::<R>(&txn, current).await?;
            R::after_delete(&ctx, current).await?;
        }
        rows.len() as u64
    } else {
        match R::META.presets.soft_delete {
            Some(i) => {
                R::Entity::update_many()
                    .col_expr(R::column(i), Expr::val(now()))
                    .filter(cond)
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
            None => {
                R::Entity::delete_many()
                    .filter(cond)
                    .exec(&txn)
                    .await?
                    .rows_affected
            }
        }
    };
    txn.commit().await?;
    response::json(
        StatusCode::OK,
        &Data::new(serde_json::json!({ "deletedCount": deleted })),
    )
}
