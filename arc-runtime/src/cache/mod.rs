//! The query cache: the answers of a resource's reads, kept by what was asked and by what
//! the caller may see, and made old by writes.
//!
//! A resource turns it on with `#[resource(cache(stale = "30s", expire = "5m", tags = [..]))]`
//! ([`CacheMeta`]); its reads (list, get and the presets' reads) then go through [`read`]:
//!
//! - The **key** is the resource's (its name and a fingerprint of its fields, fixed at
//!   compile time) and a digest of the question: the SQL of the query the read would run,
//!   with its values (so the normalized query and everything that scopes the caller's rows,
//!   organization, owner and the rule's row filter, are in it), and the caller's field mask
//!   (what they may see of a row, what is redacted). Two callers share an answer exactly
//!   when the database would be asked the same thing and they would be shown the same fields.
//! - Every committed write **bumps** the version of its resource and of the tags the resource
//!   declares ([`CacheRuntime::bump`]), before it answers; an entry is stamped with the
//!   versions read before its query ran, and only served while they are current. So no read
//!   that starts after a write's answer is served what was there before it, on this instance
//!   or, with a shared store, on any other.
//! - Within `stale`, an entry is a `HIT`; after it, until `expire`, it is served `STALE` while
//!   one refresh runs in the background. Concurrent misses of one key (at one version) make
//!   one query (single flight); the others wait for its answer.
//! - A store that fails or is slow (Redis down) costs the cache, never the answer: the read
//!   runs as a `MISS` and nothing is kept. A write whose bump fails leaves its names
//!   *pending*: this instance reads them uncached, and retries the bump until it lands.
//! - A request asked before (the same route, path parameter, raw query and caller's view)
//!   finds its key in the [front index](front) and is answered by [`hit`] when the entry is
//!   fresh, without its query being parsed or its SQL built again.

mod entry;
mod front;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::action::{Action, Operation};
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::crud::response::Cached;
use crate::error::ArcError;
use crate::plugins::metrics::Metrics;
use crate::resource::ResourceMeta;
use crate::stores::{CacheStore, InMemoryCache, Lookup, StoreError};

pub(crate) use entry::Question;
use entry::{Entry, Freshness};
pub(crate) use front::Asked;
use front::FrontIndex;

/// The read the cache runs when it has no current answer, not yet started; it gives the
/// outcome's JSON body. Boxed, so the cache is compiled once rather than once per resource
/// and read.
type Compute = BoxFuture<'static, Result<Bytes, ArcError>>;

/// What `#[resource(cache(..))]` declares; the macro writes it into the resource's
/// [`ResourceMeta`].
#[derive(Clone, Copy, Debug)]
pub struct CacheMeta {
    /// How long an answer is served as fresh (`HIT`).
    pub stale: Duration,
    /// How long it is kept: after `stale`, it is served `STALE` and refreshed.
    pub expire: Duration,
    /// Names whose writes also make the answers old, beside the resource's own name.
    pub tags: &'static [&'static str],
    /// The resource's part of every key: its name and a fingerprint of its fields, so a
    /// build that changes the resource never reads what an older one kept.
    pub key: &'static str,
}

/// The settings the cache's unit tests use: fresh for 30 s, kept for 5 min.
#[cfg(test)]
const TEST_SETTINGS: CacheMeta = CacheMeta {
    stale: Duration::from_secs(30),
    expire: Duration::from_secs(300),
    tags: &[],
    key: "product@0",
};

/// The largest answer kept (1 MiB); a larger one is answered, and asked again next time.
const MAX_KEPT: usize = 1024 * 1024;

/// The header that says how the cache answered.
pub(crate) const X_CACHE: &str = "x-cache";

/// What the cache said of an answer: `x-cache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CacheStatus {
    /// Kept and fresh.
    Hit,
    /// Kept, past `stale`: served while a refresh runs.
    Stale,
    /// Not kept (or not current): asked of the database.
    Miss,
}

impl CacheStatus {
    /// The header's value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Stale => "STALE",
            Self::Miss => "MISS",
        }
    }
}

/// The query cache's settings: where entries and versions live, and how long a lookup may
/// take before the read goes on without it.
///
/// An app with a resource that declares `cache` gets one on its own (in memory, 64 MiB);
/// apps that run several instances give it a shared store:
///
/// ```no_run
/// # fn f(app: arc_runtime::App, store: arc_runtime::config::InMemoryCache) -> arc_runtime::App {
/// use arc_runtime::config::Cache;
/// app.cache(Cache::new().store(store)) // arc_stores::Redis::cache() across instances
/// # }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until it is given to the app"]
pub struct Cache {
    store: Arc<dyn CacheStore>,
    timeout: Duration,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("shared", &self.store.shared())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Default for Cache {
    fn default() -> Self {
        Self::new()
    }
}

impl Cache {
    /// The default time a store may take to answer: 250 ms.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

    /// The default: in memory, at most 64 MiB of entries.
    pub fn new() -> Self {
        Self {
            store: Arc::new(InMemoryCache::default()),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Keeps entries and versions in `store`.
    pub fn store(mut self, store: impl CacheStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// How long a lookup, a put or a bump may take; past it the store counts as failed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether instances share the store.
    pub fn shared(&self) -> bool {
        self.store.shared()
    }
}

/// A write's bump, armed before its commit (see [`CacheRuntime::before_commit`]).
#[must_use = "run the bump after the commit"]
pub(crate) struct Bump {
    cache: Option<Arc<CacheRuntime>>,
    meta: &'static ResourceMeta,
}

impl Bump {
    /// Bumps, in a task of its own (so dropping this future does not stop it), and waits
    /// for it: the write answers after its bump.
    pub(crate) async fn run(mut self) {
        if let Some(cache) = self.cache.take() {
            let meta = self.meta;
            let task = tokio::spawn(async move { cache.bump(meta).await });
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "cache: a write's bump task failed");
            }
        }
    }
}

impl Drop for Bump {
    fn drop(&mut self) {
        // Dropped armed: the request went away between the commit and its bump.
        if let (Some(cache), Ok(runtime)) =
            (self.cache.take(), tokio::runtime::Handle::try_current())
        {
            let meta = self.meta;
            runtime.spawn(async move { cache.bump(meta).await });
        }
    }
}

/// A computation of an answer in flight, which concurrent misses of its key wait for:
/// its answer, or `None` when it failed (each waiter then asks on its own).
type Flight = Arc<OnceCell<Option<Answer>>>;

/// Takes a flight out of the map when the last caller that joined it is done with it, or
/// dropped (the map holds a flight only while someone computes or waits for it; a newer one
/// under the key stays).
struct Leave<'a> {
    flights: &'a Mutex<HashMap<String, Flight>>,
    key: &'a str,
    flight: &'a Flight,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        // Callers take their handle under this lock: the map's and this caller's are the
        // last two when nobody else is in the flight.
        if flights
            .get(self.key)
            .is_some_and(|f| Arc::ptr_eq(f, self.flight) && Arc::strong_count(f) <= 2)
        {
            flights.remove(self.key);
        }
    }
}

/// The cache at work: the store, the flights, the names whose bump is pending.
pub(crate) struct CacheRuntime {
    store: Arc<dyn CacheStore>,
    timeout: Duration,
    /// Names some cached resource reads (its own, its tags): only their versions are bumped.
    watched: HashSet<&'static str>,
    flights: Mutex<HashMap<String, Flight>>,
    /// Names whose bump failed: read uncached here until a bump of them lands.
    pending: Mutex<HashSet<&'static str>>,
    /// Whether a task retries the pending bumps.
    retrying: AtomicBool,
    /// The keys of the questions requests asked.
    front: FrontIndex,
    metrics: Option<Metrics>,
    /// Whether the app tags its answers: entries then keep their body's digest.
    digests: bool,
    /// By resource: the names of the resources that reference it through a nullable field.
    /// Deleting one of its rows sets those references to `NULL` (the database's foreign
    /// key), so a write of it bumps them too (a create or an update costs them one miss).
    nulled: HashMap<&'static str, Vec<&'static str>>,
}

impl std::fmt::Debug for CacheRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheRuntime")
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

/// Every name whose version answers of `meta` depend on: its own, its tags, and the
/// resources its references populate (an answer may embed their rows, so their writes make
/// it old too). Without either, borrowed: the common read allocates nothing for them.
fn names(meta: &'static ResourceMeta) -> Cow<'static, [&'static str]> {
    names_of(meta, true)
}

/// The names a write to `meta` bumps: its own and its tags. Not the resources it populates:
/// their answers do not embed its rows.
fn written(meta: &'static ResourceMeta) -> Cow<'static, [&'static str]> {
    names_of(meta, false)
}

/// `meta`'s name and tags, and with `populated` the names of the resources it embeds.
fn names_of(meta: &'static ResourceMeta, populated: bool) -> Cow<'static, [&'static str]> {
    let tags = meta.cache.map_or(&[][..], |c| c.tags);
    let mut populated = meta
        .fields
        .iter()
        .filter(|f| populated && f.populate.is_some())
        .filter_map(|f| f.references)
        .peekable();
    if tags.is_empty() && populated.peek().is_none() {
        return Cow::Borrowed(std::slice::from_ref(&meta.name));
    }
    let mut names = vec![meta.name];
    for name in tags
        .iter()
        .copied()
        .chain(populated.map(|target| target().name))
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Cow::Owned(names)
}

impl CacheRuntime {
    /// The cache of an app serving `resources`; `None` when none of them is cached. With
    /// `digests` (the app tags its answers) entries keep their body's digest.
    pub(crate) fn start(
        settings: Option<Cache>,
        resources: &[&'static ResourceMeta],
        metrics: Option<Metrics>,
        digests: bool,
    ) -> Option<Arc<Self>> {
        let watched: HashSet<&'static str> = resources
            .iter()
            .filter(|meta| meta.cache.is_some())
            .flat_map(|meta| names(meta).into_owned())
            .collect();
        if watched.is_empty() {
            return None;
        }
        let mut nulled: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
        for meta in resources {
            for field in meta.fields.iter().filter(|f| f.nullable) {
                if let Some(target) = field.references {
                    let names = nulled.entry(target().name).or_default();
                    for name in written(meta).iter() {
                        if !names.contains(name) {
                            names.push(name);
                        }
                    }
                }
            }
        }
        let settings = settings.unwrap_or_default();
        Some(Arc::new(Self {
            digests,
            nulled,
            store: settings.store,
            timeout: settings.timeout,
            watched,
            flights: Mutex::default(),
            pending: Mutex::default(),
            retrying: AtomicBool::new(false),
            front: FrontIndex::new(),
            metrics,
        }))
    }

    /// Runs a store call within the timeout (a call that answers at once, as the in-memory
    /// store's do, sets no timer).
    async fn within<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let mut call = std::pin::pin!(call);
        if let Some(answer) = call.as_mut().now_or_never() {
            return answer;
        }
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| Err(StoreError::new("the cache store did not answer in time")))
    }

    /// The bump of a write of `meta`, taken before its commit: [`Bump::run`] after the
    /// commit; if the request is dropped first (a timeout, a client gone), the bump still
    /// runs, in a task of its own, so no committed write goes without one.
    pub(crate) fn before_commit(self: &Arc<Self>, meta: &'static ResourceMeta) -> Bump {
        Bump {
            cache: Some(Arc::clone(self)),
            meta,
        }
    }

    /// Makes every answer that depends on `meta`'s writes old. A failed bump leaves the names
    /// pending (read uncached here, bumped again until it lands).
    async fn bump(self: &Arc<Self>, meta: &'static ResourceMeta) {
        let nulled = self.nulled.get(meta.name).map_or(&[][..], Vec::as_slice);
        let mut names: Vec<&'static str> = Vec::new();
        for &name in written(meta).iter().chain(nulled) {
            if self.watched.contains(name) && !names.contains(&name) {
                names.push(name);
            }
        }
        if names.is_empty() {
            return;
        }
        if let Err(e) = self.within(self.store.bump(&names)).await {
            tracing::warn!(error = %e, resource = meta.name, "cache: a write's bump failed; its reads go uncached here until it lands");
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(names);
            self.retry();
        }
    }

    /// Bumps the pending names again (a task, one at a time) until it lands.
    fn retry(self: &Arc<Self>) {
        if self.retrying.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            let mut wait = Duration::from_millis(50);
            loop {
                if cache.flush().await {
                    break;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            cache.retrying.store(false, Ordering::Release);
            // A bump that failed between the last flush and the flag's release.
            if cache.has_pending() {
                cache.retry();
            }
        });
    }

    fn has_pending(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Bumps the pending names; whether none is left.
    async fn flush(&self) -> bool {
        let names: Vec<&'static str> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .copied()
            .collect();
        if names.is_empty() {
            return true;
        }
        match self.within(self.store.bump(&names)).await {
            Ok(()) => {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                for name in &names {
                    pending.remove(name);
                }
                tracing::info!(names = ?names, "cache: pending bumps landed");
                pending.is_empty()
            }
            Err(_) => false,
        }
    }

    /// Whether any of `names` waits for its bump.
    fn is_pending(&self, names: &[&'static str]) -> bool {
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        !pending.is_empty() && names.iter().any(|n| pending.contains(n))
    }

    fn count(&self, meta: &'static ResourceMeta, status: CacheStatus) {
        if let Some(metrics) = &self.metrics {
            let resource = meta.name;
            metrics.record(|| match status {
                CacheStatus::Hit => {
                    metrics::counter!("arc_cache_hits_total", "resource" => resource, "state" => "fresh")
                        .increment(1);
                }
                CacheStatus::Stale => {
                    metrics::counter!("arc_cache_hits_total", "resource" => resource, "state" => "stale")
                        .increment(1);
                }
                CacheStatus::Miss => {
                    metrics::counter!("arc_cache_misses_total", "resource" => resource).increment(1);
                }
            });
        }
    }

    /// The versions of `names` and the entry at `key`; `None` when the store cannot say.
    /// A version never set, or lost (a restart, an eviction), reads 0: no entry can be
    /// trusted against it, so it is set (above every version handed out before) and read
    /// again.
    async fn look_up(&self, key: &str, names: &[&'static str]) -> Option<Lookup> {
        let mut lookup = self.within(self.store.lookup(key, names)).await;
        if let Ok(found) = &lookup
            && found.versions.contains(&0)
        {
            let unknown: Vec<&'static str> = names
                .iter()
                .zip(&found.versions)
                .filter(|(_, v)| **v == 0)
                .map(|(n, _)| *n)
                .collect();
            lookup = match self.within(self.store.bump(&unknown)).await {
                Ok(()) => self.within(self.store.lookup(key, names)).await,
                Err(e) => Err(e),
            };
        }
        match lookup {
            Ok(found) if !found.versions.contains(&0) => Some(found),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(error = %e, key, "cache: lookup failed; reading uncached");
                None
            }
        }
    }

    /// The answer to `question`, from the cache or from `compute` (see the module's doc):
    /// its body, and what the cache said. `asked` is the request that asks it, for the front
    /// index (with what [`hit`] found).
    async fn answer(
        self: &Arc<Self>,
        meta: &'static ResourceMeta,
        settings: CacheMeta,
        asked: Option<Asked>,
        question: Question,
        compute: Compute,
    ) -> Result<Answer, ArcError> {
        let names = names(meta);
        let key: Arc<str> = Arc::from(question.key(settings.key));
        let mut found = None;
        if let Some(mut asked) = asked {
            found = asked.found.take().filter(|(k, _)| *k == key);
            if found.is_none() {
                self.front.insert(asked, Arc::clone(&key));
            }
        }
        let lookup = match found {
            // Asked of the store a moment ago, at this key.
            Some((_, lookup)) => lookup,
            None if self.is_pending(&names) => None,
            None => self.look_up(&key, &names).await,
        };
        let Some(lookup) = lookup else {
            // No versions to stamp an entry with: answer, keep nothing.
            self.count(meta, CacheStatus::Miss);
            return Ok(Answer::computed(compute.await?));
        };
        let kept = lookup.entry.and_then(Entry::decode);
        match kept.map(|e| (e.freshness(&lookup.versions, settings), e)) {
            Some((Freshness::Fresh, e)) => {
                self.count(meta, CacheStatus::Hit);
                Ok(Answer::kept(e, CacheStatus::Hit))
            }
            Some((Freshness::Stale, e)) => {
                self.count(meta, CacheStatus::Stale);
                self.refresh(settings, key, lookup.versions, compute);
                Ok(Answer::kept(e, CacheStatus::Stale))
            }
            Some((Freshness::Old, _)) | None => {
                self.count(meta, CacheStatus::Miss);
                self.fly(settings, &key, lookup.versions, compute).await
            }
        }
    }

    /// Computes the answer at `key` for the `versions` read before it, once for every
    /// concurrent caller, and keeps it (a `MISS`, with the digest of what was kept).
    async fn fly(
        &self,
        settings: CacheMeta,
        key: &str,
        versions: Vec<u64>,
        compute: Compute,
    ) -> Result<Answer, ArcError> {
        let flight_key = entry::flight_key(key, &versions);
        let flight = Arc::clone(
            self.flights
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(flight_key.clone())
                .or_default(),
        );
        // Leaves the map when this caller is done, or dropped (a timeout, a client gone): a
        // flight nobody waits for never stays.
        let _leave = Leave {
            flights: &self.flights,
            key: &flight_key,
            flight: &flight,
        };
        let mut compute = Some(compute);
        let mut failure = None;
        let shared = flight
            .get_or_init(|| async {
                let compute = compute.take()?;
                match self
                    .compute_and_keep(settings, key, &versions, compute)
                    .await
                {
                    Ok(answer) => Some(answer),
                    Err(e) => {
                        failure = Some(e);
                        None
                    }
                }
            })
            .await
            .clone();
        match (shared, failure, compute) {
            (Some(answer), _, _) => Ok(answer),
            (None, Some(e), _) => Err(e),
            // The flight this caller joined failed: it asks on its own.
            (None, None, Some(compute)) => compute.await.map(Answer::computed),
            (None, None, None) => Err(ArcError::internal(StoreError::new(
                "a cache flight ended without an answer",
            ))),
        }
    }

    /// Runs `compute`, keeps its answer stamped with `versions`, and gives it, with the
    /// digest the entry keeps (its ETag is made from it: the body is digested once).
    async fn compute_and_keep(
        &self,
        settings: CacheMeta,
        key: &str,
        versions: &[u64],
        compute: Compute,
    ) -> Result<Answer, ArcError> {
        let body = compute.await?;
        if body.len() > MAX_KEPT {
            // Served, not kept: one answer must not crowd out a store's worth of others.
            return Ok(Answer::computed(body));
        }
        let entry = Entry::new(versions, body.clone(), self.digests);
        let digest = entry.digest();
        if let Err(e) = self
            .within(self.store.put(key, entry.encode(), settings.expire))
            .await
        {
            tracing::debug!(error = %e, "cache: keeping an answer failed");
        }
        Ok(Answer {
            body,
            status: CacheStatus::Miss,
            digest,
        })
    }

    /// Refreshes the stale entry at `key` in the background, unless a refresh of it runs.
    fn refresh(
        self: &Arc<Self>,
        settings: CacheMeta,
        key: Arc<str>,
        versions: Vec<u64>,
        compute: Compute,
    ) {
        let flight_key = entry::flight_key(&key, &versions);
        if self
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&flight_key)
        {
            return;
        }
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = cache.fly(settings, &key, versions, compute).await {
                tracing::debug!(error = %e, "cache: refreshing a stale answer failed");
            }
        });
    }
}

/// How the cache answered: the body, what it said (`x-cache`) and, for an answer kept (found
/// or made and kept), the body's digest (for its ETag).
#[derive(Clone)]
struct Answer {
    body: Bytes,
    status: CacheStatus,
    digest: Option<u64>,
}

impl Answer {
    /// The body of a kept entry.
    fn kept(entry: Entry, status: CacheStatus) -> Self {
        Self {
            digest: entry.digest(),
            body: entry.body,
            status,
        }
    }

    /// A body computed for this request and not kept (a `MISS`).
    fn computed(body: Bytes) -> Self {
        Self {
            body,
            status: CacheStatus::Miss,
            digest: None,
        }
    }
}

/// Whether reads of `meta`'s resource go through the cache: it declares one and the app
/// keeps it. The reads ask their [`Question`] only then.
pub(crate) fn caches(meta: &ResourceMeta, state: &ArcState) -> bool {
    meta.cache.is_some() && state.cache().is_some()
}

/// What a read by `action` (under the rule of `op`) of `meta`'s resource asks, with the
/// route's `params` (its path parameter, its raw query), for the front index: `None` when its
/// reads are not cached, or when the rule or a read hook calls the app's code, or the get
/// rule or read hook of a resource its references populate does (see [`front`]). Taken after the route's permission is
/// checked.
pub(crate) fn asked(
    meta: &ResourceMeta,
    state: &ArcState,
    op: Operation,
    action: Action,
    params: &[Option<&str>],
    caller: &AuthContext,
) -> Option<Asked> {
    meta.cache?;
    state.cache()?;
    // The app's code decides what is read: its answer may change with more than the caller.
    let calls_app = |meta: &ResourceMeta, op| {
        meta.permissions.rule(op).calls_app() || meta.read_hooks.is_some()
    };
    let populated_calls_app = || {
        meta.fields
            .iter()
            .filter(|f| f.populate.is_some())
            .filter_map(|f| f.references)
            .any(|target| calls_app(target(), Operation::Get))
    };
    if calls_app(meta, op) || populated_calls_app() {
        return None;
    }
    Some(Asked::new(meta, action, params, caller))
}

/// The fresh answer to what was `asked`, when a request alike asked it before and its entry
/// is current and fresh (a `HIT`); else `None`, and the read goes on (from what was found).
pub(crate) async fn hit<O>(
    meta: &'static ResourceMeta,
    state: &ArcState,
    asked: Option<&mut Asked>,
) -> Option<Cached<O>> {
    let (asked, cache, settings) = (asked?, state.cache()?, meta.cache?);
    let key = cache.front.get(asked)?;
    let names = names(meta);
    if cache.is_pending(&names) {
        return None;
    }
    let lookup = cache.look_up(&key, &names).await;
    let fresh = lookup.as_ref().and_then(|found| {
        let entry = Entry::decode(found.entry.clone()?)?;
        (entry.freshness(&found.versions, settings) == Freshness::Fresh).then_some(entry)
    });
    match fresh {
        Some(entry) => {
            cache.count(meta, CacheStatus::Hit);
            let digest = entry.digest();
            Some(Cached::Kept {
                body: entry.body,
                status: CacheStatus::Hit,
                digest,
            })
        }
        None => {
            asked.found = Some((key, lookup));
            None
        }
    }
}

/// The answer of a read of `meta`'s resource to `question` (asked when [`caches`] says so): from the cache,
/// else `compute`d as always ([`Cached::Direct`]). `asked` is the request's entry in the front
/// index (from [`asked`], after [`hit`] found no fresh answer): its key is noted, and what
/// [`hit`] found is used rather than asked again. `compute` gets its own state so a stale
/// answer can be refreshed after the request is gone.
pub(crate) async fn read<O, F, Fut>(
    meta: &'static ResourceMeta,
    state: &ArcState,
    asked: Option<Asked>,
    question: Option<Question>,
    compute: F,
) -> Result<Cached<O>, ArcError>
where
    O: Serialize + Send + 'static,
    F: FnOnce(ArcState) -> Fut + Send + 'static,
    Fut: Future<Output = Result<O, ArcError>> + Send + 'static,
{
    match (meta.cache, state.cache(), question) {
        (Some(settings), Some(cache), Some(question)) => {
            // The cache itself is not generic: it runs one boxed computation of the body.
            let compute: Compute = {
                let state = state.clone();
                async move { entry::body(&compute(state).await?) }.boxed()
            };
            let Answer {
                body,
                status,
                digest,
            } = cache
                .answer(meta, settings, asked, question, compute)
                .await?;
            Ok(Cached::Kept {
                body,
                status,
                digest,
            })
        }
        _ => compute(state.clone()).await.map(Cached::Direct),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{FieldMeta, FieldType};

    const TARGET: ResourceMeta = ResourceMeta::testing(
        "category",
        "categories",
        &[FieldMeta::new("id", FieldType::Uuid).id()],
    );
    const EMBEDDING: ResourceMeta = ResourceMeta {
        cache: Some(CacheMeta {
            tags: &["catalog"],
            ..TEST_SETTINGS
        }),
        ..ResourceMeta::testing(
            "product",
            "products",
            &[
                FieldMeta::new("id", FieldType::Uuid).id(),
                FieldMeta::new("category_id", FieldType::Uuid)
                    .references(|| &TARGET)
                    .populate("category"),
            ],
        )
    };

    /// A `MISS` that keeps its answer gives the digest it kept, of the very body it serves
    /// (the ETag is made from it without digesting the body again); one too large to keep
    /// gives none (its tag digests the body).
    #[tokio::test]
    async fn a_kept_miss_carries_the_digest_of_its_own_body() {
        static CACHED: ResourceMeta = ResourceMeta {
            cache: Some(TEST_SETTINGS),
            ..TARGET
        };
        let cache = CacheRuntime::start(None, &[&CACHED], None, true).expect("a cached resource");
        let body = Bytes::from_static(br#"{"success":true,"docs":[]}"#);
        let made = body.clone();
        let answer = cache
            .fly(TEST_SETTINGS, "k", vec![1], async move { Ok(made) }.boxed())
            .await
            .expect("an answer");
        assert_eq!(answer.status, CacheStatus::Miss);
        assert_eq!(answer.digest, Some(crate::plugins::etag::digest(&body)));
        assert_eq!(
            answer.body.as_ptr(),
            body.as_ptr(),
            "the body computed, not a copy"
        );

        let large = Bytes::from(vec![b' '; MAX_KEPT + 1]);
        let made = large.clone();
        let answer = cache
            .fly(
                TEST_SETTINGS,
                "big",
                vec![1],
                async move { Ok(made) }.boxed(),
            )
            .await
            .expect("an answer");
        assert_eq!((answer.status, answer.digest), (CacheStatus::Miss, None));

        // An app without ETags keeps no digest, and so carries none.
        let untagged = CacheRuntime::start(None, &[&CACHED], None, false).expect("cached");
        let made = body.clone();
        let answer = untagged
            .fly(TEST_SETTINGS, "k", vec![1], async move { Ok(made) }.boxed())
            .await
            .expect("an answer");
        assert_eq!(answer.digest, None);
    }

    #[test]
    fn reads_depend_on_what_they_embed_and_writes_bump_only_their_own() {
        assert_eq!(&*names(&EMBEDDING), ["product", "catalog", "category"]);
        assert_eq!(&*written(&EMBEDDING), ["product", "catalog"]);
        assert!(matches!(names(&TARGET), Cow::Borrowed(["category"])));
    }
}
