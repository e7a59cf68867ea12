//! The query cache's store: answers by key, and the versions that say whether an answer is
//! still current. The in-memory store serves one process, bounded by bytes; the Redis one
//! (arc-stores' `RedisCache`) lets N instances share answers and versions.
//!
//! A store keeps opaque entries; what they hold (the versions they were made at, when, the
//! body) is the cache's business ([`crate::cache`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use super::{BoxFuture, StoreError};

/// What a [`CacheStore::lookup`] found: the current version of each name asked (0 for a
/// name never bumped, or whose version was lost: the cache then trusts no entry and bumps
/// it), and the entry at the key, if one is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The versions, in the order the names were given.
    pub versions: Vec<u64>,
    /// The entry, as [`CacheStore::put`] was given it.
    pub entry: Option<Bytes>,
}

/// Where the query cache keeps answers and versions.
///
/// Versions only grow: [`CacheStore::bump`] sets a name's version above both its current
/// value and the time in microseconds, so a store that lost a version (a restart, an
/// eviction) never hands out one an old entry was stamped with.
pub trait CacheStore: Send + Sync + 'static {
    /// The versions of `names` and the entry at `key`, read together (one round trip).
    fn lookup<'a>(
        &'a self,
        key: &'a str,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Lookup, StoreError>>;

    /// Keeps `entry` at `key` for `ttl`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        entry: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Moves each of `names` to a new version: every entry stamped with an older one is
    /// no longer current.
    fn bump<'a>(&'a self, names: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Whether other instances see what this one stores (false for a process's memory).
    fn shared(&self) -> bool;
}

/// The next version of a name now at `current`: above it and above the clock.
pub(crate) fn next_version(current: u64) -> u64 {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    current.saturating_add(1).max(micros)
}

/// An entry in memory: its bytes, and when it expires.
#[derive(Clone)]
struct Kept {
    entry: Bytes,
    expires: Instant,
}

/// Weighs an entry by its bytes, the key's and a share for the bookkeeping.
#[derive(Clone, Copy)]
struct Size;

/// The bookkeeping counted for each entry beside its bytes.
const OVERHEAD: u64 = 64;

impl Weighter<String, Kept> for Size {
    fn weight(&self, key: &String, kept: &Kept) -> u64 {
        (key.len() + kept.entry.len()) as u64 + OVERHEAD
    }
}

/// The in-memory store: at most a number of bytes of entries (the least useful go first;
/// S3-FIFO, by the `quick_cache` crate), and the versions.
pub struct InMemoryCache {
    entries: Cache<String, Kept, Size>,
    versions: Mutex<HashMap<String, u64>>,
    capacity: u64,
}

impl std::fmt::Debug for InMemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryCache")
            .field("capacity", &self.capacity)
            .field("weight", &self.entries.weight())
            .finish_non_exhaustive()
    }
}

impl Default for InMemoryCache {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

impl InMemoryCache {
    /// The default bound: 64 MiB.
    pub const DEFAULT_CAPACITY: u64 = 64 * 1024 * 1024;

    /// A store of at most `bytes` of entries.
    ///
    /// ```
    /// let store = arc_runtime::config::InMemoryCache::new(8 * 1024 * 1024);
    /// assert_eq!(store.capacity(), 8 * 1024 * 1024);
    /// ```
    pub fn new(bytes: u64) -> Self {
        let bytes = bytes.max(1);
        // quick_cache sizes its table from an estimate of the entries: a few KiB each.
        let estimate = usize::try_from(bytes / 4096)
            .unwrap_or(usize::MAX)
            .clamp(16, 1 << 20);
        Self {
            entries: Cache::with_weighter(estimate, bytes, Size),
            versions: Mutex::default(),
            capacity: bytes,
        }
    }

    /// The bound, in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The bytes the entries weigh now (never above [`InMemoryCache::capacity`]).
    pub fn weight(&self) -> u64 {
        self.entries.weight()
    }

    fn poisoned() -> StoreError {
        StoreError::new("the in-memory cache's versions lock is poisoned")
    }
}

impl CacheStore for InMemoryCache {
    fn lookup<'a>(
        &'a self,
        key: &'a str,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Lookup, StoreError>> {
        let result = self
            .versions
            .lock()
            .map_err(|_| Self::poisoned())
            .map(|versions| {
                names
                    .iter()
                    .map(|name| versions.get(*name).copied().unwrap_or(0))
                    .collect()
            })
            .map(|versions| Lookup {
                versions,
                entry: self
                    .entries
                    .get(key)
                    .filter(|kept| kept.expires > Instant::now())
                    .map(|kept| kept.entry),
            });
        Box::pin(std::future::ready(result))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        entry: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let now = Instant::now();
        // A year stands for any longer time (an `Instant` cannot reach every duration).
        let expires = now
            .checked_add(ttl)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        self.entries.insert(key.to_owned(), Kept { entry, expires });
        Box::pin(std::future::ready(Ok(())))
    }

    fn bump<'a>(&'a self, names: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self
            .versions
            .lock()
            .map_err(|_| Self::poisoned())
            .map(|mut versions| {
                for name in names {
                    let version = versions.entry((*name).to_owned()).or_default();
                    *version = next_version(*version);
                }
            });
        Box::pin(std::future::ready(result))
    }

    fn shared(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn versions_grow_and_entries_come_back() {
        let store = InMemoryCache::default();
        let first = store.lookup("k", &["product", "catalog"]).await.unwrap();
        assert_eq!(
            first,
            Lookup {
                versions: vec![0, 0],
                entry: None
            }
        );
        store
            .put("k", Bytes::from_static(b"answer"), Duration::from_secs(60))
            .await
            .unwrap();
        store.bump(&["product"]).await.unwrap();
        let second = store.lookup("k", &["product", "catalog"]).await.unwrap();
        assert!(second.versions[0] > 0);
        assert_eq!(second.versions[1], 0);
        assert_eq!(second.entry.as_deref(), Some(&b"answer"[..]));
        store.bump(&["product"]).await.unwrap();
        let third = store.lookup("k", &["product"]).await.unwrap();
        assert!(third.versions[0] > second.versions[0]);
    }

    #[tokio::test]
    async fn an_expired_entry_is_not_found() {
        let store = InMemoryCache::default();
        store
            .put("k", Bytes::from_static(b"x"), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(store.lookup("k", &[]).await.unwrap().entry, None);
    }

    #[tokio::test]
    async fn the_bound_holds() {
        let store = InMemoryCache::new(64 * 1024);
        let body = Bytes::from(vec![b'x'; 1000]);
        for i in 0..1000 {
            store
                .put(&format!("key-{i}"), body.clone(), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(
            store.weight() <= store.capacity(),
            "{} > {}",
            store.weight(),
            store.capacity()
        );
        assert!(store.weight() > store.capacity() / 2);
    }
}
