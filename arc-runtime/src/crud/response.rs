//! What the operations answer: typed outcomes, each with its status, its body (the contract's
//! envelopes, serialized straight from [`Record`]s through a field mask, with no
//! intermediate `serde_json::Value`) and its JSON Schema. The OpenAPI document asks these types what a
//! route answers ([`super::routes::Answers`]), so an envelope is described once, beside the
//! code that writes it.
//!
//! Component names follow the resource: `Product` (a row), `ProductSelection` (a row of a
//! page), `ProductPage`, `ProductKeysetPage`, `ProductData` (one row), `ProductList` (rows,
//! or a tree), `ProductBulkCreated`; and once for all: `DeleteResult`, `BulkUpdateResult`,
//! `BulkDeleteResult`, `ErrorEnvelope`.

use std::borrow::Cow;
use std::marker::PhantomData;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::populate::Embeds;
use super::record::{Record, write_records};
use crate::error::ArcError;
use crate::plugins::etag::Digested;
use crate::resource::{Resource, ResourceMeta, Shape};
use crate::wire::{self, View};

/// A success answer: its status, its body and (through [`JsonSchema`]) its description.
pub(crate) trait Outcome: Serialize + JsonSchema {
    /// The status it is answered with.
    const STATUS: StatusCode;
    /// The headers it carries beside the body, for the document: `(name, description)`.
    const HEADERS: &'static [(&'static str, &'static str)] = &[];

    /// Sets this answer's own headers (a create's `Location`).
    fn headers(&self, _headers: &mut HeaderMap) {}

    /// The answer: [`Self::STATUS`], the body as JSON and [`Self::headers`].
    fn into_response(self) -> Result<Response, ArcError>
    where
        Self: Sized,
    {
        let mut response = json(Self::STATUS, &self)?;
        self.headers(response.headers_mut());
        Ok(response)
    }
}

/// The resource's name as a schema name: `order_line` → `OrderLine`.
fn pascal<R: Resource>(suffix: &str) -> Cow<'static, str> {
    Cow::Owned(arc_spec::names::to_pascal(R::META.name) + suffix)
}

/// A schema id unique per resource (two resources may share a name in different apps, never
/// in one: [`crate::openapi::Document::build`] refuses that).
fn schema_id<R: Resource>(kind: &str) -> Cow<'static, str> {
    Cow::Owned(format!("arc_runtime::{kind}::{}", R::META.name))
}

/// `true`, always: the `success` member of every success envelope.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Success;

impl Serialize for Success {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(true)
    }
}

impl JsonSchema for Success {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Success".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "const": true })
    }
}

pub(crate) use super::record::mask;

/// The resource of an outcome made by code compiled once for every resource (the reads):
/// its rows carry their field table, and the handler names the resource (`retype`) for the
/// document. No value has this type.
pub(crate) enum Erased {}

/// One row as a caller is shown it; described as the resource's row (`Product`).
pub(crate) struct Row<R> {
    /// The row.
    pub record: Record,
    /// What to write of it.
    pub shape: Shape,
    /// Its resource's field table.
    meta: &'static ResourceMeta,
    /// The rows its populated references name.
    embeds: Embeds,
    _resource: PhantomData<fn() -> R>,
}

impl<R> Serialize for Row<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.record
            .shown_with(self.meta, self.shape, &self.embeds)
            .serialize(serializer)
    }
}

impl<R: Resource> JsonSchema for Row<R> {
    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("")
    }

    fn schema_id() -> Cow<'static, str> {
        schema_id::<R>("Row")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        wire::schema(R::META, View::Row)
    }
}

/// Rows with one shape, each written as [`Row`] describes it.
pub(crate) struct Rows<R> {
    /// The rows.
    pub records: Vec<Record>,
    /// What to write of each.
    pub shape: Shape,
    /// Their resource's field table.
    pub meta: &'static ResourceMeta,
    /// The rows their populated references name.
    pub embeds: Embeds,
    _resource: PhantomData<fn() -> R>,
}

impl<R> Rows<R> {
    /// `records` of `meta`'s resource, each shown as `shape` says.
    pub(crate) fn new(meta: &'static ResourceMeta, records: Vec<Record>, shape: Shape) -> Self {
        Self {
            records,
            shape,
            meta,
            embeds: Embeds::default(),
            _resource: PhantomData,
        }
    }
}

impl Rows<Erased> {
    /// The same rows, named for `R`.
    pub(crate) fn retype<R>(self) -> Rows<R> {
        Rows {
            records: self.records,
            shape: self.shape,
            meta: self.meta,
            embeds: self.embeds,
            _resource: PhantomData,
        }
    }
}

impl<R: Resource> Rows<R> {
    /// `models`, each shown as `shape` says.
    pub(crate) fn of(models: &[R::Model], shape: Shape) -> Self {
        Self::new(R::META, models.iter().map(Record::of::<R>).collect(), shape)
    }
}

impl<R> Serialize for Rows<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        write_records(
            &self.records,
            self.meta,
            self.shape,
            &self.embeds,
            serializer,
        )
    }
}

impl<R: Resource> JsonSchema for Rows<R> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("Rows")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let row = generator.subschema_for::<Row<R>>();
        json_schema!({ "type": "array", "items": row })
    }
}

/// The rows of a page: a `select` may keep only some members of each.
pub(crate) struct Selected<R>(pub Rows<R>);

impl<R> Serialize for Selected<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// A row of a page (`ProductSelection`).
struct Selection<R>(PhantomData<R>);

impl<R: Resource> JsonSchema for Selection<R> {
    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("Selection")
    }

    fn schema_id() -> Cow<'static, str> {
        schema_id::<R>("Selection")
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        wire::schema(R::META, View::Selection)
    }
}

impl<R: Resource> JsonSchema for Selected<R> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("Selections")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let row = generator.subschema_for::<Selection<R>>();
        json_schema!({ "type": "array", "items": row })
    }
}

/// `{"success":true,"docs":[..],"page":..,"limit":..,"total":..,"pages":..,"hasNext":..,"hasPrev":..}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub(crate) struct Page<R> {
    /// Always `true`.
    pub success: Success,
    /// The rows of this page.
    pub docs: Selected<R>,
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

impl<R: Resource> JsonSchema for Page<R> {
    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("Page")
    }

    fn schema_id() -> Cow<'static, str> {
        schema_id::<R>("Page")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let docs = generator.subschema_for::<Selected<R>>();
        json_schema!({
            "type": "object",
            "description": format!("A page of {}, by `page` and `limit`.", R::META.collection()),
            "properties": {
                "success": { "const": true }, "docs": docs,
                "page": { "type": "integer", "minimum": 1 },
                "limit": { "type": "integer", "minimum": 1 },
                "total": { "type": "integer", "minimum": 0 },
                "pages": { "type": "integer", "minimum": 0 },
                "hasNext": { "type": "boolean" },
                "hasPrev": { "type": "boolean" },
            },
            "required": ["success", "docs", "page", "limit", "total", "pages", "hasNext", "hasPrev"],
            // Exactly these members, so a page is never also a keyset page (`Listing`).
            "additionalProperties": false,
        })
    }
}

/// `{"success":true,"docs":[..],"limit":..,"hasNext":..,"next":"<cursor>"?}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase", bound = "")]
pub(crate) struct KeysetPage<R> {
    /// Always `true`.
    pub success: Success,
    /// The rows of this page.
    pub docs: Selected<R>,
    /// Page size.
    pub limit: u64,
    /// A page follows.
    pub has_next: bool,
    /// The cursor of the next page, absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<R: Resource> JsonSchema for KeysetPage<R> {
    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("KeysetPage")
    }

    fn schema_id() -> Cow<'static, str> {
        schema_id::<R>("KeysetPage")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let docs = generator.subschema_for::<Selected<R>>();
        json_schema!({
            "type": "object",
            "description": "A keyset page (`after=`): `next` continues it, absent on the last page.",
            "properties": {
                "success": { "const": true }, "docs": docs,
                "limit": { "type": "integer", "minimum": 1 },
                "hasNext": { "type": "boolean" },
                "next": { "type": "string", "description": "An opaque, signed cursor." },
            },
            "required": ["success", "docs", "limit", "hasNext"],
            // Exactly these members: a page (`page`, `total`, ...) is not a keyset page.
            "additionalProperties": false,
        })
    }
}

/// A list's answer: a page by number, or a keyset page when the query has `after`.
pub(crate) enum Listing<R> {
    /// `page=` paging.
    Page(Page<R>),
    /// `after=` paging.
    Keyset(KeysetPage<R>),
}

impl Listing<Erased> {
    /// The same listing, its rows with `embeds`.
    pub(crate) fn embedding(mut self, embeds: Embeds) -> Self {
        match &mut self {
            Self::Page(p) => p.docs.0.embeds = embeds,
            Self::Keyset(p) => p.docs.0.embeds = embeds,
        }
        self
    }

    /// The same listing, named for `R`.
    pub(crate) fn retype<R>(self) -> Listing<R> {
        match self {
            Self::Page(p) => Listing::Page(Page {
                success: Success,
                docs: Selected(p.docs.0.retype()),
                page: p.page,
                limit: p.limit,
                total: p.total,
                pages: p.pages,
                has_next: p.has_next,
                has_prev: p.has_prev,
            }),
            Self::Keyset(p) => Listing::Keyset(KeysetPage {
                success: Success,
                docs: Selected(p.docs.0.retype()),
                limit: p.limit,
                has_next: p.has_next,
                next: p.next,
            }),
        }
    }
}

impl<R> Serialize for Listing<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Page(page) => page.serialize(serializer),
            Self::Keyset(page) => page.serialize(serializer),
        }
    }
}

impl<R: Resource> JsonSchema for Listing<R> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("Listing")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let page = generator.subschema_for::<Page<R>>();
        let keyset = generator.subschema_for::<KeysetPage<R>>();
        json_schema!({ "oneOf": [page, keyset] })
    }
}

impl<R: Resource> Outcome for Listing<R> {
    const STATUS: StatusCode = StatusCode::OK;
}

/// `{"success":true,"data":{..},"message":..?}`: one row.
#[derive(Serialize)]
#[serde(bound = "")]
pub(crate) struct One<R> {
    /// Always `true`.
    pub success: Success,
    /// The row.
    pub data: Row<R>,
    /// A message for people (`"Updated successfully"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

impl<R> One<R> {
    /// `record` of `meta`'s resource as `shape` shows it, with an optional message.
    pub(crate) fn new(
        meta: &'static ResourceMeta,
        record: Record,
        shape: Shape,
        message: Option<&'static str>,
    ) -> Self {
        Self {
            success: Success,
            data: Row {
                record,
                shape,
                meta,
                embeds: Embeds::default(),
                _resource: PhantomData,
            },
            message,
        }
    }

    /// The same row, with `embeds`.
    pub(crate) fn embedding(mut self, embeds: Embeds) -> Self {
        self.data.embeds = embeds;
        self
    }
}

impl One<Erased> {
    /// The same row, named for `R`.
    pub(crate) fn retype<R>(self) -> One<R> {
        One::new(
            self.data.meta,
            self.data.record,
            self.data.shape,
            self.message,
        )
        .embedding(self.data.embeds)
    }
}

impl<R: Resource> One<R> {
    /// `model` as `shape` shows it, with an optional message.
    pub(crate) fn of(model: &R::Model, shape: Shape, message: Option<&'static str>) -> Self {
        Self::new(R::META, Record::of::<R>(model), shape, message)
    }
}

impl<R: Resource> JsonSchema for One<R> {
    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("Data")
    }

    fn schema_id() -> Cow<'static, str> {
        schema_id::<R>("Data")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let row = generator.subschema_for::<Row<R>>();
        json_schema!({
            "type": "object",
            "properties": {
                "success": { "const": true }, "data": row,
                "message": { "type": "string" },
            },
            "required": ["success", "data"],
        })
    }
}

impl<R: Resource> Outcome for One<R> {
    const STATUS: StatusCode = StatusCode::OK;
}

/// A new row: `201 Created`, its path in `Location`, the body as [`One`].
pub(crate) struct Created<R: Resource> {
    /// The body.
    pub one: One<R>,
    /// The new row's path.
    pub location: String,
}

impl<R: Resource> Serialize for Created<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.one.serialize(serializer)
    }
}

impl<R: Resource> JsonSchema for Created<R> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("Created")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        generator.subschema_for::<One<R>>()
    }
}

impl<R: Resource> Outcome for Created<R> {
    const STATUS: StatusCode = StatusCode::CREATED;
    const HEADERS: &'static [(&'static str, &'static str)] =
        &[("Location", "The path of the new row.")];

    fn headers(&self, headers: &mut HeaderMap) {
        if let Ok(location) = HeaderValue::try_from(self.location.as_str()) {
            headers.insert(header::LOCATION, location);
        }
    }
}

/// The answer of a delete: which row, and whether it was soft-deleted.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "DeleteResult")]
pub(crate) struct Deleted {
    /// Always `true`.
    pub success: Success,
    /// What was deleted.
    pub data: DeletedRow,
}

/// The `data` of [`Deleted`].
#[derive(Serialize, JsonSchema)]
#[schemars(inline)]
pub(crate) struct DeletedRow {
    /// `"Deleted successfully"`.
    pub message: &'static str,
    /// The row's id.
    pub id: String,
    /// Present when the row was soft-deleted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub soft: bool,
}

impl Outcome for Deleted {
    const STATUS: StatusCode = StatusCode::OK;
}

/// `{"success":true,"data":[..]}`: rows, or in a tree the roots, each with its `children`.
pub(crate) struct Nodes<R> {
    /// The rows.
    pub rows: Rows<R>,
    /// For a tree, the parent field: the rows nest under their parents.
    pub tree: Option<usize>,
}

impl Nodes<Erased> {
    /// The same rows, named for `R`.
    pub(crate) fn retype<R>(self) -> Nodes<R> {
        Nodes {
            rows: self.rows.retype(),
            tree: self.tree,
        }
    }
}

impl<R> Serialize for Nodes<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Data<'a, R>(&'a Nodes<R>);
        impl<R> Serialize for Data<'_, R> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let rows = &self.0.rows;
                match self.0.tree {
                    Some(parent) => {
                        super::tree::Forest::build(&rows.records, rows.meta, parent, rows.shape)
                            .serialize(serializer)
                    }
                    None => rows.serialize(serializer),
                }
            }
        }
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("success", &Success)?;
        map.serialize_entry("data", &Data(self))?;
        map.end()
    }
}

impl<R: Resource> JsonSchema for Nodes<R> {
    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("List")
    }

    fn schema_id() -> Cow<'static, str> {
        schema_id::<R>("List")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let rows = generator.subschema_for::<Rows<R>>();
        json_schema!({
            "type": "object",
            "description": "Rows; in a tree each carries its `children`.",
            "properties": { "success": { "const": true }, "data": rows },
            "required": ["success", "data"],
        })
    }
}

impl<R: Resource> Outcome for Nodes<R> {
    const STATUS: StatusCode = StatusCode::OK;
}

/// `{"success":true,"data":[..],"count":n}`: the rows a bulk create made.
pub(crate) struct BulkCreated<R: Resource>(pub Rows<R>);

impl<R: Resource> Serialize for BulkCreated<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("success", &Success)?;
        map.serialize_entry("data", &self.0)?;
        map.serialize_entry("count", &self.0.records.len())?;
        map.end()
    }
}

impl<R: Resource> JsonSchema for BulkCreated<R> {
    fn schema_name() -> Cow<'static, str> {
        pascal::<R>("BulkCreated")
    }

    fn schema_id() -> Cow<'static, str> {
        schema_id::<R>("BulkCreated")
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let rows = generator.subschema_for::<Rows<R>>();
        json_schema!({
            "type": "object",
            "properties": {
                "success": { "const": true }, "data": rows,
                "count": { "type": "integer", "minimum": 0 },
            },
            "required": ["success", "data", "count"],
        })
    }
}

impl<R: Resource> Outcome for BulkCreated<R> {
    const STATUS: StatusCode = StatusCode::CREATED;
}

/// The answer of a bulk update: rows the filter selected, and rows written.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "BulkUpdateResult")]
pub(crate) struct BulkUpdated {
    /// Always `true`.
    pub success: Success,
    /// The counts.
    pub data: UpdateCounts,
}

/// The `data` of [`BulkUpdated`].
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(inline)]
pub(crate) struct UpdateCounts {
    /// Rows the filter selected.
    pub matched_count: u64,
    /// Rows written.
    pub modified_count: u64,
}

impl Outcome for BulkUpdated {
    const STATUS: StatusCode = StatusCode::OK;
}

/// The answer of a bulk delete: rows deleted.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "BulkDeleteResult")]
pub(crate) struct BulkDeleted {
    /// Always `true`.
    pub success: Success,
    /// The count.
    pub data: DeleteCount,
}

/// The `data` of [`BulkDeleted`].
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(inline)]
pub(crate) struct DeleteCount {
    /// Rows deleted (soft-deleted where the resource is).
    pub deleted_count: u64,
}

impl Outcome for BulkDeleted {
    const STATUS: StatusCode = StatusCode::OK;
}

/// An answer of a read the query cache serves ([`crate::cache::read`]): the outcome itself
/// when the resource is not cached, or its body as the cache gave it, with `x-cache`. Either
/// is the same document: the schema is the outcome's.
pub(crate) enum Cached<O> {
    /// Not cached: the outcome, written as always.
    Direct(O),
    /// The body the cache holds (or just kept), and what the cache said.
    Kept {
        /// The outcome's JSON.
        body: bytes::Bytes,
        /// `x-cache`.
        status: crate::cache::CacheStatus,
        /// The body's digest, when the cache kept it beside the body (for its ETag).
        digest: Option<u64>,
    },
}

impl<O> Cached<O> {
    /// The outcome made into another (an erased one named for its resource).
    pub(crate) fn map<P>(self, f: impl FnOnce(O) -> P) -> Cached<P> {
        match self {
            Self::Direct(outcome) => Cached::Direct(f(outcome)),
            Self::Kept {
                body,
                status,
                digest,
            } => Cached::Kept {
                body,
                status,
                digest,
            },
        }
    }
}

impl<O: Serialize> Serialize for Cached<O> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Direct(outcome) => outcome.serialize(serializer),
            Self::Kept { body, .. } => serde_json::from_slice::<serde_json::Value>(body)
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl<O: JsonSchema> JsonSchema for Cached<O> {
    fn inline_schema() -> bool {
        O::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        O::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        O::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        O::json_schema(generator)
    }
}

impl<O: Outcome> Outcome for Cached<O> {
    const STATUS: StatusCode = O::STATUS;
    const HEADERS: &'static [(&'static str, &'static str)] = &[(
        crate::cache::X_CACHE,
        "How the query cache answered: `HIT` (kept, fresh), `STALE` (kept, refreshing) or `MISS`. Sent by resources with the cache on.",
    )];

    fn into_response(self) -> Result<Response, ArcError> {
        match self {
            Self::Direct(outcome) => outcome.into_response(),
            Self::Kept {
                body,
                status,
                digest,
            } => {
                let digested = digest.map(|d| Digested::new(body.clone(), d));
                let mut response = json_bytes(O::STATUS, body);
                response.headers_mut().insert(
                    const { HeaderName::from_static(crate::cache::X_CACHE) },
                    HeaderValue::from_static(status.as_str()),
                );
                if let Some(digested) = digested {
                    response.extensions_mut().insert(digested);
                }
                Ok(response)
            }
        }
    }
}

/// A JSON response; serialization failure is an internal error.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<Response, ArcError> {
    Ok(json_bytes(status, json_body(body)?))
}

/// `body` as JSON text, written in a buffer that holds a row or two before it first grows
/// (`serde_json::to_vec` starts at 128 bytes and doubles: twice for one row, seven times for
/// a page of twenty), then cut to its length (the query cache keeps it; a shrink is done in
/// place, where `Bytes` would otherwise allocate a header to remember the capacity).
pub(crate) fn json_body<T: Serialize>(body: &T) -> Result<bytes::Bytes, ArcError> {
    let mut bytes = Vec::with_capacity(1024);
    serde_json::to_writer(&mut bytes, body).map_err(ArcError::internal)?;
    Ok(bytes.into_boxed_slice().into())
}

/// A response of `status` with `bytes`, JSON already.
pub(crate) fn json_bytes(status: StatusCode, bytes: bytes::Bytes) -> Response {
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
    response
}

/// `Location: /products/1` of a route mounted under `prefix` (`/v2`) becomes
/// `/v2/products/1`: handlers name their rows without the prefix they are mounted under. A
/// location that is not a path of this server (`//host/..`, a URL) stays.
pub(crate) fn prefix_location(headers: &mut HeaderMap, prefix: &str) {
    let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) else {
        return;
    };
    if !location.starts_with('/') || location.starts_with("//") {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&format!("{prefix}{location}")) {
        headers.insert(header::LOCATION, value);
    }
}

/// Whether `path` is `prefix` or under it (`/v2/products` under `/v2`, not `/v20`).
pub(crate) fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
