//! Field values: JSON, query-string text and cursor entries turned into typed
//! `sea_orm::Value`s by the field's type, and the validation rules checked on them.
//!
//! One place decides what "a value of this field" is, so bodies, filters, bulk filters and
//! cursors accept and reject exactly the same inputs.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::Value;
use serde_json::Value as Json;

use crate::resource::{FieldMeta, FieldType};

/// Why a value was refused: the JSON Schema keyword and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ValueError {
    /// `type`, `enum`, `minLength`, `maximum`, ...
    pub keyword: &'static str,
    /// What is wrong.
    pub message: String,
}

impl ValueError {
    fn new(keyword: &'static str, message: impl Into<String>) -> Self {
        Self {
            keyword,
            message: message.into(),
        }
    }

    fn expected(ty: FieldType) -> Self {
        match ty {
            FieldType::Enum(values) => Self::enumeration(values),
            _ => Self::new("type", format!("must be {}", ty.describe())),
        }
    }

    fn enumeration(values: &[&str]) -> Self {
        Self::new("enum", format!("must be one of: {}", values.join(", ")))
    }

    fn nul() -> Self {
        Self::new("pattern", "must not contain NUL (\\u0000) characters")
    }
}

/// Refuses text holding a NUL character: PostgreSQL's `text` and `jsonb` cannot store one,
/// so no database may (the same answer on SQLite and PostgreSQL).
pub(crate) fn check_text(text: &str) -> Result<(), ValueError> {
    if text.contains('\0') {
        Err(ValueError::nul())
    } else {
        Ok(())
    }
}

/// [`check_text`] over every string and key of a JSON value.
fn check_json_text(json: &Json) -> Result<(), ValueError> {
    match json {
        Json::String(s) => check_text(s),
        Json::Array(items) => items.iter().try_for_each(check_json_text),
        Json::Object(map) => map.iter().try_for_each(|(k, v)| {
            check_text(k)?;
            check_json_text(v)
        }),
        Json::Null | Json::Bool(_) | Json::Number(_) => Ok(()),
    }
}

/// The SQL `NULL` of a field's type.
pub(crate) fn null_of(ty: FieldType) -> Value {
    match ty {
        FieldType::Uuid => Value::Uuid(None),
        FieldType::String | FieldType::Enum(_) => Value::String(None),
        FieldType::I32 => Value::Int(None),
        FieldType::I64 => Value::BigInt(None),
        FieldType::F64 => Value::Double(None),
        FieldType::Bool => Value::Bool(None),
        FieldType::DateTime => Value::ChronoDateTimeUtc(None),
        FieldType::Decimal => Value::Decimal(None),
        FieldType::Json => Value::Json(None),
    }
}

/// A JSON number as an integer: `42`, and `42.0` too, since JSON Schema (and so the OpenAPI
/// document) counts a number without a fractional part as an integer. `4.5`, or a number
/// outside `i64`, is none.
fn integer(n: &serde_json::Number) -> Option<i64> {
    // 2^63 is exact as an f64; every integral f64 in [-2^63, 2^63) converts exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    n.as_i64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f))
            .map(|f| f as i64)
    })
}

/// A JSON body value of `field`, typed and checked against the field's rules.
pub(crate) fn from_json(field: &FieldMeta, json: &Json) -> Result<Value, ValueError> {
    if json.is_null() {
        return if field.nullable {
            Ok(null_of(field.ty))
        } else {
            Err(ValueError::new("type", "must not be null"))
        };
    }
    let value = match (field.ty, json) {
        (FieldType::Json, v) => {
            check_json_text(v)?;
            Value::Json(Some(Box::new(v.clone())))
        }
        (FieldType::Bool, Json::Bool(b)) => Value::Bool(Some(*b)),
        (FieldType::I32, Json::Number(n)) => {
            let v = integer(n).and_then(|v| i32::try_from(v).ok());
            Value::Int(Some(v.ok_or_else(|| {
                ValueError::new("type", "must be a 32-bit integer")
            })?))
        }
        (FieldType::I64, Json::Number(n)) => Value::BigInt(Some(
            integer(n).ok_or_else(|| ValueError::expected(field.ty))?,
        )),
        (FieldType::F64, Json::Number(n)) => Value::Double(Some(
            n.as_f64().ok_or_else(|| ValueError::expected(field.ty))?,
        )),
        (FieldType::Decimal, Json::Number(n)) => Value::Decimal(Some(
            Decimal::from_str(&n.to_string())
                .or_else(|_| Decimal::from_scientific(&n.to_string()))
                .map_err(|_| ValueError::expected(field.ty))?,
        )),
        (_, Json::String(s)) => from_text(field.ty, s)?,
        _ => return Err(ValueError::expected(field.ty)),
    };
    check_rules(field, &value)?;
    Ok(value)
}

/// A query-string or cursor value of a field of type `ty`. Strings are taken as they are,
/// except that a NUL character is refused ([`check_text`]).
pub(crate) fn from_text(ty: FieldType, text: &str) -> Result<Value, ValueError> {
    let bad = || ValueError::expected(ty);
    Ok(match ty {
        FieldType::String => {
            check_text(text)?;
            Value::String(Some(text.to_owned()))
        }
        FieldType::Uuid => Value::Uuid(Some(uuid::Uuid::parse_str(text).map_err(|_| bad())?)),
        FieldType::I32 => Value::Int(Some(text.trim().parse().map_err(|_| bad())?)),
        FieldType::I64 => Value::BigInt(Some(text.trim().parse().map_err(|_| bad())?)),
        FieldType::F64 => {
            let v: f64 = text.trim().parse().map_err(|_| bad())?;
            if !v.is_finite() {
                return Err(bad());
            }
            Value::Double(Some(v))
        }
        FieldType::Bool => Value::Bool(Some(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return Err(bad()),
        })),
        FieldType::DateTime => {
            Value::ChronoDateTimeUtc(Some(parse_datetime(text).ok_or_else(bad)?))
        }
        FieldType::Decimal => Value::Decimal(Some(
            Decimal::from_str(text.trim())
                .or_else(|_| Decimal::from_scientific(text.trim()))
                .map_err(|_| bad())?,
        )),
        FieldType::Enum(values) => {
            if !values.contains(&text) {
                return Err(ValueError::enumeration(values));
            }
            Value::String(Some(text.to_owned()))
        }
        FieldType::Json => {
            let json = serde_json::from_str(text).map_err(|_| bad())?;
            check_json_text(&json)?;
            Value::Json(Some(Box::new(json)))
        }
    })
}

/// RFC 3339 date-times, or a plain `YYYY-MM-DD` date (midnight UTC).
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Checks `value` against the field's validation rules.
pub(crate) fn check_rules(field: &FieldMeta, value: &Value) -> Result<(), ValueError> {
    let rules = &field.rules;
    if let Value::String(Some(s)) = value {
        let len = s.chars().count();
        if let Some(min) = rules.min_len
            && len < min as usize
        {
            let unit = if min == 1 { "character" } else { "characters" };
            return Err(ValueError::new(
                "minLength",
                format!("must be at least {min} {unit}"),
            ));
        }
        if let Some(max) = rules.max_len
            && len > max as usize
        {
            return Err(ValueError::new(
                "maxLength",
                format!("must be at most {max} characters"),
            ));
        }
        if !rules.one_of.is_empty() && !rules.one_of.contains(&s.as_str()) {
            return Err(ValueError::enumeration(rules.one_of));
        }
    }
    if let Some(n) = as_f64(value) {
        if let Some(min) = rules.min
            && n < min
        {
            return Err(ValueError::new(
                "minimum",
                format!("must be at least {min}"),
            ));
        }
        if let Some(max) = rules.max
            && n > max
        {
            return Err(ValueError::new("maximum", format!("must be at most {max}")));
        }
    }
    Ok(())
}

fn as_f64(value: &Value) -> Option<f64> {
    use rust_decimal::prelude::ToPrimitive;
    match value {
        Value::Int(Some(v)) => Some(f64::from(*v)),
        #[allow(clippy::cast_precision_loss)]
        Value::BigInt(Some(v)) => Some(*v as f64),
        Value::Double(Some(v)) => Some(*v),
        Value::Decimal(Some(v)) => v.to_f64(),
        _ => None,
    }
}

/// A value as JSON text for cursors: the inverse of [`from_text`] for every field type.
pub(crate) fn to_cursor_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::String(Some(s)) => s.clone(),
        Value::Uuid(Some(u)) => u.to_string(),
        Value::Int(Some(v)) => v.to_string(),
        Value::BigInt(Some(v)) => v.to_string(),
        Value::Double(Some(v)) => v.to_string(),
        Value::Bool(Some(v)) => v.to_string(),
        Value::ChronoDateTimeUtc(Some(v)) => Rfc3339::new(v).map_or_else(
            || v.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            |text| text.as_str().to_owned(),
        ),
        Value::Decimal(Some(v)) => v.to_string(),
        _ => return None,
    })
}

/// A UTC timestamp as chrono writes it to JSON (RFC 3339 with `Z`, and the fraction in 0, 3,
/// 6 or 9 digits, the fewest that hold it), written without the formatting machinery: every
/// row shows two, and `collect_str` costs several times the rest of a row. Years outside
/// 0..=9999 are left to chrono (`None`).
pub(crate) struct Rfc3339 {
    bytes: [u8; 30],
    len: usize,
}

impl Rfc3339 {
    pub(crate) fn new(at: &DateTime<Utc>) -> Option<Self> {
        use chrono::{Datelike, Timelike};
        let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
        // A leap second is written as second 60, its nanoseconds past 1e9 as the fraction.
        let nano = at.nanosecond();
        let (second, nano) = if nano >= 1_000_000_000 {
            (at.second() + 1, nano - 1_000_000_000)
        } else {
            (at.second(), nano)
        };
        let mut text = Self {
            bytes: [0; 30],
            len: 0,
        };
        text.digits(year, 4);
        text.push(b'-');
        text.digits(at.month(), 2);
        text.push(b'-');
        text.digits(at.day(), 2);
        text.push(b'T');
        text.digits(at.hour(), 2);
        text.push(b':');
        text.digits(at.minute(), 2);
        text.push(b':');
        text.digits(second, 2);
        if nano != 0 {
            text.push(b'.');
            if nano % 1_000_000 == 0 {
                text.digits(nano / 1_000_000, 3);
            } else if nano % 1_000 == 0 {
                text.digits(nano / 1_000, 6);
            } else {
                text.digits(nano, 9);
            }
        }
        text.push(b'Z');
        Some(text)
    }

    fn push(&mut self, byte: u8) {
        self.bytes[self.len] = byte;
        self.len += 1;
    }

    /// `value`'s last `width` digits, zero-padded.
    fn digits(&mut self, value: u32, width: u32) {
        for place in (0..width).rev() {
            // One decimal digit: the cast cannot truncate.
            #[allow(clippy::cast_possible_truncation)]
            self.push(b'0' + (value / 10u32.pow(place) % 10) as u8);
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // ASCII digits and separators only.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::resource::Rules;

    fn field(ty: FieldType, nullable: bool, rules: Rules) -> FieldMeta {
        let field = FieldMeta {
            rules,
            ..FieldMeta::new("f", ty)
        };
        if nullable { field.nullable() } else { field }
    }

    #[test]
    fn json_values_are_typed_by_the_field() {
        let f = field(FieldType::I64, false, Rules::NONE);
        assert_eq!(
            from_json(&f, &serde_json::json!(42)),
            Ok(Value::BigInt(Some(42)))
        );
        assert_eq!(
            from_json(&f, &serde_json::json!("42")).unwrap(),
            Value::BigInt(Some(42))
        );
        assert_eq!(
            from_json(&f, &serde_json::json!(4.5)).unwrap_err().keyword,
            "type"
        );
        assert_eq!(
            from_json(&f, &serde_json::json!(42.0)),
            Ok(Value::BigInt(Some(42))),
            "JSON Schema's integer: no fractional part"
        );
        assert_eq!(
            from_json(&f, &serde_json::json!(1e19)).unwrap_err().keyword,
            "type"
        );
        assert_eq!(
            from_json(&f, &Json::Null).unwrap_err().message,
            "must not be null"
        );
        let f = field(FieldType::I32, true, Rules::NONE);
        assert_eq!(from_json(&f, &Json::Null), Ok(Value::Int(None)));
        assert_eq!(
            from_json(&f, &serde_json::json!(1_i64 << 40))
                .unwrap_err()
                .keyword,
            "type"
        );
    }

    #[test]
    fn rules_report_their_keyword() {
        let rules = Rules {
            min_len: Some(1),
            max_len: Some(3),
            ..Rules::NONE
        };
        let f = field(FieldType::String, false, rules);
        assert_eq!(
            from_json(&f, &serde_json::json!("")).unwrap_err().keyword,
            "minLength"
        );
        assert_eq!(
            from_json(&f, &serde_json::json!("abcd"))
                .unwrap_err()
                .keyword,
            "maxLength"
        );
        assert_eq!(
            from_json(&f, &serde_json::json!("héé")),
            Ok(Value::String(Some("héé".into())))
        );
        let f = field(
            FieldType::I64,
            false,
            Rules {
                min: Some(0.0),
                ..Rules::NONE
            },
        );
        assert_eq!(
            from_json(&f, &serde_json::json!(-1)).unwrap_err().keyword,
            "minimum"
        );
    }

    #[test]
    fn text_values_parse_or_refuse() {
        assert!(from_text(FieldType::F64, "NaN").is_err());
        assert!(from_text(FieldType::F64, "inf").is_err());
        assert!(from_text(FieldType::Uuid, "nope").is_err());
        assert!(from_text(FieldType::DateTime, "2026-01-02").is_ok());
        assert!(from_text(FieldType::DateTime, "2026-01-02T03:04:05+02:00").is_ok());
        assert_eq!(
            from_text(FieldType::Enum(&["a", "b"]), "c")
                .unwrap_err()
                .keyword,
            "enum"
        );
        assert_eq!(
            from_text(FieldType::Bool, "yes").unwrap_err().keyword,
            "type"
        );
    }

    #[test]
    fn nul_characters_are_refused_in_text_and_json() {
        let nul = ValueError::nul();
        assert_eq!(from_text(FieldType::String, "a\0"), Err(nul.clone()));
        assert_eq!(
            from_text(FieldType::Json, r#"{"a\u0000":1}"#),
            Err(nul.clone())
        );
        let f = field(FieldType::Json, false, Rules::NONE);
        assert_eq!(
            from_json(&f, &serde_json::json!({"a": [1, {"b": "\u{0}"}]})),
            Err(nul.clone())
        );
        let f = field(FieldType::String, false, Rules::NONE);
        assert_eq!(from_json(&f, &serde_json::json!("x\u{0}")), Err(nul));
        assert!(from_json(&f, &serde_json::json!("x\u{1}")).is_ok());
    }

    proptest! {
        /// The fast writer writes what chrono's serde writes, for any instant of years
        /// 0..=9999, leap seconds and every fraction width included.
        #[test]
        fn timestamps_are_written_as_chrono_writes_them(
            seconds in -62_167_219_200i64..253_402_300_800,
            nanos in prop_oneof![
                Just(0u32),
                (0u32..1000).prop_map(|ms| ms * 1_000_000),
                (0u32..1_000_000).prop_map(|us| us * 1000),
                0u32..1_000_000_000,
                1_000_000_000u32..2_000_000_000,
            ],
        ) {
            // A leap second's nanoseconds are valid on second 59 only.
            let seconds = if nanos >= 1_000_000_000 { seconds - seconds.rem_euclid(60) + 59 } else { seconds };
            let at = DateTime::from_timestamp(seconds, nanos).expect("in range");
            let chrono = serde_json::to_string(&at).expect("serializes");
            prop_assert_eq!(format!("\"{}\"", Rfc3339::new(&at).expect("years 0..=9999").as_str()), chrono);
        }
    }

    #[test]
    fn years_past_9999_are_left_to_chrono() {
        let at = DateTime::from_timestamp(253_402_300_800, 0).expect("in range");
        assert!(Rfc3339::new(&at).is_none());
        assert_eq!(
            to_cursor_text(&Value::ChronoDateTimeUtc(Some(at))).as_deref(),
            Some("+10000-01-01T00:00:00Z")
        );
    }

    #[test]
    fn cursor_text_round_trips() {
        let now = Utc::now();
        for (ty, v) in [
            (FieldType::DateTime, Value::ChronoDateTimeUtc(Some(now))),
            (FieldType::I64, Value::BigInt(Some(-7))),
            (FieldType::F64, Value::Double(Some(0.1))),
            (FieldType::Uuid, Value::Uuid(Some(uuid::Uuid::new_v4()))),
            (
                FieldType::Decimal,
                Value::Decimal(Some(Decimal::new(12345, 2))),
            ),
        ] {
            let text = to_cursor_text(&v).unwrap();
            assert_eq!(from_text(ty, &text).unwrap(), v);
        }
    }
}
