//! Declared states: a field with `#[field(states(pending -> paid, ..))]` changes only along
//! the transitions it declares. Every write that changes a row (update, replace, bulk update,
//! an action) asks [`check`] before it stores the row; a move not declared is a 409
//! `INVALID_TRANSITION` naming the field, both states and the moves allowed from the first,
//! to a caller who may see the field (to anyone else it names nothing). A transition with a
//! rule of its own (`status(paid -> shipped) = roles("shipper")` in `#[permissions]`) is a
//! 403 to a caller it does not let make it. A create is no move: a row starts in whichever
//! state its writer may give it (`writable_by` says who).

use sea_orm::{
    ActiveModelTrait, ActiveValue, ConnectionTrait, DatabaseConnection, ModelTrait, Value,
};
use serde_json::json;

use crate::auth::AuthContext;
use crate::crud::access::{decide_by, find};
use crate::error::{ArcError, ErrorCode};
use crate::resource::{FieldMeta, Resource, ResourceMeta, Shape};

/// Whether any field of `fields` with declared states is among the written `indexes`.
pub(crate) fn touched(fields: &[FieldMeta], mut indexes: impl Iterator<Item = usize>) -> bool {
    indexes.any(|i| fields.get(i).is_some_and(|f| !f.states.is_empty()))
}

/// Refuses `row`, the pending write of `current` in `txn`, when it moves a field with
/// declared states along a transition that is not declared (409), or along one whose own
/// rule (`status(paid -> shipped) = ..` in `#[permissions]`) the caller does not pass, on
/// this row (403). Writing the state a row is in is no move. `hooks` is what asynchronous
/// `when(..)` ask.
pub(crate) async fn check<R: Resource, C: ConnectionTrait>(
    txn: &C,
    hooks: &DatabaseConnection,
    current: &R::Model,
    row: &R::ActiveModel,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    let made = moves::<R>(current, row, caller, false)?;
    permitted::<R, C>(txn, hooks, current, &made, caller).await
}

/// [`check`] for an action: a state it sets is a move it asks for, so setting the state
/// the row is already in (cancelling a cancelled order) is refused too.
pub(crate) async fn check_acted<R: Resource, C: ConnectionTrait>(
    txn: &C,
    hooks: &DatabaseConnection,
    current: &R::Model,
    row: &R::ActiveModel,
    caller: &AuthContext,
) -> Result<(), ArcError> {
    let made = moves::<R>(current, row, caller, true)?;
    permitted::<R, C>(txn, hooks, current, &made, caller).await
}

/// A declared transition a write makes: the field (by index), from, to.
type Move = (usize, &'static str, &'static str);

/// The declared transitions `row` makes; a 409 for the first move that is not declared.
fn moves<R: Resource>(
    current: &R::Model,
    row: &R::ActiveModel,
    caller: &AuthContext,
    acted: bool,
) -> Result<Vec<Move>, ArcError> {
    let mut made = Vec::new();
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
        match field.states.iter().find(|&&(f, t)| f == from && t == to) {
            Some(&(from, to)) => made.push((i, from, to)),
            None if sees(R::META, caller, i) => return Err(refused(field, from, to)),
            None => {
                return Err(ArcError::new(
                    ErrorCode::InvalidTransition,
                    "The row's state does not allow this change",
                ));
            }
        }
    }
    Ok(made)
}

/// Whether `caller` sees field `i` of `meta`'s rows as it is (neither hidden nor masked).
fn sees(meta: &'static ResourceMeta, caller: &AuthContext, i: usize) -> bool {
    let shape = Shape::for_caller(meta, caller);
    shape.fields.contains(i) && !shape.redact.contains(i)
}

/// Refuses the first of `made` whose own rule `caller` does not pass on `current`: the rule
/// is decided as any other (its asynchronous `when(..)` asked), and a rule that grants some
/// rows only must grant this one (asked of the database, inside the write's transaction).
async fn permitted<R: Resource, C: ConnectionTrait>(
    txn: &C,
    hooks: &DatabaseConnection,
    current: &R::Model,
    made: &[Move],
    caller: &AuthContext,
) -> Result<(), ArcError> {
    for &(i, from, to) in made {
        let field = &R::META.fields[i];
        let Some(own) = R::META.permissions.transition(field.name, from, to) else {
            continue;
        };
        let forbidden = || {
            if sees(R::META, caller, i) {
                ArcError::forbidden(format!(
                    "You may not move `{}` from `{from}` to `{to}`",
                    field.name
                ))
                .with_details(json!({ "field": field.name, "from": from, "to": to }))
            } else {
                ArcError::forbidden("You do not have permission to do this")
            }
        };
        let decided = match decide_by(R::META, &own.rule, own.name, caller, hooks).await {
            Ok(decided) => decided,
            // An anonymous caller hears that they must sign in, as everywhere.
            Err(e) if !caller.is_authenticated() => return Err(e),
            Err(_) => return Err(forbidden()),
        };
        if let Some(rows) = decided.rule() {
            let id = current.get(R::column(R::META.id));
            if find::<R, C>(txn, id, rows).await.is_err() {
                return Err(forbidden());
            }
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
