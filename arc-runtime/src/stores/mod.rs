//! Shared state behind traits: every store has an in-memory implementation here (the
//! embedded default) and Redis/SQL ones elsewhere, so N instances can behave as one.

pub mod rate_limit;
#[cfg(feature = "redis")]
pub mod redis;
pub mod revocation;

use std::future::Future;
use std::pin::Pin;

pub use rate_limit::{Hit, InMemoryRateLimit, RateLimitStore};
pub use revocation::{InMemoryRevocation, RevocationStore};

/// A boxed future, for the object-safe store and authenticator traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store that could not answer. Callers fail closed on it.
#[derive(Debug, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);
