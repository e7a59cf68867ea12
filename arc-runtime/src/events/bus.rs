//! Delivery: the relay, which publishes the outbox in order to the transport while it holds
//! the lease; the app's subscribers, each a consumer group of the transport, retried with
//! backoff, then dead-lettered; and the feed of this instance's streams.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::task::JoinHandle;

use super::outbox::{self, now_ms};
use super::{Event, EventsRuntime, Subscriber};
use crate::stores::{EventTransport, Received};

/// Rows the streams' feed reads at a time.
const TAIL_PAGE: u64 = 256;

/// How often the relay prunes delivered rows, at most (a shorter retention prunes as often).
const PRUNE_EVERY_MS: i64 = 60_000;

/// A round's failure: the database's or the transport's.
type RoundError = Box<dyn std::error::Error + Send + Sync>;

/// The tasks of an app's events: the relay, the streams' feed and what wakes it, and the
/// subscribers (which [`EventsRuntime::shutdown`] stops last).
pub(super) struct Tasks {
    pub(super) relay: Vec<JoinHandle<()>>,
    pub(super) subscribers: Vec<JoinHandle<()>>,
}

/// Starts the relay, the feed, and one consumer per subscriber.
pub(super) fn spawn(runtime: &Arc<EventsRuntime>) -> Tasks {
    let subscribers = runtime
        .settings
        .subscribers
        .iter()
        .map(|sub| tokio::spawn(subscriber(runtime.clone(), sub.clone())))
        .collect();
    Tasks {
        relay: vec![
            tokio::spawn(relay(runtime.clone())),
            tokio::spawn(tail(runtime.clone())),
            tokio::spawn(watch(runtime.clone())),
        ],
        subscribers,
    }
}

/// The relay: a round whenever a commit wakes it or the poll interval passes, until the
/// app stops; then it gives its lease up. Before its first round it makes sure every
/// subscriber's group exists, so none misses the first events.
async fn relay(runtime: Arc<EventsRuntime>) {
    let mut stop = runtime.stopping();
    let mut last_prune = 0i64;
    let mut failures = 0u32;
    let mut joined = false;
    loop {
        if *stop.borrow() {
            break;
        }
        let outcome = match joined {
            true => round(&runtime).await,
            false => join_all(&runtime).await.map(|()| {
                joined = true;
                true
            }),
        };
        let more = match outcome {
            Ok(more) => {
                failures = 0;
                more
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, failures, "events: relay round failed");
                false
            }
        };
        let now = now_ms();
        let retention = i64::try_from(runtime.settings.retention.as_millis()).unwrap_or(i64::MAX);
        if now - last_prune > PRUNE_EVERY_MS.min(retention) {
            last_prune = now;
            let before = now.saturating_sub(retention);
            match outbox::prune(&runtime.writer, before).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "events: pruned delivered outbox rows"),
                Err(e) => tracing::warn!(error = %e, "events: pruning the outbox failed"),
            }
        }
        if more {
            tokio::task::yield_now().await;
            continue;
        }
        let wait = if failures == 0 {
            runtime.settings.poll
        } else {
            runtime
                .settings
                .retry
                .backoff(failures)
                .max(runtime.settings.poll)
        };
        tokio::select! {
            () = runtime.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
    if let Err(e) = outbox::release_lease(&runtime.writer, &runtime.instance).await {
        tracing::warn!(error = %e, "events: releasing the relay's lease failed");
    }
}

/// Makes sure each subscriber's consumer group exists.
async fn join_all(runtime: &EventsRuntime) -> Result<(), RoundError> {
    for sub in &runtime.settings.subscribers {
        runtime.transport.join(&sub.name).await?;
    }
    Ok(())
}

/// Takes or renews the relay's lease for this instance, for the lease's length from now.
/// Whether it holds it.
async fn hold_lease(runtime: &EventsRuntime) -> Result<bool, sea_orm::DbErr> {
    let now = now_ms();
    let lease = i64::try_from(runtime.settings.lease.as_millis()).unwrap_or(i64::MAX);
    outbox::take_lease(
        &runtime.writer,
        &runtime.instance,
        now,
        now.saturating_add(lease),
    )
    .await
}

/// One round: take (or renew) the lease, publish the first undelivered rows in order, mark
/// them delivered. Whether a full batch went out (more may be waiting).
async fn round(runtime: &EventsRuntime) -> Result<bool, RoundError> {
    let settings = &runtime.settings;
    let now = now_ms();
    if !hold_lease(runtime).await? {
        return Ok(false);
    }
    let rows = outbox::pending(&runtime.db, settings.batch).await?;
    let lag = rows
        .first()
        .and_then(|row| row.delivery.as_ref().ok())
        .map_or(0.0, |d| {
            (chrono::Utc::now() - d.event.meta.timestamp)
                .as_seconds_f64()
                .max(0.0)
        });
    runtime.metric(|| metrics::gauge!("arc_outbox_lag_seconds").set(lag));
    let full = rows.len() == settings.batch as usize;
    let mut delivered = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        // Rows go out in order: one not due yet holds back those after it.
        if row.next_attempt_at.is_some_and(|at| at > now) {
            break;
        }
        match row.delivery {
            Ok(delivery) => events.push(delivery.event),
            Err(e) => {
                // Not an envelope this crate wrote: it can never be delivered; say so once.
                tracing::error!(seq = row.seq, error = %e, "events: unreadable outbox row, skipped");
                runtime.metric(|| {
                    metrics::counter!("arc_events_dead_letters_total", "type" => "unreadable")
                        .increment(1);
                });
            }
        }
        delivered.push(row.seq);
    }
    if !events.is_empty() {
        // Each round, so a transport that lost its groups (a Redis without persistence that
        // restarted) has them again before these events.
        join_all(runtime).await?;
    }
    if !events.is_empty() && !publish(runtime, &events).await? {
        // Another instance took the lease while the transport held this one up: it
        // publishes from here (the transport skips what went out twice).
        tracing::warn!("events: the relay's lease passed to another instance mid-round");
        return Ok(false);
    }
    let all = delivered.len();
    if !outbox::mark_published(&runtime.writer, &runtime.instance, &delivered).await? {
        tracing::warn!("events: the relay's lease expired before its round was marked");
        return Ok(false);
    }
    if all > 0 {
        runtime.metric(|| {
            for event in &events {
                metrics::counter!("arc_events_published_total", "type" => event.name.clone())
                    .increment(1);
            }
        });
        runtime.published.notify_one();
        if let Err(e) = runtime.transport.announce().await {
            tracing::debug!(error = %e, "events: announcing published events failed");
        }
    }
    Ok(full && all == settings.batch as usize)
}

/// Appends `events` to the transport. A full log (a subscriber far behind) holds the relay
/// back rather than buffering without bound; while it waits, the relay keeps renewing its
/// lease. Whether it still holds the lease.
async fn publish(runtime: &EventsRuntime, events: &[Arc<Event>]) -> Result<bool, RoundError> {
    let renew_every = runtime.settings.lease / 3;
    let mut publishing = runtime.transport.publish(events);
    loop {
        match tokio::time::timeout(renew_every, &mut publishing).await {
            Ok(published) => return published.map(|()| true).map_err(Into::into),
            Err(_) => {
                if !hold_lease(runtime).await? {
                    return Ok(false);
                }
            }
        }
    }
}

/// Wakes this instance's feed when another instance's relay announces published events
/// (a transport of one process never does: the relay wakes the feed itself).
async fn watch(runtime: Arc<EventsRuntime>) {
    let mut stop = runtime.stopping();
    let mut after: Option<String> = None;
    let mut failures = 0u32;
    loop {
        let heard = tokio::select! {
            heard = runtime.transport.watch(after.as_deref()) => heard,
            _ = stop.changed() => break,
        };
        match heard {
            Ok(name) => {
                failures = 0;
                if after.is_some() && name != after {
                    runtime.published.notify_one();
                }
                after = name;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::debug!(error = %e, "events: watching for published events failed");
                tokio::select! {
                    () = tokio::time::sleep(runtime.settings.retry.backoff(failures)) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }
}

/// The streams' feed on every instance: what the relay (of whichever instance holds the
/// lease) published, read from the outbox in publication order as soon as this instance's
/// relay publishes, or every poll interval for another's. With no stream open it only moves
/// its position to the last one published.
///
/// The position is stored before each event is sent, so a stream that subscribes and then
/// reads it knows that everything above it will reach it live, and everything at or below
/// it is in the outbox.
async fn tail(runtime: Arc<EventsRuntime>) {
    use std::sync::atomic::Ordering::SeqCst;
    let mut stop = runtime.stopping();
    loop {
        if *stop.borrow() {
            break;
        }
        let at = runtime.fed.load(SeqCst);
        let mut full = false;
        if at == super::NOT_FED || runtime.live.receiver_count() == 0 {
            match outbox::last_position(&runtime.db).await {
                Ok(last) => {
                    let _feed = runtime.feed.lock().unwrap_or_else(|e| e.into_inner());
                    // The first position is taken whoever waits; later, only while nobody
                    // listens (a stream that subscribed meanwhile gets what comes next).
                    if at == super::NOT_FED || runtime.live.receiver_count() == 0 {
                        runtime.fed.store(last.max(at), SeqCst);
                    }
                }
                Err(e) => tracing::debug!(error = %e, "events: reading the outbox failed"),
            }
        } else {
            match outbox::published_since(&runtime.db, at, TAIL_PAGE).await {
                Ok(page) => {
                    full = page.len() as u64 == TAIL_PAGE;
                    for delivery in page {
                        runtime.fed.store(delivery.seq, SeqCst);
                        // No stream listening any more is not an error.
                        let _ = runtime.live.send(Arc::new(delivery));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "events: reading the published events failed")
                }
            }
        }
        if full {
            continue;
        }
        tokio::select! {
            () = runtime.published.notified() => {}
            () = tokio::time::sleep(runtime.settings.poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// A subscriber's task: a consumer of its group, on this instance. Each entry goes through
/// the handler, retried per the settings, then dead-lettered; then it is acknowledged. While
/// a batch is being handled, its entries not yet acknowledged are kept from other consumers.
/// At shutdown (after the relay stopped) it finishes its batch; with a log of this process
/// it first takes what is left for it.
async fn subscriber(runtime: Arc<EventsRuntime>, sub: Subscriber) {
    let transport = runtime.transport.clone();
    let drain = runtime.draining();
    let mut failures = 0u32;
    let mut joined = false;
    loop {
        let draining = *drain.borrow();
        if draining && transport.shared() {
            break;
        }
        if !joined {
            // The relay joins too, before it publishes; joining twice is no error.
            joined = transport.join(&sub.name).await.is_ok();
        }
        // Not raced against the drain: a read cut off would leave its entries pending with
        // this consumer until another claims them.
        match transport.receive(&sub.name, &runtime.instance).await {
            Ok(entries) if entries.is_empty() && draining => break,
            Ok(entries) => {
                failures = 0;
                handle_batch(&runtime, &*transport, &sub, &entries).await;
            }
            Err(e) => {
                if draining {
                    break;
                }
                failures = failures.saturating_add(1);
                tracing::warn!(subscriber = %sub.name, error = %e, failures, "events: receiving failed");
                // The group may be gone (a transport that lost its data): join it again.
                joined = false;
                tokio::time::sleep(runtime.settings.retry.backoff(failures)).await;
            }
        }
    }
}

/// Handles `entries` in order, keeping those not acknowledged yet with this consumer.
async fn handle_batch(
    runtime: &EventsRuntime,
    transport: &dyn EventTransport,
    sub: &Subscriber,
    entries: &[Received],
) {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let work = async {
        for entry in entries {
            handle(runtime, transport, sub, entry).await;
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let Some(every) = transport.keepalive() else {
        return work.await;
    };
    let keep = async {
        let every = every.max(std::time::Duration::from_millis(10));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tick.tick().await;
            let from = done.load(std::sync::atomic::Ordering::SeqCst);
            let ids: Vec<String> = entries[from.min(entries.len())..]
                .iter()
                .map(|e| e.id.clone())
                .collect();
            if let Err(e) = transport.extend(&sub.name, &runtime.instance, &ids).await {
                tracing::debug!(subscriber = %sub.name, error = %e, "events: keeping entries failed");
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = keep => {}
    }
}

/// Hands `entry` to `sub` (when it matches its pattern), then acknowledges it.
async fn handle(
    runtime: &EventsRuntime,
    transport: &dyn EventTransport,
    sub: &Subscriber,
    entry: &Received,
) {
    // The group reads every event; the handler sees those of its pattern.
    if sub.pattern.matches(&entry.event.name) {
        deliver(runtime, transport, sub, entry).await;
    }
    // Acknowledged as soon as the transport answers again (an outage stops the consumer
    // anyway), so a short outage does not make the entry someone else's to handle again;
    // an acknowledgement given up at shutdown is a delivery again later: at least once.
    let drain = runtime.draining();
    let mut failures = 0;
    while let Err(e) = transport.ack(&sub.name, &entry.id).await {
        failures += 1;
        tracing::warn!(subscriber = %sub.name, error = %e, failures, "events: acknowledging failed");
        if *drain.borrow() {
            break;
        }
        tokio::time::sleep(runtime.settings.retry.backoff(failures)).await;
    }
}

/// Runs `entry` through `sub`'s handler until it succeeds or the attempts run out, then
/// dead-letters it.
async fn deliver(
    runtime: &EventsRuntime,
    transport: &dyn EventTransport,
    sub: &Subscriber,
    entry: &Received,
) {
    let retry = runtime.settings.retry;
    let event = &entry.event;
    let mut attempt = 1;
    loop {
        let outcome =
            match std::panic::catch_unwind(AssertUnwindSafe(|| (sub.handler)(event.clone()))) {
                Ok(fut) => AssertUnwindSafe(fut)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err("the handler panicked".into())),
                Err(_) => Err("the handler panicked".into()),
            };
        match outcome {
            Ok(()) => {
                runtime.metric(|| {
                    metrics::counter!(
                        "arc_events_consumed_total",
                        "type" => event.name.clone(),
                        "outcome" => "ok",
                    )
                    .increment(1);
                });
                break;
            }
            Err(e) if attempt < retry.attempts => {
                tracing::debug!(subscriber = %sub.name, event = %event.meta.id, attempt, error = %e, "events: handler failed, retrying");
                tokio::time::sleep(retry.backoff(attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                let error = e.to_string();
                let envelope = serde_json::to_string(&**event).unwrap_or_default();
                tracing::error!(subscriber = %sub.name, attempts = attempt, error = %error, %envelope, "events: handler failed for good, dead-lettered");
                runtime.metric(|| {
                    metrics::counter!(
                        "arc_events_consumed_total",
                        "type" => event.name.clone(),
                        "outcome" => "dead_letter",
                    )
                    .increment(1);
                    metrics::counter!("arc_events_dead_letters_total", "type" => event.name.clone())
                        .increment(1);
                });
                let kept =
                    outbox::dead_letter(&runtime.writer, &sub.name, event, &error, attempt).await;
                if let Err(e) = kept {
                    tracing::error!(error = %e, "events: the dead letter could not be stored");
                }
                if let Err(e) = transport.dead_letter(&sub.name, entry, &error).await {
                    tracing::error!(error = %e, "events: the transport's dead letter could not be stored");
                }
                break;
            }
        }
    }
}
