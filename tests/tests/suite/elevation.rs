//! Platform elevation on the shop: a `superadmin` acts across organizations only on the
//! requests that say so (`x-arc-scope: platform`), everyone else is refused, and each
//! elevated request is in the audit trail, with its reason, before it runs (or it does not
//! run). On both databases; every answer checked against the document.

use std::time::Duration;

use arc_tests::trails::Down;
use arc_tests::{Reply, TestApp, acme_admin, assert_error, on_both, platform_admin, shop_token};
use axum::http::Method;
use serde_json::{Value, json};

on_both!(
    elevation_is_asked_for_and_refused_to_the_rest,
    an_elevated_caller_reads_across_organizations_or_in_the_one_named,
    an_elevated_caller_writes_in_a_named_organization,
    each_elevated_request_is_in_the_trail_for_the_right_readers,
    elevated_answers_are_never_served_to_others,
);

/// `Bearer <token>` for `sue`, a platform `superadmin`, a plain member of `org` when given.
fn sue(org: Option<&str>) -> String {
    let ttl = Duration::from_secs(600);
    let secret = shop::DEV_JWT_SECRET.as_bytes();
    let token = shop::demo_token(secret, "sue", &["superadmin"], org, &[], ttl).expect("token");
    format!("Bearer {token}")
}

fn superadmin() -> String {
    sue(None)
}

fn sue_in_acme() -> String {
    sue(Some("acme"))
}

fn globex_admin() -> String {
    shop_token("gus", "globex", &["admin"])
}

/// A request as `token` with `headers` besides.
async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut all = vec![("authorization", token)];
    all.extend_from_slice(headers);
    app.send(method, uri, body, &all).await
}

/// A GET as `token` with `headers` besides.
async fn get(app: &TestApp, token: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
    send(app, token, Method::GET, uri, None, headers).await
}

const PLATFORM: (&str, &str) = ("x-arc-scope", "platform");

/// The organizations of the rows a list answered.
fn orgs(reply: &Reply) -> Vec<String> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut orgs: Vec<String> = reply
        .column("org_id")
        .iter()
        .map(|o| o.as_str().expect("org_id").to_owned())
        .collect();
    orgs.sort_unstable();
    orgs.dedup();
    orgs
}

async fn elevation_is_asked_for_and_refused_to_the_rest(app: &TestApp) {
    // The role alone elevates nothing: without the header the superadmin is in no
    // organization.
    let plain = get(app, &superadmin(), "/products", &[]).await;
    assert_error(&plain, 403, "ORG_SELECTION_REQUIRED");
    // Nobody: authenticate first, whatever the value.
    for value in ["platform", "nonsense"] {
        let anonymous = get(app, "", "/products", &[("x-arc-scope", value)]).await;
        assert_error(&anonymous, 401, "ELEVATION_AUTH_REQUIRED");
        assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    }
    // An organization's admin, a platform admin, a member: not a role that may elevate.
    for token in [
        acme_admin(),
        platform_admin(),
        shop_token("carl", "acme", &[]),
    ] {
        let refused = get(app, &token, "/products", &[PLATFORM]).await;
        assert_error(&refused, 403, "ELEVATION_FORBIDDEN");
    }
    // An org role named like the platform role is not it.
    let org_superadmin = shop_token("olga", "acme", &["superadmin"]);
    let refused = get(app, &org_superadmin, "/products", &[PLATFORM]).await;
    assert_error(&refused, 403, "ELEVATION_FORBIDDEN");
    // Bad values are 400s, never a quiet ordinary request.
    let long = "x".repeat(501);
    for headers in [
        vec![("x-arc-scope", "Platform")],
        vec![("x-arc-scope", "org")],
        vec![PLATFORM, ("x-organization-id", " ")],
        vec![PLATFORM, ("x-arc-reason", long.as_str())],
    ] {
        let bad = get(app, &superadmin(), "/products", &headers).await;
        assert_error(&bad, 400, "BAD_REQUEST");
    }
    // The refused requests left nothing in the trail.
    let trail = get(app, &platform_admin(), "/_audit?action=elevate", &[]).await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    assert_eq!(trail.body["total"], 0, "{}", trail.body);
}

async fn an_elevated_caller_reads_across_organizations_or_in_the_one_named(app: &TestApp) {
    let everywhere = get(app, &superadmin(), "/products?limit=100", &[PLATFORM]).await;
    assert_eq!(orgs(&everywhere), ["acme", "globex"]);
    // Fields shown only to admins are shown: elevation holds every role of the organization.
    assert!(
        everywhere.body["docs"][0].get("cost").is_some(),
        "{}",
        everywhere.body
    );
    let carl = send(
        app,
        &shop_token("carl", "acme", &[]),
        Method::GET,
        "/products",
        None,
        &[],
    )
    .await;
    assert_eq!(carl.status, 200, "{}", carl.body);
    assert!(carl.body["docs"][0].get("cost").is_none(), "{}", carl.body);
    let member = get(app, &acme_admin(), "/products?limit=100", &[]).await;
    let total = |reply: &Reply| reply.body["total"].as_u64().expect("total");
    let globex = get(app, &globex_admin(), "/products?limit=1", &[]).await;
    assert_eq!(total(&everywhere), total(&member) + total(&globex));

    // In one organization, whether or not the superadmin belongs to it.
    let in_globex = [PLATFORM, ("x-organization-id", "globex")];
    let named = get(app, &superadmin(), "/products?limit=100", &in_globex).await;
    assert_eq!(orgs(&named), ["globex"]);
    let acme_product = member.body["docs"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let uri = format!("/products/{acme_product}");
    let outside = get(app, &superadmin(), &uri, &in_globex).await;
    assert_error(&outside, 404, "NOT_FOUND");
    let across = get(app, &superadmin(), &uri, &[PLATFORM]).await;
    assert_eq!(across.status, 200, "{}", across.body);
    assert_eq!(across.body["data"]["org_id"], "acme");

    // A customer's own orders: elevation reads everyone's.
    let carl = shop_token("carl", "acme", &[]);
    let product = json!({"product_id": acme_product, "quantity": 1});
    let order = send(app, &carl, Method::POST, "/orders", Some(product), &[]).await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_uri = format!("/orders/{}", order.id());
    let other_member = shop_token("dora", "acme", &[]);
    let hidden = get(app, &other_member, &order_uri, &[]).await;
    assert_error(&hidden, 404, "NOT_FOUND");
    let seen = get(app, &superadmin(), &order_uri, &[PLATFORM]).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.body["data"]["customer_id"], "carl");
}

async fn an_elevated_caller_writes_in_a_named_organization(app: &TestApp) {
    let product = json!({"name": "Support kit", "price": 100, "is_featured": true});
    // Across every organization, a new row has no organization to belong to.
    let nowhere = send(
        app,
        &superadmin(),
        Method::POST,
        "/products",
        Some(product.clone()),
        &[PLATFORM],
    )
    .await;
    assert_error(&nowhere, 403, "ORG_SELECTION_REQUIRED");
    let in_globex = [PLATFORM, ("x-organization-id", "globex")];
    let created = send(
        app,
        &superadmin(),
        Method::POST,
        "/products",
        Some(product),
        &in_globex,
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["data"]["org_id"], "globex");
    // `writable_by("admin")`: elevation holds the organization's roles.
    assert_eq!(created.body["data"]["is_featured"], true);
    assert_eq!(created.body["data"]["created_by"], "sue");
    let id = created.id();
    // globex sees it; acme does not, nor may a member move it to their organization.
    let uri = format!("/products/{id}");
    let seen = get(app, &globex_admin(), &uri, &[]).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    let unseen = get(app, &acme_admin(), &uri, &[]).await;
    assert_error(&unseen, 404, "NOT_FOUND");
    // Updated across organizations; the tenant field stays the system's.
    let patch = json!({"price": 250});
    let updated = send(
        app,
        &superadmin(),
        Method::PATCH,
        &uri,
        Some(patch),
        &[PLATFORM],
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["data"]["price"], 250);
    let moved = json!({"org_id": "acme"});
    let refused = send(
        app,
        &superadmin(),
        Method::PATCH,
        &uri,
        Some(moved),
        &[PLATFORM],
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let still = get(app, &globex_admin(), &uri, &[]).await;
    assert_eq!(still.body["data"]["org_id"], "globex");
    // Deleted by the platform (`default = roles("admin")`: every role of the organization).
    let deleted = send(app, &superadmin(), Method::DELETE, &uri, None, &[PLATFORM]).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let gone = get(app, &globex_admin(), &uri, &[]).await;
    assert_error(&gone, 404, "NOT_FOUND");
}

async fn each_elevated_request_is_in_the_trail_for_the_right_readers(app: &TestApp) {
    let reason = [
        PLATFORM,
        ("x-organization-id", "globex"),
        ("x-arc-reason", "ticket 42: refund"),
    ];
    let read = get(app, &superadmin(), "/products?limit=1", &reason).await;
    assert_eq!(read.status, 200, "{}", read.body);
    let across = get(app, &superadmin(), "/orders?status=paid", &[PLATFORM]).await;
    assert_eq!(across.status, 200, "{}", across.body);
    // A request refused after elevation (not found) is on record too: it was asked.
    let missing = get(app, &superadmin(), "/nowhere", &[PLATFORM]).await;
    assert_error(&missing, 404, "NOT_FOUND");

    let everything = get(
        app,
        &platform_admin(),
        "/_audit?action=elevate&sort=timestamp",
        &[],
    )
    .await;
    assert_eq!(everything.status, 200, "{}", everything.body);
    let entries = everything.body["docs"].as_array().expect("docs").clone();
    assert_eq!(entries.len(), 3, "{}", everything.body);
    let first = &entries[0];
    assert_eq!(first["resource"], "_elevation");
    assert_eq!(first["action"], "elevate");
    assert_eq!(first["userId"], "sue");
    assert_eq!(first["organizationId"], "globex");
    assert_eq!(first["documentId"], "/products");
    assert_eq!(
        first["after"],
        json!({"method": "GET", "path": "/products", "query": "limit=1", "reason": "ticket 42: refund"})
    );
    assert!(first["requestId"].is_string(), "{first}");
    assert_eq!(entries[1]["organizationId"], Value::Null);
    assert_eq!(
        entries[1]["after"],
        json!({"method": "GET", "path": "/orders", "query": "status=paid"})
    );
    assert_eq!(entries[2]["documentId"], "/nowhere");

    // globex's admin sees what was done in globex, not what was done across all, nor in acme.
    let globex = get(app, &globex_admin(), "/_audit?action=elevate", &[]).await;
    assert_eq!(globex.status, 200, "{}", globex.body);
    assert_eq!(globex.column("documentId"), [json!("/products")]);
    let acme = get(app, &acme_admin(), "/_audit?action=elevate", &[]).await;
    assert_eq!(acme.body["total"], 0, "{}", acme.body);
}

async fn elevated_answers_are_never_served_to_others(app: &TestApp) {
    // Products are cached: the elevated answer (every organization) is not the member's.
    for _ in 0..2 {
        let everywhere = get(app, &superadmin(), "/products?limit=100", &[PLATFORM]).await;
        assert_eq!(orgs(&everywhere), ["acme", "globex"]);
        let member = get(app, &acme_admin(), "/products?limit=100", &[]).await;
        assert_eq!(orgs(&member), ["acme"]);
        // The same caller in the same organization, elevated or not, is two audiences: a
        // member of acme does not see the cost an elevated caller does.
        let sue_in_acme = sue_in_acme();
        let in_acme = [PLATFORM, ("x-organization-id", "acme")];
        let plain = get(app, &sue_in_acme, "/products?limit=5", &[]).await;
        assert_eq!(orgs(&plain), ["acme"]);
        assert!(
            plain.body["docs"][0].get("cost").is_none(),
            "{}",
            plain.body
        );
        let elevated = get(app, &sue_in_acme, "/products?limit=5", &in_acme).await;
        assert_eq!(orgs(&elevated), ["acme"]);
        assert!(
            elevated.body["docs"][0].get("cost").is_some(),
            "{}",
            elevated.body
        );
    }
    // Idempotency keys: an elevated request's key is not the plain one's.
    let product = get(app, &acme_admin(), "/products?limit=1", &[]).await;
    let product_id = product.body["docs"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let body = json!({"product_id": product_id, "quantity": 2});
    let key = ("idempotency-key", "same-key");
    let sue_in_acme = sue_in_acme();
    let plain = send(
        app,
        &sue_in_acme,
        Method::POST,
        "/orders",
        Some(body.clone()),
        &[key],
    )
    .await;
    assert_eq!(plain.status, 201, "{}", plain.body);
    let elevated = [PLATFORM, ("x-organization-id", "acme"), key];
    let other = send(
        app,
        &sue_in_acme,
        Method::POST,
        "/orders",
        Some(body),
        &elevated,
    )
    .await;
    assert_eq!(other.status, 201, "{}", other.body);
    assert_eq!(other.header("x-idempotency-replayed"), None);
    assert_ne!(other.id(), plain.id());
}

#[tokio::test]
async fn an_elevated_request_whose_entry_is_not_kept_does_not_run() {
    // A trail whose keeper is down: elevated requests must not run.
    let app = TestApp::sqlite_with(|db| {
        arc_tests::shop_app(db).audit(arc_runtime::config::Audit::new().store(Down))
    })
    .await;
    let in_acme = [PLATFORM, ("x-organization-id", "acme")];
    let product = json!({"name": "Never made", "price": 1});
    let refused = send(
        &app,
        &superadmin(),
        Method::POST,
        "/products",
        Some(product),
        &in_acme,
    )
    .await;
    assert_error(&refused, 503, "SERVICE_UNAVAILABLE");
    let made = app
        .scalar("SELECT COUNT(*) FROM products WHERE name = 'Never made'")
        .await;
    assert_eq!(made, 0);
    // Requests without elevation are not the trail's business.
    let plain = get(&app, &acme_admin(), "/products?limit=1", &[]).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
}

#[tokio::test]
async fn an_app_without_elevation_refuses_it() {
    // The tickets' app authenticates callers and lets nobody elevate.
    let app = TestApp::sqlite_with(arc_tests::tickets::app).await;
    let root = arc_tests::notes::bearer("root", &["superadmin", "admin"], None, &[]);
    let refused = get(&app, &root, "/tickets", &[PLATFORM]).await;
    assert_error(&refused, 403, "ELEVATION_FORBIDDEN");
}
