//! The preset routes: soft delete and restore, slug lookup, tree and children, bulk.

use arc_tests::{TestApp, assert_error, on_both};
use serde_json::{Value, json};

on_both!(
    soft_delete_and_restore,
    slug_lookup,
    tree_and_children,
    bulk_create,
    bulk_update_and_delete
);

async fn soft_delete_and_restore(app: &TestApp) {
    let p = app.get("/products?limit=1&sort=price").await.body["docs"][0].clone();
    let id = p["id"].as_str().unwrap();
    let slug = p["slug"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/products/{id}")).await.body["data"]["soft"],
        true
    );
    assert_error(&app.get(&format!("/products/{id}")).await, 404, "NOT_FOUND");
    assert_error(
        &app.get(&format!("/products/slug/{slug}")).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &app.patch(&format!("/products/{id}"), json!({"price": 1}))
            .await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(app.get("/products").await.body["total"], 49);
    assert_eq!(
        app.get(&format!("/products?price={}", p["price"]))
            .await
            .body["total"],
        0,
        "the only product at that price is deleted"
    );
    let bulk = app
        .send(
            axum::http::Method::PATCH,
            "/products/bulk",
            Some(json!({"filter": {"id": id}, "data": {"price": 7}})),
            &[],
        )
        .await;
    assert_eq!(
        bulk.body["data"]["matchedCount"], 0,
        "bulk skips deleted rows"
    );

    let deleted = app.get("/products/deleted").await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.column("id"), [json!(id)]);
    assert!(!deleted.body["docs"][0]["deleted_at"].is_null());
    assert_error(
        &app.post(
            &format!(
                "/products/{}/restore",
                app.get("/products?limit=1").await.body["docs"][0]["id"]
                    .as_str()
                    .unwrap()
            ),
            json!({}),
        )
        .await,
        404,
        "NOT_FOUND",
    );

    let restored = app
        .send(
            axum::http::Method::POST,
            &format!("/products/{id}/restore"),
            None,
            &[],
        )
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(restored.body["message"], "Restored successfully");
    assert!(restored.body["data"]["deleted_at"].is_null());
    assert_eq!(app.get(&format!("/products/{id}")).await.status, 200);
    assert_eq!(app.get("/products/deleted").await.body["total"], 0);
    assert_error(
        &app.send(
            axum::http::Method::POST,
            "/products/not-a-uuid/restore",
            None,
            &[],
        )
        .await,
        404,
        "NOT_FOUND",
    );
    // Categories have no soft delete: no such routes.
    assert_error(&app.get("/categories/deleted").await, 404, "NOT_FOUND");
}

async fn slug_lookup(app: &TestApp) {
    let found = app.get("/products/slug/acme-product-7").await;
    assert_eq!(found.status, 200);
    assert_eq!(found.body["data"]["name"], "Acme Product 7");
    assert!(found.body["data"].get("internal_note").is_none());
    let cat = app.get("/categories/slug/books").await;
    assert_eq!(cat.body["data"]["name"], "Books");
    assert_error(&app.get("/products/slug/nope").await, 404, "NOT_FOUND");
    assert_error(&app.get("/orders/slug/x").await, 404, "NOT_FOUND");
}

async fn tree_and_children(app: &TestApp) {
    let tree = app.get("/categories/tree").await;
    assert_eq!(tree.status, 200);
    let roots = tree.body["data"].as_array().unwrap();
    let names: Vec<&str> = roots.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Books", "Electronics"], "roots, by name");
    let electronics = &roots[1];
    let kids: Vec<&str> = electronics["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(kids, ["Audio", "Laptops", "Phones"]);
    assert_eq!(roots[0]["children"], json!([]));

    let id = electronics["id"].as_str().unwrap();
    let phones = electronics["children"][2]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = arc_tests::platform_admin();
    let deep = app
        .send(
            axum::http::Method::POST,
            "/categories",
            Some(json!({"name": "Cases", "slug": "cases", "parent_id": phones})),
            &[("authorization", root.as_str())],
        )
        .await;
    assert_eq!(deep.status, 201);
    let tree = app.get("/categories/tree").await;
    assert_eq!(
        tree.body["data"][1]["children"][2]["children"][0]["name"],
        "Cases"
    );

    let children = app.get(&format!("/categories/{id}/children")).await;
    assert_eq!(children.status, 200);
    assert_eq!(
        children.column("name"),
        [json!("Audio"), json!("Laptops"), json!("Phones")]
    );
    assert_error(
        &app.get("/categories/00000000-0000-0000-0000-000000000000/children")
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(&app.get("/categories/zzz/children").await, 404, "NOT_FOUND");
    assert_error(&app.get("/products/tree").await, 404, "NOT_FOUND");
}

async fn bulk_create(app: &TestApp) {
    let items: Vec<Value> = (0..3)
        .map(|i| json!({"name": format!("Bulk {i}"), "price": i * 10}))
        .collect();
    let created = app.post("/products/bulk", json!({"items": items})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["count"], 3);
    assert_eq!(created.body["data"].as_array().unwrap().len(), 3);
    assert_eq!(app.get("/products").await.body["total"], 53);

    let bad = app
        .post(
            "/products/bulk",
            json!({"items": [{"name": "ok", "price": 1}, {"name": "", "price": -1}, 5]}),
        )
        .await;
    assert_error(&bad, 400, "VALIDATION_ERROR");
    let fields: Vec<&str> = bad.body["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["items[1].name", "items[1].price", "items[2]"]);
    let dup = app.post("/products/bulk", json!({"items": [{"name": "x", "price": 1, "slug": "s1"}, {"name": "y", "price": 1, "slug": "s1"}]})).await;
    assert_error(&dup, 409, "DUPLICATE_KEY");
    assert_eq!(
        app.get("/products").await.body["total"],
        53,
        "all or nothing"
    );
    assert_error(
        &app.post("/products/bulk", json!({"items": []})).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &app.post("/products/bulk", json!({})).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &app.post("/products/bulk", json!({"items": {}})).await,
        400,
        "BAD_REQUEST",
    );
    let too_many: Vec<Value> = (0..1001).map(|_| json!({})).collect();
    assert_error(
        &app.post("/products/bulk", json!({"items": too_many})).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &app.post("/categories/bulk", json!({"items": [{}]})).await,
        405,
        "METHOD_NOT_ALLOWED",
    );
}

async fn bulk_update_and_delete(app: &TestApp) {
    use axum::http::Method;
    let updated = app
        .send(Method::PATCH, "/products/bulk", Some(json!({"filter": {"status": "draft", "price": {"gte": 2500}}, "data": {"is_featured": true}})), &[])
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let matched = updated.body["data"]["matchedCount"].as_u64().unwrap();
    assert_eq!(
        matched,
        updated.body["data"]["modifiedCount"].as_u64().unwrap()
    );
    assert_eq!(matched, 6, "acme's drafts from 2500 up");
    assert_eq!(
        app.get("/products?is_featured=true&status=draft&price[gte]=2500")
            .await
            .body["total"],
        6
    );

    for body in [
        json!({"filter": {}, "data": {"price": 1}}),
        json!({"filter": {"status": "draft"}, "data": {}}),
        json!({"data": {"price": 1}}),
        json!({"filter": {"cost": 1}, "data": {"price": 1}}),
        json!({"filter": {"price": {"between": 1}}, "data": {"price": 1}}),
        json!({"filter": {"price": "abc"}, "data": {"price": 1}}),
        json!({"filter": {"status": "draft"}, "data": {"price": 1}, "extra": 1}),
    ] {
        assert_error(
            &app.send(Method::PATCH, "/products/bulk", Some(body), &[])
                .await,
            400,
            "BAD_REQUEST",
        );
    }
    let invalid = app
        .send(
            Method::PATCH,
            "/products/bulk",
            Some(json!({"filter": {"status": "draft"}, "data": {"price": -5, "id": "x"}})),
            &[],
        )
        .await;
    assert_error(&invalid, 400, "VALIDATION_ERROR");

    let deleted = app
        .send(
            Method::DELETE,
            "/products/bulk",
            Some(json!({"filter": {"price": {"in": [100, 200, 300]}}})),
            &[],
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["data"]["deletedCount"], 3);
    assert_eq!(app.get("/products").await.body["total"], 47);
    assert_eq!(
        app.get("/products/deleted").await.body["total"],
        3,
        "bulk delete is soft too"
    );
    // JSON's null is "is null" (and `ne: null` "is set"), as `exists` says it in a query.
    let uncategorized = app.get("/products?category_id[exists]=false").await.body["total"].clone();
    let nulls = app
        .send(
            Method::PATCH,
            "/products/bulk",
            Some(json!({"filter": {"category_id": null}, "data": {"status": "archived"}})),
            &[],
        )
        .await;
    assert_eq!(nulls.status, 200, "{}", nulls.body);
    assert_eq!(nulls.body["data"]["matchedCount"], uncategorized);
    let set = app
        .send(
            Method::PATCH,
            "/products/bulk",
            Some(json!({"filter": {"category_id": {"ne": null}}, "data": {"status": "active"}})),
            &[],
        )
        .await;
    assert_eq!(
        set.body["data"]["matchedCount"].as_u64().unwrap() + uncategorized.as_u64().unwrap(),
        47
    );
    assert_error(
        &app.send(
            Method::DELETE,
            "/products/bulk",
            Some(json!({"filter": {}})),
            &[],
        )
        .await,
        400,
        "BAD_REQUEST",
    );
}
