//! Parsing a raw query string into a [`QuerySpec`], against a resource's field table.
//!
//! Strict by default: an unknown parameter, a field that is not declared for filtering or
//! sorting, an operator the field does not take, or a value that does not parse as the
//! field's type is a 400 `BAD_REQUEST` naming the parameter. Hidden fields answer exactly
//! like fields that do not exist, so their existence cannot be probed.

use std::borrow::Cow;

use arc_spec::QueryParam;
use sea_orm::Value;

use super::{CursorKey, Filter, Op, Operand, Paging, Populate, QuerySpec, SortKey, regex_guard};
use crate::error::ArcError;
use crate::resource::{FieldMeta, FieldSet, ResourceMeta};
use crate::value;

/// Bounds on what a list query may ask for.
#[derive(Clone, Copy, Debug)]
pub struct QueryLimits {
    /// `limit` when none is given.
    pub default_limit: u64,
    /// `limit` above this is clamped to it.
    pub max_limit: u64,
    /// The longest accepted query string, in bytes.
    pub max_query_len: usize,
    /// The most parameters in one query string.
    pub max_params: usize,
    /// The most values in one `in`/`nin` list.
    pub max_list: usize,
    /// The longest `search` text, in characters.
    pub max_search: usize,
    /// The most `regex` filters in one query (each is compiled by the database).
    pub max_regex: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            default_limit: 20,
            max_limit: 1000,
            max_query_len: 16 * 1024,
            max_params: 64,
            max_list: 100,
            max_search: 200,
            max_regex: 4,
        }
    }
}

const MAX_PAGE: u64 = 1_000_000;

fn bad(message: impl Into<Cow<'static, str>>) -> ArcError {
    ArcError::bad_request(message)
}

/// Parses `raw` (the part after `?`, percent-encoded) for the resource `meta`.
/// `allowed` is what the caller may see and use (see `FieldSet::visible_for`); other fields
/// answer exactly like fields that do not exist.
pub(crate) fn parse_query(
    meta: &ResourceMeta,
    raw: Option<&str>,
    key: &CursorKey,
    limits: &QueryLimits,
    allowed: FieldSet,
) -> Result<QuerySpec, ArcError> {
    let raw = raw.unwrap_or("");
    if raw.len() > limits.max_query_len {
        return Err(bad(format!(
            "query string is longer than {} bytes",
            limits.max_query_len
        )));
    }
    let pairs = decode_pairs(raw, limits.max_params)?;
    if pairs.len() > limits.max_params {
        return Err(bad(format!(
            "more than {} query parameters",
            limits.max_params
        )));
    }

    let mut page = None;
    let mut limit = None;
    let mut after = None;
    let mut sort = None;
    let mut select = None;
    let mut search = None;
    let mut populate = None;
    let mut selects = Vec::new();
    let mut filters = Vec::new();

    for (name, val) in &pairs {
        if let Some(key) = populate_key(meta, name)? {
            selects.push((key, val.as_str()));
            continue;
        }
        let slot = match QueryParam::from_name(name) {
            Some(QueryParam::Page) => &mut page,
            Some(QueryParam::Limit) => &mut limit,
            Some(QueryParam::After) => &mut after,
            Some(QueryParam::Sort) => &mut sort,
            Some(QueryParam::Select) => &mut select,
            Some(QueryParam::Search) => &mut search,
            Some(QueryParam::Populate) => &mut populate,
            None => {
                match parse_filter(meta, allowed, name, val, limits) {
                    Ok(filter) => {
                        filters.push(filter);
                        check_regex_count(&filters, limits)?;
                    }
                    // Lenient: parameters that are not filters are ignored; hidden fields
                    // count as not filters, so leniency does not reveal them either.
                    Err(_)
                        if meta.lenient
                            && queryable(meta, allowed, field_part(name))
                                .is_none_or(|(_, f)| f.filter.0 == 0) => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
        };
        if slot.replace(val.as_str()).is_some() {
            return Err(bad(format!("`{name}` is given more than once")));
        }
    }

    let limit = match limit {
        None => limits.default_limit,
        Some(text) => match text.parse::<u64>() {
            Ok(0) | Err(_) => return Err(bad("`limit` must be a positive integer")),
            Ok(n) => n.min(limits.max_limit),
        },
    };
    let sort = match sort.filter(|s| !s.is_empty()) {
        Some(text) => parse_sort(meta, allowed, text, false)?,
        None => default_sort(meta)?,
    };
    let paging = match (page, after) {
        (Some(_), Some(_)) => return Err(bad("`page` and `after` cannot be combined")),
        (page, None) => Paging::Offset {
            page: match page {
                None => 1,
                Some(text) => match text.parse::<u64>() {
                    Ok(n @ 1..=MAX_PAGE) => n,
                    _ => {
                        return Err(bad(format!(
                            "`page` must be an integer from 1 to {MAX_PAGE}"
                        )));
                    }
                },
            },
        },
        (None, Some(cursor)) => Paging::Keyset {
            after: decode_cursor(meta, &sort, cursor, key)?,
        },
    };
    let select = match select.filter(|s| !s.is_empty()) {
        None => allowed,
        Some(text) => parse_select(meta, allowed, text, "select")?,
    };
    let populate = parse_populate(meta, allowed, populate, &selects)?;
    let search = match search.filter(|s| !s.is_empty()) {
        None => None,
        Some(_)
            if !meta
                .fields
                .iter()
                .enumerate()
                .any(|(i, f)| f.searchable && allowed.contains(i)) =>
        {
            return Err(bad("`search` is not available on this resource"));
        }
        Some(text) if text.chars().count() > limits.max_search => {
            return Err(bad(format!(
                "`search` is longer than {} characters",
                limits.max_search
            )));
        }
        Some(text) => {
            value::check_text(text)
                .map_err(|e| bad(format!("invalid value for `search`: {}", e.message)))?;
            Some(text.to_owned())
        }
    };
    Ok(QuerySpec {
        filters,
        sort,
        select,
        search,
        allowed,
        limit,
        paging,
        populate,
    })
}

/// The key `name` populates with a select (`populate[category][select]` → `category`), or
/// `None` when `name` is not of that form; a 400 for another `populate[..]` form, unless
/// `meta` is lenient (then it is an unknown parameter, ignored like the others).
fn populate_key<'a>(meta: &ResourceMeta, name: &'a str) -> Result<Option<&'a str>, ArcError> {
    let Some(rest) = name.strip_prefix("populate[") else {
        return Ok(None);
    };
    match rest.strip_suffix("][select]") {
        Some(key) if !key.is_empty() && !key.contains(['[', ']']) => Ok(Some(key)),
        _ if meta.lenient => Ok(None),
        _ => Err(bad(format!(
            "`{name}` is not a form of `populate`: write `populate=name` or `populate[name][select]=a,b`"
        ))),
    }
}

/// The references a query asks to embed: the comma-separated keys of `list` and the keys of
/// the `populate[key][select]` parameters (`selects`), each a reference `meta` declares
/// for `populate` and the caller may read (`allowed`); else a 400 naming those they may (a
/// lenient resource ignores the others, as it ignores unknown parameters).
fn parse_populate(
    meta: &ResourceMeta,
    allowed: FieldSet,
    list: Option<&str>,
    selects: &[(&str, &str)],
) -> Result<Vec<Populate>, ArcError> {
    let mut asked: Vec<Populate> = Vec::new();
    let keys = list
        .into_iter()
        .flat_map(|l| l.split(','))
        .filter(|k| !k.is_empty())
        .map(|k| (k, None))
        .chain(selects.iter().map(|(k, s)| (*k, Some(*s))));
    for (key, select) in keys {
        let Some((field, _)) = meta
            .populated(key)
            .filter(|(i, f)| allowed.contains(*i) && !f.hidden)
        else {
            if meta.lenient {
                continue;
            }
            let known: Vec<&str> = meta
                .fields
                .iter()
                .enumerate()
                .filter(|(i, f)| allowed.contains(*i) && !f.hidden)
                .filter_map(|(_, f)| f.populate)
                .collect();
            return Err(bad(if known.is_empty() {
                "`populate` is not available on this resource".to_owned()
            } else {
                format!(
                    "`populate` cannot embed `{key}`: it takes {}",
                    known.join(", ")
                )
            }));
        };
        match asked.iter_mut().find(|p| p.field == field) {
            Some(p) => match (&p.select, select) {
                (Some(_), Some(_)) => {
                    return Err(bad(format!(
                        "`populate[{key}][select]` is given more than once"
                    )));
                }
                (None, Some(select)) => p.select = Some(select.to_owned()),
                _ => {}
            },
            None => asked.push(Populate {
                field,
                select: select.map(str::to_owned),
            }),
        }
    }
    Ok(asked)
}

/// The references a query asks to embed, for a route that takes no other parameter (`GET
/// /products/{id}`: the others are ignored there, as they always were).
pub(crate) fn parse_populate_only(
    meta: &ResourceMeta,
    raw: Option<&str>,
    limits: &QueryLimits,
    allowed: FieldSet,
) -> Result<Vec<Populate>, ArcError> {
    let Some(raw) = raw.filter(|_| meta.fields.iter().any(|f| f.populate.is_some())) else {
        return Ok(Vec::new());
    };
    // Only the `populate` pairs are read (and so checked): the others stay ignored, as on
    // any single-row route, however they are written.
    let raw = raw
        .split('&')
        .filter(|pair| pair.starts_with(QueryParam::Populate.name()))
        .collect::<Vec<_>>()
        .join("&");
    if raw.len() > limits.max_query_len {
        return Err(bad(format!(
            "query string is longer than {} bytes",
            limits.max_query_len
        )));
    }
    let pairs = decode_pairs(&raw, limits.max_params)?;
    let mut list = None;
    let mut selects = Vec::new();
    for (name, val) in &pairs {
        if let Some(key) = populate_key(meta, name)? {
            selects.push((key, val.as_str()));
        } else if name == QueryParam::Populate.name() && list.replace(val.as_str()).is_some() {
            return Err(bad("`populate` is given more than once"));
        }
    }
    parse_populate(meta, allowed, list, &selects)
}

/// Splits and percent-decodes `a=1&b=2`. Unlike lenient decoders, a malformed escape or
/// bytes that are not UTF-8 are refused, never replaced, so a filter never silently looks
/// for a different value than the client sent.
fn decode_pairs(raw: &str, max_params: usize) -> Result<Vec<(String, String)>, ArcError> {
    let mut pairs = Vec::new();
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        if pairs.len() == max_params {
            return Err(bad(format!("more than {max_params} query parameters")));
        }
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode_component(key)?, decode_component(value)?));
    }
    Ok(pairs)
}

fn decode_component(text: &str) -> Result<String, ArcError> {
    const BAD: &str = "query string is not valid percent-encoded UTF-8";
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Two hex digits exactly: `from_str_radix` alone would take `+1`.
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad(BAD))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad(BAD))
}

/// `price[gte]` -> `price`.
fn field_part(name: &str) -> &str {
    name.split_once('[').map_or(name, |(f, _)| f)
}

/// A field the caller may use in the query grammar: declared, and in `allowed` (not hidden,
/// and visible to them).
fn queryable<'m>(
    meta: &'m ResourceMeta,
    allowed: FieldSet,
    name: &str,
) -> Option<(usize, &'m FieldMeta)> {
    meta.field(name).filter(|(i, _)| allowed.contains(*i))
}

/// The filterable field `field_name` and operator `op`, or a 400 naming `param`.
fn resolve<'m>(
    meta: &'m ResourceMeta,
    allowed: FieldSet,
    param: &str,
    field_name: &str,
    op_name: Option<&str>,
) -> Result<(usize, &'m FieldMeta, Op), ArcError> {
    let op = match op_name {
        None => Op::Eq,
        Some(op_name) => Op::from_name(op_name).ok_or_else(|| {
            bad(format!(
                "unknown operator `{op_name}` in `{param}`; operators are: {}",
                Op::ALL.map(Op::as_str).join(", ")
            ))
        })?,
    };
    let Some((index, field)) =
        queryable(meta, allowed, field_name).filter(|(_, f)| f.filter.0 != 0)
    else {
        return Err(bad(format!(
            "unknown query parameter `{param}`: `{field_name}` is not a filterable field"
        )));
    };
    if !field.filter.contains(op) {
        return Err(bad(format!(
            "operator `{}` is not allowed on `{field_name}`",
            op.as_str()
        )));
    }
    Ok((index, field, op))
}

/// The operand of `op` on `field` from its text form(s): one value, or a list for `in`/`nin`.
fn operand(
    field: &FieldMeta,
    op: Op,
    param: &str,
    items: &[&str],
    limits: &QueryLimits,
) -> Result<Operand, ArcError> {
    let typed = |text: &str| -> Result<Value, ArcError> {
        value::from_text(field.ty, text)
            .map_err(|e| bad(format!("invalid value for `{param}`: {}", e.message)))
    };
    let one = || -> Result<&str, ArcError> {
        match items {
            [one] => Ok(one),
            _ => Err(bad(format!("`{param}` takes one value"))),
        }
    };
    Ok(match op {
        Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte => Operand::One(typed(one()?)?),
        Op::In | Op::Nin => {
            if items.len() > limits.max_list {
                return Err(bad(format!(
                    "`{param}` lists more than {} values",
                    limits.max_list
                )));
            }
            Operand::Many(items.iter().map(|t| typed(t)).collect::<Result<_, _>>()?)
        }
        Op::Like => {
            let pattern = one()?;
            value::check_text(pattern)
                .map_err(|e| bad(format!("invalid value for `{param}`: {}", e.message)))?;
            Operand::Pattern(pattern.to_owned())
        }
        Op::Regex => {
            let pattern = one()?;
            regex_guard::check(pattern).map_err(|e| bad(format!("`{param}`: {e}")))?;
            Operand::Pattern(pattern.to_owned())
        }
        Op::Exists => Operand::Exists(match one()? {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad(format!("`{param}` must be true or false"))),
        }),
    })
}

fn parse_filter(
    meta: &ResourceMeta,
    allowed: FieldSet,
    name: &str,
    text: &str,
    limits: &QueryLimits,
) -> Result<Filter, ArcError> {
    let (field_name, op_name) = match name.split_once('[') {
        None => (name, None),
        Some((field, rest)) => {
            let op_name = rest.strip_suffix(']').ok_or_else(|| {
                bad(format!(
                    "malformed query parameter `{name}`: expected `field[op]`"
                ))
            })?;
            (field, Some(op_name))
        }
    };
    let (index, field, op) = resolve(meta, allowed, name, field_name, op_name)?;
    let items: Vec<&str> = if matches!(op, Op::In | Op::Nin) {
        text.split(',').collect()
    } else {
        vec![text]
    };
    Ok(Filter {
        field: index,
        op,
        operand: operand(field, op, name, &items, limits)?,
    })
}

/// The filters of a bulk body: `{"status":"draft","price":{"gte":100},"id":{"in":[..]}}`,
/// with the list grammar's fields, operators and value types.
pub(crate) fn filters_from_json(
    meta: &ResourceMeta,
    allowed: FieldSet,
    filter: &serde_json::Map<String, serde_json::Value>,
    limits: &QueryLimits,
) -> Result<Vec<Filter>, ArcError> {
    use serde_json::Value as Json;
    fn text(json: &Json) -> Option<String> {
        match json {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    let mut filters = Vec::new();
    for (field_name, spec) in filter {
        let ops: Vec<(Option<&str>, &Json)> = match spec {
            Json::Object(ops) if !ops.is_empty() => {
                ops.iter().map(|(k, v)| (Some(k.as_str()), v)).collect()
            }
            Json::Object(_) => return Err(bad(format!("filter `{field_name}` has no operator"))),
            other => vec![(None, other)],
        };
        for (op_name, json) in ops {
            let param = match op_name {
                Some(op) => format!("filter.{field_name}.{op}"),
                None => format!("filter.{field_name}"),
            };
            let (index, field, op) = resolve(meta, allowed, &param, field_name, op_name)?;
            // JSON can say null: `{"f": null}` is "f is null", `{"f": {"ne": null}}` "f is set".
            if json.is_null() && matches!(op, Op::Eq | Op::Ne) && field.filter.contains(Op::Exists)
            {
                filters.push(Filter {
                    field: index,
                    op: Op::Exists,
                    operand: Operand::Exists(op == Op::Ne),
                });
                continue;
            }
            let texts: Vec<String> = match json {
                Json::Array(items) if matches!(op, Op::In | Op::Nin) => {
                    items.iter().map(text).collect::<Option<_>>()
                }
                scalar => text(scalar).map(|t| vec![t]),
            }
            .ok_or_else(|| bad(format!("invalid value for `{param}`")))?;
            let items: Vec<&str> = texts.iter().map(String::as_str).collect();
            filters.push(Filter {
                field: index,
                op,
                operand: operand(field, op, &param, &items, limits)?,
            });
            check_regex_count(&filters, limits)?;
        }
    }
    Ok(filters)
}

/// At most `max_regex` of `filters` are `regex` filters.
fn check_regex_count(filters: &[Filter], limits: &QueryLimits) -> Result<(), ArcError> {
    if filters.iter().filter(|f| f.op == Op::Regex).count() > limits.max_regex {
        return Err(bad(format!(
            "more than {} `regex` filters in one query",
            limits.max_regex
        )));
    }
    Ok(())
}

/// The resource's default sort (its `default_sort`, then the id), as parsed sort keys.
/// The default is the server's choice: it may use fields clients cannot sort by.
pub(crate) fn default_sort(meta: &ResourceMeta) -> Result<Vec<SortKey>, ArcError> {
    parse_sort(meta, FieldSet(u64::MAX), meta.default_sort, true)
}

/// Sort keys from `-a,b`; `trusted` (the resource's own default) skips the sortable check.
fn parse_sort(
    meta: &ResourceMeta,
    allowed: FieldSet,
    text: &str,
    trusted: bool,
) -> Result<Vec<SortKey>, ArcError> {
    let mut keys: Vec<SortKey> = Vec::new();
    for part in text.split(',').filter(|p| !p.is_empty()) {
        let (desc, name) = match part.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, part.strip_prefix('+').unwrap_or(part)),
        };
        let (field, _) = queryable(meta, allowed, name)
            .filter(|(i, f)| trusted || f.sortable || *i == meta.id)
            .ok_or_else(|| bad(format!("cannot sort by `{name}`: not a sortable field")))?;
        if keys.iter().any(|k| k.field == field) {
            return Err(bad(format!("`sort` names `{name}` twice")));
        }
        if keys.len() == 4 {
            return Err(bad("`sort` takes at most 4 fields"));
        }
        keys.push(SortKey { field, desc });
    }
    if !keys.iter().any(|k| k.field == meta.id) {
        keys.push(SortKey {
            field: meta.id,
            desc: false,
        });
    }
    Ok(keys)
}

/// The fields a `select` (the parameter `param`) keeps of those `allowed`; the id always.
pub(crate) fn parse_select(
    meta: &ResourceMeta,
    allowed: FieldSet,
    text: &str,
    param: &str,
) -> Result<FieldSet, ArcError> {
    let parts: Vec<&str> = text.split(',').filter(|p| !p.is_empty()).collect();
    let exclude = parts.iter().all(|p| p.starts_with('-'));
    if !exclude && parts.iter().any(|p| p.starts_with('-')) {
        return Err(bad(format!(
            "`{param}` cannot mix included and excluded fields"
        )));
    }
    let mut set = if exclude {
        allowed
    } else {
        FieldSet::default()
    };
    for part in parts {
        let name = part.trim_start_matches('-');
        let (index, _) = queryable(meta, allowed, name)
            .ok_or_else(|| bad(format!("`{param}` cannot select `{name}`: no such field")))?;
        if exclude {
            set.0 &= !(1 << index);
        } else {
            set.insert(index);
        }
    }
    set.insert(meta.id);
    Ok(set)
}

/// The canonical text of a sort, as bound into cursors.
pub(crate) fn sort_text(meta: &ResourceMeta, sort: &[SortKey]) -> String {
    let parts: Vec<String> = sort
        .iter()
        .map(|k| {
            format!(
                "{}{}",
                if k.desc { "-" } else { "" },
                meta.fields[k.field].name
            )
        })
        .collect();
    parts.join(",")
}

fn decode_cursor(
    meta: &ResourceMeta,
    sort: &[SortKey],
    cursor: &str,
    key: &CursorKey,
) -> Result<Option<Vec<Value>>, ArcError> {
    if let Some(k) = sort.iter().find(|k| meta.fields[k.field].nullable) {
        return Err(bad(format!(
            "keyset paging (`after`) cannot sort by the nullable field `{}`",
            meta.fields[k.field].name
        )));
    }
    if cursor.is_empty() {
        return Ok(None);
    }
    let texts = key
        .decode(&sort_text(meta, sort), cursor)
        .map_err(|m| bad(format!("`after`: {m}")))?;
    if texts.len() != sort.len() {
        return Err(bad("`after`: invalid cursor"));
    }
    let values = sort
        .iter()
        .zip(texts)
        .map(|(k, text)| {
            let text = text.ok_or_else(|| bad("`after`: invalid cursor"))?;
            value::from_text(meta.fields[k.field].ty, &text)
                .map_err(|_| bad("`after`: invalid cursor"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Operand;
    use crate::resource::{Auto, FieldType, Presets};

    const FIELDS: &[FieldMeta] = &[
        FieldMeta::new("id", FieldType::Uuid).id().auto(Auto::Uuid),
        FieldMeta::new("name", FieldType::String)
            .filterable()
            .sortable()
            .searchable(),
        FieldMeta::new("price", FieldType::I64)
            .filterable()
            .sortable(),
        FieldMeta::new("kind", FieldType::Enum(&["a", "b"])).filterable(),
        FieldMeta::new("note", FieldType::String)
            .nullable()
            .sortable(),
        FieldMeta::new("secret", FieldType::String)
            .hidden()
            .filterable()
            .sortable(),
    ];
    const META: ResourceMeta = ResourceMeta {
        doc: "",
        name: "thing",
        path: "/things",
        table: "things",
        migration: "m",
        fields: FIELDS,
        id: 0,
        presets: Presets::NONE,
        default_sort: "-price",
        lenient: false,
        idempotency: None,
        permissions: crate::permissions::Permissions::PUBLIC,
        cache: None,
        read_hooks: None,
    };

    fn parse(q: &str) -> Result<QuerySpec, ArcError> {
        parse_with(&META, q)
    }

    /// Parses `q` for `meta` as an anonymous caller sees it.
    fn parse_with(meta: &ResourceMeta, q: &str) -> Result<QuerySpec, ArcError> {
        let allowed = FieldSet::visible(meta);
        parse_query(
            meta,
            Some(q),
            &CursorKey::new(b"k"),
            &QueryLimits::default(),
            allowed,
        )
    }

    fn refused(q: &str) -> String {
        match parse(q) {
            Ok(spec) => panic!("`{q}` was accepted: {spec:?}"),
            Err(e) => {
                assert_eq!(e.code(), crate::ErrorCode::BadRequest, "{q}");
                e.message().to_owned()
            }
        }
    }

    #[test]
    fn defaults() {
        let spec = parse("").unwrap();
        assert_eq!(spec.limit, 20);
        assert_eq!(spec.paging, Paging::Offset { page: 1 });
        assert_eq!(
            spec.sort,
            [
                SortKey {
                    field: 2,
                    desc: true
                },
                SortKey {
                    field: 0,
                    desc: false
                }
            ]
        );
        assert!(!spec.select.contains(5), "hidden fields are never selected");
        assert!(spec.filters.is_empty() && spec.search.is_none());
    }

    #[test]
    fn filters_are_typed() {
        let spec = parse("price[gte]=10&kind[in]=a,b&name[like]=x%25&price=3&note=1").unwrap_err();
        assert!(spec.message().contains("note"), "note is not filterable");
        let spec = parse("price[gte]=10&kind[in]=a,b&name[like]=x%25&price=3").unwrap();
        assert_eq!(spec.filters.len(), 4);
        assert_eq!(
            spec.filters[0].operand,
            Operand::One(sea_orm::Value::BigInt(Some(10)))
        );
        assert_eq!(spec.filters[1].op, Op::In);
        assert_eq!(spec.filters[2].operand, Operand::Pattern("x%".into()));
        assert_eq!(spec.filters[3].op, Op::Eq);
    }

    #[test]
    fn limits_clamp_and_paging_is_exclusive() {
        assert_eq!(parse("limit=100000").unwrap().limit, 1000);
        assert_eq!(
            parse("page=3&limit=5").unwrap().paging,
            Paging::Offset { page: 3 }
        );
        assert_eq!(
            parse("after=").unwrap().paging,
            Paging::Keyset { after: None }
        );
        refused("after=&page=1");
        refused("limit=0");
        refused("page=0");
        refused("page=99999999999");
    }

    #[test]
    fn select_and_sort() {
        let spec = parse("select=name&sort=name,-price").unwrap();
        assert!(spec.select.contains(1) && spec.select.contains(0) && !spec.select.contains(2));
        assert_eq!(spec.sort.len(), 3, "the id breaks ties");
        let spec = parse("select=-name").unwrap();
        assert!(!spec.select.contains(1) && spec.select.contains(2) && !spec.select.contains(5));
        refused("sort=kind");
        refused("sort=a,b,c,d,e");
        refused("after=&sort=note");
    }

    #[test]
    fn the_default_sort_may_use_fields_clients_cannot_sort_by() {
        let meta = ResourceMeta {
            doc: "",
            default_sort: "-kind",
            ..META
        };
        let parse = |q| parse_with(&meta, q);
        assert_eq!(
            parse("").unwrap().sort[0],
            SortKey {
                field: 3,
                desc: true
            }
        );
        assert!(parse("sort=-kind").is_err());
    }

    #[test]
    fn hidden_fields_answer_like_missing_ones() {
        for (hidden, missing) in [
            ("secret=1", "nope=1"),
            ("sort=secret", "sort=nope"),
            ("select=secret", "select=nope"),
        ] {
            let a = refused(hidden).replace("secret", "X");
            let b = refused(missing).replace("nope", "X");
            assert_eq!(a, b, "{hidden} vs {missing}");
        }
    }

    #[test]
    fn hostile_inputs_are_400s() {
        for q in [
            "price[gte]=abc",
            "price=9223372036854775808",
            "kind=c",
            "kind[like]=a",
            "name[gte",
            "name[]=x",
            "[eq]=1",
            "name[eq][ne]=1",
            "name[regex]=(a*)*",
            "name[regex]=(?=x)",
            "search=%FF",
            "search=a%00",
            "name=%00",
            "name[like]=%00",
            "name[in]=a,%00",
            "sort=%00",
            "page=1&page=1",
            "name[exists]=2",
            "price[in]=",
            "after=not.a.cursor",
            "after=%E2%9C%93.%E2%9C%93",
        ] {
            refused(q);
        }
        refused(&format!("search={}", "s".repeat(201)));
        refused(&format!("name[regex]={}", "a".repeat(501)));
        refused(&format!("price[in]={}", vec!["1"; 101].join(",")));
        refused(&"a=1&".repeat(65));
        refused(&format!("name={}", "x".repeat(17 * 1024)));
    }

    /// `META` with a reference to itself (`parent_id`) that `?populate=parent` embeds.
    fn populating(lenient: bool) -> ResourceMeta {
        const FIELDS_WITH_PARENT: &[FieldMeta] = &[
            FieldMeta::new("id", FieldType::Uuid).id().auto(Auto::Uuid),
            FieldMeta::new("name", FieldType::String),
            FieldMeta::new("parent_id", FieldType::Uuid)
                .nullable()
                .references(|| &META)
                .populate("parent"),
            FieldMeta::new("secret_id", FieldType::Uuid)
                .hidden()
                .references(|| &META)
                .populate("secret"),
        ];
        ResourceMeta {
            fields: FIELDS_WITH_PARENT,
            default_sort: "name",
            lenient,
            ..META
        }
    }

    #[test]
    fn populate_names_declared_references_once() {
        let meta = populating(false);
        let parse = |q: &str| parse_with(&meta, q);
        let spec = parse("populate=parent&populate[parent][select]=name,-id").unwrap();
        assert_eq!(spec.populate.len(), 1, "{spec:?}");
        assert_eq!(spec.populate[0].field, 2);
        assert_eq!(spec.populate[0].select.as_deref(), Some("name,-id"));
        // A select alone asks for the embed; an empty list asks for nothing.
        assert_eq!(
            parse("populate[parent][select]=name")
                .unwrap()
                .populate
                .len(),
            1
        );
        assert!(parse("populate=").unwrap().populate.is_empty());
        assert_eq!(parse("populate=parent,parent").unwrap().populate.len(), 1);

        let refused = |q: &str| match parse(q) {
            Ok(spec) => panic!("`{q}` was accepted: {spec:?}"),
            Err(e) => e.message().to_owned(),
        };
        assert_eq!(
            refused("populate=category"),
            "`populate` cannot embed `category`: it takes parent"
        );
        // A hidden reference is not named, whether asked for or not.
        assert_eq!(
            refused("populate=secret"),
            "`populate` cannot embed `secret`: it takes parent"
        );
        assert!(refused("populate=parent&populate=parent").contains("more than once"));
        assert!(
            refused("populate[parent][select]=a&populate[parent][select]=b")
                .contains("more than once")
        );
        for form in [
            "populate[parent]",
            "populate[]",
            "populate[parent][match]",
            "populate[a][b][select]",
        ] {
            assert!(
                refused(&format!("{form}=x")).contains("is not a form of `populate`"),
                "{form}"
            );
        }
        assert_eq!(
            parse_with(&META, "populate=parent").unwrap_err().message(),
            "`populate` is not available on this resource"
        );
    }

    #[test]
    fn populate_only_reads_populate_on_single_rows() {
        let meta = populating(false);
        let only = |q: &str| {
            parse_populate_only(
                &meta,
                Some(q),
                &QueryLimits::default(),
                FieldSet::visible(&meta),
            )
        };
        assert_eq!(only("populate=parent&limit=oops").unwrap().len(), 1);
        assert_eq!(
            only("%ZZ&x=%E0%A4&populate=parent").unwrap().len(),
            1,
            "others unread"
        );
        assert!(only(&"a=1&".repeat(100)).unwrap().is_empty());
        assert!(only("populate=%ZZ").is_err());
        assert!(only("populate=nope").is_err());
        assert!(only("populate=parent&populate=parent").is_err());
        // A resource without references ignores the query, as before.
        let plain = parse_populate_only(
            &META,
            Some("populate=x"),
            &QueryLimits::default(),
            FieldSet::visible(&META),
        );
        assert!(plain.unwrap().is_empty());
    }

    #[test]
    fn lenient_resources_ignore_unknown_populate_too() {
        let meta = populating(true);
        let spec = parse_with(
            &meta,
            "populate=parent,nope&populate[x]=1&populate[y][select]=a",
        )
        .unwrap();
        assert_eq!(spec.populate.len(), 1);
        assert_eq!(spec.populate[0].field, 2);
    }

    #[test]
    fn lenient_resources_ignore_unknown_parameters_only() {
        let meta = ResourceMeta {
            doc: "",
            lenient: true,
            idempotency: None,
            ..META
        };
        let parse = |q| parse_with(&meta, q);
        assert!(parse("utm_source=x&populate=y").unwrap().filters.is_empty());
        assert!(
            parse("secret=1").unwrap().filters.is_empty(),
            "a hidden field is ignored like an unknown one"
        );
        assert!(
            parse("price[gte]=abc").is_err(),
            "declared fields are still checked"
        );
    }

    #[test]
    fn cursors_round_trip_through_the_parser() {
        let key = CursorKey::new(b"k");
        let spec = parse("after=&sort=price").unwrap();
        let cursor = key.encode(
            &sort_text(&META, &spec.sort),
            &[Some("5".into()), Some(uuid::Uuid::nil().to_string())],
        );
        let spec = parse(&format!("after={cursor}&sort=price")).unwrap();
        assert_eq!(
            spec.paging,
            Paging::Keyset {
                after: Some(vec![
                    sea_orm::Value::BigInt(Some(5)),
                    sea_orm::Value::Uuid(Some(uuid::Uuid::nil()))
                ])
            }
        );
        refused(&format!("after={cursor}&sort=-price"));
    }

    #[test]
    fn strict_percent_decoding() {
        let pairs = decode_pairs("a=1+2&b%5Bgte%5D=%C3%A9&c&&d=", 10).unwrap();
        let expected = [("a", "1 2"), ("b[gte]", "é"), ("c", ""), ("d", "")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, expected);
        assert!(decode_pairs("a=%FF", 10).is_err(), "not UTF-8");
        assert!(decode_pairs("a=%G1", 10).is_err(), "bad escape");
        assert!(decode_pairs("a=%+1", 10).is_err(), "a sign is no hex digit");
        assert!(decode_pairs("a=%-1", 10).is_err(), "a sign is no hex digit");
        assert!(decode_pairs("a=%2", 10).is_err(), "truncated escape");
        assert!(decode_pairs("a=1&b=2&c=3", 2).is_err(), "too many");
    }
}
