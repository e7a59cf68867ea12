//! Routes of the app's own under the framework's rules (`App::route_with`): the rule before
//! the handler, the body decoded into its type with the contract's errors, rows read within
//! the caller's scope, and the route in the document (every answer here is checked against
//! it) and the registry.

use arc_tests::notes::bearer;
use arc_tests::{TestApp, assert_error, on_both};
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

on_both!(
    arc_tests::teams::app =>
    the_rule_answers_before_the_handler,
    rows_are_read_within_the_callers_scope,
    bodies_get_the_contracts_errors,
    the_document_and_the_registry_show_them
);

fn tokens() -> (String, String, String) {
    (
        bearer("root", &["admin"], None, &[]),
        bearer("alice", &[], None, &[]),
        bearer("bob", &[], None, &[]),
    )
}

/// alice is in red, bob in blue; a project and a document of each team.
async fn setup(app: &TestApp) -> [String; 4] {
    let (admin, ..) = tokens();
    let admin = app.as_(&admin);
    for (user, team) in [("alice", "red"), ("bob", "blue")] {
        let made = admin
            .post("/memberships", json!({"user_id": user, "team": team}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    let mut ids = Vec::new();
    for team in ["red", "blue"] {
        ids.push(
            admin
                .post("/projects", json!({"name": team, "team": team}))
                .await
                .id(),
        );
        ids.push(
            admin
                .post("/documents", json!({"title": team, "team": team}))
                .await
                .id(),
        );
    }
    ids.try_into().expect("four")
}

async fn the_rule_answers_before_the_handler(app: &TestApp) {
    let (admin, alice, _) = tokens();
    assert_error(&app.get("/admin/count").await, 401, "UNAUTHORIZED");
    assert_error(&app.as_(&alice).get("/admin/count").await, 403, "FORBIDDEN");
    let counted = app.as_(&admin).get("/admin/count").await;
    assert_eq!(
        (counted.status.as_u16(), &counted.body["data"]),
        (200, &json!(0))
    );
    // A route given no rule is closed to everyone.
    assert_error(&app.get("/closed").await, 401, "UNAUTHORIZED");
    assert_error(&app.as_(&admin).get("/closed").await, 403, "FORBIDDEN");
    setup(app).await;
    let teams = app.as_(&alice).get("/me/teams").await;
    assert_eq!(teams.body, json!({"success": true, "data": ["red"]}));
}

async fn rows_are_read_within_the_callers_scope(app: &TestApp) {
    let [red, red_doc, blue, blue_doc] = setup(app).await;
    let (_, alice, bob) = tokens();
    let renamed = app
        .as_(&alice)
        .post(
            &format!("/projects/{red}/rename"),
            json!({"name": "crimson"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["data"], json!({"id": red, "name": "crimson"}));
    // The project's read hook hides blue from alice: the same 404 as for no project.
    let hidden = app
        .as_(&alice)
        .post(&format!("/projects/{blue}/rename"), json!({"name": "mine"}))
        .await;
    assert_error(&hidden, 404, "NOT_FOUND");
    let missing = app
        .as_(&alice)
        .post(
            &format!("/projects/{}/rename", arc_runtime::uuid::Uuid::new_v4()),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(hidden.body["error"], missing.body["error"]);
    let by_bob = app.as_(&bob).get(&format!("/projects/{blue}")).await;
    assert_eq!(by_bob.body["data"]["name"], "blue", "unchanged");
    // The route's own rule grants rows (an asynchronous `when(..)`): it narrows `find`.
    let stamped = app
        .as_(&alice)
        .post(&format!("/documents/{red_doc}/stamp"), json!({}))
        .await;
    assert_eq!(stamped.body["data"], "stamped red", "{}", stamped.body);
    let other = app
        .as_(&alice)
        .post(&format!("/documents/{blue_doc}/stamp"), json!({}))
        .await;
    assert_error(&other, 404, "NOT_FOUND");
    let stranger = bearer("carol", &[], None, &[]);
    let refused = app
        .as_(&stranger)
        .post(&format!("/documents/{red_doc}/stamp"), json!({}))
        .await;
    assert_error(&refused, 403, "FORBIDDEN");
    let malformed = app
        .as_(&alice)
        .post("/projects/not-a-uuid/rename", json!({"name": "x"}))
        .await;
    assert_eq!(malformed.status, 404, "{}", malformed.body);
}

async fn bodies_get_the_contracts_errors(app: &TestApp) {
    let [red, ..] = setup(app).await;
    let (_, alice, _) = tokens();
    let uri = format!("/projects/{red}/rename");
    let caller = app.as_(&alice);
    for (body, what) in [
        (json!({"name": 5}), "a wrong type"),
        (json!({"name": "x", "owner": "me"}), "an unknown field"),
        (json!({}), "a missing field"),
        (json!([1]), "not an object"),
    ] {
        let reply = caller.post(&uri, body).await;
        assert_error(&reply, 400, "BAD_REQUEST");
        assert!(reply.body["error"].is_string(), "{what}: {}", reply.body);
    }
    let raw = |content_type: &str, body: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri(&uri)
            .header("authorization", &alice)
            .header("content-type", content_type)
            .body(Body::from(body))
            .expect("request")
    };
    assert_error(
        &app.raw(raw("application/json", "{\"name\":")).await,
        400,
        "BAD_REQUEST",
    );
    assert_eq!(app.raw(raw("text/plain", "name")).await.status, 415);
    let project = app.as_(&alice).get(&format!("/projects/{red}")).await;
    assert_eq!(
        project.body["data"]["name"], "red",
        "no bad body wrote anything"
    );
}

async fn the_document_and_the_registry_show_them(app: &TestApp) {
    let (admin, ..) = tokens();
    let document = app.as_(&admin).get("/_docs/openapi.json").await.body;
    let rename = &document["paths"]["/projects/{id}/rename"]["post"];
    assert_eq!(rename["x-arc-permission"], "authenticated", "{rename}");
    assert_eq!(rename["tags"], json!(["projects"]));
    let body = rename["requestBody"]["content"]["application/json"]["schema"].to_string();
    assert!(body.contains("Rename"), "{body}");
    let statuses: Vec<&String> = rename["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .collect();
    for status in ["200", "400", "401", "403", "404", "413", "415"] {
        assert!(
            statuses.iter().any(|s| *s == status),
            "{status} in {statuses:?}"
        );
    }
    let stamp = &document["paths"]["/documents/{id}/stamp"]["post"];
    assert_eq!(
        stamp["x-arc-permission"],
        "when(crate::teams::in_team_of_row)"
    );
    let count = &document["paths"]["/admin/count"]["get"];
    assert_eq!(count["tags"], json!(["app"]));
    assert!(count.get("requestBody").is_none());
    let registry = app.as_(&admin).get("/_resources").await.body;
    let routes = registry["routes"].as_array().cloned().unwrap_or_default();
    assert!(
        routes
            .iter()
            .any(|r| r["path"] == "/admin/count" && r["permission"] == "roles(admin)"),
        "{routes:?} in {registry}"
    );
}
