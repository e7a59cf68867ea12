//! Domain events: the envelope a committed write produces ([`Event`]), the settings of the
//! events plugin ([`Events`]), and the runtime behind them: `outbox` (its tables and
//! statements: the event rows written in the write's transaction, the lease, positions,
//! dead letters), `bus` (the tasks: the relay that publishes the outbox to the app's
//! subscribers, the subscribers with retries and dead letters, the feed of the streams) and
//! `stream` (`GET /events/stream`, SSE).
//!
//! ```no_run
//! # async fn run(app: arc_runtime::App) -> std::io::Result<()> {
//! use arc_runtime::config::Events;
//! let app = app.events(Events::new()).on("product.*", |event| async move {
//!     tracing::info!(kind = %event.name, id = ?event.meta.resource_id, "catalog changed");
//!     Ok::<(), std::convert::Infallible>(())
//! });
//! app.serve("127.0.0.1:3000").await
//! # }
//! ```

mod bus;
mod defined;
mod outbox;
mod pattern;
mod stream;
mod ws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

pub(crate) use defined::{Definition, publish};
pub use defined::{DomainEvent, PublishError};
pub(crate) use outbox::{Change, EventsMigration, record};
pub use pattern::{BadPattern, EventPattern};
pub(crate) use stream::stream;
#[cfg(feature = "webhooks")]
pub(crate) use stream::{envelope, row_payload, shown};
pub(crate) use ws::{WS_PATH, websocket};

use crate::plugins::metrics::Metrics;
use crate::resource::ResourceMeta;
use crate::retry::Retry;
use crate::stores::{BoxFuture, EventTransport, InMemoryTransport};

/// An event, in arc's envelope: `{"type", "payload", "meta"}`.
///
/// Each committed write of a resource is one event per row: `product.created`,
/// `product.updated` (a restore too) or `product.deleted`, whose payload is
/// `{"resource", "operation", "data", "userId", "organizationId", "timestamp"}` with `data`
/// the row as the writer was shown it (never a hidden field).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The event type, `{resource}.{created|updated|deleted}` for writes.
    #[serde(rename = "type")]
    pub name: String,
    /// What happened.
    pub payload: Json,
    /// Where, when and on whose behalf.
    pub meta: EventMeta,
}

/// The metadata of an [`Event`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EventMeta {
    /// Unique per event: consumers that may see an event twice (delivery is at least once)
    /// keep the ids they handled.
    pub id: Uuid,
    /// When the write happened.
    pub timestamp: DateTime<Utc>,
    /// The version of the payload's shape (1 for the writes' events).
    pub version: u32,
    /// The resource written (`product`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The id of the row written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The organization it was written in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The request's `x-request-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The request's W3C trace id (32 hex digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Event {
    /// An event named `name` with `payload`: a new id, the time now, version 1, and the
    /// request's `x-request-id` and trace id when made while serving one.
    ///
    /// ```
    /// let event = arc_runtime::Event::new("invoice.sent", serde_json::json!({ "number": 42 }));
    /// assert_eq!(event.meta.version, 1);
    /// ```
    pub fn new(name: impl Into<String>, payload: Json) -> Event {
        Event {
            name: name.into(),
            payload,
            meta: EventMeta {
                id: Uuid::new_v4(),
                timestamp: Utc::now(),
                version: 1,
                resource: None,
                resource_id: None,
                user_id: None,
                organization_id: None,
                correlation_id: crate::plugins::request_id::current()
                    .and_then(|v| v.to_str().ok().map(str::to_owned)),
                trace_id: crate::plugins::trace::current().map(|t| t.trace_id_hex()),
            },
        }
    }
}

/// What a subscriber answers: `Ok` when it handled the event; an error is retried with
/// backoff, and after the last attempt the event is dead-lettered.
type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

type Handler = Arc<dyn Fn(Arc<Event>) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// A subscriber: a pattern and a handler.
#[derive(Clone)]
pub(crate) struct Subscriber {
    pub(crate) name: String,
    pub(crate) pattern: EventPattern,
    pub(crate) handler: Handler,
}

/// How a failing subscriber is retried: the framework's [`Retry`], under the name it had
/// first.
pub type EventRetry = Retry;

/// The events plugin's settings (see [`App::events`](crate::App::events)): the outbox
/// relay, the subscribers' retries, and the SSE stream.
///
/// With events on, each write of a resource also writes its event into the `arc_outbox`
/// table, in the write's transaction: a committed write always has its event and a
/// rolled-back one never does. A relay (one instance at a time, under a lease in the
/// database) publishes the rows in order, marks them delivered and prunes them after
/// [`Events::retention`]. Delivery is at least once: a relay that dies between publishing
/// and marking publishes again, with the same [`EventMeta::id`].
#[derive(Clone)]
#[must_use]
pub struct Events {
    pub(crate) poll: Duration,
    pub(crate) batch: u32,
    pub(crate) lease: Duration,
    pub(crate) retention: Duration,
    pub(crate) retry: Retry,
    pub(crate) stream: bool,
    pub(crate) websocket: bool,
    pub(crate) heartbeat: Duration,
    pub(crate) stream_lifetime: Duration,
    pub(crate) max_streams: usize,
    pub(crate) subscribers: Vec<Subscriber>,
    pub(crate) transport: Option<Arc<dyn EventTransport>>,
    pub(crate) defined: Vec<Definition>,
    pub(crate) problems: Vec<String>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subscribers: Vec<&str> = self.subscribers.iter().map(|s| s.name.as_str()).collect();
        f.debug_struct("Events")
            .field("poll", &self.poll)
            .field("batch", &self.batch)
            .field("lease", &self.lease)
            .field("retention", &self.retention)
            .field("retry", &self.retry)
            .field("stream", &self.stream)
            .field("websocket", &self.websocket)
            .field("heartbeat", &self.heartbeat)
            .field("stream_lifetime", &self.stream_lifetime)
            .field("max_streams", &self.max_streams)
            .field("subscribers", &subscribers)
            .field("transport", &self.transport)
            .field("defined", &self.defined)
            .finish()
    }
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// How often the relay looks for events written by other instances (its own writes wake
    /// it at once).
    pub const DEFAULT_POLL: Duration = Duration::from_millis(500);
    /// The most outbox rows the relay publishes per round.
    pub const DEFAULT_BATCH: u32 = 256;
    /// How long the relay's lease lasts without renewal: a dead relay's lease is taken over
    /// after this.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
    /// How long delivered rows stay in the outbox (for `Last-Event-ID` resumes).
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(3600);
    /// How often the SSE stream sends a heartbeat comment.
    pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);
    /// How long a stream stays open before the client must reconnect (and authenticate
    /// again): a revoked token or a lost membership stops its stream within this.
    pub const DEFAULT_STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);
    /// How many streams (SSE and WebSocket) one instance keeps open at once; more are
    /// answered 503.
    pub const DEFAULT_MAX_STREAMS: usize = 1024;

    /// Events with the defaults above, the SSE stream at `/events/stream`, the WebSocket at
    /// `/ws` and no subscriber.
    pub fn new() -> Self {
        Events {
            poll: Self::DEFAULT_POLL,
            batch: Self::DEFAULT_BATCH,
            lease: Self::DEFAULT_LEASE,
            retention: Self::DEFAULT_RETENTION,
            retry: Retry::default(),
            stream: true,
            websocket: true,
            heartbeat: Self::DEFAULT_HEARTBEAT,
            stream_lifetime: Self::DEFAULT_STREAM_LIFETIME,
            max_streams: Self::DEFAULT_MAX_STREAMS,
            subscribers: Vec::new(),
            transport: None,
            defined: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// How often the relay polls the outbox for other instances' events.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(10));
        self
    }

    /// The most rows published per round (at least 1).
    pub fn batch_size(mut self, rows: u32) -> Self {
        self.batch = rows.max(1);
        self
    }

    /// The relay's lease (at least one second).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// How long delivered rows are kept.
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = keep;
        self
    }

    /// How failing subscribers are retried.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry.at_least_once();
        self
    }

    /// The SSE stream's heartbeat interval.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(100));
        self
    }

    /// How long a stream stays open (it also closes when the caller's token expires).
    pub fn stream_lifetime(mut self, lifetime: Duration) -> Self {
        self.stream_lifetime = lifetime.max(Duration::from_secs(1));
        self
    }

    /// How many streams this instance keeps open at once.
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// Where the relay publishes and the subscribers read: the in-process
    /// [`InMemoryTransport`](crate::config::InMemoryTransport) by default, or a shared one
    /// (arc-stores' Redis Streams), with which each subscriber is a consumer group whose work
    /// is split between the instances, events survive an instance's death, and every
    /// instance's streams hear of new events at once.
    pub fn transport(mut self, transport: impl EventTransport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// Declares the app's own event `E` (see [`DomainEvent`]): published events of its type
    /// are checked against its JSON Schema, and the registry (`/_resources`) lists it. A
    /// malformed name, a type declared twice or one a resource's writes already use keeps
    /// the app from starting ([`App::problems`](crate::App::problems)).
    pub fn define<E: DomainEvent>(mut self) -> Self {
        self.defined.push(Definition::of::<E>());
        self
    }

    /// No `/events/stream`.
    pub fn without_stream(mut self) -> Self {
        self.stream = false;
        self
    }

    /// No WebSocket at `/ws`.
    pub fn without_websocket(mut self) -> Self {
        self.websocket = false;
        self
    }

    /// Runs `handler` for every event whose type matches `pattern` (see [`EventPattern`]),
    /// on a task of its own, once per event in the whole cluster (on the instance whose relay
    /// holds the lease): a slow handler delays its own queue, never a request (a handler
    /// thousands of events behind holds the relay back rather than queueing without bound;
    /// the streams are fed apart from it). An error
    /// (or a panic) is retried per [`Events::retry`], then the event is dead-lettered: logged
    /// with its envelope, counted in `arc_events_dead_letters_total` and kept in the
    /// `arc_event_dead_letters` table. A malformed pattern keeps the app from starting
    /// ([`App::problems`](crate::App::problems)).
    pub fn on<F, Fut, E>(mut self, pattern: &str, handler: F) -> Self
    where
        F: Fn(Arc<Event>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
    {
        match pattern.parse::<EventPattern>() {
            Ok(parsed) => {
                let name = format!("{}#{}", parsed, self.subscribers.len() + 1);
                let handler: Handler = Arc::new(move |event| {
                    let fut = handler(event);
                    Box::pin(async move { fut.await.map_err(Into::into) })
                });
                self.subscribers.push(Subscriber {
                    name,
                    pattern: parsed,
                    handler,
                });
            }
            Err(e) => self.problems.push(e.to_string()),
        }
        self
    }
}

impl Events {
    /// What keeps these settings from working: malformed patterns, and a lease that would
    /// lapse between the relay's rounds (it is renewed each round, at least every poll).
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = self.problems.clone();
        for (i, definition) in self.defined.iter().enumerate() {
            problems.extend(definition.problems());
            if self.defined[..i].iter().any(|d| d.name == definition.name) {
                problems.push(format!("event `{}` is declared twice", definition.name));
            }
        }
        if self.lease <= self.poll {
            problems.push(format!(
                "events: the relay's lease ({:?}) must outlast its poll interval ({:?})",
                self.lease, self.poll
            ));
        }
        problems
    }

    /// Whether instances share the transport (the default is in this process).
    pub(crate) fn shared(&self) -> bool {
        self.transport.as_ref().is_some_and(|t| t.shared())
    }
}

/// An outbox row on its way: the event, its place in the outbox, and the values of the
/// fields that decide who may see it (tenant, owner, the rules' fields), which are never
/// sent.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// Its `seq` on the way to the subscribers; its publication position (the SSE `id`) on
    /// the way to the streams.
    pub(crate) seq: i64,
    pub(crate) event: Arc<Event>,
    pub(crate) facts: Map<String, Json>,
}

/// The running events plugin of an app: shared by the handlers (through `ArcState`), the
/// relay and the stream.
pub(crate) struct EventsRuntime {
    pub(crate) settings: Events,
    /// The app's pool, for the relay's and the streams' reads.
    pub(crate) db: sea_orm::DatabaseConnection,
    /// The app's writer ([`Writer`](crate::db::Writer)), for the relay's writes: on SQLite
    /// they queue with the routes' writes instead of meeting them in SQLite.
    pub(crate) writer: sea_orm::DatabaseConnection,
    pub(crate) metrics: Option<Metrics>,
    /// The resources by name, for the stream's scoping.
    pub(crate) resources: HashMap<&'static str, &'static ResourceMeta>,
    /// This instance, as the relay's lease names it.
    pub(crate) instance: String,
    /// Poked after each commit that wrote events.
    pub(crate) wake: tokio::sync::Notify,
    /// Poked after this instance's relay published events.
    pub(crate) published: tokio::sync::Notify,
    /// Where the streams' feed is: every event published at or below this position was sent
    /// to `live` before it was stored here (`NOT_FED` until the feed starts).
    pub(crate) fed: std::sync::atomic::AtomicI64,
    /// Held by a stream while it subscribes, and by the feed while it moves its position
    /// over events nobody listened to: so it never moves past events a new stream awaits.
    pub(crate) feed: Mutex<()>,
    /// Streams open on this instance.
    pub(crate) streams: std::sync::atomic::AtomicUsize,
    /// Every published event (of any instance's relay), for the streams of this instance.
    pub(crate) live: tokio::sync::broadcast::Sender<Arc<Delivery>>,
    /// Where the relay publishes and the subscribers read.
    pub(crate) transport: Arc<dyn EventTransport>,
    /// Stops the relay, the feed and the streams.
    stop: tokio::sync::watch::Sender<bool>,
    /// Tells the subscribers to take what is left and end (once the relay stopped).
    drain: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Option<bus::Tasks>>,
}

impl std::fmt::Debug for EventsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventsRuntime")
            .field("instance", &self.instance)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Where the SSE stream is served.
pub(crate) const STREAM_PATH: &str = "/events/stream";

/// The feed's position before it read the outbox once.
pub(crate) const NOT_FED: i64 = i64::MIN;

/// How many published events a stream may fall behind before it is dropped.
const STREAM_BUFFER: usize = 1024;

impl EventsRuntime {
    /// The plugin for an app, its relay and subscribers started on the current Tokio
    /// runtime (none outside one: then nothing is published until an app is served).
    pub(crate) fn start(
        settings: Events,
        db: sea_orm::DatabaseConnection,
        writer: sea_orm::DatabaseConnection,
        metrics: Option<Metrics>,
        resources: &[&'static ResourceMeta],
    ) -> Arc<EventsRuntime> {
        let (live, _) = tokio::sync::broadcast::channel(STREAM_BUFFER);
        let (stop, _) = tokio::sync::watch::channel(false);
        let (drain, _) = tokio::sync::watch::channel(false);
        let transport = settings
            .transport
            .clone()
            .unwrap_or_else(|| Arc::new(InMemoryTransport::new()));
        let runtime = Arc::new(EventsRuntime {
            settings,
            db,
            writer,
            metrics,
            resources: resources.iter().map(|m| (m.name, *m)).collect(),
            instance: Uuid::new_v4().to_string(),
            wake: tokio::sync::Notify::new(),
            published: tokio::sync::Notify::new(),
            fed: std::sync::atomic::AtomicI64::new(NOT_FED),
            feed: Mutex::new(()),
            streams: std::sync::atomic::AtomicUsize::new(0),
            live,
            transport,
            stop,
            drain,
            tasks: Mutex::new(None),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            let tasks = bus::spawn(&runtime);
            *runtime.tasks.lock().unwrap_or_else(|e| e.into_inner()) = Some(tasks);
        } else {
            tracing::warn!("events: no Tokio runtime, so no relay; events wait in the outbox");
        }
        runtime
    }

    /// Records `f`'s metrics into the app's recorder.
    pub(crate) fn metric(&self, f: impl FnOnce()) {
        if let Some(metrics) = &self.metrics {
            metrics.record(f);
        }
    }

    /// Stops the relay after its current round (releasing its lease), then lets the
    /// subscribers take what the transport holds for them, within `within`.
    pub(crate) async fn shutdown(&self, within: Duration) {
        self.stop.send_replace(true);
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(tasks) = tasks else { return };
        let deadline = tokio::time::Instant::now() + within;
        let aborts: Vec<_> = tasks.relay.iter().map(|t| t.abort_handle()).collect();
        let relay = futures_util::future::join_all(tasks.relay);
        if tokio::time::timeout_at(deadline, relay).await.is_err() {
            tracing::warn!("events: the relay did not stop in time");
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        self.drain.send_replace(true);
        let aborts: Vec<_> = tasks.subscribers.iter().map(|t| t.abort_handle()).collect();
        let subscribers = futures_util::future::join_all(tasks.subscribers);
        if tokio::time::timeout_at(deadline, subscribers)
            .await
            .is_err()
        {
            tracing::warn!(
                "events: subscribers still busy at shutdown; their queued events are left"
            );
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
    }

    /// A receiver of the feed for a new stream.
    pub(crate) fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Delivery>> {
        let _feed = self.feed.lock().unwrap_or_else(|e| e.into_inner());
        self.live.subscribe()
    }

    /// The feed's position, once it has one (waiting up to `within` for a starting app).
    pub(crate) async fn fed_until(&self, within: Duration) -> Option<i64> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let fed = self.fed.load(std::sync::atomic::Ordering::SeqCst);
            if fed != NOT_FED {
                return Some(fed);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub(crate) fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }

    pub(crate) fn draining(&self) -> tokio::sync::watch::Receiver<bool> {
        self.drain.subscribe()
    }
}
