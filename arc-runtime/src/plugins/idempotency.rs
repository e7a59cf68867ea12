//! Idempotency keys on the mutating routes of a resource with `#[resource(idempotency)]`:
//! the settings ([`Idempotency`]), what a resource declares ([`Idempotent`]), and the
//! middleware that runs a keyed request at most once per key.
//!
//! A request with an `idempotency-key` header (1 to 255 visible ASCII characters) claims
//! the key in the app's [`IdempotencyStore`](crate::config::IdempotencyStore), scoped to the
//! resource, the signed-in user and the active organization (another caller's same key is
//! another key, and nothing tells them it exists). The claim carries the request's
//! fingerprint: method, route template, path parameters and a hash of the JSON body (keys in
//! any order). Then:
//!
//! - a free key: the request runs under a lease; its answer (status, the headers that
//!   describe it, body) is kept for the resource's TTL unless it is a 5xx, which frees the key;
//! - the same request answered already: that answer again, with `x-idempotency-replayed: true`;
//! - the same request still running: 409 `IDEMPOTENCY_CONFLICT` with `Retry-After`;
//! - another request under the key: 422 `UNPROCESSABLE_ENTITY`;
//! - the store unreachable: 503, failing closed (requests without a key are unaffected).
//!
//! Just before the write commits, the lease is checked in its transaction
//! ([`seal`], called by the one commit of every write): a lease that ran out and was taken
//! by a retry rolls the slow attempt back, so the two never both write. The store in the
//! app's database ([`Idempotency::sql`]) also marks the key there, so a crash after the
//! commit never lets the request run twice; the memory and Redis stores leave that window
//! open for the lease's length (see the README).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sea_orm::DatabaseTransaction;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::action::{Action, ResourceAction};
use crate::auth::AuthContext;
use crate::error::{ArcError, ErrorCode};
use crate::resource::ResourceMeta;
use crate::stores::{Begin, Claim, IdempotencyStore, InMemoryIdempotency, StoreError};

/// The request header that carries the key.
pub(crate) const KEY_HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// The response header that marks a replayed answer (`true`).
pub(crate) const REPLAYED_HEADER: HeaderName = HeaderName::from_static("x-idempotency-replayed");
/// The longest key, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 255;
/// What a duplicate in flight is told to wait, in seconds (arc's default).
const RETRY_AFTER: u64 = 1;

/// The headers of an answer that are kept and replayed with it: those that describe it.
/// The rest (request id, security headers, rate-limit counts) belong to each response.
const KEPT_HEADERS: [HeaderName; 7] = [
    header::CONTENT_TYPE,
    header::CONTENT_LANGUAGE,
    header::LOCATION,
    header::ETAG,
    header::LAST_MODIFIED,
    header::CACHE_CONTROL,
    header::VARY,
];

/// What `#[resource(idempotency)]` declares: every mutating route
/// ([`Action::mutates`](crate::Action::mutates)) takes an `idempotency-key`, and the first
/// answer to a key is kept for `ttl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idempotent {
    /// How long an answer is replayed.
    pub ttl: Duration,
}

impl Idempotent {
    /// `idempotency` alone: answers kept a day (arc's default).
    pub const DEFAULT: Idempotent = Idempotent {
        ttl: Duration::from_secs(24 * 60 * 60),
    };

    /// `idempotency(ttl = "..")`: answers kept `secs` seconds.
    pub const fn ttl_secs(secs: u64) -> Idempotent {
        Idempotent {
            ttl: Duration::from_secs(secs),
        }
    }
}

/// Where keys are kept.
#[derive(Clone)]
enum Store {
    Memory,
    Sql,
    Custom(Arc<dyn IdempotencyStore>),
}

/// The settings of idempotency keys (see [`App::idempotency`](crate::App::idempotency)):
/// where keys live and how long a lease holds. An app with a resource that declares
/// `idempotency` has it on with [`Idempotency::new`]'s defaults.
///
/// ```no_run
/// # fn f(app: arc_runtime::App) -> arc_runtime::App {
/// use std::time::Duration;
/// use arc_runtime::config::Idempotency;
/// // Keys in the app's own database, each marked in its write's transaction.
/// app.idempotency(Idempotency::new().sql().lease(Duration::from_secs(30)))
/// # }
/// ```
#[derive(Clone)]
#[must_use]
pub struct Idempotency {
    store: Store,
    lease: Duration,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.store {
            Store::Memory => "memory",
            Store::Sql => "sql",
            Store::Custom(_) => "custom",
        };
        f.debug_struct("Idempotency")
            .field("store", &store)
            .field("lease", &self.lease)
            .finish()
    }
}

impl Default for Idempotency {
    fn default() -> Self {
        Self::new()
    }
}

impl Idempotency {
    /// The default lease: longer than the default request timeout, so a request still
    /// running keeps its key until it is answered or cut off.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

    /// Keys in memory ([`InMemoryIdempotency`], one process), leases of
    /// [`Idempotency::DEFAULT_LEASE`].
    pub fn new() -> Self {
        Self {
            store: Store::Memory,
            lease: Self::DEFAULT_LEASE,
        }
    }

    /// Whether instances share the keys (the app's database does).
    pub(crate) fn shared(&self) -> bool {
        match &self.store {
            Store::Memory => false,
            Store::Sql => true,
            Store::Custom(store) => store.shared(),
        }
    }

    /// Keeps keys in `store` (e.g. arc-stores' `redis.idempotency()`, shared by instances).
    pub fn store(mut self, store: impl IdempotencyStore) -> Self {
        self.store = Store::Custom(Arc::new(store));
        self
    }

    /// Keeps keys in the app's own database, in the table `arc_idempotency` its
    /// migrations create; each key is marked in its write's own transaction, so a write
    /// that committed is never run again, even when its instance stops before answering.
    pub fn sql(mut self) -> Self {
        self.store = Store::Sql;
        self
    }

    /// How long a running request holds its key: past it (a crashed instance), the key is
    /// free again, and the slow attempt, should it reach its commit, rolls back. Keep it
    /// longer than the request timeout.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// Whether keys live in the app's database (so its migrations create the table).
    pub(crate) fn in_database(&self) -> bool {
        matches!(self.store, Store::Sql)
    }
}

/// The running plugin: the store, shared by every idempotent route of the app.
pub(crate) struct IdempotencyRuntime {
    store: Arc<dyn IdempotencyStore>,
    lease: Duration,
    body_limit: usize,
}

impl std::fmt::Debug for IdempotencyRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyRuntime")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl IdempotencyRuntime {
    /// The plugin with `settings` for an app over `db` whose bodies are at most `body_limit`.
    pub(crate) fn start(
        settings: Idempotency,
        db: sea_orm::DatabaseConnection,
        body_limit: usize,
    ) -> Arc<IdempotencyRuntime> {
        let store: Arc<dyn IdempotencyStore> = match settings.store {
            Store::Memory => Arc::new(InMemoryIdempotency::new()),
            Store::Sql => Arc::new(crate::stores::SqlIdempotency::new(db)),
            Store::Custom(store) => store,
        };
        Arc::new(IdempotencyRuntime {
            store,
            lease: settings.lease,
            body_limit,
        })
    }
}

/// One idempotent route: the middleware's state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    /// Its resource.
    pub(crate) meta: &'static ResourceMeta,
    /// Its action.
    pub(crate) action: Action,
    /// How long its answers are kept.
    pub(crate) ttl: Duration,
}

/// Marks a replayed answer in its extensions, for the metrics.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Replayed;

/// The key a client sent, if well-formed: 1 to [`MAX_KEY_LEN`] visible ASCII characters.
fn valid_key(value: &HeaderValue) -> Result<&str, ArcError> {
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(ArcError::bad_request(
            "The idempotency-key header must be 1 to 255 visible ASCII characters",
        ));
    }
    // Visible ASCII is UTF-8.
    value
        .to_str()
        .map_err(|_| ArcError::bad_request("The idempotency-key header is not ASCII"))
}

/// SHA-256 of `parts`, each length-prefixed so no two lists hash alike, in hex.
fn digest(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let bytes: [u8; 32] = hash.finalize().into();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key as the store keeps it: the resource, then a hash of who is asking (user, active
/// organization, and whether elevated) and the client's key, so keys of different callers
/// never meet and no caller's id is written into the store's keys.
fn scoped_key(meta: &ResourceMeta, caller: &AuthContext, key: &str) -> String {
    let user = caller.user_id.as_deref().unwrap_or_default();
    let org = caller.org_id.as_deref().unwrap_or_default();
    let scope = if caller.elevated {
        digest(&[user.as_bytes(), org.as_bytes(), key.as_bytes(), b"elevated"])
    } else {
        digest(&[user.as_bytes(), org.as_bytes(), key.as_bytes()])
    };
    format!("{}:{scope}", meta.name)
}

/// A JSON value with its objects' keys sorted, as text: the same body in any key order is
/// the same body.
fn canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(k) {
                    canonical(v, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// What the request is: method, route template, path (its parameters), body.
fn fingerprint(route: &Route, path: &str, body: &[u8]) -> String {
    let body_hash = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => {
            let mut text = String::with_capacity(body.len());
            canonical(&json, &mut text);
            digest(&[text.as_bytes()])
        }
        // Not JSON: the handler refuses it; the bytes are what was sent.
        Err(_) => digest(&[body]),
    };
    let template = route.action.path(route.meta.path);
    digest(&[
        route.action.method().as_str().as_bytes(),
        template.as_bytes(),
        path.as_bytes(),
        body_hash.as_bytes(),
    ])
}

/// An answer as the store keeps it.
#[derive(Serialize, Deserialize)]
struct Stored {
    status: u16,
    headers: Vec<(String, String)>,
    /// The body, base64.
    body: String,
}

impl Stored {
    fn of(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Stored {
        Stored {
            status: status.as_u16(),
            headers: KEPT_HEADERS
                .iter()
                .flat_map(|name| headers.get_all(name).iter().map(move |v| (name, v)))
                .filter_map(|(name, v)| {
                    Some((name.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                })
                .collect(),
            body: base64::engine::general_purpose::STANDARD.encode(body),
        }
    }

    fn into_response(self) -> Result<Response, String> {
        let body = base64::engine::general_purpose::STANDARD
            .decode(&self.body)
            .map_err(|e| e.to_string())?;
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = StatusCode::from_u16(self.status).map_err(|e| e.to_string())?;
        for (name, value) in self.headers {
            let name = HeaderName::try_from(name).map_err(|e| e.to_string())?;
            let value = HeaderValue::try_from(value).map_err(|e| e.to_string())?;
            response.headers_mut().append(name, value);
        }
        Ok(response)
    }
}

/// A store that could not answer: 503, failing closed.
fn unavailable(error: &StoreError) -> ArcError {
    tracing::error!(error = %error, "idempotency store unavailable");
    ArcError::new(
        ErrorCode::ServiceUnavailable,
        "Idempotency keys cannot be checked now; try again shortly",
    )
    .with_retry_after(RETRY_AFTER)
}

/// The lease of the keyed request running on this task.
struct Lease {
    store: Arc<dyn IdempotencyStore>,
    key: String,
    token: String,
    /// Checked in a transaction already (a request commits once).
    sealed: AtomicBool,
    /// Answered: what happens to the key is `settle`'s.
    settled: AtomicBool,
}

impl Drop for Lease {
    /// A request dropped before it was answered (cancelled, timed out, panicked) frees its
    /// key, unless its write may have committed (sealed): then the lease runs out instead.
    fn drop(&mut self) {
        if self.settled.load(Ordering::Acquire) || self.sealed.load(Ordering::Acquire) {
            return;
        }
        let (store, key, token) = (self.store.clone(), self.key.clone(), self.token.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = store.release(&key, &token).await {
                    tracing::warn!(error = %e, "idempotency key not released; its lease will run out");
                }
            });
        }
    }
}

tokio::task_local! {
    static LEASE: Arc<Lease>;
}

/// Whether the request being served holds an idempotency key that its write must seal (in
/// the write's transaction, so a write with one always has a transaction).
pub(crate) fn unsealed() -> bool {
    LEASE
        .try_with(|lease| !lease.sealed.load(Ordering::Acquire))
        .unwrap_or(false)
}

/// Called by every write just before its commit, in its transaction `txn`: when the request
/// carries an idempotency key, whether its lease still holds the key (see the module's
/// page). A lease lost means another attempt of the same request runs: this one rolls back.
pub(crate) async fn seal(txn: &DatabaseTransaction) -> Result<(), ArcError> {
    let Ok(lease) = LEASE.try_with(Arc::clone) else {
        return Ok(());
    };
    if lease.sealed.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    match lease.store.seal(txn, &lease.key, &lease.token).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ArcError::new(
            ErrorCode::IdempotencyConflict,
            "This request's hold on its idempotency key ran out and a retry took it over; nothing was written",
        )
        .with_retry_after(RETRY_AFTER)),
        Err(e) => Err(unavailable(&e)),
    }
}

/// The middleware of an idempotent route (see the module's page).
pub(crate) async fn layer(State(route): State<Route>, req: Request, next: Next) -> Response {
    let Some(value) = req.headers().get(&KEY_HEADER) else {
        return next.run(req).await;
    };
    let Some(runtime) = req.extensions().get::<Arc<IdempotencyRuntime>>().cloned() else {
        return next.run(req).await;
    };
    let key = match valid_key(value) {
        Ok(key) => key.to_owned(),
        Err(e) => return e.into_response(),
    };
    let caller = req.extensions().get::<Arc<AuthContext>>().cloned();
    let Some(caller) = caller.filter(|c| c.is_authenticated()) else {
        // Anonymous callers share no scope a key could be kept in safely.
        return ArcError::unauthorized("Idempotency keys need a signed-in caller").into_response();
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, runtime.body_limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return ArcError::new(ErrorCode::PayloadTooLarge, "Request body is too large")
                .into_response();
        }
    };
    let scoped = scoped_key(route.meta, &caller, &key);
    let fingerprint = fingerprint(&route, parts.uri.path(), &bytes);
    let token = uuid::Uuid::new_v4().simple().to_string();
    let claim = Claim {
        key: &scoped,
        fingerprint: &fingerprint,
        token: &token,
        lease: runtime.lease,
        ttl: route.ttl,
    };
    let operation = ResourceAction {
        resource: route.meta.name,
        action: route.action,
    };
    match runtime.store.begin(&claim).await {
        Err(e) => return unavailable(&e).into_response(),
        Ok(Begin::Started) => {}
        Ok(Begin::Replay(record)) => return replay(operation, &record),
        Ok(Begin::InFlight) => {
            return ArcError::new(
                ErrorCode::IdempotencyConflict,
                "A request with this idempotency key is still in progress",
            )
            .with_retry_after(RETRY_AFTER)
            .into_response();
        }
        Ok(Begin::Mismatch) => {
            return ArcError::new(
                ErrorCode::Unprocessable,
                "This idempotency key was used for a different request (method, path or body): use a new key",
            )
            .into_response();
        }
        Ok(Begin::Lost) => {
            return ArcError::new(
                ErrorCode::Conflict,
                "The request with this idempotency key was carried out, but its answer was not kept: read the resource to see its effect",
            )
            .into_response();
        }
    }
    let lease = Arc::new(Lease {
        store: runtime.store.clone(),
        key: scoped,
        token,
        sealed: AtomicBool::new(false),
        settled: AtomicBool::new(false),
    });
    let req = Request::from_parts(parts, Body::from(bytes));
    let response = LEASE.scope(lease.clone(), next.run(req)).await;
    settle(&lease, route.ttl, response).await
}

/// After the request ran: its answer kept for `ttl` (a 5xx frees the key instead), and sent.
async fn settle(lease: &Lease, ttl: Duration, response: Response) -> Response {
    lease.settled.store(true, Ordering::Release);
    if response.status().is_server_error() {
        if let Err(e) = lease.store.release(&lease.key, &lease.token).await {
            tracing::warn!(error = %e, "idempotency key not released; its lease will run out");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => return ArcError::internal(e).into_response(),
    };
    let record = Stored::of(parts.status, &parts.headers, &bytes);
    match serde_json::to_vec(&record) {
        Ok(record) => {
            if let Err(e) = lease
                .store
                .complete(&lease.key, &lease.token, &record, ttl)
                .await
            {
                // The answer still goes out; the key stays leased until its lease runs out.
                tracing::error!(error = %e, "idempotency: the answer was not kept");
            }
        }
        Err(e) => tracing::error!(error = %e, "idempotency: the answer could not be encoded"),
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// The kept answer `record`, marked replayed.
fn replay(operation: ResourceAction, record: &[u8]) -> Response {
    let stored = serde_json::from_slice::<Stored>(record)
        .map_err(|e| e.to_string())
        .and_then(Stored::into_response);
    let mut response = match stored {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "idempotency: a kept answer could not be read");
            return ArcError::internal(e).into_response();
        }
    };
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    response.extensions_mut().insert(operation);
    response.extensions_mut().insert(Replayed);
    tracing::debug!(resource = operation.resource, "idempotent answer replayed");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii() {
        let ok = |s: &str| valid_key(&HeaderValue::from_str(s).unwrap()).is_ok();
        assert!(ok("a"));
        assert!(ok(&"k".repeat(255)));
        assert!(ok("order-2024_01:~!"));
        assert!(!ok(&"k".repeat(256)));
        assert!(!ok("has space"));
        assert!(!ok("tab\there"));
        assert!(valid_key(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()).is_err());
        assert!(valid_key(&HeaderValue::from_static("")).is_err());
    }

    #[test]
    fn bodies_in_any_key_order_are_one_body() {
        let mut a = String::new();
        canonical(
            &serde_json::json!({"b": [1, {"y": 2, "x": 1}], "a": "\"q\""}),
            &mut a,
        );
        let mut b = String::new();
        canonical(
            &serde_json::json!({"a": "\"q\"", "b": [1, {"x": 1, "y": 2}]}),
            &mut b,
        );
        assert_eq!(a, b);
        assert_eq!(a, r#"{"a":"\"q\"","b":[1,{"x":1,"y":2}]}"#);
    }

    #[test]
    fn scopes_never_meet() {
        use crate::resource::Resource;
        let meta: &ResourceMeta = crate::audit::AuditRecord::META;
        let caller = |user: &str, org: Option<&str>| AuthContext {
            user_id: Some(user.into()),
            org_id: org.map(Into::into),
            ..AuthContext::default()
        };
        let a = scoped_key(meta, &caller("ada", Some("acme")), "k");
        assert_ne!(a, scoped_key(meta, &caller("bob", Some("acme")), "k"));
        assert_ne!(a, scoped_key(meta, &caller("ada", Some("globex")), "k"));
        assert_ne!(a, scoped_key(meta, &caller("ada", None), "k"));
        // Length prefixes: moving a byte from one part to the next is another scope.
        assert_ne!(
            scoped_key(meta, &caller("ad", Some("aacme")), "k"),
            scoped_key(meta, &caller("ada", Some("acme")), "k")
        );
        assert_eq!(a, scoped_key(meta, &caller("ada", Some("acme")), "k"));
    }
}
