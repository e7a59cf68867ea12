//! [`Member`]: who belongs to an organization, with which role, as a resource at
//! `/organizations/{orgId}/members`; its table is the one
//! [`SqlMemberships`](crate::config::SqlMemberships) reads on every request. Owners and
//! admins manage members; only owners make or unmake owners; the last owner stays.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

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
    presets(multi_tenant(field = "org_id")),
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
fn is_owner(caller: &AuthContext) -> bool {
    caller.elevated || caller.has_org_role(OWNER)
}

/// 403 unless `caller` may touch an owner's membership (make, change or remove one): an
/// owner, or the owner themselves leaving.
fn owners_only(caller: &AuthContext) -> Result<(), ArcError> {
    if is_owner(caller) {
        Ok(())
    } else {
        Err(ArcError::forbidden(
            "Only an owner makes, changes or removes an owner",
        ))
    }
}

/// 409 `LAST_OWNER` when `member`, an owner, is the last one of their organization. The
/// owners' rows are locked until the write ends (PostgreSQL), so two owners demoting each
/// other at once cannot both pass; on SQLite the app's writes take turns.
async fn not_last_owner(
    ctx: &WriteContext<'_>,
    member: &member_entity::Model,
) -> Result<(), ArcError> {
    let owners: Vec<String> = member_entity::Entity::find()
        .select_only()
        .column(member_entity::Column::UserId)
        .filter(member_entity::Column::OrgId.eq(member.org_id.as_str()))
        .filter(member_entity::Column::Role.eq(OWNER))
        .lock_exclusive()
        .into_tuple()
        .all(ctx.txn)
        .await?;
    if owners.iter().any(|o| *o != member.user_id) {
        Ok(())
    } else {
        Err(ArcError::new(
            ErrorCode::LastOwner,
            "An organization keeps at least one owner: make another member owner first",
        ))
    }
}

/// After the commit, every instance's cache of `user`'s memberships is made old.
fn forget(ctx: &WriteContext<'_>, user: &str) {
    if let Some(memberships) = ctx.memberships() {
        let (memberships, user) = (memberships.clone(), user.to_owned());
        ctx.after_commit(async move { memberships.forget_logged(&user).await });
    }
}

impl Hooks for Member {
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut member_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if row.role.as_ref() == OWNER {
            owners_only(ctx.caller)?;
        }
        Ok(())
    }

    async fn before_update(
        ctx: &WriteContext<'_>,
        current: &member_entity::Model,
        row: &mut member_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if row.user_id.as_ref() != &current.user_id {
            return Err(ArcError::validation(vec![crate::error::FieldError {
                field: "user_id".to_owned(),
                message: "A membership is of one user: add the other user as a member instead"
                    .to_owned(),
                keyword: "readOnly",
            }]));
        }
        let role = row.role.as_ref().as_str();
        if current.role == OWNER || role == OWNER {
            owners_only(ctx.caller)?;
        }
        if current.role == OWNER && role != OWNER {
            not_last_owner(ctx, current).await?;
        }
        Ok(())
    }

    async fn before_delete(
        ctx: &WriteContext<'_>,
        current: &member_entity::Model,
    ) -> Result<(), ArcError> {
        if current.role == OWNER {
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
        forget(ctx, &created.user_id);
        Ok(())
    }

    async fn after_update(
        ctx: &WriteContext<'_>,
        _before: &member_entity::Model,
        after: &member_entity::Model,
    ) -> Result<(), ArcError> {
        forget(ctx, &after.user_id);
        Ok(())
    }

    async fn after_delete(
        ctx: &WriteContext<'_>,
        deleted: &member_entity::Model,
    ) -> Result<(), ArcError> {
        forget(ctx, &deleted.user_id);
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
        forget(ctx, user);
    }
    Ok(())
}
