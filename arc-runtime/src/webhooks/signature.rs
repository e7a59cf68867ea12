//! How a delivery is signed, and how a receiver checks it.
//!
//! Two signatures go with every delivery, both HMAC-SHA256 with the subscription's secret,
//! as `sha256=` and the lowercase hex digest:
//!
//! - `x-webhook-signature` over the body alone: arc's signature, so a receiver written for
//!   arc verifies unchanged ([`verify`]);
//! - `x-webhook-signature-v2` over `{x-webhook-timestamp}.{body}`, for a receiver that
//!   also refuses old deliveries (a replay window, [`verify_timestamped`]).
//!
//! ```
//! use arc_runtime::webhooks::{sign, verify, verify_timestamped};
//! use std::time::Duration;
//!
//! let (secret, body) = ("whsec_0123456789abcdef", br#"{"type":"order.created"}"#);
//! assert!(verify(secret, body, &sign(secret, body)).is_ok());
//!
//! let now = 1_764_000_000;
//! let v2 = arc_runtime::webhooks::sign_timestamped(secret, now, body);
//! let window = Duration::from_secs(300);
//! assert!(verify_timestamped(secret, body, &now.to_string(), &v2, window, now + 10).is_ok());
//! assert!(verify_timestamped(secret, body, &now.to_string(), &v2, window, now + 600).is_err());
//! ```

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header of the body's signature (arc's).
pub const SIGNATURE_HEADER: &str = "x-webhook-signature";
/// The header of the signature over timestamp and body.
pub const SIGNATURE_V2_HEADER: &str = "x-webhook-signature-v2";
/// The header of the time of sending, in seconds since the epoch.
pub const TIMESTAMP_HEADER: &str = "x-webhook-timestamp";
/// The header of the event's id (the same on every attempt: a receiver keeps the ids it
/// handled, delivery being at least once).
pub const ID_HEADER: &str = "x-webhook-id";
/// The header of the event's type (`order.created`).
pub const EVENT_HEADER: &str = "x-webhook-event";
/// The header of the delivery's id (one per subscription and event).
pub const DELIVERY_HEADER: &str = "x-webhook-delivery";

/// Why a delivery's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("the signature is not `sha256=<64 hex digits>`")]
    Malformed,
    /// The signature does not match the body (or the secret is another).
    #[error("the signature does not match")]
    Mismatch,
    /// The timestamp header is not a number of seconds.
    #[error("the timestamp is not a number of seconds since the epoch")]
    BadTimestamp,
    /// The delivery was signed outside the accepted window around now.
    #[error("the delivery was signed outside the accepted window")]
    Expired,
}

fn mac(secret: &str, parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes a key of any length.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    for part in parts {
        mac.update(part);
    }
    mac
}

fn header_of(mac: HmacSha256) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 2 * digest.len());
    out.push_str("sha256=");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// `x-webhook-signature` of `body` with `secret`: `sha256=<hex>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    header_of(mac(secret, &[body]))
}

/// `x-webhook-signature-v2` of `body` sent at `timestamp` (seconds since the epoch) with
/// `secret`: `sha256=<hex>` of HMAC-SHA256 over `{timestamp}.{body}`.
pub fn sign_timestamped(secret: &str, timestamp: u64, body: &[u8]) -> String {
    header_of(mac(secret, &[timestamp.to_string().as_bytes(), b".", body]))
}

/// The digest a `sha256=<hex>` header holds.
fn digest_of(header: &str) -> Result<[u8; 32], SignatureError> {
    let hex = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    if hex.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let mut digest = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).map_err(|_| SignatureError::Malformed)?;
        digest[i] = u8::from_str_radix(text, 16).map_err(|_| SignatureError::Malformed)?;
    }
    Ok(digest)
}

/// Checks `x-webhook-signature` (`header`) of `body` with `secret`, in constant time.
pub fn verify(secret: &str, body: &[u8], header: &str) -> Result<(), SignatureError> {
    let digest = digest_of(header)?;
    mac(secret, &[body])
        .verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)
}

/// Checks `x-webhook-signature-v2` (`header`) of `body` sent at `timestamp` (the
/// `x-webhook-timestamp` header) with `secret`, and that it was signed within `window` of
/// `now` (seconds since the epoch), either way: a replayed delivery is refused once it is
/// older than the window.
pub fn verify_timestamped(
    secret: &str,
    body: &[u8],
    timestamp: &str,
    header: &str,
    window: Duration,
    now: u64,
) -> Result<(), SignatureError> {
    let sent: u64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let digest = digest_of(header)?;
    mac(secret, &[sent.to_string().as_bytes(), b".", body])
        .verify_slice(&digest)
        .map_err(|_| SignatureError::Mismatch)?;
    if sent.abs_diff(now) > window.as_secs() {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_arcs() {
        // arc: `sha256=` + createHmac("sha256", secret).update(body).digest("hex"); the
        // digest of RFC 4231's test case 2 ("Jefe", "what do ya want for nothing?").
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_changed_body_or_secret_or_header_is_refused() {
        let header = sign("secret", b"body");
        assert_eq!(verify("secret", b"body", &header), Ok(()));
        assert_eq!(
            verify("secret", b"Body", &header),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", b"body", &header),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("secret", b"body", &header[7..]),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("secret", b"body", "sha256=zz"),
            Err(SignatureError::Malformed)
        );
        let non_ascii = format!("sha256={}é", &header[7..70]);
        assert_eq!(
            verify("secret", b"body", &non_ascii),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn the_timestamped_signature_binds_the_time() {
        let window = Duration::from_secs(300);
        let header = sign_timestamped("secret", 1000, b"body");
        assert_eq!(
            verify_timestamped("secret", b"body", "1000", &header, window, 1200),
            Ok(())
        );
        // Another time with the same signature: not what was signed.
        assert_eq!(
            verify_timestamped("secret", b"body", "1001", &header, window, 1200),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_timestamped("secret", b"body", "1000", &header, window, 1301),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify_timestamped("secret", b"body", "soon", &header, window, 1000),
            Err(SignatureError::BadTimestamp)
        );
    }
}
