//! The CRUD operations and preset routes, generic over the resource: `read` (list, get,
//! tree), `write` (create, update, delete, restore), `bulk` and `act` (the actions). Which rows each may touch
//! is `crud::access`'s; writes run in one transaction with the resource's hooks.

use sea_orm::{ActiveModelTrait, ModelTrait, Value};
use serde_json::{Map, Value as Json};

use super::access::stamp;
use super::body::{self, Mode, Values};
use crate::auth::AuthContext;
use crate::error::ArcError;
use crate::resource::{Auto, FieldSet, Resource, ResourceMeta, Shape};
use crate::value;

mod act;
mod bulk;
mod kept;
mod read;
mod write;
mod written;

pub(crate) use super::access::Scope;
pub(crate) use act::act;
pub(crate) use bulk::{bulk_create, bulk_delete, bulk_update};
pub(crate) use kept::Kept;
pub(crate) use read::{children, fetch, get, get_by_slug, list, list_statements, listing, tree};
pub(crate) use write::{create, delete, restore, update};
pub(crate) use written::FrameworkWrite;

/// The most items of one bulk create.
pub(crate) const MAX_BULK_ITEMS: usize = 1000;
/// The most rows the tree route assembles.
pub(crate) const MAX_TREE_ROWS: u64 = 10_000;

fn now() -> Value {
    Value::ChronoDateTimeUtc(Some(chrono::Utc::now()))
}

/// Sets the fields the server fills in: ids and timestamps on create, `updated_at` on update.
/// One clock reading serves every timestamp of the write.
fn fill_auto<R: Resource>(row: &mut R::ActiveModel, mode: Mode) -> Result<(), ArcError> {
    let now = now();
    for (i, field) in R::META.fields.iter().enumerate() {
        let value = match (field.auto, mode) {
            (Auto::Uuid, Mode::Create) => Value::Uuid(Some(uuid::Uuid::new_v4())),
            (Auto::CreatedAt, Mode::Create) | (Auto::UpdatedAt, _) => now.clone(),
            _ => continue,
        };
        row.try_set(R::column(i), value)?;
    }
    Ok(())
}

fn set_values<R: Resource>(row: &mut R::ActiveModel, values: Values) -> Result<(), ArcError> {
    for (i, value) in values {
        row.try_set(R::column(i), value)?;
    }
    Ok(())
}

/// A new row from decoded create values, with defaults and automatic fields.
fn new_row<R: Resource>(values: Values, caller: &AuthContext) -> Result<R::ActiveModel, ArcError> {
    let mut row = <R::ActiveModel as ActiveModelTrait>::default();
    for (i, field) in R::META.fields.iter().enumerate() {
        if let Some(default) = field.default {
            row.try_set(R::column(i), default())?;
        }
    }
    set_values::<R>(&mut row, values)?;
    fill_auto::<R>(&mut row, Mode::Create)?;
    stamp::<R>(&mut row, caller)?;
    Ok(row)
}

/// `body` decoded for `caller`, or every problem with it as one validation error.
fn decode_or_reject<R: Resource>(
    caller: &AuthContext,
    body: &Map<String, Json>,
    mode: Mode,
) -> Result<Values, ArcError> {
    let mut errors = Vec::new();
    let known = FieldSet::known_to(R::META, caller);
    let values = body::decode(R::META, known, body, mode, "", &mut errors);
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(ArcError::validation(errors))
    }
}

/// What `caller` is shown of each row.
fn shape(meta: &ResourceMeta, caller: &AuthContext) -> Shape {
    Shape::for_caller(meta, caller)
}

fn id_text<R: Resource>(model: &R::Model) -> String {
    value::to_cursor_text(&model.get(R::column(R::META.id))).unwrap_or_default()
}
