//! Redis implementations of the stores, over one deadpool-redis pool. Every key starts with
//! the store's prefix, so apps (and tests) can share a server.

use std::time::Duration;

use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Config, Pool, Runtime};

use arc_runtime::config::{BoxFuture, Hit, RateLimitStore, RevocationStore, StoreError};

/// Seconds since the epoch, now.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `duration` in whole milliseconds, as Redis counts them (saturating).
pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A Redis connection pool and a key prefix.
#[derive(Clone)]
pub struct Redis {
    pub(crate) pool: Pool,
    /// For the connections that block (stream reads), which stay out of the pool.
    pub(crate) client: redis::Client,
    pub(crate) prefix: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A pool for `url` (`redis://host:port/db`), keys starting with `prefix`. Nothing is
    /// connected until first use; [`Redis::ping`] checks the server.
    pub fn new(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let pool = Config::from_url(url)
            .create_pool(Some(Runtime::Tokio1))
            .map_err(StoreError::new)?;
        let client = redis::Client::open(url).map_err(StoreError::new)?;
        Ok(Self {
            pool,
            client,
            prefix: prefix.into(),
        })
    }

    /// `PING`, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await.map_err(StoreError::new)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(StoreError::new)?;
        Ok(())
    }

    pub(crate) fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.prefix)
    }

    /// `EVAL script` with `keys` and `args`: its reply, a list of words (numbers as text).
    /// The scripts are short, so each call sends its text (no script cache to miss after a
    /// server restart).
    pub(crate) async fn eval(
        &self,
        script: &str,
        keys: &[String],
        args: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len());
        for key in keys {
            cmd.arg(key);
        }
        for arg in args {
            cmd.arg(*arg);
        }
        let mut conn = self.pool.get().await.map_err(StoreError::new)?;
        let value: redis::Value = cmd.query_async(&mut conn).await.map_err(StoreError::new)?;
        let redis::Value::Array(items) = value else {
            return Err(StoreError::new(format!(
                "unexpected reply from a script: {value:?}"
            )));
        };
        items
            .into_iter()
            .map(|item| match item {
                redis::Value::BulkString(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
                redis::Value::SimpleString(text) => Ok(text),
                redis::Value::Int(n) => Ok(n.to_string()),
                other => Err(StoreError::new(format!(
                    "unexpected reply from a script: {other:?}"
                ))),
            })
            .collect()
    }

    /// The revocation store on this server.
    pub fn revocation(&self) -> RedisRevocation {
        RedisRevocation(self.clone())
    }

    /// The store of idempotency keys on this server (see
    /// [`RedisIdempotency`](crate::RedisIdempotency)).
    pub fn idempotency(&self) -> crate::RedisIdempotency {
        crate::RedisIdempotency(self.clone())
    }

    /// The store of sessions on this server (see [`RedisSessions`](crate::RedisSessions)).
    pub fn sessions(&self) -> crate::RedisSessions {
        crate::RedisSessions(self.clone())
    }

    /// The rate-limit store on this server.
    pub fn rate_limit(&self) -> RedisRateLimit {
        RedisRateLimit(self.clone())
    }

    /// The jobs' queue on this server (see [`RedisJobs`](crate::RedisJobs)).
    pub fn jobs(&self) -> crate::RedisJobs {
        crate::RedisJobs(self.clone())
    }

    /// The events' transport on this server: the stream `{prefix}events` (see
    /// [`RedisStreams`](crate::RedisStreams)).
    pub fn event_streams(&self) -> crate::RedisStreams {
        crate::RedisStreams::new(self.clone())
    }
}

/// Revoked token ids as keys that expire with the token.
#[derive(Clone, Debug)]
pub struct RedisRevocation(Redis);

impl RevocationStore for RedisRevocation {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            conn.exists(self.0.key("revoked", jti))
                .await
                .map_err(StoreError::new)
        })
    }

    fn revoke<'a>(
        &'a self,
        jti: &'a str,
        expires_at: u64,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let seconds = expires_at.saturating_sub(unix_now()).max(1);
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            conn.set_ex::<_, _, ()>(self.0.key("revoked", jti), 1, seconds)
                .await
                .map_err(StoreError::new)
        })
    }

    fn shared(&self) -> bool {
        true
    }
}

/// Fixed-window counters: `INCR` and `EXPIRE .. NX` in one transaction, so instances share
/// one budget per key and window.
#[derive(Clone, Debug)]
pub struct RedisRateLimit(Redis);

impl RateLimitStore for RedisRateLimit {
    fn hit<'a>(
        &'a self,
        key: &'a str,
        limit: u64,
        window: Duration,
    ) -> BoxFuture<'a, Result<Hit, StoreError>> {
        Box::pin(async move {
            let seconds = window.as_secs().max(1);
            let now = unix_now();
            let slot = self.0.key("rate", &format!("{key}:{}", now / seconds));
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let (count,): (u64,) = redis::pipe()
                .atomic()
                .incr(&slot, 1u64)
                .cmd("EXPIRE")
                .arg(&slot)
                .arg(seconds + 1)
                .arg("NX")
                .ignore()
                .query_async(&mut conn)
                .await
                .map_err(StoreError::new)?;
            Ok(Hit::of(count, limit, seconds, now))
        })
    }

    fn shared(&self) -> bool {
        true
    }
}
