//! A row as the runtime holds it between the database and the answer: its values in the
//! field table's order ([`Record`]), written to JSON through a caller's [`Shape`] by code
//! that does not know the resource's type, so it is compiled once for every resource.

use sea_orm::{ActiveModelTrait, DbErr, ModelTrait, TryIntoModel, Value};
use serde::ser::{Error as _, SerializeMap};
use serde::{Serialize, Serializer};

use super::populate::Embeds;
use crate::resource::{FieldType, Resource, ResourceMeta, Shape};
use crate::value;

/// One row: a value per field of its resource, in `META.fields` order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record(Box<[Value]>);

impl Record {
    /// The values of `model`, as sea-orm reads them off the model.
    pub(crate) fn of<R: Resource>(model: &R::Model) -> Self {
        Self(
            (0..R::META.fields.len())
                .map(|i| model.get(R::column(i)))
                .collect(),
        )
    }

    /// The model of `R` holding these values (through its active model's own conversions).
    pub(crate) fn into_model<R: Resource>(self) -> Result<R::Model, DbErr> {
        let mut row = <R::ActiveModel as ActiveModelTrait>::default();
        for (i, value) in self.0.into_iter().enumerate() {
            row.try_set(R::column(i), value)?;
        }
        row.try_into_model()
    }

    /// A row of `values`, one per field in the field table's order.
    pub(crate) fn new(values: Box<[Value]>) -> Self {
        Self(values)
    }

    /// The value of field `index`.
    pub(crate) fn get(&self, index: usize) -> &Value {
        &self.0[index]
    }

    /// Writes `shape`'s fields into `map` under their JSON names, a redacted one as its
    /// [`mask`], and never a hidden field (whatever `shape` says).
    pub(crate) fn write<M: SerializeMap>(
        &self,
        meta: &ResourceMeta,
        shape: Shape,
        embeds: Option<&Embeds>,
        map: &mut M,
    ) -> Result<(), M::Error> {
        for i in shape.fields.iter() {
            let Some(field) = meta.fields.get(i) else {
                continue;
            };
            if field.hidden {
                continue;
            }
            if shape.redact.contains(i) {
                map.serialize_entry(field.name, &mask(field.ty))?;
            } else {
                map.serialize_entry(field.name, &Json(self.get(i)))?;
            }
        }
        match embeds {
            Some(embeds) => embeds.write(self, shape, map),
            None => Ok(()),
        }
    }

    /// This row as one JSON object of `shape`'s fields.
    pub(crate) fn shown<'a>(&'a self, meta: &'static ResourceMeta, shape: Shape) -> Shown<'a> {
        Shown {
            record: self,
            meta,
            shape,
            embeds: None,
        }
    }

    /// The same, with the rows its populated references name ([`Embeds`]).
    pub(crate) fn shown_with<'a>(
        &'a self,
        meta: &'static ResourceMeta,
        shape: Shape,
        embeds: &'a Embeds,
    ) -> Shown<'a> {
        Shown {
            embeds: Some(embeds),
            ..self.shown(meta, shape)
        }
    }
}

/// The mask written in place of a redacted value: `"***"` for text, `null` otherwise.
pub(crate) fn mask(ty: FieldType) -> Option<&'static str> {
    matches!(ty, FieldType::String | FieldType::Enum(_)).then_some("***")
}

/// A [`Record`] as a JSON object (see [`Record::shown`]).
pub(crate) struct Shown<'a> {
    record: &'a Record,
    meta: &'static ResourceMeta,
    shape: Shape,
    embeds: Option<&'a Embeds>,
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.record
            .write(self.meta, self.shape, self.embeds, &mut map)?;
        map.end()
    }
}

/// Rows as a JSON array, each as [`Shown`].
pub(crate) fn write_records<S: Serializer>(
    records: &[Record],
    meta: &'static ResourceMeta,
    shape: Shape,
    embeds: &Embeds,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(records.iter().map(|r| r.shown_with(meta, shape, embeds)))
}

/// A field's value written as the model's field is: through the serde impl of the type the
/// value holds (`Uuid`, `DateTime<Utc>`, `Decimal`, ..), `null` for a null.
pub(crate) struct Json<'a>(pub &'a Value);

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Bool(v) => v.serialize(serializer),
            Value::Int(v) => v.serialize(serializer),
            Value::BigInt(v) => v.serialize(serializer),
            Value::Double(v) => v.serialize(serializer),
            Value::String(v) => v.serialize(serializer),
            Value::Uuid(v) => v.serialize(serializer),
            Value::ChronoDateTimeUtc(Some(v)) => match value::Rfc3339::new(v) {
                Some(text) => serializer.serialize_str(text.as_str()),
                None => v.serialize(serializer),
            },
            Value::ChronoDateTimeUtc(None) => serializer.serialize_none(),
            Value::Decimal(v) => v.serialize(serializer),
            Value::Json(v) => v.serialize(serializer),
            other => Err(S::Error::custom(format_args!(
                "a field holds a value of no field type: {other:?}"
            ))),
        }
    }
}
