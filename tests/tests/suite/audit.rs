//! The audit trail: every write of an audited resource leaves its entries in the write's
//! transaction (a refused write none), hidden fields are never recorded, and `GET /_audit`
//! shows each admin what they may see (an organization's admin their organization's rows,
//! through the resource's field rules), with the list grammar; on both databases, with the
//! trail in the database (the default) and in memory.

use arc_tests::notes::{bearer, bearer_in};
use arc_tests::{Reply, TestApp, assert_error, on_both, platform_admin, shop_token};
use axum::http::Method;
use serde_json::{Value, json};

mod shop {
    use super::*;
    on_both!(
        every_write_of_an_order_is_in_the_trail,
        the_trail_is_for_admins,
        an_org_admin_never_learns_of_another_orgs_entries,
        hostile_queries_are_answered_400,
    );
}

/// Defines the dossiers' tests twice: with the trail in the app's database (`sql`, the
/// default) and in memory (`memory`), each on both databases.
macro_rules! on_both_trails {
    ($($name:ident),* $(,)?) => {
        /// The trail in the app's database.
        mod sql {
            use super::*;
            on_both!(arc_tests::dossiers::app => $($name),*);
        }
        /// The trail in memory.
        mod memory {
            use super::*;
            on_both!(arc_tests::dossiers::app_in_memory => $($name),*);
        }
    };
}

on_both_trails!(
    writes_are_recorded_and_hidden_fields_never,
    field_rules_apply_to_the_reader,
    a_refused_write_leaves_neither_row_nor_entry,
    bulk_writes_leave_an_entry_per_row,
    org_admins_see_their_orgs_rows_only,
    the_query_grammar_applies,
);

/// `GET /_audit?{query}` as `token` ("" for nobody).
async fn trail(app: &TestApp, token: &str, query: &str) -> Reply {
    app.send(
        Method::GET,
        &format!("/_audit?{query}"),
        None,
        &[("authorization", token)],
    )
    .await
}

/// The entries `token` reads with `query`, checked to be a 200 page.
async fn entries(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let reply = trail(app, token, query).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    assert_eq!(reply.body["success"], true);
    reply.body["docs"].as_array().cloned().unwrap_or_default()
}

fn strings(values: &[Value], member: &str) -> Vec<String> {
    values
        .iter()
        .map(|v| v[member].as_str().unwrap_or("<none>").to_owned())
        .collect()
}

async fn send_as(
    app: &TestApp,
    token: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> Reply {
    app.send(method, uri, body, &[("authorization", token)])
        .await
}

// ---------------------------------------------------------------------------------------
// The shop's orders (the trail in the database, the default).

/// A product of acme to order.
async fn a_product(app: &TestApp) -> String {
    let product = app
        .post("/products", json!({"name": "Audited lamp", "price": 250}))
        .await;
    assert_eq!(product.status, 201, "{}", product.body);
    product.id()
}

async fn every_write_of_an_order_is_in_the_trail(app: &TestApp) {
    let product = a_product(app).await;
    let carl = shop_token("carl", "acme", &[]);
    let ada = arc_tests::acme_admin();
    let placed = app
        .send(
            Method::POST,
            "/orders",
            Some(json!({"product_id": product, "quantity": 2})),
            &[("authorization", &carl), ("x-request-id", "req-order-1")],
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let id = placed.id();
    let uri = format!("/orders/{id}");

    let paid = send_as(
        app,
        &ada,
        Method::PATCH,
        &uri,
        Some(json!({"status": "paid"})),
    )
    .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    // The same value again changes nothing: no entry.
    let again = send_as(
        app,
        &ada,
        Method::PUT,
        &uri,
        Some(json!({"status": "paid"})),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let more = send_as(app, &ada, Method::PATCH, &uri, Some(json!({"quantity": 3}))).await;
    assert_eq!(more.status, 200, "{}", more.body);
    // Orders are never deleted: refused, and nothing recorded.
    let deleted = send_as(app, &ada, Method::DELETE, &uri, None).await;
    assert_eq!(deleted.status, 403, "{}", deleted.body);
    // A write a hook refuses (an unknown product) leaves nothing either.
    let refused = send_as(
        app,
        &carl,
        Method::POST,
        "/orders",
        Some(json!({"product_id": "00000000-0000-4000-8000-000000000000", "quantity": 1})),
    )
    .await;
    assert_error(&refused, 400, "VALIDATION_ERROR");

    let history = entries(
        app,
        &ada,
        &format!("resource=order&documentId={id}&sort=timestamp"),
    )
    .await;
    assert_eq!(
        strings(&history, "action"),
        ["create", "update", "update"],
        "{history:#?}"
    );
    let created = &history[0];
    assert_eq!(created["resource"], "order");
    assert_eq!(created["userId"], "carl", "the caller who wrote it");
    assert_eq!(created["organizationId"], "acme");
    assert_eq!(created["requestId"], "req-order-1");
    let trace = created["traceId"].as_str().expect("a trace id");
    assert!(trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(created["before"].is_null(), "nothing before a create");
    assert_eq!(created["after"]["id"], json!(id));
    assert_eq!(created["after"]["total"], 500);
    assert_eq!(created["after"]["status"], "pending");
    assert!(
        created["after"].get("updated_at").is_none(),
        "updated_at is the entry's own timestamp: {created}"
    );
    assert!(
        created["changes"]
            .as_array()
            .is_some_and(|c| c.contains(&json!("customer_id"))),
        "{created}"
    );
    let paid = &history[1];
    assert_eq!(paid["userId"], "ada");
    assert_eq!(paid["changes"], json!(["status"]));
    assert_eq!(paid["before"], json!({"status": "pending"}));
    assert_eq!(paid["after"], json!({"status": "paid"}));
    let more = &history[2];
    assert_eq!(
        more["changes"],
        json!(["quantity", "total"]),
        "the hook's total too"
    );
    assert_eq!(more["before"], json!({"quantity": 2, "total": 500}));
    assert_eq!(more["after"], json!({"quantity": 3, "total": 750}));
    let ids: std::collections::HashSet<&str> =
        history.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), 3, "each entry its own id");

    // Counted, once each.
    let metrics = metrics_text(app).await;
    let count = |action: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("arc_audit_entries_total")
                    && l.contains(&format!("action=\"{action}\""))
                    && l.contains("resource=\"order\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(count("create").as_deref(), Some("1"), "{metrics}");
    assert_eq!(count("update").as_deref(), Some("2"), "{metrics}");
}

/// The app's Prometheus text.
async fn metrics_text(app: &TestApp) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get("/_metrics")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = app
        .router
        .clone()
        .oneshot(request)
        .await
        .expect("infallible");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn the_trail_is_for_admins(app: &TestApp) {
    // Two admins of two organizations, both with no entry yet: the same bytes, yet one's
    // tag never validates the other's copy.
    let ada = arc_tests::acme_admin();
    let gus = shop_token("gus", "globex", &["admin"]);
    let empty = trail(app, &ada, "").await;
    assert_eq!(empty.body["total"], 0);
    let etag = empty.header("etag").expect("an ETag").to_owned();
    let conditional = |token: String| {
        let etag = etag.clone();
        async move {
            app.send(
                Method::GET,
                "/_audit?",
                None,
                &[("authorization", &token), ("if-none-match", &etag)],
            )
            .await
        }
    };
    assert_eq!(conditional(ada.clone()).await.status, 304);
    let theirs = conditional(gus).await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(theirs.body, empty.body);

    let product = a_product(app).await;
    let carl = shop_token("carl", "acme", &[]);
    let placed = send_as(
        app,
        &carl,
        Method::POST,
        "/orders",
        Some(json!({"product_id": product, "quantity": 1})),
    )
    .await;
    assert_eq!(placed.status, 201);

    let anonymous = trail(app, "", "").await;
    assert_error(&anonymous, 401, "UNAUTHORIZED");
    assert!(anonymous.header("www-authenticate").is_some());
    let garbage = trail(app, "Bearer not-a-token", "").await;
    assert_error(&garbage, 401, "UNAUTHORIZED");
    // A member, an editor: the trail is not theirs, even of their own orders.
    assert_error(&trail(app, &carl, "").await, 403, "FORBIDDEN");
    let editor = shop_token("eve", "acme", &["editor"]);
    assert_error(&trail(app, &editor, "").await, 403, "FORBIDDEN");
    // The refusal tells nothing of the query: a bad one is still a 403 first.
    assert_error(&trail(app, &carl, "page=abc").await, 403, "FORBIDDEN");
    // An admin of acme who is also a member of globex, reading in globex: no role there.
    let switching = arc_tests::shop_token("ada", "acme", &["admin"]);
    let in_globex = app
        .send(
            Method::GET,
            "/_audit",
            None,
            &[
                ("authorization", &switching),
                ("x-organization-id", "globex"),
            ],
        )
        .await;
    assert!(
        in_globex.status == 403,
        "not a member of globex, or no role there: {}",
        in_globex.body
    );
    // The org admin and the platform admin may.
    let page = trail(app, &ada, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("private, no-cache"));
    assert!(
        page.header("vary")
            .is_some_and(|v| v.contains("authorization"))
    );
    assert_eq!(page.body["total"], 1);
    let root = trail(app, &platform_admin(), "").await;
    assert_eq!(root.status, 200, "{}", root.body);
    assert_eq!(root.body["total"], 1);
}

async fn an_org_admin_never_learns_of_another_orgs_entries(app: &TestApp) {
    // Two orders in acme, one in globex.
    let acme_product = a_product(app).await;
    let gus = shop_token("gus", "globex", &["admin"]);
    let globex_product = send_as(
        app,
        &gus,
        Method::POST,
        "/products",
        Some(json!({"name": "Globex lamp", "price": 99})),
    )
    .await;
    let globex_product = globex_product.id();
    let ada = arc_tests::acme_admin();
    for _ in 0..2 {
        let placed = send_as(
            app,
            &ada,
            Method::POST,
            "/orders",
            Some(json!({"product_id": acme_product, "quantity": 1})),
        )
        .await;
        assert_eq!(placed.status, 201);
    }
    let theirs = send_as(
        app,
        &gus,
        Method::POST,
        "/orders",
        Some(json!({"product_id": globex_product, "quantity": 1})),
    )
    .await;
    assert_eq!(theirs.status, 201);
    let their_id = theirs.id();

    let acme = entries(app, &ada, "").await;
    assert_eq!(strings(&acme, "organizationId"), ["acme", "acme"]);
    for query in [
        "organizationId=globex".to_owned(),
        "organizationId[in]=globex,acme&organizationId[ne]=acme".to_owned(),
        "organizationId[ne]=acme".to_owned(),
        "userId=gus".to_owned(),
        format!("documentId={their_id}"),
        "resource=order&organizationId=globex&limit=1".to_owned(),
    ] {
        let reply = trail(app, &ada, &query).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(reply.body["total"], 0, "{query}: {}", reply.body);
        assert_eq!(reply.body["pages"], 0, "{query}");
        assert_eq!(reply.body["docs"], json!([]), "{query}");
    }
    // Counts and pages range over acme's entries only.
    let paged = trail(app, &ada, "limit=1&page=2").await;
    assert_eq!(paged.body["total"], 2);
    assert_eq!(paged.body["hasNext"], false);
    let globex = entries(app, &gus, "").await;
    assert_eq!(strings(&globex, "organizationId"), ["globex"]);
    let all = trail(app, &platform_admin(), "").await;
    assert_eq!(all.body["total"], 3, "the platform admin sees every org");
    let filtered = trail(app, &platform_admin(), "organizationId=globex").await;
    assert_eq!(filtered.body["total"], 1);
}

async fn hostile_queries_are_answered_400(app: &TestApp) {
    let ada = arc_tests::acme_admin();
    let long = format!("documentId={}", "x".repeat(20_000));
    let many: String = (0..80).map(|i| format!("documentId[ne]=d{i}&")).collect();
    for query in [
        "timestamp[gte]=yesterday",
        "timestamp[gte]=2024-13-45T99:00:00Z",
        "action=explode",
        "action[in]=create,explode",
        "changes=status",
        "before[exists]=true",
        "after=garbage-cursor",
        "sort=userId",
        "sort=changes",
        "sort=-timestamp,-timestamp",
        "userId[regex]=.*",
        "resource[like]=ord",
        "resource[gt]=a",
        "nonsense=1",
        "page=0",
        "page=-1",
        "page=99999999999",
        "limit=0",
        "limit=abc",
        "page=1&after=",
        "search=order",
        "select=secret",
        "select=action,-id",
        "documentId=%00",
        "documentId=%ZZ",
        "documentId=%C3%28",
        "id=not-a-uuid",
        "timestamp[exists]=maybe",
        "documentId[foo]=1",
        "documentId[=1",
        &long,
        &many,
    ] {
        let reply = trail(app, &ada, query).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
        assert_error(&reply, 400, "BAD_REQUEST");
    }
    // Injection attempts are values like any other: nothing matches.
    for query in [
        "documentId=1%27%20OR%20%271%27%3D%271",
        "organizationId=acme%27--",
        "resource=order%3B%20DROP%20TABLE%20arc_audit",
    ] {
        let reply = trail(app, &ada, query).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(reply.body["total"], 0, "{query}");
    }
    // The table is still there, with every entry the platform admin reads.
    let rows = app.scalar("SELECT COUNT(*) FROM arc_audit").await;
    assert_eq!(
        json!(rows),
        trail(app, &platform_admin(), "").await.body["total"]
    );
}

// ---------------------------------------------------------------------------------------
// Dossiers, notices and memos (the trail in the database, or in memory).

fn acme_admin() -> String {
    bearer("ada", &[], Some("acme"), &["admin"])
}

fn acme_finance_admin() -> String {
    bearer("fay", &[], Some("acme"), &["admin", "finance"])
}

fn globex_admin() -> String {
    bearer("gus", &[], Some("globex"), &["admin"])
}

fn root() -> String {
    bearer("root", &["admin"], None, &[])
}

async fn create_dossier(app: &TestApp, token: &str, body: Value) -> String {
    let created = send_as(app, token, Method::POST, "/dossiers", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.id()
}

/// The history of one row, oldest first, as `token` reads it.
async fn history(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    entries(app, token, &format!("documentId={id}&sort=timestamp")).await
}

async fn writes_are_recorded_and_hidden_fields_never(app: &TestApp) {
    let fay = acme_finance_admin();
    let id = create_dossier(
        app,
        &fay,
        json!({"title": "Merger", "secret": "s3cr3t", "budget": 100, "contact": "a@acme.test"}),
    )
    .await;
    let uri = format!("/dossiers/{id}");
    let patch = |body: Value| send_as(app, &fay, Method::PATCH, &uri, Some(body));
    assert_eq!(patch(json!({"secret": "t0p s3cr3t"})).await.status, 200);
    assert_eq!(patch(json!({"stage": "review"})).await.status, 200);
    assert_eq!(
        patch(json!({"stage": "review"})).await.status,
        200,
        "no change"
    );
    assert_eq!(
        send_as(app, &fay, Method::DELETE, &uri, None).await.status,
        200
    );
    let restored = send_as(app, &fay, Method::POST, &format!("{uri}/restore"), None).await;
    assert_eq!(restored.status, 200, "{}", restored.body);

    let all = history(app, &fay, &id).await;
    assert_eq!(
        strings(&all, "action"),
        ["create", "update", "update", "delete", "restore"],
        "{all:#?}"
    );
    let created = &all[0];
    assert_eq!(created["after"]["title"], "Merger");
    assert_eq!(created["after"]["budget"], 100);
    assert_eq!(created["after"]["secret"], "[redacted]", "{created}");
    assert!(
        created["changes"]
            .as_array()
            .unwrap()
            .contains(&json!("secret"))
    );
    let secret = &all[1];
    assert_eq!(
        secret["changes"],
        json!(["secret"]),
        "the name, not the value"
    );
    assert_eq!(secret["before"], json!({"secret": "[redacted]"}));
    assert_eq!(secret["after"], json!({"secret": "[redacted]"}));
    assert_eq!(all[2]["changes"], json!(["stage"]));
    assert_eq!(all[2]["before"], json!({"stage": ""}));
    let deleted = &all[3];
    assert_eq!(deleted["changes"], json!(["deleted_at"]), "a soft delete");
    assert!(deleted["before"]["deleted_at"].is_null());
    assert!(deleted["after"]["deleted_at"].is_string());
    let restored = &all[4];
    assert!(restored["before"]["deleted_at"].is_string());
    assert!(restored["after"]["deleted_at"].is_null());

    // The value is nowhere: not in any answer, not in the table.
    let everything = trail(app, &root(), "limit=1000").await;
    assert!(!everything.body.to_string().contains("s3cr3t"));
    let leaked = app
        .scalar(
            "SELECT COUNT(*) FROM arc_audit WHERE CAST(\"after\" AS TEXT) LIKE '%s3cr3t%' \
         OR CAST(\"before\" AS TEXT) LIKE '%s3cr3t%'",
        )
        .await;
    assert_eq!(leaked, 0);

    // A notice (every organization's), deleted for good: the whole row before.
    let root = root();
    let notice = send_as(
        app,
        &root,
        Method::POST,
        "/notices",
        Some(json!({"text": "Hi"})),
    )
    .await;
    assert_eq!(notice.status, 201, "{}", notice.body);
    let notice = notice.id();
    let gone = send_as(
        app,
        &root,
        Method::DELETE,
        &format!("/notices/{notice}"),
        None,
    )
    .await;
    assert_eq!(gone.status, 200);
    let both = history(app, &root, &notice).await;
    assert_eq!(strings(&both, "action"), ["create", "delete"]);
    assert!(both[0]["organizationId"].is_null(), "nobody's organization");
    assert!(both[1]["after"].is_null());
    assert_eq!(both[1]["before"]["text"], "Hi");
    assert_eq!(both[1]["before"]["id"], json!(notice));
}

async fn field_rules_apply_to_the_reader(app: &TestApp) {
    let fay = acme_finance_admin();
    let id = create_dossier(
        app,
        &fay,
        json!({"title": "Budget", "budget": 100, "contact": "c@acme.test"}),
    )
    .await;
    let uri = format!("/dossiers/{id}");
    let moved = send_as(app, &fay, Method::PATCH, &uri, Some(json!({"budget": 200}))).await;
    assert_eq!(moved.status, 200);

    // Fay (finance) sees the budget, as on the dossier itself.
    let hers = history(app, &fay, &id).await;
    assert_eq!(hers[0]["after"]["budget"], 100);
    assert_eq!(hers[1]["changes"], json!(["budget"]));
    assert_eq!(hers[1]["after"], json!({"budget": 200}));
    // Ada (admin, not finance) does not: not its value, not its name.
    let ada = acme_admin();
    let dossier = send_as(app, &ada, Method::GET, &uri, None).await;
    assert!(
        dossier.body["data"].get("budget").is_none(),
        "the resource's own rule"
    );
    let hers = history(app, &ada, &id).await;
    assert!(hers[0]["after"].get("budget").is_none(), "{}", hers[0]);
    assert!(
        !hers[0]["changes"]
            .as_array()
            .unwrap()
            .contains(&json!("budget"))
    );
    assert_eq!(hers[1]["changes"], json!([]));
    assert_eq!(hers[1]["after"], json!({}));
    // Nor can she find it by it: the trail's filters are its own fields.
    assert_error(&trail(app, &ada, "budget=100").await, 400, "BAD_REQUEST");
    // An intern admin sees the contact masked, as on the dossier.
    let intern = bearer("ivy", &[], Some("acme"), &["admin", "intern"]);
    let dossier = send_as(app, &intern, Method::GET, &uri, None).await;
    assert_eq!(dossier.body["data"]["contact"], "***");
    let hers = history(app, &intern, &id).await;
    assert_eq!(hers[0]["after"]["contact"], "***", "{}", hers[0]);
    // The platform admin has no finance role either.
    let all = history(app, &root(), &id).await;
    assert!(all[0]["after"].get("budget").is_none());
    assert_eq!(all[0]["after"]["contact"], "c@acme.test");
}

async fn dossiers(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM dossiers").await
}

async fn a_refused_write_leaves_neither_row_nor_entry(app: &TestApp) {
    let ada = acme_admin();
    let before = (
        dossiers(app).await,
        trail(app, &root(), "").await.body["total"].clone(),
    );
    // `after_create` refuses: the row and its entry roll back together.
    let refused = send_as(
        app,
        &ada,
        Method::POST,
        "/dossiers",
        Some(json!({"title": "fail"})),
    )
    .await;
    assert_error(&refused, 409, "CONFLICT");
    let bulk = send_as(
        app,
        &ada,
        Method::POST,
        "/dossiers/bulk",
        Some(json!({"items": [{"title": "fine"}, {"title": "fail"}]})),
    )
    .await;
    assert_error(&bulk, 409, "CONFLICT");
    let after = (
        dossiers(app).await,
        trail(app, &root(), "").await.body["total"].clone(),
    );
    assert_eq!(after, before, "no row, no entry");

    // `after_update` refuses: the row keeps its title, and has only its create entry.
    let id = create_dossier(app, &ada, json!({"title": "kept"})).await;
    let uri = format!("/dossiers/{id}");
    let update = send_as(
        app,
        &ada,
        Method::PATCH,
        &uri,
        Some(json!({"title": "fail"})),
    )
    .await;
    assert_error(&update, 409, "CONFLICT");
    let bulk = send_as(
        app,
        &ada,
        Method::PATCH,
        "/dossiers/bulk",
        Some(json!({"filter": {"title": "kept"}, "data": {"title": "fail"}})),
    )
    .await;
    assert_error(&bulk, 409, "CONFLICT");
    assert_eq!(
        send_as(app, &ada, Method::GET, &uri, None).await.body["data"]["title"],
        "kept"
    );
    assert_eq!(
        strings(&history(app, &ada, &id).await, "action"),
        ["create"]
    );

    // `after_delete` refuses: still there, no delete entry.
    let keep = create_dossier(app, &ada, json!({"title": "keep"})).await;
    let delete = send_as(
        app,
        &ada,
        Method::DELETE,
        &format!("/dossiers/{keep}"),
        None,
    )
    .await;
    assert_error(&delete, 409, "CONFLICT");
    let bulk = send_as(
        app,
        &ada,
        Method::DELETE,
        "/dossiers/bulk",
        Some(json!({"filter": {"title": "keep"}})),
    )
    .await;
    assert_error(&bulk, 409, "CONFLICT");
    assert_eq!(
        strings(&history(app, &ada, &keep).await, "action"),
        ["create"]
    );
}

async fn bulk_writes_leave_an_entry_per_row(app: &TestApp) {
    let ada = acme_admin();
    let created = app
        .send(
            Method::POST,
            "/dossiers/bulk",
            Some(json!({"items": [
                {"title": "a", "stage": "draft"},
                {"title": "b", "stage": "draft"},
                {"title": "c", "stage": "done"},
            ]})),
            &[("authorization", &ada), ("x-request-id", "bulk-1")],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let made = entries(app, &ada, "requestId=bulk-1&sort=documentId").await;
    assert_eq!(strings(&made, "action"), ["create", "create", "create"]);

    // Two rows match; one of them already has the value: one entry.
    let set = json!({"filter": {"title": {"in": ["a", "c"]}}, "data": {"stage": "done"}});
    let updated = send_as(app, &ada, Method::PATCH, "/dossiers/bulk", Some(set)).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["data"]["matchedCount"], 2);
    let changed = entries(app, &ada, "action=update").await;
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0]["before"], json!({"stage": "draft"}));
    assert_eq!(changed[0]["after"], json!({"stage": "done"}));

    let gone = send_as(
        app,
        &ada,
        Method::DELETE,
        "/dossiers/bulk",
        Some(json!({"filter": {"stage": "done"}})),
    )
    .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    assert_eq!(gone.body["data"]["deletedCount"], 2);
    let deletes = entries(app, &ada, "action=delete").await;
    assert_eq!(deletes.len(), 2);
    for entry in &deletes {
        assert_eq!(entry["changes"], json!(["deleted_at"]));
    }

    // Notices have no hooks, yet each row of a bulk delete is recorded (for good: whole rows).
    let root = root();
    let made = send_as(
        app,
        &root,
        Method::POST,
        "/notices/bulk",
        Some(json!({"items": [{"text": "x1"}, {"text": "x2"}]})),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let renamed = send_as(
        app,
        &root,
        Method::PATCH,
        "/notices/bulk",
        Some(json!({"filter": {"text": "x1"}, "data": {"text": "y1"}})),
    )
    .await;
    assert_eq!(renamed.body["data"]["modifiedCount"], 1, "{}", renamed.body);
    let gone = send_as(
        app,
        &root,
        Method::DELETE,
        "/notices/bulk",
        Some(json!({"filter": {"text": {"in": ["y1", "x2"]}}})),
    )
    .await;
    assert_eq!(gone.body["data"]["deletedCount"], 2, "{}", gone.body);
    let notices = entries(app, &root, "resource=notice&sort=timestamp,action").await;
    assert_eq!(
        strings(&notices, "action"),
        ["create", "create", "update", "delete", "delete"],
        "{notices:#?}"
    );
    assert_eq!(notices[2]["before"], json!({"text": "x1"}));
    let texts: Vec<&Value> = notices[3..].iter().map(|e| &e["before"]["text"]).collect();
    assert!(texts.contains(&&json!("y1")) && texts.contains(&&json!("x2")));

    // Memos have no hooks and are soft-deleted: one statement, after reading the rows.
    for text in ["m1", "m2", "m3"] {
        let memo = send_as(
            app,
            &ada,
            Method::POST,
            "/memos",
            Some(json!({"text": text})),
        )
        .await;
        assert_eq!(memo.status, 201, "{}", memo.body);
    }
    let set = json!({"filter": {"text": {"in": ["m1", "m2"]}}, "data": {"text": "m0"}});
    let renamed = send_as(app, &ada, Method::PATCH, "/memos/bulk", Some(set)).await;
    assert_eq!(renamed.body["data"]["modifiedCount"], 2, "{}", renamed.body);
    let filter = json!({"filter": {"text": {"in": ["m0", "m3"]}}});
    let gone = send_as(app, &ada, Method::DELETE, "/memos/bulk", Some(filter)).await;
    assert_eq!(gone.body["data"]["deletedCount"], 3, "{}", gone.body);
    let memos = entries(app, &root, "resource=memo&sort=timestamp,action").await;
    assert_eq!(
        strings(&memos, "action"),
        [
            "create", "create", "create", "update", "update", "delete", "delete", "delete"
        ],
        "{memos:#?}"
    );
    for renamed in &memos[3..5] {
        assert_eq!(renamed["changes"], json!(["text"]));
        assert_eq!(renamed["after"], json!({"text": "m0"}));
        let before = renamed["before"]["text"].as_str().unwrap();
        assert!(["m1", "m2"].contains(&before), "{renamed}");
    }
    for deleted in &memos[5..] {
        assert_eq!(deleted["changes"], json!(["deleted_at"]));
        assert!(deleted["after"]["deleted_at"].is_string(), "{deleted}");
        assert_eq!(deleted["userId"], "ada");
    }
}

async fn org_admins_see_their_orgs_rows_only(app: &TestApp) {
    let ada = acme_admin();
    let gus = globex_admin();
    let root = root();
    let ours = create_dossier(app, &ada, json!({"title": "ours"})).await;
    create_dossier(app, &gus, json!({"title": "theirs"})).await;
    let notice = send_as(
        app,
        &root,
        Method::POST,
        "/notices",
        Some(json!({"text": "all"})),
    )
    .await;
    assert_eq!(notice.status, 201);
    // Ada's own memo: memos are read by their authors alone, so the trail of memos is not
    // an organization admin's to read (it would show others' memos).
    let memo = send_as(
        app,
        &ada,
        Method::POST,
        "/memos",
        Some(json!({"text": "mine"})),
    )
    .await;
    assert_eq!(memo.status, 201, "{}", memo.body);

    let hers = entries(app, &ada, "").await;
    assert_eq!(strings(&hers, "documentId"), [ours]);
    for query in [
        "organizationId=globex",
        "resource=notice",
        "resource=memo",
        "organizationId[exists]=false",
        "resource[in]=notice,memo,dossier&organizationId[ne]=acme",
    ] {
        let reply = trail(app, &ada, query).await;
        assert_eq!(reply.status, 200, "{query}: {}", reply.body);
        assert_eq!(reply.body["total"], 0, "{query}: {}", reply.body);
    }
    let his = entries(app, &gus, "").await;
    assert_eq!(strings(&his, "organizationId"), ["globex"]);
    // A member of both, admin in acme only, reading as globex: refused.
    let both = bearer_in("ada", &[], Some("acme"), &["admin"], &["globex"]);
    let switched = app
        .send(
            Method::GET,
            "/_audit",
            None,
            &[("authorization", &both), ("x-organization-id", "globex")],
        )
        .await;
    assert_error(&switched, 403, "FORBIDDEN");
    // The platform admin: everything.
    let all = trail(app, &root, "").await;
    assert_eq!(all.body["total"], 4, "{}", all.body);
    let kinds = entries(app, &root, "sort=resource").await;
    assert_eq!(
        strings(&kinds, "resource"),
        ["dossier", "dossier", "memo", "notice"]
    );
}

async fn the_query_grammar_applies(app: &TestApp) {
    let ada = acme_admin();
    let mut ids = Vec::new();
    for title in ["one", "two", "three"] {
        ids.push(create_dossier(app, &ada, json!({"title": title})).await);
    }
    let uri = format!("/dossiers/{}", ids[0]);
    let patched = send_as(app, &ada, Method::PATCH, &uri, Some(json!({"stage": "x"}))).await;
    assert_eq!(patched.status, 200);
    let fay = acme_finance_admin();
    let by_fay = send_as(app, &fay, Method::PATCH, &uri, Some(json!({"stage": "y"}))).await;
    assert_eq!(by_fay.status, 200);

    // Newest first by default.
    let all = entries(app, &ada, "").await;
    assert_eq!(all.len(), 5);
    let times: Vec<&str> = all.iter().filter_map(|e| e["timestamp"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    let oldest = entries(app, &ada, "sort=timestamp").await;
    assert_eq!(oldest[0]["documentId"], json!(ids[0]));
    assert_eq!(oldest[0]["action"], "create");
    // Filters.
    assert_eq!(entries(app, &ada, "action=update").await.len(), 2);
    assert_eq!(entries(app, &ada, "action[ne]=update").await.len(), 3);
    assert_eq!(entries(app, &ada, "userId=fay").await.len(), 1);
    assert_eq!(entries(app, &ada, "userId[in]=fay,nobody").await.len(), 1);
    assert_eq!(entries(app, &ada, "userId[nin]=fay").await.len(), 4);
    assert_eq!(entries(app, &ada, "requestId[exists]=true").await.len(), 5);
    let one = format!("documentId[in]={},{}", ids[1], ids[2]);
    assert_eq!(entries(app, &ada, &one).await.len(), 2);
    assert_eq!(entries(app, &ada, "resource=dossier").await.len(), 5);
    let first = oldest[0]["id"].as_str().unwrap();
    assert_eq!(entries(app, &ada, &format!("id={first}")).await.len(), 1);
    // Time ranges, by the entries' own times.
    let third = oldest[2]["timestamp"].as_str().unwrap();
    let enc = |t: &str| t.replace('+', "%2B").replace(':', "%3A");
    let since = entries(app, &ada, &format!("timestamp[gte]={}", enc(third))).await;
    assert_eq!(since.len(), 3, "{third}: {since:#?}");
    let until = entries(app, &ada, &format!("timestamp[lt]={}", enc(third))).await;
    assert_eq!(until.len(), 2);
    assert_eq!(
        entries(app, &ada, "timestamp[gt]=2999-01-01T00:00:00Z")
            .await
            .len(),
        0
    );
    // Paging by number.
    let page = trail(app, &ada, "limit=2&page=2&sort=timestamp").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        (&page.body["total"], &page.body["pages"], &page.body["page"]),
        (&json!(5), &json!(3), &json!(2))
    );
    assert_eq!(
        (&page.body["hasNext"], &page.body["hasPrev"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(page.body["docs"][0]["id"], oldest[2]["id"]);
    // Keyset paging walks the same entries.
    let mut walked = Vec::new();
    let mut query = "limit=2&sort=timestamp&after=".to_owned();
    loop {
        let reply = trail(app, &ada, &query).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        walked.extend(strings(reply.body["docs"].as_array().unwrap(), "id"));
        match reply.body["next"].as_str() {
            Some(next) => query = format!("limit=2&sort=timestamp&after={next}"),
            None => break,
        }
    }
    assert_eq!(walked, strings(&oldest, "id"));
    // A selection.
    let selected = entries(app, &ada, "select=action,documentId&limit=1").await;
    let mut keys: Vec<&String> = selected[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["action", "documentId", "id"], "the id always");
}
