//! Rate-limit counters: fixed windows per key. The in-memory store serves one process; the
//! Redis one (arc-stores' `RedisRateLimit`) makes N instances share one budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{BoxFuture, StoreError};

/// The outcome of one request against a key's budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Whether the request is within the budget.
    pub allowed: bool,
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in this window.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset_after: u64,
}

impl Hit {
    /// The outcome of the `count`th request of a window of `window` seconds, `limit` allowed.
    pub fn of(count: u64, limit: u64, window: u64, now: u64) -> Hit {
        let window = window.max(1);
        Hit {
            allowed: count <= limit,
            limit,
            remaining: limit.saturating_sub(count),
            reset_after: window - now % window,
        }
    }
}

/// Where the counters live.
pub trait RateLimitStore: Send + Sync + 'static {
    /// Counts one request for `key` in the current window of `window`, `limit` allowed.
    fn hit<'a>(
        &'a self,
        key: &'a str,
        limit: u64,
        window: Duration,
    ) -> BoxFuture<'a, Result<Hit, StoreError>>;

    /// Whether other instances see what this one stores: false for a process's memory.
    /// Distributed apps ([`App::distributed`](crate::App::distributed)) refuse stores that
    /// are not.
    fn shared(&self) -> bool {
        false
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The in-memory store: counters of the current windows, swept as windows pass.
#[derive(Debug, Default)]
pub struct InMemoryRateLimit {
    windows: Mutex<HashMap<String, (u64, u64)>>,
}

impl InMemoryRateLimit {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl RateLimitStore for InMemoryRateLimit {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        limit: u64,
        window: Duration,
    ) -> BoxFuture<'a, Result<Hit, StoreError>> {
        let seconds = window.as_secs().max(1);
        let now = unix_now();
        let index = now / seconds;
        let result = self
            .windows
            .lock()
            .map(|mut windows| {
                if windows.len() > 100_000 {
                    windows.retain(|_, (w, _)| *w == index);
                }
                // Look up before inserting: the key is only copied for a new one.
                let count = match windows.get_mut(key) {
                    Some(slot) if slot.0 == index => {
                        slot.1 += 1;
                        slot.1
                    }
                    Some(slot) => {
                        *slot = (index, 1);
                        1
                    }
                    None => {
                        windows.insert(key.to_owned(), (index, 1));
                        1
                    }
                };
                Hit::of(count, limit, seconds, now)
            })
            .map_err(|_| StoreError::new("rate-limit store lock poisoned"));
        Box::pin(std::future::ready(result))
    }
}
