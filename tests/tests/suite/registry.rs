//! The registry: `/_resources` for admins only, in the `arc-describe/v1` shape, saying the
//! same as the resources' declarations.

use arc_tests::{TestApp, assert_error, platform_admin, shop_token};
use axum::http::Method;

#[tokio::test]
async fn the_registry_is_for_admins_and_describes_the_shop() {
    let app = TestApp::sqlite().await;
    let anonymous = app
        .send(Method::GET, "/_resources", None, &[("authorization", "")])
        .await;
    assert_error(&anonymous, 401, "UNAUTHORIZED");
    let carl = shop_token("carl", "acme", &[]);
    let refused = app
        .send(
            Method::GET,
            "/_resources",
            None,
            &[("authorization", carl.as_str())],
        )
        .await;
    assert_error(&refused, 403, "FORBIDDEN");
    // The registry describes the whole app: an admin of one organization is not enough.
    let org_admin = app.get("/_resources").await; // as acme's admin
    assert_error(&org_admin, 403, "FORBIDDEN");

    let root = platform_admin();
    let reply = app
        .send(
            Method::GET,
            "/_resources",
            None,
            &[("authorization", root.as_str())],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("private, no-cache"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    // Made when first asked for, once: the next answer is the same.
    let again = app
        .send(
            Method::GET,
            "/_resources",
            None,
            &[("authorization", root.as_str())],
        )
        .await;
    assert_eq!(again.body, reply.body);
    let doc = &reply.body;
    assert_eq!(doc["$schema"], "arc-describe/v1");
    assert_eq!(doc["app"]["title"], "shop");
    let names: Vec<&str> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["category", "product", "order"]);
    let product = &doc["resources"][1];
    assert_eq!(product["path"], "/products");
    assert_eq!(product["presets"]["multiTenant"], "org_id");
    assert_eq!(product["presets"]["softDelete"], "deleted_at");
    assert_eq!(product["presets"]["bulk"], true);
    assert_eq!(
        product["permissions"]["update"],
        "any(roles(admin), all(roles(editor), owner(created_by)))"
    );
    let field = |name: &str| {
        product["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no field {name}"))
            .clone()
    };
    assert_eq!(field("cost")["visibleTo"], serde_json::json!(["admin"]));
    assert_eq!(field("internal_note")["hidden"], true);
    assert_eq!(
        field("is_featured")["writableBy"],
        serde_json::json!(["admin"])
    );
    assert_eq!(field("status")["type"]["enum"][0], "draft");
    assert!(
        field("price")["filter"]
            .as_array()
            .unwrap()
            .contains(&"gte".into())
    );
    assert_eq!(product["query"]["maxLimit"], 1000);
    let routes = product["routes"].as_array().unwrap();
    let restore = routes.iter().find(|r| r["operation"] == "restore").unwrap();
    assert_eq!(restore["method"], "POST");
    assert_eq!(restore["path"], "/products/{id}/restore");
    assert_eq!(restore["preset"], "soft_delete");
    // The same document the App gives the CLI.
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    assert_eq!(&arc_tests::shop_app(db).describe(), doc);
}
