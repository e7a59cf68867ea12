//! [`Member`]: who belongs to an organization, with which role, as a resource at
//! `/organizations/{orgId}/members`; its table is the one
//! [`SqlMemberships`](crate::config::SqlMemberships) reads on every request. Owners and
//! admins manage members; only owners make or unmake owners; the last owner stays.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::Lock;
use crate::auth::AuthContext;
use crate::error::{ArcError, ErrorCode};
use crate::hooks::{Hooks, WriteContext};
use crate::prelude::*;

/// The role that owns an organization: it alone makes or unmakes owners and deletes the
/// organization, and an organization keeps at least one.
pub const OWNER: &str = "owner";
/// The role that manages members (but not owners) and the organization's details.
pub const ADMIN: &str = "admin";
/// The role of every other member.
pub const MEMBER: &str = "member";

/// A user's membership of an organization (one per user in each), with their role there. A change takes effect
/// on the user's next request, on every instance.
#[resource(
    name = "member",
    path = "/organizations/{orgId}/members",
    table = "arc_memberships",
    hooks,
    presets(audited, multi_tenant(field = "org_id")),
    query(filter = [user_id, role, created_at], sort = [user_id, created_at], default_sort = "user_id")
)]
#[permissions(
    list = org_member,
    get = org_member,
    create = org_roles("owner", "admin"),
    update = org_roles("owner", "admin"),
    delete = any(org_roles("owner", "admin"), owner("user_id"))
)]
pub struct Member {
    /// The membership's id.
    #[field(id)]
    pub id: Uuid,
    /// The organization.
    #[field(system)]
    pub org_id: String,
    /// The user's id (the token's `sub`): once in an organization, and never changed.
    #[field(unique, min_len = 1, max_len = 128)]
    pub user_id: String,
    /// The user's role in it: `owner`, `admin`, `member` or a role of the app's own (what
    /// its `org_roles(..)` rules name).
    #[field(min_len = 1, max_len = 64)]
    pub role: String,
    /// When the user joined.
    pub created_at: DateTime<Utc>,
    /// When the role last changed.
    pub updated_at: DateTime<Utc>,
}

/// Whether `caller` acts as an owner of the active organization: holds the role there, or
/// is elevated.
pub(super) fn is_owner(caller: &AuthContext) -> bool {
    caller.elevated || caller.has_org_role(OWNER)
}

/// 403 unless `caller` may make, change or remove an owner: an owner (a leaving owner is
/// let go by [`Member::before_delete`] itself).
pub(super) fn owners_only(caller: &AuthContext) -> Result<(), ArcError> {
    if is_owner(caller) {
        Ok(())
    } else {
        Err(ArcError::forbidden(
            "Only an owner makes, changes or removes an owner",
        ))
    }
}

/// 409 `LAST_OWNER` when `member`, an owner, is the last one of their organization. The
/// organization's row is locked until the write ends, so owners stepping down at once take
/// turns and the last of them is refused (PostgreSQL; on SQLite the app's writes take turns
/// anyway); without a row, the owners' rows are locked instead.
async fn not_last_owner(
    ctx: &WriteContext<'_>,
    member: &member_entity::Model,
) -> Result<(), ArcError> {
    use member_entity::Column;
    let locked = super::lock_org(ctx.txn, &member.org_id, Lock::Exclusive).await?;
    let mut owners = member_entity::Entity::find()
        .select_only()
        .column(Column::UserId)
        .filter(Column::OrgId.eq(member.org_id.as_str()))
        .filter(Column::Role.is_in(super::owner_roles(ctx.roles())));
    if !locked {
        owners = owners.lock_exclusive();
    }
    let owners: Vec<String> = owners.into_tuple().all(ctx.txn).await?;
    if owners.iter().any(|o| *o != member.user_id) {
        Ok(())
    } else {
        Err(ArcError::new(
            ErrorCode::LastOwner,
            "An organization keeps at least one owner: make another member owner first",
        ))
    }
}

impl Hooks for Member {
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut member_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if row
            .role
            .try_as_ref()
            .is_some_and(|r| super::grants(ctx.roles(), r, OWNER))
        {
            owners_only(ctx.caller)?;
        }
        let org = row.org_id.try_as_ref().or(ctx.caller.org_id.as_ref());
        super::existing_org(ctx.txn, org.map_or("", String::as_str)).await
    }

    async fn before_update(
        ctx: &WriteContext<'_>,
        current: &member_entity::Model,
        row: &mut member_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if row
            .user_id
            .try_as_ref()
            .is_some_and(|u| *u != current.user_id)
        {
            return Err(ArcError::validation(vec![crate::error::FieldError {
                field: "user_id".to_owned(),
                message: "A membership is of one user: add the other user as a member instead"
                    .to_owned(),
                keyword: "readOnly",
            }]));
        }
        let role = row.role.try_as_ref().unwrap_or(&current.role);
        let (was, is) = (
            super::grants(ctx.roles(), &current.role, OWNER),
            super::grants(ctx.roles(), role, OWNER),
        );
        if was || is {
            owners_only(ctx.caller)?;
        }
        if was && !is {
            not_last_owner(ctx, current).await?;
        }
        Ok(())
    }

    async fn before_delete(
        ctx: &WriteContext<'_>,
        current: &member_entity::Model,
    ) -> Result<(), ArcError> {
        if super::grants(ctx.roles(), &current.role, OWNER) {
            let leaving = ctx.caller.user_id.as_deref() == Some(current.user_id.as_str());
            if !leaving {
                owners_only(ctx.caller)?;
            }
            not_last_owner(ctx, current).await?;
        }
        Ok(())
    }

    async fn after_create(
        ctx: &WriteContext<'_>,
        created: &member_entity::Model,
    ) -> Result<(), ArcError> {
        super::forget(ctx, &created.user_id);
        Ok(())
    }

    async fn after_update(
        ctx: &WriteContext<'_>,
        _before: &member_entity::Model,
        after: &member_entity::Model,
    ) -> Result<(), ArcError> {
        super::forget(ctx, &after.user_id);
        Ok(())
    }

    async fn after_delete(
        ctx: &WriteContext<'_>,
        deleted: &member_entity::Model,
    ) -> Result<(), ArcError> {
        super::forget(ctx, &deleted.user_id);
        Ok(())
    }
}

/// The memberships of `org`'s members, in `ctx`'s transaction, taken out of it; their
/// caches are made old after the commit. For an organization that is deleted.
pub(super) async fn remove_all(ctx: &WriteContext<'_>, org: &str) -> Result<(), ArcError> {
    let users: Vec<String> = member_entity::Entity::find()
        .select_only()
        .column(member_entity::Column::UserId)
        .filter(member_entity::Column::OrgId.eq(org))
        .into_tuple()
        .all(ctx.txn)
        .await?;
    member_entity::Entity::delete_many()
        .filter(Expr::col(member_entity::Column::OrgId).eq(org))
        .exec(ctx.txn)
        .await?;
    for user in &users {
        super::forget(ctx, user);
    }
    Ok(())
}
