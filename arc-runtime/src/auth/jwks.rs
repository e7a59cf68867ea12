//! Keys from a JWKS URL, cached: [`RemoteJwks`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;

use super::jwt::{JwtConfigError, parse_jwks};

const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_DOCUMENT: usize = 256 * 1024;

#[derive(Default)]
struct Cached {
    keys: HashMap<String, DecodingKey>,
    fetched: Option<Instant>,
    attempted: Option<Instant>,
}

/// A JWKS URL with its cached keys. Cheap to clone (shared cache).
///
/// The document is fetched from the URL, cached, and fetched again on expiry or when a token
/// names a key the cache does not hold (key rotation), never more often than a floor
/// ([`RemoteJwks::MIN_REFETCH`]).
///
/// Each fetched set replaces the last: a key the issuer withdraws is refused as soon as a
/// fetch no longer lists it (within the cache lifetime, or at once for a token naming a key
/// the cache does not hold). A failed fetch keeps the last good set for
/// [`RemoteJwks::DEFAULT_MAX_STALE`] past its lifetime (never bringing back a withdrawn key); with no
/// usable set, tokens are refused (401): verification fails closed.
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct RemoteJwks {
    inner: Arc<Inner>,
    /// How long past `ttl` the last good set serves while fetching fails.
    max_stale: Duration,
}

struct Inner {
    url: reqwest::Url,
    client: reqwest::Client,
    ttl: Duration,
    min_refetch: Duration,
    cache: RwLock<Cached>,
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("url", &self.inner.url.as_str())
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl RemoteJwks {
    /// How long fetched keys are used before they are fetched again.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

    /// The least time between two fetches, whatever tokens ask for.
    pub const MIN_REFETCH: Duration = Duration::from_secs(30);

    /// How long past its lifetime the last fetched key set still serves while fetching fails.
    pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(3600);
}

impl RemoteJwks {
    /// Keys from `url` (http or https), cached for [`RemoteJwks::DEFAULT_TTL`]. Nothing is fetched until
    /// the first token needs a key (or [`RemoteJwks::refresh`] is called).
    pub fn new(url: &str) -> Result<Self, JwtConfigError> {
        Self::with_ttl(url, RemoteJwks::DEFAULT_TTL, RemoteJwks::MIN_REFETCH)
    }

    /// Like [`RemoteJwks::new`], with the cache lifetime and the floor between fetches.
    pub fn with_ttl(
        url: &str,
        ttl: Duration,
        min_refetch: Duration,
    ) -> Result<Self, JwtConfigError> {
        let url =
            reqwest::Url::parse(url).map_err(|e| JwtConfigError::Jwks(format!("{url}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(JwtConfigError::Jwks(format!("{url}: not an http(s) URL")));
        }
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| JwtConfigError::Jwks(e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                url,
                client,
                ttl,
                min_refetch,
                cache: RwLock::new(Cached::default()),
                fetching: tokio::sync::Mutex::new(()),
            }),
            max_stale: RemoteJwks::DEFAULT_MAX_STALE,
        })
    }

    /// While the URL fails, the last fetched set serves up to `grace` past its lifetime
    /// (default [`RemoteJwks::DEFAULT_MAX_STALE`]); after that every token is refused until a fetch
    /// succeeds. Set on this handle and the clones made from it afterwards.
    pub fn max_stale(mut self, grace: Duration) -> Self {
        self.max_stale = grace;
        self
    }

    /// The key named `kid`: from the cache while it is fresh, else after a fetch.
    ///
    /// A fetched set replaces the one before it whole: a key the issuer no longer lists is
    /// gone at once, and is never taken from an older set. When fetching fails (or may not
    /// happen yet, see [`RemoteJwks::MIN_REFETCH`]), the last good set serves up to
    /// [`max_stale`](Self::max_stale) past its lifetime, then nothing does.
    pub async fn key(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.cached(kid, Duration::ZERO) {
            return Some(key);
        }
        let _one_fetch_at_a_time = self.inner.fetching.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(key) = self.cached(kid, Duration::ZERO) {
            return Some(key);
        }
        if self.may_fetch()
            && let Err(e) = self.fetch().await
        {
            tracing::warn!(url = %self.inner.url, error = %e, "JWKS fetch failed; keeping the last good keys for now");
        }
        self.cached(kid, self.max_stale)
    }

    /// Fetches the document now and replaces the cached keys.
    pub async fn refresh(&self) -> Result<usize, JwtConfigError> {
        let _one_fetch_at_a_time = self.inner.fetching.lock().await;
        self.fetch().await
    }

    /// Fetches the document and replaces the cached keys (the caller holds `fetching`, so
    /// an older document never replaces a newer one). A failure leaves the cache as it was.
    async fn fetch(&self) -> Result<usize, JwtConfigError> {
        let now = Instant::now();
        self.write_cache(|c| c.attempted = Some(now));
        let fetch = async {
            let response = self
                .inner
                .client
                .get(self.inner.url.clone())
                .send()
                .await?
                .error_for_status()?;
            if response
                .content_length()
                .is_some_and(|n| n as usize > MAX_DOCUMENT)
            {
                return Ok(None);
            }
            response.bytes().await.map(Some)
        };
        let body = fetch
            .await
            .map_err(|e| JwtConfigError::Jwks(e.to_string()))?
            .filter(|b| b.len() <= MAX_DOCUMENT)
            .ok_or_else(|| JwtConfigError::Jwks("document too large".into()))?;
        let text = std::str::from_utf8(&body).map_err(|e| JwtConfigError::Jwks(e.to_string()))?;
        let keys = parse_jwks(text)?;
        let count = keys.len();
        self.write_cache(|c| {
            c.keys = keys;
            c.fetched = Some(now);
        });
        tracing::debug!(url = %self.inner.url, keys = count, "JWKS fetched");
        Ok(count)
    }

    /// The cached key named `kid`, if the set it is in was fetched less than the lifetime
    /// plus `grace` ago.
    fn cached(&self, kid: &str, grace: Duration) -> Option<DecodingKey> {
        let cache = self.inner.cache.read().unwrap_or_else(|e| e.into_inner());
        let usable = cache
            .fetched
            .is_some_and(|t| t.elapsed() < self.inner.ttl.saturating_add(grace));
        usable.then(|| cache.keys.get(kid).cloned()).flatten()
    }

    fn may_fetch(&self) -> bool {
        let cache = self.inner.cache.read().unwrap_or_else(|e| e.into_inner());
        cache
            .attempted
            .is_none_or(|t| t.elapsed() >= self.inner.min_refetch)
    }

    fn write_cache(&self, change: impl FnOnce(&mut Cached)) {
        let mut cache = self.inner.cache.write().unwrap_or_else(|e| e.into_inner());
        change(&mut cache);
    }
}
