//! `GET /ws`: the events a caller may see, over a WebSocket, in arc's protocol.
//!
//! The same stream as `/events/stream` (authentication before the upgrade, 401 without it;
//! each event checked against the caller's rules, tenant and owner scope, and never shown
//! more of its row than a `GET` would show; bounded, closed at its lifetime or the token's expiry), with
//! arc's messages so its clients keep working:
//!
//! - the server says `{"type":"connected","clientId","resources"}` first;
//! - the client sends `{"type":"subscribe","resource":"product"}` (or `"channel"`; or
//!   `"events":"order.*"`, a pattern) and gets `{"type":"subscribed","channel"}`, and
//!   `unsubscribe` likewise; nothing is sent before a subscription unless the URL has
//!   `?events=`;
//! - events come as `{"type":"product.created","data":{..},"meta":{..}}`;
//! - `{"type":"ping","timestamp"}` every heartbeat; a client's `ping` gets a `pong`;
//! - mistakes get `{"type":"error","error"}` and the connection stays;
//! - at the token's expiry (or the stream's lifetime) `{"type":"error","error":"Session
//!   expired"}` and close code 4003; at shutdown 1001; a client too far behind 1013.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};

use super::outbox::now_ms;
use super::stream::{End, Tail, patterns, runtime_for};
use super::{EventPattern, EventsRuntime};
use crate::app::ArcState;
use crate::auth::{AuthContext, Caller};
use crate::error::ArcError;
use crate::permissions::{Access, Answers, evaluate};
use crate::resource::ResourceMeta;

/// Where the WebSocket is served (arc's default).
pub(crate) const WS_PATH: &str = "/ws";

/// The largest message a client may send; larger ones get an error.
const MAX_MESSAGE: usize = 16 * 1024;

/// The largest frame the connection reads at all (beyond it, it closes).
const MAX_FRAME: usize = 64 * 1024;

/// Subscriptions one connection may hold (the URL's `?events=` included).
const MAX_SUBSCRIPTIONS: usize = super::stream::MAX_PATTERNS;

/// The longest room name or pattern a client may name (longer ones are not echoed back).
const MAX_NAME: usize = 200;

/// The handler.
pub(crate) async fn websocket(
    State(state): State<ArcState>,
    caller: Caller,
    RawQuery(query): RawQuery,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match accept(&state, caller.0, query.as_deref(), upgrade).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

/// Upgrades an authenticated caller's request, or says why not (404 without events, 401,
/// 400 for the query or a request that is no upgrade, 503 as for the SSE stream).
async fn accept(
    state: &ArcState,
    caller: Arc<AuthContext>,
    query: Option<&str>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ArcError> {
    let runtime = runtime_for(state, &caller)?;
    let patterns = patterns(query, false)?;
    let upgrade = upgrade
        .map_err(|e| ArcError::bad_request(format!("This route takes a WebSocket upgrade: {e}")))?;
    let tail = Tail::open(&runtime, caller, patterns, None).await?;
    Ok(upgrade
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| session(socket, tail, runtime))
        .into_response())
}

/// One connection, until either side ends it.
async fn session(socket: WebSocket, mut tail: Tail, runtime: Arc<EventsRuntime>) {
    let (mut sink, mut source) = socket.split();
    // The resources whose events this caller may subscribe to, not every one there is.
    let mut resources: Vec<&str> = runtime
        .resources
        .values()
        .filter(|meta| may_list(tail.caller(), meta))
        .map(|meta| meta.name)
        .collect();
    resources.sort_unstable();
    // A client that does not read holds its messages up: it gets a heartbeat's time (and
    // at least a few seconds), then the connection is dropped and its slot freed.
    let patience = runtime.settings.heartbeat.max(Duration::from_secs(5));
    let hello = json!({
        "type": "connected",
        "clientId": format!("ws_{}", uuid::Uuid::new_v4().simple()),
        "resources": resources,
    });
    if send(&mut sink, &hello, patience).await.is_err() {
        return;
    }
    let heartbeat = runtime.settings.heartbeat;
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    let end = loop {
        // `Tail::next` is cancel-safe here: a WebSocket replays nothing.
        let sent = tokio::select! {
            next = tail.next() => match next {
                Ok((_, body)) => {
                    let message = json!({
                        "type": body["type"],
                        "data": body["payload"],
                        "meta": body["meta"],
                    });
                    send(&mut sink, &message, patience).await
                }
                Err(end) => break end,
            },
            incoming = source.next() => match incoming {
                Some(Ok(Message::Text(text))) => match answer(&mut tail, &runtime, text.as_str()) {
                    Some(reply) => send(&mut sink, &reply, patience).await,
                    None => Ok(()),
                },
                Some(Ok(Message::Binary(_))) => {
                    send(&mut sink, &error("Invalid message format"), patience).await
                }
                // The library answers pings; pongs need nothing.
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
            _ = beat.tick() => {
                let ping = json!({ "type": "ping", "timestamp": now_ms() });
                send(&mut sink, &ping, patience).await
            }
        };
        if sent.is_err() {
            return;
        }
    };
    let (code, reason) = match end {
        End::Expired => {
            // arc says so before closing; its clients look for it.
            let _ = send(&mut sink, &error("Session expired"), patience).await;
            (4003, "Session expired")
        }
        End::Shutdown => (1001, "The server is shutting down"),
        End::Behind => (1013, "Too far behind, reconnect"),
        End::Unavailable => (1011, "The events are unavailable, reconnect"),
    };
    let close = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(patience, sink.send(close)).await;
}

/// Sends `message`, or fails when the client has not taken it within `patience`.
async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: &Json,
    patience: Duration,
) -> Result<(), ()> {
    let sent = sink.send(Message::Text(message.to_string().into()));
    match tokio::time::timeout(patience, sent).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(()),
    }
}

/// Whether `caller` may list `meta`'s rows at all (some of them, at least). A resource
/// with read hooks is not streamed (see [`super::stream::visible`]).
fn may_list(caller: &AuthContext, meta: &ResourceMeta) -> bool {
    meta.read_hooks.is_none()
        && !matches!(
            evaluate(&meta.permissions.list, caller, meta, &Answers::default()),
            Access::Denied
        )
}

fn error(message: &str) -> Json {
    json!({ "type": "error", "error": message })
}

/// The reply to a client's message, if it needs one; subscriptions change `tail`.
fn answer(tail: &mut Tail, runtime: &EventsRuntime, text: &str) -> Option<Json> {
    if text.len() > MAX_MESSAGE {
        return Some(error("Message too large"));
    }
    let Ok(Json::Object(message)) = serde_json::from_str::<Json>(text) else {
        return Some(error("Invalid message format"));
    };
    match message.get("type").and_then(Json::as_str) {
        Some("subscribe") => Some(subscribe(tail, runtime, &message)),
        Some("unsubscribe") => Some(match room(&message) {
            Ok((channel, pattern)) => {
                tail.patterns.retain(|p| *p != pattern);
                json!({ "type": "unsubscribed", "channel": channel })
            }
            Err(reply) => reply,
        }),
        Some("ping") => Some(json!({ "type": "pong", "timestamp": now_ms() })),
        Some("pong") => None,
        _ => Some(error("Unknown message type")),
    }
}

/// `subscribe`: a resource's events (if the caller may list it), or a pattern's.
fn subscribe(
    tail: &mut Tail,
    runtime: &EventsRuntime,
    message: &serde_json::Map<String, Json>,
) -> Json {
    let (channel, pattern) = match room(message) {
        Ok(room) => room,
        Err(reply) => return reply,
    };
    let refuse = |why: &str| json!({ "type": "error", "channel": channel, "error": why });
    if let Some(resource) = message
        .get("resource")
        .or_else(|| message.get("channel"))
        .and_then(Json::as_str)
    {
        let Some(meta) = runtime.resources.get(resource) else {
            return refuse("Unknown resource");
        };
        if !may_list(tail.caller(), meta) {
            return refuse("Subscription denied");
        }
    }
    if !tail.patterns.contains(&pattern) {
        if tail.patterns.len() >= MAX_SUBSCRIPTIONS {
            return refuse("Subscription limit reached");
        }
        tail.patterns.push(pattern);
    }
    json!({ "type": "subscribed", "channel": channel })
}

/// The room a message names, and its pattern: `resource` (or `channel`) `product` is
/// `product.*`; `events` is a pattern as is.
fn room(message: &serde_json::Map<String, Json>) -> Result<(String, EventPattern), Json> {
    let text = |key: &str| message.get(key).and_then(Json::as_str);
    let named = text("resource")
        .or_else(|| text("channel"))
        .or_else(|| text("events"));
    if named.is_some_and(|name| name.len() > MAX_NAME) {
        return Err(error("Name too long"));
    }
    if let Some(resource) = text("resource").or_else(|| text("channel")) {
        let pattern = format!("{resource}.*").parse::<EventPattern>().map_err(
            |_| json!({ "type": "error", "channel": resource, "error": "Unknown resource" }),
        )?;
        return Ok((resource.to_owned(), pattern));
    }
    if let Some(events) = text("events") {
        let pattern = events
            .parse::<EventPattern>()
            .map_err(|e| json!({ "type": "error", "channel": events, "error": e.to_string() }))?;
        return Ok((events.to_owned(), pattern));
    }
    Err(error("Name a `resource`, a `channel` or `events`"))
}
