//! The query cache: reads of a cached resource are kept (`x-cache: HIT`) until a write of it,
//! served `STALE` and refreshed past their freshness, one query for concurrent misses, and
//! never one caller's view for another's: a property test compares every cached answer with
//! the same app's uncached one over random callers, queries and writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_runtime::sea_orm::sea_query::Expr;
use arc_runtime::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use arc_tests::memos;
use arc_tests::memos::memo_entity;
use arc_tests::notes::bearer;
use arc_tests::{TestApp, on_both, shop_token};
use axum::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

on_both!(
    reads_are_kept_until_a_write,
    each_view_has_its_own_answers,
    a_bulk_write_makes_reads_fresh
);

async fn reads_are_kept_until_a_write(app: &TestApp) {
    let first = app.get("/products?limit=5&sort=name").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    // The same question in another order, with the default page spelled out.
    let second = app.get("/products?sort=name&page=1&limit=5").await;
    assert_eq!(second.header("x-cache"), Some("HIT"));
    assert_eq!(second.body, first.body);
    // A HIT is tagged from the digest kept with its body: the same tag as the MISS's, and a
    // conditional HIT is a 304.
    let tag = first.header("etag").expect("an ETag").to_owned();
    assert_eq!(second.header("etag"), Some(tag.as_str()));
    let conditional = app
        .send(
            Method::GET,
            "/products?limit=5&sort=name",
            None,
            &[("if-none-match", &tag)],
        )
        .await;
    assert_eq!(conditional.status, 304);
    assert_eq!(conditional.header("x-cache"), None);
    assert_eq!(conditional.header("etag"), Some(tag.as_str()));
    assert_eq!(
        app.get("/categories").await.header("x-cache"),
        None,
        "not cached"
    );

    let id = first.body["docs"][0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let one = format!("/products/{id}");
    assert_eq!(app.get(&one).await.header("x-cache"), Some("MISS"));
    let kept = app.get(&one).await;
    assert_eq!(kept.header("x-cache"), Some("HIT"));

    let renamed = app.patch(&one, json!({"name": "Aaa renamed"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let list = app.get("/products?limit=5&sort=name").await;
    assert_eq!(
        list.header("x-cache"),
        Some("MISS"),
        "a write makes reads fresh"
    );
    assert_eq!(list.body["docs"][0]["name"], "Aaa renamed");
    assert_ne!(
        list.header("etag"),
        Some(tag.as_str()),
        "a new body, a new tag"
    );
    let kept = app.get("/products?limit=5&sort=name").await;
    assert_eq!(kept.header("x-cache"), Some("HIT"));
    assert_eq!(kept.header("etag"), list.header("etag"));
    let after = app.get(&one).await;
    assert_eq!(after.header("x-cache"), Some("MISS"));
    assert_eq!(after.body["data"]["name"], "Aaa renamed");

    assert_eq!(app.delete(&one).await.status, 200);
    assert_eq!(
        app.get(&one).await.status,
        404,
        "a deleted row is not served from the cache"
    );
    let list = app.get("/products?limit=5&sort=name").await;
    assert!(!list.column("id").contains(&json!(id)));

    // The counters, by resource.
    let metrics = text(app, "/_metrics").await;
    let hits = metric(
        &metrics,
        "arc_cache_hits_total{resource=\"product\",state=\"fresh\"}",
    );
    let misses = metric(&metrics, "arc_cache_misses_total{resource=\"product\"}");
    assert_eq!((hits, misses), (4, 6), "{metrics}");
}

async fn each_view_has_its_own_answers(app: &TestApp) {
    let query = "/products?limit=3&sort=price";
    let admin = app.get(query).await;
    assert_eq!(admin.header("x-cache"), Some("MISS"));
    assert!(
        admin.body["docs"][0].get("cost").is_some(),
        "admins see the cost"
    );

    let member = |user: &str, org: &str| shop_token(user, org, &[]);
    let as_ = |token: String| async move {
        app.send(Method::GET, query, None, &[("authorization", &token)])
            .await
    };
    let m1 = as_(member("m1", "acme")).await;
    assert_eq!(
        m1.header("x-cache"),
        Some("MISS"),
        "another view of the rows"
    );
    assert!(m1.body["docs"][0].get("cost").is_none(), "{}", m1.body);
    let m2 = as_(member("m2", "acme")).await;
    assert_eq!(
        m2.header("x-cache"),
        Some("HIT"),
        "the same view: the same answer"
    );
    assert_eq!(m2.body, m1.body);

    let globex = as_(member("g1", "globex")).await;
    assert_eq!(globex.header("x-cache"), Some("MISS"));
    assert!(
        globex.column("org_id").iter().all(|org| org == "globex"),
        "{}",
        globex.body
    );
    assert_ne!(globex.column("id"), m1.column("id"));
}

async fn a_bulk_write_makes_reads_fresh(app: &TestApp) {
    let query = "/products?status=active&limit=100";
    let before = app.get(query).await;
    assert_eq!(before.status, 200, "{}", before.body);
    assert_eq!(app.get(query).await.header("x-cache"), Some("HIT"));
    let bulk = app
        .send(
            Method::PATCH,
            "/products/bulk",
            Some(json!({"filter": {"status": "active"}, "data": {"price": 4242}})),
            &[],
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    let after = app.get(query).await;
    assert_eq!(after.header("x-cache"), Some("MISS"));
    assert!(
        after.column("price").iter().all(|p| p == 4242),
        "{}",
        after.body
    );
}

/// A body as text (the metrics).
async fn text(app: &TestApp, uri: &str) -> String {
    use tower::ServiceExt;
    let req = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the series `series` in a Prometheus text, 0 when absent.
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Memos: owner-scoped, tenant-scoped, with an admin-only and a masked field.
mod memo {
    use super::*;

    on_both!(arc_tests::memos::app => stale_answers_are_served_then_refreshed);

    pub(super) fn admin(org: &str) -> String {
        bearer("boss", &[], Some(org), &["admin"])
    }

    pub(super) async fn create(app: &TestApp, token: &str, title: &str) -> String {
        let created = app
            .send(
                Method::POST,
                "/memos",
                Some(json!({"title": title, "slug": title, "secret": "s", "contact": "c"})),
                &[("authorization", token)],
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["data"]["id"].as_str().unwrap().to_owned()
    }

    async fn stale_answers_are_served_then_refreshed(app: &TestApp) {
        let token = admin("acme");
        let id = create(app, &token, "first").await;
        let get = |uri: String| {
            let token = token.clone();
            async move {
                app.send(Method::GET, &uri, None, &[("authorization", &token)])
                    .await
            }
        };
        let first = get("/memos".into()).await;
        assert_eq!(first.header("x-cache"), Some("MISS"));
        let tag = first.header("etag").map(str::to_owned);
        assert!(tag.is_some(), "tagged");
        // A change the cache cannot know of (not through the app).
        let changed = memo_entity::Entity::update_many()
            .col_expr(memo_entity::Column::Title, Expr::value("changed"))
            .filter(memo_entity::Column::Id.eq(id.parse::<arc_runtime::uuid::Uuid>().unwrap()))
            .exec(&app.db)
            .await
            .unwrap();
        assert_eq!(changed.rows_affected, 1);
        let kept = get("/memos".into()).await;
        assert_eq!(kept.header("x-cache"), Some("HIT"));
        assert_eq!(kept.column("title"), [json!("first")]);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let stale = get("/memos".into()).await;
        assert_eq!(
            stale.header("x-cache"),
            Some("STALE"),
            "past `stale`: served, refreshed"
        );
        assert_eq!(stale.column("title"), [json!("first")]);
        assert_eq!(stale.header("etag"), tag.as_deref(), "the kept body's tag");
        for _ in 0..100 {
            let now = get("/memos".into()).await;
            if now.column("title") == [json!("changed")] {
                assert_eq!(
                    now.header("x-cache"),
                    Some("HIT"),
                    "the refreshed answer is fresh"
                );
                assert_ne!(now.header("etag"), tag.as_deref(), "a new body, a new tag");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the stale answer was never refreshed");
    }

    /// The memos app over `db`, counting the statements it runs in `statements`.
    fn counting(
        statements: &Arc<AtomicUsize>,
    ) -> impl FnOnce(arc_runtime::sea_orm::DatabaseConnection) -> arc_runtime::App + use<> {
        let statements = statements.clone();
        move |mut db| {
            db.set_metric_callback(move |_| {
                statements.fetch_add(1, Ordering::SeqCst);
            });
            memos::app(db)
        }
    }

    #[tokio::test]
    async fn concurrent_misses_make_one_query_sqlite() {
        let statements = Arc::new(AtomicUsize::new(0));
        // In memory: on a file the reads run inline on connections of their own, which the
        // pool's metric callback does not see.
        let app = TestApp::sqlite_memory_with(counting(&statements)).await;
        concurrent_misses_make_one_query(&app, &statements).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL"]
    async fn concurrent_misses_make_one_query_postgres() {
        let statements = Arc::new(AtomicUsize::new(0));
        let app = TestApp::postgres_with(counting(&statements)).await;
        concurrent_misses_make_one_query(&app, &statements).await;
        app.cleanup().await;
    }

    async fn concurrent_misses_make_one_query(app: &TestApp, statements: &AtomicUsize) {
        let token = admin("acme");
        for i in 0..3 {
            create(app, &token, &format!("memo-{i}")).await;
        }
        statements.store(0, Ordering::SeqCst);
        let headers = [("authorization", token.as_str())];
        let replies = futures_util::future::join_all(
            (0..100).map(|_| app.send(Method::GET, "/memos?sort=title", None, &headers)),
        )
        .await;
        for reply in &replies {
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.body, replies[0].body);
        }
        // One list is two statements: the page and its count.
        assert_eq!(
            statements.load(Ordering::SeqCst),
            2,
            "100 concurrent misses, one query"
        );
        // Those that asked while the query ran missed and waited for it; any that asked after
        // its answer was kept hit it.
        let misses = replies
            .iter()
            .filter(|r| r.header("x-cache") == Some("MISS"))
            .count();
        let hits = replies
            .iter()
            .filter(|r| r.header("x-cache") == Some("HIT"))
            .count();
        assert!(misses >= 1, "the first asked");
        assert_eq!(misses + hits, 100);
        statements.store(0, Ordering::SeqCst);
        let kept = app
            .send(Method::GET, "/memos?sort=title", None, &headers)
            .await;
        assert_eq!(kept.header("x-cache"), Some("HIT"));
        assert_eq!(statements.load(Ordering::SeqCst), 0, "a hit asks nothing");
    }
}

/// The front index remembers the key of a request's question, not the rule's answer: a rule
/// that calls the app's code (`when(..)`) may answer the same caller and request differently
/// from one moment to the next, so its reads are asked again each time (and a change of the
/// app's mind is seen at once, with no write in between).
#[tokio::test]
async fn a_rule_that_calls_the_app_is_asked_every_time() {
    let app = TestApp::sqlite_with(memos::bulletins).await;
    let (mine, theirs) = (
        bearer("m1", &[], Some("acme"), &[]),
        bearer("m2", &[], Some("acme"), &[]),
    );
    for (token, owner) in [(&mine, "m1"), (&theirs, "m2")] {
        let reply = app
            .send(
                Method::POST,
                "/bulletins",
                Some(json!({"title": format!("by {owner}"), "owner_id": owner})),
                &[("authorization", token)],
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let headers = [("authorization", mine.as_str())];
    let titles = |reply: &arc_tests::Reply| {
        let mut titles: Vec<String> = reply.body["docs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["title"].as_str().unwrap_or_default().to_owned())
            .collect();
        titles.sort();
        titles
    };
    memos::BOARD_OPEN.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        let open = app.send(Method::GET, "/bulletins", None, &headers).await;
        assert_eq!(titles(&open), ["by m1", "by m2"]);
    }
    memos::BOARD_OPEN.store(false, Ordering::SeqCst);
    for _ in 0..2 {
        let closed = app.send(Method::GET, "/bulletins", None, &headers).await;
        assert_eq!(titles(&closed), ["by m1"], "{:?}", closed.header("x-cache"));
    }
    memos::BOARD_OPEN.store(true, Ordering::SeqCst);
    let open = app.send(Method::GET, "/bulletins", None, &headers).await;
    assert_eq!(titles(&open), ["by m1", "by m2"]);
    assert_eq!(
        open.header("x-cache"),
        Some("HIT"),
        "still cached, by its question"
    );
}

/// A body without what differs from request to request (an error's id and time).
fn without_request(mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        map.remove("requestId");
        map.remove("timestamp");
    }
    body
}

/// Who asks, in the property test.
const CALLERS: [(&str, &str, &[&str]); 8] = [
    ("a1", "acme", &["admin"]),
    ("au", "acme", &["auditor"]),
    ("ai", "acme", &["auditor", "intern"]),
    ("m1", "acme", &[]),
    ("m2", "acme", &[]),
    ("i1", "acme", &["intern"]),
    ("g1", "globex", &["admin"]),
    ("g2", "globex", &[]),
];

/// What they ask (`{id}` and `{slug}` name a memo).
const QUERIES: [&str; 14] = [
    "/memos",
    "/memos?sort=title",
    "/memos?sort=-priority&limit=2",
    "/memos?page=2&limit=2",
    "/memos?title=m0",
    "/memos?search=m",
    "/memos?select=title,secret,contact",
    "/memos?secret=s",
    "/memos?after=&sort=priority&limit=2",
    "/memos/deleted",
    "/memos/{id}",
    "/memos/slug/{slug}",
    "/memos?priority=3",
    "/memos?sort=created_at&limit=3",
];

#[derive(Clone, Debug)]
enum Op {
    /// `QUERIES[query]` by `CALLERS[caller]`, for memo `target`.
    Read {
        caller: usize,
        query: usize,
        target: usize,
    },
    Create {
        caller: usize,
    },
    Update {
        caller: usize,
        target: usize,
        priority: i64,
    },
    Delete {
        caller: usize,
        target: usize,
    },
    Restore {
        caller: usize,
        target: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let caller = 0..CALLERS.len();
    prop_oneof![
        6 => (caller.clone(), 0..QUERIES.len(), 0..8usize)
            .prop_map(|(caller, query, target)| Op::Read { caller, query, target }),
        1 => caller.clone().prop_map(|caller| Op::Create { caller }),
        1 => (caller.clone(), 0..8usize, 0..5i64)
            .prop_map(|(caller, target, priority)| Op::Update { caller, target, priority }),
        1 => (caller.clone(), 0..8usize).prop_map(|(caller, target)| Op::Delete { caller, target }),
        1 => (caller, 0..8usize).prop_map(|(caller, target)| Op::Restore { caller, target }),
    ]
}

/// The cached app and the uncached one over the same database, and the memos made so far.
struct Pair {
    cached: TestApp,
    truth: TestApp,
    memos: Vec<(String, String)>,
}

impl Pair {
    fn token(caller: usize) -> String {
        let (user, org, roles) = CALLERS[caller];
        bearer(user, &[], Some(org), roles)
    }

    /// Writes go through the cached app (its writes bump its cache; the truth has none).
    async fn write(&mut self, method: Method, uri: &str, body: Option<Value>, caller: usize) {
        let token = Self::token(caller);
        let reply = self
            .cached
            .send(method, uri, body, &[("authorization", &token)])
            .await;
        assert!(reply.status.as_u16() < 500, "{uri}: {}", reply.body);
        if reply.status == 201 {
            let data = &reply.body["data"];
            let id = data["id"].as_str().unwrap_or_default().to_owned();
            let slug = data["slug"].as_str().unwrap_or_default().to_owned();
            self.memos.push((id, slug));
        }
    }

    fn target(&self, i: usize) -> (String, String) {
        if self.memos.is_empty() {
            return ("00000000-0000-0000-0000-000000000000".into(), "none".into());
        }
        self.memos[i % self.memos.len()].clone()
    }

    async fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Read {
                caller,
                query,
                target,
            } => {
                let (id, slug) = self.target(target);
                let uri = QUERIES[query].replace("{id}", &id).replace("{slug}", &slug);
                let token = Self::token(caller);
                let headers = [("authorization", token.as_str())];
                // Asked twice: the second time, a request the front index has seen.
                self.cached.send(Method::GET, &uri, None, &headers).await;
                let cached = self.cached.send(Method::GET, &uri, None, &headers).await;
                let truth = self.truth.send(Method::GET, &uri, None, &headers).await;
                prop_assert_eq!(
                    cached.status,
                    truth.status,
                    "{} by {:?}",
                    uri,
                    CALLERS[caller]
                );
                prop_assert_eq!(
                    &without_request(cached.body.clone()),
                    &without_request(truth.body),
                    "{} by {:?} ({:?})",
                    uri,
                    CALLERS[caller],
                    cached.header("x-cache")
                );
            }
            Op::Create { caller } => {
                let n = self.memos.len();
                let body = json!({"title": format!("m{n}"), "slug": format!("s{n}"),
                    "priority": n % 4, "secret": "s", "contact": format!("c{n}")});
                self.write(Method::POST, "/memos", Some(body), caller).await;
            }
            Op::Update {
                caller,
                target,
                priority,
            } => {
                let (id, _) = self.target(target);
                let body = json!({"priority": priority, "title": format!("t{priority}")});
                self.write(Method::PATCH, &format!("/memos/{id}"), Some(body), caller)
                    .await;
            }
            Op::Delete { caller, target } => {
                let (id, _) = self.target(target);
                self.write(Method::DELETE, &format!("/memos/{id}"), None, caller)
                    .await;
            }
            Op::Restore { caller, target } => {
                let (id, _) = self.target(target);
                self.write(Method::POST, &format!("/memos/{id}/restore"), None, caller)
                    .await;
            }
        }
        Ok(())
    }
}

#[test]
fn a_cached_answer_is_always_the_uncached_one() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases: arc_tests::fuzz_cases(48),
        failure_persistence: None,
        ..Config::default()
    });
    let ops = proptest::collection::vec(op(), 10..60);
    let result = runner.run(&ops, |ops| {
        rt.block_on(async {
            let cached = TestApp::sqlite_with(memos::app).await;
            let truth = cached.instance(memos::uncached);
            let mut pair = Pair {
                cached,
                truth,
                memos: Vec::new(),
            };
            // Every caller has a memo to start with.
            for caller in 0..CALLERS.len() {
                pair.run(&Op::Create { caller }).await?;
            }
            for op in &ops {
                pair.run(op).await?;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Two instances of the shop on one PostgreSQL database and one Redis.
mod shared {
    use super::*;
    use arc_runtime::config::Cache;
    use arc_stores::Redis;
    use arc_tests::proxy::Proxy;
    use arc_tests::{required_env, shop_app};

    fn fresh_prefix() -> String {
        format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple())
    }

    /// The shop with its cache on `redis`.
    fn shop_on(
        redis: Redis,
    ) -> impl FnOnce(arc_runtime::sea_orm::DatabaseConnection) -> arc_runtime::App {
        move |db| shop_app(db).cache(Cache::new().store(redis.cache()))
    }

    fn redis(url: &str, prefix: &str) -> Redis {
        Redis::new(url, prefix).expect("a redis url")
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL and Redis"]
    async fn a_write_on_one_instance_makes_reads_on_the_other_fresh() {
        let url = required_env("ARC_TEST_REDIS_URL", "Redis");
        let prefix = fresh_prefix();
        let a = TestApp::postgres_with(shop_on(redis(&url, &prefix))).await;
        let b = a.instance(shop_on(redis(&url, &prefix)));
        let query = "/products?sort=name&limit=3";
        let first = b.get(query).await;
        assert_eq!(first.header("x-cache"), Some("MISS"));
        assert_eq!(
            a.get(query).await.header("x-cache"),
            Some("HIT"),
            "B's answer, on A"
        );
        let id = first.body["docs"][0]["id"].as_str().unwrap().to_owned();
        for round in 0..20 {
            let name = format!("Aaa round {round}");
            let patched = a
                .patch(&format!("/products/{id}"), json!({"name": name}))
                .await;
            assert_eq!(patched.status, 200, "{}", patched.body);
            let read = b.get(query).await;
            assert_eq!(
                read.body["docs"][0]["name"],
                name.as_str(),
                "never stale on B"
            );
            assert_eq!(read.header("x-cache"), Some("MISS"));
            let one = b.get(&format!("/products/{id}")).await;
            assert_eq!(one.body["data"]["name"], name.as_str());
        }
        a.cleanup().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL and Redis"]
    async fn a_lost_version_never_revives_an_old_answer() {
        let url = required_env("ARC_TEST_REDIS_URL", "Redis");
        let prefix = fresh_prefix();
        let app = TestApp::postgres_with(shop_on(redis(&url, &prefix))).await;
        let query = "/products?sort=name&limit=3";
        // Kept before any write of products: stamped with the version the first read set.
        assert_eq!(app.get(query).await.header("x-cache"), Some("MISS"));
        let kept = app.get(query).await;
        assert_eq!(kept.header("x-cache"), Some("HIT"));
        let id = kept.body["docs"][0]["id"].as_str().unwrap().to_owned();
        let renamed = app
            .patch(&format!("/products/{id}"), json!({"name": "Aaa lost"}))
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.body);
        // The version is lost (an eviction, a flush of that key).
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let deleted: u64 = redis::cmd("DEL")
            .arg(format!("{prefix}cache:v:product"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(deleted, 1);
        let read = app.get(query).await;
        assert_eq!(
            read.body["docs"][0]["name"], "Aaa lost",
            "no answer from before the write"
        );
        assert_eq!(read.header("x-cache"), Some("MISS"));
        app.cleanup().await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL and Redis"]
    async fn a_redis_outage_costs_the_cache_not_the_answers() {
        let url = required_env("ARC_TEST_REDIS_URL", "Redis");
        let prefix = fresh_prefix();
        let (proxy, through) = Proxy::for_url(&url).await;
        let a = TestApp::postgres_with(shop_on(redis(&through, &prefix))).await;
        let b = a.instance(shop_on(redis(&url, &prefix)));
        let query = "/products?sort=name&limit=3";
        assert_eq!(a.get(query).await.header("x-cache"), Some("MISS"));
        assert_eq!(b.get(query).await.header("x-cache"), Some("HIT"));
        let id = b.get(query).await.body["docs"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

        proxy.cut();
        // A cannot reach Redis: its reads are answered from the database, never an error.
        for _ in 0..3 {
            let read = a.get(query).await;
            assert_eq!(read.status, 200, "{}", read.body);
            assert_eq!(read.header("x-cache"), Some("MISS"));
        }
        // A write on A commits; its bump cannot land yet.
        let renamed = a
            .patch(&format!("/products/{id}"), json!({"name": "Aaa outage"}))
            .await;
        assert_eq!(renamed.status, 200, "{}", renamed.body);
        let read = a.get(query).await;
        assert_eq!(
            read.body["docs"][0]["name"], "Aaa outage",
            "A reads its own write"
        );

        proxy.restore();
        // A's pending bump lands on its own (retried with backoff, at most 2 s apart); then
        // B, which kept reaching Redis, sees the write too.
        let mut fresh = false;
        for _ in 0..100 {
            let read = b.get(query).await;
            assert_eq!(read.status, 200);
            if read.body["docs"][0]["name"] == "Aaa outage" {
                fresh = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(fresh, "the bump that failed during the outage never landed");
        let read = a.get(query).await;
        assert_eq!(read.body["docs"][0]["name"], "Aaa outage");
        assert!(
            matches!(a.get(query).await.header("x-cache"), Some("HIT")),
            "A uses the cache again once its bump landed"
        );
        a.cleanup().await;
    }
}
