//! The events' transport: the in-memory log and Redis Streams (`ARC_TEST_REDIS_URL`, a key
//! prefix per test) through the same scenario, then what only Redis does (dead consumers'
//! entries dead-lettered, replays, announcements between instances).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use arc_runtime::Event;
use arc_runtime::config::{EventTransport, InMemoryTransport, Received};
use arc_stores::{Redis, RedisStreams};

fn redis() -> Redis {
    let url = std::env::var("ARC_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!("ARC_TEST_REDIS_URL is unset: this test needs Redis (`.ci/run` sets it up)")
    });
    let prefix = format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple());
    Redis::new(&url, prefix).expect("redis url")
}

/// Redis Streams with short waits, for tests.
fn streams(redis: &Redis) -> RedisStreams {
    redis
        .event_streams()
        .block(Duration::from_millis(100))
        .claim_after(Duration::from_millis(300))
        .max_deliveries(3)
}

fn events(n: usize) -> Vec<Arc<Event>> {
    (0..n)
        .map(|i| Arc::new(Event::new("thing.made", serde_json::json!({ "n": i }))))
        .collect()
}

fn numbers(got: &[Received]) -> Vec<u64> {
    got.iter()
        .map(|r| r.event.payload["n"].as_u64().unwrap())
        .collect()
}

/// Waits past the claim time (300 ms for both).
async fn idle() {
    tokio::time::sleep(Duration::from_millis(400)).await;
}

/// Groups see every event once, in order; a republished event is skipped; consumers of one
/// group split its entries; what a consumer took and never acknowledged goes to another.
async fn scenario(log: &dyn EventTransport) {
    log.join("billing").await.unwrap();
    log.join("search").await.unwrap();
    log.join("billing").await.unwrap(); // joining twice is no error
    let all = events(10);
    log.publish(&all[..4]).await.unwrap();
    // A relay that died before marking its rows publishes them again, with the rest.
    log.publish(&all).await.unwrap();

    let search = log.receive("search", "one").await.unwrap();
    assert_eq!(numbers(&search), (0..10).collect::<Vec<_>>());
    for r in &search {
        log.ack("search", &r.id).await.unwrap();
    }

    // Billing: consumer `a` takes everything, handles half, and dies; `b` finds nothing
    // new, then, once the rest has been idle long enough, gets it.
    let taken = log.receive("billing", "a").await.unwrap();
    assert_eq!(numbers(&taken), (0..10).collect::<Vec<_>>());
    for r in &taken[..5] {
        log.ack("billing", &r.id).await.unwrap();
    }
    assert!(log.receive("billing", "b").await.unwrap().is_empty());
    idle().await;
    let claimed = log.receive("billing", "b").await.unwrap();
    assert_eq!(numbers(&claimed), (5..10).collect::<Vec<_>>());
    for r in &claimed {
        log.ack("billing", &r.id).await.unwrap();
    }
    idle().await;
    assert!(
        log.receive("billing", "b").await.unwrap().is_empty(),
        "acknowledged: not delivered again"
    );
    assert!(log.receive("search", "one").await.unwrap().is_empty());

    // New events reach both groups; ids differ per entry.
    log.publish(&events(3)).await.unwrap();
    let next = log.receive("billing", "b").await.unwrap();
    assert_eq!(next.len(), 3);
    let ids: HashSet<_> = next.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 3);
}

#[tokio::test]
async fn in_memory_transport() {
    scenario(&InMemoryTransport::new().claim_after(Duration::from_millis(300))).await;
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn redis_streams_transport() {
    scenario(&streams(&redis())).await;
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn redis_consumers_split_a_group() {
    let redis = redis();
    let log = streams(&redis).batch(4);
    log.join("g").await.unwrap();
    log.publish(&events(8)).await.unwrap();
    let a = log.receive("g", "a").await.unwrap();
    let b = log.receive("g", "b").await.unwrap();
    assert_eq!(numbers(&a), [0, 1, 2, 3]);
    assert_eq!(
        numbers(&b),
        [4, 5, 6, 7],
        "the second consumer gets the next ones"
    );
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn redis_dead_letters_what_kills_its_consumers_and_what_fails() {
    let redis = redis();
    let log = streams(&redis);
    log.join("g").await.unwrap();
    log.publish(&events(2)).await.unwrap();
    // Entry 0 is taken and never acknowledged, three times (three consumers die on it).
    let first = log.receive("g", "c1").await.unwrap();
    assert_eq!(first.len(), 2);
    log.ack("g", &first[1].id).await.unwrap();
    for consumer in ["c2", "c3"] {
        idle().await;
        let again = log.receive("g", consumer).await.unwrap();
        assert_eq!(numbers(&again), [0], "{consumer} claims it");
    }
    idle().await;
    assert!(
        log.receive("g", "c4").await.unwrap().is_empty(),
        "delivered 3 times: dead-lettered, not delivered a fourth"
    );
    // A handler that fails for good: the runtime dead-letters it through the transport.
    log.publish(&events(1)).await.unwrap();
    let failing = log.receive("g", "c4").await.unwrap();
    log.dead_letter("g", &failing[0], "boom").await.unwrap();

    let dead = log.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 2, "{dead:?}");
    assert_eq!(dead[0].original_id, first[0].id);
    assert!(dead[0].error.contains("3 times"), "{}", dead[0].error);
    assert_eq!(dead[1].error, "boom");
    assert_eq!(dead[1].group, "g");
    let envelope: Event = serde_json::from_str(&dead[1].data).unwrap();
    assert_eq!(
        envelope.meta.id, failing[0].event.meta.id,
        "the full envelope"
    );
    idle().await;
    assert!(
        log.receive("g", "c5").await.unwrap().is_empty(),
        "both acknowledged"
    );

    // Entries that are no event (another writer's) are dead-lettered, never handed out.
    let mut conn = redis::Client::open(std::env::var("ARC_TEST_REDIS_URL").unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("XADD")
        .arg(log.stream_key())
        .arg("*")
        .arg("type")
        .arg("x")
        .arg("data")
        .arg("{not json")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert!(log.receive("g", "c5").await.unwrap().is_empty());
    assert_eq!(log.dead_letters(10).await.unwrap().len(), 3);
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn redis_replays_a_group_from_an_id() {
    let redis = redis();
    let log = streams(&redis);
    log.join("g").await.unwrap();
    log.publish(&events(5)).await.unwrap();
    let got = log.receive("g", "a").await.unwrap();
    for r in &got {
        log.ack("g", &r.id).await.unwrap();
    }
    assert_eq!(log.read("-", 100).await.unwrap().len(), 5);
    let after_second = &got[1].id;
    assert_eq!(
        numbers(&log.read(after_second, 100).await.unwrap()),
        [2, 3, 4]
    );
    log.replay("g", after_second).await.unwrap();
    assert_eq!(numbers(&log.receive("g", "a").await.unwrap()), [2, 3, 4]);
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn redis_announcements_reach_every_watcher() {
    let redis = redis();
    let (one, other) = (streams(&redis), streams(&redis));
    let start = other.watch(None).await.unwrap();
    assert!(start.is_some());
    let quiet = other.watch(start.as_deref()).await.unwrap();
    assert_eq!(quiet, start, "nothing announced: the same point");
    let waiting = tokio::spawn({
        let other = other.clone();
        let start = start.clone();
        async move {
            let started = std::time::Instant::now();
            let next = other.watch(start.as_deref()).await.unwrap();
            (next, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    one.announce().await.unwrap();
    let (next, _) = waiting.await.unwrap();
    assert_ne!(next, start, "heard");
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn a_blocking_read_longer_than_redis_default_timeout_works() {
    // redis 1.x cuts responses after 500 ms by default; the readers have their own
    // connections with a longer timeout.
    let redis = redis();
    let log = redis.event_streams().block(Duration::from_millis(1200));
    log.join("g").await.unwrap();
    let started = std::time::Instant::now();
    assert!(log.receive("g", "a").await.unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(1100));
}
