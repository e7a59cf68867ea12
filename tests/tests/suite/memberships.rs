//! Membership from a store: the active organization and its roles come from the app's
//! memberships, not the token's claims, so a member removed or demoted is treated so on
//! their next request, on this instance or another (the cache shared in Redis). Every
//! store conforms on memory, SQLite and PostgreSQL; a store that cannot answer is a 503, a
//! cache that cannot is passed by.

use arc_runtime::config::{
    InMemoryCache, InMemoryMemberships, Memberships, SqlMemberships, membership_conformance,
};
use arc_runtime::sea_orm::{ConnectionTrait, DatabaseConnection};
use arc_tests::memos::Memo;
use arc_tests::notes::{auth, bearer, bearer_in};
use arc_tests::{Backend, TestApp, assert_error, required_env};
use axum::http::Method;
use serde_json::json;

/// The memos, their callers' memberships in `memberships` (built over the app's database).
fn app(
    db: DatabaseConnection,
    memberships: impl FnOnce(DatabaseConnection) -> Memberships,
    slot: &mut Option<Memberships>,
) -> arc_runtime::App {
    let memberships = memberships(db.clone());
    *slot = Some(memberships.clone());
    arc_runtime::App::new(db)
        .resource::<Memo>()
        .auth(auth().memberships(memberships))
}

/// `app` on `backend`, and its memberships.
async fn served(
    backend: Backend,
    memberships: impl FnOnce(DatabaseConnection) -> Memberships,
) -> (TestApp, Memberships) {
    let mut slot = None;
    let test = backend.app(|db| app(db, memberships, &mut slot)).await;
    (test, slot.expect("memberships"))
}

async fn send(app: &TestApp, token: &str, org: Option<&str>, method: Method) -> arc_tests::Reply {
    let mut headers = vec![("authorization", token)];
    headers.extend(org.map(|o| ("x-organization-id", o)));
    let body = (method == Method::POST).then(|| json!({ "title": "a memo" }));
    app.send(method, "/memos", body, &headers).await
}

#[tokio::test]
async fn stores_conform_in_memory_and_on_sqlite() {
    membership_conformance::check(&InMemoryMemberships::new(), "memory").await;
    let (app, _) = served(Backend::Sqlite, Memberships::sql).await;
    membership_conformance::check(&SqlMemberships::new(app.db.clone()), "sqlite").await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn the_sql_store_conforms_on_postgres() {
    let (app, _) = served(Backend::Postgres, Memberships::sql).await;
    membership_conformance::check(&SqlMemberships::new(app.db.clone()), "postgres").await;
    app.cleanup().await;
}

#[tokio::test]
async fn the_store_decides_on_every_request_not_the_token() {
    let (app, memberships) = served(Backend::Sqlite, |db| {
        Memberships::sql(db).cache(InMemoryCache::new(1 << 20))
    })
    .await;
    membership_scenario(&app, &app, &memberships).await;
    // The cache answers while its entry is current: a row deleted behind the memberships'
    // back is not seen until a change goes through them.
    memberships
        .put("carol", "acme", "member")
        .await
        .expect("join");
    let carol = bearer("carol", &[], None, &[]);
    assert_eq!(
        send(&app, &carol, Some("acme"), Method::GET).await.status,
        200
    );
    app.db
        .execute_unprepared("DELETE FROM arc_memberships")
        .await
        .expect("delete");
    assert_eq!(
        send(&app, &carol, Some("acme"), Method::GET).await.status,
        200
    );
    assert!(!memberships.remove("carol", "acme").await.expect("remove"));
    assert_error(
        &send(&app, &carol, Some("acme"), Method::GET).await,
        403,
        "ORG_ACCESS_DENIED",
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn the_store_decides_on_every_request_on_postgres() {
    let (app, memberships) = served(Backend::Postgres, Memberships::sql).await;
    membership_scenario(&app, &app, &memberships).await;
    app.cleanup().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL and Redis"]
async fn a_change_on_one_instance_holds_on_the_next_request_on_another() {
    let url = required_env("ARC_TEST_REDIS_URL", "Redis");
    let prefix = format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple());
    let redis = arc_stores::Redis::new(&url, prefix).expect("redis");
    let (a, on_a) = served(Backend::Postgres, |db| {
        Memberships::sql(db).cache(redis.cache())
    })
    .await;
    let mut slot = None;
    let b = a.instance(|db| {
        app(
            db,
            |db| Memberships::sql(db).cache(redis.cache()),
            &mut slot,
        )
    });
    // Changes made through A's memberships; B answers from the cache they share.
    membership_scenario(&a, &b, &on_a).await;
    a.cleanup().await;
}

/// Memberships changed through `memberships` (A's), each change checked on `b` at once.
async fn membership_scenario(a: &TestApp, b: &TestApp, memberships: &Memberships) {
    // Alice's token claims nothing about organizations; Bob's claims acme and beta, and
    // admin in acme: none of it counts.
    let alice = bearer("alice", &[], None, &[]);
    let bob = bearer_in("bob", &[], Some("acme"), &["admin"], &["beta"]);
    assert_error(
        &send(b, &alice, Some("acme"), Method::GET).await,
        403,
        "ORG_ACCESS_DENIED",
    );
    for org in [Some("acme"), Some("beta")] {
        assert_error(
            &send(b, &bob, org, Method::GET).await,
            403,
            "ORG_ACCESS_DENIED",
        );
    }
    // Without the header and a member of no organization, the token's org_id is no
    // active organization: a tenant resource asks for one.
    assert_error(
        &send(b, &bob, None, Method::GET).await,
        403,
        "ORG_SELECTION_REQUIRED",
    );

    memberships
        .put("alice", "acme", "member")
        .await
        .expect("join");
    memberships
        .put("bob", "acme", "member")
        .await
        .expect("join");
    let created = send(b, &alice, Some("acme"), Method::POST).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["data"]["org_id"], "acme");
    // Bob's token's org_id is acme, where he is a member now: the active organization
    // without a header. His token's `admin` there does not count: he sees his own memo,
    // without the admins' field.
    let created = send(b, &bob, None, Method::POST).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = send(b, &bob, None, Method::GET).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let docs = listed.body["docs"].as_array().expect("docs");
    assert_eq!(docs.len(), 1, "{}", listed.body);
    assert!(docs[0].get("secret").is_none(), "{}", listed.body);
    assert_error(
        &send(b, &bob, Some("beta"), Method::GET).await,
        403,
        "ORG_ACCESS_DENIED",
    );

    // Promoted: admin in acme on the next request.
    memberships
        .put("bob", "acme", "admin")
        .await
        .expect("promote");
    let listed = send(b, &bob, Some("acme"), Method::GET).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let docs = listed.body["docs"].as_array().expect("docs");
    assert_eq!(docs.len(), 2, "an admin sees every memo: {}", listed.body);
    assert!(
        docs.iter().all(|d| d.get("secret").is_some()),
        "{}",
        listed.body
    );
    // Demoted: not any more.
    memberships
        .put("bob", "acme", "member")
        .await
        .expect("demote");
    let listed = send(b, &bob, Some("acme"), Method::GET).await;
    let docs = listed.body["docs"].as_array().expect("docs");
    assert_eq!(docs.len(), 1, "{}", listed.body);
    assert!(docs[0].get("secret").is_none(), "{}", listed.body);

    // Removed: refused on the next request, by header or by the token's org_id.
    assert!(memberships.remove("alice", "acme").await.expect("remove"));
    assert!(memberships.remove("bob", "acme").await.expect("remove"));
    for method in [Method::GET, Method::POST] {
        assert_error(
            &send(b, &alice, Some("acme"), method.clone()).await,
            403,
            "ORG_ACCESS_DENIED",
        );
    }
    assert_error(
        &send(b, &bob, None, Method::GET).await,
        403,
        "ORG_SELECTION_REQUIRED",
    );
    assert_eq!(
        a.scalar("SELECT COUNT(*) FROM memos").await,
        2,
        "nothing written after the removal"
    );
    // The anonymous caller is asked to authenticate, as without memberships.
    let anonymous = b
        .send(
            Method::GET,
            "/memos",
            None,
            &[("x-organization-id", "acme")],
        )
        .await;
    assert_error(&anonymous, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_store_that_cannot_answer_is_a_503_and_a_cache_that_cannot_is_passed_by() {
    // The table was never made: every read of the store fails.
    let (app, _) = served(Backend::Sqlite, |db| {
        Memberships::new(SqlMemberships::new(db))
    })
    .await;
    let alice = bearer("alice", &[], None, &[]);
    assert_error(
        &send(&app, &alice, Some("acme"), Method::GET).await,
        503,
        "SERVICE_UNAVAILABLE",
    );

    // A cache nobody answers (nothing listens on port 1): reads go to the store, changes
    // are made there and reported as errors (an instance may keep the old entry).
    let down = arc_stores::Redis::new("redis://127.0.0.1:1", "arc-test:down:").expect("redis");
    let (app, memberships) = served(Backend::Sqlite, |db| {
        Memberships::sql(db.clone()).cache(down.cache())
    })
    .await;
    let store = SqlMemberships::new(app.db.clone());
    use arc_runtime::config::MembershipStore;
    store.put("alice", "acme", "member").await.expect("store");
    let listed = send(&app, &alice, Some("acme"), Method::GET).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let change = memberships.remove("alice", "acme").await;
    assert!(change.is_err(), "the caches could not be told");
    assert_error(
        &send(&app, &alice, Some("acme"), Method::GET).await,
        403,
        "ORG_ACCESS_DENIED",
    );
}

#[tokio::test]
async fn several_instances_need_shared_memberships() {
    let local = |memberships: Memberships| {
        arc_runtime::App::new(DatabaseConnection::default())
            .auth(auth().memberships(memberships))
            .distributed()
            .problems()
    };
    let named = |problems: &[String]| problems.iter().any(|p| p.contains("memberships"));
    assert!(named(&local(Memberships::in_memory())));
    let sql = Memberships::sql(DatabaseConnection::default());
    assert!(named(&local(
        sql.clone().cache(InMemoryCache::new(1 << 20))
    )));
    assert!(!named(&local(sql)));
}

/// A step of the property test: a change of membership, or a request.
#[derive(Clone, Debug)]
enum Step {
    /// User joins (or changes roles in) an organization; admin or member.
    Put(usize, usize, bool),
    Remove(usize, usize),
    /// User lists (or, `true`, creates) in the organization the header names, or in their
    /// token's own without one.
    Request(usize, Option<usize>, bool),
}

const USERS: [&str; 3] = ["u0", "u1", "u2"];
const ORGS: [&str; 3] = ["o0", "o1", "o2"];

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        (0..3usize, 0..3usize, any::<bool>()).prop_map(|(u, o, a)| Step::Put(u, o, a)),
        (0..3usize, 0..3usize).prop_map(|(u, o)| Step::Remove(u, o)),
        (0..3usize, proptest::option::of(0..3usize), any::<bool>())
            .prop_map(|(u, o, c)| Step::Request(u, o, c)),
        (0..3usize, proptest::option::of(0..3usize), any::<bool>())
            .prop_map(|(u, o, c)| Step::Request(u, o, c)),
    ]
}

/// Runs `steps` against an app whose memberships start empty, each answer checked against
/// a model of the memberships: a caller acts only where the model says they are a member,
/// with the model's roles, whatever their token claims (every token claims every
/// organization, and admin in its own).
async fn memberships_hold(steps: &[Step]) -> Result<(), proptest::test_runner::TestCaseError> {
    use proptest::prop_assert_eq;
    let (app, memberships) = served(Backend::Sqlite, |db| {
        Memberships::sql(db).cache(InMemoryCache::new(1 << 20))
    })
    .await;
    let tokens: Vec<String> = (0..USERS.len())
        .map(|u| bearer_in(USERS[u], &[], Some(ORGS[u]), &["admin"], &ORGS))
        .collect();
    let mut model = std::collections::BTreeMap::<(usize, usize), bool>::new();
    for step in steps {
        match *step {
            Step::Put(u, o, admin) => {
                let role = if admin { "admin" } else { "member" };
                memberships.put(USERS[u], ORGS[o], role).await.expect("put");
                model.insert((u, o), admin);
            }
            Step::Remove(u, o) => {
                let was = memberships.remove(USERS[u], ORGS[o]).await.expect("remove");
                prop_assert_eq!(was, model.remove(&(u, o)).is_some());
            }
            Step::Request(u, header, create) => {
                let method = if create { Method::POST } else { Method::GET };
                let reply = send(&app, &tokens[u], header.map(|o| ORGS[o]), method).await;
                let context = format!("{step:?} with {model:?}: {}", reply.body);
                let org = header.unwrap_or(u);
                let Some(&admin) = model.get(&(u, org)) else {
                    let code = if header.is_some() {
                        "ORG_ACCESS_DENIED"
                    } else {
                        "ORG_SELECTION_REQUIRED"
                    };
                    prop_assert_eq!(reply.status.as_u16(), 403, "{}", context);
                    prop_assert_eq!(&reply.body["code"], code, "{}", context);
                    continue;
                };
                if create {
                    prop_assert_eq!(reply.status.as_u16(), 201, "{}", context);
                    prop_assert_eq!(&reply.body["data"]["org_id"], ORGS[org], "{}", context);
                    prop_assert_eq!(&reply.body["data"]["owner_id"], USERS[u], "{}", context);
                    continue;
                }
                prop_assert_eq!(reply.status.as_u16(), 200, "{}", context);
                for doc in reply.body["docs"].as_array().expect("docs") {
                    prop_assert_eq!(&doc["org_id"], ORGS[org], "{}", context);
                    prop_assert_eq!(doc.get("secret").is_some(), admin, "{}", context);
                    if !admin {
                        prop_assert_eq!(&doc["owner_id"], USERS[u], "{}", context);
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn membership_changes_between_requests_hold_at_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut runner = arc_tests::proptest_runner(arc_tests::proptest_cases(32));
    let strategy = proptest::collection::vec(step(), 1..40);
    let result = runner.run(&strategy, |steps| rt.block_on(memberships_hold(&steps)));
    if let Err(e) = result {
        panic!("{e}");
    }
}
