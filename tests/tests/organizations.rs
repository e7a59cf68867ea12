//! Organizations and members as the framework's own resources (`App::organizations`): a
//! caller creates an organization and owns it; members read it and each other; owners and
//! admins manage members, only owners make or unmake owners, and the last owner stays; a
//! change of membership holds on the member's next request, on this instance or another
//! (the cache shared in Redis). Every answer to a caller outside the organization tells
//! them nothing of it.

use arc_runtime::App;
use arc_runtime::config::{Memberships, SqlMemberships};
use arc_runtime::sea_orm::DatabaseConnection;
use arc_tests::notes::{auth, bearer};
use arc_tests::{Backend, Reply, TestApp, assert_error, required_env};
use axum::http::Method;
use serde_json::{Value, json};

fn app(db: DatabaseConnection) -> App {
    App::new(db).auth(auth()).organizations()
}

/// A caller of `app`: their token claims no organization and no role (the members' table
/// decides).
struct Caller<'a> {
    app: &'a TestApp,
    token: String,
}

impl<'a> Caller<'a> {
    fn new(app: &'a TestApp, user: &str) -> Self {
        Self {
            app,
            token: bearer(user, &[], None, &[]),
        }
    }

    async fn send(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        self.app
            .send(method, uri, body, &[("authorization", self.token.as_str())])
            .await
    }
}

/// Alice creates `name`: its id.
async fn create(alice: &Caller<'_>, name: &str) -> String {
    let reply = alice
        .send(
            Method::POST,
            "/organizations",
            Some(json!({ "name": name })),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    reply.body["data"]["id"].as_str().expect("id").to_owned()
}

/// `owner` adds `user` to `org` with `role`: the membership's id.
async fn add(owner: &Caller<'_>, org: &str, user: &str, role: &str) -> String {
    let reply = owner
        .send(
            Method::POST,
            &format!("/organizations/{org}/members"),
            Some(json!({ "user_id": user, "role": role })),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    assert_eq!(
        reply.headers["location"],
        format!(
            "/organizations/{org}/members/{}",
            reply.body["data"]["id"].as_str().expect("id")
        )
    );
    reply.body["data"]["id"].as_str().expect("id").to_owned()
}

async fn organizations_and_members(backend: Backend) {
    let test = backend.app(app).await;
    let (alice, bob, carol, mallory) = (
        Caller::new(&test, "alice"),
        Caller::new(&test, "bob"),
        Caller::new(&test, "carol"),
        Caller::new(&test, "mallory"),
    );
    // Alice creates Acme, and owns it; its slug comes from the name.
    let acme = create(&alice, "Acme Inc.").await;
    let one = alice
        .send(Method::GET, &format!("/organizations/{acme}"), None)
        .await;
    assert_eq!(one.body["data"]["slug"], "acme-inc");
    assert_eq!(one.body["data"]["created_by"], "alice");
    let members = alice
        .send(Method::GET, &format!("/organizations/{acme}/members"), None)
        .await;
    assert_eq!(members.status.as_u16(), 200, "{}", members.body);
    assert_eq!(members.body["total"], 1);
    assert_eq!(members.body["docs"][0]["user_id"], "alice");
    assert_eq!(members.body["docs"][0]["role"], "owner");
    // Mallory owns Globex; the two see only their own.
    let globex = create(&mallory, "Globex").await;
    let mine = alice.send(Method::GET, "/organizations", None).await;
    assert_eq!(mine.body["total"], 1, "{}", mine.body);
    assert_eq!(mine.body["docs"][0]["id"], acme.as_str());
    // Another organization, its members, or adding oneself to it: refused before anything,
    // as any organization the caller is not in (one that does not exist too).
    let nowhere = arc_runtime::uuid::Uuid::new_v4();
    for org in [globex.as_str(), &nowhere.to_string()] {
        for (method, uri, body) in [
            (Method::GET, format!("/organizations/{org}"), None),
            (
                Method::PATCH,
                format!("/organizations/{org}"),
                Some(json!({ "name": "Mine" })),
            ),
            (Method::DELETE, format!("/organizations/{org}"), None),
            (Method::GET, format!("/organizations/{org}/members"), None),
            (
                Method::POST,
                format!("/organizations/{org}/members"),
                Some(json!({ "user_id": "alice", "role": "owner" })),
            ),
        ] {
            let reply = alice.send(method, &uri, body).await;
            assert_error(&reply, 403, "ORG_ACCESS_DENIED");
        }
    }
    assert_eq!(
        mallory
            .send(Method::GET, "/organizations/slug/acme-inc", None)
            .await
            .status
            .as_u16(),
        404
    );

    // Bob joins as a member: he reads Acme and its members at once, changes nothing.
    let bob_id = add(&alice, &acme, "bob", "member").await;
    let read = bob
        .send(Method::GET, &format!("/organizations/{acme}"), None)
        .await;
    assert_eq!(read.status.as_u16(), 200, "{}", read.body);
    assert_eq!(
        bob.send(Method::GET, &format!("/organizations/{acme}/members"), None)
            .await
            .body["total"],
        2
    );
    assert_error(
        &bob.send(
            Method::POST,
            &format!("/organizations/{acme}/members"),
            Some(json!({ "user_id": "carol", "role": "member" })),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &bob.send(
            Method::PATCH,
            &format!("/organizations/{acme}"),
            Some(json!({ "name": "Bob's" })),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    // Twice a member of one organization: a conflict, for who may add members.
    assert_error(
        &alice
            .send(
                Method::POST,
                &format!("/organizations/{acme}/members"),
                Some(json!({ "user_id": "bob", "role": "admin" })),
            )
            .await,
        409,
        "DUPLICATE_KEY",
    );

    // Made admin, Bob manages members and the organization, but not owners.
    let bob_uri = format!("/organizations/{acme}/members/{bob_id}");
    let promoted = alice
        .send(Method::PATCH, &bob_uri, Some(json!({ "role": "admin" })))
        .await;
    assert_eq!(promoted.status.as_u16(), 200, "{}", promoted.body);
    let renamed = bob
        .send(
            Method::PATCH,
            &format!("/organizations/{acme}"),
            Some(json!({ "name": "Acme Corp" })),
        )
        .await;
    assert_eq!(renamed.status.as_u16(), 200, "{}", renamed.body);
    let carol_id = add(&bob, &acme, "carol", "member").await;
    assert_error(
        &bob.send(
            Method::POST,
            &format!("/organizations/{acme}/members"),
            Some(json!({ "user_id": "dave", "role": "owner" })),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let alice_id = members.body["docs"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let alice_uri = format!("/organizations/{acme}/members/{alice_id}");
    assert_error(
        &bob.send(Method::PATCH, &alice_uri, Some(json!({ "role": "member" })))
            .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &bob.send(Method::DELETE, &alice_uri, None).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &bob.send(Method::PATCH, &bob_uri, Some(json!({ "role": "owner" })))
            .await,
        403,
        "FORBIDDEN",
    );
    // Nobody moves a membership to another user.
    assert_error(
        &alice
            .send(
                Method::PATCH,
                &bob_uri,
                Some(json!({ "user_id": "mallory" })),
            )
            .await,
        400,
        "VALIDATION_ERROR",
    );
    // Only owners delete the organization.
    assert_error(
        &bob.send(Method::DELETE, &format!("/organizations/{acme}"), None)
            .await,
        403,
        "FORBIDDEN",
    );

    // The last owner stays: not demoted, not removed, not even by themselves.
    assert_error(
        &alice
            .send(Method::PATCH, &alice_uri, Some(json!({ "role": "admin" })))
            .await,
        409,
        "LAST_OWNER",
    );
    assert_error(
        &alice.send(Method::DELETE, &alice_uri, None).await,
        409,
        "LAST_OWNER",
    );
    // With a second owner, the first may step down.
    let made = alice
        .send(Method::PATCH, &bob_uri, Some(json!({ "role": "owner" })))
        .await;
    assert_eq!(made.status.as_u16(), 200, "{}", made.body);
    let down = alice
        .send(Method::PATCH, &alice_uri, Some(json!({ "role": "member" })))
        .await;
    assert_eq!(down.status.as_u16(), 200, "{}", down.body);

    // A plain member leaves by themselves, and is out on their next request; they cannot
    // remove another.
    let carol_uri = format!("/organizations/{acme}/members/{carol_id}");
    assert_error(
        &alice.send(Method::DELETE, &carol_uri, None).await,
        403,
        "OWNERSHIP_DENIED",
    );
    let left = carol.send(Method::DELETE, &carol_uri, None).await;
    assert_eq!(left.status.as_u16(), 200, "{}", left.body);
    assert_error(
        &carol
            .send(Method::GET, &format!("/organizations/{acme}"), None)
            .await,
        403,
        "ORG_ACCESS_DENIED",
    );
    let listed = carol.send(Method::GET, "/organizations", None).await;
    assert_eq!(listed.body["total"], 0, "{}", listed.body);
    assert_error(
        &carol
            .send(Method::GET, &format!("/organizations/{acme}/members"), None)
            .await,
        403,
        "ORG_ACCESS_DENIED",
    );

    // Anonymous callers are asked to sign in, whatever the path names.
    let anonymous = test
        .send(
            Method::GET,
            &format!("/organizations/{acme}/members"),
            None,
            &[],
        )
        .await;
    assert_error(&anonymous, 401, "UNAUTHORIZED");
    assert_error(
        &test.send(Method::GET, "/organizations", None, &[]).await,
        401,
        "UNAUTHORIZED",
    );
    // A header naming another organization than the path: a 400.
    let mixed = test
        .send(
            Method::GET,
            &format!("/organizations/{acme}/members"),
            None,
            &[
                ("authorization", bob.token.as_str()),
                ("x-organization-id", &globex),
            ],
        )
        .await;
    assert_error(&mixed, 400, "BAD_REQUEST");

    // Bob, the owner now, deletes Acme: its memberships go with it.
    let gone = bob
        .send(Method::DELETE, &format!("/organizations/{acme}"), None)
        .await;
    assert_eq!(gone.status.as_u16(), 200, "{}", gone.body);
    let store = SqlMemberships::new(test.db.clone());
    use arc_runtime::config::MembershipStore;
    assert!(store.of("bob").await.expect("of").is_empty());
    assert_eq!(store.of("mallory").await.expect("of").len(), 1);
    test.cleanup().await;
}

#[tokio::test]
async fn organizations_and_members_on_sqlite() {
    organizations_and_members(Backend::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn organizations_and_members_on_postgres() {
    organizations_and_members(Backend::Postgres).await;
}

/// Two instances over one database and one Redis: a member removed through one is refused
/// on the other at their next request, though both cache memberships.
#[tokio::test]
#[ignore = "needs PostgreSQL and Redis"]
async fn a_removal_on_one_instance_holds_on_the_other() {
    let url = required_env("ARC_TEST_REDIS_URL", "Redis");
    let prefix = format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple());
    let redis = arc_stores::Redis::new(&url, prefix).expect("redis");
    let cached = |db: DatabaseConnection| {
        App::new(db.clone())
            .auth(auth().memberships(Memberships::sql(db).cache(redis.cache())))
            .organizations()
    };
    let a = Backend::Postgres.app(cached).await;
    let b = a.instance(cached);
    let (alice_a, bob_b) = (Caller::new(&a, "alice"), Caller::new(&b, "bob"));
    let acme = create(&alice_a, "Acme").await;
    let bob_id = add(&alice_a, &acme, "bob", "member").await;
    let members = format!("/organizations/{acme}/members");
    assert_eq!(
        bob_b
            .send(Method::GET, &members, None)
            .await
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        bob_b
            .send(Method::GET, &members, None)
            .await
            .status
            .as_u16(),
        200
    );
    let removed = alice_a
        .send(Method::DELETE, &format!("{members}/{bob_id}"), None)
        .await;
    assert_eq!(removed.status.as_u16(), 200, "{}", removed.body);
    assert_error(
        &bob_b.send(Method::GET, &members, None).await,
        403,
        "ORG_ACCESS_DENIED",
    );
    a.cleanup().await;
}
