//! What the cache keeps and finds by: the digest of a question, and an entry (the versions it
//! was made at, when, the answer's body and the body's digest for its ETag) in the bytes a
//! store holds.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::CacheMeta;
use crate::action::Action;
use crate::error::ArcError;
use crate::plugins::etag;
use crate::resource::Shape;

/// A question asked of a resource, as a digest of its parts: the route's action, the SQL of
/// the query it runs (values included) and what of each row the caller is shown.
pub(crate) struct Question(Sha256);

impl Question {
    /// A question of `action`.
    pub(crate) fn new(action: Action) -> Self {
        Self(Sha256::new())
            .part(FORMAT)
            .part(action.name().as_bytes())
    }

    /// Adds `bytes`, length first, so no two lists of parts digest alike.
    pub(crate) fn part(mut self, bytes: &[u8]) -> Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// Adds a statement: its SQL (with placeholders) and its values, written as `Debug`
    /// writes them (exactly: strings escaped, floats round-trip) straight into the digest,
    /// with no SQL text with the values inlined built on the way.
    pub(crate) fn statement(mut self, statement: &sea_orm::Statement) -> Self {
        use std::fmt::Write;
        self = self.part(statement.sql.as_bytes());
        let mut digest = Digesting(&mut self.0, 0);
        // Writing into a digest cannot fail.
        let _ = write!(digest, "{:?}", statement.values);
        // Then their length, so what follows can never read as more of them.
        let written = digest.1 as u64;
        self.0.update(written.to_le_bytes());
        self
    }

    /// Adds the shape rows are shown in: the fields written, and those masked.
    pub(crate) fn shape(self, shape: Shape) -> Self {
        self.part(&shape.fields.0.to_le_bytes())
            .part(&shape.redact.0.to_le_bytes())
    }

    /// The key of the answer: the resource's part, then 128 bits of the digest in hex.
    pub(crate) fn key(self, resource: &str) -> String {
        let digest = self.0.finalize();
        let mut key = String::with_capacity(resource.len() + 33);
        key.push_str(resource);
        key.push(':');
        for byte in &digest[..16] {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        key
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The layout of [`Entry::encode`] and the meaning of its words, a part of every key:
/// instances of a build that lays entries out or reads them otherwise (in a rolling deploy)
/// never read each other's. (3: a digest of 0 is none.)
const FORMAT: &[u8] = b"entry 3";

/// Text written into a digest, and how many bytes of it.
struct Digesting<'a>(&'a mut Sha256, usize);

impl std::fmt::Write for Digesting<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.update(s.as_bytes());
        self.1 += s.len();
        Ok(())
    }
}

/// The key of a computation in flight: the entry's key at the versions it is made for (a
/// caller that read newer versions never waits for an older answer).
pub(super) fn flight_key(key: &str, versions: &[u64]) -> String {
    let mut flight = key.to_owned();
    for v in versions {
        flight.push('@');
        flight.push_str(&v.to_string());
    }
    flight
}

/// The body of an answer, as it is sent and kept.
pub(super) fn body<O: Serialize>(outcome: &O) -> Result<Bytes, ArcError> {
    crate::crud::response::json_body(outcome)
}

/// Milliseconds since the epoch: entries are dated by the wall clock, which instances share.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The 64-bit little-endian word `bytes` holds (8 of them; fewer read as zeros above).
fn word(bytes: &[u8]) -> u64 {
    let mut le = [0u8; 8];
    let n = bytes.len().min(8);
    le[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(le)
}

/// How an entry stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Freshness {
    /// Current and younger than `stale`.
    Fresh,
    /// Current, past `stale`.
    Stale,
    /// Made at versions no longer current, or past `expire`.
    Old,
}

/// A kept answer: the versions of its names when its query ran (as kept: 64-bit
/// little-endian words, read where they lie), when it was made, its body and, where the app
/// tags its answers, the body's digest ([`etag::digest`]: a `HIT` is tagged without hashing
/// its body again; 0 where there is none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Entry {
    versions: Bytes,
    created_ms: u64,
    digest: u64,
    pub(super) body: Bytes,
}

/// The most versions an entry holds (its count is a byte).
const MAX_VERSIONS: usize = u8::MAX as usize;

impl Entry {
    /// An answer made now, from a query run at `versions`, with its body's digest when
    /// `digested` (an app without ETags has no use for it).
    pub(super) fn new(versions: &[u64], body: Bytes, digested: bool) -> Self {
        let mut words = BytesMut::with_capacity(8 * versions.len());
        for v in versions.iter().take(MAX_VERSIONS) {
            words.put_u64_le(*v);
        }
        Self {
            versions: words.freeze(),
            created_ms: now_ms(),
            digest: if digested { etag::digest(&body) } else { 0 },
            body,
        }
    }

    /// The body's digest, when the entry keeps it (one of 0, kept as none, is made again
    /// from the body: the tag is the same).
    pub(super) fn digest(&self) -> Option<u64> {
        (self.digest != 0).then_some(self.digest)
    }

    /// `[count: u8][versions: u64 LE..][created ms: u64 LE][digest: u64 LE][body]`.
    pub(super) fn encode(&self) -> Bytes {
        let count = self.versions.len() / 8;
        let mut out = BytesMut::with_capacity(17 + self.versions.len() + self.body.len());
        out.put_u8(u8::try_from(count).unwrap_or(u8::MAX));
        out.put_slice(&self.versions);
        out.put_u64_le(self.created_ms);
        out.put_u64_le(self.digest);
        out.put_slice(&self.body);
        out.freeze()
    }

    /// The entry in `bytes` (sharing them: nothing is copied); `None` for bytes it cannot
    /// be (they are treated as no entry).
    pub(super) fn decode(bytes: Bytes) -> Option<Self> {
        let count = usize::from(*bytes.first()?);
        let created = 1 + 8 * count;
        let head = created + 16;
        if bytes.len() < head {
            return None;
        }
        Some(Self {
            versions: bytes.slice(1..created),
            created_ms: word(&bytes[created..created + 8]),
            digest: word(&bytes[created + 8..head]),
            body: bytes.slice(head..),
        })
    }

    /// Whether it was made at exactly the `current` versions.
    fn is_at(&self, current: &[u64]) -> bool {
        self.versions.len() == 8 * current.len()
            && self
                .versions
                .chunks_exact(8)
                .zip(current)
                .all(|(kept, now)| word(kept) == *now)
    }

    /// How the entry stands against the `current` versions and the resource's times.
    pub(super) fn freshness(&self, current: &[u64], settings: CacheMeta) -> Freshness {
        let now = now_ms();
        // Made "later" than now by more than a second: another instance's clock runs ahead;
        // its age is unknown, so it is not served.
        if !self.is_at(current) || self.created_ms > now.saturating_add(1000) {
            return Freshness::Old;
        }
        let age = u128::from(now.saturating_sub(self.created_ms));
        if age < settings.stale.as_millis() {
            Freshness::Fresh
        } else if age < settings.expire.as_millis() {
            Freshness::Stale
        } else {
            Freshness::Old
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cache::TEST_SETTINGS as SETTINGS;

    #[test]
    fn an_entry_reads_back_as_written() {
        let body = Bytes::from_static(b"{\"success\":true}");
        let entry = Entry::new(&[7, 9], body.clone(), true);
        assert_eq!(entry.digest(), Some(etag::digest(&body)));
        assert_eq!(Entry::decode(entry.encode()), Some(entry));
        let plain = Entry::new(&[7, 9], body, false);
        assert_eq!(plain.digest(), None);
        assert_eq!(Entry::decode(plain.encode()), Some(plain));
    }

    #[test]
    fn bytes_that_are_no_entry_are_none() {
        // The last is a whole entry of the layout before the digest: too short for this one.
        for bytes in [&b""[..], &[1, 0, 0], &[2; 20], &[1; 17]] {
            assert_eq!(Entry::decode(Bytes::copy_from_slice(bytes)), None);
        }
    }

    #[test]
    fn freshness_follows_versions_and_age() {
        let mut entry = Entry::new(&[3], Bytes::new(), true);
        assert_eq!(entry.freshness(&[3], SETTINGS), Freshness::Fresh);
        assert_eq!(entry.freshness(&[4], SETTINGS), Freshness::Old);
        assert_eq!(entry.freshness(&[3, 0], SETTINGS), Freshness::Old);
        assert_eq!(entry.freshness(&[], SETTINGS), Freshness::Old);
        entry.created_ms -= 31_000;
        assert_eq!(entry.freshness(&[3], SETTINGS), Freshness::Stale);
        entry.created_ms -= 300_000;
        assert_eq!(entry.freshness(&[3], SETTINGS), Freshness::Old);
        entry.created_ms = now_ms() + 60_000;
        assert_eq!(
            entry.freshness(&[3], SETTINGS),
            Freshness::Old,
            "dated in the future"
        );
    }

    #[test]
    fn keys_are_pinned_to_the_entry_layout() {
        // A key's derivation, FORMAT included, pinned: FORMAT changes whenever
        // `Entry::encode` lays entries out otherwise or its words mean something else (so
        // instances of two layouts never read each other's entries), and this value with it.
        assert_eq!(
            Question::new(Action::List).key("p"),
            "p:7bfd5370103fb117cf4e730f2d210bc3"
        );
    }

    #[test]
    fn questions_differ_when_any_part_does() {
        let key = |parts: &[&[u8]]| {
            parts
                .iter()
                .fold(Question::new(Action::List), |q, p| q.part(p))
                .key("product@0")
        };
        assert_eq!(key(&[b"ab", b"c"]), key(&[b"ab", b"c"]));
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        assert_ne!(
            Question::new(Action::List).key("p"),
            Question::new(Action::Get).key("p")
        );
        assert!(key(&[]).starts_with("product@0:"));
        assert_eq!(key(&[]).len(), "product@0:".len() + 32);
    }
}
