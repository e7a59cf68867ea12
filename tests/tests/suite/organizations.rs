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

/// `user`'s membership row in `org`, as `reader` lists the members (a panic when absent).
async fn membership(reader: &Caller<'_>, org: &str, user: &str) -> Value {
    let listed = reader
        .send(Method::GET, &format!("/organizations/{org}/members"), None)
        .await;
    assert_eq!(listed.status.as_u16(), 200, "{}", listed.body);
    listed.body["docs"]
        .as_array()
        .and_then(|docs| docs.iter().find(|m| m["user_id"] == user))
        .unwrap_or_else(|| panic!("{user} is no member: {}", listed.body))
        .clone()
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
    // A header naming another organization than the path: a 400 to a member of both, and
    // to anyone else the header's own 403.
    let initech = create(&bob, "Initech").await;
    for (header, status, code) in [
        (&initech, 400, "BAD_REQUEST"),
        (&globex, 403, "ORG_ACCESS_DENIED"),
    ] {
        let mixed = test
            .send(
                Method::GET,
                &format!("/organizations/{acme}/members"),
                None,
                &[
                    ("authorization", bob.token.as_str()),
                    ("x-organization-id", header),
                ],
            )
            .await;
        assert_error(&mixed, status, code);
    }

    // Bob, the owner now, deletes Acme: its memberships go with it.
    let gone = bob
        .send(Method::DELETE, &format!("/organizations/{acme}"), None)
        .await;
    assert_eq!(gone.status.as_u16(), 200, "{}", gone.body);
    let store = SqlMemberships::new(test.db.clone());
    use arc_runtime::config::MembershipStore;
    let left: Vec<String> = store
        .of("bob")
        .await
        .expect("of")
        .into_iter()
        .map(|m| m.org)
        .collect();
    assert_eq!(left, [initech]);
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

/// `by` invites someone to `org` as `body` says.
async fn invite(by: &Caller<'_>, org: &str, body: Value) -> Reply {
    by.send(
        Method::POST,
        &format!("/organizations/{org}/invitations"),
        Some(body),
    )
    .await
}

/// Invitations: owners and admins issue them (an owner's seat by owners only, and shown to
/// owners only); the one an invitation is for accepts or rejects it, once, before it expires,
/// and is a member on their next request; anyone else hears of no such invitation.
async fn invitations(backend: Backend) {
    use arc_runtime::orgs::invitation_entity;
    use arc_runtime::sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let test = backend.app(app).await;
    let [alice, bob, dave, erin, carol, mallory] =
        ["alice", "bob", "dave", "erin", "carol", "mallory"].map(|u| Caller::new(&test, u));
    let acme = create(&alice, "Acme").await;
    add(&alice, &acme, "bob", "admin").await;
    let invitations = format!("/organizations/{acme}/invitations");
    let accept = |id: &str| format!("/organizations/invitations/{id}/accept");
    let reject = |id: &str| format!("/organizations/invitations/{id}/reject");

    // Alice invites Dave by name, as an admin: pending, for 7 days.
    let to_dave = invite(&alice, &acme, json!({ "user_id": "dave", "role": "admin" })).await;
    assert_eq!(to_dave.status.as_u16(), 201, "{}", to_dave.body);
    assert_eq!(to_dave.body["data"]["status"], "pending");
    assert_eq!(to_dave.body["data"]["invited_by"], "alice");
    let expires: arc_runtime::chrono::DateTime<arc_runtime::chrono::Utc> =
        to_dave.body["data"]["expires_at"]
            .as_str()
            .expect("expires_at")
            .parse()
            .expect("a time");
    let days = (expires - arc_runtime::chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "{days} hours");
    let dave_inv = to_dave.body["data"]["id"].as_str().expect("id").to_owned();
    // The server decides the state and who issued it; the expiry holds at most 30 days.
    for body in [
        json!({ "role": "member", "status": "accepted" }),
        json!({ "role": "member", "invited_by": "mallory" }),
        json!({ "role": "member", "expires_at": "2001-01-01T00:00:00Z" }),
        json!({ "role": "member", "expires_at": "2999-01-01T00:00:00Z" }),
        json!({ "role": "" }),
    ] {
        let reply = invite(&alice, &acme, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 400, "{body}: {}", reply.body);
    }

    // Bob, an admin, may not offer an owner's seat, nor see, withdraw or learn of one.
    assert_error(
        &invite(&bob, &acme, json!({ "user_id": "erin", "role": "owner" })).await,
        403,
        "FORBIDDEN",
    );
    let to_erin = invite(&alice, &acme, json!({ "user_id": "erin", "role": "owner" })).await;
    assert_eq!(to_erin.status.as_u16(), 201, "{}", to_erin.body);
    let erin_inv = to_erin.body["data"]["id"].as_str().expect("id").to_owned();
    let seen = bob.send(Method::GET, &invitations, None).await;
    assert_eq!(seen.body["total"], 1, "{}", seen.body);
    assert_eq!(seen.body["docs"][0]["id"], dave_inv.as_str());
    let erin_uri = format!("{invitations}/{erin_inv}");
    assert_error(
        &bob.send(Method::GET, &erin_uri, None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &bob.send(Method::DELETE, &erin_uri, None).await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        alice.send(Method::GET, &invitations, None).await.body["total"],
        2
    );
    // Outside the organization, invitations are not there to read.
    assert_error(
        &mallory.send(Method::GET, &invitations, None).await,
        403,
        "ORG_ACCESS_DENIED",
    );

    // Only Dave answers Dave's invitation; to anyone else it does not exist.
    assert_error(
        &test.send(Method::POST, &accept(&dave_inv), None, &[]).await,
        401,
        "UNAUTHORIZED",
    );
    for other in [&mallory, &erin, &bob] {
        assert_error(
            &other.send(Method::POST, &accept(&dave_inv), None).await,
            404,
            "NOT_FOUND",
        );
        assert_error(
            &other.send(Method::POST, &reject(&dave_inv), None).await,
            404,
            "NOT_FOUND",
        );
    }
    assert_error(
        &dave.send(Method::POST, &accept("not-a-uuid"), None).await,
        404,
        "NOT_FOUND",
    );
    let members = format!("/organizations/{acme}/members");
    assert_error(
        &dave.send(Method::GET, &members, None).await,
        403,
        "ORG_ACCESS_DENIED",
    );
    let accepted = dave.send(Method::POST, &accept(&dave_inv), None).await;
    assert_eq!(accepted.status.as_u16(), 200, "{}", accepted.body);
    assert_eq!(accepted.body["data"]["status"], "accepted");
    assert_eq!(accepted.body["data"]["org_id"], acme.as_str());
    // A member with the role offered, on his next request; the invitation is spent.
    assert_eq!(membership(&dave, &acme, "dave").await["role"], "admin");
    for uri in [accept(&dave_inv), reject(&dave_inv)] {
        assert_error(&dave.send(Method::POST, &uri, None).await, 404, "NOT_FOUND");
    }
    let spent = alice
        .send(Method::GET, &format!("{invitations}/{dave_inv}"), None)
        .await;
    assert_eq!(spent.body["data"]["status"], "accepted");
    assert_eq!(spent.body["data"]["answered_by"], "dave");
    // Erin takes the owner's seat Alice offered.
    let seat = erin.send(Method::POST, &accept(&erin_inv), None).await;
    assert_eq!(seat.status.as_u16(), 200, "{}", seat.body);
    assert_eq!(membership(&erin, &acme, "erin").await["role"], "owner");

    // A link for whoever holds it: a member already in cannot use it to change their role,
    // and the link stays open; Carol joins with it; a second use finds nothing.
    let link = invite(
        &bob,
        &acme,
        json!({ "role": "member", "email": "carol@example.com" }),
    )
    .await;
    assert_eq!(link.status.as_u16(), 201, "{}", link.body);
    let link = link.body["data"]["id"].as_str().expect("id").to_owned();
    assert_error(
        &bob.send(Method::POST, &accept(&link), None).await,
        409,
        "DUPLICATE_KEY",
    );
    let joined = carol.send(Method::POST, &accept(&link), None).await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.body);
    assert_error(
        &mallory.send(Method::POST, &accept(&link), None).await,
        404,
        "NOT_FOUND",
    );

    // Turned down: spent, no member. Withdrawn: gone. Expired: nothing to answer.
    let declined = invite(&alice, &acme, json!({ "role": "member" })).await;
    let declined = declined.body["data"]["id"].as_str().expect("id").to_owned();
    let no = mallory.send(Method::POST, &reject(&declined), None).await;
    assert_eq!(no.status.as_u16(), 200, "{}", no.body);
    assert_eq!(no.body["data"]["status"], "rejected");
    assert_error(
        &mallory.send(Method::POST, &accept(&declined), None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &mallory.send(Method::GET, &members, None).await,
        403,
        "ORG_ACCESS_DENIED",
    );
    let withdrawn = invite(&alice, &acme, json!({ "role": "member" })).await;
    let withdrawn = withdrawn.body["data"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let gone = bob
        .send(Method::DELETE, &format!("{invitations}/{withdrawn}"), None)
        .await;
    assert_eq!(gone.status.as_u16(), 200, "{}", gone.body);
    assert_error(
        &mallory.send(Method::POST, &accept(&withdrawn), None).await,
        404,
        "NOT_FOUND",
    );
    let stale = invite(&alice, &acme, json!({ "role": "member" })).await;
    let stale: arc_runtime::uuid::Uuid = stale.body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    invitation_entity::ActiveModel {
        id: Set(stale),
        expires_at: Set(Some(
            arc_runtime::chrono::Utc::now() - arc_runtime::chrono::Duration::minutes(1),
        )),
        ..Default::default()
    }
    .update(&test.db)
    .await
    .expect("expire it");
    assert_error(
        &mallory
            .send(Method::POST, &accept(&stale.to_string()), None)
            .await,
        404,
        "NOT_FOUND",
    );

    // An organization that is deleted takes its open invitations with it.
    let open = invite(&alice, &acme, json!({ "role": "member" })).await;
    let open = open.body["data"]["id"].as_str().expect("id").to_owned();
    let deleted = alice
        .send(Method::DELETE, &format!("/organizations/{acme}"), None)
        .await;
    assert_eq!(deleted.status.as_u16(), 200, "{}", deleted.body);
    assert_error(
        &mallory.send(Method::POST, &accept(&open), None).await,
        404,
        "NOT_FOUND",
    );
    test.cleanup().await;
}

/// Plain members neither issue nor read invitations.
async fn members_do_not_invite(backend: Backend) {
    let test = backend.app(app).await;
    let (alice, carol) = (Caller::new(&test, "alice"), Caller::new(&test, "carol"));
    let acme = create(&alice, "Acme").await;
    add(&alice, &acme, "carol", "member").await;
    let invitations = format!("/organizations/{acme}/invitations");
    assert_error(
        &carol.send(Method::GET, &invitations, None).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &invite(&carol, &acme, json!({ "role": "member" })).await,
        403,
        "FORBIDDEN",
    );
    test.cleanup().await;
}

#[tokio::test]
async fn invitations_on_sqlite() {
    invitations(Backend::Sqlite).await;
    members_do_not_invite(Backend::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn invitations_on_postgres() {
    invitations(Backend::Postgres).await;
    members_do_not_invite(Backend::Postgres).await;
}

/// An invitation holds only while its issuer could still make the same offer: an admin
/// removed (or an owner demoted) cannot let themselves back in by a link they kept.
#[tokio::test]
async fn an_invitation_dies_with_its_issuers_right_to_offer_it() {
    let test = Backend::Sqlite.app(app).await;
    let [alice, bob, mallory] = ["alice", "bob", "mallory"].map(|u| Caller::new(&test, u));
    let acme = create(&alice, "Acme").await;
    let bob_id = add(&alice, &acme, "bob", "admin").await;
    let link = invite(&bob, &acme, json!({ "role": "admin" })).await;
    let link = link.body["data"]["id"].as_str().expect("id").to_owned();
    let to_alt = invite(
        &bob,
        &acme,
        json!({ "user_id": "mallory", "role": "member" }),
    )
    .await;
    let to_alt = to_alt.body["data"]["id"].as_str().expect("id").to_owned();
    let removed = alice
        .send(
            Method::DELETE,
            &format!("/organizations/{acme}/members/{bob_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status.as_u16(), 200, "{}", removed.body);
    for (who, id) in [(&bob, &link), (&mallory, &to_alt)] {
        let uri = format!("/organizations/invitations/{id}/accept");
        assert_error(&who.send(Method::POST, &uri, None).await, 404, "NOT_FOUND");
    }
    assert_error(
        &bob.send(Method::GET, &format!("/organizations/{acme}"), None)
            .await,
        403,
        "ORG_ACCESS_DENIED",
    );
    test.cleanup().await;
}

/// With a role hierarchy, a role that includes `owner` is an owner's: only owners give it,
/// and it counts among the owners the last-owner rule keeps.
#[tokio::test]
async fn roles_that_include_owner_are_owners() {
    use arc_runtime::RoleHierarchy;
    let hierarchy = || RoleHierarchy::new().includes("founder", ["owner"]);
    let test = Backend::Sqlite
        .app(|db| {
            App::new(db)
                .auth(auth().role_hierarchy(hierarchy()))
                .organizations()
        })
        .await;
    let [alice, bob] = ["alice", "bob"].map(|u| Caller::new(&test, u));
    let acme = create(&alice, "Acme").await;
    add(&alice, &acme, "bob", "admin").await;
    let members = format!("/organizations/{acme}/members");
    assert_error(
        &bob.send(
            Method::POST,
            &members,
            Some(json!({ "user_id": "carol", "role": "founder" })),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &invite(&bob, &acme, json!({ "role": "founder" })).await,
        403,
        "FORBIDDEN",
    );
    // An owner's seat, by any name, goes to a named user only: Bob, who lists the
    // invitations, cannot pass its id to someone else.
    for role in ["owner", "founder"] {
        assert_error(
            &invite(&alice, &acme, json!({ "role": role })).await,
            400,
            "VALIDATION_ERROR",
        );
    }
    let named = invite(
        &alice,
        &acme,
        json!({ "role": "founder", "user_id": "dan" }),
    )
    .await;
    assert_eq!(named.status.as_u16(), 201, "{}", named.body);
    // A founder is an owner: with one, Alice may step down; the founder then may not.
    let carol_id = add(&alice, &acme, "carol", "founder").await;
    let alice_id = membership(&alice, &acme, "alice").await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let down = alice
        .send(
            Method::PATCH,
            &format!("{members}/{alice_id}"),
            Some(json!({ "role": "member" })),
        )
        .await;
    assert_eq!(down.status.as_u16(), 200, "{}", down.body);
    let carol = Caller::new(&test, "carol");
    assert_error(
        &carol
            .send(
                Method::PATCH,
                &format!("{members}/{carol_id}"),
                Some(json!({ "role": "admin" })),
            )
            .await,
        409,
        "LAST_OWNER",
    );
    test.cleanup().await;
}

/// Two owners stepping down at the same moment (PostgreSQL, each holding their own row):
/// one goes, the other hears 409 `LAST_OWNER`, never a deadlock's 500.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn owners_stepping_down_at_once_leave_one() {
    let test = Backend::Postgres.app(app).await;
    let [alice, bob] = ["alice", "bob"].map(|u| Caller::new(&test, u));
    for round in 0..5 {
        let acme = create(&alice, &format!("Acme {round}")).await;
        let bob_id = add(&alice, &acme, "bob", "owner").await;
        let members = format!("/organizations/{acme}/members");
        let alice_id = membership(&alice, &acme, "alice").await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let (a, b) = (
            format!("{members}/{alice_id}"),
            format!("{members}/{bob_id}"),
        );
        let down = json!({ "role": "member" });
        let (one, two) = tokio::join!(
            alice.send(Method::PATCH, &a, Some(down.clone())),
            bob.send(Method::DELETE, &b, None),
        );
        let mut statuses = [one.status.as_u16(), two.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{} / {}", one.body, two.body);
        let owners = test
            .scalar(&format!(
                "SELECT COUNT(*) FROM arc_memberships WHERE org_id = '{acme}' AND role = 'owner'"
            ))
            .await;
        assert_eq!(owners, 1);
    }
    // An anonymous caller whose header and path disagree hears 401 first.
    let acme = create(&alice, "Acme anonymous").await;
    let mixed = test
        .send(
            Method::GET,
            &format!("/organizations/{acme}/members"),
            None,
            &[("x-organization-id", "another")],
        )
        .await;
    assert_error(&mixed, 401, "UNAUTHORIZED");
    test.cleanup().await;
}

/// With an audit trail, every change of membership is on it: the organization's creation
/// (and its first owner), a member added, and one who joined by invitation, in the same
/// transaction as the change.
#[tokio::test]
async fn membership_changes_are_audited() {
    let test = Backend::Sqlite
        .app(|db| {
            App::new(db)
                .auth(auth())
                .audit(arc_runtime::config::Audit::new())
                .organizations()
        })
        .await;
    let [alice, dave] = ["alice", "dave"].map(|u| Caller::new(&test, u));
    let acme = create(&alice, "Acme").await;
    add(&alice, &acme, "bob", "member").await;
    let to_dave = invite(
        &alice,
        &acme,
        json!({ "user_id": "dave", "role": "member" }),
    )
    .await;
    let to_dave = to_dave.body["data"]["id"].as_str().expect("id").to_owned();
    let joined = dave
        .send(
            Method::POST,
            &format!("/organizations/invitations/{to_dave}/accept"),
            None,
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.body);
    let count = |resource: &str, action: &str| {
        format!(
            "SELECT COUNT(*) FROM arc_audit WHERE resource = '{resource}' AND action = '{action}'"
        )
    };
    assert_eq!(test.scalar(&count("organization", "create")).await, 1);
    // Bob added by Alice, Dave by his acceptance (Alice's own row comes with the
    // organization, in its transaction, not through the members' routes).
    assert_eq!(test.scalar(&count("member", "create")).await, 2);
    assert_eq!(test.scalar(&count("invitation", "create")).await, 1);
    assert_eq!(test.scalar(&count("invitation", "update")).await, 1);
    let by_dave = test
        .scalar("SELECT COUNT(*) FROM arc_audit WHERE resource = 'member' AND user_id = 'dave'")
        .await;
    assert_eq!(by_dave, 1);
    test.cleanup().await;
}

/// `App::organizations_under("/api")`: every organization route is served under `/api`
/// and nowhere else; the path's `{id}` and `{orgId}` still select the organization; the
/// `Location` of a new row, the document (every answer checked against it), the registry
/// and the routes under a version prefix say the same base.
#[tokio::test]
async fn under_a_base_path() {
    use arc_runtime::config::{VersionBy, Versioning};
    fn under(db: DatabaseConnection) -> App {
        App::new(db).auth(auth()).organizations_under("/api/")
    }
    let test = Backend::Sqlite.app(under).await;
    let [alice, bob, mallory] = ["alice", "bob", "mallory"].map(|u| Caller::new(&test, u));
    let made = alice
        .send(
            Method::POST,
            "/api/organizations",
            Some(json!({ "name": "Acme" })),
        )
        .await;
    assert_eq!(made.status.as_u16(), 201, "{}", made.body);
    let acme = made.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        made.headers["location"],
        format!("/api/organizations/{acme}")
    );
    assert_eq!(
        alice.send(Method::GET, "/organizations", None).await.status,
        404,
        "the routes live under their base only"
    );
    let one = alice
        .send(Method::GET, &format!("/api/organizations/{acme}"), None)
        .await;
    assert_eq!(one.status.as_u16(), 200, "{}", one.body);
    // `{id}` under the base still selects the organization: an outsider is refused before
    // anything, a patch of it too.
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({ "name": "Mine" }))),
    ] {
        let reply = mallory
            .send(method, &format!("/api/organizations/{acme}"), body)
            .await;
        assert_error(&reply, 403, "ORG_ACCESS_DENIED");
    }
    let added = alice
        .send(
            Method::POST,
            &format!("/api/organizations/{acme}/members"),
            Some(json!({ "user_id": "carol", "role": "member" })),
        )
        .await;
    assert_eq!(added.status.as_u16(), 201, "{}", added.body);
    assert_eq!(
        added.headers["location"],
        format!(
            "/api/organizations/{acme}/members/{}",
            added.body["data"]["id"].as_str().expect("id")
        )
    );
    let outsider = mallory
        .send(
            Method::GET,
            &format!("/api/organizations/{acme}/members"),
            None,
        )
        .await;
    assert_error(&outsider, 403, "ORG_ACCESS_DENIED");
    // Invitations: issued and answered under the base.
    let invited = alice
        .send(
            Method::POST,
            &format!("/api/organizations/{acme}/invitations"),
            Some(json!({ "user_id": "bob", "role": "admin" })),
        )
        .await;
    assert_eq!(invited.status.as_u16(), 201, "{}", invited.body);
    let invitation = invited.body["data"]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        invited.headers["location"],
        format!("/api/organizations/{acme}/invitations/{invitation}")
    );
    let old = format!("/organizations/invitations/{invitation}/accept");
    assert_eq!(bob.send(Method::POST, &old, None).await.status, 404);
    let accepted = bob
        .send(
            Method::POST,
            &format!("/api/organizations/invitations/{invitation}/accept"),
            None,
        )
        .await;
    assert_eq!(accepted.status.as_u16(), 200, "{}", accepted.body);
    let members = bob
        .send(
            Method::GET,
            &format!("/api/organizations/{acme}/members"),
            None,
        )
        .await;
    assert_eq!(members.status.as_u16(), 200, "{}", members.body);
    assert_eq!(members.body["total"], 3, "{}", members.body);
    test.cleanup().await;

    // What the app says of itself: the same paths.
    let db = arc_runtime::connect("sqlite::memory:").await.expect("db");
    let app = under(db);
    assert!(app.problems().is_empty(), "{:?}", app.problems());
    let document = app.openapi().expect("document");
    let paths: Vec<&String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .filter(|p| p.contains("organizations"))
        .collect();
    assert!(paths.len() >= 7, "{paths:?}");
    assert!(
        paths.iter().all(|p| p.starts_with("/api/organizations")),
        "{paths:?}"
    );
    for path in [
        "/api/organizations/{id}",
        "/api/organizations/{orgId}/members/{id}",
        "/api/organizations/invitations/{id}/accept",
    ] {
        assert!(document["paths"].get(path).is_some(), "{path} in {paths:?}");
    }
    let described = app.describe();
    let organization = described["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "organization"))
        .expect("described")
        .clone();
    assert_eq!(organization["path"], "/api/organizations");
    assert!(
        organization["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .all(|r| r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/organizations"))),
        "{organization}"
    );
    assert!(
        described["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .any(|r| r["path"] == "/api/organizations/invitations/{id}/reject"),
        "{described}"
    );

    // Under a version prefix too: `/v1/api/organizations`, and its `Location`.
    let versioned = Backend::Sqlite
        .app(|db| under(db).versioning(Versioning::new(VersionBy::PathPrefix, "1")))
        .await;
    let alice = Caller::new(&versioned, "alice");
    let made = alice
        .send(
            Method::POST,
            "/v1/api/organizations",
            Some(json!({ "name": "Initech" })),
        )
        .await;
    assert_eq!(made.status.as_u16(), 201, "{}", made.body);
    let initech = made.body["data"]["id"].as_str().expect("id");
    assert_eq!(
        made.headers["location"],
        format!("/v1/api/organizations/{initech}")
    );
    let mallory = Caller::new(&versioned, "mallory");
    let reply = mallory
        .send(
            Method::GET,
            &format!("/v1/api/organizations/{initech}"),
            None,
        )
        .await;
    assert_error(&reply, 403, "ORG_ACCESS_DENIED");
    // The invitations' own routes are under the version too, and documented there.
    let document = under(arc_runtime::connect("sqlite::memory:").await.expect("db"))
        .versioning(Versioning::new(VersionBy::PathPrefix, "1"))
        .openapi()
        .expect("document");
    let accept = &document["paths"]["/v1/api/organizations/invitations/{id}/accept"]["post"];
    assert_eq!(
        accept["operationId"],
        "v1_post_api_organizations_invitations__id__accept"
    );
    assert!(
        document["paths"]
            .get("/api/organizations/invitations/{id}/accept")
            .is_none()
    );
    let invited = alice
        .send(
            Method::POST,
            &format!("/v1/api/organizations/{initech}/invitations"),
            Some(json!({ "user_id": "mallory", "role": "member" })),
        )
        .await;
    assert_eq!(invited.status.as_u16(), 201, "{}", invited.body);
    let invitation = invited.body["data"]["id"].as_str().expect("id");
    let unversioned = format!("/api/organizations/invitations/{invitation}/accept");
    assert_eq!(
        mallory.send(Method::POST, &unversioned, None).await.status,
        404
    );
    let accepted = mallory
        .send(Method::POST, &format!("/v1{unversioned}"), None)
        .await;
    assert_eq!(accepted.status.as_u16(), 200, "{}", accepted.body);
    let joined = mallory
        .send(
            Method::GET,
            &format!("/v1/api/organizations/{initech}"),
            None,
        )
        .await;
    assert_eq!(joined.status.as_u16(), 200, "{}", joined.body);
    versioned.cleanup().await;
}

/// A base path that is not one keeps the app from starting, and mounts nothing (the
/// document says nothing of it); so do the routes mounted twice, and a base that starts as a
/// version's path prefix (`/v1` under `/v1` would be taken for the version alone).
#[tokio::test]
async fn a_base_path_that_is_not_one() {
    use arc_runtime::config::{VersionBy, Versioning};
    for base in ["api", "/api//x", "/{org}", "/a b"] {
        let db = arc_runtime::connect("sqlite::memory:").await.expect("db");
        let app = App::new(db).auth(auth()).organizations_under(base);
        let problems = app.problems();
        assert!(
            problems.iter().any(|p| p.contains("is not a base path")),
            "{base}: {problems:?}"
        );
        let document = app.openapi().expect("document");
        let paths = document["paths"].as_object().expect("paths");
        assert!(
            !paths.keys().any(|p| p.contains("organizations")),
            "{base}: {paths:?}"
        );
        let _router = app.into_router();
    }
    let db = arc_runtime::connect("sqlite::memory:").await.expect("db");
    let twice = App::new(db)
        .auth(auth())
        .organizations()
        .organizations_under("/api");
    assert!(
        twice.problems().iter().any(|p| p.contains("mounted twice")),
        "{:?}",
        twice.problems()
    );
    for base in ["/v1", "/v1/api"] {
        let db = arc_runtime::connect("sqlite::memory:").await.expect("db");
        let taken = App::new(db)
            .auth(auth())
            .organizations_under(base)
            .versioning(Versioning::new(VersionBy::PathPrefix, "1"));
        assert!(
            taken
                .problems()
                .iter()
                .any(|p| p.contains("version's path prefix")),
            "{base}: {:?}",
            taken.problems()
        );
    }
    let db = arc_runtime::connect("sqlite::memory:").await.expect("db");
    let fine = App::new(db)
        .auth(auth())
        .organizations_under("/v10")
        .versioning(Versioning::new(VersionBy::PathPrefix, "1"));
    assert!(fine.problems().is_empty(), "{:?}", fine.problems());
}
