//! The list query grammar: `page`, `limit`, `after`, `sort`, `select`, `search` and filters.
//!
//! A raw query string is parsed once ([`parse`]) against the resource's field table into a
//! typed [`QuerySpec`]; every unknown field, operator or unparsable value is a 400 naming the
//! parameter. [`sql`] turns the spec into a sea-query condition and ordering, so the grammar
//! can be tested without a database.

pub(crate) mod cursor;
pub(crate) mod parse;
#[cfg(test)]
mod regex_grammar;
pub(crate) mod regex_guard;
pub(crate) mod sql;

use sea_orm::Value;

pub(crate) use cursor::CursorKey;
pub use parse::QueryLimits;
pub(crate) use parse::parse_query;

use crate::resource::FieldSet;

/// A filter operator of the grammar: `field[op]=value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// one of a comma list
    In,
    /// none of a comma list
    Nin,
    /// case-insensitive substring; `%` and `_` are literal
    Like,
    /// a (guarded) regular expression
    Regex,
    /// `true`: not null; `false`: null
    Exists,
}

impl Op {
    /// Every operator, in the order of the contract.
    pub(crate) const ALL: [Op; 11] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::Nin,
        Op::Like,
        Op::Regex,
        Op::Exists,
    ];

    /// The operator's name in the grammar.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::Nin => "nin",
            Op::Like => "like",
            Op::Regex => "regex",
            Op::Exists => "exists",
        }
    }

    /// The operator with this name.
    pub(crate) fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// This operator as a bit of [`crate::resource::Ops`].
    pub(crate) const fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// The operand of a filter, typed by its field.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Operand {
    /// One value (`eq ne gt gte lt lte`).
    One(Value),
    /// A list (`in nin`).
    Many(Vec<Value>),
    /// A pattern (`like regex`).
    Pattern(String),
    /// `exists`.
    Exists(bool),
}

/// One filter: field index, operator, operand.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Filter {
    /// Index into the resource's fields.
    pub field: usize,
    /// The operator.
    pub op: Op,
    /// The typed operand.
    pub operand: Operand,
}

impl Filter {
    /// Whether the filter holds for every row by its construction alone, whatever the data:
    /// `nin` of nothing, `exists=true` on a column that cannot be null, and, on such a
    /// column, `in` of every value its type has (both booleans, every variant of an enum), a
    /// `like` of nothing or a `regex` that matches the empty string. Bulk writes
    /// refuse a filter made only of these (a "filter" that selects the whole table).
    pub(crate) fn matches_everything(&self, field: &crate::resource::FieldMeta) -> bool {
        match (&self.op, &self.operand) {
            (Op::Nin, Operand::Many(values)) => values.is_empty(),
            // Every value the column can hold: both booleans, every variant of an enum.
            (Op::In, Operand::Many(values)) if !field.nullable => match field.ty {
                crate::resource::FieldType::Bool => [true, false]
                    .iter()
                    .all(|b| values.contains(&Value::Bool(Some(*b)))),
                crate::resource::FieldType::Enum(variants) => variants
                    .iter()
                    .all(|v| values.contains(&Value::String(Some((*v).to_owned())))),
                _ => false,
            },
            (Op::Exists, Operand::Exists(true)) => !field.nullable,
            (Op::Like, Operand::Pattern(p)) => !field.nullable && p.is_empty(),
            (Op::Regex, Operand::Pattern(p)) => {
                !field.nullable
                    && regex_syntax::parse(p)
                        .map_or(true, |hir| hir.properties().minimum_len() == Some(0))
            }
            _ => false,
        }
    }
}

/// One sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SortKey {
    /// Index into the resource's fields.
    pub field: usize,
    /// Descending (`-field`).
    pub desc: bool,
}

/// How a list is paged.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Paging {
    /// `page` and `limit`, with a total count.
    Offset {
        /// 1-based page.
        page: u64,
    },
    /// `after`: keyset paging; `None` asks for the first page.
    Keyset {
        /// The decoded cursor: the last row's sort values, id last.
        after: Option<Vec<Value>>,
    },
}

/// A parsed, validated list query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct QuerySpec {
    /// Filters, all of which must hold.
    pub filters: Vec<Filter>,
    /// Sort keys; the id is always the last one (tie-breaker).
    pub sort: Vec<SortKey>,
    /// The fields to return.
    pub select: FieldSet,
    /// Text searched over the search fields the caller may see.
    pub search: Option<String>,
    /// The fields the caller may use (select, filter, sort, search).
    pub allowed: FieldSet,
    /// Page size.
    pub limit: u64,
    /// Offset or keyset paging.
    pub paging: Paging,
    /// The references whose rows are embedded (`populate`).
    pub populate: Vec<Populate>,
}

/// A reference `populate` asks to embed the row of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Populate {
    /// The reference field (it has a [`populate`](crate::FieldMeta#structfield.populate) key).
    pub field: usize,
    /// `populate[key][select]=..`: the fields of the embedded rows to write (their grammar
    /// is `select`'s, checked against the referenced resource when the caller is known).
    pub select: Option<String>,
}
