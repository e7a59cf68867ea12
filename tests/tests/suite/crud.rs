//! Routes, envelopes, statuses, headers and error codes of plain CRUD.

use arc_tests::{Reply, TestApp, assert_error, on_both, platform_admin};
use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

on_both!(
    create_get_update_delete,
    patch_distinguishes_absent_and_null,
    validation_reports_every_problem,
    bad_bodies_are_4xx,
    unknown_routes_methods_and_ids,
    request_ids,
    duplicate_slug_is_409,
    orders_are_priced_by_their_hook,
);

/// A write to the shop's categories, which only a platform admin may make.
async fn as_root(app: &TestApp, method: Method, uri: &str, body: serde_json::Value) -> Reply {
    let token = platform_admin();
    let body = (!body.is_null()).then_some(body);
    app.send(method, uri, body, &[("authorization", token.as_str())])
        .await
}

async fn create_get_update_delete(app: &TestApp) {
    let created = app
        .post(
            "/products",
            json!({"name": "Lamp", "price": 2500, "slug": "lamp"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["success"], true);
    assert_eq!(created.body["message"], "Created successfully");
    let data = &created.body["data"];
    let id = data["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/products/{id}").as_str())
    );
    assert_eq!(data["status"], "draft", "enum default");
    assert_eq!(data["is_featured"], false, "bool default");
    assert_eq!(data["created_at"], data["updated_at"]);
    assert!(
        data.get("internal_note").is_none(),
        "hidden field in response"
    );

    let got = app.get(&format!("/products/{id}")).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["data"], *data);

    let updated = app
        .patch(
            &format!("/products/{id}"),
            json!({"price": 2600, "status": "active"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["message"], "Updated successfully");
    assert_eq!(updated.body["data"]["price"], 2600);
    assert_eq!(updated.body["data"]["name"], "Lamp");
    assert_eq!(updated.body["data"]["created_at"], data["created_at"]);

    let put = app
        .send(
            Method::PUT,
            &format!("/products/{id}"),
            Some(json!({"name": "Lamp 2"})),
            &[],
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(put.body["data"]["name"], "Lamp 2");

    let list = app.get("/products").await;
    assert_eq!(list.status, 200);
    for key in [
        "docs", "page", "limit", "total", "pages", "hasNext", "hasPrev",
    ] {
        assert!(list.body.get(key).is_some(), "list envelope lacks {key}");
    }
    assert_eq!(list.body["total"], 51, "acme's 50 and the new one");
    assert_eq!(list.body["limit"], 20);
    assert_eq!(list.body["pages"], 3);

    let deleted = app.delete(&format!("/products/{id}")).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["data"]["message"], "Deleted successfully");
    assert_eq!(deleted.body["data"]["id"], id.as_str());
    assert_eq!(deleted.body["data"]["soft"], true);
    assert_error(&app.get(&format!("/products/{id}")).await, 404, "NOT_FOUND");
    assert_error(
        &app.delete(&format!("/products/{id}")).await,
        404,
        "NOT_FOUND",
    );

    // A resource without soft delete deletes for good.
    let cat = as_root(
        app,
        Method::POST,
        "/categories",
        json!({"name": "Toys", "slug": "toys"}),
    )
    .await;
    let cat_id = cat.body["data"]["id"].as_str().unwrap().to_owned();
    let gone = as_root(
        app,
        Method::DELETE,
        &format!("/categories/{cat_id}"),
        json!(null),
    )
    .await;
    assert_eq!(gone.status, 200);
    assert!(gone.body["data"].get("soft").is_none());
    assert_error(
        &app.get(&format!("/categories/{cat_id}")).await,
        404,
        "NOT_FOUND",
    );
}

async fn patch_distinguishes_absent_and_null(app: &TestApp) {
    let created = app
        .post("/products", json!({"name": "Desk", "price": 10, "cost": 5}))
        .await;
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let kept = app
        .patch(&format!("/products/{id}"), json!({"name": "Desk 2"}))
        .await;
    assert_eq!(kept.body["data"]["cost"], 5, "absent = unchanged");
    let cleared = app
        .patch(&format!("/products/{id}"), json!({"cost": null}))
        .await;
    assert_eq!(cleared.status, 200);
    assert!(cleared.body["data"]["cost"].is_null(), "null = cleared");
    let refused = app
        .patch(&format!("/products/{id}"), json!({"name": null}))
        .await;
    assert_error(&refused, 400, "VALIDATION_ERROR");
    assert_eq!(refused.body["details"]["errors"][0]["field"], "name");
    let empty = app.patch(&format!("/products/{id}"), json!({})).await;
    assert_eq!(empty.status, 200, "an empty patch changes nothing");
    assert_eq!(
        empty.body["data"]["updated_at"],
        cleared.body["data"]["updated_at"]
    );
}

async fn validation_reports_every_problem(app: &TestApp) {
    let reply = app
        .post(
            "/products",
            json!({"name": "", "price": "cheap", "status": "sold", "bogus": 1, "id": "x", "deleted_at": null, "cost": -1}),
        )
        .await;
    assert_error(&reply, 400, "VALIDATION_ERROR");
    let mut errors: Vec<(String, String)> = reply.body["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["keyword"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    errors.sort();
    let expected = [
        ("bogus", "additionalProperties"),
        ("cost", "minimum"),
        ("deleted_at", "readOnly"),
        ("id", "readOnly"),
        ("name", "minLength"),
        ("price", "type"),
        ("status", "enum"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, k)| (f.to_string(), k.to_string()))
        .collect();
    assert_eq!(errors, expected);

    let missing = app.post("/products", json!({})).await;
    assert_error(&missing, 400, "VALIDATION_ERROR");
    let fields: Vec<&str> = missing.body["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "price"], "required fields, nothing else");

    let too_long = as_root(
        app,
        Method::POST,
        "/categories",
        json!({"name": "x".repeat(101), "slug": "s"}),
    )
    .await;
    assert_eq!(
        too_long.body["details"]["errors"][0]["keyword"],
        "maxLength"
    );
    let overflow = app.post("/orders", json!({"product_id": "00000000-0000-0000-0000-000000000000", "quantity": 5_000_000_000i64})).await;
    assert_error(&overflow, 400, "VALIDATION_ERROR");
    let count = app.get("/products?limit=1").await.body["total"].clone();
    assert_eq!(count, 50, "nothing was written");
}

async fn bad_bodies_are_4xx(app: &TestApp) {
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut req = Request::builder().method(Method::POST).uri("/products");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.body(Body::from(body)).unwrap()
    };
    assert_error(
        &app.raw(send("{\"name\":", Some("application/json"))).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &app.raw(send("[1,2]", Some("application/json"))).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &app.raw(send("", Some("application/json"))).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &app.raw(send("{}", Some("text/plain"))).await,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    assert_error(
        &app.raw(send("{}", None)).await,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/products")
        .header("content-type", "application/json")
        .body(Body::from(deep))
        .unwrap();
    assert_error(&app.raw(req).await, 400, "BAD_REQUEST");
    let huge = format!("{{\"name\":\"{}\",\"price\":1}}", "x".repeat(100 * 1024));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/products")
        .header("content-type", "application/json")
        .body(Body::from(huge))
        .unwrap();
    assert_error(&app.raw(req).await, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(
        app.get("/products?limit=1").await.body["total"],
        50,
        "nothing was written"
    );
}

async fn unknown_routes_methods_and_ids(app: &TestApp) {
    assert_error(&app.get("/nope").await, 404, "NOT_FOUND");
    assert_error(&app.get("/products/not-a-uuid").await, 404, "NOT_FOUND");
    assert_error(
        &app.get("/products/00000000-0000-0000-0000-000000000000")
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &app.patch("/products/%FF%FE", serde_json::json!({})).await,
        404,
        "NOT_FOUND",
    );
    assert_error(&app.delete("/products").await, 405, "METHOD_NOT_ALLOWED");
    assert_error(
        &app.send(
            Method::POST,
            "/products/00000000-0000-0000-0000-000000000000",
            None,
            &[],
        )
        .await,
        405,
        "METHOD_NOT_ALLOWED",
    );
}

async fn request_ids(app: &TestApp) {
    let echoed = app
        .send(
            Method::GET,
            "/nope",
            None,
            &[("x-request-id", "abc-123.x_y")],
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("abc-123.x_y"));
    assert_eq!(echoed.body["requestId"], "abc-123.x_y");
    let replaced = app
        .send(
            Method::GET,
            "/products?limit=1",
            None,
            &[("x-request-id", "bad id<>")],
        )
        .await;
    let id = replaced.header("x-request-id").unwrap();
    assert!(id != "bad id<>" && !id.is_empty());
    let long = "a".repeat(129);
    let replaced = app
        .send(
            Method::GET,
            "/products?limit=1",
            None,
            &[("x-request-id", &long)],
        )
        .await;
    assert_ne!(replaced.header("x-request-id"), Some(long.as_str()));
}

async fn duplicate_slug_is_409(app: &TestApp) {
    let dup = as_root(
        app,
        Method::POST,
        "/categories",
        json!({"name": "Again", "slug": "books"}),
    )
    .await;
    assert_error(&dup, 409, "DUPLICATE_KEY");
    let first = app
        .post(
            "/products",
            json!({"name": "A", "price": 1, "slug": "same"}),
        )
        .await;
    assert_eq!(first.status, 201);
    let id = first.body["data"]["id"].as_str().unwrap().to_owned();
    assert_error(
        &app.post(
            "/products",
            json!({"name": "B", "price": 1, "slug": "same"}),
        )
        .await,
        409,
        "DUPLICATE_KEY",
    );
    let other = app
        .post(
            "/products",
            json!({"name": "C", "price": 1, "slug": "other"}),
        )
        .await;
    let other_id = other.body["data"]["id"].as_str().unwrap().to_owned();
    assert_error(
        &app.patch(&format!("/products/{other_id}"), json!({"slug": "same"}))
            .await,
        409,
        "DUPLICATE_KEY",
    );
    assert_eq!(
        app.get(&format!("/products/{id}")).await.body["data"]["slug"],
        "same"
    );

    // Unique per tenant: globex may use a slug acme holds, and hears nothing of it.
    let gus = arc_tests::shop_token("gus", "globex", &["admin"]);
    let as_gus = |method: Method, uri: &str, body: Option<serde_json::Value>| {
        let gus = gus.clone();
        let uri = uri.to_owned();
        async move {
            app.send(method, &uri, body, &[("authorization", gus.as_str())])
                .await
        }
    };
    let theirs = as_gus(
        Method::POST,
        "/products",
        Some(json!({"name": "G", "price": 1, "slug": "same"})),
    )
    .await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    assert_error(
        &as_gus(
            Method::POST,
            "/products",
            Some(json!({"name": "G2", "price": 1, "slug": "same"})),
        )
        .await,
        409,
        "DUPLICATE_KEY",
    );
    let found = as_gus(Method::GET, "/products/slug/same", None).await;
    assert_eq!(found.body["data"]["id"], theirs.body["data"]["id"]);
    let found = app.get("/products/slug/same").await;
    assert_eq!(found.body["data"]["id"], json!(id));

    // A soft-deleted row releases its slug; restoring it while the slug is taken is a 409.
    assert_eq!(app.delete(&format!("/products/{id}")).await.status, 200);
    let again = app
        .post(
            "/products",
            json!({"name": "D", "price": 1, "slug": "same"}),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_error(
        &app.send(Method::POST, &format!("/products/{id}/restore"), None, &[])
            .await,
        409,
        "DUPLICATE_KEY",
    );
}

async fn orders_are_priced_by_their_hook(app: &TestApp) {
    let product = app.get("/products?limit=1&sort=price").await.body["docs"][0].clone();
    let price = product["price"].as_i64().unwrap();
    let order = app
        .post(
            "/orders",
            json!({"product_id": product["id"], "quantity": 3}),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    assert_eq!(order.body["data"]["total"], price * 3);
    assert_eq!(order.body["data"]["status"], "pending");
    let id = order.body["data"]["id"].as_str().unwrap().to_owned();
    let updated = app
        .patch(&format!("/orders/{id}"), json!({"quantity": 5}))
        .await;
    assert_eq!(updated.body["data"]["total"], price * 5);
    let written = app
        .post(
            "/orders",
            json!({"product_id": product["id"], "quantity": 1, "total": 0}),
        )
        .await;
    assert_error(&written, 400, "VALIDATION_ERROR");
    let unknown = app
        .post(
            "/orders",
            json!({"product_id": "00000000-0000-0000-0000-000000000000", "quantity": 1}),
        )
        .await;
    assert_error(&unknown, 400, "VALIDATION_ERROR");
    assert_eq!(unknown.body["details"]["errors"][0]["field"], "product_id");
    assert_error(
        &app.post(
            "/orders",
            json!({"product_id": product["id"], "quantity": 0}),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    );
    // Totals are exact or refused, never wrapped or saturated.
    let dear = app
        .post(
            "/products",
            json!({"name": "Dear", "price": 9_000_000_000_000_000_000_i64}),
        )
        .await;
    assert_eq!(dear.status, 201, "{}", dear.body);
    let overflow = app
        .post(
            "/orders",
            json!({"product_id": dear.body["data"]["id"], "quantity": 1000}),
        )
        .await;
    assert_error(&overflow, 400, "VALIDATION_ERROR");
    assert_eq!(overflow.body["details"]["errors"][0]["field"], "quantity");
    let one = app
        .post(
            "/orders",
            json!({"product_id": dear.body["data"]["id"], "quantity": 1}),
        )
        .await;
    assert_eq!(one.body["data"]["total"], 9_000_000_000_000_000_000_i64);
    let id = one.body["data"]["id"].as_str().unwrap();
    let grown = app
        .patch(&format!("/orders/{id}"), json!({"quantity": 2}))
        .await;
    assert_error(&grown, 400, "VALIDATION_ERROR");
    assert_eq!(
        app.get(&format!("/orders/{id}")).await.body["data"]["quantity"],
        1,
        "a refused update wrote nothing"
    );
    assert_eq!(
        app.get("/orders").await.body["total"],
        2,
        "failed creates wrote nothing"
    );
}

/// A body read by the app's own layer (here, a signature check reading it whole) or by its
/// own route is held to the app's limit (the test apps' is 64 KiB), like the resources'
/// writes: a 413.
#[tokio::test]
async fn the_body_limit_holds_for_the_apps_own_layers_and_routes() {
    /// Reads the whole body as the app's limit allows (a signature check would), then
    /// passes it on.
    async fn reads_the_body(
        req: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        use axum::RequestExt;
        let (parts, body) = req.with_limited_body().into_parts();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(bytes) => {
                next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
                    .await
            }
            Err(_) => axum::response::IntoResponse::into_response(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            ),
        }
    }
    let app = TestApp::sqlite_with(|db| {
        arc_tests::shop_app(db).route(
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move { body }),
        )
    })
    .await;
    let big = "x".repeat(100 * 1024);
    let post = |uri: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .body(Body::from(big.clone()))
            .unwrap()
    };
    assert_eq!(app.raw(post("/echo")).await.status, 413);
    let layered = TestApp::sqlite_with(|db| {
        arc_tests::shop_app(db).layer(axum::middleware::from_fn(reads_the_body))
    })
    .await;
    assert_eq!(layered.raw(post("/products")).await.status, 413);
}
