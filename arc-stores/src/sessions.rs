//! Sessions on Redis: [`RedisSessions`]. A session is one hash (`claims`, `ends`, `live`,
//! `live_exp`, `access`, `access_exp`, `ended`) and a set of the hashes of its used refresh
//! tokens, both expiring when the session ends; rotation and reuse detection are one
//! script, so two instances rotating the same token at once rotate it once.

use arc_runtime::config::{
    BoxFuture, IssuedToken, Rotation, SessionStart, SessionStore, StoreError,
};

use crate::Redis;

/// Starts a session. KEYS: session, used; ARGV: claims, ends, live hash, live expiry,
/// access id, access expiry.
const START: &str = r"
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[1], 'claims', ARGV[1], 'ends', ARGV[2], 'live', ARGV[3],
  'live_exp', ARGV[4], 'access', ARGV[5], 'access_exp', ARGV[6], 'ended', '0')
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return {'started'}
";

/// Uses a refresh token. KEYS: session, used; ARGV: hash, now, next hash, next expiry,
/// next access id, next access expiry.
const ROTATE: &str = r"
local s = redis.call('HMGET', KEYS[1], 'claims', 'ends', 'live', 'live_exp', 'access', 'access_exp', 'ended')
if not s[1] or s[7] == '1' or tonumber(s[2]) <= tonumber(ARGV[2]) then return {'invalid'} end
if s[3] == ARGV[1] then
  if tonumber(s[4]) <= tonumber(ARGV[2]) then return {'invalid'} end
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('EXPIREAT', KEYS[2], s[2])
  redis.call('HSET', KEYS[1], 'live', ARGV[3], 'live_exp', ARGV[4], 'access', ARGV[5], 'access_exp', ARGV[6])
  return {'rotated', s[1], s[2]}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], 'ended', '1')
  return {'reused', s[5], s[6]}
end
return {'invalid'}
";

/// Ends a session. KEYS: session; no ARGV.
const END: &str = r"
local s = redis.call('HMGET', KEYS[1], 'access', 'access_exp')
if not s[1] then return {'none'} end
redis.call('HSET', KEYS[1], 'ended', '1')
return {'ended', s[1], s[2]}
";

/// Sessions on Redis, shared by every instance (see the module's page).
#[derive(Clone, Debug)]
pub struct RedisSessions(pub(crate) Redis);

impl RedisSessions {
    fn keys(&self, id: &str) -> [String; 2] {
        [self.0.key("session", id), self.0.key("session-used", id)]
    }
}

/// A number the scripts stored.
fn number(text: &str) -> Result<u64, StoreError> {
    text.parse()
        .map_err(|_| StoreError::new(format!("a session field is not a number: {text:?}")))
}

impl SessionStore for RedisSessions {
    fn start<'a>(
        &'a self,
        id: &'a str,
        start: SessionStart,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let (ends, live_exp, access_exp) = (
                start.expires_at.to_string(),
                start.token.expires_at.to_string(),
                start.token.access_expires_at.to_string(),
            );
            let args = [
                start.claims.as_str(),
                &ends,
                &start.token.hash,
                &live_exp,
                &start.token.access_id,
                &access_exp,
            ];
            self.0.eval(START, &self.keys(id), &args).await.map(|_| ())
        })
    }

    fn rotate<'a>(
        &'a self,
        id: &'a str,
        hash: &'a str,
        next: IssuedToken,
        now: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        Box::pin(async move {
            let (now, next_exp, access_exp) = (
                now.to_string(),
                next.expires_at.to_string(),
                next.access_expires_at.to_string(),
            );
            let args = [
                hash,
                &now,
                &next.hash,
                &next_exp,
                &next.access_id,
                &access_exp,
            ];
            let reply = self.0.eval(ROTATE, &self.keys(id), &args).await?;
            Ok(match reply.as_slice() {
                [word, claims, ends] if word == "rotated" => Rotation::Rotated {
                    claims: claims.clone(),
                    expires_at: number(ends)?,
                },
                [word, access, exp] if word == "reused" => Rotation::Reused {
                    access: Some((access.clone(), number(exp)?)),
                },
                _ => Rotation::Invalid,
            })
        })
    }

    fn end<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<(String, u64)>, StoreError>> {
        Box::pin(async move {
            let [session, _] = self.keys(id);
            let reply = self.0.eval(END, &[session], &[]).await?;
            Ok(match reply.as_slice() {
                [word, access, exp] if word == "ended" => Some((access.clone(), number(exp)?)),
                _ => None,
            })
        })
    }

    fn shared(&self) -> bool {
        true
    }
}
