//! The events' transport: the log the outbox relay appends published events to and the
//! subscribers read from in consumer groups. [`InMemoryTransport`] is the embedded default
//! (one process); arc-stores has one on Redis Streams, shared by every instance.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use super::{BoxFuture, StoreError};
use crate::events::Event;

/// An event as a consumer group received it: the transport's id for it (what
/// [`EventTransport::ack`] takes) and the event.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Received {
    /// The transport's id of the entry (a Redis stream id, say).
    pub id: String,
    /// The event.
    pub event: Arc<Event>,
}

impl Received {
    /// An entry of the log.
    pub fn new(id: impl Into<String>, event: Arc<Event>) -> Received {
        Received {
            id: id.into(),
            event,
        }
    }
}

/// Where published events go: an ordered log read by consumer groups. Each group (one per
/// subscriber of the app, named after it) sees every event once, split between its consumers
/// (one per instance), each entry until a consumer acknowledges it; an entry a consumer took
/// and never acknowledged (it died) goes to another after a while.
///
/// The relay is the only writer: it appends each outbox row once it holds the lease, then
/// marks the row delivered. A relay that dies between the two appends again what it
/// appended, so [`EventTransport::publish`] must skip events it already has (by
/// [`EventMeta::id`](crate::EventMeta::id)).
pub trait EventTransport: Send + Sync + std::fmt::Debug + 'static {
    /// Appends `events` in order, skipping any already appended. `Ok` once all are accepted
    /// (durably, for a shared transport); the relay marks them delivered only then. It may
    /// wait while the log is full (a bounded one, behind a slow group): the relay renews
    /// its lease meanwhile, and may drop the future and publish again.
    fn publish<'a>(&'a self, events: &'a [Arc<Event>]) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Makes sure consumer group `group` exists. A new group starts at the end of the log:
    /// it sees what is published from now on.
    fn join<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The next entries for `consumer` of `group`, in order: those another consumer took
    /// and left unacknowledged too long first, then new ones, waiting a short while when
    /// there are none (an empty answer is no error).
    fn receive<'a>(
        &'a self,
        group: &'a str,
        consumer: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Received>, StoreError>>;

    /// Keeps entries `ids` with `consumer` of `group` (it is still at them): they are not
    /// claimed by another consumer for a while. The runtime calls it every
    /// [`EventTransport::keepalive`] for the entries of a batch it has not acknowledged yet.
    fn extend<'a>(
        &'a self,
        group: &'a str,
        consumer: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (group, consumer, ids);
        Box::pin(std::future::ready(Ok(())))
    }

    /// How often to [`EventTransport::extend`] entries being handled (well within the time
    /// after which another consumer claims them); `None`: entries are never claimed.
    fn keepalive(&self) -> Option<Duration> {
        None
    }

    /// Whether the log outlives this process (then a stopping subscriber leaves what is left
    /// to the other instances; otherwise it handles what the log holds before it ends).
    fn shared(&self) -> bool {
        false
    }

    /// `group` handled entry `id`: it is not delivered again.
    fn ack<'a>(&'a self, group: &'a str, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// `group` gave up on `entry` (its handler failed every attempt): keep it where an
    /// operator finds it, if the transport has such a place. The runtime also stores it in
    /// the app's `arc_event_dead_letters` table and acknowledges it.
    fn dead_letter<'a>(
        &'a self,
        group: &'a str,
        entry: &'a Received,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = (group, entry, error);
        Box::pin(std::future::ready(Ok(())))
    }

    /// Tells every instance that the relay marked events delivered (their streams read them
    /// from the outbox). Nothing to do for a transport of one process.
    fn announce(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Waits a while for an [`EventTransport::announce`] after the one named `after` (what
    /// the last call returned; `None` at first, answered at once with the latest), and
    /// returns the latest name: `after` again when none came. A transport of one process
    /// never answers: its relay wakes the streams itself.
    fn watch<'a>(
        &'a self,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        let _ = after;
        Box::pin(std::future::pending())
    }
}

/// The in-process transport, the default: a bounded log in memory, read by this process's
/// subscribers. Events published and not yet handled are lost if the process dies (they were
/// delivered from the outbox's point of view); use a shared transport where that matters.
#[derive(Debug)]
pub struct InMemoryTransport {
    log: Mutex<Log>,
    /// Poked when entries arrive.
    arrived: Notify,
    /// Poked when entries leave (every group acknowledged them).
    space: Notify,
    capacity: usize,
    claim_after: Duration,
    wait: Duration,
}

#[derive(Debug, Default)]
struct Log {
    /// The id the next entry gets.
    next_id: u64,
    entries: VecDeque<(u64, Arc<Event>)>,
    groups: HashMap<String, Group>,
    /// Recently published event ids, to skip republished events (oldest first).
    seen: HashSet<Uuid>,
    seen_order: VecDeque<Uuid>,
}

#[derive(Debug)]
struct Group {
    /// The first id not delivered yet.
    next: u64,
    /// Delivered, not acknowledged: when.
    pending: BTreeMap<u64, Instant>,
}

/// How many event ids the in-memory transport remembers to skip republished ones.
const SEEN: usize = 1 << 16;

/// Entries handed out per [`EventTransport::receive`].
const BATCH: usize = 64;

impl Default for InMemoryTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryTransport {
    /// How many entries the log holds (those some group has not acknowledged) before the
    /// relay waits.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// A log of [`Self::DEFAULT_CAPACITY`] entries; an entry left unacknowledged for 30 s
    /// is delivered again.
    pub fn new() -> Self {
        InMemoryTransport {
            log: Mutex::new(Log::default()),
            arrived: Notify::new(),
            space: Notify::new(),
            capacity: Self::DEFAULT_CAPACITY,
            claim_after: Duration::from_secs(30),
            wait: Duration::from_secs(1),
        }
    }

    /// The log's capacity (at least 1).
    #[must_use]
    pub fn capacity(mut self, entries: usize) -> Self {
        self.capacity = entries.max(1);
        self
    }

    /// How long an entry a consumer took stays unacknowledged before it is delivered again
    /// (its handler hung, say).
    #[must_use]
    pub fn claim_after(mut self, idle: Duration) -> Self {
        self.claim_after = idle;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Log {
    /// Remembers `id`; whether it is new.
    fn first_time(&mut self, id: Uuid) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.seen_order.push_back(id);
        if self.seen_order.len() > SEEN
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }

    /// Drops the entries every group acknowledged; whether any left.
    fn trim(&mut self) -> bool {
        let keep_from = self
            .groups
            .values()
            .map(|g| {
                g.pending
                    .keys()
                    .next()
                    .copied()
                    .unwrap_or(g.next)
                    .min(g.next)
            })
            .min()
            .unwrap_or(self.next_id);
        let before = self.entries.len();
        while self.entries.front().is_some_and(|(id, _)| *id < keep_from) {
            self.entries.pop_front();
        }
        self.entries.len() < before
    }
}

impl EventTransport for InMemoryTransport {
    fn publish<'a>(&'a self, events: &'a [Arc<Event>]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            for event in events {
                loop {
                    let space = self.space.notified();
                    {
                        let mut log = self.lock();
                        if log.seen.contains(&event.meta.id) {
                            break;
                        }
                        if log.groups.is_empty() {
                            // Nobody reads: nothing to keep.
                            log.first_time(event.meta.id);
                            break;
                        }
                        if log.entries.len() < self.capacity {
                            log.first_time(event.meta.id);
                            let id = log.next_id;
                            log.next_id += 1;
                            log.entries.push_back((id, event.clone()));
                            drop(log);
                            self.arrived.notify_waiters();
                            break;
                        }
                    }
                    space.await;
                }
            }
            Ok(())
        })
    }

    fn join<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut log = self.lock();
        let next = log.next_id;
        log.groups.entry(group.to_owned()).or_insert(Group {
            next,
            pending: BTreeMap::new(),
        });
        Box::pin(std::future::ready(Ok(())))
    }

    fn receive<'a>(
        &'a self,
        group: &'a str,
        _consumer: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Received>, StoreError>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.wait;
            loop {
                let arrived = self.arrived.notified();
                {
                    let mut log = self.lock();
                    let Log {
                        entries, groups, ..
                    } = &mut *log;
                    let Some(g) = groups.get_mut(group) else {
                        return Err(StoreError::new(format!("no consumer group `{group}`")));
                    };
                    let now = Instant::now();
                    let first = entries.front().map_or(0, |(id, _)| *id);
                    let at = |id: u64| {
                        usize::try_from(id.checked_sub(first)?)
                            .ok()
                            .and_then(|i| entries.get(i))
                    };
                    let mut out = Vec::new();
                    for (id, since) in &mut g.pending {
                        if out.len() < BATCH
                            && now.duration_since(*since) >= self.claim_after
                            && let Some((_, event)) = at(*id)
                        {
                            *since = now;
                            out.push(Received::new(id.to_string(), event.clone()));
                        }
                    }
                    while out.len() < BATCH
                        && let Some((id, event)) = at(g.next)
                    {
                        g.pending.insert(*id, now);
                        out.push(Received::new(id.to_string(), event.clone()));
                        g.next += 1;
                    }
                    if !out.is_empty() {
                        return Ok(out);
                    }
                }
                if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                    return Ok(Vec::new());
                }
            }
        })
    }

    fn extend<'a>(
        &'a self,
        group: &'a str,
        _consumer: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut log = self.lock();
        if let Some(g) = log.groups.get_mut(group) {
            let now = Instant::now();
            for id in ids.iter().filter_map(|id| id.parse::<u64>().ok()) {
                if let Some(since) = g.pending.get_mut(&id) {
                    *since = now;
                }
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn keepalive(&self) -> Option<Duration> {
        Some(self.claim_after / 3)
    }

    fn ack<'a>(&'a self, group: &'a str, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut log = self.lock();
        if let (Some(g), Ok(id)) = (log.groups.get_mut(group), id.parse::<u64>()) {
            g.pending.remove(&id);
        }
        if log.trim() {
            drop(log);
            self.space.notify_waiters();
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> Arc<Event> {
        Arc::new(Event::new(
            format!("thing.n{n}"),
            serde_json::json!({ "n": n }),
        ))
    }

    #[tokio::test]
    async fn groups_see_each_event_once_in_order_and_republished_ones_are_skipped() {
        let log = InMemoryTransport::new();
        log.join("a").await.unwrap();
        log.join("b").await.unwrap();
        let events: Vec<_> = (0..5).map(event).collect();
        log.publish(&events[..3]).await.unwrap();
        // A relay that died before marking publishes the batch again, and more.
        log.publish(&events).await.unwrap();
        for group in ["a", "b"] {
            let got = log.receive(group, "me").await.unwrap();
            let names: Vec<_> = got.iter().map(|r| r.event.name.as_str()).collect();
            assert_eq!(
                names,
                ["thing.n0", "thing.n1", "thing.n2", "thing.n3", "thing.n4"]
            );
            for r in &got {
                log.ack(group, &r.id).await.unwrap();
            }
        }
        assert!(log.lock().entries.is_empty(), "acknowledged by all: gone");
        assert!(log.receive("a", "me").await.unwrap().is_empty());
        assert!(log.receive("nobody", "me").await.is_err());
    }

    #[tokio::test]
    async fn a_full_log_holds_the_publisher_until_groups_acknowledge() {
        let log = Arc::new(InMemoryTransport::new().capacity(2));
        log.join("slow").await.unwrap();
        let events: Vec<_> = (0..3).map(event).collect();
        let publisher = {
            let (log, events) = (log.clone(), events.clone());
            tokio::spawn(async move { log.publish(&events).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!publisher.is_finished(), "the third waits for room");
        let got = log.receive("slow", "me").await.unwrap();
        assert_eq!(got.len(), 2);
        log.ack("slow", &got[0].id).await.unwrap();
        publisher.await.unwrap().unwrap();
        let rest = log.receive("slow", "me").await.unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].event.name, "thing.n2");
    }

    #[tokio::test]
    async fn an_entry_never_acknowledged_is_delivered_again() {
        let log = InMemoryTransport::new().claim_after(Duration::from_millis(30));
        log.join("g").await.unwrap();
        log.publish(&[event(1)]).await.unwrap();
        let first = log.receive("g", "dead").await.unwrap();
        assert_eq!(first.len(), 1);
        tokio::time::sleep(Duration::from_millis(40)).await;
        let again = log.receive("g", "alive").await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].id, first[0].id);
    }
}
