//! The query cache on Redis: entries as plain keys with a TTL, versions as counters, so every
//! instance reads the answers the others kept and sees their writes' bumps at once.

use std::sync::LazyLock;
use std::time::Duration;

use deadpool_redis::redis::{self, AsyncCommands};

use arc_runtime::config::{BoxFuture, CacheStore, Lookup, StoreError};
use bytes::Bytes;

use crate::Redis;

/// Sets each key to one above its value and above the server's clock in microseconds, so a
/// version that was lost (an eviction, a flush) comes back above every one handed out
/// before. Lua's numbers are doubles: exact up to 2^53, centuries of microseconds.
static BUMP: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for _, key in ipairs(KEYS) do
  local next = (tonumber(redis.call('GET', key)) or 0) + 1
  if now > next then next = now end
  redis.call('SET', key, string.format('%.0f', next))
end
return #KEYS
",
    )
});

/// The query cache's store on Redis: `{prefix}cache:e:{key}` holds an entry (expiring with
/// it), `{prefix}cache:v:{name}` a version. A lookup is one `MGET` of the versions and the
/// entry; a bump is one script over the names.
#[derive(Clone, Debug)]
pub struct RedisCache(Redis);

impl Redis {
    /// The query cache's store on this server (see [`RedisCache`]).
    pub fn cache(&self) -> RedisCache {
        RedisCache(self.clone())
    }
}

impl RedisCache {
    fn version_key(&self, name: &str) -> String {
        self.0.key("cache:v", name)
    }

    fn entry_key(&self, key: &str) -> String {
        self.0.key("cache:e", key)
    }
}

impl CacheStore for RedisCache {
    fn lookup<'a>(
        &'a self,
        key: &'a str,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Lookup, StoreError>> {
        Box::pin(async move {
            let mut keys: Vec<String> = names.iter().map(|n| self.version_key(n)).collect();
            keys.push(self.entry_key(key));
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let mut values: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::new)?;
            let entry = values.pop().flatten().map(Bytes::from);
            let versions = values
                .into_iter()
                .map(|v| {
                    v.and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
                        .unwrap_or(0)
                })
                .collect();
            Ok(Lookup { versions, entry })
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        entry: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            conn.pset_ex::<_, _, ()>(self.entry_key(key), entry.as_ref(), ms)
                .await
                .map_err(StoreError::new)
        })
    }

    fn bump<'a>(&'a self, names: &'a [&'a str]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut invocation = BUMP.prepare_invoke();
            for name in names {
                invocation.key(self.version_key(name));
            }
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            invocation
                .invoke_async::<u64>(&mut conn)
                .await
                .map(drop)
                .map_err(StoreError::new)
        })
    }

    fn shared(&self) -> bool {
        true
    }
}
