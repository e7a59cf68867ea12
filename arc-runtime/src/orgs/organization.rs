//! [`Organization`]: an organization as a resource at `/organizations`. Its caller creates
//! it and becomes its first owner; members read it, owners and admins change it, owners
//! delete it (and every membership and invitation with it).

use sea_orm::{ActiveValue, ColumnTrait};

use super::member::{OWNER, remove_all};
use crate::error::FieldError;
use crate::hooks::{Hooks, ReadContext, ReadHooks, RowFilter, WriteContext};
use crate::prelude::*;

/// An organization: what `x-organization-id` (or `{orgId}` in a path) names, and what
/// the rows of `multi_tenant` resources belong to.
#[resource(
    name = "organization",
    path = "/organizations",
    table = "arc_organizations",
    hooks,
    read_hooks,
    presets(audited, slug_lookup),
    query(filter = [name, slug, created_at], sort = [name, created_at], search = [name])
)]
#[permissions(
    list = authenticated,
    get = authenticated,
    create = authenticated,
    update = all(org_roles("owner", "admin"), when(crate::orgs::organization::active)),
    delete = all(org_roles("owner"), when(crate::orgs::organization::active))
)]
pub struct Organization {
    /// Its id: what `x-organization-id` (or `{orgId}` in a path) names.
    #[field(id)]
    pub id: Uuid,
    /// Its name.
    #[field(min_len = 1, max_len = 100)]
    pub name: String,
    /// A unique handle: 1 to 64 lowercase letters, digits and `-`, starting with a letter
    /// or digit; made from the name when left out (`Acme Inc.` -> `acme-inc`).
    #[field(unique, default, writable_on_create, max_len = 64)]
    pub slug: String,
    /// Who created it.
    #[field(system)]
    pub created_by: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// `update` and `delete` (with the role they need there): the active organization only,
/// the one the path's `{id}` selects (the access layer checked the caller is in it, a 403
/// `ORG_ACCESS_DENIED` otherwise); every row for a caller elevated across organizations.
pub async fn active(ctx: &CheckContext<'_>) -> Result<Verdict, ArcError> {
    use self::organization_entity::Column;
    Ok(match (&ctx.caller.org_id, ctx.caller.elevated) {
        (Some(org), _) => Verdict::rows(Column::Id.eq(uuid_of(org))),
        (None, true) => Verdict::Allow,
        (None, false) => Verdict::Deny,
    })
}

impl ReadHooks for Organization {
    /// A list shows the caller's organizations (every one to an elevated caller).
    async fn before_list(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        members_only(ctx.caller, rows);
        Ok(())
    }

    /// Another organization (reached by slug: by id the path selects it, so only a member
    /// gets here) is a 404, as a row that does not exist.
    async fn before_get(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        members_only(ctx.caller, rows);
        Ok(())
    }
}

/// Narrows `rows` to the caller's organizations (their memberships, as resolved for this
/// request); an elevated caller's to the one they named, if any.
fn members_only(caller: &AuthContext, rows: &mut RowFilter) {
    use self::organization_entity::Column;
    if caller.elevated {
        if let Some(org) = &caller.org_id {
            rows.and(Column::Id.eq(uuid_of(org)));
        }
        return;
    }
    let ids: Vec<Uuid> = caller.orgs.iter().filter_map(|o| o.parse().ok()).collect();
    rows.and(Column::Id.is_in(ids));
}

/// An organization id as the column holds it; one that is no UUID names no organization
/// (the nil UUID, which none has).
fn uuid_of(org: &str) -> Uuid {
    org.parse().unwrap_or(Uuid::nil())
}

/// `name` as a slug: lowercase ASCII letters and digits, every other run of characters one
/// `-`, at most 64 bytes.
fn slug_from(name: &str) -> String {
    let mut id = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            id.push(ch.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    id.truncate(64);
    id.trim_end_matches('-').to_owned()
}

/// Whether `slug` is one an organization may have.
fn valid_slug(slug: &str) -> bool {
    (1..=64).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
}

/// 400 unless `slug` is one an organization may have.
fn check_slug(slug: &str) -> Result<(), ArcError> {
    if valid_slug(slug) {
        return Ok(());
    }
    Err(ArcError::validation(vec![FieldError {
        field: "slug".to_owned(),
        message: "1 to 64 lowercase letters, digits and `-`, starting with a letter or digit (give a slug, or a name with letters or digits in it)".to_owned(),
        keyword: "pattern",
    }]))
}

impl Hooks for Organization {
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut organization_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        let given = row.slug.try_as_ref().filter(|s| !s.is_empty()).cloned();
        let slug = given.unwrap_or_else(|| slug_from(row.name.try_as_ref().map_or("", |n| n)));
        check_slug(&slug)?;
        row.slug = ActiveValue::Set(slug);
        row.created_by = ActiveValue::Set(ctx.caller.user_id.clone());
        Ok(())
    }

    async fn before_update(
        _ctx: &WriteContext<'_>,
        _current: &organization_entity::Model,
        row: &mut organization_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        match row.slug.try_as_ref() {
            Some(slug) => check_slug(slug),
            None => Ok(()),
        }
    }

    /// Its creator becomes its first owner, in the same transaction.
    async fn after_create(
        ctx: &WriteContext<'_>,
        created: &organization_entity::Model,
    ) -> Result<(), ArcError> {
        let Some(user) = ctx.caller.user_id.as_deref() else {
            return Err(ArcError::unauthorized("Authentication required"));
        };
        super::join(ctx, user, &created.id.to_string(), OWNER).await
    }

    /// Its memberships and invitations go with it, in the same transaction.
    async fn after_delete(
        ctx: &WriteContext<'_>,
        deleted: &organization_entity::Model,
    ) -> Result<(), ArcError> {
        let org = deleted.id.to_string();
        remove_all(ctx, &org).await?;
        super::invitation::remove_all(ctx, &org).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slug_from("Acme Inc."), "acme-inc");
        assert_eq!(slug_from("  --Globex  Corp--  "), "globex-corp");
        assert_eq!(slug_from("日本"), "");
        assert_eq!(slug_from(&"a".repeat(80)).len(), 64);
        assert!(valid_slug("acme-2"));
        for bad in ["", "-acme", "Acme", "a b", "ä", &"a".repeat(65)] {
            assert!(!valid_slug(bad), "{bad:?}");
        }
    }
}
