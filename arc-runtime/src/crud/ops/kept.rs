//! The statements of the reads of one row (a get by id, a slug lookup), kept per shape.
//!
//! When a caller's row filter is the tenant and the owner alone (no row rule, no read hook),
//! the SQL of such a read depends on the resource, the field looked up and which of the two
//! narrow it, never on the caller: it is built with sea-query once per app and shape, and a
//! later read only binds its values. A shape is kept only once its first statement has shown
//! that the values bound in that order are exactly those sea-query bound, so a statement
//! from the store asks what a built one would.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use rustc_hash::FxBuildHasher;
use sea_orm::sea_query::{ExprTrait, Values};
use sea_orm::{Statement, Value};

use super::Scope;
use crate::app::ArcState;
use crate::crud::access::{Decided, Read, scope};
use crate::error::ArcError;
use crate::query::sql;
use crate::resource::ResourceMeta;

/// What the text of a one-row read depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Shape {
    /// The resource's description, by address. It is static data: an address holds the same
    /// description for the life of the process (two byte-identical ones may share it, with
    /// the same SQL; one seen at two addresses is kept twice).
    meta: usize,
    /// The field compared with the value looked up.
    field: usize,
    /// The tenant's field, when the caller is narrowed to a tenant.
    tenant: Option<usize>,
    /// The owner's field, when the caller is narrowed to their own rows.
    owner: Option<usize>,
}

/// The SQL of each shape seen, for one app (one database backend).
#[derive(Debug, Default)]
pub(crate) struct Kept(RwLock<HashMap<Shape, Box<str>, FxBuildHasher>>);

impl Kept {
    /// The SQL of `shape`, copied out under the lock (a statement owns its text).
    fn get(&self, shape: &Shape) -> Option<String> {
        let kept = self.0.read().unwrap_or_else(PoisonError::into_inner);
        kept.get(shape).map(|sql| String::from(&**sql))
    }

    fn keep(&self, shape: Shape, sql: &str) {
        let mut kept = self.0.write().unwrap_or_else(PoisonError::into_inner);
        kept.entry(shape).or_insert_with(|| sql.into());
    }
}

/// The statement reading the live row of `meta` whose `field` is `value`, among the rows
/// `decided` lets its caller read: from the app's kept statements when the caller's row
/// filter allows it, else built (and kept, when it allows it).
pub(crate) async fn one_row(
    meta: &'static ResourceMeta,
    state: &ArcState,
    decided: &Decided<'_>,
    field: usize,
    value: Value,
) -> Result<Statement, ArcError> {
    let Some((tenant, owner)) = decided.plain() else {
        return build(meta, state, decided, field, value).await;
    };
    let shape = Shape {
        meta: std::ptr::from_ref(meta) as usize,
        field,
        tenant: tenant.map(|(i, _)| i),
        owner: owner.map(|(i, _)| i),
    };
    // The values in the order the built statement binds them: the tenant, the owner, the
    // value looked up, the limit.
    let mut values = Vec::with_capacity(4);
    values.extend(tenant.map(|(_, org)| Value::from(org)));
    values.extend(owner.map(|(_, user)| Value::from(user)));
    values.push(value);
    values.push(Value::from(1u64));
    if let Some(sql) = state.kept().get(&shape) {
        return Ok(Statement::from_sql_and_values(
            state.db().get_database_backend(),
            sql,
            values,
        ));
    }
    // The first read of its shape: the value looked up is built into the statement too.
    let value = values[values.len() - 2].clone();
    let built = build(meta, state, decided, field, value).await?;
    // sea-query binds in the order above; should it ever not, the shape is not kept and
    // every read builds its statement (tests, which run debug builds, fail here).
    let same = built
        .values
        .as_ref()
        .is_some_and(|Values(built)| *built == values);
    debug_assert!(same, "{shape:?} binds {:?}, not {values:?}", built.values);
    if same {
        state.kept().keep(shape, &built.sql);
    }
    Ok(built)
}

/// [`one_row`]'s statement built with sea-query.
async fn build(
    meta: &'static ResourceMeta,
    state: &ArcState,
    decided: &Decided<'_>,
    field: usize,
    value: Value,
) -> Result<Statement, ArcError> {
    let mut select = sql::select(meta);
    select
        .cond_where(
            decided
                .readable(state.db(), Read::One, scope(meta, Scope::Live))
                .await?,
        )
        .and_where(sql::column(meta, field).eq(value))
        .limit(1);
    Ok(state.db().get_database_backend().build(&select))
}
