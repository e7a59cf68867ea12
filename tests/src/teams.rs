//! Rules decided by data: projects are read by the members of their team only, as a
//! membership table says (not the token), through read hooks; tasks reference projects and
//! embed them; documents ask the same table in their permission rules (an asynchronous
//! `when(..)`). Tokens are the notes' ([`crate::notes::bearer`]).

use arc_runtime::prelude::*;
use arc_runtime::sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

/// Who is in which team: written by admins, read by the projects' hooks.
#[resource(query(filter = [user_id, team]))]
#[permissions(default = roles("admin"))]
pub struct Membership {
    #[field(id)]
    pub id: Uuid,
    pub user_id: String,
    pub team: String,
}

/// A project of one team.
#[resource(
    read_hooks,
    presets(bulk),
    cache(stale = "1s", expire = "1m"),
    query(filter = [name, team], sort = [name])
)]
#[permissions(default = authenticated)]
pub struct Project {
    #[field(id)]
    pub id: Uuid,
    pub name: String,
    pub team: String,
}

/// The teams the caller is a member of, from the table.
async fn teams(ctx: &ReadContext<'_>) -> Result<Vec<String>, ArcError> {
    let Some(user) = ctx.caller.user_id.as_deref() else {
        return Ok(Vec::new());
    };
    if user == "mallory" {
        return Err(ArcError::forbidden("mallory reads no project"));
    }
    Ok(membership_entity::Entity::find()
        .select_only()
        .column(membership_entity::Column::Team)
        .filter(membership_entity::Column::UserId.eq(user))
        .into_tuple::<String>()
        .all(ctx.db)
        .await?)
}

impl ReadHooks for Project {
    async fn before_list(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        // Admins read every project.
        if !ctx.caller.has_role("admin") {
            rows.and(project_entity::Column::Team.is_in(teams(ctx).await?));
        }
        Ok(())
    }

    async fn before_get(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        Self::before_list(ctx, rows).await
    }
}

/// A task of a project, which it embeds with `?populate=project`.
#[resource(query(filter = [project_id], sort = [title], populate = [project]))]
#[permissions(default = authenticated)]
pub struct Task {
    #[field(id)]
    pub id: Uuid,
    pub title: String,
    #[field(references = Project)]
    pub project_id: Uuid,
}

/// A document of one team, whose permissions ask the membership table themselves (an
/// asynchronous `when(..)`), combined with the other rules.
#[resource(query(filter = [team], sort = [title]))]
#[permissions(
    list = when(crate::teams::in_team_of_row),
    get = when(crate::teams::in_team_of_row),
    update = any(roles("admin"), all(authenticated, when(crate::teams::in_team_of_row))),
    create = roles("admin"),
    delete = roles("admin"),
)]
pub struct Document {
    #[field(id)]
    pub id: Uuid,
    pub title: String,
    pub team: String,
}

/// The documents of the caller's teams, as the membership table says; every document for
/// admins; none for anonymous callers; `mallory`'s check fails.
pub async fn in_team_of_row(ctx: &CheckContext<'_>) -> Result<Verdict, ArcError> {
    if ctx.caller.has_role("admin") {
        return Ok(Verdict::Allow);
    }
    let Some(user) = ctx.caller.user_id.as_deref() else {
        return Ok(Verdict::Deny);
    };
    if user == "mallory" {
        return Err(ArcError::forbidden("mallory reads no document"));
    }
    let teams: Vec<String> = membership_entity::Entity::find()
        .select_only()
        .column(membership_entity::Column::Team)
        .filter(membership_entity::Column::UserId.eq(user))
        .into_tuple()
        .all(ctx.db)
        .await?;
    if teams.is_empty() {
        // In no team: refused outright (a 403), not an empty list.
        return Ok(Verdict::Deny);
    }
    Ok(Verdict::rows(document_entity::Column::Team.is_in(teams)))
}

/// An app serving memberships, projects, tasks and documents.
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db)
        .resource::<Membership>()
        .resource::<Project>()
        .resource::<Task>()
        .resource::<Document>()
        .auth(crate::notes::auth())
}
