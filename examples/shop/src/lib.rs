//! The reference app of arc-rs: a multi-tenant shop of categories, products and orders.
//!
//! [`app`] mounts the resources behind HS256 bearer authentication; [`seed`] fills an empty
//! database with demo data; [`demo_token`] mints tokens for trying it. The binary
//! (`cargo run -p shop`) wires them to the environment; the black-box tests use them directly.

pub mod resources;
pub mod seed;

use std::time::Duration;

use arc_runtime::App;
use arc_runtime::config::{Auth, Elevation, JwtAuthenticator, JwtKeys};
use arc_runtime::config::{Cache, Events, Idempotency};
use arc_runtime::config::{JwtConfigError, JwtSigner, TokenClaims};
use arc_runtime::sea_orm::DatabaseConnection;
use arc_runtime::{Preset, RoleHierarchy};
use arc_stores::Redis;

pub use resources::*;

/// The HS256 secret used when `ARC_JWT_SECRET` is unset in development. Public, so never
/// for production (the production preset refuses to start without `ARC_JWT_SECRET`).
pub const DEV_JWT_SECRET: &str = "arc-rs shop development secret: never use in production";

/// The shop's application over `db`, authenticating bearer tokens signed with `jwt_secret`
/// (at least 32 bytes), with in-memory stores and development defaults.
pub fn app(db: DatabaseConnection, jwt_secret: &[u8]) -> Result<App, JwtConfigError> {
    Ok(resources(db, Events::new()).auth(auth(jwt_secret, None, Preset::Development)?))
}

/// The shop under `preset` (the app's defaults and its token rules: in production and edge,
/// tokens need a `jti` and live a day at most, see [`JwtAuthenticator::preset`]); with
/// `redis`, revoked tokens are kept there, so every instance refuses them, the query cache's
/// answers and versions too, so a write on one instance makes the next read on every other
/// fresh, idempotency keys too, so a retried order is placed once whichever instance it
/// reaches, and events travel on its streams, so instances share the subscribers' work and
/// hear each other's events.
pub fn app_with(
    db: DatabaseConnection,
    jwt_secret: &[u8],
    redis: Option<&Redis>,
    preset: Preset,
) -> Result<App, JwtConfigError> {
    let events = match redis {
        Some(redis) => Events::new().transport(redis.event_streams()),
        None => Events::new(),
    };
    let (cache, idempotency) = match redis {
        Some(redis) => (
            Cache::new().store(redis.cache()),
            Idempotency::new().store(redis.idempotency()),
        ),
        None => (Cache::new(), Idempotency::new()),
    };
    Ok(resources(db, events)
        .auth(auth(jwt_secret, redis, preset)?)
        .cache(cache)
        .idempotency(idempotency)
        .preset(preset))
}

/// The resources, with no authentication yet, and their events: each write is recorded in
/// the outbox with it, streamed at `/events/stream`, and new orders are logged.
fn resources(db: DatabaseConnection, events: Events) -> App {
    App::new(db)
        .info("shop", env!("CARGO_PKG_VERSION"))
        .resource::<Category>()
        .resource::<Product>()
        .resource::<Order>()
        .events(events.define::<OrderCancelled>())
        .on("order.created", |event| async move {
            tracing::info!(
                order = event.meta.resource_id.as_deref().unwrap_or(""),
                org = event.meta.organization_id.as_deref().unwrap_or(""),
                "order placed"
            );
            Ok::<(), std::convert::Infallible>(())
        })
}

/// Bearer tokens signed with `jwt_secret`, checked as `preset` says, revoked in `redis`
/// when given: the shop's authentication, for an app that adds to it (memberships from a
/// store, say) with `App::auth`.
pub fn auth(
    jwt_secret: &[u8],
    redis: Option<&Redis>,
    preset: Preset,
) -> Result<Auth, JwtConfigError> {
    let keys = JwtKeys::hs256(jwt_secret)?;
    // An admin may do all an editor may (create products): declared once, not in each rule.
    // A `superadmin` (platform role) may act in any organization, audited, on the requests
    // that say so (`x-arc-scope: platform`).
    let mut auth = Auth::new()
        .with(JwtAuthenticator::new(keys).preset(preset))
        .role_hierarchy(RoleHierarchy::new().chain(["admin", "editor"]))
        .elevation(Elevation::roles(["superadmin"]));
    if let Some(redis) = redis {
        auth = auth.revocation(redis.revocation());
    }
    Ok(auth)
}

/// A token for `user` with platform `roles`, active in `org` (when given) with `org_roles`
/// there, valid for `ttl`, signed with `jwt_secret`. It carries a fresh `jti` and `iat`, so
/// production accepts it when `ttl` is at most
/// [`DEFAULT_MAX_LIFETIME`](arc_runtime::config::DEFAULT_MAX_LIFETIME).
pub fn demo_token(
    jwt_secret: &[u8],
    user: &str,
    roles: &[&str],
    org: Option<&str>,
    org_roles: &[&str],
    ttl: Duration,
) -> Result<String, JwtConfigError> {
    let mut claims = TokenClaims::new(user, ttl).roles(roles);
    if let Some(org) = org {
        claims = claims.org(org, org_roles);
    }
    JwtSigner::hs256(jwt_secret)?.sign(&claims)
}
