//! Keyset cursors: the last row's sort values, bound to the sort they were made for and
//! signed with HMAC-SHA256, so a garbled, forged or re-used-with-another-sort cursor is a 400.
//!
//! Wire form: `base64url(json payload) "." base64url(first 16 bytes of the MAC)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const TAG_LEN: usize = 16;
const MAX_CURSOR_LEN: usize = 4096;

/// The secret that signs cursors. Instances behind one load balancer must share it.
#[derive(Clone)]
pub(crate) struct CursorKey(HmacSha256);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// A key from a secret (any length; at least 32 random bytes recommended).
    pub(crate) fn new(secret: &[u8]) -> Self {
        // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
        let mac = match HmacSha256::new_from_slice(secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        Self(mac)
    }

    /// A random key: cursors stay valid for the life of this process only.
    pub(crate) fn random() -> Self {
        let secret: [u8; 32] = rand::random();
        Self::new(&secret)
    }

    /// The HMAC-SHA256 of `parts` under this key, each part length-prefixed (so no two lists
    /// of parts share their bytes), for other signed values of the app (event ids).
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.0.clone();
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// Encodes the sort spec and the last row's values (as text, `None` for null).
    pub(crate) fn encode(&self, sort: &str, values: &[Option<String>]) -> String {
        let payload = serde_json::json!({ "s": sort, "v": values }).to_string();
        let tag = self.tag(payload.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// Decodes a cursor made by [`encode`](Self::encode) for the same sort spec.
    pub(crate) fn decode(
        &self,
        sort: &str,
        cursor: &str,
    ) -> Result<Vec<Option<String>>, &'static str> {
        const BAD: &str = "invalid cursor";
        if cursor.len() > MAX_CURSOR_LEN {
            return Err(BAD);
        }
        let (payload, tag) = cursor.split_once('.').ok_or(BAD)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| BAD)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| BAD)?;
        let mut mac = self.0.clone();
        mac.update(&payload);
        mac.verify_truncated_left(&tag).map_err(|_| BAD)?;
        if tag.len() != TAG_LEN {
            return Err(BAD);
        }
        #[derive(serde::Deserialize)]
        struct Payload {
            s: String,
            v: Vec<Option<String>>,
        }
        let decoded: Payload = serde_json::from_slice(&payload).map_err(|_| BAD)?;
        if decoded.s != sort {
            return Err("cursor was made for another sort order");
        }
        Ok(decoded.v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = CursorKey::new(b"secret");
        let c = key.encode("-price,id", &[Some("10".into()), None]);
        assert_eq!(
            key.decode("-price,id", &c).unwrap(),
            vec![Some("10".into()), None]
        );
        assert_eq!(
            key.decode("price,id", &c).unwrap_err(),
            "cursor was made for another sort order"
        );
        let other = CursorKey::new(b"other");
        assert!(other.decode("-price,id", &c).is_err());
        let mut forged = c.clone();
        forged.replace_range(0..1, if c.starts_with('e') { "f" } else { "e" });
        assert!(key.decode("-price,id", &forged).is_err());
        assert!(key.decode("-price,id", "garbage").is_err());
        assert!(key.decode("-price,id", "a.b").is_err());
        let short = &c[..c.len() - 4];
        assert!(key.decode("-price,id", short).is_err());
    }
}
