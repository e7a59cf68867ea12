//! Declared states: a field with `#[field(states(pending -> paid, ..))]` changes only along
//! the transitions it declares. Every write that changes a row (update, replace, bulk update,
//! an action) asks [`check`] before it stores the row; a move not declared is a 409
//! `INVALID_TRANSITION` naming the field, both states and the moves allowed from the first,
//! to a caller who may see the field (to anyone else it names nothing). A create is no move:
//! a row starts in whichever state its writer may give it (`writable_by` says who).

use sea_orm::{ActiveModelTrait, ActiveValue, ModelTrait, Value};
use serde_json::json;

use crate::auth::AuthContext;
use crate::error::{ArcError, ErrorCode};
use crate::resource::{FieldMeta, Resource, Shape};

/// Whether any field of `fields` with declared states is among the written `indexes`.
pub(crate) fn touched(fields: &[FieldMeta], mut indexes: impl Iterator<Item = usize>) -> bool {
    indexes.any(|i| fields.get(i).is_some_and(|f| !f.states.is_empty()))
}

/// Refuses `row`, the pending write of `current`, when it moves a field with declared states
/// along a transition that is not declared. Writing the state a row is in is no move.
pub(crate) fn check<R: Resource>(
    current: &R::Model,
    row: &R::ActiveModel,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    moves::<R>(current, row, caller, false)
}

/// [`check`] for an action: a state it sets is a move it asks for, so setting the state
/// the row is already in (cancelling a cancelled order) is refused too.
pub(crate) fn check_acted<R: Resource>(
    current: &R::Model,
    row: &R::ActiveModel,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    moves::<R>(current, row, caller, true)
}

fn moves<R: Resource>(
    current: &R::Model,
    row: &R::ActiveModel,
    caller: &AuthContext,
    acted: bool,
) -> Result<(), ArcError> {
    for (i, field) in R::META.fields.iter().enumerate() {
        if field.states.is_empty() {
            continue;
        }
        let column = R::column(i);
        let (to, set) = match row.get(column) {
            ActiveValue::Set(to) => (to, true),
            ActiveValue::Unchanged(to) => (to, false),
            ActiveValue::NotSet => continue,
        };
        let from = current.get(column);
        if from == to && !(acted && set) {
            continue;
        }
        let (from, to) = (text(&from), text(&to));
        if !field.states.iter().any(|&(f, t)| f == from && t == to) {
            let shape = Shape::for_caller(R::META, caller);
            if !shape.fields.contains(i) || shape.redact.contains(i) {
                return Err(ArcError::new(
                    ErrorCode::InvalidTransition,
                    "The row's state does not allow this change",
                ));
            }
            return Err(refused(field, from, to));
        }
    }
    Ok(())
}

/// A state as stored: an enum's name (text), or `?` for a value no state is written as.
fn text(value: &Value) -> &str {
    match value {
        Value::String(Some(s)) => s.as_str(),
        _ => "?",
    }
}

/// The 409 of a move from `from` to `to` of `field`.
fn refused(field: &FieldMeta, from: &str, to: &str) -> ArcError {
    let allowed: Vec<&str> = field
        .states
        .iter()
        .filter(|(f, _)| *f == from)
        .map(|(_, t)| *t)
        .collect();
    let message = if allowed.is_empty() {
        format!("`{}` cannot leave `{from}`", field.name)
    } else {
        format!(
            "`{}` cannot go from `{from}` to `{to}`; from `{from}` it may go to {}",
            field.name,
            allowed
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    ArcError::new(ErrorCode::InvalidTransition, message).with_details(json!({
        "field": field.name,
        "from": from,
        "to": to,
        "allowed": allowed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::FieldType;

    const STATUS: FieldMeta = FieldMeta::new("status", FieldType::String).states(&[
        ("pending", "paid"),
        ("paid", "shipped"),
        ("pending", "cancelled"),
    ]);

    #[test]
    fn a_refusal_names_the_field_both_states_and_the_moves_allowed() {
        let e = refused(&STATUS, "pending", "shipped");
        assert_eq!(e.code(), ErrorCode::InvalidTransition);
        assert_eq!(
            e.message(),
            "`status` cannot go from `pending` to `shipped`; from `pending` it may go to `paid`, `cancelled`"
        );
        assert_eq!(
            e.details(),
            Some(
                &json!({"field": "status", "from": "pending", "to": "shipped", "allowed": ["paid", "cancelled"]})
            )
        );
        let e = refused(&STATUS, "shipped", "pending");
        assert_eq!(e.message(), "`status` cannot leave `shipped`");
    }

    #[test]
    fn only_fields_with_states_count_as_touched() {
        let fields = [FieldMeta::new("name", FieldType::String), STATUS];
        assert!(!touched(&fields, [0].into_iter()));
        assert!(touched(&fields, [0, 1].into_iter()));
        assert!(!touched(&fields, [7].into_iter()));
    }
}
