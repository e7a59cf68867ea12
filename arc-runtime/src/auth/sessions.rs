//! Sessions: the access and refresh tokens an app's login issues ([`Sessions::issue`]), the
//! refresh that rotates them (`POST /auth/refresh`), logout (`POST /auth/logout`), and
//! cookies as an alternative to the bearer header, with CSRF protection where they carry
//! the credentials ([`Cookies`]).
//!
//! A login starts a session; each refresh uses its refresh token once and hands out the
//! next, and a token presented again after its rotation means two parties hold the session:
//! the session ends and its last access token is revoked (RFC 9700's refresh-token reuse
//! detection). A session lives at most [`Sessions::max_lifetime`] whatever is refreshed.

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, ORIGIN, SET_COOKIE, UPGRADE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::AuthContext;
use super::jwt::{JwtSigner, TokenClaims};
use crate::error::{ArcError, ErrorCode};
use crate::stores::{
    InMemorySessions, IssuedToken, RevocationStore, Rotation, SessionStart, SessionStore,
};

/// Where the session routes are served, unless [`Sessions::base_path`] says otherwise.
pub(crate) const DEFAULT_BASE: &str = "/auth";

/// The header an unsafe request authenticated by cookie echoes its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The claim an access token issued for cookies carries its CSRF token in.
pub(crate) const CSRF_CLAIM: &str = "csrf";

/// The claim that names an access token's session (for logout).
pub(crate) const SESSION_CLAIM: &str = "sid";

/// Cookies as an alternative to `Authorization: Bearer`, for browsers: the access token in
/// an `HttpOnly` cookie the page cannot read, the refresh token in another sent only to the
/// session routes, and a CSRF token the page reads and echoes in [`CSRF_HEADER`] on every
/// unsafe request (the access token carries it too, so a cookie an attacker plants does not
/// match). Every cookie is `Secure` (browsers accept it on `http://localhost`).
///
/// A WebSocket has no CSRF header and no CORS: a WebSocket upgrade authenticated by cookie
/// must come from a page of the app's own origin (its `Origin` names the request's `Host`)
/// or of one allowed with [`Cookies::allow_origin`], else 403 `CSRF_FAILED`.
///
/// Give the same `Cookies` to [`Sessions::cookies`], which sets them, and to
/// [`JwtAuthenticator::cookies`](crate::config::JwtAuthenticator::cookies), which reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Cookies {
    pub(crate) access: &'static str,
    pub(crate) refresh: &'static str,
    pub(crate) csrf: &'static str,
    origins: Vec<String>,
}

impl Default for Cookies {
    fn default() -> Self {
        Self::names("arc_access", "arc_refresh", "arc_csrf")
    }
}

impl Cookies {
    /// The default names: `arc_access`, `arc_refresh`, `arc_csrf`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Other names (each a cookie name: letters, digits, `_` and `-`).
    pub fn names(access: &'static str, refresh: &'static str, csrf: &'static str) -> Self {
        Self {
            access,
            refresh,
            csrf,
            origins: Vec::new(),
        }
    }

    /// Lets pages of `origin` (`"https://app.example.com"`) open WebSockets authenticated
    /// by cookie, besides the app's own origin.
    pub fn allow_origin(mut self, origin: &str) -> Self {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        // `null` is every sandboxed frame and file: never a trusted origin.
        if origin != "null" {
            self.origins.push(origin);
        }
        self
    }

    /// Whether a request authenticated by cookie may go on as far as its origin goes: a
    /// WebSocket upgrade only from the app's own origin or an allowed one (see [`Cookies`]).
    pub(crate) fn check_origin(&self, parts: &Parts) -> Result<(), ArcError> {
        let upgrade = parts
            .headers
            .get(UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if !upgrade {
            return Ok(());
        }
        let origin = parts
            .headers
            .get(ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let host = parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()));
        let allowed = origin.as_deref().is_some_and(|origin| {
            let own = origin
                .split_once("://")
                .zip(host)
                .is_some_and(|((_, authority), host)| authority.eq_ignore_ascii_case(host));
            own || self.origins.iter().any(|o| o == origin)
        });
        if allowed {
            Ok(())
        } else {
            Err(ArcError::new(
                ErrorCode::CsrfFailed,
                "A WebSocket authenticated by cookie opens from the app's own pages only (Origin)",
            ))
        }
    }

    /// The value of cookie `name` in `headers`, if sent once (a name sent twice, which a
    /// sibling domain can plant, is refused: `None`).
    pub(crate) fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
        let mut found = None;
        for value in headers.get_all(COOKIE) {
            // Byte by byte: another cookie's non-ASCII value does not hide this one.
            for pair in value.as_bytes().split(|b| *b == b';') {
                let Some(eq) = pair.iter().position(|b| *b == b'=') else {
                    continue;
                };
                if pair[..eq].trim_ascii() != name.as_bytes() {
                    continue;
                }
                if found.is_some() {
                    return None;
                }
                found = Some(std::str::from_utf8(pair[eq + 1..].trim_ascii()).ok()?);
            }
        }
        found.filter(|v| !v.is_empty())
    }

    /// The access token of a request, when it came in the access cookie.
    pub(crate) fn access_token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        Self::read(headers, self.access)
    }

    /// Whether an unsafe request authenticated by cookie echoes `expected` (the token's
    /// CSRF claim) in [`CSRF_HEADER`]: 403 `CSRF_FAILED` otherwise. Safe methods pass.
    pub(crate) fn check_csrf(
        method: &Method,
        headers: &HeaderMap,
        expected: Option<&str>,
    ) -> Result<(), ArcError> {
        if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return Ok(());
        }
        let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        match (sent, expected) {
            (Some(sent), Some(expected)) if same(sent.as_bytes(), expected.as_bytes()) => Ok(()),
            _ => Err(ArcError::new(
                ErrorCode::CsrfFailed,
                "Credentials came in a cookie: echo the CSRF cookie in x-csrf-token",
            )),
        }
    }

    /// The three `Set-Cookie` values: `pair`'s tokens, or (`None`) each cleared. The tokens
    /// `HttpOnly`; the access token sent on top-level navigations too (`Lax`, reads only
    /// need it), the refresh token only to the session routes under `base`.
    fn set_cookies(&self, base: &str, pair: Option<&TokenPair>) -> [String; 3] {
        let (access, refresh, csrf, short, long) = match pair {
            Some(p) => (
                p.access_token.as_str(),
                p.refresh_token.as_str(),
                p.csrf_token.as_deref().unwrap_or_default(),
                p.expires_in,
                p.refresh_expires_in,
            ),
            None => ("", "", "", 0, 0),
        };
        [
            format!(
                "{}={access}; Path=/; Max-Age={short}; Secure; HttpOnly; SameSite=Lax",
                self.access
            ),
            format!(
                "{}={refresh}; Path={base}; Max-Age={long}; Secure; HttpOnly; SameSite=Strict",
                self.refresh
            ),
            format!(
                "{}={csrf}; Path=/; Max-Age={long}; Secure; SameSite=Strict",
                self.csrf
            ),
        ]
    }
}

/// Equal bytes, compared in time that depends on the length only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a login or a refresh answers, in arc's shape (`issueTokens`): `{"accessToken",
/// "refreshToken", "expiresIn", "refreshExpiresIn", "tokenType": "Bearer"}`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenPair {
    /// The access token (a JWT), for `Authorization: Bearer`.
    pub access_token: String,
    /// The refresh token (opaque), for `POST /auth/refresh`; used once.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Seconds the refresh token lives (at most until the session ends).
    pub refresh_expires_in: u64,
    /// Always `"Bearer"`.
    pub token_type: &'static str,
    /// The CSRF token unsafe requests authenticated by cookie echo in `x-csrf-token`
    /// (with [`Cookies`] only; also in the readable CSRF cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// What a login or a refresh answers when cookies carry the tokens: the tokens' lifetimes
/// and the CSRF token, never the tokens (no script of the page can read them; they are in
/// `HttpOnly` cookies).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CookieSession {
    /// Seconds the access token (in its cookie) lives.
    pub expires_in: u64,
    /// Seconds the refresh token (in its cookie) lives.
    pub refresh_expires_in: u64,
    /// The CSRF token unsafe requests echo in `x-csrf-token` (also in the CSRF cookie).
    pub csrf_token: String,
}

impl From<&TokenPair> for CookieSession {
    fn from(pair: &TokenPair) -> Self {
        Self {
            expires_in: pair.expires_in,
            refresh_expires_in: pair.refresh_expires_in,
            csrf_token: pair.csrf_token.clone().unwrap_or_default(),
        }
    }
}

/// The largest `POST /auth/refresh` body: a refresh token is 76 characters.
pub(crate) const REFRESH_BODY_LIMIT: usize = 4 * 1024;

/// The body of `POST /auth/refresh`: the refresh token (or none, with cookies).
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    /// The refresh token of the last login or refresh.
    #[serde(alias = "token")]
    pub refresh_token: String,
}

struct Inner {
    signer: JwtSigner,
    store: Arc<dyn SessionStore>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    max_lifetime: Duration,
    cookies: Option<Cookies>,
    base: String,
}

/// Access and refresh tokens for an app's own login, rotated on refresh and revoked on
/// logout or theft. Mounted with [`App::sessions`](crate::App::sessions), which serves
/// `POST /auth/refresh` and `POST /auth/logout`; the app's login route calls
/// [`Sessions::issue`] once it has checked the credentials.
///
/// ```
/// use arc_runtime::config::{JwtSigner, Sessions, TokenClaims};
/// use std::time::Duration;
/// let sessions = Sessions::new(JwtSigner::hs256(b"a development secret of 32+ bytes!")?)
///     .access_ttl(Duration::from_secs(15 * 60))
///     .max_lifetime(Duration::from_secs(7 * 24 * 3600));
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let pair = sessions.issue(TokenClaims::new("alice", Duration::ZERO).roles(&["editor"])).await?;
/// assert_eq!(pair.token_type, "Bearer");
/// # Ok::<(), arc_runtime::ArcError>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Sessions(Arc<Inner>);

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("access_ttl", &self.0.access_ttl)
            .field("refresh_ttl", &self.0.refresh_ttl)
            .field("max_lifetime", &self.0.max_lifetime)
            .field("cookies", &self.0.cookies)
            .field("base", &self.0.base)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch, now.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 32 random bytes, base64url.
fn secret() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `secret`, hex: what stores keep.
fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Sessions {
    /// Access tokens live 15 minutes unless set.
    pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
    /// Refresh tokens live 7 days unless set (arc's default).
    pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
    /// A session ends 30 days after its login unless set, whatever is refreshed.
    pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

    /// Sessions whose access tokens `signer` signs (the key the app's
    /// [`JwtAuthenticator`](crate::config::JwtAuthenticator) verifies), kept in memory.
    pub fn new(signer: JwtSigner) -> Self {
        Self(Arc::new(Inner {
            signer,
            store: Arc::new(InMemorySessions::new()),
            access_ttl: Self::DEFAULT_ACCESS_TTL,
            refresh_ttl: Self::DEFAULT_REFRESH_TTL,
            max_lifetime: Self::DEFAULT_MAX_LIFETIME,
            cookies: None,
            base: DEFAULT_BASE.to_owned(),
        }))
    }

    fn with(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.0).unwrap_or_else(|shared| Inner {
            signer: shared.signer.clone(),
            store: shared.store.clone(),
            access_ttl: shared.access_ttl,
            refresh_ttl: shared.refresh_ttl,
            max_lifetime: shared.max_lifetime,
            cookies: shared.cookies.clone(),
            base: shared.base.clone(),
        });
        f(&mut inner);
        Self(Arc::new(inner))
    }

    /// Keeps sessions in `store` (Redis for several instances).
    pub fn store(self, store: impl SessionStore) -> Self {
        self.with(|s| s.store = Arc::new(store))
    }

    /// How long access tokens live (at least a second).
    pub fn access_ttl(self, ttl: Duration) -> Self {
        self.with(|s| s.access_ttl = ttl.max(Duration::from_secs(1)))
    }

    /// How long a refresh token may wait to be used (at least a second).
    pub fn refresh_ttl(self, ttl: Duration) -> Self {
        self.with(|s| s.refresh_ttl = ttl.max(Duration::from_secs(1)))
    }

    /// How long a session lives after its login, whatever is refreshed: then the user
    /// signs in again.
    pub fn max_lifetime(self, lifetime: Duration) -> Self {
        self.with(|s| s.max_lifetime = lifetime.max(Duration::from_secs(1)))
    }

    /// Sets cookies too (see [`Cookies`]), and takes the refresh token from its cookie.
    pub fn cookies(self, cookies: Cookies) -> Self {
        self.with(|s| s.cookies = Some(cookies))
    }

    /// Serves the routes under `base` (`"/auth"` unless set).
    pub fn base_path(self, base: &str) -> Self {
        let base = format!("/{}", base.trim_matches('/'));
        self.with(|s| s.base = base)
    }

    /// The base path of the routes.
    pub fn base(&self) -> &str {
        &self.0.base
    }

    /// The cookies, when set.
    pub fn cookie_settings(&self) -> Option<&Cookies> {
        self.0.cookies.as_ref()
    }

    /// Whether other instances see the sessions this one stores.
    pub fn shared(&self) -> bool {
        self.0.store.shared()
    }

    /// Starts a session for `claims` (the user, roles, organization, ..; their `jti`,
    /// `iat` and `exp` are set here) and issues its first tokens. The app's login route
    /// calls it once the credentials are checked; [`Sessions::respond`] answers with them.
    pub async fn issue(&self, claims: TokenClaims) -> Result<TokenPair, ArcError> {
        let now = unix_now();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let ends = now.saturating_add(self.0.max_lifetime.as_secs());
        let claims = TokenClaims {
            jti: String::new(),
            iat: 0,
            exp: 0,
            sid: None,
            csrf: None,
            ..claims
        };
        let text = serde_json::to_string(&claims).map_err(ArcError::internal)?;
        let draft = self.draft(now);
        let start = SessionStart {
            claims: text,
            expires_at: ends,
            token: draft.stored.clone(),
        };
        self.0.store.start(&id, start).await.map_err(unavailable)?;
        self.sign(&id, draft, claims, now, ends)
    }

    /// The next tokens' random parts, drawn before the store is asked (it keeps the
    /// refresh token only when the presented one was live).
    fn draft(&self, now: u64) -> Draft {
        let refresh = secret();
        let jti = uuid::Uuid::new_v4().to_string();
        let access_exp = now.saturating_add(self.0.access_ttl.as_secs());
        Draft {
            stored: IssuedToken {
                hash: hash(&refresh),
                expires_at: now.saturating_add(self.0.refresh_ttl.as_secs()),
                access_id: jti.clone(),
                access_expires_at: access_exp,
            },
            refresh,
            jti,
            csrf: self.0.cookies.as_ref().map(|_| secret()),
        }
    }

    /// The pair of session `id`, which ends at `ends`, from `draft` and the session's claims.
    fn sign(
        &self,
        id: &str,
        draft: Draft,
        claims: TokenClaims,
        now: u64,
        ends: u64,
    ) -> Result<TokenPair, ArcError> {
        let access_exp = draft.stored.access_expires_at.min(ends);
        let refresh_exp = draft.stored.expires_at.min(ends);
        let access = TokenClaims {
            jti: draft.jti,
            iat: now,
            exp: access_exp,
            sid: Some(id.to_owned()),
            csrf: draft.csrf.clone(),
            ..claims
        };
        let access_token = self.0.signer.sign(&access).map_err(ArcError::internal)?;
        Ok(TokenPair {
            access_token,
            refresh_token: format!("{id}.{}", draft.refresh),
            expires_in: access_exp.saturating_sub(now),
            refresh_expires_in: refresh_exp.saturating_sub(now),
            token_type: "Bearer",
            csrf_token: draft.csrf,
        })
    }

    /// Uses `refresh_token` once: the next pair, or 401 when it is unknown, expired, or its
    /// session ended. A token used before ends its session and revokes (in `revocation`)
    /// the session's last access token: whoever holds the family now, thief or user, signs
    /// in again.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        revocation: &dyn RevocationStore,
    ) -> Result<TokenPair, ArcError> {
        let refused = || ArcError::unauthorized("Invalid or expired refresh token");
        let (id, secret) = refresh_token.split_once('.').ok_or_else(refused)?;
        let well_formed = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !well_formed(id, 32) || !well_formed(secret, 43) {
            return Err(refused());
        }
        let now = unix_now();
        let draft = self.draft(now);
        let rotation = self
            .0
            .store
            .rotate(id, &hash(secret), draft.stored.clone(), now)
            .await
            .map_err(unavailable)?;
        match rotation {
            Rotation::Rotated { claims, expires_at } => {
                let claims: TokenClaims =
                    serde_json::from_str(&claims).map_err(ArcError::internal)?;
                self.sign(id, draft, claims, now, expires_at)
            }
            Rotation::Reused { access } => {
                tracing::warn!(session = id, "refresh token reused: the session is revoked");
                if let Some((jti, exp)) = access {
                    revocation.revoke(&jti, exp).await.map_err(unavailable)?;
                }
                Err(refused())
            }
            Rotation::Invalid => Err(refused()),
        }
    }

    /// Ends the caller's session (logout): the session first, so its refresh token no
    /// longer rotates (idempotent: a retry after a failure finds the caller's token still
    /// valid to log out with), then the caller's access token is revoked in `revocation`,
    /// and the session's last access token. A caller whose token names no session (one the app signed
    /// itself) has only the token revoked; one with nothing to revoke (no `jti`, no
    /// session: an API key) gets a 400 rather than a logout that changes nothing.
    pub async fn end(
        &self,
        caller: &AuthContext,
        revocation: &dyn RevocationStore,
    ) -> Result<(), ArcError> {
        if !caller.is_authenticated() {
            return Err(ArcError::unauthorized("Authentication required"));
        }
        let mut ended = false;
        // The session first: ending it is idempotent and kills the long-lived credential,
        // so a retry after a failure below still finds a token to log out with.
        let mut last = None;
        if let Some(Value::String(id)) = caller.claims.get(SESSION_CLAIM) {
            last = self.0.store.end(id).await.map_err(unavailable)?;
            ended = true;
        }
        if let (Some(jti), Some(exp)) = (&caller.token_id, caller.expires_at) {
            revocation.revoke(jti, exp).await.map_err(unavailable)?;
            ended = true;
        }
        if let Some((jti, exp)) = last {
            revocation.revoke(&jti, exp).await.map_err(unavailable)?;
        }
        if ended {
            Ok(())
        } else {
            Err(ArcError::bad_request(
                "These credentials cannot be revoked (no jti, no session): they stay valid until they expire",
            ))
        }
    }

    /// The answer to a login or refresh: `200 {"success": true, ..pair}` (arc's shape);
    /// when [`Sessions::cookies`] is set, the cookies, and in the body only the lifetimes
    /// and the CSRF token (`{"success", "expiresIn", "refreshExpiresIn", "csrfToken"}`).
    pub fn respond(&self, pair: &TokenPair) -> Response {
        let mut body = Map::new();
        body.insert("success".into(), Value::Bool(true));
        let fields = match &self.0.cookies {
            Some(_) => serde_json::to_value(CookieSession::from(pair)),
            None => serde_json::to_value(pair),
        };
        if let Ok(Value::Object(fields)) = fields {
            body.extend(fields);
        }
        let mut response = axum::Json(Value::Object(body)).into_response();
        if let Some(cookies) = &self.0.cookies {
            let set = cookies.set_cookies(&self.0.base, Some(pair));
            append_cookies(&mut response, set);
        }
        no_store(&mut response);
        response
    }

    /// The answer to a logout: `200 {"success": true}`, the cookies cleared.
    fn logged_out(&self) -> Response {
        let mut response = axum::Json(serde_json::json!({ "success": true })).into_response();
        if let Some(cookies) = &self.0.cookies {
            append_cookies(&mut response, cookies.set_cookies(&self.0.base, None));
        }
        no_store(&mut response);
        response
    }

    /// The refresh token of a `POST /auth/refresh`: the body's, or (with cookies and an
    /// empty body) the refresh cookie's, whose request must echo the CSRF cookie.
    fn presented(&self, headers: &HeaderMap, body: &[u8]) -> Result<String, ArcError> {
        if !body.iter().all(u8::is_ascii_whitespace) {
            let json = headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| {
                    v.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
                });
            if !json {
                return Err(ArcError::new(
                    ErrorCode::UnsupportedMediaType,
                    "Expected Content-Type: application/json",
                ));
            }
            let invalid = |e: serde_json::Error| {
                ArcError::bad_request(format!("Invalid refresh request: {e}"))
            };
            // An object, never an array in the fields' order (which serde would take).
            let object: Map<String, Value> = serde_json::from_slice(body).map_err(invalid)?;
            let request: RefreshRequest =
                serde_json::from_value(Value::Object(object)).map_err(invalid)?;
            return Ok(request.refresh_token);
        }
        let cookies = self.0.cookies.as_ref().ok_or_else(|| {
            ArcError::bad_request("Send the refresh token: {\"refreshToken\": \"..\"}")
        })?;
        let token = Cookies::read(headers, cookies.refresh)
            .ok_or_else(|| ArcError::unauthorized("Invalid or expired refresh token"))?;
        Cookies::check_csrf(&Method::POST, headers, Cookies::read(headers, cookies.csrf))?;
        Ok(token.to_owned())
    }
}

/// The random parts of the next tokens, and the refresh token as stored.
struct Draft {
    stored: IssuedToken,
    refresh: String,
    jti: String,
    csrf: Option<String>,
}

fn append_cookies(response: &mut Response, cookies: [String; 3]) {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
}

/// Tokens are never cached by a browser or a proxy.
fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A store that cannot answer: 503, never a session it cannot vouch for.
fn unavailable(e: crate::stores::StoreError) -> ArcError {
    tracing::error!(error = %e, "session store unavailable");
    ArcError::new(ErrorCode::ServiceUnavailable, "Sessions are unavailable")
}

/// What the session routes need: the sessions, and the revocation store of the app's auth.
#[derive(Clone)]
pub(crate) struct Routes {
    pub sessions: Sessions,
    pub revocation: Arc<dyn RevocationStore>,
}

/// `POST /auth/refresh` (its body at most [`REFRESH_BODY_LIMIT`]: 413 beyond).
pub(crate) async fn refresh_route(
    routes: Routes,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ArcError> {
    let body = body.map_err(|e| ArcError::new(ErrorCode::for_status(e.status()), e.body_text()))?;
    let token = routes.sessions.presented(&headers, &body)?;
    let pair = routes
        .sessions
        .refresh(&token, routes.revocation.as_ref())
        .await?;
    Ok(routes.sessions.respond(&pair))
}

/// `POST /auth/logout`.
pub(crate) async fn logout_route(
    routes: Routes,
    caller: super::Caller,
) -> Result<Response, ArcError> {
    routes
        .sessions
        .end(&caller.0, routes.revocation.as_ref())
        .await?;
    Ok(routes.sessions.logged_out())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).expect("value"));
        }
        map
    }

    #[test]
    fn a_cookie_is_read_once_or_not_at_all() {
        let one = headers(&[("cookie", "a=1; arc_access=tok; b=2")]);
        assert_eq!(Cookies::read(&one, "arc_access"), Some("tok"));
        assert_eq!(Cookies::read(&one, "arc"), None, "names match whole");
        let split = headers(&[("cookie", "a=1"), ("cookie", "arc_access=tok")]);
        assert_eq!(Cookies::read(&split, "arc_access"), Some("tok"));
        let twice = headers(&[("cookie", "arc_access=x; arc_access=y")]);
        assert_eq!(Cookies::read(&twice, "arc_access"), None);
        let empty = headers(&[("cookie", "arc_access=")]);
        assert_eq!(Cookies::read(&empty, "arc_access"), None);
        // Another cookie's non-ASCII value does not hide this one.
        let mut mixed = HeaderMap::new();
        mixed.append(
            COOKIE,
            HeaderValue::from_bytes(b"pref=caf\xc3\xa9; arc_access=tok").expect("obs-text"),
        );
        assert_eq!(Cookies::read(&mixed, "arc_access"), Some("tok"));
    }

    #[test]
    fn unsafe_methods_echo_the_expected_token() {
        let sent = headers(&[(CSRF_HEADER, "abc")]);
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(Cookies::check_csrf(&method, &HeaderMap::new(), None).is_ok());
        }
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(Cookies::check_csrf(&method, &sent, Some("abc")).is_ok());
            for (headers, expected) in [
                (&sent, Some("abd")),
                (&sent, Some("ab")),
                (&sent, None),
                (&HeaderMap::new(), Some("abc")),
            ] {
                let refused = Cookies::check_csrf(&method, headers, expected).expect_err("refused");
                assert_eq!(refused.code(), ErrorCode::CsrfFailed);
            }
        }
    }

    #[test]
    fn cleared_cookies_keep_their_attributes() {
        let cleared = Cookies::new().set_cookies("/auth", None);
        assert_eq!(
            cleared[1],
            "arc_refresh=; Path=/auth; Max-Age=0; Secure; HttpOnly; SameSite=Strict"
        );
        assert!(cleared.iter().all(|c| c.contains("Max-Age=0; Secure")));
    }
}
