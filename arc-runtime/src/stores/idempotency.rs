//! Idempotency keys: where each key's lease and first answer are kept. The in-memory store
//! ([`InMemoryIdempotency`], bounded) serves one process; the SQL one (`idempotency_sql`,
//! the app's own database) and arc-stores' Redis one make N instances answer a key once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::DatabaseTransaction;

use super::{BoxFuture, StoreError};

/// A request that carries a key, asking the store for it.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// The key, scoped already (resource, user, organization): stores keep it as given.
    pub key: &'a str,
    /// What the request is (method, route, path parameters, body): a repeat must match it.
    pub fingerprint: &'a str,
    /// This attempt's lease: given to `complete`, `release` and `seal`.
    pub token: &'a str,
    /// How long the lease holds: past it, a crashed attempt's key is free again.
    pub lease: Duration,
    /// How long the answer is kept once complete.
    pub ttl: Duration,
}

/// What the store says about a [`Claim`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// The key was free (or its lease ran out): this attempt runs, holding the lease.
    Started,
    /// The same request completed: its answer, as `complete` was given it.
    Replay(Vec<u8>),
    /// The same request is running now, under another lease.
    InFlight,
    /// The key was used for another request (another fingerprint).
    Mismatch,
    /// The request ran and committed its write, but its answer was not kept (its instance
    /// stopped in between): it must not run again, and cannot be replayed.
    Lost,
}

/// Where idempotency keys live. Every method answers for one key; a store that cannot
/// answer fails with a [`StoreError`], and the request that carries a key fails closed (503).
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Takes the key for `claim` if it is free, or says why not (atomically: of N
    /// concurrent claims of a free key, one is [`Begin::Started`]).
    fn begin<'a>(&'a self, claim: &'a Claim<'a>) -> BoxFuture<'a, Result<Begin, StoreError>>;

    /// Keeps `response` as the key's answer for `ttl`, if the lease `token` still holds it.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        response: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Frees the key, if the lease `token` holds it and its write did not commit (a 5xx,
    /// a cancelled request): the same request may run again at once.
    fn release<'a>(&'a self, key: &'a str, token: &'a str)
    -> BoxFuture<'a, Result<(), StoreError>>;

    /// Inside the write's transaction `txn`, just before its commit: whether the lease
    /// `token` still holds the key (if not, the write rolls back: another attempt has it).
    /// A store in the app's database also marks the key as written there, in `txn`, so
    /// the mark commits with the write and only with it. The default holds nothing.
    fn seal<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let _ = (txn, key, token);
        Box::pin(std::future::ready(Ok(true)))
    }

    /// Whether other instances see what this one stores: false for a process's memory.
    /// Distributed apps ([`App::distributed`](crate::App::distributed)) refuse stores that
    /// are not.
    fn shared(&self) -> bool {
        false
    }
}

/// One key in memory.
#[derive(Debug)]
struct Entry {
    fingerprint: String,
    token: String,
    state: State,
    /// When the lease (pending) or the answer (done, lost) is forgotten.
    until: Instant,
}

#[derive(Debug)]
enum State {
    Pending,
    Done(Vec<u8>),
    Lost,
}

impl Entry {
    fn bytes(&self) -> usize {
        match &self.state {
            State::Done(body) => body.len(),
            State::Pending | State::Lost => 0,
        }
    }
}

#[derive(Debug, Default)]
struct Keys {
    entries: HashMap<String, Entry>,
    /// The answers' bytes held.
    bytes: usize,
}

impl Keys {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.bytes -= entry.bytes();
        }
    }

    /// Forgets what has expired; then, until there is room for one more key and `incoming`
    /// more bytes, the completed keys that expire first. Pending keys are never dropped.
    fn make_room(&mut self, now: Instant, incoming: usize, max_entries: usize, max_bytes: usize) {
        let fits =
            |keys: &Keys| keys.entries.len() < max_entries && keys.bytes + incoming <= max_bytes;
        if fits(self) {
            return;
        }
        self.entries.retain(|_, e| e.until > now);
        self.bytes = self.entries.values().map(Entry::bytes).sum();
        let mut done: Vec<(Instant, String)> = self
            .entries
            .iter()
            .filter(|(_, e)| !matches!(e.state, State::Pending))
            .map(|(k, e)| (e.until, k.clone()))
            .collect();
        done.sort_unstable();
        for (_, key) in done {
            if fits(self) {
                break;
            }
            self.remove(&key);
        }
    }
}

/// The in-memory store: one process, forgotten on restart, bounded. Past its bounds it
/// forgets the completed keys that expire soonest (a retry of one runs again); when every
/// key held is in flight, a new key is refused (503) rather than growing without end.
#[derive(Debug)]
pub struct InMemoryIdempotency {
    keys: Mutex<Keys>,
    max_entries: usize,
    max_bytes: usize,
}

impl Default for InMemoryIdempotency {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryIdempotency {
    /// The default bounds: keys held.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;
    /// The default bounds: bytes of answers held.
    pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

    /// An empty store with the default bounds.
    pub fn new() -> Self {
        Self::bounded(Self::DEFAULT_MAX_KEYS, Self::DEFAULT_MAX_BYTES)
    }

    /// An empty store holding at most `max_keys` keys and `max_bytes` bytes of answers.
    pub fn bounded(max_keys: usize, max_bytes: usize) -> Self {
        Self {
            keys: Mutex::new(Keys::default()),
            max_entries: max_keys.max(1),
            max_bytes,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Keys) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut keys = self
            .keys
            .lock()
            .map_err(|_| StoreError::new("idempotency store lock poisoned"))?;
        f(&mut keys)
    }
}

fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

impl IdempotencyStore for InMemoryIdempotency {
    fn begin<'a>(&'a self, claim: &'a Claim<'a>) -> BoxFuture<'a, Result<Begin, StoreError>> {
        let now = Instant::now();
        ready(self.with(|keys| {
            if let Some(entry) = keys.entries.get(claim.key)
                && entry.until > now
            {
                return Ok(if entry.fingerprint != claim.fingerprint {
                    Begin::Mismatch
                } else {
                    match &entry.state {
                        State::Pending => Begin::InFlight,
                        State::Done(body) => Begin::Replay(body.clone()),
                        State::Lost => Begin::Lost,
                    }
                });
            }
            keys.remove(claim.key);
            keys.make_room(now, 0, self.max_entries, usize::MAX);
            if keys.entries.len() >= self.max_entries {
                return Err(StoreError::new(
                    "idempotency store full: every key held is in flight",
                ));
            }
            keys.entries.insert(
                claim.key.to_owned(),
                Entry {
                    fingerprint: claim.fingerprint.to_owned(),
                    token: claim.token.to_owned(),
                    state: State::Pending,
                    until: now + claim.lease,
                },
            );
            Ok(Begin::Started)
        }))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
        response: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let now = Instant::now();
        ready(self.with(|keys| {
            if keys.entries.get(key).is_none_or(|e| e.token != token) {
                return Ok(());
            }
            let Some(mut entry) = keys.entries.remove(key) else {
                return Ok(());
            };
            keys.bytes -= entry.bytes();
            entry.until = now + ttl;
            entry.state = if response.len() <= self.max_bytes {
                keys.make_room(now, response.len(), self.max_entries + 1, self.max_bytes);
                keys.bytes += response.len();
                State::Done(response.to_vec())
            } else {
                // Too large to keep: the key stays taken, without an answer to replay.
                State::Lost
            };
            keys.entries.insert(key.to_owned(), entry);
            Ok(())
        }))
    }

    fn release<'a>(
        &'a self,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        ready(self.with(|keys| {
            let ours = keys
                .entries
                .get(key)
                .is_some_and(|e| e.token == token && matches!(e.state, State::Pending));
            if ours {
                keys.remove(key);
            }
            Ok(())
        }))
    }

    fn seal<'a>(
        &'a self,
        _: &'a DatabaseTransaction,
        key: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let now = Instant::now();
        ready(self.with(|keys| {
            Ok(keys
                .entries
                .get(key)
                .is_some_and(|e| e.token == token && e.until > now))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<'a>(key: &'a str, fingerprint: &'a str, token: &'a str) -> Claim<'a> {
        Claim {
            key,
            fingerprint,
            token,
            lease: Duration::from_secs(60),
            ttl: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn one_answer_per_key() {
        let store = InMemoryIdempotency::new();
        let first = claim("k", "f", "t1");
        assert_eq!(store.begin(&first).await.unwrap(), Begin::Started);
        assert_eq!(
            store.begin(&claim("k", "f", "t2")).await.unwrap(),
            Begin::InFlight
        );
        assert_eq!(
            store.begin(&claim("k", "g", "t2")).await.unwrap(),
            Begin::Mismatch
        );
        store
            .complete("k", "t2", b"not mine", Duration::from_secs(60))
            .await
            .unwrap();
        store
            .complete("k", "t1", b"answer", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            store.begin(&claim("k", "f", "t3")).await.unwrap(),
            Begin::Replay(b"answer".to_vec())
        );
        store.release("k", "t1").await.unwrap();
        assert!(matches!(
            store.begin(&claim("k", "f", "t3")).await.unwrap(),
            Begin::Replay(_)
        ));
    }

    #[tokio::test]
    async fn a_release_frees_the_key() {
        let store = InMemoryIdempotency::new();
        assert_eq!(
            store.begin(&claim("k", "f", "t1")).await.unwrap(),
            Begin::Started
        );
        store.release("k", "other").await.unwrap();
        assert_eq!(
            store.begin(&claim("k", "f", "t2")).await.unwrap(),
            Begin::InFlight
        );
        store.release("k", "t1").await.unwrap();
        assert_eq!(
            store.begin(&claim("k", "f", "t2")).await.unwrap(),
            Begin::Started
        );
    }

    #[tokio::test]
    async fn bounded() {
        let store = InMemoryIdempotency::bounded(2, 10);
        for (key, token) in [("a", "1"), ("b", "2")] {
            assert_eq!(
                store.begin(&claim(key, "f", token)).await.unwrap(),
                Begin::Started
            );
        }
        // Both in flight: a third key is refused, not kept beyond the bound.
        assert!(store.begin(&claim("c", "f", "3")).await.is_err());
        store
            .complete("a", "1", b"12345", Duration::from_secs(60))
            .await
            .unwrap();
        // A completed key makes room.
        assert_eq!(
            store.begin(&claim("c", "f", "3")).await.unwrap(),
            Begin::Started
        );
        // An answer over the byte bound is not kept, and the key stays taken.
        store
            .complete("c", "3", &[0; 11], Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(
            store.begin(&claim("c", "f", "4")).await.unwrap(),
            Begin::Lost
        );
        let keys = store.keys.lock().unwrap();
        assert!(keys.entries.len() <= 2 && keys.bytes <= 10);
    }
}
