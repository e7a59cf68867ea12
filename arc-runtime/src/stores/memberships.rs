//! Who belongs to which organization, with which roles: the [`MembershipStore`] that
//! [`Memberships`](crate::config::Memberships) reads on every request instead of the
//! token's `orgs` and `org_roles` claims. In memory ([`InMemoryMemberships`], one process),
//! or a table of the app's database ([`SqlMemberships`], `arc_memberships`, shared by every
//! instance), and the migration of that table.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sea_orm::sea_query::{ColumnDef, Expr, ExprTrait, Index, OnConflict, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, DeriveIden};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use super::{BoxFuture, StoreError};

/// One organization a user belongs to, and their roles in it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Membership {
    /// The organization's id (what `x-organization-id` names).
    pub org: String,
    /// The user's roles in it (what `org_roles(..)` rules ask).
    pub roles: Vec<String>,
}

/// Where memberships live. Reads are by user (every organization of one user at once: one
/// lookup per request); writes are of one membership.
pub trait MembershipStore: Send + Sync + 'static {
    /// Every membership of `user`, ordered by organization.
    fn of<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>>;

    /// Makes `user` a member of `org` with `roles`, replacing the roles they had there.
    fn put<'a>(
        &'a self,
        user: &'a str,
        org: &'a str,
        roles: &'a [String],
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
    users: Mutex<BTreeMap<String, BTreeMap<String, Vec<String>>>>,
}

impl InMemoryMemberships {
    /// No memberships yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut BTreeMap<String, BTreeMap<String, Vec<String>>>) -> T,
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
                    .map(|(org, roles)| Membership {
                        org: org.clone(),
                        roles: roles.clone(),
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
        roles: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let done = self.with(|users| {
            users
                .entry(user.to_owned())
                .or_default()
                .insert(org.to_owned(), roles.to_vec());
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

#[derive(DeriveIden)]
enum ArcMemberships {
    Table,
    UserId,
    OrgId,
    Roles,
}

/// The longest user or organization id the table keeps (`x-organization-id` is at most 128
/// bytes too).
const MAX_ID: u32 = 128;

/// Memberships in the app's database: a row per (user, organization) in `arc_memberships`,
/// the roles a JSON array. Every instance over the database sees the same memberships.
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
        let select = Query::select()
            .columns([ArcMemberships::OrgId, ArcMemberships::Roles])
            .from(ArcMemberships::Table)
            .and_where(Expr::col(ArcMemberships::UserId).eq(user))
            .order_by(ArcMemberships::OrgId, sea_orm::sea_query::Order::Asc)
            .to_owned();
        let rows = self.db.query_all(&select).await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in rows {
            let org: String = row.try_get("", "org_id")?;
            let roles: String = row.try_get("", "roles")?;
            let roles = serde_json::from_str(&roles)
                .map_err(|e| DbErr::Custom(format!("arc_memberships.roles of {org}: {e}")))?;
            found.push(Membership { org, roles });
        }
        Ok(found)
    }

    async fn write(&self, user: &str, org: &str, roles: &[String]) -> Result<(), DbErr> {
        let roles = serde_json::to_string(roles).map_err(|e| DbErr::Custom(e.to_string()))?;
        let insert = Query::insert()
            .into_table(ArcMemberships::Table)
            .columns([
                ArcMemberships::UserId,
                ArcMemberships::OrgId,
                ArcMemberships::Roles,
            ])
            .values([user.into(), org.into(), roles.into()])
            .map_err(|e| DbErr::Custom(e.to_string()))?
            .on_conflict(
                OnConflict::columns([ArcMemberships::UserId, ArcMemberships::OrgId])
                    .update_column(ArcMemberships::Roles)
                    .to_owned(),
            )
            .to_owned();
        self.db.execute(&insert).await?;
        Ok(())
    }

    async fn delete(&self, user: &str, org: &str) -> Result<bool, DbErr> {
        let delete = Query::delete()
            .from_table(ArcMemberships::Table)
            .and_where(Expr::col(ArcMemberships::UserId).eq(user))
            .and_where(Expr::col(ArcMemberships::OrgId).eq(org))
            .to_owned();
        Ok(self.db.execute(&delete).await?.rows_affected() > 0)
    }
}

/// Ids the table cannot keep are refused before the database sees them.
fn fits(ids: [&str; 2]) -> Result<(), StoreError> {
    match ids
        .iter()
        .find(|id| id.is_empty() || id.len() > MAX_ID as usize)
    {
        Some(id) => Err(StoreError::new(format!(
            "a membership id must be 1 to {MAX_ID} bytes: {} bytes",
            id.len()
        ))),
        None => Ok(()),
    }
}

impl MembershipStore for SqlMemberships {
    fn of<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Result<Vec<Membership>, StoreError>> {
        Box::pin(async move { self.read(user).await.map_err(StoreError::new) })
    }

    fn put<'a>(
        &'a self,
        user: &'a str,
        org: &'a str,
        roles: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            fits([user, org])?;
            self.write(user, org, roles).await.map_err(StoreError::new)
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

/// The table `arc_memberships`: the key (user, organization) serves the per-request read,
/// an index on the organization its members' listing.
pub(crate) struct MembershipsMigration;

impl MigrationName for MembershipsMigration {
    fn name(&self) -> &str {
        "m_arc_create_memberships_table"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for MembershipsMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ArcMemberships as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(T::UserId).string_len(MAX_ID).not_null())
                    .col(ColumnDef::new(T::OrgId).string_len(MAX_ID).not_null())
                    .col(ColumnDef::new(T::Roles).text().not_null())
                    .primary_key(Index::create().col(T::UserId).col(T::OrgId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx-arc_memberships-org_id")
                    .table(T::Table)
                    .col(T::OrgId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ArcMemberships::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
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

    fn roles(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    /// Joining, changing roles, leaving, on `store`, with user ids made unique by `prefix`.
    ///
    /// # Panics
    ///
    /// When the store answers otherwise.
    pub async fn check(store: &dyn MembershipStore, prefix: &str) {
        let (alice, bob) = (format!("{prefix}-alice"), format!("{prefix}-bob"));
        assert!(store.of(&alice).await.expect("of").is_empty());
        store
            .put(&alice, "zeta", &roles(&["member"]))
            .await
            .expect("put");
        store
            .put(&alice, "acme", &roles(&["owner", "admin"]))
            .await
            .expect("put");
        store.put(&bob, "acme", &[]).await.expect("put");
        let expected = vec![
            Membership {
                org: "acme".to_owned(),
                roles: roles(&["owner", "admin"]),
            },
            Membership {
                org: "zeta".to_owned(),
                roles: roles(&["member"]),
            },
        ];
        assert_eq!(store.of(&alice).await.expect("of"), expected, "by org");
        // A put replaces the roles in that organization only.
        store
            .put(&alice, "acme", &roles(&["member"]))
            .await
            .expect("put");
        let now = store.of(&alice).await.expect("of");
        assert_eq!(now[0].roles, roles(&["member"]));
        assert_eq!(now[1].roles, roles(&["member"]));
        assert!(store.remove(&alice, "acme").await.expect("remove"));
        assert!(!store.remove(&alice, "acme").await.expect("remove"), "gone");
        let now = store.of(&alice).await.expect("of");
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].org, "zeta");
        // Another user's memberships are theirs.
        assert_eq!(
            store.of(&bob).await.expect("of"),
            vec![Membership {
                org: "acme".to_owned(),
                roles: vec![]
            }]
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
