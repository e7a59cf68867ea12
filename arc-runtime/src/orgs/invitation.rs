//! [`Invitation`]: an offer to join an organization with a role, as a resource at
//! `/organizations/{orgId}/invitations` (owners and admins issue, list and withdraw them),
//! and its answer, `POST /organizations/invitations/{id}/accept` or `/reject`, by the one
//! it is for (the user it names, or whoever holds its id when it names none), before it
//! expires, once.

use chrono::{Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;

use super::member::{ADMIN, OWNER, is_owner, member_entity, owners_only};
use crate::auth::{AuthContext, RoleHierarchy};
use crate::crud::ops::FrameworkWrite;
use crate::custom::{CustomRoute, RouteContext};
use crate::error::{ArcError, FieldError};
use crate::hooks::{Hooks, ReadContext, ReadHooks, RowFilter, WriteContext};
use crate::permissions::Rule;
use crate::prelude::*;

/// How long an invitation holds when its issuer gives no `expires_at`.
pub const DEFAULT_EXPIRY: Duration = Duration::days(7);
/// The longest an invitation may hold.
pub const MAX_EXPIRY: Duration = Duration::days(30);

/// An invitation not answered yet.
pub const PENDING: &str = "pending";
/// An invitation its invitee accepted: they are a member.
pub const ACCEPTED: &str = "accepted";
/// An invitation its invitee turned down.
pub const REJECTED: &str = "rejected";

/// An offer to join an organization with a role. Its id is what the invitee answers with:
/// it is random (122 bits), and shown only to the organization's owners and admins (an
/// invitation to become an owner only to owners, and it names its user).
#[resource(
    name = "invitation",
    path = "/organizations/{orgId}/invitations",
    table = "arc_invitations",
    hooks,
    read_hooks,
    presets(audited, multi_tenant(field = "org_id")),
    query(filter = [user_id, email, role, status, created_at], sort = [created_at, expires_at], default_sort = "-created_at")
)]
#[permissions(
    list = org_roles("owner", "admin"),
    get = org_roles("owner", "admin"),
    create = org_roles("owner", "admin"),
    delete = org_roles("owner", "admin")
)]
pub struct Invitation {
    /// The invitation's id: what its invitee accepts or rejects it with.
    #[field(id)]
    pub id: Uuid,
    /// The organization.
    #[field(system)]
    pub org_id: String,
    /// The one user who may answer it (the token's `sub`); anyone holding its id when left
    /// out (a link sent by mail).
    #[field(min_len = 1, max_len = 128)]
    pub user_id: Option<String>,
    /// Where the app sends it, for the inviter's own record (the server sends nothing).
    #[field(min_len = 3, max_len = 254)]
    pub email: Option<String>,
    /// The role its invitee gets: `owner` (offered by owners only), `admin`, `member` or an
    /// app's own.
    #[field(min_len = 1, max_len = 64)]
    pub role: String,
    /// Until when it may be answered: 7 days from its issue unless given, at most 30.
    pub expires_at: Option<DateTime<Utc>>,
    /// `pending`, `accepted` or `rejected`.
    #[field(system)]
    pub status: String,
    /// Who issued it.
    #[field(system)]
    pub invited_by: Option<String>,
    /// Who answered it.
    #[field(system)]
    pub answered_by: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it was last answered.
    pub updated_at: DateTime<Utc>,
}

impl ReadHooks for Invitation {
    /// An invitation to become an owner is shown to owners only.
    async fn before_list(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        owners_see_owners(ctx.caller, rows);
        Ok(())
    }

    /// The same for one invitation, and for withdrawing one.
    async fn before_get(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        owners_see_owners(ctx.caller, rows);
        Ok(())
    }
}

fn owners_see_owners(caller: &AuthContext, rows: &mut RowFilter) {
    if !is_owner(caller) {
        rows.and(invitation_entity::Column::Role.ne(OWNER));
    }
}

impl Hooks for Invitation {
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut invitation_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if row
            .role
            .try_as_ref()
            .is_some_and(|r| super::grants(ctx.roles(), r, OWNER))
        {
            owners_only(ctx.caller)?;
            // An owner's seat goes to a named user only: an id seen by someone it was not
            // meant for (an admin, with a role that includes `owner`) lets nobody else in.
            if row.user_id.try_as_ref().is_none_or(Option::is_none) {
                return Err(ArcError::validation(vec![FieldError {
                    field: "user_id".to_owned(),
                    message: "An invitation to an owner's seat names the user it is for".to_owned(),
                    keyword: "required",
                }]));
            }
        }
        let org = row.org_id.try_as_ref().or(ctx.caller.org_id.as_ref());
        super::existing_org(ctx.txn, org.map_or("", String::as_str)).await?;
        let now = Utc::now();
        let expires = row
            .expires_at
            .try_as_ref()
            .copied()
            .flatten()
            .unwrap_or(now + DEFAULT_EXPIRY);
        // A minute of slack: "30 days from now" as the client computed it a moment ago.
        if expires <= now || expires > now + MAX_EXPIRY + Duration::minutes(1) {
            return Err(ArcError::validation(vec![FieldError {
                field: "expires_at".to_owned(),
                message: "An invitation holds from now to at most 30 days from now".to_owned(),
                keyword: "maximum",
            }]));
        }
        row.expires_at = Set(Some(expires));
        row.status = Set(PENDING.to_owned());
        row.invited_by = Set(ctx.caller.user_id.clone());
        row.answered_by = Set(None);
        Ok(())
    }
}

/// The invitations of `org`, in `ctx`'s transaction, withdrawn: for an organization that is
/// deleted (nobody joins what is gone).
pub(super) async fn remove_all(ctx: &WriteContext<'_>, org: &str) -> Result<(), ArcError> {
    invitation_entity::Entity::delete_many()
        .filter(invitation_entity::Column::OrgId.eq(org))
        .exec(ctx.txn)
        .await?;
    Ok(())
}

/// The answer to `POST /organizations/invitations/{id}/accept` or `/reject`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Answered {
    /// The invitation.
    pub invitation: Uuid,
    /// The organization it is to.
    pub org_id: String,
    /// The role it offered.
    pub role: String,
    /// `accepted` or `rejected`.
    pub status: String,
}

/// `POST {organizations}/invitations/{id}/accept` and `/reject`: any signed-in caller, for
/// the invitations they may answer.
pub(crate) fn routes() -> [CustomRoute; 2] {
    [
        CustomRoute::post_empty("/organizations/invitations/{id}/accept", |ctx| {
            answer(ctx, ACCEPTED)
        })
        .permission(Rule::Authenticated)
        .summary("Accept an invitation: join its organization with its role")
        .errors(&[409]),
        CustomRoute::post_empty("/organizations/invitations/{id}/reject", |ctx| {
            answer(ctx, REJECTED)
        })
        .permission(Rule::Authenticated)
        .summary("Turn an invitation down"),
    ]
}

/// Answers the invitation the path names with `status`, in one transaction: its
/// organization held (a deletion waits, or went first), the invitation locked and checked
/// (pending, unexpired, for this caller, and its issuer still entitled to offer its role: a
/// 404 otherwise, as an id that does not exist), and on acceptance the caller made a member
/// (409 `DUPLICATE_KEY` when they are one already). Recorded as the resources' routes record
/// their writes (events, audit); the caller's cached memberships are forgotten after the
/// commit.
async fn answer(ctx: RouteContext, status: &'static str) -> Result<Answered, ArcError> {
    let not_found = || ArcError::not_found("No such invitation, or it is answered or expired");
    let (state, caller) = (ctx.state(), ctx.caller());
    let Some(user) = caller.user_id.clone() else {
        return Err(ArcError::unauthorized("Authentication required"));
    };
    let id: Uuid = ctx
        .param("id")
        .and_then(|id| id.parse().ok())
        .ok_or_else(not_found)?;
    let txn = state.writer().begin(true).await?;
    // The organization first, then the invitation: the order a deletion takes them in.
    let org = invitation_entity::Entity::find_by_id(id)
        .select_only()
        .column(invitation_entity::Column::OrgId)
        .into_tuple::<String>()
        .one(&*txn)
        .await?
        .ok_or_else(not_found)?;
    super::existing_org(&*txn, &org)
        .await
        .map_err(|_| not_found())?;
    let invitation = invitation_entity::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&*txn)
        .await?
        .filter(|i| i.org_id == org)
        .ok_or_else(not_found)?;
    let now = Utc::now();
    let open = invitation.status == PENDING
        && invitation.expires_at.is_some_and(|at| at > now)
        && invitation.user_id.as_ref().is_none_or(|u| *u == user);
    if !open || !issuer_may_offer(state.roles(), &*txn, &invitation).await? {
        return Err(not_found());
    }
    let mut write = FrameworkWrite::new(state, caller);
    if status == ACCEPTED {
        let member = super::insert(&*txn, &user, &invitation.org_id, &invitation.role).await?;
        write.created::<super::Member>(&txn, &member).await?;
        let context = WriteContext::new(state, &txn, caller);
        super::forget(&context, &user);
    }
    let mut row: invitation_entity::ActiveModel = invitation.clone().into();
    row.status = Set(status.to_owned());
    row.answered_by = Set(Some(user));
    row.updated_at = Set(now);
    let answered = row.update(&*txn).await?;
    write
        .updated::<Invitation>(&txn, &invitation, &answered)
        .await?;
    write
        .commit(txn, &[Invitation::META, super::Member::META])
        .await?;
    tracing::info!(invitation = %answered.id, org = %answered.org_id, status, "invitation answered");
    Ok(Answered {
        invitation: answered.id,
        org_id: answered.org_id,
        role: answered.role,
        status: answered.status,
    })
}

/// Whether the one who issued `invitation` may still offer its role: a member of its
/// organization whose role makes them an owner, or an admin for a role short of owner. An
/// admin removed or demoted since cannot let themselves back in by a link they kept.
async fn issuer_may_offer<C: ConnectionTrait>(
    roles: &RoleHierarchy,
    txn: &C,
    invitation: &invitation_entity::Model,
) -> Result<bool, ArcError> {
    let Some(issuer) = &invitation.invited_by else {
        return Ok(false);
    };
    let role: Option<String> = member_entity::Entity::find()
        .select_only()
        .column(member_entity::Column::Role)
        .filter(member_entity::Column::OrgId.eq(invitation.org_id.as_str()))
        .filter(member_entity::Column::UserId.eq(issuer.as_str()))
        .into_tuple()
        .one(txn)
        .await?;
    let Some(role) = role else {
        return Ok(false);
    };
    Ok(super::grants(roles, &role, OWNER)
        || (super::grants(roles, &role, ADMIN) && !super::grants(roles, &invitation.role, OWNER)))
}
