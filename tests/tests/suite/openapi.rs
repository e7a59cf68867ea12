//! The OpenAPI document of the shop: a reviewed snapshot, valid for a third-party OpenAPI 3.1
//! validator, served as built, and in step with the router: every documented operation is
//! served, every route of the router is documented, and no path answers a method the
//! document does not list.

use std::collections::BTreeSet;

use arc_tests::TestApp;
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::Value;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots/shop.openapi.json");

async fn shop() -> (arc_runtime::App, Value) {
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let app = arc_tests::shop_app(db);
    let doc = app.openapi().expect("the document builds");
    (app, doc)
}

#[tokio::test]
async fn the_document_matches_its_reviewed_snapshot() {
    let (_, doc) = shop().await;
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &text).unwrap();
    }
    let expected = std::fs::read_to_string(SNAPSHOT).expect("snapshot exists");
    assert!(
        text == expected,
        "the shop's OpenAPI document changed: review it, then UPDATE_SNAPSHOTS=1"
    );
}

#[tokio::test]
#[ignore = "needs openapi-spec-validator (.ci/run makes it)"]
async fn a_third_party_validator_accepts_it() {
    let validator =
        arc_tests::required_env("ARC_OPENAPI_VALIDATOR", "openapi-spec-validator's path");
    let (_, doc) = shop().await;
    let path = std::env::temp_dir().join(format!("shop-openapi-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let out = std::process::Command::new(&validator)
        .arg(&path)
        .output()
        .expect("run the validator");
    let _ = std::fs::remove_file(&path);
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("OK"), "{report}");

    // And it refuses a broken document, so the check can fail.
    let mut broken = doc.clone();
    broken["paths"]["/products"]["get"]["responses"] = Value::String("nope".into());
    std::fs::write(&path, serde_json::to_vec(&broken).unwrap()).unwrap();
    let out = std::process::Command::new(&validator)
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success(), "the validator accepts anything");
}

#[tokio::test]
async fn the_served_document_is_the_built_one() {
    let app = TestApp::sqlite().await;
    // Made when first asked for: requests that ask at once get the same document, and so
    // does a later one.
    let (reply, at_once) = tokio::join!(
        app.get("/_docs/openapi.json"),
        app.get("/_docs/openapi.json")
    );
    assert_eq!(reply.status, 200);
    let (_, doc) = shop().await;
    assert_eq!(reply.body, doc);
    assert_eq!(at_once.body, doc);
    assert_eq!(app.get("/_docs/openapi.json").await.body, doc);
    assert_eq!(reply.body["openapi"], "3.1.0");
    assert_eq!(reply.body["info"]["title"], "shop");
}

/// `(METHOD, path)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// A concrete path for a template: ids become a fresh UUID, slugs a word.
fn concrete(path: &str) -> String {
    path.replace("{id}", "7f8a2c3e-0000-4000-8000-000000000001")
        .replace("{slug}", "no-such-slug")
}

#[tokio::test]
async fn document_and_router_agree() {
    let (app, doc) = shop().await;
    // What the app says it serves, from the tables the router is built from.
    let mut served = BTreeSet::new();
    for meta in app.resources() {
        for route in meta.routes() {
            served.insert((route.method.to_string(), route.path));
        }
    }
    for route in app.service_routes() {
        served.insert((route.method.to_string(), route.path));
    }
    assert!(
        app.custom_routes().is_empty(),
        "the shop adds no routes of its own"
    );
    let documented = documented(&doc);
    assert_eq!(documented, served, "document vs. route table");

    // And what the router really does: each documented operation reaches a handler (not the
    // 404 or 405 fallback), and every other method on a documented path is a 405.
    let app = TestApp::sqlite().await;
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for path in paths {
        for method in &methods {
            let mut request = Request::builder().method(method).uri(concrete(path));
            if *method != Method::GET {
                request = request.header("content-type", "application/json");
            }
            let body = if *method == Method::GET {
                Body::empty()
            } else {
                Body::from("{}")
            };
            if *method == Method::GET
                && doc["paths"][path.as_str()]["get"]["responses"]["200"]["content"]
                    .get("text/event-stream")
                    .is_some()
            {
                // A stream never ends: open it, see that it is one, and let it go.
                let auth: Vec<(&str, &str)> = app
                    .default_headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let stream = arc_tests::sse::open(&app.router, &concrete(path), &auth).await;
                assert_eq!(stream.status, 200, "GET {path}: {}", stream.error);
                assert!(stream.content_type.starts_with("text/event-stream"));
                continue;
            }
            let reply = app.raw(request.body(body).unwrap()).await;
            let is_documented = documented.contains(&(method.to_string(), path.clone()));
            let fallback = reply.body["error"] == "Route not found";
            if is_documented {
                assert!(
                    reply.status != 405 && !fallback,
                    "{method} {path} is documented but not served: {} {}",
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(
                    reply.status, 405,
                    "{method} {path} is served but not documented: {}",
                    reply.body
                );
            }
        }
    }
}

/// Whether `schema` (its `$ref`s resolved in `doc`) admits JSON `null`.
fn allows_null(doc: &Value, schema: &Value) -> bool {
    if let Some(target) = schema["$ref"].as_str() {
        let target = doc
            .pointer(target.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {target}"));
        if !allows_null(doc, target) {
            return false;
        }
    }
    let typed = match &schema["type"] {
        Value::String(t) => t == "null",
        Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => true,
    };
    let enumerated = schema["enum"]
        .as_array()
        .is_none_or(|values| values.contains(&Value::Null));
    let constant = schema.get("const").is_none_or(Value::is_null);
    let any = ["anyOf", "oneOf"].iter().all(|k| {
        schema[*k]
            .as_array()
            .is_none_or(|branches| branches.iter().any(|b| allows_null(doc, b)))
    });
    typed && enumerated && constant && any
}

/// The fields of the create or patch body of `resource`, as the document describes them.
fn body_properties(doc: &Value, component: &str) -> Vec<(String, bool)> {
    let schema = &doc["components"]["schemas"][component];
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{component} has properties"))
        .iter()
        .map(|(name, property)| (name.clone(), allows_null(doc, property)))
        .collect()
}

/// `null` for a body field: the document allows it exactly where the server's decoder accepts
/// it (nullable fields; `null` there means "set null"). Both databases.
#[tokio::test]
async fn null_in_a_body_is_allowed_by_the_document_exactly_where_the_server_takes_it() {
    null_in_bodies(&TestApp::sqlite().await).await;
}

/// The same on PostgreSQL.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn null_in_a_body_is_allowed_by_the_document_exactly_where_postgres_takes_it() {
    let app = TestApp::postgres().await;
    null_in_bodies(&app).await;
    app.cleanup().await;
}

async fn null_in_bodies(app: &TestApp) {
    let doc = app.get("/_docs/openapi.json").await.body;
    let product = app.get("/products?limit=1").await.column("id")[0].clone();
    let product = product.as_str().unwrap().to_owned();
    let category = app.get("/categories?limit=1").await.column("id")[0].clone();
    let category = category.as_str().unwrap().to_owned();
    let order = app
        .post(
            "/orders",
            serde_json::json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order = order.body["data"]["id"].as_str().unwrap().to_owned();
    let cases: [(&str, &str, String, Value); 6] = [
        (
            "ProductCreate",
            "POST",
            "/products".into(),
            serde_json::json!({"name": "n", "price": 1}),
        ),
        (
            "ProductPatch",
            "PATCH",
            format!("/products/{product}"),
            serde_json::json!({}),
        ),
        (
            "CategoryCreate",
            "POST",
            "/categories".into(),
            serde_json::json!({"name": "n", "slug": "null-check"}),
        ),
        (
            "CategoryPatch",
            "PATCH",
            format!("/categories/{category}"),
            serde_json::json!({}),
        ),
        (
            "OrderCreate",
            "POST",
            "/orders".into(),
            serde_json::json!({"product_id": product, "quantity": 1}),
        ),
        (
            "OrderPatch",
            "PATCH",
            format!("/orders/{order}"),
            serde_json::json!({}),
        ),
    ];
    let mut wrong = Vec::new();
    // Categories are shared by every organization: only a platform admin writes them.
    let root = arc_tests::platform_admin();
    for (component, method, path, base) in cases {
        let headers: &[(&str, &str)] = if path.starts_with("/categories") {
            &[("authorization", root.as_str())]
        } else {
            &[]
        };
        for (field, documented) in body_properties(&doc, component) {
            let mut body = base.clone();
            body[&field] = Value::Null;
            let reply = app
                .send(method.parse().unwrap(), &path, Some(body.clone()), headers)
                .await;
            let refused_null = reply.status == 400
                && reply.body["details"]["errors"]
                    .as_array()
                    .is_some_and(|errors| {
                        errors
                            .iter()
                            .any(|e| e["field"] == field.as_str() && e["keyword"] == "type")
                    });
            if documented == refused_null {
                wrong.push(format!(
                    "{component}.{field}: document allows null: {documented}, \
                     {method} {path} answers {} {}",
                    reply.status, reply.body
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}: {wrong:#?}", app.backend);
}

/// The venv's Python (with `jsonschema`), which `.ci/run` makes.
fn ci_python() -> String {
    arc_tests::required_env("ARC_CI_PYTHON", "a Python with jsonschema")
}

/// One answer: the operation (method and the document's path template) and what came back.
fn sample(method: &str, template: &str, reply: &arc_tests::Reply) -> Value {
    serde_json::json!({
        "method": method,
        "path": template,
        "status": reply.status.as_u16(),
        "body": reply.body,
    })
}

/// What the black-box suites rely on: every answer of a representative request (each kind of
/// page, a projection, one row, each write, each error status) is one the document lists for its operation,
/// and its body is valid under the document's schema for that status. Validated by a
/// third-party JSON Schema validator (Python `jsonschema`, in the venv `.ci/run` makes).
#[tokio::test]
#[ignore = "needs a Python with jsonschema (.ci/run makes it)"]
async fn the_documented_answers_are_the_served_ones() {
    let python = ci_python();
    let app = TestApp::sqlite().await;
    let doc = app.get("/_docs/openapi.json").await.body;
    let member = arc_tests::shop_token("carl", "acme", &[]);
    let anonymous: &[(&str, &str)] = &[("authorization", "")];
    let json = |v: Value| Some(v);
    let mut samples = Vec::new();
    let mut check = |method: &str, template: &str, reply: arc_tests::Reply| {
        samples.push(sample(method, template, &reply));
        reply
    };
    use serde_json::json;

    // Reads: a page, a keyset page, one row, by slug, a tree, children.
    let page = check("GET", "/products", app.get("/products?limit=2").await);
    assert_eq!(page.status, 200);
    check(
        "GET",
        "/products",
        app.get("/products?after=&limit=2").await,
    );
    let selected = app.get("/products?select=id,price&limit=2").await;
    let row = selected.body["docs"][0].as_object().map(|row| row.len());
    assert_eq!(row, Some(2), "{}", selected.body);
    check("GET", "/products", selected);
    check(
        "GET",
        "/categories",
        app.get("/categories?select=-slug").await,
    );
    let first = page.column("id")[0].as_str().unwrap().to_owned();
    let one = format!("/products/{first}");
    check("GET", "/products/{id}", app.get(&one).await);
    check("GET", "/categories", app.get("/categories").await);
    check("GET", "/categories/tree", app.get("/categories/tree").await);
    let category = app.get("/categories?limit=1").await.column("id")[0].clone();
    let children = format!("/categories/{}/children", category.as_str().unwrap());
    check("GET", "/categories/{id}/children", app.get(&children).await);

    // Writes: create, by slug, patch, put, delete, the deleted list, restore.
    let body = json!({"name": "Sampled", "price": 100, "slug": "sampled"});
    let created = check(
        "POST",
        "/products",
        app.post("/products", body.clone()).await,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let row = format!("/products/{id}");
    check(
        "GET",
        "/products/slug/{slug}",
        app.get("/products/slug/sampled").await,
    );
    check(
        "PATCH",
        "/products/{id}",
        app.patch(&row, json!({"price": 200})).await,
    );
    let put = app.send(Method::PUT, &row, json(json!({"price": 300})), &[]);
    check("PUT", "/products/{id}", put.await);
    check("DELETE", "/products/{id}", app.delete(&row).await);
    check(
        "GET",
        "/products/deleted",
        app.get("/products/deleted").await,
    );
    let restore = format!("{row}/restore");
    check(
        "POST",
        "/products/{id}/restore",
        app.post(&restore, json!({})).await,
    );
    let items = json!({"items": [{"name": "Bulk", "price": 1}]});
    check(
        "POST",
        "/products/bulk",
        app.post("/products/bulk", items).await,
    );
    let bulk = json!({"filter": {"name": "Bulk"}, "data": {"price": 2}});
    check(
        "PATCH",
        "/products/bulk",
        app.patch("/products/bulk", bulk).await,
    );
    let bulk = json(json!({"filter": {"name": "Bulk"}}));
    let deleted = app.send(Method::DELETE, "/products/bulk", bulk, &[]);
    check("DELETE", "/products/bulk", deleted.await);
    let order = json!({"product_id": first, "quantity": 2});
    let order = check("POST", "/orders", app.post("/orders", order).await);
    let order = format!("/orders/{}", order.body["data"]["id"].as_str().unwrap());
    check("GET", "/orders/{id}", app.get(&order).await);
    check("GET", "/orders", app.get("/orders").await);

    // Each error status.
    let errors = [
        (
            "GET",
            "/products",
            app.get("/products?price[gte]=abc").await,
            400,
        ),
        (
            "PATCH",
            "/products/{id}",
            app.patch(&one, json!({"status": null})).await,
            400,
        ),
        (
            "GET",
            "/products",
            app.send(Method::GET, "/products", None, anonymous).await,
            401,
        ),
        (
            "GET",
            "/products",
            app.send(
                Method::GET,
                "/products",
                None,
                &[("x-organization-id", " ")],
            )
            .await,
            400,
        ),
        (
            "GET",
            "/products",
            app.send(
                Method::GET,
                "/products",
                None,
                &[("x-organization-id", "globex")],
            )
            .await,
            403,
        ),
        (
            "POST",
            "/products",
            app.send(
                Method::POST,
                "/products",
                json(json!({"name": "No", "price": 1})),
                &[("authorization", &member)],
            )
            .await,
            403,
        ),
        (
            "GET",
            "/products/{id}",
            app.get(&format!("/products/{}", uuid_zero())).await,
            404,
        ),
        ("POST", "/products", app.post("/products", body).await, 409),
        (
            "POST",
            "/products",
            app.raw(
                Request::builder()
                    .method(Method::POST)
                    .uri("/products")
                    .header("content-type", "text/plain")
                    .body(Body::from("name=x"))
                    .unwrap(),
            )
            .await,
            415,
        ),
    ];
    for (method, template, reply, status) in errors {
        assert_eq!(reply.status, status, "{method} {template}: {}", reply.body);
        check(method, template, reply);
    }

    // The organization header: the document admits exactly the values the server takes.
    let mut headers = Vec::new();
    let long = "a".repeat(129);
    for value in ["acme", " acme ", "globex", " ", "\t", long.as_str()] {
        let reply = app
            .send(
                Method::GET,
                "/products",
                None,
                &[("x-organization-id", value)],
            )
            .await;
        headers.push(json!({
            "method": "GET", "path": "/products", "name": "x-organization-id",
            "value": value, "status": reply.status.as_u16(),
        }));
    }

    let path = std::env::temp_dir().join(format!("shop-answers-{}.json", std::process::id()));
    let input = json!({ "doc": doc, "samples": samples, "headers": headers });
    std::fs::write(&path, serde_json::to_vec(&input).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/validate_responses.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&path)
        .output()
        .expect("run the validator");
    let _ = std::fs::remove_file(&path);
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!("{report}");
    assert!(out.status.success(), "{report}");
}

fn uuid_zero() -> &'static str {
    "00000000-0000-4000-8000-000000000000"
}

#[tokio::test]
async fn the_rate_limit_is_documented_where_it_applies() {
    use arc_runtime::config::{KeyBy, RateLimit};
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let limit = RateLimit::new(10, std::time::Duration::from_secs(60), KeyBy::Ip);
    let doc = arc_tests::shop_app(db)
        .rate_limit(limit)
        .openapi()
        .expect("the document builds");
    let responses = |path: &str| doc["paths"][path]["get"]["responses"].clone();
    assert!(responses("/products")["429"].is_object());
    assert!(
        responses("/_resources")["429"].is_object(),
        "the registry is behind the rate limit"
    );
    for service in [
        "/_health/live",
        "/_health/ready",
        "/_metrics",
        "/_docs/openapi.json",
    ] {
        assert!(
            responses(service).get("429").is_none(),
            "{service} answers whatever the traffic"
        );
    }
}
