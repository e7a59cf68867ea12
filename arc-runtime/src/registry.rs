//! The registry: what an app is made of, as data. Every mounted resource with its fields
//! (types, flags, rules), routes, presets, permissions and query settings, and the service
//! routes, in the `arc-describe/v1` shape. Served at `/_resources` (admins only) and printed
//! by the CLI's `describe`.

use serde_json::{Value, json};

use crate::action::{Operation, RoutePreset};
use crate::crud::routes::routes;
use crate::openapi::{Registered, ServiceRoute};
use crate::query::{Op, QueryLimits};
use crate::resource::{Auto, FieldMeta, FieldType};

/// The `$schema` of the description.
pub(crate) const SCHEMA: &str = "arc-describe/v1";

/// The description of an app: `{"$schema": "arc-describe/v1", "app": .., "resources": [..],
/// "service": [..]}`.
pub(crate) fn describe(
    title: &str,
    version: &str,
    resources: &[Registered],
    service: &[ServiceRoute],
    custom: &[crate::custom::RouteDoc],
    limits: &QueryLimits,
) -> Value {
    json!({
        "$schema": SCHEMA,
        "app": { "title": title, "version": version },
        "resources": resources.iter().map(|r| resource(r, limits)).collect::<Vec<_>>(),
        "service": service.iter().map(|r| json!({
            "method": r.method.as_str(),
            "path": r.path,
            "summary": r.summary,
            "access": r.access,
        })).collect::<Vec<_>>(),
        "routes": custom.iter().map(|r| json!({
            "method": r.method.as_str(),
            "path": r.path,
            "summary": r.summary,
            "permission": r.permission,
            "resource": r.tag,
        })).collect::<Vec<_>>(),
    })
}

fn type_name(ty: FieldType) -> Value {
    match ty {
        FieldType::Uuid => "uuid".into(),
        FieldType::String => "string".into(),
        FieldType::I32 => "i32".into(),
        FieldType::I64 => "i64".into(),
        FieldType::F64 => "f64".into(),
        FieldType::Bool => "bool".into(),
        FieldType::DateTime => "datetime".into(),
        FieldType::Decimal => "decimal".into(),
        FieldType::Json => "json".into(),
        FieldType::Enum(values) => json!({ "enum": values }),
    }
}

fn field(f: &FieldMeta) -> Value {
    let ops: Vec<&str> = Op::ALL
        .into_iter()
        .filter(|op| f.filter.contains(*op))
        .map(Op::as_str)
        .collect();
    let auto = match f.auto {
        Auto::None => Value::Null,
        Auto::Uuid => "uuid".into(),
        Auto::CreatedAt => "created_at".into(),
        Auto::UpdatedAt => "updated_at".into(),
    };
    let r = &f.rules;
    json!({
        "name": f.name,
        "type": type_name(f.ty),
        "nullable": f.nullable,
        "id": f.id,
        "system": f.system,
        "hidden": f.hidden,
        "unique": f.unique,
        "hasDefault": f.has_default,
        "auto": auto,
        "filter": ops,
        "sortable": f.sortable,
        "searchable": f.searchable,
        "rules": {
            "minLength": r.min_len, "maxLength": r.max_len,
            "minimum": r.min, "maximum": r.max, "oneOf": r.one_of,
        },
        "visibleTo": f.visible_to,
        "writableBy": f.writable_by,
        "redactFor": f.redact_for,
        "states": f.states.iter().map(|(from, to)| json!({"from": from, "to": to})).collect::<Vec<_>>(),
    })
}

/// The description of one resource.
pub(crate) fn resource(registered: &Registered, limits: &QueryLimits) -> Value {
    let meta = registered.meta;
    let name_of = |i: Option<usize>| i.and_then(|i| meta.fields.get(i)).map(|f| f.name);
    let presets = &meta.presets;
    let permissions: serde_json::Map<String, Value> = Operation::ALL
        .into_iter()
        .map(|op| {
            (
                op.name().to_owned(),
                meta.permissions.rule(op).to_string().into(),
            )
        })
        .collect();
    // Transitions with rules of their own, which hold beside the write's.
    let transitions: Vec<Value> = meta
        .permissions
        .transitions
        .iter()
        .map(|t| {
            json!({
                "field": t.field,
                "from": t.from,
                "to": t.to,
                "permission": t.rule.to_string(),
            })
        })
        .collect();
    let routes: Vec<Value> = routes(meta)
        .into_iter()
        .map(|r| {
            json!({
                "method": r.method.as_str(),
                "path": registered.served(&r.path),
                "operation": r.action.name(),
                "preset": r.action.preset().map(RoutePreset::name),
                "permission": meta.permission(r.action),
            })
        })
        .collect();
    let names = |pick: fn(&FieldMeta) -> bool| -> Vec<&str> {
        meta.fields
            .iter()
            .filter(|f| pick(f))
            .map(|f| f.name)
            .collect()
    };
    json!({
        "name": meta.name,
        "path": registered.served(meta.path),
        "table": meta.table,
        "migration": meta.migration,
        "id": meta.id_field().name,
        "fields": meta.fields.iter().map(field).collect::<Vec<_>>(),
        "presets": {
            "softDelete": name_of(presets.soft_delete),
            "slugLookup": name_of(presets.slug_lookup),
            "tree": name_of(presets.tree),
            "bulk": presets.bulk,
            "audited": presets.audited,
            "multiTenant": name_of(presets.tenant),
            "ownedByUser": name_of(presets.owner).map(|f| json!({
                "field": f, "bypass": presets.owner_bypass,
            })),
        },
        "permissions": permissions,
        "transitions": transitions,
        "routes": routes,
        "query": {
            "defaultSort": meta.default_sort,
            "lenient": meta.lenient,
            "defaultLimit": limits.default_limit,
            "maxLimit": limits.max_limit,
            "filters": meta.fields.iter().filter(|f| f.filter.0 != 0).map(|f| (f.name.to_owned(), Value::from(
                Op::ALL.into_iter().filter(|op| f.filter.contains(*op)).map(Op::as_str).collect::<Vec<_>>()
            ))).collect::<serde_json::Map<String, Value>>(),
            "sort": names(|f| f.sortable || f.id),
            "search": names(|f| f.searchable),
            "populate": meta.fields.iter().filter_map(|f| Some(json!({
                "name": f.populate?, "field": f.name, "resource": f.references?().name,
            }))).collect::<Vec<_>>(),
        },
        // No response cache is configured for resources yet.
        "cache": Value::Null,
    })
}
