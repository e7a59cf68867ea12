//! Distributed mode: an app declared to run as several instances refuses to start while any
//! plugin that shares state keeps it in this process, and names each one; with shared stores
//! (Redis, the app's database) it starts.

use std::time::Duration;

use arc_runtime::config::{Auth, Cache, Events, Idempotency, KeyBy, RateLimit};
use arc_runtime::jobs::Jobs;
use arc_runtime::{App, Preset};
use arc_stores::Redis;
use arc_tests::shop_app;

async fn db() -> arc_runtime::sea_orm::DatabaseConnection {
    arc_runtime::connect("sqlite::memory:")
        .await
        .expect("sqlite")
}

/// The shop with every plugin that shares state on, in memory.
async fn local_shop() -> App {
    shop_app(db().await)
        .events(Events::new())
        .rate_limit(RateLimit::new(100, Duration::from_secs(60), KeyBy::User))
        .jobs(Jobs::new())
}

#[tokio::test]
async fn a_distributed_app_names_every_store_in_process_memory() {
    let problems = local_shop().await.distributed().problems();
    let text = problems.join("\n");
    for what in [
        "no cursor secret",
        "the query cache (of product; App::cache)",
        "idempotency keys (App::idempotency)",
        "the rate limit's counters (RateLimit::store)",
        "token revocation (Auth::revocation)",
        "the events' transport (Events::transport)",
        "the jobs' queue (Jobs::store)",
    ] {
        assert!(text.contains(what), "{what} missing from:\n{text}");
    }
    assert!(
        !text.contains("audit trail"),
        "the default trail is the database: {text}"
    );
    assert_eq!(problems.len(), 7, "{text}");
}

#[tokio::test]
async fn one_instance_needs_nothing_shared() {
    assert!(local_shop().await.problems().is_empty());
    // Production with one instance asks only for its own settings.
    let single = local_shop().await.preset(Preset::Production).instances(1);
    assert_eq!(single.problems().len(), 1, "{:?}", single.problems());
    // More than one in production is distributed.
    let many = local_shop().await.preset(Preset::Production).instances(3);
    assert!(many.is_distributed());
    assert!(
        local_shop()
            .await
            .preset(Preset::Edge)
            .instances(2)
            .is_distributed()
    );
    assert!(
        !local_shop().await.instances(2).is_distributed(),
        "development is one process"
    );
    assert_eq!(many.problems().len(), 7, "{:?}", many.problems());
}

#[tokio::test]
async fn shared_stores_start() {
    // Nothing connects before first use: the URL need not answer.
    let redis = Redis::new("redis://127.0.0.1:1", "arc-test:").expect("a redis url");
    let app = shop_app(db().await)
        .auth(
            Auth::new()
                .with(arc_runtime::config::JwtAuthenticator::new(
                    arc_runtime::config::JwtKeys::hs256(shop::DEV_JWT_SECRET.as_bytes())
                        .expect("keys"),
                ))
                .revocation(redis.revocation()),
        )
        .events(Events::new().transport(redis.event_streams()))
        .rate_limit(
            RateLimit::new(100, Duration::from_secs(60), KeyBy::User).store(redis.rate_limit()),
        )
        .cache(Cache::new().store(redis.cache()))
        .jobs(Jobs::new().store(redis.jobs()))
        .idempotency(Idempotency::new().sql())
        .cursor_secret(b"shared by every instance")
        .distributed();
    assert!(app.local_state().is_empty(), "{:?}", app.local_state());
    assert!(app.problems().is_empty(), "{:?}", app.problems());
    // Turning the cache off takes it off the list too.
    let off = local_shop().await.without_cache().distributed();
    assert!(!off.problems().join(" ").contains("query cache"));
}

#[tokio::test]
async fn serving_refuses_to_start() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = local_shop().await.distributed();
    let refused = app
        .serve_until(listener, std::future::pending())
        .await
        .expect_err("refuses to start");
    let text = refused.to_string();
    assert!(text.starts_with("refusing to start"), "{text}");
    assert!(text.contains("the query cache"), "{text}");
}
