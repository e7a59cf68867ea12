use arc_runtime::prelude::*;

// Actions declared, and no `impl Actions`.
#[resource(actions(close))]
#[permissions(default = authenticated, close = authenticated)]
pub struct Ticket {
    #[field(id)]
    pub id: Uuid,
}

// An `impl Actions` that takes another resource's actions.
#[resource(actions(archive))]
#[permissions(default = authenticated, archive = authenticated)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
}

#[resource(actions(close))]
#[permissions(default = authenticated, close = authenticated)]
pub struct Issue {
    #[field(id)]
    pub id: Uuid,
}

impl Actions for Note {
    type Action = IssueAction;

    async fn act(
        _: &WriteContext<'_>,
        _: &note_entity::Model,
        _: IssueAction,
        _: &mut note_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        Ok(())
    }
}

impl Actions for Issue {
    type Action = IssueAction;

    async fn act(
        _: &WriteContext<'_>,
        _: &issue_entity::Model,
        _: IssueAction,
        _: &mut issue_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        Ok(())
    }
}

fn main() {}
