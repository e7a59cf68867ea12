//! Create bodies made from a resource's field table: a value of each field's type within its
//! rules, for every field a client must write on create.

use arc_runtime::Resource;
use arc_runtime::meta::{Auto, FieldMeta, FieldType, ResourceMeta};
use serde_json::{Map, Value, json};

/// A create body for `R` its rules accept: every field a client must write (not the id,
/// not one the server sets, not one with a default or that may be null) with a value of
/// its type within its bounds; `seq` makes text fields differ from one body to the next
/// (unique fields). A required reference gets a fresh id, which names no row: set it with
/// the row's own (`body["category_id"] = ..`).
///
/// ```
/// # use arc_runtime::prelude::*;
/// #[resource]
/// #[permissions(default = public)]
/// pub struct Book {
///     #[field(id)]
///     pub id: Uuid,
///     #[field(min_len = 3, max_len = 20)]
///     pub title: String,
///     #[field(range(min = 1))]
///     pub pages: i32,
///     pub subtitle: Option<String>,
/// }
///
/// let body = arc_test::body_for::<Book>(7);
/// assert_eq!(body, serde_json::json!({ "title": "title-7", "pages": 1 }));
/// ```
#[must_use]
pub fn body_for<R: Resource>(seq: u64) -> Value {
    body_of(R::META, seq)
}

/// [`body_for`], of a resource's field table.
#[must_use]
pub fn body_of(meta: &ResourceMeta, seq: u64) -> Value {
    let body: Map<String, Value> = meta
        .fields
        .iter()
        .filter(|f| required(f))
        .map(|f| (f.name.to_owned(), value(f, seq)))
        .collect();
    Value::Object(body)
}

/// Whether a client must write `field` on create.
pub(crate) fn required(field: &FieldMeta) -> bool {
    !field.id && !field.system && field.auto == Auto::None && !field.has_default && !field.nullable
}

/// A value of `field`'s type within its rules.
fn value(field: &FieldMeta, seq: u64) -> Value {
    let rules = &field.rules;
    if let Some(first) = rules.one_of.first() {
        return json!(first);
    }
    // 1 unless the bounds say otherwise: their minimum, at most their maximum.
    let number = || {
        let value = rules.min.unwrap_or(1.0);
        rules.max.map_or(value, |max| value.min(max))
    };
    // The same for whole numbers: the least whole number the bounds allow.
    let whole = || {
        let low = rules.min.map_or(1.0, f64::ceil);
        let value = rules.max.map_or(low, |max| low.min(max.floor()));
        if rules.min.is_some_and(|min| value < min) {
            panic!("`{}` has no whole number within its bounds", field.name);
        }
        value as i64
    };
    match field.ty {
        FieldType::String => json!(text(field, seq)),
        // Whole numbers, within the field's bounds (1 when they allow it).
        FieldType::I32 | FieldType::I64 => json!(whole()),
        FieldType::F64 => json!(number()),
        FieldType::Decimal => json!(number().to_string()),
        FieldType::Bool => json!(false),
        FieldType::DateTime => json!(arc_runtime::chrono::Utc::now().to_rfc3339()),
        FieldType::Uuid => json!(arc_runtime::uuid::Uuid::new_v4()),
        FieldType::Json => json!({}),
        FieldType::Enum(values) => values.first().map_or(Value::Null, |v| json!(v)),
    }
}

/// `"{field}-{seq}"` (a slug too), padded to the field's least length; cut to its most
/// from the front, so the number that tells bodies apart stays.
fn text(field: &FieldMeta, seq: u64) -> String {
    let mut text = format!("{}-{seq}", field.name.replace('_', "-"));
    let min = field.rules.min_len.unwrap_or(0) as usize;
    while text.chars().count() < min {
        text.push('x');
    }
    if let Some(max) = field.rules.max_len {
        let extra = text.chars().count().saturating_sub(max as usize);
        text = text.chars().skip(extra).collect();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use arc_runtime::meta::Rules;

    #[test]
    fn text_keeps_to_its_bounds() {
        let mut f = FieldMeta::new("n", FieldType::String);
        f.rules = Rules {
            min_len: Some(6),
            ..Rules::NONE
        };
        assert_eq!(text(&f, 1), "n-1xxx");
        f.rules = Rules {
            max_len: Some(2),
            ..Rules::NONE
        };
        assert_eq!(text(&f, 123), "23");
    }

    #[test]
    fn numbers_keep_to_their_bounds() {
        let mut f = FieldMeta::new("n", FieldType::I32);
        assert_eq!(value(&f, 0), json!(1));
        f.rules = Rules {
            min: Some(10.0),
            ..Rules::NONE
        };
        assert_eq!(value(&f, 0), json!(10));
        f.rules = Rules {
            max: Some(-5.0),
            ..Rules::NONE
        };
        assert_eq!(value(&f, 0), json!(-5));
        f.rules = Rules {
            min: Some(0.5),
            max: Some(3.5),
            ..Rules::NONE
        };
        assert_eq!(value(&f, 0), json!(1));
        f.rules = Rules {
            max: Some(0.5),
            ..Rules::NONE
        };
        assert_eq!(value(&f, 0), json!(0));
    }
}
