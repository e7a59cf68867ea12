//! `#[permissions(preset = ..)]` and the app's named rules (`rule(path)`), over HTTP on both
//! databases: each preset lets in whom it says and no one else, a listed operation beats the
//! preset, the owner preset's rows are the caller's own, and documents show the rules.

use arc_tests::notes::bearer;
use arc_tests::{TestApp, assert_error, on_both};
use axum::http::Method;
use serde_json::json;

on_both!(
    arc_tests::rulebook::app => public_read_lets_anyone_read_and_the_roles_write,
    owner_with_admin_bypass_keeps_each_caller_to_their_rows,
    read_only_and_admin_only,
    named_rules_hold_as_written,
    documents_show_the_rules,
);

async fn public_read_lets_anyone_read_and_the_roles_write(app: &TestApp) {
    let (editor, plain, admin) = (
        bearer("ed", &["editor"], None, &[]),
        bearer("pat", &[], None, &[]),
        bearer("root", &["admin"], None, &[]),
    );
    assert_error(
        &app.post("/articles", json!({"title": "x"})).await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &app.as_(&plain)
            .post("/articles", json!({"title": "x"}))
            .await,
        403,
        "FORBIDDEN",
    );
    let created = app
        .as_(&editor)
        .post("/articles", json!({"title": "hello"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.id();
    // Anyone reads, signed in or not.
    let list = app.get("/articles").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.column("title"), vec![json!("hello")]);
    assert_eq!(app.get(&format!("/articles/{id}")).await.status, 200);
    // Writing needs one of the roles; `delete = roles("admin")` beats the preset.
    assert_error(
        &app.as_(&plain)
            .patch(&format!("/articles/{id}"), json!({"title": "mine"}))
            .await,
        403,
        "FORBIDDEN",
    );
    let renamed = app
        .as_(&editor)
        .patch(&format!("/articles/{id}"), json!({"title": "hi"}))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_error(
        &app.as_(&editor).delete(&format!("/articles/{id}")).await,
        403,
        "FORBIDDEN",
    );
    // The trash and bulk routes fall to the preset's roles, not to the public reads.
    assert_error(&app.get("/articles/deleted").await, 401, "UNAUTHORIZED");
    assert_error(
        &app.as_(&plain).get("/articles/deleted").await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &app.as_(&plain)
            .post("/articles/bulk", json!({"items": [{"title": "b"}]}))
            .await,
        403,
        "FORBIDDEN",
    );
    let deleted = app.as_(&admin).delete(&format!("/articles/{id}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let trash = app.as_(&editor).get("/articles/deleted").await;
    assert_eq!(trash.status, 200, "{}", trash.body);
    assert_eq!(trash.column("id"), vec![json!(id)]);
    assert_error(
        &app.as_(&plain)
            .post(&format!("/articles/{id}/restore"), json!({}))
            .await,
        403,
        "FORBIDDEN",
    );
    let restored = app
        .as_(&editor)
        .post(&format!("/articles/{id}/restore"), json!({}))
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    let deleted = app.as_(&admin).delete(&format!("/articles/{id}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(
        app.get("/articles").await.column("id"),
        Vec::<serde_json::Value>::new()
    );
}

async fn owner_with_admin_bypass_keeps_each_caller_to_their_rows(app: &TestApp) {
    let (alice, bob, support, admin) = (
        bearer("alice", &[], None, &[]),
        bearer("bob", &[], None, &[]),
        bearer("sam", &["support"], None, &[]),
        bearer("root", &["admin"], None, &[]),
    );
    assert_error(
        &app.post("/diaries", json!({"title": "x"})).await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(&app.get("/diaries").await, 401, "UNAUTHORIZED");
    // The owner field is the server's: a caller cannot name someone else as the owner.
    let forged = app
        .as_(&alice)
        .post("/diaries", json!({"title": "forged", "user_id": "bob"}))
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    let mine = app
        .as_(&alice)
        .post("/diaries", json!({"title": "a"}))
        .await;
    assert_eq!(mine.status, 201, "{}", mine.body);
    assert_eq!(mine.body["data"]["user_id"], "alice");
    let theirs = app.as_(&bob).post("/diaries", json!({"title": "b"})).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    let (mine, theirs) = (mine.id(), theirs.id());
    // Each caller lists, reads, changes and deletes their own rows; another's is a 404.
    let list = app.as_(&alice).get("/diaries").await;
    assert_eq!(list.column("title"), vec![json!("a")], "{}", list.body);
    assert_eq!(list.body["total"], 1, "the count is of the caller's rows");
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"title": "taken"}))),
        (Method::DELETE, None),
    ] {
        assert_error(
            &app.as_(&alice)
                .send(method, &format!("/diaries/{theirs}"), body)
                .await,
            404,
            "NOT_FOUND",
        );
    }
    let renamed = app
        .as_(&alice)
        .patch(&format!("/diaries/{mine}"), json!({"title": "a2"}))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    // The owner cannot hand the row to someone else either.
    let handed = app
        .as_(&alice)
        .patch(&format!("/diaries/{mine}"), json!({"user_id": "bob"}))
        .await;
    assert_eq!(handed.status, 400, "{}", handed.body);
    // The bypass roles reach every row.
    let all = app.as_(&support).get("/diaries?sort=title").await;
    assert_eq!(all.column("title"), vec![json!("a2"), json!("b")]);
    let edited = app
        .as_(&admin)
        .patch(&format!("/diaries/{theirs}"), json!({"title": "b2"}))
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    // The other routes (trash, restore, bulk) are the bypass roles' alone.
    assert_error(
        &app.as_(&alice).get("/diaries/deleted").await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &app.as_(&alice)
            .send(
                Method::PATCH,
                "/diaries/bulk",
                Some(json!({"filter": {"title": "a2"}, "data": {"title": "z"}})),
            )
            .await,
        403,
        "FORBIDDEN",
    );
    let deleted = app.as_(&alice).delete(&format!("/diaries/{mine}")).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_error(
        &app.as_(&alice)
            .post(&format!("/diaries/{mine}/restore"), json!({}))
            .await,
        403,
        "FORBIDDEN",
    );
    for token in [&admin, &support] {
        let trash = app.as_(token).get("/diaries/deleted").await;
        assert_eq!(trash.column("title"), vec![json!("a2")], "{}", trash.body);
    }
    let bob_sees = app.as_(&bob).get("/diaries").await;
    assert_eq!(bob_sees.column("title"), vec![json!("b2")]);
}

async fn read_only_and_admin_only(app: &TestApp) {
    let (plain, ops, admin) = (
        bearer("pat", &[], None, &[]),
        bearer("olga", &["ops"], None, &[]),
        bearer("root", &["admin"], None, &[]),
    );
    // read_only: signed-in callers read; nobody writes, admins included.
    assert_error(&app.get("/rates").await, 401, "UNAUTHORIZED");
    assert_eq!(app.as_(&plain).get("/rates").await.status, 200);
    for token in [&plain, &admin] {
        assert_error(
            &app.as_(token).post("/rates", json!({"name": "x"})).await,
            403,
            "FORBIDDEN",
        );
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM rates").await,
        0,
        "nothing written"
    );
    // admin_only("ops", "admin"): every route needs one of them.
    assert_error(&app.get("/switches").await, 401, "UNAUTHORIZED");
    assert_error(&app.as_(&plain).get("/switches").await, 403, "FORBIDDEN");
    assert_error(
        &app.as_(&plain)
            .post("/switches", json!({"name": "x"}))
            .await,
        403,
        "FORBIDDEN",
    );
    let created = app
        .as_(&ops)
        .post("/switches", json!({"name": "lights"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let list = app.as_(&admin).get("/switches").await;
    assert_eq!(list.column("name"), vec![json!("lights")]);
    let gone = app
        .as_(&ops)
        .delete(&format!("/switches/{}", created.id()))
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
}

async fn named_rules_hold_as_written(app: &TestApp) {
    let (alice, bob, editor, member, admin) = (
        bearer("alice", &[], None, &[]),
        bearer("bob", &[], None, &[]),
        bearer("ed", &["editor"], None, &[]),
        bearer("mia", &[], Some("acme"), &[]),
        bearer("root", &["admin"], None, &[]),
    );
    // `list = rule(MEMBERS)`: signed in and in an organization.
    assert_error(&app.get("/drafts").await, 401, "UNAUTHORIZED");
    assert_error(&app.as_(&alice).get("/drafts").await, 403, "FORBIDDEN");
    assert_eq!(app.as_(&member).get("/drafts").await.status, 200);
    let created = app
        .as_(&admin)
        .post("/drafts", json!({"body": "one", "author_id": "alice"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.id();
    assert_eq!(
        app.as_(&member).get(&format!("/drafts/{id}")).await.status,
        200,
        "`get = rule(crate::rulebook::MEMBERS)`, by its full path"
    );
    // `update = rule(EDITOR_OR_AUTHOR)`: the author's row, or an editor.
    let by_author = app
        .as_(&alice)
        .patch(&format!("/drafts/{id}"), json!({"body": "two"}))
        .await;
    assert_eq!(by_author.status, 200, "{}", by_author.body);
    assert_error(
        &app.as_(&bob)
            .patch(&format!("/drafts/{id}"), json!({"body": "mine"}))
            .await,
        404,
        "NOT_FOUND",
    );
    let by_editor = app
        .as_(&editor)
        .patch(&format!("/drafts/{id}"), json!({"body": "three"}))
        .await;
    assert_eq!(by_editor.status, 200, "{}", by_editor.body);
    // `default = roles("admin")` covers delete.
    assert_error(
        &app.as_(&editor).delete(&format!("/drafts/{id}")).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        app.as_(&admin)
            .delete(&format!("/drafts/{id}"))
            .await
            .status,
        200
    );
}

async fn documents_show_the_rules(app: &TestApp) {
    let admin = bearer("root", &["admin"], None, &[]);
    let document = app.as_(&admin).get("/_docs/openapi.json").await.body;
    let rule =
        |path: &str, method: &str| document["paths"][path][method]["x-arc-permission"].clone();
    assert_eq!(rule("/articles", "get"), "public");
    assert_eq!(rule("/articles", "post"), "roles(editor, admin)");
    assert_eq!(rule("/articles/{id}", "delete"), "roles(admin)");
    assert_eq!(
        rule("/diaries/{id}", "patch"),
        "any(roles(admin, support), owner(user_id))"
    );
    assert_eq!(rule("/diaries", "post"), "authenticated");
    assert_eq!(rule("/rates", "post"), "deny");
    assert_eq!(rule("/drafts", "get"), "rule(MEMBERS)");
    assert_eq!(
        rule("/drafts/{id}", "get"),
        "rule(crate::rulebook::MEMBERS)"
    );
    assert_eq!(rule("/drafts/{id}", "patch"), "rule(EDITOR_OR_AUTHOR)");
}
