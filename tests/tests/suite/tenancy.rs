//! The multi_tenant and owned_by_user presets: rows stamped from the caller, scoped to the
//! active organization and to their owner (unless a bypass role), on every route.

use arc_tests::notes::{bearer, bearer_in, sign};
use arc_tests::{Reply, TestApp, assert_error, on_both};
use axum::http::Method;
use serde_json::{Value, json};

on_both!(
    arc_tests::tickets::app => stamped_and_scoped,
    organizations_are_walls,
    each_read_of_one_row_binds_its_own_caller,
    no_org_and_no_moving,
    teams_see_their_own_cards,
);

async fn as_(app: &TestApp, token: &str, method: Method, uri: &str, body: Option<Value>) -> Reply {
    app.send(method, uri, body, &[("authorization", token)])
        .await
}

async fn open(app: &TestApp, token: &str, subject: &str) -> Value {
    let reply = as_(
        app,
        token,
        Method::POST,
        "/tickets",
        Some(json!({"subject": subject})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["data"].clone()
}

async fn stamped_and_scoped(app: &TestApp) {
    let alice = bearer("alice", &[], Some("acme"), &[]);
    let bob = bearer("bob", &[], Some("acme"), &[]);
    let support = bearer("sam", &[], Some("acme"), &["support"]);
    let ticket = open(app, &alice, "printer").await;
    assert_eq!(ticket["org_id"], "acme");
    assert_eq!(ticket["reporter"], "alice");
    open(app, &bob, "laptop").await;
    let id = ticket["id"].as_str().unwrap();
    assert_eq!(
        as_(app, &alice, Method::GET, "/tickets", None)
            .await
            .column("subject"),
        [json!("printer")]
    );
    assert_eq!(
        as_(app, &support, Method::GET, "/tickets?sort=subject", None)
            .await
            .column("subject"),
        [json!("laptop"), json!("printer")]
    );
    assert_error(
        &as_(app, &bob, Method::GET, &format!("/tickets/{id}"), None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &as_(
            app,
            &bob,
            Method::PATCH,
            &format!("/tickets/{id}"),
            Some(json!({"subject": "mine now"})),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &as_(app, &bob, Method::DELETE, &format!("/tickets/{id}"), None).await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        as_(app, &bob, Method::GET, "/tickets?reporter=alice", None)
            .await
            .body["total"],
        0
    );
    assert_eq!(
        as_(
            app,
            &support,
            Method::PATCH,
            &format!("/tickets/{id}"),
            Some(json!({"subject": "fixed"}))
        )
        .await
        .status,
        200
    );
    let bulk = as_(
        app,
        &bob,
        Method::PATCH,
        "/tickets/bulk",
        Some(json!({"filter": {"subject": {"in": ["fixed", "laptop"]}}, "data": {"subject": "x"}})),
    )
    .await;
    assert_eq!(
        bulk.body["data"]["matchedCount"], 1,
        "bulk stays inside the caller's own rows"
    );
}

async fn organizations_are_walls(app: &TestApp) {
    let acme_support = bearer("sam", &[], Some("acme"), &["support"]);
    let globex_support = bearer("gus", &[], Some("globex"), &["support"]);
    let both = bearer_in("bea", &[], Some("acme"), &[], &["globex"]);
    let in_acme = open(app, &acme_support, "acme issue").await;
    open(app, &globex_support, "globex issue").await;
    assert_eq!(
        as_(app, &globex_support, Method::GET, "/tickets", None)
            .await
            .column("subject"),
        [json!("globex issue")]
    );
    assert_error(
        &as_(
            app,
            &globex_support,
            Method::GET,
            &format!("/tickets/{}", in_acme["id"].as_str().unwrap()),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    let deleted = as_(
        app,
        &globex_support,
        Method::DELETE,
        "/tickets/bulk",
        Some(json!({"filter": {"subject": {"in": ["acme issue", "globex issue"]}}})),
    )
    .await;
    assert_eq!(deleted.body["data"]["deletedCount"], 1);
    assert_eq!(
        as_(app, &acme_support, Method::GET, "/tickets", None)
            .await
            .body["total"],
        1,
        "acme's ticket survived"
    );
    // One caller in two organizations: the header picks the wall.
    let in_globex = app
        .send(
            Method::POST,
            "/tickets",
            Some(json!({"subject": "from bea"})),
            &[("authorization", &both), ("x-organization-id", "globex")],
        )
        .await;
    assert_eq!(in_globex.body["data"]["org_id"], "globex");
    let denied = app
        .send(
            Method::GET,
            "/tickets",
            None,
            &[("authorization", &both), ("x-organization-id", "initech")],
        )
        .await;
    assert_error(&denied, 403, "ORG_ACCESS_DENIED");
}

/// A read of one row by a caller narrowed to their organization (and their own rows) runs a
/// statement kept from the first caller narrowed alike: each caller's own organization and
/// user must be bound, whoever asked first.
async fn each_read_of_one_row_binds_its_own_caller(app: &TestApp) {
    let alice = bearer("alice", &[], Some("acme"), &[]);
    let bob = bearer("bob", &[], Some("acme"), &[]);
    let acme_support = bearer("sam", &[], Some("acme"), &["support"]);
    let globex_member = bearer("gwen", &[], Some("globex"), &[]);
    let globex_support = bearer("gus", &[], Some("globex"), &["support"]);
    let alices = open(app, &alice, "alice's").await;
    let bobs = open(app, &bob, "bob's").await;
    let theirs = open(app, &globex_member, "gwen's").await;
    let get = async |token: &str, ticket: &Value| {
        let uri = format!("/tickets/{}", ticket["id"].as_str().unwrap());
        as_(app, token, Method::GET, &uri, None).await.status
    };
    // Twice over, so that every caller but the first of each shape reads a kept statement.
    for round in 0..2 {
        // Narrowed to the organization and the owner.
        assert_eq!(get(&alice, &alices).await, 200, "round {round}");
        assert_eq!(get(&bob, &alices).await, 404, "round {round}");
        assert_eq!(get(&bob, &bobs).await, 200, "round {round}");
        assert_eq!(get(&globex_member, &alices).await, 404, "round {round}");
        assert_eq!(get(&globex_member, &theirs).await, 200, "round {round}");
        assert_eq!(get(&alice, &theirs).await, 404, "round {round}");
        // Narrowed to the organization alone (support sees every owner's rows).
        assert_eq!(get(&acme_support, &bobs).await, 200, "round {round}");
        assert_eq!(get(&globex_support, &bobs).await, 404, "round {round}");
        assert_eq!(get(&globex_support, &theirs).await, 200, "round {round}");
        assert_eq!(get(&acme_support, &theirs).await, 404, "round {round}");
    }
}

async fn no_org_and_no_moving(app: &TestApp) {
    let loner = bearer("lou", &[], None, &[]);
    assert_error(
        &as_(app, &loner, Method::GET, "/tickets", None).await,
        403,
        "ORG_SELECTION_REQUIRED",
    );
    assert_error(
        &as_(
            app,
            &loner,
            Method::POST,
            "/tickets",
            Some(json!({"subject": "x"})),
        )
        .await,
        403,
        "ORG_SELECTION_REQUIRED",
    );
    assert_error(&app.get("/tickets").await, 401, "UNAUTHORIZED");
    let alice = bearer("alice", &[], Some("acme"), &[]);
    let ticket = open(app, &alice, "t").await;
    let id = ticket["id"].as_str().unwrap();
    for body in [json!({"org_id": "globex"}), json!({"reporter": "bob"})] {
        let moved = as_(
            app,
            &alice,
            Method::PATCH,
            &format!("/tickets/{id}"),
            Some(body),
        )
        .await;
        assert_error(&moved, 400, "VALIDATION_ERROR");
        assert_eq!(moved.body["details"]["errors"][0]["keyword"], "readOnly");
    }
    let forged = as_(
        app,
        &alice,
        Method::POST,
        "/tickets",
        Some(json!({"subject": "s", "org_id": "globex"})),
    )
    .await;
    assert_error(&forged, 400, "VALIDATION_ERROR");
    let bulk = as_(
        app,
        &alice,
        Method::PATCH,
        "/tickets/bulk",
        Some(json!({"filter": {"subject": "t"}, "data": {"org_id": "globex"}})),
    )
    .await;
    assert_error(&bulk, 400, "VALIDATION_ERROR");
    assert_eq!(
        as_(app, &alice, Method::GET, &format!("/tickets/{id}"), None)
            .await
            .body["data"]["org_id"],
        "acme"
    );
}

fn teammate(user: &str, team: Option<&str>) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    sign(&json!({"sub": user, "org_id": "acme", "orgs": ["acme"], "team_id": team, "exp": exp}))
}

async fn teams_see_their_own_cards(app: &TestApp) {
    let red = teammate("rory", Some("red"));
    let blue = teammate("bea", Some("blue"));
    let loner = teammate("lee", None);
    let card = |team: &str, title: &str| Some(json!({"team_id": team, "title": title}));
    let reply = as_(app, &red, Method::POST, "/cards", card("red", "ship it")).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["data"]["id"].as_str().unwrap().to_owned();
    as_(app, &blue, Method::POST, "/cards", card("blue", "paint it")).await;
    assert_error(
        &as_(app, &loner, Method::POST, "/cards", card("red", "sneak")).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &as_(app, &loner, Method::GET, "/cards", None).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        as_(app, &red, Method::GET, "/cards", None)
            .await
            .column("title"),
        [json!("ship it")]
    );
    assert_eq!(
        as_(app, &blue, Method::GET, "/cards", None)
            .await
            .column("title"),
        [json!("paint it")]
    );
    let uri = format!("/cards/{id}");
    assert_error(
        &as_(app, &blue, Method::GET, &uri, None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &as_(
            app,
            &blue,
            Method::PATCH,
            &uri,
            Some(json!({"title": "mine"})),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &as_(app, &blue, Method::DELETE, &uri, None).await,
        404,
        "NOT_FOUND",
    );
    let moved = as_(
        app,
        &red,
        Method::PATCH,
        &uri,
        Some(json!({"team_id": "blue"})),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_error(
        &as_(app, &red, Method::GET, &uri, None).await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(as_(app, &blue, Method::GET, &uri, None).await.status, 200);
}

/// Reads of one row on memos: slug lookups, soft-deleted rows.
mod memos {
    use super::*;

    on_both!(arc_tests::memos::app => slug_lookups_and_deleted_rows_bind_their_own_caller);

    /// The same for slug lookups and for rows deleted since a statement was kept, on memos
    /// (soft-deleted, tenant and owner, admins see every owner's memos), an admin reading first.
    async fn slug_lookups_and_deleted_rows_bind_their_own_caller(app: &TestApp) {
        let admin = bearer("a1", &[], Some("acme"), &["admin"]);
        let m1 = bearer("m1", &[], Some("acme"), &[]);
        let m2 = bearer("m2", &[], Some("acme"), &[]);
        let g1 = bearer("g1", &[], Some("globex"), &["admin"]);
        let g2 = bearer("g2", &[], Some("globex"), &[]);
        let write = async |token: &str, method: Method, uri: &str, body: Option<Value>| {
            let reply = as_(app, token, method, uri, body).await;
            assert!(reply.status.is_success(), "{uri}: {}", reply.body);
            reply.body["data"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let create = async |token: &str, slug: &str| {
            let memo = json!({"title": slug, "slug": slug});
            write(token, Method::POST, "/memos", Some(memo)).await
        };
        let alpha = create(&m1, "alpha").await;
        let beta = create(&m2, "beta").await;
        create(&g2, "gamma").await;
        let status =
            async |token: &str, uri: &str| as_(app, token, Method::GET, uri, None).await.status;
        let expected: [(&str, &str, u16); 14] = [
            // Tenant alone first (the admin), then tenant and owner.
            (&admin, "/memos/slug/alpha", 200),
            (&g1, "/memos/slug/alpha", 404),
            (&g1, "/memos/slug/gamma", 200),
            (&m1, "/memos/slug/alpha", 200),
            (&m2, "/memos/slug/alpha", 404),
            (&g2, "/memos/slug/alpha", 404),
            (&g2, "/memos/slug/gamma", 200),
            (&m1, "/memos/slug/gamma", 404),
            (&admin, &format!("/memos/{beta}"), 200),
            (&g1, &format!("/memos/{beta}"), 404),
            (&m2, &format!("/memos/{beta}"), 200),
            (&m1, &format!("/memos/{beta}"), 404),
            (&m1, &format!("/memos/{alpha}"), 200),
            (&g2, &format!("/memos/{alpha}"), 404),
        ];
        for (token, uri, want) in &expected {
            assert_eq!(status(token, uri).await, *want, "{uri}");
        }
        // Deleted since its shape was kept: gone for its owner and for the admin alike.
        write(&m2, Method::DELETE, &format!("/memos/{beta}"), None).await;
        for token in [&m2, &admin] {
            assert_eq!(status(token, &format!("/memos/{beta}")).await, 404);
            assert_eq!(status(token, "/memos/slug/beta").await, 404);
        }
    }
}
