//! Sessions of refresh tokens: each login starts a session (a token family) whose refresh
//! token rotates on every use; a token presented again after its rotation is a theft, and
//! ends the session. Stores keep hashes of the tokens, never the tokens.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::{BoxFuture, StoreError};

/// A session as it starts: what its access tokens carry, how long it may live, and its
/// first refresh token and access token.
#[derive(Clone, Debug)]
pub struct SessionStart {
    /// The claims every access token of the session carries (JSON), besides `jti`, `iat`,
    /// `exp` and `sid`.
    pub claims: String,
    /// When the session ends whatever is refreshed (Unix seconds).
    pub expires_at: u64,
    /// The first refresh token.
    pub token: IssuedToken,
}

/// A refresh token as stored: its hash, until when it may be used, and the access token
/// issued with it (revoked if the session is found stolen).
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// SHA-256 of the token's secret part, hex.
    pub hash: String,
    /// When the refresh token expires (Unix seconds).
    pub expires_at: u64,
    /// The `jti` of the access token issued with it.
    pub access_id: String,
    /// When that access token expires (Unix seconds).
    pub access_expires_at: u64,
}

/// What [`SessionStore::rotate`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the session's live one: it is used now, and the next one stored. The
    /// session's claims and end, for the next access token.
    Rotated {
        /// The session's claims (JSON).
        claims: String,
        /// When the session ends (Unix seconds).
        expires_at: u64,
    },
    /// The token had been rotated already: someone else holds the family. The session is
    /// revoked now; here is its last access token (`jti`, expiry) to revoke as well.
    Reused {
        /// The last access token issued in the session.
        access: Option<(String, u64)>,
    },
    /// No such live session or token: unknown, expired, or the session ended.
    Invalid,
}

/// Where sessions live. Every call is atomic: two instances rotating the same token at once
/// rotate it once, and the other sees a reuse.
pub trait SessionStore: Send + Sync + 'static {
    /// Starts session `id`.
    fn start<'a>(
        &'a self,
        id: &'a str,
        start: SessionStart,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Uses the refresh token whose hash is `hash` in session `id` at `now` (Unix seconds),
    /// storing `next` in its place when it is the live one.
    fn rotate<'a>(
        &'a self,
        id: &'a str,
        hash: &'a str,
        next: IssuedToken,
        now: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>>;

    /// Ends session `id` (logout, or revocation by the app): its refresh tokens no longer
    /// rotate. Its last access token (`jti`, expiry), when it had one, to revoke.
    fn end<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<(String, u64)>, StoreError>>;

    /// Whether other instances see what this one stores: false for a process's memory.
    fn shared(&self) -> bool {
        false
    }
}

/// A session in memory.
#[derive(Debug)]
struct Session {
    claims: String,
    expires_at: u64,
    live: IssuedToken,
    used: HashSet<String>,
    ended: bool,
}

/// The in-memory store: one process, forgotten on restart.
#[derive(Debug, Default)]
pub struct InMemorySessions {
    sessions: Mutex<HashMap<String, Session>>,
}

impl InMemorySessions {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Session>) -> T) -> Result<T, StoreError> {
        let mut sessions = self
            .sessions
            .lock()
            .map_err(|_| StoreError::new("session store lock poisoned"))?;
        Ok(f(&mut sessions))
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl SessionStore for InMemorySessions {
    fn start<'a>(
        &'a self,
        id: &'a str,
        start: SessionStart,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.with(|sessions| {
            // Sessions past their end are forgotten as new ones start.
            let now = now();
            sessions.retain(|_, s| s.expires_at > now);
            sessions.insert(
                id.to_owned(),
                Session {
                    claims: start.claims,
                    expires_at: start.expires_at,
                    live: start.token,
                    used: HashSet::new(),
                    ended: false,
                },
            );
        });
        Box::pin(std::future::ready(result))
    }

    fn rotate<'a>(
        &'a self,
        id: &'a str,
        hash: &'a str,
        next: IssuedToken,
        now: u64,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        let result = self.with(|sessions| {
            let Some(session) = sessions.get_mut(id) else {
                return Rotation::Invalid;
            };
            if session.ended || session.expires_at <= now {
                return Rotation::Invalid;
            }
            if session.live.hash == hash {
                if session.live.expires_at <= now {
                    return Rotation::Invalid;
                }
                let used = std::mem::replace(&mut session.live, next);
                session.used.insert(used.hash);
                return Rotation::Rotated {
                    claims: session.claims.clone(),
                    expires_at: session.expires_at,
                };
            }
            if session.used.contains(hash) {
                session.ended = true;
                return Rotation::Reused {
                    access: Some((
                        session.live.access_id.clone(),
                        session.live.access_expires_at,
                    )),
                };
            }
            Rotation::Invalid
        });
        Box::pin(std::future::ready(result))
    }

    fn end<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<(String, u64)>, StoreError>> {
        let result = self.with(|sessions| {
            let session = sessions.get_mut(id)?;
            session.ended = true;
            Some((
                session.live.access_id.clone(),
                session.live.access_expires_at,
            ))
        });
        Box::pin(std::future::ready(result))
    }
}

/// The behaviour every [`SessionStore`] shares, run against each implementation (the Redis
/// one in arc-stores' tests too).
#[doc(hidden)]
#[allow(
    clippy::expect_used,
    reason = "a conformance check for tests: it panics on what it finds wrong"
)]
pub mod conformance {
    use super::*;

    fn token(hash: &str, expires_at: u64, access: &str) -> IssuedToken {
        IssuedToken {
            hash: hash.to_owned(),
            expires_at,
            access_id: access.to_owned(),
            access_expires_at: expires_at,
        }
    }

    /// Rotation, reuse, expiry and ending, on `store`, with session ids made unique by
    /// `prefix`.
    ///
    /// # Panics
    ///
    /// When the store answers otherwise.
    pub async fn check(store: &dyn SessionStore, prefix: &str) {
        let now = now();
        let id = format!("{prefix}-a");
        let start = SessionStart {
            claims: r#"{"sub":"alice"}"#.to_owned(),
            expires_at: now + 3600,
            token: token("h1", now + 600, "a1"),
        };
        store.start(&id, start).await.expect("start");
        // A wrong secret in a live session is not a reuse: nobody ends another's session
        // by guessing.
        let wrong = store.rotate(&id, "nope", token("x", now + 600, "ax"), now);
        assert_eq!(wrong.await.expect("rotate"), Rotation::Invalid);
        let first = store.rotate(&id, "h1", token("h2", now + 600, "a2"), now);
        assert_eq!(
            first.await.expect("rotate"),
            Rotation::Rotated {
                claims: r#"{"sub":"alice"}"#.to_owned(),
                expires_at: now + 3600
            }
        );
        let second = store.rotate(&id, "h2", token("h3", now + 600, "a3"), now);
        assert!(matches!(
            second.await.expect("rotate"),
            Rotation::Rotated { .. }
        ));
        // h1 again: stolen. The session ends; its last access token is handed back.
        let reuse = store.rotate(&id, "h1", token("h4", now + 600, "a4"), now);
        assert_eq!(
            reuse.await.expect("rotate"),
            Rotation::Reused {
                access: Some(("a3".to_owned(), now + 600))
            }
        );
        // The live token dies with the family.
        let after = store.rotate(&id, "h3", token("h5", now + 600, "a5"), now);
        assert_eq!(after.await.expect("rotate"), Rotation::Invalid);
        // Unknown sessions, expired tokens, ended sessions.
        let unknown = store.rotate("no-such", "h1", token("h", now + 600, "a"), now);
        assert_eq!(unknown.await.expect("rotate"), Rotation::Invalid);
        let id = format!("{prefix}-b");
        let start = SessionStart {
            claims: "{}".to_owned(),
            expires_at: now + 3600,
            token: token("k1", now + 10, "b1"),
        };
        store.start(&id, start).await.expect("start");
        let late = store.rotate(&id, "k1", token("k2", now + 600, "b2"), now + 11);
        assert_eq!(late.await.expect("rotate"), Rotation::Invalid);
        // A token expires at its expiry, not a second later.
        let due = store.rotate(&id, "k1", token("k2", now + 600, "b2"), now + 10);
        assert_eq!(due.await.expect("rotate"), Rotation::Invalid);
        assert_eq!(
            store.end(&id).await.expect("end"),
            Some(("b1".to_owned(), now + 10))
        );
        let ended = store.rotate(&id, "k1", token("k2", now + 600, "b2"), now);
        assert_eq!(ended.await.expect("rotate"), Rotation::Invalid);
        assert_eq!(store.end("no-such").await.expect("end"), None);
        // A session ends at its end, however long its live token would last.
        let id = format!("{prefix}-c");
        let start = SessionStart {
            claims: "{}".to_owned(),
            expires_at: now + 100,
            token: token("m1", now + 600, "c1"),
        };
        store.start(&id, start).await.expect("start");
        let over = store.rotate(&id, "m1", token("m2", now + 600, "c2"), now + 100);
        assert_eq!(over.await.expect("rotate"), Rotation::Invalid);
        let before = store.rotate(&id, "m1", token("m2", now + 600, "c2"), now + 99);
        assert!(matches!(
            before.await.expect("rotate"),
            Rotation::Rotated { .. }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_sessions_rotate_and_catch_reuse() {
        conformance::check(&InMemorySessions::new(), "memory").await;
    }
}
