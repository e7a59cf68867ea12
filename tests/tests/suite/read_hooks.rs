//! Read hooks (`before_list`, `before_get`) that ask the database: a project is read, changed
//! and embedded by the members of its team only, as the membership table says now.

#![allow(
    missing_docs,
    reason = "a test fixture: its fields are named for what they are"
)]

use std::time::Duration;

use arc_runtime::prelude::*;
use arc_runtime::sea_orm::ColumnTrait;
use arc_tests::notes::bearer;
use arc_tests::{TestApp, assert_error, on_both, sse};
use serde_json::json;

on_both!(
    arc_tests::teams::app =>
    lists_and_counts_hold_only_the_rows_the_hook_keeps,
    a_row_the_hook_hides_is_missing_to_every_route_of_one_row,
    membership_changes_show_on_the_next_read_of_a_cached_resource,
    embeds_and_references_ask_the_targets_hook,
    a_hook_may_refuse_and_never_widens,
    an_asynchronous_when_grants_rows_from_the_database
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
        let made = app
            .as_(&team.admin)
            .post("/memberships", json!({"user_id": user, "team": name}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    let mut ids = Vec::new();
    for (name, color) in [("p1", "red"), ("p2", "blue"), ("p3", "red")] {
        let made = app
            .as_(&team.admin)
            .post("/projects", json!({"name": name, "team": color}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        ids.push(made.id());
    }
    let ids: [String; 3] = ids.try_into().expect("three");
    (team, ids)
}

async fn lists_and_counts_hold_only_the_rows_the_hook_keeps(app: &TestApp) {
    let (team, _) = setup(app).await;
    let alice = app.as_(&team.alice).get("/projects?sort=name").await;
    assert_eq!(alice.status, 200, "{}", alice.body);
    assert_eq!(alice.column("name"), [json!("p1"), json!("p3")]);
    assert_eq!(alice.body["total"], 2, "the count agrees with the page");
    let one_page = app
        .as_(&team.alice)
        .get("/projects?sort=name&limit=1&page=2")
        .await;
    assert_eq!(one_page.column("name"), [json!("p3")]);
    assert_eq!(one_page.body["pages"], 2);
    let filtered = app.as_(&team.alice).get("/projects?team=blue").await;
    assert_eq!(
        filtered.body["total"], 0,
        "a filter cannot reach past the hook"
    );
    let bob = app.as_(&team.bob).get("/projects").await;
    assert_eq!(bob.column("name"), [json!("p2")]);
    let admin = app.as_(&team.admin).get("/projects").await;
    assert_eq!(admin.body["total"], 3);
    let stranger = bearer("carol", &[], None, &[]);
    let none = app.as_(&stranger).get("/projects").await;
    assert_eq!(
        (none.status.as_u16(), none.body["total"].clone()),
        (200, json!(0))
    );
}

async fn a_row_the_hook_hides_is_missing_to_every_route_of_one_row(app: &TestApp) {
    let (team, [p1, p2, _]) = setup(app).await;
    let own = app.as_(&team.alice).get(&format!("/projects/{p1}")).await;
    assert_eq!(own.status, 200, "{}", own.body);
    let missing = format!("/projects/{}", arc_runtime::uuid::Uuid::new_v4());
    let never = app.as_(&team.alice).get(&missing).await;
    let hidden = app.as_(&team.alice).get(&format!("/projects/{p2}")).await;
    assert_error(&hidden, 404, "NOT_FOUND");
    assert_eq!(
        hidden.body["error"], never.body["error"],
        "the same answer as no row"
    );
    let patch = app
        .as_(&team.alice)
        .patch(&format!("/projects/{p2}"), json!({"name": "mine"}))
        .await;
    assert_error(&patch, 404, "NOT_FOUND");
    let delete = app
        .as_(&team.alice)
        .delete(&format!("/projects/{p2}"))
        .await;
    assert_error(&delete, 404, "NOT_FOUND");
    let bulk = app
        .as_(&team.alice)
        .patch(
            "/projects/bulk",
            json!({"filter": {"name": {"in": ["p1", "p2", "p3"]}}, "data": {"name": "renamed"}}),
        )
        .await;
    assert_eq!(bulk.status, 200, "{}", bulk.body);
    assert_eq!(
        bulk.body["data"]["matchedCount"], 2,
        "the blue project is not touched"
    );
    let p2_now = app.as_(&team.bob).get(&format!("/projects/{p2}")).await;
    assert_eq!(
        p2_now.body["data"]["name"], "p2",
        "unchanged: {}",
        p2_now.body
    );
    let bulk_delete = app
        .as_(&team.alice)
        .delete_with("/projects/bulk", json!({"filter": {"team": "blue"}}))
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
        let twice = app.as_(&team.alice).get("/projects").await;
        assert_eq!(twice.body["total"], 2);
    }
    let hidden = app.as_(&team.alice).get(&format!("/projects/{p2}")).await;
    assert_eq!(hidden.status, 404);
    let joined = app
        .as_(&team.admin)
        .post("/memberships", json!({"user_id": "alice", "team": "blue"}))
        .await;
    assert_eq!(joined.status, 201);
    let now = app.as_(&team.alice).get("/projects").await;
    assert_eq!(
        now.body["total"], 3,
        "no answer of before the change: {}",
        now.body
    );
    let seen = app.as_(&team.alice).get(&format!("/projects/{p2}")).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    let id = joined.id();
    let left = app
        .as_(&team.admin)
        .delete(&format!("/memberships/{id}"))
        .await;
    assert_eq!(left.status, 200);
    let gone = app.as_(&team.alice).get(&format!("/projects/{p2}")).await;
    assert_eq!(gone.status, 404, "left the team: {}", gone.body);
    assert_eq!(app.as_(&team.alice).get("/projects").await.body["total"], 2);
}

async fn embeds_and_references_ask_the_targets_hook(app: &TestApp) {
    let (team, [p1, p2, _]) = setup(app).await;
    let refused = app
        .as_(&team.alice)
        .post("/tasks", json!({"title": "t", "project_id": p2}))
        .await;
    assert_error(&refused, 400, "VALIDATION_ERROR");
    assert_eq!(
        refused.body["details"]["errors"][0]["keyword"], "exists",
        "{}",
        refused.body
    );
    let own = app
        .as_(&team.alice)
        .post("/tasks", json!({"title": "a", "project_id": p1}))
        .await;
    assert_eq!(own.status, 201, "{}", own.body);
    let bobs = app
        .as_(&team.bob)
        .post("/tasks", json!({"title": "b", "project_id": p2}))
        .await;
    assert_eq!(bobs.status, 201, "{}", bobs.body);
    let listed = app
        .as_(&team.alice)
        .get("/tasks?populate=project&sort=title")
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let embedded = listed.column("project");
    assert_eq!(embedded[0]["name"], "p1", "{}", listed.body);
    assert_eq!(
        embedded[1],
        json!(p2),
        "bob's project stays an id for alice"
    );
    let one = app
        .as_(&team.alice)
        .get(&format!("/tasks/{}?populate=project", bobs.id()))
        .await;
    assert_eq!(one.body["data"]["project"], json!(p2), "{}", one.body);
}

async fn a_hook_may_refuse_and_never_widens(app: &TestApp) {
    let (_, [p1, ..]) = setup(app).await;
    let mallory = bearer("mallory", &[], None, &[]);
    for uri in ["/projects".to_owned(), format!("/projects/{p1}")] {
        let refused = app.as_(&mallory).get(&uri).await;
        assert_error(&refused, 403, "FORBIDDEN");
    }
    let anonymous = app.get("/projects").await;
    assert_eq!(anonymous.status, 401, "the rule answers before the hook");
}

async fn an_asynchronous_when_grants_rows_from_the_database(app: &TestApp) {
    let (team, _) = setup(app).await;
    let mut ids = Vec::new();
    for (title, color) in [("d1", "red"), ("d2", "blue")] {
        let made = app
            .as_(&team.admin)
            .post("/documents", json!({"title": title, "team": color}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
        ids.push(made.id());
    }
    let (red, blue) = (&ids[0], &ids[1]);
    let alice = app.as_(&team.alice).get("/documents?sort=title").await;
    assert_eq!(alice.status, 200, "{}", alice.body);
    assert_eq!(alice.column("title"), [json!("d1")]);
    assert_eq!(alice.body["total"], 1);
    let hidden = app
        .as_(&team.alice)
        .get(&format!("/documents/{blue}"))
        .await;
    assert_error(&hidden, 404, "NOT_FOUND");
    let patch = app
        .as_(&team.alice)
        .patch(&format!("/documents/{blue}"), json!({"title": "x"}))
        .await;
    assert_error(&patch, 404, "NOT_FOUND");
    let own = app
        .as_(&team.alice)
        .patch(&format!("/documents/{red}"), json!({"title": "d1b"}))
        .await;
    assert_eq!(
        own.status, 200,
        "any(.., all(authenticated, when(..))): {}",
        own.body
    );
    let admin = app.as_(&team.admin).get("/documents").await;
    assert_eq!(admin.body["total"], 2);
    let admin_patch = app
        .as_(&team.admin)
        .patch(&format!("/documents/{blue}"), json!({"title": "d2b"}))
        .await;
    assert_eq!(admin_patch.status, 200, "{}", admin_patch.body);
    // In no team: the check refuses; anonymous: 401; a failing check: its error.
    let carol = app
        .as_(&bearer("carol", &[], None, &[]))
        .get("/documents")
        .await;
    assert_error(&carol, 403, "FORBIDDEN");
    assert_error(&app.get("/documents").await, 401, "UNAUTHORIZED");
    let mallory = app
        .as_(&bearer("mallory", &[], None, &[]))
        .get("/documents")
        .await;
    assert_error(&mallory, 403, "FORBIDDEN");
    // The table decides on the next request.
    let joined = app
        .as_(&team.admin)
        .post("/memberships", json!({"user_id": "alice", "team": "blue"}))
        .await;
    assert_eq!(joined.status, 201);
    let now = app
        .as_(&team.alice)
        .get(&format!("/documents/{blue}"))
        .await;
    assert_eq!(now.status, 200, "{}", now.body);
    let described = app.as_(&team.admin).get("/_resources").await;
    assert!(
        described
            .body
            .to_string()
            .contains("when(crate::teams::in_team_of_row)"),
        "the registry names the check: {}",
        described.body
    );
}

/// The teams app with events on.
fn with_events(db: arc_runtime::sea_orm::DatabaseConnection) -> arc_runtime::App {
    arc_tests::teams::app(db).events(arc_tests::events::fast())
}

#[tokio::test]
async fn event_streams_do_not_carry_rows_a_read_hook_hides() {
    let app = TestApp::sqlite_with(with_events).await;
    let admin = bearer("root", &["admin"], None, &[]);
    let alice = bearer("alice", &[], None, &[]);
    // alice is in red only.
    let m = app
        .as_(&admin)
        .post("/memberships", json!({"user_id": "alice", "team": "red"}))
        .await;
    assert_eq!(m.status, 201, "{}", m.body);
    let mut stream = sse::open(&app.router, "/events/stream", &[("authorization", &alice)]).await;
    assert_eq!(stream.status, 200, "{}", stream.error);
    let blue = app
        .as_(&admin)
        .post(
            "/projects",
            json!({"name": "secret-blue-plan", "team": "blue"}),
        )
        .await;
    assert_eq!(blue.status, 201, "{}", blue.body);
    let id = blue.id();
    // alice cannot read it through the routes ...
    let get = app.as_(&alice).get(&format!("/projects/{id}")).await;
    assert_eq!(get.status, 404, "{}", get.body);
    let list = app.as_(&alice).get("/projects").await;
    assert_eq!(list.body["total"], 0, "{}", list.body);
    // ... nor through the stream, which still carries what she may read (a task).
    let task = app
        .as_(&admin)
        .post("/tasks", json!({"title": "visible", "project_id": id}))
        .await;
    assert_eq!(task.status, 201, "{}", task.body);
    let seen = stream.drain(Duration::from_millis(600)).await;
    assert!(
        seen.iter()
            .any(|e| e.data["meta"]["resourceId"] == json!(task.id())),
        "the stream delivers events at all: {seen:#?}"
    );
    let leaked: Vec<_> = seen
        .iter()
        .filter(|e| e.data["meta"]["resourceId"] == json!(id))
        .collect();
    assert!(
        leaked.is_empty(),
        "alice saw a project her read hook hides: {leaked:#?}"
    );
}

/// A case file of an organization, read by the caller's desk only (a read hook).
#[resource(
    read_hooks,
    presets(audited, multi_tenant(field = "org_id")),
    query(filter = [desk])
)]
#[permissions(list = org_member, get = org_member, default = org_member)]
pub struct CaseFile {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    pub title: String,
    pub desk: String,
}

/// "ada" (org admin) works the red desk only; "root" (platform admin) every desk.
fn desks(caller: &AuthContext) -> Option<Vec<String>> {
    if caller.roles.iter().any(|r| r == "admin") {
        return None;
    }
    Some(match caller.user_id.as_deref() {
        Some("ada") => vec!["red".to_owned()],
        Some("bo") => vec!["blue".to_owned()],
        _ => Vec::new(),
    })
}

impl ReadHooks for CaseFile {
    async fn before_list(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        if let Some(d) = desks(ctx.caller) {
            rows.and(case_file_entity::Column::Desk.is_in(d));
        }
        Ok(())
    }
    async fn before_get(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        Self::before_list(ctx, rows).await
    }
}

fn case_files(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db)
        .resource::<CaseFile>()
        .auth(arc_tests::notes::auth())
}

#[tokio::test]
async fn the_audit_trail_shows_no_entry_of_rows_a_read_hook_hides() {
    let app = TestApp::sqlite_with(case_files).await;
    let bo = bearer("bo", &[], Some("acme"), &[]);
    let ada = bearer("ada", &[], Some("acme"), &["admin"]);
    let made = app
        .as_(&bo)
        .post(
            "/case-files",
            json!({"title": "blue-secret", "desk": "blue"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let id = made.id();
    let get = app.as_(&ada).get(&format!("/case-files/{id}")).await;
    assert_eq!(get.status, 404, "the hook hides it from ada: {}", get.body);
    let audit = app.as_(&ada).get("/_audit").await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let text = audit.body.to_string();
    assert!(
        !text.contains("blue-secret"),
        "ada reads the hidden row through the audit trail: {}",
        audit.body
    );
}
