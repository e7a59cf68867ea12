//! The events' transport on Redis Streams ([`RedisStreams`]): the relay appends each event
//! to one stream, each subscriber of the app is a consumer group on it with one consumer per
//! instance, entries are acknowledged once handled, those a dead consumer left are claimed by
//! another, and those that fail for good go to a dead-letter stream.
//!
//! Entries have arc's fields (`type`, `data` = the JSON envelope; plus `id` = the event's
//! id), so services on arc and on arc-rs can share a stream.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_runtime::Event;
use arc_runtime::config::{BoxFuture, EventTransport, Received, StoreError};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamPendingCountReply, StreamRangeReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Value};

use crate::Redis;
use crate::redis::millis;

/// Appends the events not seen yet (in one script, so a relay's retry cannot interleave
/// with it): `KEYS` = the stream, the prefix of the seen-markers; `ARGV` = the stream's
/// length bound (0: none), how long a marker lives (ms), then `id, type, data` per event.
/// The marker is set after the entry, so an entry that failed is appended on the retry.
const PUBLISH: &str = r"
local appended = 0
for i = 3, #ARGV, 3 do
  local seen = KEYS[2] .. ARGV[i]
  if redis.call('EXISTS', seen) == 0 then
    if tonumber(ARGV[1]) > 0 then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
        'type', ARGV[i + 1], 'data', ARGV[i + 2], 'id', ARGV[i])
    else
      redis.call('XADD', KEYS[1], '*', 'type', ARGV[i + 1], 'data', ARGV[i + 2], 'id', ARGV[i])
    end
    redis.call('SET', seen, '1', 'PX', ARGV[2])
    appended = appended + 1
  end
end
return appended
";

/// An entry of the dead-letter stream: what failed, where, and why.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// Its id in the dead-letter stream.
    pub id: String,
    /// The entry's id in the events' stream.
    pub original_id: String,
    /// The consumer group that gave up on it.
    pub group: String,
    /// Why.
    pub error: String,
    /// The event's JSON envelope (as the stream had it).
    pub data: String,
}

/// The events' transport on Redis Streams (see
/// [`Events::transport`](arc_runtime::config::Events::transport)): the relay appends each
/// event to one stream; each subscriber of the app is a consumer group on it with one
/// consumer per instance; entries are acknowledged once handled, those a dead consumer left
/// are claimed by another, and those that fail for good go to a dead-letter stream. Entries
/// carry arc's fields (`type`, `data` = the JSON envelope, and `id`), so services on arc and
/// on arc-rs can share a stream.
///
/// ```no_run
/// use arc_runtime::config::Events;
/// # fn f(app: arc_runtime::App) -> Result<arc_runtime::App, Box<dyn std::error::Error>> {
/// let redis = arc_stores::Redis::new("redis://127.0.0.1:6379", "shop:")?;
/// let app = app.events(Events::new().transport(redis.event_streams()));
/// # Ok(app) }
/// ```
///
/// Keys: the stream `{prefix}events`, its dead letters `{prefix}events:dlq`, the relay's
/// announcements `{prefix}events:published`, and a marker per published event id
/// (`{prefix}events:seen:{id}`, kept for [`RedisStreams::dedupe_window`]) that keeps a
/// relay that died before marking its rows from appending them twice.
#[derive(Clone)]
pub struct RedisStreams {
    redis: Redis,
    stream: String,
    group_prefix: String,
    claim_after: Duration,
    max_deliveries: usize,
    max_len: usize,
    block: Duration,
    batch: usize,
    dedupe: Duration,
    /// The blocking readers' own connections (a blocked read would hold up a pooled one).
    readers: Arc<Mutex<HashMap<String, MultiplexedConnection>>>,
    /// When each group last looked for entries to claim.
    claimed: Arc<Mutex<HashMap<String, Instant>>>,
}

impl std::fmt::Debug for RedisStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreams")
            .field("stream", &self.stream)
            .field("group_prefix", &self.group_prefix)
            .field("claim_after", &self.claim_after)
            .field("max_deliveries", &self.max_deliveries)
            .field("max_len", &self.max_len)
            .field("block", &self.block)
            .field("batch", &self.batch)
            .field("dedupe", &self.dedupe)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl RedisStreams {
    /// How long an entry stays with a consumer that does not acknowledge it before another
    /// claims it.
    pub const DEFAULT_CLAIM_AFTER: Duration = Duration::from_secs(30);
    /// Deliveries of one entry (claims included) before it is dead-lettered unhandled: an
    /// entry that kills its consumers does not kill them all.
    pub const DEFAULT_MAX_DELIVERIES: usize = 5;
    /// The stream's approximate length bound (`MAXLEN ~`): a group further behind loses
    /// the oldest entries.
    pub const DEFAULT_MAX_LEN: usize = 1_000_000;
    /// How long a consumer's read blocks when there is nothing.
    pub const DEFAULT_BLOCK: Duration = Duration::from_secs(2);
    /// Entries a consumer reads at a time.
    pub const DEFAULT_BATCH: usize = 64;
    /// How long a published event's id is remembered, to skip it when a relay publishes it
    /// again (a relay dies at most a lease before another takes over).
    pub const DEFAULT_DEDUPE_WINDOW: Duration = Duration::from_secs(24 * 3600);

    /// The transport on `redis`'s server, with the defaults above.
    pub fn new(redis: Redis) -> Self {
        let stream = redis.key("events", "").trim_end_matches(':').to_owned();
        RedisStreams {
            redis,
            stream,
            group_prefix: String::new(),
            claim_after: Self::DEFAULT_CLAIM_AFTER,
            max_deliveries: Self::DEFAULT_MAX_DELIVERIES,
            max_len: Self::DEFAULT_MAX_LEN,
            block: Self::DEFAULT_BLOCK,
            batch: Self::DEFAULT_BATCH,
            dedupe: Self::DEFAULT_DEDUPE_WINDOW,
            readers: Arc::default(),
            claimed: Arc::default(),
        }
    }

    /// The stream's key (the prefix is not added); the other keys follow it.
    #[must_use]
    pub fn stream(mut self, key: impl Into<String>) -> Self {
        self.stream = key.into();
        self
    }

    /// Put before each subscriber's group name: apps sharing a stream need their own groups.
    #[must_use]
    pub fn group_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.group_prefix = prefix.into();
        self
    }

    /// See [`Self::DEFAULT_CLAIM_AFTER`] (at least 100 ms).
    #[must_use]
    pub fn claim_after(mut self, idle: Duration) -> Self {
        self.claim_after = idle.max(Duration::from_millis(100));
        self
    }

    /// See [`Self::DEFAULT_MAX_DELIVERIES`] (at least 1).
    #[must_use]
    pub fn max_deliveries(mut self, deliveries: usize) -> Self {
        self.max_deliveries = deliveries.max(1);
        self
    }

    /// See [`Self::DEFAULT_MAX_LEN`] (0: unbounded).
    #[must_use]
    pub fn max_len(mut self, entries: usize) -> Self {
        self.max_len = entries;
        self
    }

    /// See [`Self::DEFAULT_BLOCK`] (at least 10 ms).
    #[must_use]
    pub fn block(mut self, wait: Duration) -> Self {
        self.block = wait.max(Duration::from_millis(10));
        self
    }

    /// See [`Self::DEFAULT_BATCH`] (at least 1).
    #[must_use]
    pub fn batch(mut self, entries: usize) -> Self {
        self.batch = entries.max(1);
        self
    }

    /// See [`Self::DEFAULT_DEDUPE_WINDOW`].
    #[must_use]
    pub fn dedupe_window(mut self, window: Duration) -> Self {
        self.dedupe = window.max(Duration::from_secs(1));
        self
    }

    /// The stream's key.
    pub fn stream_key(&self) -> &str {
        &self.stream
    }

    fn dead_stream(&self) -> String {
        format!("{}:dlq", self.stream)
    }

    fn marks(&self) -> String {
        format!("{}:published", self.stream)
    }

    fn group(&self, group: &str) -> String {
        format!("{}{group}", self.group_prefix)
    }

    async fn pooled(&self) -> Result<deadpool_redis::Connection, StoreError> {
        self.redis.pool.get().await.map_err(StoreError::new)
    }

    /// A connection of its own for the blocking reader `name`, whose reads may take the
    /// block time (redis's default 500 ms response timeout would cut them).
    async fn reader(&self, name: &str) -> Result<MultiplexedConnection, StoreError> {
        if let Some(conn) = lock(&self.readers).get(name) {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(self.block + Duration::from_secs(5)));
        let conn = self
            .redis
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(StoreError::new)?;
        lock(&self.readers).insert(name.to_owned(), conn.clone());
        Ok(conn)
    }

    /// A reader's connection failed: the next read opens another.
    fn forget(&self, name: &str) {
        lock(&self.readers).remove(name);
    }

    /// The entries after stream id `after` (exclusive; `"-"` for the first), at most
    /// `count`: for replays and inspection.
    pub async fn read(&self, after: &str, count: usize) -> Result<Vec<Received>, StoreError> {
        let start = match after {
            "-" => "-".to_owned(),
            id => format!("({id}"),
        };
        let mut conn = self.pooled().await?;
        let range: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(start)
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::new)?;
        Ok(range
            .ids
            .into_iter()
            .filter_map(|entry| decode(&entry).ok())
            .collect())
    }

    /// Replays group `group` (a subscriber's name) from after stream id `after` (`"0"`:
    /// from the start of what the stream keeps): its consumers receive those entries again.
    pub async fn replay(&self, group: &str, after: &str) -> Result<(), StoreError> {
        let mut conn = self.pooled().await?;
        redis::cmd("XGROUP")
            .arg("SETID")
            .arg(&self.stream)
            .arg(self.group(group))
            .arg(after)
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::new)
    }

    /// The dead letters, oldest first, at most `count`.
    pub async fn dead_letters(&self, count: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let mut conn = self.pooled().await?;
        let range: StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.dead_stream())
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::new)?;
        Ok(range
            .ids
            .into_iter()
            .map(|entry| DeadLetter {
                original_id: entry.get("originalId").unwrap_or_default(),
                group: entry.get("group").unwrap_or_default(),
                error: entry.get("error").unwrap_or_default(),
                data: entry.get("data").unwrap_or_default(),
                id: entry.id,
            })
            .collect())
    }

    /// Moves entry `id` of `group` to the dead letters and acknowledges it.
    async fn bury(&self, group: &str, id: &str, data: &str, error: &str) -> Result<(), StoreError> {
        let mut conn = self.pooled().await?;
        redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(self.dead_stream())
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_len.max(1000))
            .arg("*")
            .arg("originalStream")
            .arg(&self.stream)
            .arg("originalId")
            .arg(id)
            .arg("group")
            .arg(group)
            .arg("failedAt")
            .arg(now_text())
            .arg("error")
            .arg(error)
            .arg("data")
            .arg(data)
            .ignore()
            .cmd("XACK")
            .arg(&self.stream)
            .arg(group)
            .arg(id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::new)
    }

    /// The entries of `group` that a consumer took and left unacknowledged longer than the
    /// claim time, now `consumer`'s; those delivered too often are dead-lettered instead.
    /// Looked for at most every half claim time per group and consumer.
    async fn claim(&self, group: &str, consumer: &str) -> Result<Vec<Received>, StoreError> {
        let key = format!("{group}\u{0}{consumer}");
        {
            let mut claimed = lock(&self.claimed);
            let now = Instant::now();
            if claimed
                .get(&key)
                .is_some_and(|at| now.duration_since(*at) < self.claim_after / 2)
            {
                return Ok(Vec::new());
            }
            claimed.insert(key, now);
        }
        let idle = millis(self.claim_after);
        let mut conn = self.pooled().await?;
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(group)
            .arg("IDLE")
            .arg(idle)
            .arg("-")
            .arg("+")
            .arg(self.batch)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::new)?;
        let mut stale = Vec::new();
        for entry in pending.ids {
            if entry.times_delivered >= self.max_deliveries {
                let range: StreamRangeReply = redis::cmd("XRANGE")
                    .arg(&self.stream)
                    .arg(&entry.id)
                    .arg(&entry.id)
                    .query_async(&mut conn)
                    .await
                    .map_err(StoreError::new)?;
                let data: String = range
                    .ids
                    .first()
                    .and_then(|e| e.get("data"))
                    .unwrap_or_default();
                let error = format!(
                    "delivered {} times and never acknowledged (its consumers died?)",
                    entry.times_delivered
                );
                tracing::warn!(entry = %entry.id, group, %error, "events: dead-lettered unhandled");
                self.bury(group, &entry.id, &data, &error).await?;
            } else {
                stale.push(entry.id);
            }
        }
        if stale.is_empty() {
            return Ok(Vec::new());
        }
        let claimed: Vec<Option<(String, HashMap<String, Value>)>> = redis::cmd("XCLAIM")
            .arg(&self.stream)
            .arg(group)
            .arg(consumer)
            .arg(idle)
            .arg(&stale)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::new)?;
        let mut out = Vec::new();
        for (id, map) in claimed.into_iter().flatten() {
            let entry = StreamId {
                id,
                map,
                ..StreamId::default()
            };
            if let Some(received) = self.accept(group, entry).await? {
                out.push(received);
            }
        }
        Ok(out)
    }

    /// The event of `entry`; an entry that is not one is dead-lettered and skipped.
    async fn accept(&self, group: &str, entry: StreamId) -> Result<Option<Received>, StoreError> {
        match decode(&entry) {
            Ok(received) => Ok(Some(received)),
            Err(error) => {
                let data: String = entry.get("data").unwrap_or_default();
                self.bury(group, &entry.id, &data, &error).await?;
                Ok(None)
            }
        }
    }
}

/// The event of a stream entry, or why it has none.
fn decode(entry: &StreamId) -> Result<Received, String> {
    let data: String = entry
        .get("data")
        .ok_or_else(|| "an entry without `data`".to_owned())?;
    let event: Event =
        serde_json::from_str(&data).map_err(|e| format!("not an event envelope: {e}"))?;
    Ok(Received::new(entry.id.clone(), Arc::new(event)))
}

/// Now, in RFC 3339 (UTC, milliseconds), as arc writes `failedAt`.
fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl EventTransport for RedisStreams {
    fn publish<'a>(&'a self, events: &'a [Arc<Event>]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(());
            }
            let mut script = redis::cmd("EVAL");
            script
                .arg(PUBLISH)
                .arg(2)
                .arg(&self.stream)
                .arg(format!("{}:seen:", self.stream))
                .arg(self.max_len)
                .arg(millis(self.dedupe));
            for event in events {
                let data = serde_json::to_string(&**event).map_err(StoreError::new)?;
                script
                    .arg(event.meta.id.to_string())
                    .arg(&event.name)
                    .arg(data);
            }
            let mut conn = self.pooled().await?;
            script
                .query_async::<i64>(&mut conn)
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn join<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.pooled().await?;
            let created = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&self.stream)
                .arg(self.group(group))
                .arg("$")
                .arg("MKSTREAM")
                .query_async::<()>(&mut conn)
                .await;
            match created {
                Err(e) if e.code() != Some("BUSYGROUP") => Err(StoreError::new(e)),
                _ => Ok(()),
            }
        })
    }

    fn receive<'a>(
        &'a self,
        group: &'a str,
        consumer: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Received>, StoreError>> {
        Box::pin(async move {
            let group = self.group(group);
            let claimed = self.claim(&group, consumer).await?;
            if !claimed.is_empty() {
                return Ok(claimed);
            }
            let name = format!("read\u{0}{group}\u{0}{consumer}");
            let mut conn = self.reader(&name).await?;
            let read: Result<Option<StreamReadReply>, _> = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&group)
                .arg(consumer)
                .arg("COUNT")
                .arg(self.batch)
                .arg("BLOCK")
                .arg(millis(self.block))
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(">")
                .query_async(&mut conn)
                .await;
            let read = read.map_err(|e| {
                self.forget(&name);
                StoreError::new(e)
            })?;
            let mut out = Vec::new();
            for key in read.map(|r| r.keys).unwrap_or_default() {
                for entry in key.ids {
                    if let Some(received) = self.accept(&group, entry).await? {
                        out.push(received);
                    }
                }
            }
            Ok(out)
        })
    }

    fn extend<'a>(
        &'a self,
        group: &'a str,
        consumer: &'a str,
        ids: &'a [String],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(());
            }
            // Claimed again by the consumer that holds them: idle from now, and (JUSTID)
            // not counted as another delivery.
            let mut conn = self.pooled().await?;
            redis::cmd("XCLAIM")
                .arg(&self.stream)
                .arg(self.group(group))
                .arg(consumer)
                .arg(0)
                .arg(ids)
                .arg("JUSTID")
                .query_async::<Value>(&mut conn)
                .await
                .map_err(StoreError::new)?;
            Ok(())
        })
    }

    fn keepalive(&self) -> Option<Duration> {
        Some(self.claim_after / 3)
    }

    fn shared(&self) -> bool {
        true
    }

    fn ack<'a>(&'a self, group: &'a str, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.pooled().await?;
            redis::cmd("XACK")
                .arg(&self.stream)
                .arg(self.group(group))
                .arg(id)
                .query_async::<()>(&mut conn)
                .await
                .map_err(StoreError::new)
        })
    }

    fn dead_letter<'a>(
        &'a self,
        group: &'a str,
        entry: &'a Received,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let data = serde_json::to_string(&*entry.event).map_err(StoreError::new)?;
            self.bury(&self.group(group), &entry.id, &data, error).await
        })
    }

    fn announce(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.pooled().await?;
            redis::cmd("XADD")
                .arg(self.marks())
                .arg("MAXLEN")
                .arg("~")
                .arg(1000)
                .arg("*")
                .arg("at")
                .arg(now_text())
                .query_async::<()>(&mut conn)
                .await
                .map_err(StoreError::new)
        })
    }

    fn watch<'a>(
        &'a self,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let name = "watch";
            let mut conn = self.reader(name).await?;
            let after = match after {
                Some(after) => after.to_owned(),
                None => {
                    // Start at the last announcement there is.
                    let last: StreamRangeReply = redis::cmd("XREVRANGE")
                        .arg(self.marks())
                        .arg("+")
                        .arg("-")
                        .arg("COUNT")
                        .arg(1)
                        .query_async(&mut conn)
                        .await
                        .map_err(|e| {
                            self.forget(name);
                            StoreError::new(e)
                        })?;
                    let first = last.ids.into_iter().next();
                    return Ok(Some(first.map_or_else(|| "0-0".to_owned(), |e| e.id)));
                }
            };
            let read: Result<Option<StreamReadReply>, _> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(1000)
                .arg("BLOCK")
                .arg(millis(self.block))
                .arg("STREAMS")
                .arg(self.marks())
                .arg(&after)
                .query_async(&mut conn)
                .await;
            let read = read.map_err(|e| {
                self.forget(name);
                StoreError::new(e)
            })?;
            // Nothing within the block time: the same point again.
            Ok(Some(
                read.and_then(|r| r.keys.into_iter().next())
                    .and_then(|k| k.ids.into_iter().last())
                    .map_or(after, |e| e.id),
            ))
        })
    }
}
