use arc_runtime::prelude::*;
use arc_runtime::sea_orm::ActiveValue;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    #[default]
    Open,
    Closed,
    Reopened,
}

/// Actions with fields and without, a rule each, and declared states.
#[resource(actions(
    close(
        /// Why it is closed.
        reason: String,
        notify: Option<bool>
    ),
    reopen,
    r#move(r#type: String)
))]
#[permissions(default = authenticated, close = roles("admin"), reopen = authenticated, r#move = public)]
pub struct Ticket {
    #[field(id)]
    pub id: Uuid,
    #[field(default, states(open -> closed -> reopened -> closed))]
    pub stage: Stage,
    pub note: Option<String>,
    #[field(states(new -> done))]
    pub label: String,
}

impl Actions for Ticket {
    type Action = TicketAction;

    async fn act(
        _: &WriteContext<'_>,
        _: &ticket_entity::Model,
        action: TicketAction,
        row: &mut ticket_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        let (stage, note) = match action {
            TicketAction::Close { reason, notify: _ } => (Stage::Closed, Some(reason)),
            TicketAction::Reopen {} => (Stage::Reopened, None),
            TicketAction::Move { r#type } => (Stage::Reopened, Some(r#type)),
        };
        row.stage = ActiveValue::Set(stage.as_str().to_owned());
        row.note = ActiveValue::Set(note);
        Ok(())
    }
}

fn main() {
    use arc_runtime::{ActionBody, Resource, RoutePreset};
    let meta = Ticket::META;
    assert!(meta.presets.has(RoutePreset::Actions));
    let names: Vec<_> = meta.permissions.actions.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["close", "reopen", "move"]);
    assert_eq!(TicketAction::NAMES, ["close", "reopen", "move"]);
    assert_eq!(
        meta.fields[1].states,
        [("open", "closed"), ("closed", "reopened"), ("reopened", "closed")]
    );
    assert_eq!(meta.fields[3].states, [("new", "done")]);
    assert_eq!(meta.permission(arc_runtime::Action::Act), "close: roles(admin); reopen: authenticated; move: public");
    let close: TicketAction =
        serde_json::from_value(serde_json::json!({"action": "close", "reason": "done"})).unwrap();
    assert!(matches!(close, TicketAction::Close { notify: None, .. }));
    let moved: TicketAction =
        serde_json::from_value(serde_json::json!({"action": "move", "type": "x"})).unwrap();
    assert!(matches!(moved, TicketAction::Move { .. }));
}
