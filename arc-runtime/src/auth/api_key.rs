//! API-key authentication: [`ApiKeys`].

use std::collections::HashMap;

use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use super::{AuthContext, AuthMethod, Authenticator};
use crate::error::ArcError;
use crate::stores::BoxFuture;

/// The header that carries the key.
pub(crate) const HEADER: &str = "x-api-key";

/// Authenticates `x-api-key`: the known API keys, stored as SHA-256 digests, each mapped to
/// the caller it stands for.
///
/// The raw key is never kept; a key that matches none is a 401.
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct ApiKeys {
    keys: HashMap<[u8; 32], AuthContext>,
}

/// The SHA-256 digest of a key, as stored.
pub(crate) fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// No key yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `key` (kept only as its digest) as `caller`.
    pub fn key(self, key: &str, caller: AuthContext) -> Self {
        self.digest(digest(key), caller)
    }

    /// Accepts the key whose SHA-256 digest is `digest` as `caller`.
    pub fn digest(mut self, digest: [u8; 32], mut caller: AuthContext) -> Self {
        caller.method = AuthMethod::ApiKey;
        self.keys.insert(digest, caller);
        self
    }
}

impl Authenticator for ApiKeys {
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<AuthContext>, ArcError>> {
        let result = match parts.headers.get(HEADER) {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|key| self.keys.get(&digest(key)))
                .cloned()
                .map(Some)
                .ok_or_else(|| ArcError::unauthorized("Invalid API key")),
        };
        Box::pin(std::future::ready(result))
    }

    fn security_scheme(&self) -> Option<(&'static str, serde_json::Value)> {
        Some((
            "apiKey",
            serde_json::json!({ "type": "apiKey", "in": "header", "name": HEADER }),
        ))
    }
}
