//! Organizations and their members, as resources of the framework declared with
//! `#[resource]` like an app's own (so they have the query grammar, the document, events and
//! audit): [`Organization`] at `/organizations` and [`Member`] at
//! `/organizations/{orgId}/members`, mounted by
//! [`App::organizations`](crate::App::organizations). The members' table is where
//! [`Memberships::sql`](crate::config::Memberships::sql) resolves each caller's
//! organization and role, so a change through these routes holds on the next request.

mod member;
mod organization;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait};

pub use member::{ADMIN, MEMBER, Member, OWNER, member_entity};
pub use organization::{Organization, active, organization_entity};

use crate::error::ArcError;
use crate::hooks::WriteContext;

/// Makes `user` a member of `org` with `role` in `ctx`'s transaction (their role there
/// replaced when they were one), and their cached memberships old after the commit.
pub(crate) async fn join(
    ctx: &WriteContext<'_>,
    user: &str,
    org: &str,
    role: &str,
) -> Result<(), ArcError> {
    upsert(ctx.txn, user, org, role).await?;
    if let Some(memberships) = ctx.memberships() {
        let (memberships, user) = (memberships.clone(), user.to_owned());
        ctx.after_commit(async move { memberships.forget_logged(&user).await });
    }
    Ok(())
}

/// `user`'s membership of `org` written with `role` (inserted, or its role replaced).
pub(crate) async fn upsert<C: ConnectionTrait>(
    db: &C,
    user: &str,
    org: &str,
    role: &str,
) -> Result<(), sea_orm::DbErr> {
    use member_entity::Column;
    let now = chrono::Utc::now();
    let row = member_entity::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        user_id: Set(user.to_owned()),
        org_id: Set(org.to_owned()),
        role: Set(role.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    };
    member_entity::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::OrgId, Column::UserId])
                .update_columns([Column::Role, Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}
