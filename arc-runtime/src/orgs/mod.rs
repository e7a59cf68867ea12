//! Organizations and their members, as resources of the framework declared with
//! `#[resource]` like an app's own (so they have the query grammar, the document, events and
//! audit): [`Organization`] at `/organizations`, [`Member`] at
//! `/organizations/{orgId}/members` and [`Invitation`] at
//! `/organizations/{orgId}/invitations`, mounted by
//! [`App::organizations`](crate::App::organizations). The members' table is where
//! [`Memberships::sql`](crate::config::Memberships::sql) resolves each caller's
//! organization and role, so a change through these routes holds on the next request.

mod invitation;
mod member;
mod organization;

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect};

pub(crate) use invitation::routes as invitation_routes;
pub use invitation::{
    ACCEPTED, Answered, DEFAULT_EXPIRY, Invitation, MAX_EXPIRY, PENDING, REJECTED,
    invitation_entity,
};
pub use member::{ADMIN, MEMBER, Member, OWNER, member_entity};
pub use organization::{Organization, active, organization_entity};

use crate::auth::RoleHierarchy;
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
    forget(ctx, user);
    Ok(())
}

/// After the commit of `ctx`'s write, every instance's cache of `user`'s memberships is
/// made old (before it, a read in between would cache the old ones again).
fn forget(ctx: &WriteContext<'_>, user: &str) {
    if let Some(memberships) = ctx.memberships() {
        let (memberships, user) = (memberships.clone(), user.to_owned());
        ctx.after_commit(async move { memberships.forget_logged(&user).await });
    }
}

/// Whether `role` is `target` or includes it in the app's hierarchy `roles`.
fn grants(roles: &RoleHierarchy, role: &str, target: &str) -> bool {
    role == target
        || roles
            .implied(&[role.to_owned()])
            .iter()
            .any(|r| r == target)
}

/// Every role that makes an owner: [`OWNER`] and the app's roles that include it.
fn owner_roles(roles: &RoleHierarchy) -> Vec<String> {
    let mut owners = vec![OWNER.to_owned()];
    owners.extend(
        roles
            .describe()
            .into_keys()
            .filter(|role| role != OWNER && grants(roles, role, OWNER)),
    );
    owners
}

/// How [`lock_org`] holds an organization's row.
#[derive(Clone, Copy, Debug)]
enum Lock {
    /// Others may read it and take it shared, not change or delete it: for a write that
    /// needs the organization to stay.
    Shared,
    /// Only this write: for a decision about its owners.
    Exclusive,
}

/// Locks the row of the organization `org` until `txn` ends: whether there is one.
async fn lock_org<C: ConnectionTrait>(txn: &C, org: &str, lock: Lock) -> Result<bool, ArcError> {
    let Ok(id) = org.parse::<uuid::Uuid>() else {
        return Ok(false);
    };
    let find = organization_entity::Entity::find_by_id(id);
    let find = match lock {
        Lock::Shared => find.lock_shared(),
        Lock::Exclusive => find.lock_exclusive(),
    };
    Ok(find.one(txn).await?.is_some())
}

/// 404 unless the organization `org` exists, held so until `txn` ends (a deletion waits, or
/// went first): nobody joins an organization while it is deleted.
async fn existing_org<C: ConnectionTrait>(txn: &C, org: &str) -> Result<(), ArcError> {
    if lock_org(txn, org, Lock::Shared).await? {
        Ok(())
    } else {
        Err(ArcError::not_found("No such organization"))
    }
}

/// `user`'s membership of `org` written with `role` (inserted, or its role replaced).
pub(crate) async fn upsert<C: ConnectionTrait>(
    db: &C,
    user: &str,
    org: &str,
    role: &str,
) -> Result<(), sea_orm::DbErr> {
    use member_entity::Column;
    member_entity::Entity::insert(membership(user, org, role))
        .on_conflict(
            OnConflict::columns([Column::OrgId, Column::UserId])
                .update_columns([Column::Role, Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// `user` made a member of `org` with `role`: the new membership, or 409 `DUPLICATE_KEY`
/// when they are one.
pub(crate) async fn insert<C: ConnectionTrait>(
    db: &C,
    user: &str,
    org: &str,
    role: &str,
) -> Result<member_entity::Model, ArcError> {
    Ok(member_entity::Entity::insert(membership(user, org, role))
        .exec_with_returning(db)
        .await?)
}

/// A new membership row.
fn membership(user: &str, org: &str, role: &str) -> member_entity::ActiveModel {
    let now = chrono::Utc::now();
    member_entity::ActiveModel {
        id: Set(uuid::Uuid::new_v4()),
        user_id: Set(user.to_owned()),
        org_id: Set(org.to_owned()),
        role: Set(role.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
