//! Membership from a store: [`Memberships`] resolves the caller's organization and roles
//! there on every request (instead of the token's `orgs` and `org_roles` claims), through a
//! cache whose entries a change makes stale at once, on every instance that shares it.
//!
//! The cache is a [`CacheStore`] (the query cache's kind: memory, or Redis for several
//! instances): an entry holds a user's memberships stamped with the version their name had
//! when the store was read; a change writes the store, then moves the version on, so no
//! instance trusts an entry made before it. A removed member is refused on their next
//! request, wherever it lands.

use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use bytes::Bytes;

use super::AuthContext;
use crate::error::{ArcError, ErrorCode};
use crate::stores::{CacheStore, InMemoryMemberships, Membership, MembershipStore, StoreError};

/// `call`, or an error once [`Memberships::CACHE_DEADLINE`] has passed: a cache that
/// hangs costs a request no more than that.
async fn within<T>(
    call: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(Memberships::CACHE_DEADLINE, call)
        .await
        .unwrap_or_else(|_| Err(StoreError::new("membership cache timed out")))
}

/// A user's memberships as the cache keeps them, with the version they were read at.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    version: u64,
    memberships: Vec<Membership>,
}

/// Where org membership comes from when the app keeps it (see the module's page): a
/// [`MembershipStore`], read through a cache. Give it to
/// [`Auth::memberships`](crate::config::Auth::memberships); change memberships through it
/// ([`Memberships::put`], [`Memberships::remove`]) so every cache hears of it.
///
/// ```
/// use arc_runtime::config::{InMemoryMemberships, Memberships};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let memberships = Memberships::new(InMemoryMemberships::new());
/// memberships.put("alice", "acme", "admin").await?;
/// assert_eq!(memberships.of("alice").await?[0].org, "acme");
/// # Ok::<(), arc_runtime::config::StoreError>(()) }).unwrap();
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Memberships {
    store: Arc<dyn MembershipStore>,
    cache: Option<Arc<dyn CacheStore>>,
    ttl: Duration,
    table: bool,
}

impl std::fmt::Debug for Memberships {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memberships")
            .field("shared", &self.shared())
            .field("cached", &self.cache.is_some())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Memberships {
    /// How long a cache entry is kept unless set (a change makes it stale at once anyway;
    /// the bound on staleness when a change could not reach the cache).
    pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

    /// How long a cache call may take before the store decides instead.
    const CACHE_DEADLINE: Duration = Duration::from_millis(250);

    /// Memberships in `store`, uncached (every request reads it).
    pub fn new(store: impl MembershipStore) -> Self {
        Self {
            store: Arc::new(store),
            cache: None,
            ttl: Self::DEFAULT_TTL,
            table: false,
        }
    }

    /// Memberships in the app's database (`arc_memberships`, added to the app's migrations;
    /// see [`SqlMemberships`](crate::config::SqlMemberships)).
    pub fn sql(db: sea_orm::DatabaseConnection) -> Self {
        Self {
            table: true,
            ..Self::new(crate::stores::SqlMemberships::new(db))
        }
    }

    /// Memberships in memory (tests, one instance).
    pub fn in_memory() -> Self {
        Self::new(InMemoryMemberships::new())
    }

    /// Reads through `cache` (an [`InMemoryCache`](crate::config::InMemoryCache), or Redis
    /// shared by the instances).
    pub fn cache(mut self, cache: impl CacheStore) -> Self {
        self.cache = Some(Arc::new(cache));
        self
    }

    /// How long a cache entry is kept (at least a second).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self
    }

    /// Whether every instance sees the same memberships, fresh: the store shared, and the
    /// cache, if any, too.
    pub fn shared(&self) -> bool {
        self.store.shared() && self.cache.as_ref().is_none_or(|c| c.shared())
    }

    /// Whether the memberships are a table of the app's database.
    pub(crate) fn in_database(&self) -> bool {
        self.table
    }

    /// The cache's key (and version name) of `user`'s memberships.
    fn key(user: &str) -> String {
        format!("arc:memberships:{user}")
    }

    /// Every membership of `user`, ordered by organization: from the cache when its entry
    /// is current, else from the store (and the entry renewed). A cache that cannot answer
    /// is passed by: the store decides.
    pub async fn of(&self, user: &str) -> Result<Arc<[Membership]>, StoreError> {
        let Some(cache) = &self.cache else {
            return Ok(self.store.of(user).await?.into());
        };
        let key = Self::key(user);
        let names = [key.as_str()];
        let version = match within(cache.lookup(&key, &names)).await {
            Ok(found) => {
                let version = found.versions.first().copied().unwrap_or(0);
                let entry = found
                    .entry
                    .and_then(|bytes| serde_json::from_slice::<Entry>(&bytes).ok());
                match entry {
                    Some(entry) if version != 0 && entry.version == version => {
                        return Ok(entry.memberships.into());
                    }
                    _ => version,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "membership cache unavailable: reading the store");
                return Ok(self.store.of(user).await?.into());
            }
        };
        // Read after the version: a change that lands in between moves the version on, and
        // this entry is stale from the start.
        let memberships = self.store.of(user).await?;
        if version == 0 {
            // No version (never set, or lost): start one; this answer is not kept.
            if let Err(e) = within(cache.bump(&names)).await {
                tracing::warn!(error = %e, "membership cache unavailable");
            }
        } else if let Ok(bytes) = serde_json::to_vec(&Entry {
            version,
            memberships: memberships.clone(),
        }) && let Err(e) = within(cache.put(&key, Bytes::from(bytes), self.ttl)).await
        {
            tracing::warn!(error = %e, "membership cache unavailable");
        }
        Ok(memberships.into())
    }

    /// Makes `user` a member of `org` with `role` (replacing their role there); every
    /// cache stops trusting what it kept of `user`. The last-owner rule of the
    /// [`Member`](crate::orgs::Member) routes is theirs: this is the app's own hand.
    pub async fn put(&self, user: &str, org: &str, role: &str) -> Result<(), StoreError> {
        self.store.put(user, org, role).await?;
        self.forget(user).await
    }

    /// Takes `user` out of `org` (whether they were in it); on their next request, on any
    /// instance, they are not.
    pub async fn remove(&self, user: &str, org: &str) -> Result<bool, StoreError> {
        let was = self.store.remove(user, org).await?;
        self.forget(user).await?;
        Ok(was)
    }

    /// Moves `user`'s version on. A cache that cannot be told makes the change an error:
    /// the store has it, but an instance may serve the old memberships until the entry's
    /// time runs out.
    pub(crate) async fn forget(&self, user: &str) -> Result<(), StoreError> {
        match &self.cache {
            Some(cache) => within(cache.bump(&[Self::key(user).as_str()])).await,
            None => Ok(()),
        }
    }

    /// [`Memberships::forget`] after a write committed: a cache that cannot be told is
    /// logged (its entries end with their time to live), as the write stands.
    pub(crate) async fn forget_logged(&self, user: &str) {
        if let Err(e) = self.forget(user).await {
            tracing::error!(error = %e, user, "membership cache not told of a change: it may answer the old memberships until its entries expire");
        }
    }

    /// Sets the caller's active organization and roles from their memberships: the one
    /// `x-organization-id` names (403 `ORG_ACCESS_DENIED` unless a member), else the
    /// token's `org_id` while they are still a member of it (otherwise none). Their roles
    /// there and their organizations are the store's, not the token's; the token's team
    /// stays only in the token's own organization.
    pub(crate) async fn resolve(
        &self,
        context: &mut Arc<AuthContext>,
        parts: &Parts,
    ) -> Result<(), ArcError> {
        let Some(user) = context.user_id.clone() else {
            return super::layer::select_org(context, parts);
        };
        let requested = match parts.headers.get(super::layer::ORG_HEADER) {
            Some(value) => Some(super::layer::org_named(value)?.to_owned()),
            None => None,
        };
        let memberships = self.of(&user).await.map_err(|e| {
            tracing::error!(error = %e, "membership store unavailable");
            ArcError::new(ErrorCode::ServiceUnavailable, "Memberships are unavailable")
        })?;
        let active = requested.as_deref().or(context.org_id.as_deref());
        let found = active.and_then(|org| memberships.iter().find(|m| m.org == org));
        if requested.is_some() && found.is_none() {
            return Err(ArcError::new(
                ErrorCode::OrgAccessDenied,
                "Not a member of that organization",
            ));
        }
        let same_org = found.is_some_and(|m| context.org_id.as_deref() == Some(m.org.as_str()));
        let context = Arc::make_mut(context);
        context.orgs = memberships.iter().map(|m| m.org.clone()).collect();
        context.org_id = found.map(|m| m.org.clone());
        context.org_roles = found.map(|m| vec![m.role.clone()]).unwrap_or_default();
        context.implied_org_roles.clear();
        if !same_org {
            context.team_id = None;
        }
        Ok(())
    }
}
