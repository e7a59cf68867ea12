//! Shared state behind traits: every store has an in-memory implementation here (the
//! embedded default) and Redis ones in the arc-stores crate, so N instances can behave as one
//! (rate limits, revocation, sessions, the events' transport, the query cache).
//! The audit trail's default store is the app's own database ([`SqlAudit`]), kept here with
//! its table's migration, as is the store of idempotency keys in that database.

pub(crate) mod audit;
pub(crate) mod audit_sql;
pub(crate) mod cache;
pub(crate) mod idempotency;
pub(crate) mod idempotency_sql;
pub(crate) mod memberships;
pub(crate) mod rate_limit;
pub(crate) mod revocation;
pub(crate) mod sessions;
pub(crate) mod transport;

use std::future::Future;
use std::pin::Pin;

pub use audit::{AuditPage, AuditQuery, AuditStore, InMemoryAudit};
pub(crate) use audit_sql::AuditMigration;
pub use audit_sql::SqlAudit;
pub use cache::{CacheStore, InMemoryCache, Lookup};
pub use idempotency::{Begin, Claim, IdempotencyStore, InMemoryIdempotency};
pub(crate) use idempotency_sql::IdempotencyMigration;
pub use idempotency_sql::SqlIdempotency;
pub use memberships::{
    InMemoryMemberships, Membership, MembershipStore, SqlMemberships,
    conformance as membership_conformance,
};
pub use rate_limit::{Hit, InMemoryRateLimit, RateLimitStore};
pub use revocation::{InMemoryRevocation, RevocationStore};
pub use sessions::{
    InMemorySessions, IssuedToken, Rotation, SessionStart, SessionStore,
    conformance as session_conformance,
};
pub use transport::{EventTransport, InMemoryTransport, Received};

/// A boxed future, for the object-safe store and authenticator traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store that could not answer, with its cause: [`StoreError::cause`] gives it back, and
/// a `redis::RedisError` stays one (`cause().downcast_ref()`). Callers fail closed on it.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// A store error caused by `cause`: an error value, or a message.
    ///
    /// ```
    /// use arc_runtime::config::StoreError;
    /// let e = StoreError::new("the connection was refused");
    /// assert_eq!(e.to_string(), "store unavailable: the connection was refused");
    /// ```
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError(cause.into())
    }

    /// What made the store fail.
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }

    /// What made the store fail, owned (to downcast it).
    pub(crate) fn into_cause(self) -> Box<dyn std::error::Error + Send + Sync> {
        self.0
    }
}
