//! Rules decided by data: projects are read by the members of their team only, as a
//! membership table says (not the token), through read hooks; tasks reference projects and
//! embed them; documents ask the same table in their permission rules (an asynchronous
//! `when(..)`). Tokens are the notes' ([`crate::notes::bearer`]).

use arc_runtime::RouteContext;
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

/// A badge given through a membership, which may outlive it: when the membership is deleted,
/// the badge stays with `membership_id` cleared (the foreign key's `SET NULL`). Cached, and
/// embedding nothing, so only that ties its answers to the memberships' writes.
#[resource(cache(stale = "30s", expire = "5m"), query(filter = [label]))]
#[permissions(default = authenticated)]
pub struct Badge {
    #[field(id)]
    pub id: Uuid,
    pub label: String,
    #[field(references = Membership)]
    pub membership_id: Option<Uuid>,
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

/// The teams `user` is a member of, from the table.
async fn teams_of(
    db: &arc_runtime::sea_orm::DatabaseConnection,
    user: &str,
) -> Result<Vec<String>, ArcError> {
    Ok(membership_entity::Entity::find()
        .select_only()
        .column(membership_entity::Column::Team)
        .filter(membership_entity::Column::UserId.eq(user))
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// The teams the caller is a member of (none when anonymous; `mallory` is refused).
async fn teams(ctx: &ReadContext<'_>) -> Result<Vec<String>, ArcError> {
    let Some(user) = ctx.caller.user_id.as_deref() else {
        return Ok(Vec::new());
    };
    if user == "mallory" {
        return Err(ArcError::forbidden("mallory reads no project"));
    }
    teams_of(ctx.db, user).await
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
    let teams = teams_of(ctx.db, user).await?;
    if teams.is_empty() {
        // In no team: refused outright (a 403), not an empty list.
        return Ok(Verdict::Deny);
    }
    Ok(Verdict::rows(document_entity::Column::Team.is_in(teams)))
}

/// A shipment of a team, whose moves have rules of their own beside `update`'s: only
/// shippers ship, only its placer cancels, and packing is for the members of its team (as
/// the membership table says).
#[resource(
    presets(bulk, soft_delete),
    actions(ship),
    query(filter = [state, team], sort = [label])
)]
#[permissions(
    default = authenticated,
    ship = authenticated,
    state(packed -> shipped) = roles("shipper"),
    state(placed -> cancelled) = owner("placed_by"),
    state(placed -> packed) = when(crate::teams::packer),
)]
pub struct Shipment {
    #[field(id)]
    pub id: Uuid,
    pub label: String,
    pub placed_by: String,
    pub team: String,
    #[field(states(placed -> packed -> shipped, placed -> cancelled))]
    pub state: String,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Actions for Shipment {
    type Action = ShipmentAction;

    async fn act(
        _ctx: &WriteContext<'_>,
        _current: &shipment_entity::Model,
        action: ShipmentAction,
        row: &mut shipment_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        match action {
            ShipmentAction::Ship {} => {
                row.state = arc_runtime::sea_orm::ActiveValue::Set("shipped".to_owned());
            }
        }
        Ok(())
    }
}

/// Packs the shipments of the caller's teams.
pub async fn packer(ctx: &CheckContext<'_>) -> Result<Verdict, ArcError> {
    let Some(user) = ctx.caller.user_id.as_deref() else {
        return Ok(Verdict::Deny);
    };
    let teams = teams_of(ctx.db, user).await?;
    Ok(Verdict::rows(shipment_entity::Column::Team.is_in(teams)))
}

/// The body of `POST /projects/{id}/rename`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The new name.
    pub name: String,
}

/// A project as the app's own routes answer it.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ProjectName {
    pub id: Uuid,
    pub name: String,
}

/// `POST /projects/{id}/rename`: the project as the caller may read it (read hooks
/// included), renamed by the app's own code.
async fn rename(ctx: RouteContext, body: Rename) -> Result<ProjectName, ArcError> {
    use arc_runtime::sea_orm::{ActiveModelTrait, ActiveValue, IntoActiveModel};
    let project = ctx
        .find::<Project>(ctx.param("id").unwrap_or_default())
        .await?;
    let mut row = project.into_active_model();
    row.name = ActiveValue::Set(body.name);
    let saved = row.update(ctx.db()).await?;
    Ok(ProjectName {
        id: saved.id,
        name: saved.name,
    })
}

/// `POST /documents/{id}/stamp`: a document the route's own rule (an asynchronous
/// `when(..)` granting rows) lets the caller reach.
async fn stamp(
    ctx: RouteContext,
    _: serde_json::Map<String, serde_json::Value>,
) -> Result<String, ArcError> {
    let document = ctx
        .find::<Document>(ctx.param("id").unwrap_or_default())
        .await?;
    Ok(format!("stamped {}", document.title))
}

/// `GET /me/teams`: the caller's teams, from the table.
async fn my_teams(ctx: RouteContext) -> Result<Vec<String>, ArcError> {
    let user = ctx.caller().user_id.clone().unwrap_or_default();
    teams_of(ctx.db(), &user).await
}

/// `GET /admin/count`: how many projects there are, for admins.
async fn count(ctx: RouteContext) -> Result<u64, ArcError> {
    use arc_runtime::sea_orm::PaginatorTrait;
    Ok(project_entity::Entity::find().count(ctx.db()).await?)
}

/// An app serving memberships, projects, tasks, documents and shipments, and routes of its
/// own under the rules.
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    use arc_runtime::{CustomRoute, Rule, when};
    App::new(db)
        .resource::<Membership>()
        .resource::<Badge>()
        .resource::<Project>()
        .resource::<Task>()
        .resource::<Document>()
        .resource::<Shipment>()
        .route_with(
            CustomRoute::post("/projects/{id}/rename", rename)
                .of::<Project>()
                .permission(Rule::Authenticated)
                .summary("Rename a project of one of the caller's teams"),
        )
        .route_with(
            CustomRoute::post("/documents/{id}/stamp", stamp)
                .of::<Document>()
                .permission(when!(crate::teams::in_team_of_row))
                .summary("Stamp a document"),
        )
        .route_with(
            CustomRoute::get("/me/teams", my_teams)
                .permission(Rule::Authenticated)
                .summary("The caller's teams"),
        )
        .route_with(
            CustomRoute::get("/admin/count", count)
                .permission(Rule::Roles(&["admin"]))
                .summary("How many projects there are"),
        )
        .route_with(CustomRoute::get("/closed", my_teams).summary("No rule given: nobody"))
        .auth(crate::notes::auth())
}
