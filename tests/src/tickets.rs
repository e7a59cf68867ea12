//! A multi-tenant resource owned by its reporter, for the tenancy presets.

use arc_runtime::prelude::*;

/// A support ticket: scoped to an organization, seen by its reporter and by `support`.
#[resource(
    presets(multi_tenant(field = "org_id"), owned_by_user(field = "reporter", bypass("support")), bulk),
    query(filter = [subject, reporter], sort = [subject])
)]
#[permissions(default = authenticated)]
pub struct Ticket {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    #[field(system)]
    pub reporter: String,
    #[field(min_len = 1)]
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A card on a team's board: seen and changed by that team only.
#[resource(presets(multi_tenant(field = "org_id")), query(sort = [title]))]
#[permissions(
    create = team_member,
    default = team_member("team_id"),
)]
pub struct Card {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    pub team_id: String,
    #[field(min_len = 1)]
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An app serving tickets and cards, authenticating HS256 tokens signed with the notes secret.
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db)
        .resource::<Ticket>()
        .resource::<Card>()
        .auth(crate::notes::auth())
}
