//! Read hooks (`before_list`, `before_get`) that ask the database: a project is read, changed
//! and embedded by the members of its team only, as the membership table says now.

use arc_tests::notes::bearer;
use arc_tests::{TestApp, assert_error, on_both};
use axum::http::Method;
use serde_json::{Value, json};

on_both!(
    arc_tests::teams::app =>
    lists_and_counts_hold_only_the_rows_the_hook_keeps,
    a_row_the_hook_hides_is_missing_to_every_route_of_one_row,
    membership_changes_show_on_the_next_read_of_a_cached_resource,
    embeds_and_references_ask_the_targets_hook,
    a_hook_may_refuse_and_never_widens
);

struct Team {
    admin: String,
    alice: String,
    bob: String,
}

/// alice is in red, bob in blue; projects p1 and p3 are red, p2 blue.
async fn setup(app: &TestApp) -> (Team, [String; 3]) {
    let team = Team {
        admin: bearer("root", &["admin"], None, &[]),
        alice: bearer("alice", &[], None, &[]),
        bob: bearer("bob", &[], None, &[]),
    };
    for (user, name) in [("alice", "red"), ("bob", "blue")] {
        let made = as_(
            app,
            &team.admin,
            Method::POST,
            "/memberships",
            Some(json!({"user_id": user, "team": name})),
        )
        .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    let mut ids = Vec::new();
    for (name, color) in [("p1", "red"), ("p2", "blue"), ("p3", "red")] {
        let made = as_(
            app,
            &team.admin,
            Method::POST,
            "/projects",
            Some(json!({"name": name, "team": color})),
        )
        .await;
        assert_eq!(made.status, 201, "{}", made.body);
        ids.push(made.id());
    }
    let ids: [String; 3] = ids.try_into().expect("three");
    (team, ids)
}

async fn as_(
    app: &TestApp,
    token: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> arc_tests::Reply {
    app.send(method, uri, body, &[("authorization", token)])
        .await
}

async fn lists_and_counts_hold_only_the_rows_the_hook_keeps(app: &TestApp) {
    let (team, _) = setup(app).await;
    let alice = as_(app, &team.alice, Method::GET, "/projects?sort=name", None).await;
    assert_eq!(alice.status, 200, "{}", alice.body);
    assert_eq!(alice.column("name"), [json!("p1"), json!("p3")]);
    assert_eq!(alice.body["total"], 2, "the count agrees with the page");
    let one_page = as_(
        app,
        &team.alice,
        Method::GET,
        "/projects?sort=name&limit=1&page=2",
        None,
    )
    .await;
    assert_eq!(one_page.column("name"), [json!("p3")]);
    assert_eq!(one_page.body["pages"], 2);
    let filtered = as_(app, &team.alice, Method::GET, "/projects?team=blue", None).await;
    assert_eq!(
        filtered.body["total"], 0,
        "a filter cannot reach past the hook"
    );
    let bob = as_(app, &team.bob, Method::GET, "/projects", None).await;
    assert_eq!(bob.column("name"), [json!("p2")]);
    let admin = as_(app, &team.admin, Method::GET, "/projects", None).await;
    assert_eq!(admin.body["total"], 3);
    let stranger = bearer("carol", &[], None, &[]);
    let none = as_(app, &stranger, Method::GET, "/projects", None).await;
    assert_eq!(
        (none.status.as_u16(), none.body["total"].clone()),
        (200, json!(0))
    );
}

async fn a_row_the_hook_hides_is_missing_to_every_route_of_one_row(app: &TestApp) {
    let (team, [p1, p2, _]) = setup(app).await;
    let own = as_(
        app,
        &team.alice,
        Method::GET,
        &format!("/projects/{p1}"),
        None,
    )
    .await;
    assert_eq!(own.status, 200, "{}", own.body);
    let missing = format!("/projects/{}", arc_runtime::uuid::Uuid::new_v4());
    let never = as_(app, &team.alice, Method::GET, &missing, None).await;
    let hidden = as_(
        app,
        &team.alice,
        Method::GET,
        &format!("/projects/{p2}"),
        None,
    )
    .await;
    assert_error(&hidden, 404, "NOT_FOUND");
    assert_eq!(
        hidden.body["error"], never.body["error"],
        "the same answer as no row"
    );
    let patch = as_(
        app,
        &team.alice,
        Method::PATCH,
        &format!("/projects/{p2}"),
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_error(&patch, 404, "NOT_FOUND");
    let delete = as_(
        app,
        &team.alice,
        Method::DELETE,
        &format!("/projects/{p2}"),
        None,
    )
    .await;
    assert_error(&delete, 404, "NOT_FOUND");
    let bulk = as_(
        app,
        &team.alice,
        Method::PATCH,
        "/projects/bulk",
        Some(json!({"filter": {"name": {"in": ["p1", "p2", "p3"]}}, "data": {"name": "renamed"}})),
    )
    .await;
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    assert_eq!(
        bulk.body["data"]["matchedCount"], 2,
        "the blue project is not touched"
    );
    let p2_now = as_(
        app,
        &team.bob,
        Method::GET,
        &format!("/projects/{p2}"),
        None,
    )
    .await;
    assert_eq!(
        p2_now.body["data"]["name"], "p2",
        "unchanged: {}",
        p2_now.body
    );
    let bulk_delete = as_(
        app,
        &team.alice,
        Method::DELETE,
        "/projects/bulk",
        Some(json!({"filter": {"team": "blue"}})),
    )
    .await;
    assert_eq!(
        bulk_delete.body["data"]["deletedCount"]
            .as_u64()
            .unwrap_or(0),
        0,
        "{}",
        bulk_delete.body
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM projects").await, 3);
}

async fn membership_changes_show_on_the_next_read_of_a_cached_resource(app: &TestApp) {
    let (team, [_, p2, _]) = setup(app).await;
    for _ in 0..2 {
        let twice = as_(app, &team.alice, Method::GET, "/projects", None).await;
        assert_eq!(twice.body["total"], 2);
    }
    let hidden = as_(
        app,
        &team.alice,
        Method::GET,
        &format!("/projects/{p2}"),
        None,
    )
    .await;
    assert_eq!(hidden.status, 404);
    let joined = as_(
        app,
        &team.admin,
        Method::POST,
        "/memberships",
        Some(json!({"user_id": "alice", "team": "blue"})),
    )
    .await;
    assert_eq!(joined.status, 201);
    let now = as_(app, &team.alice, Method::GET, "/projects", None).await;
    assert_eq!(
        now.body["total"], 3,
        "no answer of before the change: {}",
        now.body
    );
    let seen = as_(
        app,
        &team.alice,
        Method::GET,
        &format!("/projects/{p2}"),
        None,
    )
    .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    let id = joined.id();
    let left = as_(
        app,
        &team.admin,
        Method::DELETE,
        &format!("/memberships/{id}"),
        None,
    )
    .await;
    assert_eq!(left.status, 200);
    let gone = as_(
        app,
        &team.alice,
        Method::GET,
        &format!("/projects/{p2}"),
        None,
    )
    .await;
    assert_eq!(gone.status, 404, "left the team: {}", gone.body);
    assert_eq!(
        as_(app, &team.alice, Method::GET, "/projects", None)
            .await
            .body["total"],
        2
    );
}

async fn embeds_and_references_ask_the_targets_hook(app: &TestApp) {
    let (team, [p1, p2, _]) = setup(app).await;
    let refused = as_(
        app,
        &team.alice,
        Method::POST,
        "/tasks",
        Some(json!({"title": "t", "project_id": p2})),
    )
    .await;
    assert_error(&refused, 400, "VALIDATION_ERROR");
    assert_eq!(
        refused.body["details"]["errors"][0]["keyword"], "exists",
        "{}",
        refused.body
    );
    let own = as_(
        app,
        &team.alice,
        Method::POST,
        "/tasks",
        Some(json!({"title": "a", "project_id": p1})),
    )
    .await;
    assert_eq!(own.status, 201, "{}", own.body);
    let bobs = as_(
        app,
        &team.bob,
        Method::POST,
        "/tasks",
        Some(json!({"title": "b", "project_id": p2})),
    )
    .await;
    assert_eq!(bobs.status, 201, "{}", bobs.body);
    let listed = as_(
        app,
        &team.alice,
        Method::GET,
        "/tasks?populate=project&sort=title",
        None,
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let embedded = listed.column("project");
    assert_eq!(embedded[0]["name"], "p1", "{}", listed.body);
    assert_eq!(
        embedded[1],
        json!(p2),
        "bob's project stays an id for alice"
    );
    let one = as_(
        app,
        &team.alice,
        Method::GET,
        &format!("/tasks/{}?populate=project", bobs.id()),
        None,
    )
    .await;
    assert_eq!(one.body["data"]["project"], json!(p2), "{}", one.body);
}

async fn a_hook_may_refuse_and_never_widens(app: &TestApp) {
    let (_, [p1, ..]) = setup(app).await;
    let mallory = bearer("mallory", &[], None, &[]);
    for uri in ["/projects".to_owned(), format!("/projects/{p1}")] {
        let refused = as_(app, &mallory, Method::GET, &uri, None).await;
        assert_error(&refused, 403, "FORBIDDEN");
    }
    let anonymous = app.get("/projects").await;
    assert_eq!(anonymous.status, 401, "the rule answers before the hook");
}
