//! Idempotency keys (`#[resource(idempotency)]`): one behaviour on every store (memory,
//! Redis, SQL on SQLite and on PostgreSQL), two shop instances answering a hundred retries
//! with one order, a Redis outage failing keyed writes closed, and attacks on the scoping.

use std::sync::Arc;
use std::time::Duration;

use arc_runtime::config::{Idempotency, InMemoryIdempotency, SqlIdempotency};
use arc_stores::Redis;
use arc_tests::parcels::{self, Shared};
use arc_tests::proxy::Proxy;
use arc_tests::{Reply, TestApp, assert_error, required_env, shop_token};
use axum::http::Method;
use serde_json::{Value, json};

/// The lease of the suites' apps: short, so a crashed key frees itself within a test, and
/// long enough that a request holding its key for 800 ms (`hold_ms`) still seals it when
/// the whole suite loads both cores (2 s lost one once under `cargo test --workspace`).
const LEASE: Duration = Duration::from_secs(4);

fn redis_url() -> String {
    required_env("ARC_TEST_REDIS_URL", "Redis")
}

/// A Redis key prefix of the test's own.
fn fresh_prefix() -> String {
    format!("arc-t-{}:", arc_runtime::uuid::Uuid::new_v4().simple())
}

fn unique(what: &str) -> String {
    format!("{what}-{}", arc_runtime::uuid::Uuid::new_v4().simple())
}

/// The app under test, and another instance of it that crashes mid-request (takes keys,
/// never reports back).
struct Setup {
    app: TestApp,
    crashed: TestApp,
}

impl Setup {
    async fn cleanup(self) {
        drop(self.crashed);
        self.app.cleanup().await;
    }
}

fn parcels_with(
    store: Shared,
) -> impl FnOnce(arc_runtime::sea_orm::DatabaseConnection) -> arc_runtime::App {
    move |db| parcels::app(db).idempotency(Idempotency::new().store(store).lease(LEASE))
}

async fn memory() -> Setup {
    let store = Shared::new(InMemoryIdempotency::new());
    let app = TestApp::sqlite_file_with(parcels_with(store.clone())).await;
    let crashed = app.instance(parcels_with(store.crashed()));
    Setup { app, crashed }
}

async fn redis() -> Setup {
    let redis = Redis::new(&redis_url(), fresh_prefix()).expect("redis url");
    let store = Shared::new(redis.idempotency());
    let app = TestApp::sqlite_file_with(parcels_with(store.clone())).await;
    let crashed = app.instance(parcels_with(store.crashed()));
    Setup { app, crashed }
}

/// The SQL store's instance, crashed: the app's own has `Idempotency::sql()`.
fn sql_crashed(app: &TestApp) -> TestApp {
    app.instance(|db| {
        let store = Shared::new(SqlIdempotency::new(db.clone())).crashed();
        parcels::app(db).idempotency(Idempotency::new().store(store).lease(LEASE))
    })
}

fn parcels_sql(db: arc_runtime::sea_orm::DatabaseConnection) -> arc_runtime::App {
    parcels::app(db).idempotency(Idempotency::new().sql().lease(LEASE))
}

async fn sql_sqlite() -> Setup {
    let app = TestApp::sqlite_file_with(parcels_sql).await;
    let crashed = sql_crashed(&app);
    Setup { app, crashed }
}

async fn sql_postgres() -> Setup {
    let app = TestApp::postgres_with(parcels_sql).await;
    let crashed = sql_crashed(&app);
    Setup { app, crashed }
}

/// Runs each behaviour on each store; those needing a service are ignored by default.
macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    let setup = super::memory().await;
                    super::behaviour::$name(&setup).await;
                    setup.cleanup().await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test]
                #[ignore = "needs Redis"]
                async fn $name() {
                    let setup = super::redis().await;
                    super::behaviour::$name(&setup).await;
                    setup.cleanup().await;
                }
            )*
        }
        mod sql_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let setup = super::sql_sqlite().await;
                    super::behaviour::$name(&setup).await;
                    setup.cleanup().await;
                }
            )*
        }
        mod sql_postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL"]
                async fn $name() {
                    let setup = super::sql_postgres().await;
                    super::behaviour::$name(&setup).await;
                    setup.cleanup().await;
                }
            )*
        }
    };
}

every_store!(
    replays_the_first_answer,
    another_request_under_the_key_is_422,
    a_duplicate_in_flight_is_409_with_retry_after,
    a_5xx_releases_the_key,
    a_crashed_key_frees_itself_when_its_lease_runs_out,
    keys_are_scoped_per_user_and_organization,
);

/// `Bearer ..` for `user` in `org`, with `roles` there.
fn token(user: &str, org: &str, roles: &[&str]) -> String {
    shop_token(user, org, roles)
}

/// `method path` as `token`, with `key` when given.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut headers = vec![("authorization", token)];
    if let Some(key) = key {
        headers.push(("idempotency-key", key));
    }
    app.send(method, path, body, &headers).await
}

/// `POST /parcels` with `body`, as `token`, under `key`.
async fn parcel(app: &TestApp, token: &str, key: &str, body: Value) -> Reply {
    send(app, Method::POST, "/parcels", token, Some(key), Some(body)).await
}

fn replayed(reply: &Reply) -> bool {
    reply.header("x-idempotency-replayed") == Some("true")
}

async fn rows(app: &TestApp, label: &str) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM parcels WHERE label = '{label}'"
    ))
    .await
}

mod behaviour {
    use super::*;

    pub(super) async fn replays_the_first_answer(s: &Setup) {
        let app = &s.app;
        let ada = token("ada", "acme", &[]);
        let (key, label) = (unique("key"), unique("parcel"));
        let body = json!({ "label": label });
        let first = parcel(app, &ada, &key, body.clone()).await;
        assert_eq!(first.status, 201, "{}", first.body);
        assert!(!replayed(&first));
        let again = parcel(app, &ada, &key, body).await;
        assert_eq!(again.status, 201);
        assert!(replayed(&again), "{:?}", again.headers);
        assert_eq!(again.body, first.body, "the first answer, as it was");
        assert_eq!(again.header("location"), first.header("location"));
        assert_eq!(again.header("content-type"), first.header("content-type"));
        assert_eq!(rows(app, &label).await, 1);

        // Every mutating route: a repeated update and delete answer as the first did.
        let id = first.body["data"]["id"].as_str().unwrap().to_owned();
        let path = format!("/parcels/{id}");
        let patch = json!({ "label": format!("{label}-b") });
        let update_key = unique("key");
        let updated = send(
            app,
            Method::PATCH,
            &path,
            &ada,
            Some(&update_key),
            Some(patch.clone()),
        )
        .await;
        let again = send(
            app,
            Method::PATCH,
            &path,
            &ada,
            Some(&update_key),
            Some(patch),
        )
        .await;
        assert_eq!((updated.status.as_u16(), again.status.as_u16()), (200, 200));
        assert!(replayed(&again) && again.body == updated.body);
        let delete_key = unique("key");
        let deleted = send(app, Method::DELETE, &path, &ada, Some(&delete_key), None).await;
        let again = send(app, Method::DELETE, &path, &ada, Some(&delete_key), None).await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        assert_eq!(again.status, 200, "a replay, not a 404: {}", again.body);
        assert!(replayed(&again) && again.body == deleted.body);

        // Without a key, every request runs.
        let plain = unique("parcel");
        for _ in 0..2 {
            let r = send(
                app,
                Method::POST,
                "/parcels",
                &ada,
                None,
                Some(json!({ "label": plain })),
            )
            .await;
            assert_eq!(r.status, 201);
            assert!(!replayed(&r));
        }
        assert_eq!(rows(app, &plain).await, 2);
    }

    pub(super) async fn another_request_under_the_key_is_422(s: &Setup) {
        let app = &s.app;
        let ada = token("ada", "acme", &[]);
        let (key, label) = (unique("key"), unique("parcel"));
        let body = json!({ "label": label, "hold_ms": 0 });
        let first = parcel(app, &ada, &key, body).await;
        assert_eq!(first.status, 201);
        // The same body in another key order is the same request.
        let reordered = json!({ "hold_ms": 0, "label": label });
        let again = parcel(app, &ada, &key, reordered).await;
        assert!(replayed(&again), "{}", again.body);
        let other = unique("parcel");
        let changed = parcel(app, &ada, &key, json!({ "label": other })).await;
        assert_error(&changed, 422, "UNPROCESSABLE_ENTITY");
        assert!(!replayed(&changed));
        assert_eq!(rows(app, &other).await, 0, "nothing written");
        // Another route under the key is another request too.
        let id = first.body["data"]["id"].as_str().unwrap();
        let patch = send(
            app,
            Method::PATCH,
            &format!("/parcels/{id}"),
            &ada,
            Some(&key),
            Some(json!({ "label": label })),
        )
        .await;
        assert_error(&patch, 422, "UNPROCESSABLE_ENTITY");
    }

    pub(super) async fn a_duplicate_in_flight_is_409_with_retry_after(s: &Setup) {
        let app = &s.app;
        let ada = token("ada", "acme", &[]);
        let (key, label) = (unique("key"), unique("parcel"));
        let body = json!({ "label": label, "hold_ms": 800 });
        let (first, duplicate) = tokio::join!(
            send(
                app,
                Method::POST,
                "/parcels",
                &ada,
                Some(&key),
                Some(body.clone())
            ),
            async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                parcel(app, &ada, &key, body.clone()).await
            }
        );
        assert_eq!(first.status, 201, "{}", first.body);
        assert_error(&duplicate, 409, "IDEMPOTENCY_CONFLICT");
        assert_eq!(duplicate.header("retry-after"), Some("1"));
        let later = parcel(app, &ada, &key, body).await;
        assert!(replayed(&later) && later.body == first.body);
        assert_eq!(rows(app, &label).await, 1);
    }

    pub(super) async fn a_5xx_releases_the_key(s: &Setup) {
        let app = &s.app;
        let ada = token("ada", "acme", &[]);
        let (key, label) = (unique("key"), unique("parcel"));
        let body = json!({ "label": label, "fail_once": true });
        let failed = parcel(app, &ada, &key, body.clone()).await;
        assert_error(&failed, 500, "INTERNAL_ERROR");
        let retry = parcel(app, &ada, &key, body).await;
        assert_eq!(
            retry.status, 201,
            "the failure was not kept: {}",
            retry.body
        );
        assert!(!replayed(&retry));
        assert_eq!(rows(app, &label).await, 1);
    }

    pub(super) async fn a_crashed_key_frees_itself_when_its_lease_runs_out(s: &Setup) {
        let ada = token("ada", "acme", &[]);
        let (key, label) = (unique("key"), unique("parcel"));
        let body = json!({ "label": label, "fail_once": true });
        // An instance takes the key and dies before its write (nothing released).
        let (crashed, retry) = crash_then_retry(s, &ada, &key, body).await;
        assert_eq!(crashed.status, 500);
        assert_eq!(retry.status, 201, "the lease ran out: {}", retry.body);
        assert!(!replayed(&retry));
        assert_eq!(rows(&s.app, &label).await, 1);
    }

    pub(super) async fn keys_are_scoped_per_user_and_organization(s: &Setup) {
        let app = &s.app;
        let (key, label) = (unique("key"), unique("parcel"));
        let body = json!({ "label": label, "hold_ms": 800 });
        let ada = token("ada", "acme", &[]);
        let bob = token("bob", "acme", &[]);
        // While ada's request is in flight, another member's same key is another key: no
        // 409 tells bob it exists.
        let (first, other) = tokio::join!(
            send(
                app,
                Method::POST,
                "/parcels",
                &ada,
                Some(&key),
                Some(body.clone())
            ),
            async {
                tokio::time::sleep(Duration::from_millis(250)).await;
                parcel(app, &bob, &key, body.clone()).await
            }
        );
        assert_eq!(first.status, 201);
        assert_eq!(other.status, 201, "{}", other.body);
        assert!(!replayed(&other));
        assert_ne!(other.body["data"]["id"], first.body["data"]["id"]);
        assert_eq!(other.body["data"]["sender"], "bob");
        // Nor a 422 for another body under ada's key.
        let carl = token("carl", "acme", &[]);
        let changed = send(
            app,
            Method::POST,
            "/parcels",
            &carl,
            Some(&key),
            Some(json!({ "label": format!("{label}-c") })),
        )
        .await;
        assert_eq!(changed.status, 201, "{}", changed.body);
        // An admin of the organization has a scope of their own too.
        let admin = token("root", "acme", &["admin"]);
        let by_admin = parcel(app, &admin, &key, body.clone()).await;
        assert_eq!(by_admin.status, 201);
        assert!(!replayed(&by_admin));
        // The same user in another organization never gets the first organization's answer.
        let ada_globex = token("ada", "globex", &[]);
        let elsewhere = parcel(app, &ada_globex, &key, body.clone()).await;
        assert_eq!(elsewhere.status, 201);
        assert!(!replayed(&elsewhere));
        assert_eq!(elsewhere.body["data"]["org_id"], "globex");
        // And ada, in acme, still gets hers.
        let again = parcel(app, &ada, &key, body).await;
        assert!(replayed(&again) && again.body == first.body);
        assert_eq!(rows(app, &label).await, 4);
    }
}

/// `body` under `key` on the crashed instance; then on the app while the crashed lease holds
/// (a 409), and once more after it ran out. The first answer and the last.
async fn crash_then_retry(s: &Setup, token: &str, key: &str, body: Value) -> (Reply, Reply) {
    let first = parcel(&s.crashed, token, key, body.clone()).await;
    let held = parcel(&s.app, token, key, body.clone()).await;
    assert_error(&held, 409, "IDEMPOTENCY_CONFLICT");
    tokio::time::sleep(LEASE + Duration::from_millis(300)).await;
    let retry = parcel(&s.app, token, key, body).await;
    (first, retry)
}

/// With the store in the database, a write that committed is never run again, even when
/// its instance dies between the commit and keeping the answer.
async fn a_crash_after_the_commit_never_runs_twice(s: &Setup) {
    let ada = token("ada", "acme", &[]);
    let (key, label) = (unique("key"), unique("parcel"));
    let body = json!({ "label": label });
    let (written, retry) = crash_then_retry(s, &ada, &key, body).await;
    assert_eq!(written.status, 201);
    assert_error(&retry, 409, "CONFLICT");
    assert_eq!(retry.header("retry-after"), None, "waiting does not help");
    assert_eq!(rows(&s.app, &label).await, 1, "one write");
}

#[tokio::test]
async fn sql_sqlite_a_crash_after_the_commit_never_runs_twice() {
    let setup = sql_sqlite().await;
    a_crash_after_the_commit_never_runs_twice(&setup).await;
    setup.cleanup().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn sql_postgres_a_crash_after_the_commit_never_runs_twice() {
    let setup = sql_postgres().await;
    a_crash_after_the_commit_never_runs_twice(&setup).await;
    setup.cleanup().await;
}

// The shop: its orders are idempotent.

/// An order of one of acme's products.
async fn an_order(app: &TestApp, org_admin: &str) -> Value {
    let products = send(app, Method::GET, "/products?limit=1", org_admin, None, None).await;
    let product = products.body["docs"][0]["id"].clone();
    assert!(product.is_string(), "{}", products.body);
    json!({ "product_id": product, "quantity": 2 })
}

async fn orders_of(app: &TestApp, user: &str) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM orders WHERE customer_id = '{user}'"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL and Redis"]
async fn two_instances_place_one_order_for_a_hundred_retries() {
    let redis = Redis::new(&redis_url(), fresh_prefix()).expect("redis url");
    let secret = shop::DEV_JWT_SECRET.as_bytes();
    let preset = arc_runtime::Preset::Development;
    let a_redis = redis.clone();
    let a = TestApp::postgres_with(move |db| {
        shop::app_with(db, secret, Some(&a_redis), preset).expect("shop")
    })
    .await;
    let b = a.instance(|db| shop::app_with(db, secret, Some(&redis), preset).expect("shop"));
    let body = an_order(&a, &token("ada", "acme", &["admin"])).await;
    let mia = token("mia", "acme", &[]);
    let key = unique("order");
    let (a, b) = (Arc::new(a), Arc::new(b));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (mia, key, body) = (mia.clone(), key.clone(), body.clone());
            tokio::spawn(async move {
                send(&app, Method::POST, "/orders", &mia, Some(&key), Some(body)).await
            })
        })
        .collect();
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("the request ran"));
    }
    assert!(
        replies.iter().all(|r| !r.status.is_server_error()),
        "no 5xx: {:?}",
        replies
            .iter()
            .map(|r| r.status.as_u16())
            .collect::<Vec<_>>()
    );
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    let first: Vec<&&Reply> = created.iter().filter(|r| !replayed(r)).collect();
    assert_eq!(first.len(), 1, "one request ran");
    for reply in &replies {
        match reply.status.as_u16() {
            201 => assert_eq!(reply.body, first[0].body, "a replay is the first answer"),
            409 => assert_eq!(reply.body["code"], "IDEMPOTENCY_CONFLICT"),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(orders_of(&a, "mia").await, 1, "exactly one order row");
    drop(b);
    let a = Arc::try_unwrap(a).ok().expect("the tasks are done");
    a.cleanup().await;
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn a_redis_outage_fails_keyed_writes_closed_and_recovers() {
    let (proxy, through) = Proxy::for_url(&redis_url()).await;
    let redis = Redis::new(&through, fresh_prefix()).expect("redis url");
    let app = TestApp::sqlite_with(move |db| {
        arc_tests::shop_app(db).idempotency(Idempotency::new().store(redis.idempotency()))
    })
    .await;
    let body = an_order(&app, &token("ada", "acme", &["admin"])).await;
    let mia = token("mia", "acme", &[]);
    let post = |key: Option<String>| {
        let (app, mia, body) = (&app, mia.clone(), body.clone());
        async move {
            send(
                app,
                Method::POST,
                "/orders",
                &mia,
                key.as_deref(),
                Some(body),
            )
            .await
        }
    };
    assert_eq!(post(Some(unique("k"))).await.status, 201);

    proxy.cut();
    let key = unique("k");
    let refused = post(Some(key.clone())).await;
    assert_error(&refused, 503, "SERVICE_UNAVAILABLE");
    assert!(refused.header("retry-after").is_some());
    let unkeyed = post(None).await;
    assert_eq!(
        unkeyed.status, 201,
        "writes without a key go on: {}",
        unkeyed.body
    );
    assert_eq!(
        orders_of(&app, "mia").await,
        2,
        "the refused write made nothing"
    );

    proxy.restore();
    let mut recovered = None;
    for _ in 0..50 {
        let reply = post(Some(key.clone())).await;
        if reply.status == 201 {
            recovered = Some(reply);
            break;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("keyed writes work again, without a restart");
    let again = post(Some(key)).await;
    assert!(replayed(&again) && again.body == recovered.body);
    assert_eq!(orders_of(&app, "mia").await, 3);
}

// Attacks: nobody gets another caller's kept answer, or learns that a key exists.

/// mia's order under `key`, on the shop (keys in memory).
async fn shop_with_an_order(key: &str) -> (TestApp, Value, Reply) {
    let app = TestApp::sqlite().await;
    let body = an_order(&app, &token("ada", "acme", &["admin"])).await;
    let mia = token("mia", "acme", &[]);
    let placed = send(
        &app,
        Method::POST,
        "/orders",
        &mia,
        Some(key),
        Some(body.clone()),
    )
    .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    (app, body, placed)
}

#[tokio::test]
async fn an_anonymous_caller_gets_nothing_of_a_key() {
    let key = unique("k");
    let (app, body, _) = shop_with_an_order(&key).await;
    let with_known = send(
        &app,
        Method::POST,
        "/orders",
        "",
        Some(&key),
        Some(body.clone()),
    )
    .await;
    let with_fresh = send(
        &app,
        Method::POST,
        "/orders",
        "",
        Some(&unique("k")),
        Some(body),
    )
    .await;
    assert_error(&with_known, 401, "UNAUTHORIZED");
    assert!(!replayed(&with_known));
    assert_eq!(with_known.status, with_fresh.status);
    assert_eq!(with_known.body["code"], with_fresh.body["code"]);
    assert_eq!(with_known.body["error"], with_fresh.body["error"]);
}

#[tokio::test]
async fn a_member_of_another_organization_gets_nothing_of_a_key() {
    let key = unique("k");
    let (app, body, placed) = shop_with_an_order(&key).await;
    let gus = token("gus", "globex", &[]);
    // acme's product is not globex's: a 400, as without the key, not the kept answer.
    let same = send(&app, Method::POST, "/orders", &gus, Some(&key), Some(body)).await;
    assert_error(&same, 400, "VALIDATION_ERROR");
    assert!(!replayed(&same));
    // With globex's own product, another of globex's members gets an order of her own.
    let globex = an_order(&app, &token("gia", "globex", &["admin"])).await;
    let gwen = token("gwen", "globex", &[]);
    let own = send(
        &app,
        Method::POST,
        "/orders",
        &gwen,
        Some(&key),
        Some(globex),
    )
    .await;
    assert_eq!(own.status, 201, "{}", own.body);
    assert!(!replayed(&own));
    assert_ne!(own.body["data"]["id"], placed.body["data"]["id"]);
    assert_eq!(own.body["data"]["org_id"], "globex");
}

#[tokio::test]
async fn a_plain_member_of_the_same_organization_gets_nothing_of_a_key() {
    let key = unique("k");
    let (app, body, placed) = shop_with_an_order(&key).await;
    let bob = token("bob", "acme", &[]);
    let same = send(
        &app,
        Method::POST,
        "/orders",
        &bob,
        Some(&key),
        Some(body.clone()),
    )
    .await;
    assert_eq!(same.status, 201, "{}", same.body);
    assert!(!replayed(&same), "bob's own order, not mia's answer");
    assert_eq!(same.body["data"]["customer_id"], "bob");
    assert_ne!(same.body["data"]["id"], placed.body["data"]["id"]);
    // Another body under mia's key is no 422 for carl: it tells nothing.
    let mut other = body;
    other["quantity"] = json!(3);
    let carl = token("carl", "acme", &[]);
    let changed = send(
        &app,
        Method::POST,
        "/orders",
        &carl,
        Some(&key),
        Some(other),
    )
    .await;
    assert_eq!(changed.status, 201, "{}", changed.body);
    // And mia still gets her answer, counted as a replay.
    let mia = token("mia", "acme", &[]);
    let again = send(
        &app,
        Method::POST,
        "/orders",
        &mia,
        Some(&key),
        Some(json!({
            "quantity": 2, "product_id": placed.body["data"]["product_id"],
        })),
    )
    .await;
    assert!(replayed(&again) && again.body == placed.body);
    let metrics = metrics_text(&app).await;
    assert!(
        metrics.contains("arc_idempotency_replays_total{")
            && metrics.contains("resource=\"order\""),
        "{metrics}"
    );
}

/// `GET /_metrics`, as text.
async fn metrics_text(app: &TestApp) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::get("/_metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn malformed_keys_are_400_and_reads_ignore_keys() {
    let app = TestApp::sqlite().await;
    let body = an_order(&app, &token("ada", "acme", &["admin"])).await;
    let mia = token("mia", "acme", &[]);
    for bad in ["k".repeat(256), "has space".to_owned()] {
        let reply = send(
            &app,
            Method::POST,
            "/orders",
            &mia,
            Some(&bad),
            Some(body.clone()),
        )
        .await;
        assert_error(&reply, 400, "BAD_REQUEST");
    }
    let empty = axum::http::Request::post("/orders")
        .header("authorization", &mia)
        .header("content-type", "application/json")
        .header("idempotency-key", "")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    assert_error(&app.raw(empty).await, 400, "BAD_REQUEST");
    let non_ascii = axum::http::Request::post("/orders")
        .header("authorization", &mia)
        .header("content-type", "application/json")
        .header(
            "idempotency-key",
            axum::http::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        )
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    assert_error(&app.raw(non_ascii).await, 400, "BAD_REQUEST");
    assert_eq!(orders_of(&app, "mia").await, 0);
    let key = unique("k");
    for _ in 0..2 {
        let list = send(&app, Method::GET, "/orders", &mia, Some(&key), None).await;
        assert_eq!(list.status, 200);
        assert!(!replayed(&list));
    }
}
