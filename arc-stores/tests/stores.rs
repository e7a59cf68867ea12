//! Every store, in memory and on the real Redis server (`ARC_TEST_REDIS_URL`), through the
//! same scenarios. Each test uses a key prefix of its own.

use std::time::Duration;

use arc_runtime::config::{InMemoryRateLimit, InMemoryRevocation, RateLimitStore, RevocationStore};
use arc_stores::Redis;

/// The Redis server of the tests (`ARC_TEST_REDIS_URL`), under a fresh prefix; a panic when
/// the variable is unset (the tests that call it are `#[ignore = "needs Redis"]`).
fn redis() -> Redis {
    let url = std::env::var("ARC_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!("ARC_TEST_REDIS_URL is unset: this test needs Redis (`.ci/run` sets it up)")
    });
    let prefix = format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple());
    Redis::new(&url, prefix).expect("redis url")
}

fn in_an_hour() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600
}

async fn revocation_scenario(store: &dyn RevocationStore) {
    assert!(!store.is_revoked("t1").await.unwrap());
    store.revoke("t1", in_an_hour()).await.unwrap();
    assert!(store.is_revoked("t1").await.unwrap());
    assert!(!store.is_revoked("t2").await.unwrap(), "only that token");
}

async fn rate_limit_scenario(a: &dyn RateLimitStore, b: &dyn RateLimitStore) {
    let window = Duration::from_secs(60);
    let mut hits = Vec::new();
    for store in [a, b, a] {
        hits.push(store.hit("alice", 3, window).await.unwrap());
    }
    assert!(hits.iter().all(|h| h.allowed));
    assert_eq!(
        hits.iter().map(|h| h.remaining).collect::<Vec<_>>(),
        [2, 1, 0]
    );
    let over = b.hit("alice", 3, window).await.unwrap();
    assert!(!over.allowed, "the instances share one budget");
    assert!((1..=60).contains(&over.reset_after));
    assert!(
        a.hit("bob", 3, window).await.unwrap().allowed,
        "keys are independent"
    );
}

#[tokio::test]
async fn revocation_in_memory() {
    revocation_scenario(&InMemoryRevocation::new()).await;
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn revocation_on_redis() {
    let redis = redis();
    redis.ping().await.expect("redis answers");
    revocation_scenario(&redis.revocation()).await;
    let other_instance = redis.revocation();
    assert!(
        other_instance.is_revoked("t1").await.unwrap(),
        "shared across instances"
    );
}

#[tokio::test]
async fn rate_limits_in_memory() {
    let store = InMemoryRateLimit::new();
    rate_limit_scenario(&store, &store).await;
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn rate_limits_on_redis() {
    let redis = redis();
    rate_limit_scenario(&redis.rate_limit(), &redis.rate_limit()).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_not_a_hang() {
    let redis = Redis::new("redis://127.0.0.1:9/", "x:").unwrap();
    assert!(redis.ping().await.is_err());
    assert!(
        redis.revocation().is_revoked("t").await.is_err(),
        "revocation then fails closed"
    );
}

#[tokio::test]
async fn sessions_in_memory() {
    arc_runtime::config::session_conformance::check(
        &arc_runtime::config::InMemorySessions::new(),
        "memory",
    )
    .await;
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn sessions_on_redis() {
    let redis = redis();
    arc_runtime::config::session_conformance::check(&redis.sessions(), "redis").await;
    // Two instances, one server: a token rotated on one is a reuse on the other.
    let (a, b) = (redis.sessions(), redis.sessions());
    use arc_runtime::config::{IssuedToken, Rotation, SessionStart, SessionStore};
    let token = |hash: &str| IssuedToken {
        hash: hash.to_owned(),
        expires_at: in_an_hour(),
        access_id: format!("access-{hash}"),
        access_expires_at: in_an_hour(),
    };
    let now = in_an_hour() - 3600;
    a.start(
        "shared",
        SessionStart {
            claims: "{}".into(),
            expires_at: in_an_hour(),
            token: token("one"),
        },
    )
    .await
    .unwrap();
    let (first, second) = tokio::join!(
        a.rotate("shared", "one", token("two"), now),
        b.rotate("shared", "one", token("three"), now),
    );
    let outcomes = [first.unwrap(), second.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|r| matches!(r, Rotation::Rotated { .. }))
            .count(),
        1,
        "one rotation wins: {outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .any(|r| matches!(r, Rotation::Reused { .. })),
        "the other is a reuse: {outcomes:?}"
    );
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn jobs_on_redis() {
    use arc_runtime::jobs::{JobStore, Lease, QueuedJob, Taken, conformance};
    let redis = redis();
    conformance::check(&redis.jobs(), "redis").await;
    conformance::lapsed_leases(&redis.jobs(), "redis").await;

    // Two instances, one queue: a job enqueued on one is taken once, by either.
    let (a, b) = (redis.jobs(), redis.jobs());
    for n in 0..20 {
        let job = QueuedJob::new("shared", serde_json::json!({ "n": n }));
        a.push(job, Duration::ZERO).await.unwrap();
    }
    let mut taken: Vec<Lease> = Vec::new();
    loop {
        let (x, y) = tokio::join!(
            a.take(&["shared"], Duration::from_secs(60)),
            b.take(&["shared"], Duration::from_secs(60))
        );
        let mut progressed = false;
        for t in [x.unwrap(), y.unwrap()] {
            if let Taken::Job(lease) = t {
                taken.push(lease);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    let mut ns: Vec<i64> = taken
        .iter()
        .map(|l| l.job.payload["n"].as_i64().unwrap())
        .collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        (0..20).collect::<Vec<_>>(),
        "each job taken exactly once"
    );
    let stats = b.stats(&["shared"]).await.unwrap();
    assert_eq!((stats[0].pending, stats[0].running), (0, 20));
}

#[tokio::test]
async fn jobs_fail_closed_when_redis_is_down() {
    use arc_runtime::jobs::{JobStore, QueuedJob};
    let down = Redis::new("redis://127.0.0.1:1", "arc-test:")
        .unwrap()
        .jobs();
    let job = QueuedJob::new("q", serde_json::json!({}));
    assert!(down.push(job, Duration::ZERO).await.is_err());
    assert!(down.take(&["q"], Duration::from_secs(1)).await.is_err());
    assert!(down.stats(&["q"]).await.is_err());
}
