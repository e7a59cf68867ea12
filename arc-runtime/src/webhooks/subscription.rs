//! [`Webhook`]: an organization's subscription of a URL to event patterns, as a resource at
//! `/webhooks`, for the organization's owners and admins only. Its secret is written, never
//! read back; the URL is checked against the target guard ([`super::target`]); a webhook
//! the deliveries disabled (`disabled`, with `disabled_reason`) is turned back on by setting
//! `disabled` to `false`, which also clears its count of failures.

use serde_json::Value as Json;

use crate::error::FieldError;
use crate::events::EventPattern;
use crate::hooks::{Hooks, WriteContext};
use crate::prelude::*;

/// The most event patterns one webhook holds.
pub const MAX_PATTERNS: usize = 32;

/// An organization's webhook: events whose type matches one of `events` are POSTed to
/// `url`, signed with `secret` (see [`sign`](super::sign)).
#[resource(
    name = "webhook",
    path = "/webhooks",
    table = "arc_webhooks",
    hooks,
    presets(audited, multi_tenant(field = "organization_id")),
    query(filter = [url, disabled, created_at], sort = [url, created_at], default_sort = "created_at")
)]
#[permissions(
    list = org_roles("owner", "admin"),
    get = org_roles("owner", "admin"),
    create = org_roles("owner", "admin"),
    update = org_roles("owner", "admin"),
    delete = org_roles("owner", "admin")
)]
pub struct Webhook {
    /// The webhook's id.
    #[field(id)]
    pub id: Uuid,
    /// The organization whose events it receives.
    #[field(system)]
    pub organization_id: String,
    /// Where deliveries are POSTed: `https`, a public address, no credentials (unless the
    /// app allows any target, for development).
    #[field(min_len = 1, max_len = 2048)]
    pub url: String,
    /// The event patterns it receives, 1 to 32 of them: `order.created`, `order.*`, `*`.
    pub events: Json,
    /// The shared secret of the signatures: 16 to 256 characters. Written, never shown.
    #[field(hidden, min_len = 16, max_len = 256)]
    pub secret: String,
    /// What it is for.
    #[field(max_len = 500)]
    pub description: Option<String>,
    /// Whether deliveries are stopped: set by hand, or by the deliveries after repeated
    /// failure. Setting it back to `false` clears `failures` and `disabled_reason`.
    #[field(default)]
    pub disabled: bool,
    /// Why the deliveries disabled it.
    #[field(system)]
    pub disabled_reason: Option<String>,
    /// Failed attempts since the last successful delivery.
    #[field(system)]
    pub failures: i32,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The patterns a webhook's `events` holds, or the field's error.
pub(crate) fn patterns(events: &Json) -> Result<Vec<EventPattern>, String> {
    let Some(list) = events.as_array() else {
        return Err("A list of event patterns, like [\"order.*\"]".to_owned());
    };
    if list.is_empty() || list.len() > MAX_PATTERNS {
        return Err(format!("From 1 to {MAX_PATTERNS} event patterns"));
    }
    list.iter()
        .map(|item| {
            item.as_str()
                .ok_or_else(|| "Each event pattern is a string".to_owned())?
                .parse::<EventPattern>()
                .map_err(|e| e.to_string())
        })
        .collect()
}

fn invalid(field: &str, message: String, keyword: &'static str) -> ArcError {
    ArcError::validation(vec![FieldError {
        field: field.to_owned(),
        message,
        keyword,
    }])
}

/// The URL and patterns of a webhook being written, checked.
fn check(
    ctx: &WriteContext<'_>,
    url: Option<&String>,
    events: Option<&Json>,
) -> Result<(), ArcError> {
    if let Some(url) = url {
        super::target::check_url(url, super::targets_of(ctx))
            .map_err(|message| invalid("url", message, "format"))?;
    }
    if let Some(events) = events {
        patterns(events).map_err(|message| invalid("events", message, "pattern"))?;
    }
    Ok(())
}

/// Refuses a webhook beyond the organization's cap
/// ([`Webhooks::max_per_org`](super::Webhooks::max_per_org)): 409 `CONFLICT`. Counted in
/// the write's transaction; two creates at once may both pass the last free place.
async fn within_cap(
    ctx: &WriteContext<'_>,
    row: &webhook_entity::ActiveModel,
) -> Result<(), ArcError> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let org = row
        .organization_id
        .try_as_ref()
        .cloned()
        .or_else(|| ctx.caller.org_id.clone())
        .ok_or_else(|| ArcError::forbidden("A webhook belongs to an organization"))?;
    let cap = super::max_per_org_of(ctx);
    let held = webhook_entity::Entity::find()
        .filter(webhook_entity::Column::OrganizationId.eq(org.as_str()))
        .count(ctx.txn)
        .await?;
    if held >= cap {
        tracing::debug!(organization = %org, cap, "webhooks: a webhook past the cap refused");
        return Err(ArcError::new(
            crate::error::ErrorCode::Conflict,
            format!("An organization has at most {cap} webhooks: delete one first"),
        ));
    }
    Ok(())
}

impl Hooks for Webhook {
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut webhook_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        check(ctx, row.url.try_as_ref(), row.events.try_as_ref())?;
        within_cap(ctx, row).await?;
        row.failures = sea_orm::ActiveValue::Set(0);
        row.disabled_reason = sea_orm::ActiveValue::Set(None);
        Ok(())
    }

    async fn before_update(
        ctx: &WriteContext<'_>,
        current: &webhook_entity::Model,
        row: &mut webhook_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        check(ctx, row.url.try_as_ref(), row.events.try_as_ref())?;
        if current.disabled && row.disabled.try_as_ref() == Some(&false) {
            row.failures = sea_orm::ActiveValue::Set(0);
            row.disabled_reason = sea_orm::ActiveValue::Set(None);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_checked() {
        assert_eq!(
            patterns(&serde_json::json!(["order.*", "invoice.paid"]))
                .unwrap()
                .len(),
            2
        );
        assert!(patterns(&serde_json::json!([])).is_err());
        assert!(patterns(&serde_json::json!("order.*")).is_err());
        assert!(patterns(&serde_json::json!([1])).is_err());
        assert!(patterns(&serde_json::json!(["order..x"])).is_err());
        assert!(patterns(&serde_json::json!(vec!["*"; MAX_PATTERNS + 1])).is_err());
    }
}
