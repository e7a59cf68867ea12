//! `GET /events/stream`: the events a caller may see, as Server-Sent Events.
//!
//! Authenticated (401 without credentials, whatever the resources' rules say). Each event is
//! checked against the caller as a list of its rows would be: the resource's `list` and `get`
//! rules and their row filters, the tenant (the caller's active organization), the owner
//! preset; its row is the row as the writer's field rules let the event keep it, narrowed
//! again by the reader's (no hidden field, `visible_to` and `redact_for` applied): a reader
//! never sees more than a `GET` would show them, and may see less (an admin does not see an
//! admin-only field of a row an editor wrote). The writer's user id is not sent. `?events=product.*,order.*`
//! narrows the types; `Last-Event-ID` resumes from the outbox (within its retention, from ids
//! this server gave this caller); a heartbeat comment keeps proxies from closing an idle
//! stream; a client that falls more than a buffer behind is disconnected (it reconnects with
//! `Last-Event-ID`) rather than buffered without bound. An instance keeps a bounded number of
//! streams open; each closes at its lifetime or its token's expiry (the client reconnects and
//! is authenticated again), and at shutdown.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};
use tokio::sync::broadcast;

use super::outbox;
use super::{Delivery, Event, EventPattern, EventsRuntime};
use crate::app::ArcState;
use crate::auth::{AuthContext, Caller};
use crate::crud::response::mask;
use crate::error::{ArcError, ErrorCode};
use crate::permissions::{Access, Answers, evaluate};
use crate::resource::{ResourceMeta, Shape};

/// Rows read from the outbox per resume query.
const REPLAY_PAGE: u64 = 256;

/// The handler.
pub(crate) async fn stream(
    State(state): State<ArcState>,
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match open(&state, caller.0, &headers, query.as_deref()).await {
        Ok(sse) => sse.into_response(),
        Err(e) => e.into_response(),
    }
}

/// How long a stream waits for the feed of a starting app (see [`FEED_START`]).
const FEED_START: Duration = Duration::from_secs(5);

/// Opens a stream for `caller`, or says why not (404 without events, 401, 400 for the
/// query, 503 when the instance has all the streams it keeps or its feed is not up yet).
async fn open(
    state: &ArcState,
    caller: Arc<AuthContext>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>> + use<>>, ArcError> {
    let runtime = runtime_for(state, &caller)?;
    let patterns = patterns(query, true)?;
    let ids = Ids::new(state.cursor_key().clone(), &caller);
    // An id this server did not give this caller resumes nothing (it is no error: browsers
    // resend what they got): nobody reads history by naming a position.
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| ids.position(v.trim()));
    let tail = Tail::open(&runtime, caller, patterns, resume).await?;
    let events = futures_util::stream::unfold((tail, ids), |(mut tail, ids)| async move {
        let (seq, body) = tail.next().await.ok()?;
        let name = body["type"].as_str().unwrap_or_default().to_owned();
        let event = SseEvent::default()
            .id(ids.id(seq))
            .event(name)
            .data(body.to_string());
        Some((Ok(event), (tail, ids)))
    });
    Ok(Sse::new(events).keep_alive(
        KeepAlive::new()
            .interval(runtime.settings.heartbeat)
            .text("heartbeat"),
    ))
}

/// The events plugin for an authenticated `caller` (404 without events, 401 anonymous).
pub(super) fn runtime_for(
    state: &ArcState,
    caller: &AuthContext,
) -> Result<Arc<EventsRuntime>, ArcError> {
    let runtime = state
        .events()
        .cloned()
        .ok_or_else(|| ArcError::not_found("Route not found"))?;
    if !caller.is_authenticated() {
        return Err(ArcError::unauthorized("Authentication required"));
    }
    Ok(runtime)
}

/// The most event patterns one stream follows.
pub(super) const MAX_PATTERNS: usize = 64;

/// `?events=a,b`: the patterns a stream is narrowed to (without it, every event when `all`,
/// none otherwise). Any other parameter is a 400, like an unknown list parameter.
pub(super) fn patterns(query: Option<&str>, all: bool) -> Result<Vec<EventPattern>, ArcError> {
    let mut out = Vec::new();
    for (key, value) in query_pairs(query.unwrap_or("")) {
        if key != "events" {
            return Err(ArcError::bad_request(format!(
                "unknown query parameter `{key}` (the stream takes `events`)"
            )));
        }
        for pattern in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let pattern = pattern
                .parse::<EventPattern>()
                .map_err(|e| ArcError::bad_request(e.to_string()))?;
            if !out.contains(&pattern) {
                out.push(pattern);
            }
            if out.len() > MAX_PATTERNS {
                return Err(ArcError::bad_request(format!(
                    "at most {MAX_PATTERNS} event patterns"
                )));
            }
        }
    }
    if out.is_empty() && all {
        out.push(EventPattern::all());
    }
    Ok(out)
}

/// The pairs of a query string, percent-decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(text: &str) -> String {
    let text = text.replace('+', " ");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Why a stream ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    /// Its lifetime, or the caller's credentials, ran out: the client authenticates again.
    Expired,
    /// The app is stopping.
    Shutdown,
    /// The client fell more than a buffer behind.
    Behind,
    /// The outbox could not be read for a resume.
    Unavailable,
}

/// A stream's state: the resume still to replay, then the live events.
pub(super) struct Tail {
    live: broadcast::Receiver<Arc<Delivery>>,
    replay: VecDeque<Delivery>,
    /// The position of the last event passed on (or skipped): publication positions only
    /// grow, so anything at or below it is a duplicate.
    floor: i64,
    /// Replay from the outbox up to this position (what the feed had sent before the stream
    /// subscribed); `None` once done.
    replay_until: Option<i64>,
    caller: Arc<AuthContext>,
    /// The event types passed on.
    pub(super) patterns: Vec<EventPattern>,
    /// When the stream closes: its lifetime, or the caller's credentials' expiry, if sooner.
    /// The client reconnects (authenticated again) and resumes.
    ends: tokio::time::Instant,
    /// The app is stopping: streams close so draining does not wait for them.
    stop: tokio::sync::watch::Receiver<bool>,
    runtime: Arc<EventsRuntime>,
    _slot: StreamSlot,
}

impl Tail {
    /// Whose stream it is.
    pub(super) fn caller(&self) -> &AuthContext {
        &self.caller
    }

    /// A stream of `runtime`'s events for `caller`, narrowed to `patterns`, resuming after
    /// position `resume` when given (and still in the outbox). 503 when the instance has all
    /// the streams it keeps or its feed is not up yet.
    pub(super) async fn open(
        runtime: &Arc<EventsRuntime>,
        caller: Arc<AuthContext>,
        patterns: Vec<EventPattern>,
        resume: Option<i64>,
    ) -> Result<Tail, ArcError> {
        let slot = StreamSlot::take(runtime).ok_or_else(|| {
            ArcError::new(
                ErrorCode::ServiceUnavailable,
                "Too many open event streams, try again",
            )
            .with_retry_after(5)
        })?;
        let ends = stream_end(runtime, &caller);
        // Subscribe, then read where the feed is: what it sends from now on is past that
        // position; what it sent before is in the outbox, for a resume to read.
        let live = runtime.subscribe();
        let fed = runtime.fed_until(FEED_START).await.ok_or_else(|| {
            ArcError::new(
                ErrorCode::ServiceUnavailable,
                "The event stream is starting, try again",
            )
            .with_retry_after(1)
        })?;
        let (floor, replay_until) = match resume {
            Some(after) if after < fed => (after, Some(fed)),
            _ => (fed, None),
        };
        Ok(Tail {
            live,
            replay: VecDeque::new(),
            floor,
            replay_until,
            caller,
            patterns,
            ends,
            stop: runtime.stopping(),
            runtime: runtime.clone(),
            _slot: slot,
        })
    }
}

/// When a stream for `caller` closes.
fn stream_end(runtime: &EventsRuntime, caller: &AuthContext) -> tokio::time::Instant {
    let lifetime = runtime.settings.stream_lifetime;
    let until_expiry = caller.expires_at.map(|at| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Duration::from_secs(at.saturating_sub(now))
    });
    tokio::time::Instant::now() + until_expiry.map_or(lifetime, |left| left.min(lifetime))
}

/// One of the instance's open streams, given back on drop.
struct StreamSlot(Arc<EventsRuntime>);

impl StreamSlot {
    fn take(runtime: &Arc<EventsRuntime>) -> Option<StreamSlot> {
        use std::sync::atomic::Ordering::SeqCst;
        let max = runtime.settings.max_streams;
        runtime
            .streams
            .fetch_update(SeqCst, SeqCst, |n| (n < max).then_some(n + 1))
            .ok()
            .map(|_| StreamSlot(runtime.clone()))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0
            .streams
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The `id:` of a stream's events: the publication position, enciphered and signed for the
/// caller (their user and organization) with the app's cursor secret. `Last-Event-ID`
/// resumes only from where this server told this caller it was, and the ids tell nothing:
/// not how many events others' writes made in between (a count of rows the caller cannot
/// see), nor where another caller's stream is.
///
/// Wire form: `base64url(enciphered position (8 bytes) ‖ first 8 bytes of its MAC)`. The
/// cipher is a 4-round Feistel network over the 64-bit position whose round function is the
/// HMAC (a pseudorandom permutation, Luby-Rackoff).
struct Ids {
    key: crate::query::CursorKey,
    audience: String,
}

impl Ids {
    fn new(key: crate::query::CursorKey, caller: &AuthContext) -> Ids {
        let audience = format!(
            "{}|{}",
            caller.user_id.as_deref().unwrap_or(""),
            caller.org_id.as_deref().unwrap_or("")
        );
        Ids { key, audience }
    }

    fn id(&self, position: i64) -> String {
        use base64::Engine;
        let sealed = self.permute(position.cast_unsigned(), true).to_be_bytes();
        let tag = self.tag(&sealed);
        let mut wire = [0u8; 16];
        wire[..8].copy_from_slice(&sealed);
        wire[8..].copy_from_slice(&tag);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(wire)
    }

    fn position(&self, id: &str) -> Option<i64> {
        use base64::Engine;
        if id.len() != 22 {
            return None;
        }
        let wire = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(id)
            .ok()?;
        let (sealed, tag) = wire.split_at_checked(8)?;
        let sealed: [u8; 8] = sealed.try_into().ok()?;
        // Constant time: the comparison says nothing of how much of a forged tag was right.
        let expected = self.tag(&sealed);
        if tag.len() != expected.len()
            || tag.iter().zip(expected).fold(0u8, |d, (a, b)| d | (a ^ b)) != 0
        {
            return None;
        }
        let position = self
            .permute(u64::from_be_bytes(sealed), false)
            .cast_signed();
        (position >= 0).then_some(position)
    }

    fn tag(&self, sealed: &[u8; 8]) -> [u8; 8] {
        let mac = self
            .key
            .mac(&[b"arc events id", self.audience.as_bytes(), sealed]);
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&mac[..8]);
        tag
    }

    /// The Feistel network, forward (enciphering) or back.
    fn permute(&self, value: u64, forward: bool) -> u64 {
        let round = |i: u8, half: u32| {
            let mac = self.key.mac(&[
                b"arc events round",
                self.audience.as_bytes(),
                &[i],
                &half.to_be_bytes(),
            ]);
            u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]])
        };
        let (mut left, mut right) = ((value >> 32) as u32, value as u32);
        if forward {
            for i in 0..ROUNDS {
                (left, right) = (right, left ^ round(i, right));
            }
        } else {
            for i in (0..ROUNDS).rev() {
                (left, right) = (right ^ round(i, left), left);
            }
        }
        (u64::from(left) << 32) | u64::from(right)
    }
}

/// Rounds of the ids' Feistel network.
const ROUNDS: u8 = 4;

impl Tail {
    /// The next event this caller may see, with its position and as `{type, payload, meta}`;
    /// or why the stream ends. Cancel-safe once the resume is replayed.
    pub(super) async fn next(&mut self) -> Result<(i64, Json), End> {
        loop {
            if *self.stop.borrow() {
                return Err(End::Shutdown);
            }
            if tokio::time::Instant::now() >= self.ends {
                return Err(End::Expired);
            }
            let delivery = if let Some(delivery) = self.replay.pop_front() {
                Arc::new(delivery)
            } else if let Some(until) = self.replay_until {
                match outbox::published_since(&self.runtime.db, self.floor, REPLAY_PAGE).await {
                    Ok(page) => {
                        let done = (page.len() as u64) < REPLAY_PAGE
                            || page.last().is_some_and(|d| d.seq >= until);
                        if done {
                            self.replay_until = None;
                        }
                        self.replay
                            .extend(page.into_iter().filter(|d| d.seq <= until));
                    }
                    Err(e) => {
                        // Without the outbox the resume cannot be complete: end the stream,
                        // and the client retries with its `Last-Event-ID`.
                        tracing::warn!(error = %e, "events: resuming a stream failed");
                        return Err(End::Unavailable);
                    }
                }
                continue;
            } else {
                let received = tokio::select! {
                    received = self.live.recv() => received,
                    () = tokio::time::sleep_until(self.ends) => return Err(End::Expired),
                    _ = self.stop.changed() => return Err(End::Shutdown),
                };
                match received {
                    Ok(delivery) => delivery,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::info!(missed, "events: a stream fell behind and was closed");
                        return Err(End::Behind);
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(End::Shutdown),
                }
            };
            if delivery.seq <= self.floor {
                continue;
            }
            self.floor = delivery.seq;
            if let Some(body) = self.render(&delivery) {
                return Ok((delivery.seq, body));
            }
        }
    }

    /// `delivery` as this caller may see it, if they may.
    fn render(&self, delivery: &Delivery) -> Option<Json> {
        let event = &delivery.event;
        if !self.patterns.iter().any(|p| p.matches(&event.name)) {
            return None;
        }
        let data = visible(&self.runtime, &self.caller, delivery)?;
        Some(envelope(event, data))
    }
}

/// arc's envelope `{type, payload, meta}` of `event` with `payload`, as it leaves the app
/// (the stream, webhooks): `meta` says which event it is (`id`, `timestamp`) and of which
/// row (`resource`, `resourceId`), and carries none of the request's internal identifiers
/// (the writer, the correlation and trace ids).
pub(crate) fn envelope(event: &Event, payload: Json) -> Json {
    json!({
        "type": event.name,
        "payload": payload,
        "meta": {
            "id": event.meta.id,
            "timestamp": event.meta.timestamp,
            "resource": event.meta.resource,
            "resourceId": event.meta.resource_id,
        },
    })
}

/// The payload of a row event of `meta`'s as it leaves the app, `data` as its reader may
/// see it: `{resource, operation, data, timestamp}` (not the writer's id).
pub(crate) fn row_payload(meta: &ResourceMeta, event: &Event, data: Map<String, Json>) -> Json {
    json!({
        "resource": meta.name,
        "operation": event.payload.get("operation"),
        "data": data,
        "timestamp": event.meta.timestamp,
    })
}

/// The payload of `delivery` as `caller` may see it, or `None` when they may not read the
/// row. Events of no resource (an app's own) are not streamed.
pub(crate) fn visible(
    runtime: &EventsRuntime,
    caller: &AuthContext,
    delivery: &Delivery,
) -> Option<Json> {
    let event = &delivery.event;
    let meta = *runtime.resources.get(event.meta.resource.as_deref()?)?;
    // Read hooks narrow rows in SQL, which cannot be asked of every event: the rows of a
    // resource with them are not streamed.
    if meta.read_hooks.is_some() {
        return None;
    }
    let scope = meta.role_scope();
    let fact = |i: usize| {
        delivery
            .facts
            .get(meta.fields.get(i)?.name)
            .and_then(Json::as_str)
    };
    let presets = &meta.presets;
    if let Some(i) = presets.tenant
        && (caller.org_id.is_none() || fact(i) != caller.org_id.as_deref())
    {
        return None;
    }
    if let Some(i) = presets.owner
        && !presets
            .owner_bypass
            .iter()
            .any(|role| caller.has_role_in(role, scope))
        && (caller.user_id.is_none() || fact(i) != caller.user_id.as_deref())
    {
        return None;
    }
    // A stream lists rows as they change: the caller needs the `list` rule and the `get`
    // rule, and each of their row filters. An asynchronous `when(..)` is not asked of every
    // event: a rule that needs one does not hold here.
    for rule in [&meta.permissions.list, &meta.permissions.get] {
        match evaluate(rule, caller, meta, &Answers::default()) {
            Access::Denied => return None,
            Access::Full => {}
            Access::Rows(rows) => {
                if !rows.holds(&fact, caller) {
                    return None;
                }
            }
        }
    }
    let written = event.payload.get("data").and_then(Json::as_object)?;
    Some(row_payload(meta, event, shown(meta, caller, written)))
}

/// The values of a written row (an event's `data`) as `caller` may see them: the fields
/// they may read, masked where the field rules mask them.
pub(crate) fn shown(
    meta: &ResourceMeta,
    caller: &AuthContext,
    written: &Map<String, Json>,
) -> Map<String, Json> {
    let shape = Shape::for_caller(meta, caller);
    let mut data = Map::new();
    for i in shape.fields.iter() {
        let field = &meta.fields[i];
        if let Some(value) = written.get(field.name) {
            let value = if shape.redact.contains(i) {
                json!(mask(field.ty))
            } else {
                value.clone()
            };
            data.insert(field.name.to_owned(), value);
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, org: &str) -> AuthContext {
        AuthContext {
            user_id: Some(user.into()),
            org_id: Some(org.into()),
            ..AuthContext::default()
        }
    }

    #[test]
    fn ids_round_trip_and_hide_positions() {
        let key = crate::query::CursorKey::new(b"secret");
        let carl = Ids::new(key.clone(), &caller("carl", "acme"));
        for position in [0, 1, 2, 41, 1 << 40, i64::MAX] {
            let id = carl.id(position);
            assert_eq!(id.len(), 22, "{id}");
            assert_eq!(carl.position(&id), Some(position));
        }
        // Consecutive positions give unrelated ids: no shared prefix to count from.
        let (a, b) = (carl.id(1000), carl.id(1001));
        assert_ne!(a[..6], b[..6], "{a} {b}");
        // Another caller, another organization, another key: not theirs to resume.
        let id = carl.id(7);
        let cleo = Ids::new(key.clone(), &caller("cleo", "acme"));
        assert_eq!(cleo.position(&id), None);
        assert_eq!(Ids::new(key, &caller("carl", "globex")).position(&id), None);
        let other = Ids::new(
            crate::query::CursorKey::new(b"other"),
            &caller("carl", "acme"),
        );
        assert_eq!(other.position(&id), None);
        // Tampered, truncated, garbage.
        let mut bytes = id.clone().into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(carl.position(&String::from_utf8(bytes).unwrap()), None);
        for bad in [
            "",
            "0",
            "7",
            &id[..21],
            "!!!!!!!!!!!!!!!!!!!!!!",
            &format!("{id}A"),
        ] {
            assert_eq!(carl.position(bad), None, "{bad:?}");
        }
    }
}
