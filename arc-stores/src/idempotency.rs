//! Idempotency keys on Redis: [`RedisIdempotency`]. A key is one hash (`fp`, `token`,
//! `state`, `resp`) under the store's prefix: taken with a lease by a script that sets it
//! only when absent (SET NX PX, with the fingerprint compared in the same step: `EVAL` runs a script atomically), completed
//! and released by scripts that check the lease's token, so only its holder changes it.
//!
//! Redis is not the app's database: [`seal`](IdempotencyStore::seal) checks the lease just
//! before the write commits, but a process that stops between its commit and storing the
//! answer leaves the key to its lease, after which a retry runs again. The SQL store
//! (`Idempotency::new().sql()`) closes that window.

use std::time::Duration;

use arc_runtime::config::{Begin, BoxFuture, Claim, IdempotencyStore, StoreError};
use arc_runtime::sea_orm::DatabaseTransaction;
use deadpool_redis::redis::{self, Value};

use crate::Redis;

/// Takes a free key (`started`), or says what holds it. KEYS[1]; ARGV: fingerprint, token,
/// lease in ms.
const BEGIN: &str = r"
local held = redis.call('HMGET', KEYS[1], 'fp', 'state', 'resp')
if not held[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'token', ARGV[2], 'state', 'pending')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'started'}
end
if held[1] ~= ARGV[1] then return {'mismatch'} end
if held[2] == 'done' then return {'replay', held[3]} end
return {'inflight'}
";

/// Keeps the answer, if the lease holds. KEYS[1]; ARGV: token, answer, TTL in ms.
const COMPLETE: &str = r"
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'resp', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Frees a pending key, if the lease holds. KEYS[1]; ARGV: token.
const RELEASE: &str = r"
local held = redis.call('HMGET', KEYS[1], 'token', 'state')
if held[1] == ARGV[1] and held[2] == 'pending' then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Idempotency keys on Redis, shared by every instance (see the module's page).
#[derive(Clone, Debug)]
pub struct RedisIdempotency(pub(crate) Redis);

/// `EVAL script 1 key ..`: the scripts are short, so each call sends its text (no script
/// cache to miss after a server restart).
fn eval(script: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(1);
    cmd
}

/// A lease or TTL in milliseconds: at least one (`PEXPIRE 0` would delete the key).
fn millis(duration: Duration) -> u64 {
    crate::redis::millis(duration).max(1)
}

/// The first word of a script's reply, and what follows it.
fn reply(value: Value) -> Result<(String, Option<Vec<u8>>), StoreError> {
    let Value::Array(items) = value else {
        return Err(StoreError::new(format!(
            "unexpected reply from the idempotency script: {value:?}"
        )));
    };
    let mut items = items.into_iter();
    let word = match items.next() {
        Some(Value::BulkString(word)) => String::from_utf8_lossy(&word).into_owned(),
        Some(Value::SimpleString(word)) => word,
        other => {
            return Err(StoreError::new(format!(
                "unexpected reply from the idempotency script: {other:?}"
            )));
        }
    };
    let rest = match items.next() {
        Some(Value::BulkString(bytes)) => Some(bytes),
        _ => None,
    };
    Ok((word, rest))
}

impl IdempotencyStore for RedisIdempotency {
    fn begin<'a>(&'a self, claim: &'a Claim<'a>) -> BoxFuture<'a, Result<Begin, StoreError>> {
        Box::pin(async move {
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let value: Value = eval(BEGIN)
                .arg(self.0.key("idem", claim.key))
                .arg(claim.fingerprint)
                .arg(claim.token)
                .arg(millis(claim.lease))
                .query_async(&mut conn)
                .await
                .map_err(StoreError::new)?;
            Ok(match reply(value)? {
                (word, _) if word == "started" => Begin::Started,
                (word, _) if word == "mismatch" => Begin::Mismatch,
                (word, Some(answer)) if word == "replay" => Begin::Replay(answer),
                (word, _) if word == "replay" => Begin::Lost,
                _ => Begin::InFlight,
            })
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        response: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let _: i64 = eval(COMPLETE)
                .arg(self.0.key("idem", key))
                .arg(token)
                .arg(response)
                .arg(millis(ttl))
                .query_async(&mut conn)
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let _: i64 = eval(RELEASE)
                .arg(self.0.key("idem", key))
                .arg(token)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn seal<'a>(
        &'a self,
        _: &'a DatabaseTransaction,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let mut conn = self.0.pool.get().await.map_err(StoreError::new)?;
            let held: Option<String> = redis::cmd("HGET")
                .arg(self.0.key("idem", key))
                .arg("token")
                .query_async(&mut conn)
                .await
                .map_err(StoreError::new)?;
            Ok(held.as_deref() == Some(token))
        })
    }

    fn shared(&self) -> bool {
        true
    }
}
