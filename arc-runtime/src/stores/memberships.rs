//! Who belongs to which organization, with which roles: the [`MembershipStore`] that
//! [`Memberships`](crate::config::Memberships) reads on every request instead of the
//! token's `orgs` and `org_roles` claims. In memory ([`InMemoryMemberships`], one process),
//! or a table of the app's database ([`SqlMemberships`], `arc_memberships`, shared by every
//! instance), and the migration of that table.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{BoxFuture, StoreError};

/// One organization a user belongs to, and their role in it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Membership {
    /// The organization's id (what `x-organization-id` names).
    pub org: String,
    /// The user's role in it (what `org_roles(..)` rules ask; with the app's
    /// [`RoleHierarchy`](crate::RoleHierarchy), the roles it implies too).
    pub role: String,
}

/// Where memberships live. Reads are by user (every organization of one user at once: one
/// lookup per request); writes are of one membership.
pub trait MembershipStore: Send + Sync + 'static {
    /// Every membership of `user`, ordered by organization.
    fn of<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>>;

    /// Makes `user` a member of `org` with `role`, replacing the role they had there.
    fn put<'a>(
        &'a self,
        user: &'a str,
        org: &'a str,
        role: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Takes `user` out of `org`: whether they were in it.
    fn remove<'a>(&'a self, user: &'a str, org: &'a str)
    -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Whether other instances see what this one stores (false for a process's memory).
    fn shared(&self) -> bool;
}

/// Memberships in memory: one process, forgotten on restart (tests, a single instance
/// whose app fills them at start).
#[derive(Debug, Default)]
pub struct InMemoryMemberships {
    users: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
}

impl InMemoryMemberships {
    /// No memberships yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, BTreeMap<String, String>>) -> T,
    ) -> Result<T, StoreError> {
        let mut users = self
            .users
            .lock()
            .map_err(|_| StoreError::new("membership store lock poisoned"))?;
        Ok(f(&mut users))
    }
}

impl MembershipStore for InMemoryMemberships {
    fn of<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>> {
        let found = self.with(|users| {
            users.get(user).map_or_else(Vec::new, |orgs| {
                orgs.iter()
                    .map(|(org, role)| Membership {
                        org: org.clone(),
                        role: role.clone(),
                    })
                    .collect()
            })
        });
        Box::pin(std::future::ready(found))
    }

    fn put<'a>(
        &'a self,
        user: &'a str,
        org: &'a str,
        role: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let done = self.with(|users| {
            users
                .entry(user.to_owned())
                .or_default()
                .insert(org.to_owned(), role.to_owned());
        });
        Box::pin(std::future::ready(done))
    }

    fn remove<'a>(
        &'a self,
        user: &'a str,
        org: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let done = self.with(|users| {
            let Some(orgs) = users.get_mut(user) else {
                return false;
            };
            let was = orgs.remove(org).is_some();
            if orgs.is_empty() {
                users.remove(user);
            }
            was
        });
        Box::pin(std::future::ready(done))
    }

    fn shared(&self) -> bool {
        false
    }
}

/// The longest user or organization id the table keeps (`x-organization-id` is at most 128
/// bytes too).
const MAX_ID: usize = 128;

/// The longest role a member may have.
const MAX_ROLE: usize = 64;

/// Memberships in the app's database: the table of the [`Member`](crate::orgs::Member)
/// resource, `arc_memberships`, a row per (organization, user). Every instance over the
/// database sees the same memberships; [`App::organizations`](crate::App::organizations)
/// serves them as routes.
///
/// Give it with [`Memberships::sql`](crate::config::Memberships::sql), which also adds its
/// table to the app's migrations.
#[derive(Clone, Debug)]
pub struct SqlMemberships {
    db: DatabaseConnection,
}

impl SqlMemberships {
    /// The store over `db`, whose migrations create `arc_memberships`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    async fn read(&self, user: &str) -> Result<Vec<Membership>, DbErr> {
        use crate::orgs::member_entity::{Column, Entity};
        let rows: Vec<(String, String)> = Entity::find()
            .select_only()
            .columns([Column::OrgId, Column::Role])
            .filter(Column::UserId.eq(user))
            .order_by_asc(Column::OrgId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(org, role)| Membership { org, role })
            .collect())
    }

    async fn delete(&self, user: &str, org: &str) -> Result<bool, DbErr> {
        use crate::orgs::member_entity::{Column, Entity};
        let deleted = Entity::delete_many()
            .filter(Column::UserId.eq(user))
            .filter(Column::OrgId.eq(org))
            .exec(&self.db)
            .await?;
        Ok(deleted.rows_affected > 0)
    }
}

/// Ids the table cannot keep, and roles a member cannot have, are refused before the
/// database sees them.
fn fits(user: &str, org: &str, role: &str) -> Result<(), StoreError> {
    if let Some(id) = [user, org]
        .into_iter()
        .find(|id| id.is_empty() || id.len() > MAX_ID)
    {
        return Err(StoreError::new(format!(
            "a membership id must be 1 to {MAX_ID} bytes: {} bytes",
            id.len()
        )));
    }
    if role.is_empty() || role.len() > MAX_ROLE {
        return Err(StoreError::new(format!(
            "a member's role must be 1 to {MAX_ROLE} bytes: {} bytes",
            role.len()
        )));
    }
    Ok(())
}

impl MembershipStore for SqlMemberships {
    fn of<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>> {
        Box::pin(async move { self.read(user).await.map_err(StoreError::new) })
    }

    fn put<'a>(
        &'a self,
        user: &'a str,
        org: &'a str,
        role: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            fits(user, org, role)?;
            crate::orgs::upsert(&self.db, user, org, role)
                .await
                .map_err(StoreError::new)
        })
    }

    fn remove<'a>(
        &'a self,
        user: &'a str,
        org: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move { self.delete(user, org).await.map_err(StoreError::new) })
    }

    fn shared(&self) -> bool {
        true
    }
}

/// The behaviour every [`MembershipStore`] shares, run against each implementation.
#[doc(hidden)]
#[allow(
    clippy::expect_used,
    reason = "a conformance check for tests: it panics on what it finds wrong"
)]
pub mod conformance {
    use super::*;

    /// Joining, changing roles, leaving, on `store`, with user ids made unique by `prefix`.
    ///
    /// # Panics
    ///
    /// When the store answers otherwise.
    pub async fn check(store: &dyn MembershipStore, prefix: &str) {
        let (alice, bob) = (format!("{prefix}-alice"), format!("{prefix}-bob"));
        let (acme, zeta) = (format!("{prefix}-acme"), format!("{prefix}-zeta"));
        let membership = |org: &str, role: &str| Membership {
            org: org.to_owned(),
            role: role.to_owned(),
        };
        assert!(store.of(&alice).await.expect("of").is_empty());
        store.put(&alice, &zeta, "member").await.expect("put");
        store.put(&alice, &acme, "owner").await.expect("put");
        store.put(&bob, &acme, "editor").await.expect("put");
        let expected = vec![membership(&acme, "owner"), membership(&zeta, "member")];
        assert_eq!(store.of(&alice).await.expect("of"), expected, "by org");
        // A put replaces the role in that organization only.
        store.put(&alice, &acme, "admin").await.expect("put");
        let now = store.of(&alice).await.expect("of");
        assert_eq!(
            now,
            vec![membership(&acme, "admin"), membership(&zeta, "member")]
        );
        assert!(store.remove(&alice, &acme).await.expect("remove"));
        assert!(!store.remove(&alice, &acme).await.expect("remove"), "gone");
        assert_eq!(
            store.of(&alice).await.expect("of"),
            vec![membership(&zeta, "member")]
        );
        // Another user's memberships are theirs.
        assert_eq!(
            store.of(&bob).await.expect("of"),
            vec![membership(&acme, "editor")]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_memberships_conform() {
        conformance::check(&InMemoryMemberships::new(), "memory").await;
    }
}
