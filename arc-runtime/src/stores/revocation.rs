//! Token revocation: a set of revoked token ids (`jti`), each kept until the token would have
//! expired anyway. Consulted for every token; a store that cannot answer fails closed (401).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{BoxFuture, StoreError};

/// Where revoked token ids live.
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether `jti` is revoked.
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Revokes `jti` until `expires_at` (Unix seconds), after which the token is dead anyway.
    fn revoke<'a>(&'a self, jti: &'a str, expires_at: u64)
    -> BoxFuture<'a, Result<(), StoreError>>;

    /// Whether other instances see what this one stores: false for a process's memory.
    /// Distributed apps ([`App::distributed`](crate::App::distributed)) refuse stores that
    /// are not.
    fn shared(&self) -> bool {
        false
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The in-memory store: one process, forgotten on restart.
#[derive(Debug, Default)]
pub struct InMemoryRevocation {
    revoked: Mutex<HashMap<String, u64>>,
}

impl InMemoryRevocation {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl RevocationStore for InMemoryRevocation {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        let result = self
            .revoked
            .lock()
            .map(|map| map.get(jti).is_some_and(|until| *until >= now()))
            .map_err(|_| StoreError::new("revocation store lock poisoned"));
        Box::pin(std::future::ready(result))
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self
            .revoked
            .lock()
            .map(|mut map| {
                let now = now();
                map.retain(|_, until| *until >= now);
                map.insert(jti.to_owned(), expires_at);
            })
            .map_err(|_| StoreError::new("revocation store lock poisoned"));
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revoked_until_expiry() {
        let store = InMemoryRevocation::new();
        assert!(!store.is_revoked("a").await.unwrap());
        store.revoke("a", now() + 60).await.unwrap();
        assert!(store.is_revoked("a").await.unwrap());
        store.revoke("old", now() - 1).await.unwrap();
        assert!(
            !store.is_revoked("old").await.unwrap(),
            "past its expiry it no longer matters"
        );
    }
}
