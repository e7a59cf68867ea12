//! A [`QuerySpec`] as sea-query values: the `WHERE` condition, the `ORDER BY` and the
//! keyset condition, built on the resource's typed columns.
//!
//! The same spec gives the same rows on SQLite and PostgreSQL: `like` is a case-insensitive
//! substring match on `LOWER(col)` with an explicit escape character, `regex` is `REGEXP`
//! (SQLite, via sqlx's function) or `~` (PostgreSQL), and NULLs sort last in both.

use sea_orm::sea_query::{BinOper, Expr, ExprTrait, Func, LikeExpr, NullOrdering, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, DbBackend, Order, QueryOrder, Select, Value};

use super::{Filter, Op, Operand, QuerySpec, SortKey};
use crate::resource::Resource;

/// `scope` narrowed by the spec's filters and its search. Filters are folded into `scope`
/// itself, so a query without them adds nothing to the SQL.
pub(crate) fn condition<R: Resource>(
    scope: Condition,
    spec: &QuerySpec,
    backend: DbBackend,
) -> Condition {
    let mut cond = scope;
    for filter in &spec.filters {
        cond = cond.add(filter_expr::<R>(filter, backend));
    }
    if let Some(text) = &spec.search {
        let mut any = Condition::any();
        for (i, field) in R::META.fields.iter().enumerate() {
            if field.searchable && spec.allowed.contains(i) {
                any = any.add(contains::<R>(i, text));
            }
        }
        cond = cond.add(any);
    }
    cond
}

/// One filter as an expression.
pub(crate) fn filter_expr<R: Resource>(filter: &Filter, backend: DbBackend) -> SimpleExpr {
    let col = R::column(filter.field);
    match (&filter.op, &filter.operand) {
        (Op::Eq, Operand::One(v)) => col.eq(v.clone()),
        (Op::Ne, Operand::One(v)) => {
            // SQL's `<>` is unknown on NULL; "not equal" must keep rows whose value is null.
            col.ne(v.clone()).or(col.is_null())
        }
        (Op::Gt, Operand::One(v)) => col.gt(v.clone()),
        (Op::Gte, Operand::One(v)) => col.gte(v.clone()),
        (Op::Lt, Operand::One(v)) => col.lt(v.clone()),
        (Op::Lte, Operand::One(v)) => col.lte(v.clone()),
        (Op::In, Operand::Many(vs)) => col.is_in(vs.iter().cloned()),
        (Op::Nin, Operand::Many(vs)) => col.is_not_in(vs.iter().cloned()).or(col.is_null()),
        (Op::Like, Operand::Pattern(p)) => contains::<R>(filter.field, p),
        (Op::Regex, Operand::Pattern(p)) => {
            let op = match backend {
                DbBackend::Postgres => "~",
                _ => "REGEXP",
            };
            col.into_expr()
                .binary(BinOper::Custom(op), Expr::val(p.as_str()))
        }
        (Op::Exists, Operand::Exists(true)) => col.is_not_null(),
        (Op::Exists, Operand::Exists(false)) => col.is_null(),
        // The parser pairs each operator with its operand; any other pairing is unreachable,
        // and matching nothing is the safe answer for it.
        _ => Expr::val(false),
    }
}

/// `LOWER(col) LIKE '%text%' ESCAPE '\'`, with the text's own `%`, `_` and `\` literal.
fn contains<R: Resource>(field: usize, text: &str) -> SimpleExpr {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for ch in text.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    Func::lower(R::column(field).into_expr()).like(LikeExpr::new(pattern).escape('\\'))
}

/// Orders `select` by the spec's sort keys, NULLs last. Only nullable columns carry an
/// explicit `NULLS LAST`: on the others it changes nothing but can keep SQLite from walking
/// an index in order.
pub(crate) fn order<R: Resource>(
    mut select: Select<R::Entity>,
    sort: &[SortKey],
) -> Select<R::Entity> {
    for key in sort {
        let order = if key.desc { Order::Desc } else { Order::Asc };
        let col = R::column(key.field);
        select = if R::META.fields[key.field].nullable {
            select.order_by_with_nulls(col, order, NullOrdering::Last)
        } else {
            select.order_by(col, order)
        };
    }
    select
}

/// Rows strictly after `after` in the order of `sort` (keyset paging):
/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR ...`, with `<` for descending keys.
pub(crate) fn after<R: Resource>(sort: &[SortKey], after: &[Value]) -> Condition {
    let mut any = Condition::any();
    for i in 0..sort.len() {
        let mut all = Condition::all();
        for (key, value) in sort[..i].iter().zip(after) {
            all = all.add(R::column(key.field).eq(value.clone()));
        }
        let col = R::column(sort[i].field);
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
