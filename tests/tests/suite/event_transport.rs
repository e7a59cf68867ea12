//! Events across instances on Redis Streams, with PostgreSQL: a subscriber is a consumer
//! group whose work the instances split; a write on one instance reaches the SSE and
//! WebSocket clients of the other at once; a Redis outage delays events and loses none; a relay killed between
//! publishing and marking is taken over, and nothing reaches a group twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_runtime::config::{BoxFuture, EventRetry, EventTransport, Events, Received, StoreError};
use arc_runtime::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use arc_runtime::{App, Event};
use arc_stores::{Redis, RedisStreams};
use arc_tests::events::{Seen, seen_n, shop_subscribed};
use arc_tests::proxy::Proxy;
use arc_tests::{TestApp, required_env, shop_token};
use serde_json::json;

/// Who handled which event: `(instance, event id)`.
type Handled = Seen<(&'static str, String)>;

fn redis_url() -> String {
    required_env("ARC_TEST_REDIS_URL", "Redis")
}

fn redis_at(url: &str, prefix: &str) -> Redis {
    Redis::new(url, prefix).expect("redis url")
}

fn fresh_prefix() -> String {
    format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple())
}

fn streams(redis: &Redis) -> RedisStreams {
    redis
        .event_streams()
        .block(Duration::from_millis(200))
        .claim_after(Duration::from_secs(2))
}

/// Events on `transport`, polling the outbox every `poll`, under a lease of twice that.
fn events_on(transport: impl EventTransport, poll: Duration) -> Events {
    Events::new()
        .poll_interval(poll)
        .lease(poll * 2)
        .retry(EventRetry {
            attempts: 3,
            base: Duration::from_millis(5),
            max: Duration::from_millis(50),
        })
        .transport(transport)
}

/// The shop on `events`, with a subscriber to products that notes who handled what, slowly
/// (so a busy consumer leaves the next entries to another instance).
fn shop_noting(
    events: Events,
    handled: &Handled,
    instance: &'static str,
) -> impl FnOnce(DatabaseConnection) -> App + use<> {
    let note = move |event: Arc<Event>| (instance, event.meta.id.to_string());
    shop_subscribed(
        events,
        "product.*",
        handled,
        note,
        Duration::from_millis(20),
    )
}

/// The ids of the product events in the outbox: every committed write's.
async fn product_event_ids(db: &DatabaseConnection) -> Vec<String> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT event_id FROM arc_outbox WHERE resource = 'product' ORDER BY seq",
        ))
        .await
        .expect("query");
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).expect("an id"))
        .collect()
}

/// Waits until `handled` holds `n` entries (at most 20 s).
async fn handled_n(handled: &Handled, n: usize) -> Vec<(&'static str, String)> {
    seen_n(handled, n, Duration::from_secs(20)).await
}

/// Waits past the time after which another consumer would claim an unacknowledged entry
/// (2 s here): a duplicate would have come by then.
async fn past_the_claim_time() {
    tokio::time::sleep(Duration::from_millis(2500)).await;
}

/// Every event id in `expected` handled exactly once, and nothing else.
fn exactly_once(handled: &[(&'static str, String)], expected: &[String]) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, id) in handled {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "handled more than once: {twice:?}");
    let mut got: Vec<&str> = counts.keys().copied().collect();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want, "every committed write's event, and only those");
}

async fn create(app: &TestApp, name: &str) -> u16 {
    app.post("/products", json!({"name": name, "price": 1}))
        .await
        .status
        .as_u16()
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis"]
async fn instances_split_a_group_and_hear_each_others_writes() {
    let redis = redis_at(&redis_url(), &fresh_prefix());
    let handled = Handled::default();
    // Polled every 3 s: a stream that hears of an event sooner heard it from a commit on its
    // own instance or from an announcement through Redis.
    let slow = Duration::from_secs(3);
    let app =
        TestApp::postgres_with(shop_noting(events_on(streams(&redis), slow), &handled, "a")).await;
    // The first instance alone: its relay takes the lease (and keeps it, renewing it each
    // round).
    assert_eq!(create(&app, "Zero").await, 201);
    handled_n(&handled, 1).await;
    let other = app.instance(shop_noting(events_on(streams(&redis), slow), &handled, "b"));
    let carl = shop_token("carl", "acme", &[]);
    let mut here =
        arc_tests::sse::open(&app.router, "/events/stream", &[("authorization", &carl)]).await;
    let mut there =
        arc_tests::sse::open(&other.router, "/events/stream", &[("authorization", &carl)]).await;
    let socket = arc_tests::ws::serve(&other.router).await;
    let mut there_ws =
        arc_tests::ws::connect(socket, "/ws?events=product.*", &[("authorization", &carl)])
            .await
            .unwrap_or_else(|r| panic!("refused: {r:?}"));
    let hello = there_ws.next(Duration::from_secs(2)).await.expect("hello");
    assert_eq!(hello["type"], "connected");

    // Writes on the lease holder: the other instance's stream has them well before its
    // next poll of the outbox, through Redis.
    for name in ["First", "Second"] {
        assert_eq!(create(&app, name).await, 201);
    }
    for stream in [&mut here, &mut there] {
        let mut names = Vec::new();
        while names.len() < 2 {
            let event = stream
                .next(Duration::from_millis(1500))
                .await
                .expect("the event within 1.5 s, on either instance");
            names.push(event.data["payload"]["data"]["name"].clone());
        }
        assert_eq!(names, [json!("First"), json!("Second")]);
    }
    let mut names = Vec::new();
    while names.len() < 2 {
        let event = there_ws
            .next(Duration::from_millis(1500))
            .await
            .expect("the event within 1.5 s, on the other instance's WebSocket");
        names.push(event["data"]["data"]["name"].clone());
    }
    assert_eq!(names, [json!("First"), json!("Second")]);

    // The subscriber is one consumer group: its work is split, each event handled once.
    for n in 0..37 {
        let on = if n % 2 == 0 { &app } else { &other };
        assert_eq!(create(on, &format!("P{n}")).await, 201);
    }
    let all = handled_n(&handled, 40).await;
    past_the_claim_time().await;
    let all_now = handled.lock().unwrap().clone();
    assert_eq!(all_now.len(), all.len(), "nothing more: {}", all_now.len());
    exactly_once(&all_now, &product_event_ids(&app.db).await);
    let by_a = all_now.iter().filter(|(i, _)| *i == "a").count();
    assert!(
        by_a > 0 && by_a < all_now.len(),
        "both instances took part: {by_a} of {}",
        all_now.len()
    );
    app.cleanup().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis"]
async fn a_redis_outage_delays_events_and_loses_none() {
    let (proxy, through) = Proxy::for_url(&redis_url()).await;
    let redis = redis_at(&through, &fresh_prefix());
    let handled = Handled::default();
    let fast = Duration::from_millis(300);
    let app =
        TestApp::postgres_with(shop_noting(events_on(streams(&redis), fast), &handled, "a")).await;
    for n in 0..5 {
        assert_eq!(create(&app, &format!("Before{n}")).await, 201);
    }
    handled_n(&handled, 5).await;

    proxy.cut();
    // Writes go on: they need the database, not Redis. A refused write has no event.
    for n in 0..10 {
        assert_eq!(create(&app, &format!("During{n}")).await, 201);
    }
    let refused = app
        .post("/products", json!({"name": "", "price": -1}))
        .await;
    assert_eq!(refused.status, 400);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        handled.lock().unwrap().len(),
        5,
        "nothing handled while Redis is away"
    );
    let waiting = app
        .scalar("SELECT COUNT(*) FROM arc_outbox WHERE delivered_at IS NULL")
        .await;
    assert_eq!(waiting, 10, "the events wait in the outbox");

    proxy.restore();
    let all = handled_n(&handled, 15).await;
    past_the_claim_time().await;
    assert_eq!(handled.lock().unwrap().len(), all.len());
    exactly_once(&all, &product_event_ids(&app.db).await);
    app.cleanup().await;
}

/// A transport whose relay dies (its task panics) right after appending a batch, before
/// marking it: when armed.
#[derive(Debug)]
struct KillAfterPublish {
    inner: RedisStreams,
    armed: Arc<AtomicBool>,
}

impl EventTransport for KillAfterPublish {
    fn publish<'a>(&'a self, events: &'a [Arc<Event>]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.inner.publish(events).await?;
            if self.armed.swap(false, Ordering::SeqCst) {
                panic!("the relay is killed mid-batch (on purpose)");
            }
            Ok(())
        })
    }
    fn join<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.join(group)
    }
    fn receive<'a>(
        &'a self,
        group: &'a str,
        consumer: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Received>, StoreError>> {
        self.inner.receive(group, consumer)
    }
    fn ack<'a>(&'a self, group: &'a str, id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.ack(group, id)
    }
    fn announce(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.announce()
    }
    fn watch<'a>(
        &'a self,
        after: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        self.inner.watch(after)
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis"]
async fn a_relay_killed_mid_batch_is_taken_over_and_nothing_reaches_a_group_twice() {
    let redis = redis_at(&redis_url(), &fresh_prefix());
    let handled = Handled::default();
    let armed = Arc::new(AtomicBool::new(false));
    let dying = KillAfterPublish {
        inner: streams(&redis),
        armed: armed.clone(),
    };
    // The first instance alone: its relay takes the lease.
    let fast = Duration::from_millis(300);
    let app = TestApp::postgres_with(shop_noting(events_on(dying, fast), &handled, "a")).await;
    assert_eq!(create(&app, "First").await, 201);
    handled_n(&handled, 1).await;
    let other = app.instance(shop_noting(events_on(streams(&redis), fast), &handled, "b"));

    // Its relay dies after appending the next batch and before marking it; writes go on,
    // on both instances, while the other instance waits out the lease and takes over.
    armed.store(true, Ordering::SeqCst);
    let mut created = 1;
    for n in 0..30 {
        let on = if n % 2 == 0 { &app } else { &other };
        assert_eq!(create(on, &format!("W{n}")).await, 201);
        created += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!armed.load(Ordering::SeqCst), "the relay was killed");
    let all = handled_n(&handled, created).await;
    past_the_claim_time().await;
    assert_eq!(handled.lock().unwrap().len(), all.len(), "nothing twice");
    exactly_once(&all, &product_event_ids(&app.db).await);
    let waiting = app
        .scalar("SELECT COUNT(*) FROM arc_outbox WHERE delivered_at IS NULL")
        .await;
    assert_eq!(
        waiting, 0,
        "the other relay marked what the dead one published"
    );
    app.cleanup().await;
}
