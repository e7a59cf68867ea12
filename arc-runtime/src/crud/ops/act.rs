//! `POST /orders/{id}/action` `{"action": "cancel", ..}`: the resource's actions, on arc's
//! wire shape. The body names the action; its own rule decides who may, and which rows they
//! reach; the row is found within them and locked; the resource's [`Actions::act`] changes it;
//! the write then goes on as an update does ([`store_update`]), and the route answers the row.

use sea_orm::IntoActiveModel;
use serde_json::{Map, Value as Json};

use super::write::store_update;
use super::written;
use super::{fill_auto, shape};
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::crud::access::{Read, Scope, decide_by, find_for_write, parse_id, scope};
use crate::crud::body::Mode;
use crate::crud::response::One;
use crate::crud::states;
use crate::error::{ArcError, FieldError};
use crate::hooks::{ActionBody, Actions, WriteContext};
use crate::permissions::Rule;
use crate::resource::ResourceMeta;

/// `POST /orders/{id}/action`: 200 with the row after the action.
pub(crate) async fn act<R: Actions>(
    state: &ArcState,
    caller: &AuthContext,
    id: &str,
    body: &Map<String, Json>,
) -> Result<One<R>, ArcError> {
    let (name, rule) = rule_of(
        state,
        R::META,
        <R::Action as ActionBody>::NAMES,
        body,
        caller,
    )
    .await?;
    let rows = decide_by(R::META, &rule, name, caller, state.db())
        .await?
        .readable(state.db(), Read::One, scope(R::META, Scope::Live))
        .await?;
    let id = parse_id(R::META, id)?;
    let action = decode::<R::Action>(body)?;
    let txn = written::begin_action(state).await?;
    let current =
        find_for_write::<R, _>(&*txn, state.db(), id, (Scope::Live, rows), caller).await?;
    let mut row = current.clone().into_active_model();
    R::act(
        &WriteContext::new(state, &txn, caller),
        &current,
        action,
        &mut row,
    )
    .await?;
    states::check_acted::<R, _>(&*txn, state.db(), &current, &row, caller).await?;
    if sea_orm::ActiveModelTrait::is_changed(&row) {
        fill_auto::<R>(&mut row, Mode::Patch)?;
    }
    let model = store_update::<R>(state, txn, caller, current, row).await?;
    Ok(One::of(&model, shape(R::META, caller), None))
}

/// The rule of the action `body` names. A body that names none, or one the resource does
/// not declare, is a 400 naming the actions there are; but a caller no action's rule lets
/// in hears their 401 or 403 first, as on every other route.
async fn rule_of(
    state: &ArcState,
    meta: &'static ResourceMeta,
    names: &[&str],
    body: &Map<String, Json>,
    caller: &AuthContext,
) -> Result<(&'static str, Rule), ArcError> {
    let named = body.get("action").and_then(Json::as_str);
    if let Some(found) = named.and_then(|name| {
        meta.permissions
            .actions
            .iter()
            .find(|(declared, _)| *declared == name)
    }) {
        return Ok(*found);
    }
    let mut refusal = None;
    for (name, rule) in meta.permissions.actions {
        match decide_by(meta, rule, name, caller, state.db()).await {
            Ok(_) => {
                refusal = None;
                break;
            }
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    let known = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let (message, keyword) = match (body.get("action"), named) {
        (None, _) => (format!("names the action: one of {known}"), "required"),
        (Some(_), None) => (format!("is the action's name, one of {known}"), "type"),
        (_, Some(name)) => (
            format!(
                "`{name}` is not an action of {}: its actions are {known}",
                meta.name
            ),
            "enum",
        ),
    };
    Err(ArcError::validation(vec![FieldError {
        field: "action".into(),
        message,
        keyword,
    }]))
}

/// The most characters of serde's message a 400 repeats (it may quote the value sent).
const MAX_MESSAGE: usize = 200;

/// The action `body` asks for, with its fields; a field missing or not the action's is a 400
/// naming it, a value of the wrong type one saying what was expected.
fn decode<A: ActionBody>(body: &Map<String, Json>) -> Result<A, ArcError> {
    serde_json::from_value(Json::Object(body.clone())).map_err(|e| {
        let mut message = e.to_string();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE) {
            message.truncate(cut);
            message.push('…');
        }
        let (field, keyword) = if let Some(rest) = message.strip_prefix("missing field `") {
            (rest.split('`').next().unwrap_or_default(), "required")
        } else if let Some(rest) = message.strip_prefix("unknown field `") {
            (
                rest.split('`').next().unwrap_or_default(),
                "additionalProperties",
            )
        } else {
            ("", "type")
        };
        ArcError::validation(vec![FieldError {
            field: field.to_owned(),
            message,
            keyword,
        }])
    })
}
