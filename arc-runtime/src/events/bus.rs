//! Delivery: the relay, which publishes the outbox in order while it holds the lease, and the
//! app's subscribers, each on a task of its own, retried with backoff, then dead-lettered.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::outbox::{self, now_ms};
use super::{Delivery, EventPattern, EventsRuntime, Subscriber};

/// How many events wait for a subscriber before the relay waits for it.
const QUEUE: usize = 4096;

/// Rows the streams' feed reads at a time.
const TAIL_PAGE: u64 = 256;

/// How often the relay prunes delivered rows, at most (a shorter retention prunes as often).
const PRUNE_EVERY_MS: i64 = 60_000;

/// A subscriber's queue, as the relay sees it.
struct Queue {
    pattern: EventPattern,
    tx: mpsc::Sender<Arc<Delivery>>,
}

/// Starts the relay and one task per subscriber.
pub(super) fn spawn(runtime: &Arc<EventsRuntime>) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let mut queues = Vec::new();
    for sub in runtime.settings.subscribers.clone() {
        let (tx, rx) = mpsc::channel(QUEUE);
        queues.push(Queue {
            pattern: sub.pattern.clone(),
            tx,
        });
        tasks.push(tokio::spawn(subscriber(runtime.clone(), sub, rx)));
    }
    tasks.push(tokio::spawn(relay(runtime.clone(), queues)));
    tasks.push(tokio::spawn(tail(runtime.clone())));
    tasks
}

/// The relay: a round whenever a commit wakes it or the poll interval passes, until the
/// app stops; then it gives its lease up. Its queues close with it, so the subscribers
/// finish what is queued and end.
async fn relay(runtime: Arc<EventsRuntime>, queues: Vec<Queue>) {
    let mut stop = runtime.stopping();
    let mut last_prune = 0i64;
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        let more = match round(&runtime, &queues).await {
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
            match outbox::prune(&runtime.db, before).await {
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
    if let Err(e) = outbox::release_lease(&runtime.db, &runtime.instance).await {
        tracing::warn!(error = %e, "events: releasing the relay's lease failed");
    }
}

/// Takes or renews the relay's lease for this instance, for the lease's length from now.
/// Whether it holds it.
async fn hold_lease(runtime: &EventsRuntime) -> Result<bool, sea_orm::DbErr> {
    let now = now_ms();
    let lease = i64::try_from(runtime.settings.lease.as_millis()).unwrap_or(i64::MAX);
    outbox::take_lease(
        &runtime.db,
        &runtime.instance,
        now,
        now.saturating_add(lease),
    )
    .await
}

/// One round: take (or renew) the lease, publish the first undelivered rows in order, mark
/// them delivered. Whether a full batch went out (more may be waiting).
async fn round(runtime: &EventsRuntime, queues: &[Queue]) -> Result<bool, sea_orm::DbErr> {
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
    for row in rows {
        // Rows go out in order: one not due yet holds back those after it.
        if row.next_attempt_at.is_some_and(|at| at > now) {
            break;
        }
        match row.delivery {
            Ok(delivery) => {
                if !publish(runtime, queues, Arc::new(delivery)).await? {
                    // Another instance took the lease while a subscriber held this one up:
                    // it publishes from here (what went out meanwhile goes out twice).
                    tracing::warn!(
                        "events: the relay's lease passed to another instance mid-round"
                    );
                    return Ok(false);
                }
            }
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
    let all = delivered.len();
    if !outbox::mark_published(&runtime.db, &runtime.instance, &delivered).await? {
        tracing::warn!("events: the relay's lease expired before its round was marked");
        return Ok(false);
    }
    if all > 0 {
        runtime.published.notify_one();
    }
    Ok(full && all == settings.batch as usize)
}

/// Hands one event to the matching subscribers' queues. A full queue (a subscriber more
/// than [`QUEUE`] events behind) holds the relay back rather than buffering without bound;
/// while it waits, the relay keeps renewing its lease. Whether it still holds the lease.
async fn publish(
    runtime: &EventsRuntime,
    queues: &[Queue],
    delivery: Arc<Delivery>,
) -> Result<bool, sea_orm::DbErr> {
    let renew_every = runtime.settings.lease / 3;
    for queue in queues {
        if !queue.pattern.matches(&delivery.event.name) {
            continue;
        }
        loop {
            match tokio::time::timeout(renew_every, queue.tx.reserve()).await {
                Ok(Ok(permit)) => {
                    permit.send(delivery.clone());
                    break;
                }
                // A closed queue is a subscriber task that ended with the app.
                Ok(Err(_)) => break,
                Err(_) => {
                    if !hold_lease(runtime).await? {
                        return Ok(false);
                    }
                }
            }
        }
    }
    runtime.metric(|| {
        metrics::counter!("arc_events_published_total", "type" => delivery.event.name.clone())
            .increment(1);
    });
    Ok(true)
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

/// A subscriber's task: each queued event through its handler, retried per the settings,
/// then dead-lettered.
async fn subscriber(
    runtime: Arc<EventsRuntime>,
    sub: Subscriber,
    mut rx: mpsc::Receiver<Arc<Delivery>>,
) {
    let retry = runtime.settings.retry;
    while let Some(delivery) = rx.recv().await {
        let event = &delivery.event;
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
                    let envelope = serde_json::to_string(&**event).unwrap_or_default();
                    tracing::error!(subscriber = %sub.name, attempts = attempt, error = %e, %envelope, "events: handler failed for good, dead-lettered");
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
                        outbox::dead_letter(&runtime.db, &sub.name, event, &e.to_string(), attempt)
                            .await;
                    if let Err(e) = kept {
                        tracing::error!(error = %e, "events: the dead letter could not be stored");
                    }
                    break;
                }
            }
        }
    }
}
