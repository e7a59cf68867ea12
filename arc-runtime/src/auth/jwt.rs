//! JWT authentication: [`JwtAuthenticator`], its keys ([`JwtKeys`]), and issuing tokens
//! ([`JwtSigner`], [`TokenClaims`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::header;
use axum::http::request::Parts;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use serde_json::{Map, Value};

#[cfg(feature = "remote-jwks")]
pub(crate) use super::jwks::RemoteJwks;
use super::{AuthContext, AuthMethod, Authenticator};
use crate::error::ArcError;
use crate::stores::BoxFuture;

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: u64 = 30;

/// The longest a token may live (`exp - iat`) under the production and edge presets
/// (see [`JwtAuthenticator::preset`]): a day.
pub const DEFAULT_MAX_LIFETIME: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The keys tokens are verified with: HS256 with a secret, RS256 with a public key or a JWKS
/// document.
///
/// Exactly the algorithm of the keys is accepted: no `alg: none`, no algorithm confusion.
#[derive(Clone)]
pub enum JwtKeys {
    /// One key for one algorithm (HS256 secret, RS256 public key).
    Single(Algorithm, DecodingKey),
    /// RS256 keys by `kid`, from a JWKS document.
    Set(HashMap<String, DecodingKey>),
    /// RS256 keys by `kid`, from a JWKS URL (cached).
    #[cfg(feature = "remote-jwks")]
    Remote(RemoteJwks),
}

/// Errors configuring JWT keys.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    /// The key could not be read.
    #[error("invalid key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    /// The JWKS document could not be read.
    #[error("invalid JWKS document: {0}")]
    Jwks(String),
    /// An HS256 secret shorter than 32 bytes.
    #[error("an HS256 secret must be at least 32 bytes")]
    WeakSecret,
}

impl JwtKeys {
    /// HS256 with `secret` (at least 32 bytes).
    pub fn hs256(secret: &[u8]) -> Result<Self, JwtConfigError> {
        if secret.len() < 32 {
            return Err(JwtConfigError::WeakSecret);
        }
        Ok(Self::Single(
            Algorithm::HS256,
            DecodingKey::from_secret(secret)?,
        ))
    }

    /// RS256 with a PEM public key.
    pub fn rs256_pem(public_key: &[u8]) -> Result<Self, JwtConfigError> {
        Ok(Self::Single(
            Algorithm::RS256,
            DecodingKey::from_rsa_pem(public_key)?,
        ))
    }

    /// RS256 with the keys of a JWKS document (`{"keys":[..]}`), selected by the token's `kid`.
    pub fn jwks(document: &str) -> Result<Self, JwtConfigError> {
        Ok(Self::Set(parse_jwks(document)?))
    }

    /// RS256 with the keys of the JWKS document in the file at `path`.
    pub fn jwks_file(path: impl AsRef<std::path::Path>) -> Result<Self, JwtConfigError> {
        let path = path.as_ref();
        let document = std::fs::read_to_string(path)
            .map_err(|e| JwtConfigError::Jwks(format!("{}: {e}", path.display())))?;
        Self::jwks(&document)
    }

    /// RS256 with the keys of the JWKS document at `url`, fetched when first needed, cached,
    /// and fetched again on expiry or for an unknown `kid` (see [`RemoteJwks`]).
    #[cfg(feature = "remote-jwks")]
    pub fn jwks_url(url: &str) -> Result<Self, JwtConfigError> {
        Ok(Self::Remote(RemoteJwks::new(url)?))
    }
}

/// The keys of a JWKS document by `kid`; every key needs one, and there must be a key.
pub(crate) fn parse_jwks(document: &str) -> Result<HashMap<String, DecodingKey>, JwtConfigError> {
    let set: JwkSet =
        serde_json::from_str(document).map_err(|e| JwtConfigError::Jwks(e.to_string()))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| JwtConfigError::Jwks("a key has no `kid`".into()))?;
        keys.insert(kid, DecodingKey::from_jwk(jwk)?);
    }
    if keys.is_empty() {
        return Err(JwtConfigError::Jwks("no keys".into()));
    }
    Ok(keys)
}

/// The contract's claims, for issuing a token (see [`JwtSigner`]).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[must_use = "claims do nothing until a JwtSigner signs them"]
pub struct TokenClaims {
    /// The user id.
    pub sub: String,
    /// Platform roles.
    pub roles: Vec<String>,
    /// The active organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Roles in the active organization.
    pub org_roles: Vec<String>,
    /// Every organization the user belongs to.
    pub orgs: Vec<String>,
    /// The active team in the active organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The token id (for revocation); a random one from [`TokenClaims::new`].
    pub jti: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expiry (Unix seconds).
    pub exp: u64,
    /// The session the token belongs to, when [`Sessions`](crate::config::Sessions)
    /// issued it (logout ends it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The CSRF token an unsafe request authenticated by cookie echoes (see
    /// [`Cookies`](crate::config::Cookies)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
}

impl TokenClaims {
    /// Claims for `user`, valid for `ttl` from now, with a fresh `jti`.
    pub fn new(user: impl Into<String>, ttl: std::time::Duration) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            sub: user.into(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
            ..Self::default()
        }
    }

    /// Sets the active organization (also listed among `orgs`) and the roles there.
    pub fn org(mut self, org: impl Into<String>, org_roles: &[&str]) -> Self {
        let org = org.into();
        if !self.orgs.contains(&org) {
            self.orgs.push(org.clone());
        }
        self.org_id = Some(org);
        self.org_roles = org_roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }

    /// Sets the platform roles.
    pub fn roles(mut self, roles: &[&str]) -> Self {
        self.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self
    }
}

/// Issues HS256 tokens, for apps that sign their own (demo tokens, tests, a login route).
///
/// ```
/// use arc_runtime::config::{JwtSigner, TokenClaims};
/// let signer = JwtSigner::hs256(b"a development secret of 32+ bytes!")?;
/// let claims = TokenClaims::new("alice", std::time::Duration::from_secs(3600)).org("acme", &["admin"]);
/// let token = signer.sign(&claims)?;
/// assert_eq!(token.split('.').count(), 3);
/// # Ok::<(), arc_runtime::config::JwtConfigError>(())
/// ```
#[derive(Clone)]
pub struct JwtSigner {
    key: EncodingKey,
}

impl JwtSigner {
    /// Signs with `secret` (at least 32 bytes, as [`JwtKeys::hs256`] requires).
    pub fn hs256(secret: &[u8]) -> Result<Self, JwtConfigError> {
        if secret.len() < 32 {
            return Err(JwtConfigError::WeakSecret);
        }
        Ok(Self {
            key: EncodingKey::from_secret(secret)?,
        })
    }

    /// The signed token (without the `Bearer ` prefix).
    pub fn sign(&self, claims: &TokenClaims) -> Result<String, JwtConfigError> {
        Ok(encode(&Header::new(Algorithm::HS256), claims, &self.key)?)
    }
}

/// Verified tokens by their exact text, so a client's next request with the same token skips
/// the signature check and claim parsing. Only tokens that verified are kept, each until its
/// `exp` (plus leeway) passes; revocation is still asked on every request, by the auth layer.
/// When full, it starts over (verified tokens only, so an attacker cannot fill it).
struct Verified {
    entries: std::sync::Mutex<HashMap<Box<str>, Arc<AuthContext>>>,
    capacity: usize,
}

impl Verified {
    fn get(&self, token: &str, now: u64, leeway: u64) -> Option<Arc<AuthContext>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let context = entries.get(token)?;
        if context
            .expires_at
            .is_some_and(|exp| exp.saturating_add(leeway) >= now)
        {
            return Some(context.clone());
        }
        entries.remove(token);
        None
    }

    fn insert(&self, token: &str, context: &Arc<AuthContext>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(token.into(), context.clone());
    }
}

/// Authenticates `Authorization: Bearer <JWT>`, verified with [`JwtKeys`].
///
/// `exp` is required and `nbf` checked, with a small [`leeway`](Self::leeway)
/// ([`DEFAULT_LEEWAY`] seconds); [`audience`](Self::audience) and [`issuer`](Self::issuer) are
/// checked when configured. Claims follow the contract: `sub`, `roles`, `org_id`, `org_roles`,
/// `orgs`, `jti`, `exp`; a claim of the wrong shape makes the token invalid.
///
/// By default `exp` and `sub` are required, `jti` and `iat` are optional and any lifetime is
/// accepted. [`require_jti`](Self::require_jti) refuses tokens that cannot be revoked (no
/// `jti`); [`max_lifetime`](Self::max_lifetime) refuses tokens that live longer than it
/// (`exp - iat`; `iat` becomes required). A token issued in the future (`iat` past the
/// leeway) is refused whatever the settings. [`preset`](Self::preset) sets both for where
/// the app runs: production and edge require `jti` and at most [`DEFAULT_MAX_LIFETIME`].
///
/// ```
/// use arc_runtime::config::{JwtAuthenticator, JwtKeys};
/// use arc_runtime::Preset;
/// let keys = JwtKeys::hs256(b"a production secret of 32+ bytes!")?;
/// let jwt = JwtAuthenticator::new(keys)
///     .preset(Preset::Production) // jti required, a day at most
///     .max_lifetime(std::time::Duration::from_secs(3600)); // later settings win
/// # let _ = jwt;
/// # Ok::<(), arc_runtime::config::JwtConfigError>(())
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct JwtAuthenticator {
    keys: JwtKeys,
    validation: Validation,
    verified: Option<Arc<Verified>>,
    require_jti: bool,
    /// The longest `exp - iat` accepted, in seconds; `None`: any.
    max_lifetime: Option<u64>,
    /// Where a browser's token comes from when there is no `Authorization` header.
    cookies: Option<super::sessions::Cookies>,
}

impl JwtAuthenticator {
    /// How many verified tokens [`JwtAuthenticator`] remembers by default.
    pub const DEFAULT_VERIFIED_CACHE: usize = 10_000;
}

impl JwtAuthenticator {
    /// Verifies with `keys`, `exp` required, [`DEFAULT_LEEWAY`] seconds of skew.
    pub fn new(keys: JwtKeys) -> Self {
        let algorithm = match &keys {
            JwtKeys::Single(alg, _) => *alg,
            JwtKeys::Set(_) => Algorithm::RS256,
            #[cfg(feature = "remote-jwks")]
            JwtKeys::Remote(_) => Algorithm::RS256,
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = DEFAULT_LEEWAY;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            keys,
            validation,
            verified: None,
            require_jti: false,
            max_lifetime: None,
            cookies: None,
        }
        .verified_cache(JwtAuthenticator::DEFAULT_VERIFIED_CACHE)
    }

    /// The token rules of `preset`: production and edge require `jti`
    /// ([`require_jti`](Self::require_jti)) and at most [`DEFAULT_MAX_LIFETIME`]
    /// ([`max_lifetime`](Self::max_lifetime)); development and testing neither. Settings
    /// made afterwards win.
    pub fn preset(self, preset: crate::preset::Preset) -> Self {
        let defaults = preset.defaults();
        let jwt = if defaults.require_jti {
            self.require_jti()
        } else {
            self.optional_jti()
        };
        match defaults.max_token_lifetime {
            Some(max) => jwt.max_lifetime(max),
            None => jwt.any_lifetime(),
        }
    }

    /// Reads the token from the access cookie of `cookies` when a request has no
    /// `Authorization` header (see [`Cookies`](crate::config::Cookies)). An unsafe request
    /// (not `GET`, `HEAD` or `OPTIONS`) authenticated so must echo the token's CSRF claim
    /// in `x-csrf-token`, else 403 `CSRF_FAILED`: a page of another site can make the
    /// browser send the cookie, never read the token.
    pub fn cookies(mut self, cookies: super::sessions::Cookies) -> Self {
        self.cookies = Some(cookies);
        self
    }

    /// Refuses tokens without a `jti` (401): a token without one cannot be revoked.
    pub fn require_jti(mut self) -> Self {
        self.require_jti = true;
        self
    }

    /// Accepts tokens without a `jti` (the default): they cannot be revoked.
    pub fn optional_jti(mut self) -> Self {
        self.require_jti = false;
        self
    }

    /// Refuses tokens that live longer than `lifetime` (`exp - iat`; 401), and tokens
    /// without `iat`, whose lifetime is unknown.
    pub fn max_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.max_lifetime = Some(lifetime.as_secs());
        self
    }

    /// Accepts tokens of any lifetime (the default); `iat` is optional.
    pub fn any_lifetime(mut self) -> Self {
        self.max_lifetime = None;
        self
    }

    /// Remembers up to `capacity` verified tokens (0: none), see [`JwtAuthenticator::DEFAULT_VERIFIED_CACHE`].
    /// Tokens verified with keys from a JWKS URL are never remembered, so a key the issuer
    /// withdraws stops working at the next fetch.
    pub fn verified_cache(mut self, capacity: usize) -> Self {
        self.verified = (capacity > 0).then(|| {
            Arc::new(Verified {
                entries: std::sync::Mutex::new(HashMap::new()),
                capacity,
            })
        });
        self
    }

    /// Requires `aud` to be present and one of `audiences`.
    pub fn audience(mut self, audiences: &[&str]) -> Self {
        self.validation.set_audience(audiences);
        self.validation.validate_aud = true;
        // Checked only when present unless required: a token without `aud` must not pass.
        self.validation.required_spec_claims.insert("aud".into());
        self
    }

    /// Requires `iss` to be present and one of `issuers`.
    pub fn issuer(mut self, issuers: &[&str]) -> Self {
        self.validation.set_issuer(issuers);
        self.validation.required_spec_claims.insert("iss".into());
        self
    }

    /// Seconds of clock skew tolerated.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.validation.leeway = seconds;
        self
    }

    /// Verifies `token` and reads its claims into a caller.
    pub async fn verify(&self, token: &str) -> Result<AuthContext, ArcError> {
        self.verify_shared(token).await.map(Arc::unwrap_or_clone)
    }

    /// Like [`JwtAuthenticator::verify`], the caller shared with the remembered tokens.
    pub async fn verify_shared(&self, token: &str) -> Result<Arc<AuthContext>, ArcError> {
        let now = jsonwebtoken::get_current_timestamp();
        let cache = match &self.keys {
            #[cfg(feature = "remote-jwks")]
            JwtKeys::Remote(_) => None,
            _ => self.verified.as_deref(),
        };
        if let Some(context) = cache.and_then(|c| c.get(token, now, self.validation.leeway)) {
            return Ok(context);
        }
        let context = Arc::new(self.verify_uncached(token).await?);
        if let Some(cache) = cache {
            cache.insert(token, &context);
        }
        Ok(context)
    }

    async fn verify_uncached(&self, token: &str) -> Result<AuthContext, ArcError> {
        let invalid = |why: &str| {
            tracing::debug!(reason = why, "bearer token refused");
            ArcError::unauthorized("Invalid or expired token")
        };
        let kid = || -> Result<String, ArcError> {
            let header = decode_header(token).map_err(|_| invalid("malformed header"))?;
            header.kid.ok_or_else(|| invalid("no kid"))
        };
        #[cfg(feature = "remote-jwks")]
        let fetched: Option<jsonwebtoken::DecodingKey>;
        let key = match &self.keys {
            JwtKeys::Single(_, key) => key,
            JwtKeys::Set(keys) => keys.get(&kid()?).ok_or_else(|| invalid("unknown kid"))?,
            #[cfg(feature = "remote-jwks")]
            JwtKeys::Remote(remote) => {
                fetched = remote.key(&kid()?).await;
                fetched.as_ref().ok_or_else(|| invalid("unknown kid"))?
            }
        };
        let data = decode::<Map<String, Value>>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => ArcError::unauthorized("Token has expired"),
                _ => invalid("verification failed"),
            }
        })?;
        self.check_rules(&data.claims, jsonwebtoken::get_current_timestamp())
            .map_err(invalid)?;
        claims_to_context(data.claims).ok_or_else(|| invalid("claims of the wrong shape"))
    }

    /// The rules beyond the signature and `exp`: `jti` when required, `iat` not in the
    /// future, and the lifetime when bounded. `Err` says why, for the log.
    fn check_rules(&self, claims: &Map<String, Value>, now: u64) -> Result<(), &'static str> {
        if self.require_jti
            && !matches!(claims.get("jti"), Some(Value::String(jti)) if !jti.is_empty())
        {
            return Err("no jti");
        }
        let iat = match claims.get("iat") {
            None | Some(Value::Null) => None,
            Some(value) => Some(numeric_date(value).ok_or("iat is not a number")?),
        };
        let leeway = self.validation.leeway as f64;
        if let Some(iat) = iat
            && iat > now as f64 + leeway
        {
            return Err("issued in the future");
        }
        if let Some(max) = self.max_lifetime {
            let iat = iat.ok_or("no iat, so no lifetime")?;
            let exp = claims
                .get("exp")
                .and_then(numeric_date)
                .ok_or("exp is not a number")?;
            if exp - iat > max as f64 {
                return Err("lifetime above the maximum");
            }
        }
        Ok(())
    }
}

/// A NumericDate claim (seconds since the epoch, possibly fractional).
fn numeric_date(value: &Value) -> Option<f64> {
    value.as_f64().filter(|n| n.is_finite())
}

/// An identity claim's text: ids and roles are written into rows (`created_by`, `org_id`), so a
/// NUL, which PostgreSQL's text cannot hold, makes the token malformed rather than a 500 later.
fn text(value: &Value) -> Option<String> {
    value
        .as_str()
        .filter(|s| !s.contains('\0'))
        .map(str::to_owned)
}

fn strings(claims: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    match claims.get(key) {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(text).collect(),
        Some(_) => None,
    }
}

fn string(claims: &Map<String, Value>, key: &str) -> Option<Option<String>> {
    match claims.get(key) {
        None | Some(Value::Null) => Some(None),
        Some(value) => text(value).map(Some),
    }
}

/// The contract's claims as a caller; `None` when one has the wrong shape.
fn claims_to_context(claims: Map<String, Value>) -> Option<AuthContext> {
    let user_id = string(&claims, "sub")?.filter(|s| !s.is_empty())?;
    Some(AuthContext {
        user_id: Some(user_id),
        roles: strings(&claims, "roles")?,
        org_id: string(&claims, "org_id")?,
        org_roles: strings(&claims, "org_roles")?,
        orgs: strings(&claims, "orgs")?,
        team_id: string(&claims, "team_id")?,
        token_id: string(&claims, "jti")?,
        expires_at: claims.get("exp").and_then(Value::as_u64),
        method: AuthMethod::Jwt,
        claims: Arc::new(claims),
        // The app's hierarchy adds these once every authenticator has been asked.
        ..AuthContext::default()
    })
}

impl JwtAuthenticator {
    /// The bearer token of `parts`: `None` without `Authorization`, 401 when it is not
    /// `Bearer <token>`.
    fn bearer(parts: &Parts) -> Result<Option<&str>, ArcError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(None);
        };
        let text = value.to_str().unwrap_or("");
        match text.split_once(' ') {
            Some((scheme, token))
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
            {
                Ok(Some(token.trim()))
            }
            _ => Err(ArcError::unauthorized(
                "Authorization must be `Bearer <token>`",
            )),
        }
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<AuthContext>, ArcError>> {
        Box::pin(async move {
            let found = self.authenticate_shared(parts).await?;
            Ok(found.map(Arc::unwrap_or_clone))
        })
    }

    fn authenticate_shared<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<Arc<AuthContext>>, ArcError>> {
        Box::pin(async move {
            if let Some(token) = Self::bearer(parts)? {
                return self.verify_shared(token).await.map(Some);
            }
            let Some((cookies, token)) = self
                .cookies
                .as_ref()
                .and_then(|c| Some((c, c.access_token(&parts.headers)?)))
            else {
                return Ok(None);
            };
            let caller = self.verify_shared(token).await?;
            cookies.check_origin(parts)?;
            let expected = caller
                .claims
                .get(super::sessions::CSRF_CLAIM)
                .and_then(Value::as_str);
            super::sessions::Cookies::check_csrf(&parts.method, &parts.headers, expected)?;
            Ok(Some(caller))
        })
    }

    fn security_scheme(&self) -> Option<(&'static str, serde_json::Value)> {
        Some((
            "bearerAuth",
            serde_json::json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT" }),
        ))
    }

    fn security_schemes(&self) -> Vec<(&'static str, serde_json::Value)> {
        let mut schemes: Vec<_> = self.security_scheme().into_iter().collect();
        if let Some(cookies) = &self.cookies {
            schemes.push((
                "cookieAuth",
                serde_json::json!({
                    "type": "apiKey",
                    "in": "cookie",
                    "name": cookies.access,
                    "description": format!(
                        "The access token in an HttpOnly cookie. Unsafe requests echo the CSRF cookie in `{}` (else 403 CSRF_FAILED).",
                        super::sessions::CSRF_HEADER
                    ),
                }),
            ));
        }
        schemes
    }
}
