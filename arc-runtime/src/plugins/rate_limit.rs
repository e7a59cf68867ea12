//! Rate limiting per key: [`RateLimit`] and its admission check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthContext;
use crate::error::{ArcError, ErrorCode};
use crate::stores::{Hit, InMemoryRateLimit, RateLimitStore};

/// On a request the framework makes for one it counted already (an MCP tool call, counted
/// as its MCP request): the rate limit lets it through uncounted. An extension, which no
/// client can send.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Counted;

/// A key function: the request head and the caller to a key, or `None` to skip limiting.
pub type KeyFn = Arc<dyn Fn(&Parts, &AuthContext) -> Option<String> + Send + Sync>;

/// What requests share a budget.
#[derive(Clone)]
pub enum KeyBy {
    /// The client's address (the TCP peer, known when served by [`crate::App::serve`]; behind
    /// a proxy, use [`KeyBy::custom`] over the header it sets). Without it, requests are not limited.
    Ip,
    /// The signed-in user; anonymous callers fall back to their address.
    User,
    /// The active organization; callers without one fall back to the user, then address.
    Tenant,
    /// A function of the request head and the caller; `None` skips limiting. See
    /// [`KeyBy::custom`].
    Custom(KeyFn),
}

impl KeyBy {
    /// Keys by `key`, a function of the request head and the caller (`None` skips
    /// limiting): behind a proxy, the address it forwards.
    ///
    /// ```
    /// use arc_runtime::config::KeyBy;
    /// let by_forwarded = KeyBy::custom(|head, _caller| {
    ///     let value = head.headers.get("x-forwarded-for")?.to_str().ok()?;
    ///     Some(format!("ip:{}", value.split(',').next()?.trim()))
    /// });
    /// # let _ = by_forwarded;
    /// ```
    pub fn custom(
        key: impl Fn(&Parts, &AuthContext) -> Option<String> + Send + Sync + 'static,
    ) -> KeyBy {
        KeyBy::Custom(Arc::new(key))
    }
}

/// A budget of `limit` requests per `window` per key.
///
/// ```
/// use std::time::Duration;
/// use arc_runtime::config::{KeyBy, RateLimit};
/// let limit = RateLimit::new(100, Duration::from_secs(60), KeyBy::User);
/// # let _ = limit;
/// ```
///
/// Rate limiting per key (client IP, user, or tenant, or a function of the request), over a
/// [`RateLimitStore`]. Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and
/// `RateLimit-Reset`; a request over budget gets 429 `RATE_LIMITED` with `Retry-After`.
///
/// It runs in the access layer right after authentication (see
/// [`AccessLayer`](crate::config::AccessLayer)), so the caller is known. If the store cannot answer,
/// the request goes through (and it is logged): limits protect capacity, and an outage of the
/// counter store should not take the API down with it.
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct RateLimit {
    store: Arc<dyn RateLimitStore>,
    limit: u64,
    window: Duration,
    key: KeyBy,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl RateLimit {
    /// `limit` requests per `window` per key, counted in memory.
    pub fn new(limit: u64, window: Duration, key: KeyBy) -> Self {
        Self {
            store: Arc::new(InMemoryRateLimit::new()),
            limit,
            window,
            key,
        }
    }

    /// Whether instances share the counters.
    pub(crate) fn shared(&self) -> bool {
        self.store.shared()
    }

    /// Counts in `store` (e.g. Redis, so instances share the budget).
    pub fn store(mut self, store: impl RateLimitStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    fn key_of(&self, parts: &Parts) -> Option<String> {
        let caller = parts.extensions.get::<Arc<AuthContext>>().map(|c| &**c);
        let anonymous = AuthContext::anonymous();
        let caller = caller.unwrap_or(&anonymous);
        let ip = || match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => Some(ip_key(addr.ip())),
            None => {
                // Keying every client to one "unknown" address would let one of them use up
                // everyone's budget: without the peer address, do not limit by it.
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "rate limit by IP without the peer address: serve with App::serve or \
                         into_make_service_with_connect_info; not limiting those requests"
                    );
                });
                None
            }
        };
        let user = || caller.user_id.as_ref().map(|u| format!("user:{u}"));
        match &self.key {
            KeyBy::Ip => ip(),
            KeyBy::User => user().or_else(ip),
            KeyBy::Tenant => caller
                .org_id
                .as_ref()
                .map(|o| format!("org:{o}"))
                .or_else(user)
                .or_else(ip),
            KeyBy::Custom(f) => Some(format!("custom:{}", f(parts, caller)?)),
        }
    }
}

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Puts `RateLimit-Limit`, `-Remaining` and `-Reset` on an answer.
pub(crate) fn annotate(response: &mut Response, hit: &Hit) {
    let headers = response.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(hit.limit));
    headers.insert(REMAINING, HeaderValue::from(hit.remaining));
    headers.insert(RESET, HeaderValue::from(hit.reset_after));
}

/// `ip:<address>`, written without the formatter for IPv4 (this runs per request).
fn ip_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let mut key = String::with_capacity(18);
            key.push_str("ip:");
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    key.push('.');
                }
                if octet >= 100 {
                    key.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    key.push(char::from(b'0' + octet / 10 % 10));
                }
                key.push(char::from(b'0' + octet % 10));
            }
            key
        }
        std::net::IpAddr::V6(v6) => format!("ip:{v6}"),
    }
}

impl RateLimit {
    /// Counts the request of `parts` against its key's budget: `Err` with the 429 answer when
    /// over it, `Ok(Some(hit))` with the figures for the answer's headers ([`annotate`]),
    /// `Ok(None)` when the request is not limited (no key, or the store is down).
    pub(crate) async fn admit(&self, parts: &Parts) -> Result<Option<Hit>, Response> {
        let Some(key) = self.key_of(parts) else {
            return Ok(None);
        };
        let hit = match self.store.hit(&key, self.limit, self.window).await {
            Ok(hit) => hit,
            Err(e) => {
                tracing::warn!(error = %e, "rate-limit store unavailable; not limiting");
                return Ok(None);
            }
        };
        if hit.allowed {
            return Ok(Some(hit));
        }
        let mut response = ArcError::new(ErrorCode::RateLimited, "Too many requests")
            .with_retry_after(hit.reset_after)
            .into_response();
        annotate(&mut response, &hit);
        Err(response)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ip_keys_match_the_formatter() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.100.255",
            "192.168.1.9",
            "::1",
            "2001:db8::7",
        ] {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(super::ip_key(ip), format!("ip:{ip}"));
        }
    }
}
