//! The success envelopes of the contract, serialized straight from models with a field mask
//! (no intermediate `serde_json::Value`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::error::ArcError;
use crate::resource::{FieldType, Resource, SerializeFields, Shape};

/// The mask written in place of a redacted value: `"***"` for text, `null` otherwise.
fn mask(ty: FieldType) -> Option<&'static str> {
    matches!(ty, FieldType::String | FieldType::Enum(_)).then_some("***")
}

/// Writes `shape`'s fields of `model` into `map`, masking the redacted ones.
pub fn write_fields<R: Resource, M: SerializeMap>(
    model: &R::Model,
    shape: Shape,
    map: &mut M,
) -> Result<(), M::Error> {
    for i in shape.fields.iter() {
        if shape.redact.contains(i) {
            let field = &R::META.fields[i];
            map.serialize_entry(field.name, &mask(field.ty))?;
        } else {
            model.serialize_field(i, map)?;
        }
    }
    Ok(())
}

/// One row as a caller is shown it.
pub struct Record<'a, R: Resource> {
    /// The row.
    pub model: &'a R::Model,
    /// What to write of it.
    pub shape: Shape,
}

impl<R: Resource> Serialize for Record<'_, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        write_fields::<R, _>(self.model, self.shape, &mut map)?;
        map.end()
    }
}

/// Many rows with the same shape.
pub struct Records<'a, R: Resource> {
    /// The rows.
    pub models: &'a [R::Model],
    /// What to write of each.
    pub shape: Shape,
}

impl<R: Resource> Serialize for Records<'_, R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.models.len()))?;
        for model in self.models {
            seq.serialize_element(&Record::<R> {
                model,
                shape: self.shape,
            })?;
        }
        seq.end()
    }
}

/// `{"success":true,"docs":[..],"page":..,"limit":..,"total":..,"pages":..,"hasNext":..,"hasPrev":..}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub struct OffsetPage<'a, R: Resource> {
    /// Always `true`.
    pub success: bool,
    /// The rows of this page.
    pub docs: Records<'a, R>,
    /// 1-based page number.
    pub page: u64,
    /// Page size.
    pub limit: u64,
    /// Rows matching the query.
    pub total: u64,
    /// Number of pages.
    pub pages: u64,
    /// A page follows.
    pub has_next: bool,
    /// A page precedes.
    pub has_prev: bool,
}

/// `{"success":true,"docs":[..],"limit":..,"hasNext":..,"next":"<cursor>"?}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub struct KeysetPage<'a, R: Resource> {
    /// Always `true`.
    pub success: bool,
    /// The rows of this page.
    pub docs: Records<'a, R>,
    /// Page size.
    pub limit: u64,
    /// A page follows.
    pub has_next: bool,
    /// The cursor of the next page, absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `{"success":true,"data":..,"message":..?}` plus any extra top-level members.
#[derive(Serialize)]
pub struct Data<'a, T: Serialize> {
    /// Always `true`.
    pub success: bool,
    /// The payload.
    pub data: T,
    /// A message for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// `count` of bulk creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
}

impl<T: Serialize> Data<'static, T> {
    /// `{"success":true,"data":data}`
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
            message: None,
            count: None,
        }
    }

    /// With a `message`.
    pub fn with_message(mut self, message: &'static str) -> Self {
        self.message = Some(message);
        self
    }
}

/// A JSON response; serialization failure is an internal error.
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response, ArcError> {
    let bytes = serde_json::to_vec(body).map_err(ArcError::internal)?;
    let mut response = Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = status;
    // Room for what the layers add on the way out (request id, trace, tag, security
    // headers, rate limits), so the map is sized once instead of grown twice.
    let headers = response.headers_mut();
    *headers = axum::http::HeaderMap::with_capacity(24);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
