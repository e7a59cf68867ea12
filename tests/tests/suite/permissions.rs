//! Permissions over HTTP: 401 for anonymous callers, 403 for the signed-in, row filters that
//! make other rows 404 and keep them out of lists, on every route, on both databases.

use arc_tests::notes::bearer;
use arc_tests::{Reply, TestApp, assert_error, on_both};
use axum::http::Method;
use serde_json::{Value, json};

on_both!(
    arc_tests::notes::app => anonymous_and_unprivileged_callers,
    owners_see_and_change_only_their_rows,
    admins_and_org_roles,
    bulk_stays_inside_the_rules,
    visible_to_hides_fields_everywhere,
    writable_by_refuses_by_name,
    redact_for_masks,
);

struct Who {
    alice: String,
    bob: String,
    reader: String,
    admin: String,
    auditor: String,
    auditor_without_org: String,
}

fn who() -> Who {
    Who {
        alice: bearer("alice", &["writer"], None, &[]),
        bob: bearer("bob", &["writer"], None, &[]),
        reader: bearer("rita", &[], None, &[]),
        admin: bearer("root", &["admin"], None, &[]),
        auditor: bearer("audrey", &[], Some("acme"), &["auditor"]),
        auditor_without_org: bearer("audrey", &["auditor"], None, &[]),
    }
}

async fn as_(app: &TestApp, token: &str, method: Method, uri: &str, body: Option<Value>) -> Reply {
    app.send(method, uri, body, &[("authorization", token)])
        .await
}

async fn create(app: &TestApp, token: &str, title: &str, owner: &str) -> String {
    let reply = as_(
        app,
        token,
        Method::POST,
        "/notes",
        Some(json!({"title": title, "owner_id": owner})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn anonymous_and_unprivileged_callers(app: &TestApp) {
    let w = who();
    assert_error(&app.get("/notes").await, 401, "UNAUTHORIZED");
    assert_eq!(
        app.get("/notes").await.header("www-authenticate"),
        Some("Bearer")
    );
    assert_error(
        &app.post("/notes", json!({"title": "x", "owner_id": "x"}))
            .await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &as_(
            app,
            &w.reader,
            Method::POST,
            "/notes",
            Some(json!({"title": "x", "owner_id": "rita"})),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let reader_list = as_(app, &w.reader, Method::GET, "/notes", None).await;
    assert_eq!(
        reader_list.status, 200,
        "an owner rule grants a (possibly empty) list"
    );
    assert_eq!(reader_list.body["total"], 0);
    let id = create(app, &w.alice, "mine", "alice").await;
    assert_error(&app.get(&format!("/notes/{id}")).await, 401, "UNAUTHORIZED");
    assert_error(
        &as_(app, &w.reader, Method::GET, &format!("/notes/{id}"), None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &as_(
            app,
            &w.alice,
            Method::POST,
            &format!("/notes/{id}/restore"),
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &app.send(
            Method::GET,
            "/notes",
            None,
            &[("authorization", "Bearer forged.token.here")],
        )
        .await,
        401,
        "UNAUTHORIZED",
    );
}

async fn owners_see_and_change_only_their_rows(app: &TestApp) {
    let w = who();
    let alices = create(app, &w.alice, "alice's", "alice").await;
    let bobs = create(app, &w.bob, "bob's", "bob").await;
    let list = as_(app, &w.alice, Method::GET, "/notes", None).await;
    assert_eq!(list.column("title"), [json!("alice's")]);
    assert_eq!(list.body["total"], 1);
    let probing = as_(app, &w.alice, Method::GET, "/notes?owner_id=bob", None).await;
    assert_eq!(
        probing.body["total"], 0,
        "a filter cannot widen the row filter"
    );
    assert_eq!(
        as_(
            app,
            &w.alice,
            Method::GET,
            &format!("/notes/{alices}"),
            None
        )
        .await
        .status,
        200
    );
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"title": "taken"}))),
        (Method::PUT, Some(json!({"title": "taken"}))),
    ] {
        let reply = as_(
            app,
            &w.alice,
            method.clone(),
            &format!("/notes/{bobs}"),
            body,
        )
        .await;
        assert_error(&reply, 404, "NOT_FOUND");
    }
    let updated = as_(
        app,
        &w.alice,
        Method::PATCH,
        &format!("/notes/{alices}"),
        Some(json!({"title": "still mine"})),
    )
    .await;
    assert_eq!(updated.status, 200);
    assert_error(
        &as_(
            app,
            &w.alice,
            Method::DELETE,
            &format!("/notes/{alices}"),
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let after = as_(app, &w.bob, Method::GET, &format!("/notes/{bobs}"), None).await;
    assert_eq!(
        after.body["data"]["title"], "bob's",
        "bob's note was never touched"
    );
    // A writer who moves their note to someone else loses it: the row filter follows the row.
    let moved = as_(
        app,
        &w.alice,
        Method::PATCH,
        &format!("/notes/{alices}"),
        Some(json!({"owner_id": "bob"})),
    )
    .await;
    assert_eq!(moved.status, 200);
    assert_error(
        &as_(
            app,
            &w.alice,
            Method::GET,
            &format!("/notes/{alices}"),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
}

async fn admins_and_org_roles(app: &TestApp) {
    let w = who();
    let a = create(app, &w.alice, "a", "alice").await;
    create(app, &w.bob, "b", "bob").await;
    assert_eq!(
        as_(app, &w.admin, Method::GET, "/notes", None).await.body["total"],
        2
    );
    assert_eq!(
        as_(
            app,
            &w.admin,
            Method::PATCH,
            &format!("/notes/{a}"),
            Some(json!({"title": "edited"}))
        )
        .await
        .status,
        200
    );
    let deleted = as_(app, &w.admin, Method::DELETE, &format!("/notes/{a}"), None).await;
    assert_eq!(deleted.status, 200);
    let audit = as_(app, &w.auditor, Method::GET, "/notes/deleted", None).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_eq!(audit.body["total"], 1);
    assert_error(
        &as_(
            app,
            &w.auditor_without_org,
            Method::GET,
            "/notes/deleted",
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &as_(app, &w.admin, Method::GET, "/notes/deleted", None).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &as_(
            app,
            &w.admin,
            Method::POST,
            &format!("/notes/{a}/restore"),
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    // `restore = when(may_restore)`: the predicate decides, whatever the roles.
    let restorer = bearer("restorer", &[], None, &[]);
    let restored = as_(
        app,
        &restorer,
        Method::POST,
        &format!("/notes/{a}/restore"),
        None,
    )
    .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert!(restored.body["data"]["deleted_at"].is_null());
}

async fn bulk_stays_inside_the_rules(app: &TestApp) {
    let w = who();
    create(app, &w.alice, "a", "alice").await;
    create(app, &w.bob, "b", "bob").await;
    let body = json!({"filter": {"title": {"in": ["a", "b"]}}, "data": {"title": "z"}});
    assert_error(
        &as_(
            app,
            &w.alice,
            Method::PATCH,
            "/notes/bulk",
            Some(body.clone()),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &as_(
            app,
            &w.alice,
            Method::POST,
            "/notes/bulk",
            Some(json!({"items": [{"title": "x", "owner_id": "alice"}]})),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &app.send(
            Method::DELETE,
            "/notes/bulk",
            Some(json!({"filter": {"title": "a"}})),
            &[],
        )
        .await,
        401,
        "UNAUTHORIZED",
    );
    let updated = as_(app, &w.admin, Method::PATCH, "/notes/bulk", Some(body)).await;
    assert_eq!(updated.body["data"]["modifiedCount"], 2);
    let created = as_(
        app,
        &w.admin,
        Method::POST,
        "/notes/bulk",
        Some(json!({"items": [{"title": "c", "owner_id": "carol"}]})),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        as_(app, &w.alice, Method::GET, "/notes", None)
            .await
            .column("title"),
        [json!("z")]
    );
}

async fn visible_to_hides_fields_everywhere(app: &TestApp) {
    let w = who();
    let id = create(app, &w.admin, "scored", "alice").await;
    let set = as_(
        app,
        &w.admin,
        Method::PATCH,
        &format!("/notes/{id}"),
        Some(json!({"score": 7})),
    )
    .await;
    assert_eq!(set.body["data"]["score"], 7);
    let mine = as_(app, &w.alice, Method::GET, &format!("/notes/{id}"), None).await;
    assert_eq!(mine.status, 200);
    assert!(mine.body["data"].get("score").is_none(), "{}", mine.body);
    let listed = as_(app, &w.alice, Method::GET, "/notes?select=-title", None).await;
    assert!(listed.body["docs"][0].get("score").is_none());
    // The field answers exactly like one that does not exist, so it cannot be probed.
    for (probe, unknown) in [
        ("select=score", "select=nope"),
        ("score=7", "nope=7"),
        ("score[gte]=1", "nope[gte]=1"),
        ("sort=score", "sort=nope"),
    ] {
        let a = as_(app, &w.alice, Method::GET, &format!("/notes?{probe}"), None).await;
        let b = as_(
            app,
            &w.alice,
            Method::GET,
            &format!("/notes?{unknown}"),
            None,
        )
        .await;
        assert_eq!(a.status, 400, "{probe}");
        assert_eq!(
            a.body["error"].as_str().unwrap().replace("score", "X"),
            b.body["error"].as_str().unwrap().replace("nope", "X")
        );
    }
    let admin = as_(
        app,
        &w.admin,
        Method::GET,
        "/notes?score[gte]=5&sort=-score&select=score",
        None,
    )
    .await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    assert_eq!(admin.column("score"), [json!(7)]);
    let bulk = as_(
        app,
        &w.admin,
        Method::PATCH,
        "/notes/bulk",
        Some(json!({"filter": {"score": 7}, "data": {"title": "t"}})),
    )
    .await;
    assert_eq!(bulk.body["data"]["matchedCount"], 1);
}

async fn writable_by_refuses_by_name(app: &TestApp) {
    let w = who();
    let refused = as_(
        app,
        &w.alice,
        Method::POST,
        "/notes",
        Some(json!({"title": "x", "owner_id": "alice", "pinned": true})),
    )
    .await;
    assert_error(&refused, 403, "FORBIDDEN");
    assert_eq!(refused.body["details"]["fields"], json!(["pinned"]));
    assert!(refused.body["error"].as_str().unwrap().contains("pinned"));
    assert_eq!(
        as_(app, &w.admin, Method::GET, "/notes", None).await.body["total"],
        0,
        "nothing was written"
    );
    let id = create(app, &w.alice, "x", "alice").await;
    let patched = as_(
        app,
        &w.alice,
        Method::PATCH,
        &format!("/notes/{id}"),
        Some(json!({"pinned": false, "title": "y"})),
    )
    .await;
    assert_error(&patched, 403, "FORBIDDEN");
    let pinned = as_(
        app,
        &w.admin,
        Method::PATCH,
        &format!("/notes/{id}"),
        Some(json!({"pinned": true})),
    )
    .await;
    assert_eq!(pinned.body["data"]["pinned"], true);
    let unchanged = as_(app, &w.alice, Method::GET, &format!("/notes/{id}"), None).await;
    assert_eq!(
        unchanged.body["data"]["title"], "x",
        "the refused patch changed nothing"
    );
}

async fn redact_for_masks(app: &TestApp) {
    let intern = bearer("ivan", &["writer", "intern"], None, &[]);
    let w = who();
    let reply = as_(
        app,
        &intern,
        Method::POST,
        "/notes",
        Some(json!({"title": "n", "owner_id": "ivan", "contact": "+1 555"})),
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(
        reply.body["data"]["contact"], "***",
        "even in the create response"
    );
    let id = reply.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        as_(app, &intern, Method::GET, "/notes", None)
            .await
            .column("contact"),
        [json!("***")]
    );
    let admin = as_(app, &w.admin, Method::GET, &format!("/notes/{id}"), None).await;
    assert_eq!(admin.body["data"]["contact"], "+1 555");
}

/// A `when(..)` rule reads as written, in the document and the registry as in the
/// expansion's route docs: the predicate's path, not a placeholder.
#[test]
fn a_when_rule_reads_as_written() {
    let meta = <arc_tests::notes::Note as arc_runtime::Resource>::META;
    assert_eq!(
        meta.permissions.restore.to_string(),
        "when(crate::notes::may_restore)"
    );
    assert_eq!(
        meta.permission(arc_runtime::Action::Restore),
        "when(crate::notes::may_restore)"
    );
}

/// The notes under a role hierarchy: `senior` ⊇ `writer`, `intern`; `superadmin` ⊇ `admin`;
/// the organization role `chief` ⊇ `auditor`. Rules and field rules count implied roles;
/// `redact_for` masks by given roles only.
mod hierarchy {
    use super::*;
    use arc_runtime::RoleHierarchy;

    fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> arc_runtime::App {
        let roles = RoleHierarchy::new()
            .includes("senior", ["writer", "intern"])
            .chain(["superadmin", "admin"])
            .includes("chief", ["auditor"]);
        arc_runtime::App::new(db)
            .resource::<arc_tests::notes::Note>()
            .auth(arc_tests::notes::auth().role_hierarchy(roles))
    }

    on_both!(super::app => implied_roles_pass_rules_but_do_not_mask);

    async fn implied_roles_pass_rules_but_do_not_mask(app: &TestApp) {
        let senior = bearer("sam", &["senior"], None, &[]);
        let intern = bearer("ivan", &["writer", "intern"], None, &[]);
        let note =
            |owner: &str| Some(json!({"title": "n", "owner_id": owner, "contact": "+1 555"}));
        // `create = roles("writer", "admin")`: the senior is a writer.
        let own = as_(app, &senior, Method::POST, "/notes", note("sam")).await;
        assert_eq!(own.status, 201, "{}", own.body);
        // An implied `intern` does not mask: the senior was not made an intern.
        assert_eq!(own.body["data"]["contact"], "+1 555");
        let given = as_(app, &intern, Method::POST, "/notes", note("ivan")).await;
        assert_eq!(given.body["data"]["contact"], "***");
        // `visible_to("admin")` and `roles("admin")` admit the superadmin, not the senior.
        let super_admin = bearer("sue", &["superadmin"], None, &[]);
        let listed = as_(
            app,
            &super_admin,
            Method::GET,
            "/notes?select=title,score",
            None,
        )
        .await;
        assert_eq!(listed.status, 200, "{}", listed.body);
        assert_eq!(listed.body["total"], 2, "admins list every note");
        let refused = as_(app, &senior, Method::GET, "/notes?select=score", None).await;
        assert_error(&refused, 400, "BAD_REQUEST");
        // `org_roles("auditor")` admits the organization's chief; a platform `chief` implies
        // a platform `auditor`, which that rule does not count.
        let chief = bearer("cat", &[], Some("acme"), &["chief"]);
        assert_eq!(
            as_(app, &chief, Method::GET, "/notes/deleted", None)
                .await
                .status,
            200
        );
        let platform_chief = bearer("cat", &["chief"], Some("acme"), &[]);
        assert_error(
            &as_(app, &platform_chief, Method::GET, "/notes/deleted", None).await,
            403,
            "FORBIDDEN",
        );
    }
}
