//! The reads: list (live or deleted), one row by id or slug, the tree and a node's children.

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
};

use super::{MAX_TREE_ROWS, shape};
use crate::action::Operation;
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::crud::access::{Scope, allowed, find, not_found, parse_id};
use crate::crud::response::{KeysetPage, Listing, Nodes, One, Page, Rows, Selected, Success};
use crate::error::ArcError;
use crate::query::{self, Paging, QuerySpec, parse::sort_text, sql};
use crate::resource::{Resource, Shape};
use crate::value;

/// `GET /products` (and `GET /products/deleted` with [`Scope::Deleted`]).
pub(crate) async fn list<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    raw_query: Option<&str>,
    within: Scope,
) -> Result<Listing<R>, ArcError> {
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
    let (docs, total) = fetch::<R>(state.db(), rows, &spec).await?;
    Ok(listing::<R>(
        state,
        &spec,
        shape.select(spec.select),
        docs,
        total,
    ))
}

/// The rows `spec` selects within `scope`, one page of them: with paging by number, the
/// page and the count of every row selected; with keyset paging, up to one row more than a
/// page after the cursor (and a count of 0, not asked). What [`listing`] makes an answer of.
pub(crate) async fn fetch<R: Resource>(
    db: &DatabaseConnection,
    scope: Condition,
    spec: &QuerySpec,
) -> Result<(Vec<R::Model>, u64), DbErr> {
    let cond = sql::condition::<R>(scope, spec, db.get_database_backend());
    let base = R::Entity::find().filter(cond);
    match &spec.paging {
        Paging::Offset { page } => {
            let offset = (page - 1).saturating_mul(spec.limit);
            let rows = sql::order::<R>(base.clone(), &spec.sort)
                .offset(offset)
                .limit(spec.limit);
            let (total, docs) = tokio::try_join!(base.count(db), rows.all(db))?;
            Ok((docs, total))
        }
        Paging::Keyset { after } => {
            let filtered = match after {
                Some(values) => base.filter(sql::after::<R>(&spec.sort, values)),
                None => base,
            };
            let docs = sql::order::<R>(filtered, &spec.sort)
                .limit(spec.limit + 1)
                .all(db)
                .await?;
            Ok((docs, 0))
        }
    }
}

/// A list's answer, from the rows its query `spec` found, each written as `shape` says: with
/// paging by number, the page's rows and `total`, the count of every row the query selects;
/// with keyset paging, up to one row more than a page (which says another page follows, and
/// is left out), and the cursor of the next page from the last row shown.
pub(crate) fn listing<R: Resource>(
    state: &ArcState,
    spec: &QuerySpec,
    shape: Shape,
    mut docs: Vec<R::Model>,
    total: u64,
) -> Listing<R> {
    match &spec.paging {
        Paging::Offset { page } => {
            let pages = total.div_ceil(spec.limit);
            Listing::Page(Page {
                success: Success,
                docs: Selected(Rows {
                    models: docs,
                    shape,
                }),
                page: *page,
                limit: spec.limit,
                total,
                pages,
                has_next: *page < pages,
                has_prev: *page > 1,
            })
        }
        Paging::Keyset { .. } => {
            let has_next = docs.len() as u64 > spec.limit;
            docs.truncate(usize::try_from(spec.limit).unwrap_or(usize::MAX));
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
                            .encode(&sort_text(R::META, &spec.sort), &values),
                    )
                }
                _ => None,
            };
            Listing::Keyset(KeysetPage {
                success: Success,
                docs: Selected(Rows {
                    models: docs,
                    shape,
                }),
                limit: spec.limit,
                has_next,
                next,
            })
        }
    }
}

/// `GET /products/:id`
pub(crate) async fn get<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
) -> Result<One<R>, ArcError> {
    let rows = allowed::<R>(Scope::Live, Operation::Get, caller)?;
    let model = find::<R, _>(state.db(), parse_id::<R>(id)?, rows).await?;
    Ok(One::new(model, shape::<R>(caller), None))
}

/// `GET /products/slug/:slug`
pub(crate) async fn get_by_slug<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    slug: &str,
) -> Result<One<R>, ArcError> {
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
    Ok(One::new(model, shape::<R>(caller), None))
}
/// `GET /categories/tree`: every live row, nested under its parent as `children`.
pub(crate) async fn tree<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
) -> Result<Nodes<R>, ArcError> {
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
    Ok(Nodes {
        rows: Rows {
            models: rows,
            shape: shape::<R>(caller),
        },
        tree: Some(parent),
    })
}

/// `GET /categories/:parent_id/children`: the live rows whose parent is `parent_id`.
pub(crate) async fn children<R: Resource>(
    state: &ArcState,
    caller: &AuthContext,
    parent_id: &str,
) -> Result<Nodes<R>, ArcError> {
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
    Ok(Nodes {
        rows: Rows {
            models: rows,
            shape: shape::<R>(caller),
        },
        tree: None,
    })
}
