//! The wire description of a resource, from its field table: the JSON Schemas of a row as
//! answered, of a row of a page, and of the create and patch bodies.
//!
//! The body decoder ([`crate::crud::body`], [`crate::value::from_json`]) reads the same
//! [`FieldMeta`]s, so what the document promises and what the server takes are one
//! description: which members a body may have, which are required, which take `null`, the
//! type and the rules of each. The document states each type in its canonical form; the
//! decoder also takes what arc's clients send in another (`"42"` for an integer, as arc's
//! validator coerces it), which no client following the document needs.

use schemars::Schema;
use serde_json::{Map, Value, json};

use crate::resource::{FieldMeta, FieldType, ResourceMeta};

/// Which description of a resource's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    /// A row as `GET` answers it: every member the caller may read; members shown to some
    /// roles only (`visible_to`) may be absent.
    Row,
    /// A row of a page: the members `select` keeps, so none is required.
    Selection,
    /// A row embedded by `populate`: as a row of a page, without embeds of its own.
    Embedded,
    /// The body of a create: the client-writable fields, required unless they have a default
    /// or take `null`; nothing else.
    Create,
    /// The body of a patch: any subset of the client-writable fields; `null` only where the
    /// field takes it; nothing else.
    Patch,
}

/// The JSON Schema of a value of `ty` (not `null`), as answers write it and bodies give it.
pub(crate) fn value_schema(ty: FieldType) -> Value {
    match ty {
        FieldType::Uuid => json!({ "type": "string", "format": "uuid" }),
        FieldType::String => json!({ "type": "string" }),
        FieldType::I32 => json!({ "type": "integer", "format": "int32" }),
        FieldType::I64 => json!({ "type": "integer", "format": "int64" }),
        FieldType::F64 => json!({ "type": "number", "format": "double" }),
        FieldType::Bool => json!({ "type": "boolean" }),
        FieldType::DateTime => json!({ "type": "string", "format": "date-time" }),
        FieldType::Decimal => json!({ "type": "string", "format": "decimal" }),
        FieldType::Json => json!({}),
        FieldType::Enum(values) => json!({ "type": "string", "enum": values }),
    }
}

/// `schema` that also takes `null`.
fn or_null(mut schema: Value) -> Value {
    if schema.as_object().is_some_and(Map::is_empty) {
        return schema; // any value, `null` included
    }
    if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
        values.push(Value::Null);
    }
    match schema.get_mut("type") {
        Some(Value::String(ty)) => {
            let ty = std::mem::take(ty);
            schema["type"] = json!([ty, "null"]);
        }
        Some(Value::Array(types)) => types.push("null".into()),
        _ => {}
    }
    schema
}

/// The schema of one field in `view`.
fn field_schema(field: &FieldMeta, view: View) -> Value {
    let body = matches!(view, View::Create | View::Patch);
    let mut schema = match field.ty {
        // A decimal is given as a string or as a number (answered as a string).
        FieldType::Decimal if body => json!({ "type": ["string", "number"] }),
        ty => value_schema(ty),
    };
    if body {
        let rules = &field.rules;
        if let Some(min) = rules.min_len {
            schema["minLength"] = min.into();
        }
        if let Some(max) = rules.max_len {
            schema["maxLength"] = max.into();
        }
        if let Some(min) = rules.min {
            schema["minimum"] = number(min);
        }
        if let Some(max) = rules.max {
            schema["maximum"] = number(max);
        }
        if !rules.one_of.is_empty() {
            schema["enum"] = json!(rules.one_of);
        }
    } else if !field.redact_for.is_empty() {
        // Some callers see a mask instead: `"***"` for text, `null` otherwise.
        match field.ty {
            FieldType::Enum(_) => {
                if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
                    values.push("***".into());
                }
            }
            FieldType::String => {}
            _ => schema = or_null(schema),
        }
    }
    if field.nullable {
        schema = or_null(schema);
    }
    if view == View::Create
        && let Some(default) = field.default.and_then(|value| to_json(&value()))
    {
        schema["default"] = default;
    }
    if !field.doc.is_empty() && schema.is_object() {
        schema["description"] = field.doc.into();
    }
    if let Some(target) = field.references
        && schema.is_object()
    {
        // The resource whose id it holds (a body naming a row the caller cannot read is a
        // 400), for clients and tools that follow references.
        schema["x-arc-references"] = target().name.into();
    }
    if !field.states.is_empty() && schema.is_object() {
        // The moves its value may make: any other is a 409 `INVALID_TRANSITION`.
        let moves: Vec<String> = field
            .states
            .iter()
            .map(|(f, t)| format!("{f} -> {t}"))
            .collect();
        schema["x-arc-transitions"] = moves.into();
    }
    schema
}

/// A bound as JSON: integral bounds without a fraction.
fn number(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation, reason = "integral and in range")]
        Value::from(value as i64)
    } else {
        Value::from(value)
    }
}

/// A default value as JSON, for the document (`None` for a type it cannot show).
fn to_json(value: &sea_orm::Value) -> Option<Value> {
    use sea_orm::Value as V;
    Some(match value {
        V::Bool(Some(b)) => (*b).into(),
        V::Int(Some(n)) => (*n).into(),
        V::BigInt(Some(n)) => (*n).into(),
        V::Double(Some(n)) => (*n).into(),
        V::String(Some(s)) => s.as_str().into(),
        V::Uuid(Some(u)) => u.to_string().into(),
        V::Decimal(Some(d)) => d.to_string().into(),
        V::Json(Some(j)) => (**j).clone(),
        _ => return None,
    })
}

/// The JSON Schema of `meta`'s fields in `view`.
/// The component name of a row of `meta` embedded by `populate` (`ProductEmbedded`): the
/// document holds it once for every resource some reference populates.
pub(crate) fn embedded_name(meta: &ResourceMeta) -> String {
    arc_spec::names::to_pascal(meta.name) + "Embedded"
}

pub(crate) fn schema(meta: &ResourceMeta, view: View) -> Schema {
    let body = matches!(view, View::Create | View::Patch);
    let fields = meta
        .fields
        .iter()
        .filter(|f| if body { !f.id && !f.system } else { !f.hidden });
    let mut properties = Map::new();
    let mut required = Vec::new();
    for field in fields {
        properties.insert(field.name.to_owned(), field_schema(field, view));
        let is_required = match view {
            // Nullable members are written as `null`, so only role-restricted ones may be
            // absent.
            View::Row => field.visible_to.is_empty(),
            View::Create => !field.has_default,
            View::Selection | View::Embedded | View::Patch => false,
        };
        if is_required {
            required.push(field.name);
        }
    }
    if matches!(view, View::Row | View::Selection) {
        for field in meta.fields.iter().filter(|f| !f.hidden) {
            let (Some(key), Some(target)) = (field.populate, field.references) else {
                continue;
            };
            let target = target();
            properties.insert(
                key.to_owned(),
                json!({
                    "description": format!(
                        "With `populate={key}`: the {} `{}` names, as the caller may read it there; its id where they may not.",
                        target.name, field.name
                    ),
                    "oneOf": [
                        { "$ref": format!("#/components/schemas/{}", embedded_name(target)) },
                        field_schema(field, View::Row),
                    ],
                }),
            );
        }
    }
    let plural = meta.collection();
    let description = match view {
        View::Row => meta.doc.to_owned(),
        View::Selection => format!(
            "A row of a page of {plural}: the members `select` keeps (by default every one the caller may read)."
        ),
        View::Embedded => format!(
            "A row of {plural}, embedded by `populate`: the members the caller may read (or `populate[..][select]` keeps)."
        ),
        View::Create => format!("The body of `POST {}`.", meta.path),
        View::Patch => format!(
            "The body of `PATCH {}/{{id}}`: absent members stay as they are; `null` clears a member that takes it.",
            meta.path
        ),
    };
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if body {
        schema["additionalProperties"] = false.into();
    }
    if !description.is_empty() {
        schema["description"] = description.into();
    }
    Schema::try_from(schema).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{Auto, FieldMeta};

    fn status() -> sea_orm::Value {
        sea_orm::Value::String(Some("draft".into()))
    }

    const META: ResourceMeta = ResourceMeta {
        doc: "A thing.",
        fields: &[
            FieldMeta::new("id", FieldType::Uuid).id().auto(Auto::Uuid),
            FieldMeta::new("name", FieldType::String)
                .len(Some(1), Some(20))
                .doc("Its name."),
            FieldMeta::new("note", FieldType::String).nullable(),
            FieldMeta::new("status", FieldType::Enum(&["draft", "live"])).default(status),
            FieldMeta::new("cost", FieldType::I64)
                .nullable()
                .range(Some(0.0), None)
                .visible_to(&["admin"]),
            FieldMeta::new("secret", FieldType::String).hidden(),
            FieldMeta::new("owner", FieldType::String).system(),
        ],
        name: "thing",
        path: "/things",
        table: "things",
        migration: "m",
        id: 0,
        presets: crate::resource::Presets::NONE,
        default_sort: "-id",
        lenient: false,
        idempotency: None,
        permissions: crate::permissions::Permissions::PUBLIC,
        cache: None,
        read_hooks: None,
    };

    #[test]
    fn a_row_has_every_readable_member_required_but_the_role_restricted_ones() {
        let row = schema(&META, View::Row).to_value();
        assert_eq!(row["description"], "A thing.");
        assert_eq!(
            row["required"],
            json!(["id", "name", "note", "status", "owner"])
        );
        assert!(row["properties"].get("secret").is_none());
        assert_eq!(row["properties"]["note"]["type"], json!(["string", "null"]));
        assert!(row["properties"]["name"].get("minLength").is_none());
        assert!(row.get("additionalProperties").is_none());
    }

    #[test]
    fn a_create_body_has_the_writable_fields_with_their_rules_and_defaults() {
        let create = schema(&META, View::Create).to_value();
        assert_eq!(create["required"], json!(["name", "secret"]));
        assert_eq!(create["additionalProperties"], false);
        let p = &create["properties"];
        assert!(p.get("id").is_none() && p.get("owner").is_none());
        assert_eq!(p["name"]["minLength"], 1);
        assert_eq!(p["name"]["maxLength"], 20);
        assert_eq!(p["name"]["description"], "Its name.");
        assert_eq!(p["status"]["default"], "draft");
        assert_eq!(p["cost"]["minimum"], 0);
        assert_eq!(p["cost"]["type"], json!(["integer", "null"]));
    }

    #[test]
    fn a_patch_body_requires_nothing_and_takes_null_only_where_the_field_does() {
        let patch = schema(&META, View::Patch).to_value();
        assert!(patch.get("required").is_none());
        assert_eq!(patch["properties"]["name"]["type"], "string");
        assert_eq!(
            patch["properties"]["note"]["type"],
            json!(["string", "null"])
        );
        assert!(patch["properties"]["status"].get("default").is_none());
    }

    #[test]
    fn nullable_enums_list_null_among_their_values() {
        let s = or_null(value_schema(FieldType::Enum(&["a"])));
        assert_eq!(
            s,
            json!({ "type": ["string", "null"], "enum": ["a", null] })
        );
        assert_eq!(or_null(value_schema(FieldType::Json)), json!({}));
        let decimal = or_null(json!({ "type": ["string", "number"] }));
        assert_eq!(decimal["type"], json!(["string", "number", "null"]));
    }
}
