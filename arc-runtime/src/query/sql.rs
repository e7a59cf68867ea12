//! A [`QuerySpec`] as sea-query values: the `WHERE` condition, the `ORDER BY` and the
//! keyset condition, built from the field table's columns ([`column()`]), so the same code
//! serves every resource.
//!
//! The same spec gives the same rows on SQLite and PostgreSQL: `like` is a case-insensitive
//! substring match on `LOWER(col)` with an explicit escape character, `regex` is `REGEXP`
//! (SQLite, via sqlx's function) or `~` (PostgreSQL), and NULLs sort last in both.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use sea_orm::sea_query::{
    BinOper, Expr, ExprTrait, Func, LikeExpr, NullOrdering, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{Condition, DbBackend, Order, Value};

use super::{Filter, Op, Operand, QuerySpec, SortKey};
use crate::resource::ResourceMeta;

/// Field `index` of `meta`'s resource as a column of its table: `"products"."price"`.
pub(crate) fn column(meta: &ResourceMeta, index: usize) -> Expr {
    Expr::col((meta.table, meta.fields[index].column))
}

/// `SELECT` every column of `meta`'s table, in the field table's order (rows are read by
/// position into records).
pub(crate) fn select(meta: &ResourceMeta) -> SelectStatement {
    let mut select = Query::select();
    select.expr(Expr::cust(select_list(meta))).from(meta.table);
    select
}

/// The select list of `meta`'s table, `"products"."id", "products"."name", ..`, quoted as
/// sea-query quotes for SQLite and PostgreSQL. Written once per field table and kept for the
/// process (a field table is static: there are as many as the app has resources), so a read
/// neither builds nor quotes its columns again.
fn select_list(meta: &ResourceMeta) -> &'static str {
    /// A field table and its table's name, by address: static data, so the same address
    /// holds the same columns for the life of the process.
    type Key = (usize, usize, usize, usize);
    static LISTS: OnceLock<RwLock<HashMap<Key, &'static str>>> = OnceLock::new();
    let key = (
        meta.table.as_ptr() as usize,
        meta.table.len(),
        meta.fields.as_ptr() as usize,
        meta.fields.len(),
    );
    let lists = LISTS.get_or_init(RwLock::default);
    let known = lists
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        .copied();
    known.unwrap_or_else(|| {
        let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let table = quote(meta.table);
        let list = meta
            .fields
            .iter()
            .map(|f| format!("{table}.{}", quote(f.column)))
            .collect::<Vec<_>>()
            .join(", ");
        *lists
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert_with(|| Box::leak(list.into_boxed_str()))
    })
}

/// `select` counting its rows instead: `SELECT COUNT(*) FROM .. WHERE ..` (it has no order,
/// limit or grouping).
pub(crate) fn count(mut select: SelectStatement) -> SelectStatement {
    select
        .clear_selects()
        .expr_as(Expr::cust("COUNT(*)"), "num_items");
    select
}

/// `scope` narrowed by the spec's filters and its search. Filters are folded into `scope`
/// itself, so a query without them adds nothing to the SQL.
pub(crate) fn condition(
    meta: &ResourceMeta,
    scope: Condition,
    spec: &QuerySpec,
    backend: DbBackend,
) -> Condition {
    let mut cond = scope;
    for filter in &spec.filters {
        cond = cond.add(filter_expr(meta, filter, backend));
    }
    if let Some(text) = &spec.search {
        let mut any = Condition::any();
        for (i, field) in meta.fields.iter().enumerate() {
            if field.searchable && spec.allowed.contains(i) {
                any = any.add(contains(meta, i, text));
            }
        }
        cond = cond.add(any);
    }
    cond
}

/// One filter as an expression.
pub(crate) fn filter_expr(meta: &ResourceMeta, filter: &Filter, backend: DbBackend) -> SimpleExpr {
    let col = column(meta, filter.field);
    match (&filter.op, &filter.operand) {
        (Op::Eq, Operand::One(v)) => col.eq(v.clone()),
        (Op::Ne, Operand::One(v)) => {
            // SQL's `<>` is unknown on NULL; "not equal" must keep rows whose value is null.
            col.clone().ne(v.clone()).or(col.is_null())
        }
        (Op::Gt, Operand::One(v)) => col.gt(v.clone()),
        (Op::Gte, Operand::One(v)) => col.gte(v.clone()),
        (Op::Lt, Operand::One(v)) => col.lt(v.clone()),
        (Op::Lte, Operand::One(v)) => col.lte(v.clone()),
        (Op::In, Operand::Many(vs)) => col.is_in(vs.iter().cloned()),
        (Op::Nin, Operand::Many(vs)) => col.clone().is_not_in(vs.iter().cloned()).or(col.is_null()),
        (Op::Like, Operand::Pattern(p)) => contains(meta, filter.field, p),
        (Op::Regex, Operand::Pattern(p)) => {
            let op = match backend {
                DbBackend::Postgres => "~",
                _ => "REGEXP",
            };
            col.binary(BinOper::Custom(op), Expr::val(p.as_str()))
        }
        (Op::Exists, Operand::Exists(true)) => col.is_not_null(),
        (Op::Exists, Operand::Exists(false)) => col.is_null(),
        // The parser pairs each operator with its operand; any other pairing is unreachable,
        // and matching nothing is the safe answer for it.
        _ => Expr::val(false),
    }
}

/// `LOWER(col) LIKE '%text%' ESCAPE '\'`, with the text's own `%`, `_` and `\` literal.
fn contains(meta: &ResourceMeta, field: usize, text: &str) -> SimpleExpr {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    Func::lower(column(meta, field)).like(LikeExpr::new(pattern).escape('\\'))
}

/// Orders `select` by the spec's sort keys, NULLs last. Only nullable columns carry an
/// explicit `NULLS LAST`: on the others it changes nothing but can keep SQLite from walking
/// an index in order.
pub(crate) fn order(meta: &ResourceMeta, select: &mut SelectStatement, sort: &[SortKey]) {
    for key in sort {
        let order = if key.desc { Order::Desc } else { Order::Asc };
        let col = column(meta, key.field);
        if meta.fields[key.field].nullable {
            select.order_by_expr_with_nulls(col, order, NullOrdering::Last);
        } else {
            select.order_by_expr(col, order);
        }
    }
}

/// Rows strictly after `after` in the order of `sort` (keyset paging):
/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...`, with `<` for descending keys.
pub(crate) fn after(meta: &ResourceMeta, sort: &[SortKey], after: &[Value]) -> Condition {
    let mut any = Condition::any();
    for i in 0..sort.len() {
        let mut all = Condition::all();
        for (key, value) in sort[..i].iter().zip(after) {
            all = all.add(column(meta, key.field).eq(value.clone()));
        }
        let col = column(meta, sort[i].field);
        let value = after[i].clone();
        all = all.add(if sort[i].desc {
            col.lt(value)
        } else {
            col.gt(value)
        });
        any = any.add(all);
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{FieldMeta, FieldType};

    const FIELDS: &[FieldMeta] = &[
        FieldMeta::new("id", FieldType::I64).id(),
        FieldMeta::new("documentId", FieldType::String).column("document_id"),
        FieldMeta::new("odd", FieldType::String).column("we\"ird"),
    ];

    const META: ResourceMeta = ResourceMeta::testing("entry", "entries", FIELDS);

    #[test]
    fn statements_name_the_field_tables_columns_quoted_once() {
        let mut select = select(&META);
        select.and_where(column(&META, 2).eq("x"));
        let sql = |s: &SelectStatement, backend: DbBackend| backend.build(s).sql;
        let expected = r#"SELECT "entries"."id", "entries"."document_id", "entries"."we""ird" FROM "entries" WHERE "entries"."we""ird" = "#;
        for (backend, mark) in [(DbBackend::Sqlite, "?"), (DbBackend::Postgres, "$1")] {
            assert_eq!(sql(&select, backend), format!("{expected}{mark}"));
        }
        let count = count(select);
        assert_eq!(
            sql(&count, DbBackend::Sqlite),
            r#"SELECT COUNT(*) AS "num_items" FROM "entries" WHERE "entries"."we""ird" = ?"#
        );
    }
}
