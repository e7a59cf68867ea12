//! The reads: list (live or deleted), one row by id or slug, the tree and a node's children.
//!
//! Each decides first who may ask; on a cached resource, a request asked before is then
//! answered from the cache at once ([`cache::hit`]). Otherwise it decides what is asked (the
//! rows' scope, the caller's shape, the parsed query) and asks the database in a closure the
//! query cache runs when it has no current answer ([`cache::read`]): the SQL that closure
//! runs, and the shape, are the question.
//!
//! They take the resource's field table, not its type: compiled once for every resource, they
//! answer [`Erased`] outcomes (their rows carry the field table), which the handlers name for
//! their resource (`retype`) so the document still reads the route's answer from its type.

use sea_orm::sea_query::{ExprTrait, SelectStatement};
use sea_orm::{Condition, DbBackend, DbErr, Statement};

use super::{MAX_TREE_ROWS, kept, shape};
use crate::action::{Action, Operation};
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::cache::{self, Question};
use crate::crud::access::{Read, Scope, decide, not_found, parse_id, scope};
use crate::crud::populate::{self, Plan};
use crate::crud::record::Record;
use crate::crud::response::{
    Cached, Erased, KeysetPage, Listing, Nodes, One, Page, Rows, Selected, Success,
};
use crate::db::Reads;
use crate::error::ArcError;
use crate::query::{self, Paging, QuerySpec, parse::sort_text, sql};
use crate::resource::{ResourceMeta, Shape};
use crate::value;

/// The question the statement made by `asking` asks, as `action` of a caller shown `shape`
/// with the embeds `plans` read, when reads of `meta`'s resource are cached (`asking` is not
/// called otherwise).
fn question(
    meta: &ResourceMeta,
    state: &ArcState,
    action: Action,
    asking: impl FnOnce() -> Statement,
    shape: Shape,
    plans: &[Plan],
) -> Option<Question> {
    cache::caches(meta, state).then(|| {
        let question = Question::new(action).statement(&asking()).shape(shape);
        populate::ask(question, plans, state.reads())
    })
}

/// `select` built for the app's database, when asked.
fn built<'s>(state: &'s ArcState, select: &'s SelectStatement) -> impl FnOnce() -> Statement + 's {
    || state.db().get_database_backend().build(select)
}

/// The raw query of a route that reads only `populate` from it, for the cache's front
/// index: `None` on a resource without references to populate, whose answers it never
/// changes.
fn populating<'q>(meta: &ResourceMeta, raw_query: Option<&'q str>) -> Option<&'q str> {
    raw_query.filter(|_| meta.fields.iter().any(|f| f.populate.is_some()))
}

/// `GET /products` (and `GET /products/deleted` with [`Scope::Deleted`]).
pub(crate) async fn list(
    meta: &'static ResourceMeta,
    state: &ArcState,
    caller: &AuthContext,
    raw_query: Option<&str>,
    within: Scope,
) -> Result<Cached<Listing<Erased>>, ArcError> {
    let (op, action) = if within == Scope::Deleted {
        (Operation::Deleted, Action::Deleted)
    } else {
        (Operation::List, Action::List)
    };
    let decided = decide(meta, op, caller, state.db()).await?;
    let mut asked = cache::asked(meta, state, op, action, &[raw_query], caller);
    if let Some(hit) = cache::hit(meta, state, asked.as_mut()).await {
        return Ok(hit);
    }
    let rows = decided
        .readable(state.db(), Read::List, scope(meta, within))
        .await?;
    let shape = shape(meta, caller);
    let spec = query::parse_query(
        meta,
        raw_query,
        state.cursor_key(),
        state.query_limits(),
        shape.fields,
    )?;
    let shown = shape.select(spec.select);
    let plans = populate::plan(meta, &spec.populate, caller, state.db()).await?;
    let (base, page) = pages(meta, rows, &spec, state.reads().backend());
    let question = question(meta, state, action, built(state, &page), shown, &plans);
    let (page, count) = statements(base, page, &spec, state.reads().backend());
    Box::pin(cache::read(
        meta,
        state,
        asked,
        question,
        move |state| async move {
            let (docs, total) = fetch(state.reads(), meta, &page, count.as_ref()).await?;
            // Not the row a keyset page reads beyond itself to know there is a next one.
            let shown_rows = docs
                .len()
                .min(usize::try_from(spec.limit).unwrap_or(usize::MAX));
            let embeds = populate::fetch(state.reads(), plans, &docs[..shown_rows], shown).await?;
            Ok(listing(meta, &state, &spec, shown, docs, total).embedding(embeds))
        },
    ))
    .await
}

/// The queries of a list: the rows `spec` selects within `scope` (to count), and the page of
/// them to show (with keyset paging, one row more than a page).
fn pages(
    meta: &ResourceMeta,
    scope: Condition,
    spec: &QuerySpec,
    backend: DbBackend,
) -> (SelectStatement, SelectStatement) {
    let mut base = sql::select(meta);
    base.cond_where(sql::condition(meta, scope, spec, backend));
    let mut page = base.clone();
    match &spec.paging {
        Paging::Offset { page: number } => {
            let offset = (number - 1).saturating_mul(spec.limit);
            sql::order(meta, &mut page, &spec.sort);
            page.offset(offset).limit(spec.limit);
        }
        Paging::Keyset { after } => {
            if let Some(values) = after {
                page.cond_where(sql::after(meta, &spec.sort, values));
            }
            sql::order(meta, &mut page, &spec.sort);
            page.limit(spec.limit + 1);
        }
    }
    (base, page)
}

/// The statements of a list from its [`pages`]: the page and, with paging by number, the
/// count of every row `base` selects. Run by [`fetch`].
fn statements(
    base: SelectStatement,
    page: SelectStatement,
    spec: &QuerySpec,
    backend: DbBackend,
) -> (Statement, Option<Statement>) {
    let count =
        matches!(spec.paging, Paging::Offset { .. }).then(|| backend.build(&sql::count(base)));
    (backend.build(&page), count)
}

/// The statements of a list of `meta`'s rows within `scope` (see [`fetch`]).
pub(crate) fn list_statements(
    meta: &ResourceMeta,
    scope: Condition,
    spec: &QuerySpec,
    backend: DbBackend,
) -> (Statement, Option<Statement>) {
    let (base, page) = pages(meta, scope, spec, backend);
    statements(base, page, spec, backend)
}

/// The rows of a list's `page` statement, and what its `count` statement counts (0 without
/// one: keyset paging does not count). What [`listing`] makes an answer of.
pub(crate) async fn fetch(
    reads: Reads<'_>,
    meta: &'static ResourceMeta,
    page: &Statement,
    count: Option<&Statement>,
) -> Result<(Vec<Record>, u64), DbErr> {
    match count {
        Some(count) => {
            let (total, docs) = tokio::try_join!(reads.count(count), reads.records(meta, page))?;
            Ok((docs, total))
        }
        None => Ok((reads.records(meta, page).await?, 0)),
    }
}

/// A list's answer, from the rows its query `spec` found, each written as `shape` says: with
/// paging by number, the page's rows and `total`, the count of every row the query selects;
/// with keyset paging, up to one row more than a page (which says another page follows, and
/// is left out), and the cursor of the next page from the last row shown.
pub(crate) fn listing(
    meta: &'static ResourceMeta,
    state: &ArcState,
    spec: &QuerySpec,
    shape: Shape,
    mut docs: Vec<Record>,
    total: u64,
) -> Listing<Erased> {
    match &spec.paging {
        Paging::Offset { page } => {
            let pages = total.div_ceil(spec.limit);
            Listing::Page(Page {
                success: Success,
                docs: Selected(Rows::new(meta, docs, shape)),
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
                        .map(|k| value::to_cursor_text(last.get(k.field)))
                        .collect();
                    Some(
                        state
                            .cursor_key()
                            .encode(&sort_text(meta, &spec.sort), &values),
                    )
                }
                _ => None,
            };
            Listing::Keyset(KeysetPage {
                success: Success,
                docs: Selected(Rows::new(meta, docs, shape)),
                limit: spec.limit,
                has_next,
                next,
            })
        }
    }
}

/// `GET /products/:id` (with `populate` from `raw_query`; its other parameters are ignored).
pub(crate) async fn get(
    meta: &'static ResourceMeta,
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
    raw_query: Option<&str>,
) -> Result<Cached<One<Erased>>, ArcError> {
    let decided = decide(meta, Operation::Get, caller, state.db()).await?;
    let raw_query = populating(meta, raw_query);
    let mut asked = cache::asked(
        meta,
        state,
        Operation::Get,
        Action::Get,
        &[Some(id), raw_query],
        caller,
    );
    if let Some(hit) = cache::hit(meta, state, asked.as_mut()).await {
        return Ok(hit);
    }
    let id = parse_id(meta, id)?;
    let ask = kept::one_row(meta, state, &decided, meta.id, id).await?;
    one(meta, state, Action::Get, asked, ask, caller, raw_query).await
}

/// The one row the statement `ask` finds (a 404 without one), shown to `caller` with the
/// references `raw_query` populates.
async fn one(
    meta: &'static ResourceMeta,
    state: &ArcState,
    action: Action,
    asked: Option<cache::Asked>,
    ask: Statement,
    caller: &AuthContext,
    raw_query: Option<&str>,
) -> Result<Cached<One<Erased>>, ArcError> {
    let shape = shape(meta, caller);
    let asked_to =
        query::parse::parse_populate_only(meta, raw_query, state.query_limits(), shape.fields)?;
    let plans = populate::plan(meta, &asked_to, caller, state.db()).await?;
    let question = question(meta, state, action, || ask.clone(), shape, &plans);
    Box::pin(cache::read(
        meta,
        state,
        asked,
        question,
        move |state| async move {
            let mut found = state.reads().records(meta, &ask).await?;
            let record = found.pop().ok_or_else(|| not_found(meta))?;
            let embeds =
                populate::fetch(state.reads(), plans, std::slice::from_ref(&record), shape).await?;
            Ok(One::new(meta, record, shape, None).embedding(embeds))
        },
    ))
    .await
}

/// `GET /products/slug/:slug` (with `populate` from `raw_query`, as [`get`]).
pub(crate) async fn get_by_slug(
    meta: &'static ResourceMeta,
    state: &ArcState,
    caller: &AuthContext,
    slug: &str,
    raw_query: Option<&str>,
) -> Result<Cached<One<Erased>>, ArcError> {
    let field = meta.presets.slug_lookup.ok_or_else(|| not_found(meta))?;
    // No row holds a NUL (PostgreSQL text cannot): not found on either database.
    if slug.contains('\0') {
        return Err(not_found(meta));
    }
    let decided = decide(meta, Operation::Get, caller, state.db()).await?;
    let raw_query = populating(meta, raw_query);
    let mut asked = cache::asked(
        meta,
        state,
        Operation::Get,
        Action::BySlug,
        &[Some(slug), raw_query],
        caller,
    );
    if let Some(hit) = cache::hit(meta, state, asked.as_mut()).await {
        return Ok(hit);
    }
    let ask = kept::one_row(meta, state, &decided, field, slug.into()).await?;
    one(meta, state, Action::BySlug, asked, ask, caller, raw_query).await
}

/// `GET /categories/tree`: every live row, nested under its parent as `children`.
pub(crate) async fn tree(
    meta: &'static ResourceMeta,
    state: &ArcState,
    caller: &AuthContext,
) -> Result<Cached<Nodes<Erased>>, ArcError> {
    let parent = meta.presets.tree.ok_or_else(|| not_found(meta))?;
    let decided = decide(meta, Operation::Tree, caller, state.db()).await?;
    let mut asked = cache::asked(meta, state, Operation::Tree, Action::Tree, &[], caller);
    if let Some(hit) = cache::hit(meta, state, asked.as_mut()).await {
        return Ok(hit);
    }
    let sort = query::parse::default_sort(meta)?;
    let mut select = sql::select(meta);
    select.cond_where(
        decided
            .readable(state.db(), Read::List, scope(meta, Scope::Live))
            .await?,
    );
    sql::order(meta, &mut select, &sort);
    select.limit(MAX_TREE_ROWS + 1);
    let shape = shape(meta, caller);
    let question = question(meta, state, Action::Tree, built(state, &select), shape, &[]);
    let ask = state.reads().backend().build(&select);
    Box::pin(cache::read(
        meta,
        state,
        asked,
        question,
        move |state| async move {
            let rows = state.reads().records(meta, &ask).await?;
            if rows.len() as u64 > MAX_TREE_ROWS {
                return Err(ArcError::bad_request(format!(
                    "the tree has more than {MAX_TREE_ROWS} nodes; page through the list instead"
                )));
            }
            Ok(Nodes {
                rows: Rows::new(meta, rows, shape),
                tree: Some(parent),
            })
        },
    ))
    .await
}

/// `GET /categories/:parent_id/children`: the live rows whose parent is `parent_id`.
pub(crate) async fn children(
    meta: &'static ResourceMeta,
    state: &ArcState,
    caller: &AuthContext,
    parent_id: &str,
) -> Result<Cached<Nodes<Erased>>, ArcError> {
    let parent = meta.presets.tree.ok_or_else(|| not_found(meta))?;
    let decided = decide(meta, Operation::Tree, caller, state.db()).await?;
    let mut asked = cache::asked(
        meta,
        state,
        Operation::Tree,
        Action::Children,
        &[Some(parent_id)],
        caller,
    );
    if let Some(hit) = cache::hit(meta, state, asked.as_mut()).await {
        return Ok(hit);
    }
    let id = parse_id(meta, parent_id)?;
    let allowed = decided
        .readable(state.db(), Read::List, scope(meta, Scope::Live))
        .await?;
    let sort = query::parse::default_sort(meta)?;
    let mut select = sql::select(meta);
    select
        .cond_where(allowed.clone())
        .and_where(sql::column(meta, parent).eq(id.clone()));
    sql::order(meta, &mut select, &sort);
    select.limit(MAX_TREE_ROWS);
    let shape = shape(meta, caller);
    // The children's query names the parent and the caller's scope: the parent's lookup
    // asks nothing more.
    let question = question(
        meta,
        state,
        Action::Children,
        built(state, &select),
        shape,
        &[],
    );
    let ask = state.reads().backend().build(&select);
    let mut parent_row = sql::select(meta);
    parent_row
        .cond_where(allowed)
        .and_where(sql::column(meta, meta.id).eq(id))
        .limit(1);
    let parent_row = state.reads().backend().build(&parent_row);
    Box::pin(cache::read(
        meta,
        state,
        asked,
        question,
        move |state| async move {
            if state.reads().records(meta, &parent_row).await?.is_empty() {
                return Err(not_found(meta));
            }
            Ok(Nodes {
                rows: Rows::new(meta, state.reads().records(meta, &ask).await?, shape),
                tree: None,
            })
        },
    ))
    .await
}
