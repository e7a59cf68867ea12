//! Request bodies as column values: every problem of a body is found and reported at once.
//!
//! A create body must give every required field; a patch body gives any subset (absent =
//! unchanged, `null` = set null where the field is nullable). Unknown fields, and fields the
//! server owns (the id, system fields), are refused by name.

use sea_orm::Value;
use serde_json::{Map, Value as Json};

use crate::error::FieldError;
use crate::resource::{Auto, FieldSet, ResourceMeta};
use crate::value;

/// What the body is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A create: required fields must be present.
    Create,
    /// A partial update: any subset.
    Patch,
}

/// Field index and typed value, one per field the body gives.
pub(crate) type Values = Vec<(usize, Value)>;

/// Decodes `body` for `meta`, pushing every problem into `errors` (field names prefixed by
/// `prefix`, e.g. `items[3].`). A field outside `known` (one the caller may not see, see
/// [`FieldSet::known_to`]) is refused as if it did not exist.
pub(crate) fn decode(
    meta: &ResourceMeta,
    known: FieldSet,
    body: &Map<String, Json>,
    mode: Mode,
    prefix: &str,
    errors: &mut Vec<FieldError>,
) -> Values {
    let mut values = Vec::with_capacity(body.len());
    let mut push = |field: &str, keyword: &'static str, message: String| {
        errors.push(FieldError {
            field: format!("{prefix}{field}"),
            message,
            keyword,
        });
    };
    for (i, field) in meta.fields.iter().enumerate() {
        match body.get(field.name) {
            // Named below, with the keys that are no field at all.
            Some(_) if !known.contains(i) => {}
            Some(_) if field.id || field.system => {
                push(
                    field.name,
                    "readOnly",
                    "is set by the server and cannot be written".into(),
                );
            }
            Some(json) => match value::from_json(field, json) {
                Ok(v) => values.push((i, v)),
                Err(e) => push(field.name, e.keyword, e.message),
            },
            None => {
                let required = mode == Mode::Create
                    && !field.id
                    && !field.system
                    && !field.has_default
                    && field.auto == Auto::None;
                if required {
                    push(field.name, "required", "is required".into());
                }
            }
        }
    }
    for key in body.keys() {
        if meta.field(key).is_none_or(|(i, _)| !known.contains(i)) {
            push(
                key,
                "additionalProperties",
                "is not a field of this resource".into(),
            );
        }
    }
    values
}

/// `body[key]` as an object, or a message saying what it must be.
pub(crate) fn object<'a>(
    body: &'a Map<String, Json>,
    key: &str,
) -> Result<&'a Map<String, Json>, String> {
    match body.get(key) {
        Some(Json::Object(map)) if !map.is_empty() => Ok(map),
        Some(Json::Object(_)) | None => Err(format!("`{key}` must be a non-empty object")),
        Some(_) => Err(format!("`{key}` must be an object")),
    }
}
