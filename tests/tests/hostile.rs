//! Hostile input that once reached the database or came back amplified: NUL characters
//! (PostgreSQL text cannot hold them) and oversized error lists. The same answer on SQLite
//! and PostgreSQL.

use arc_tests::{TestApp, assert_error, on_both};
use serde_json::json;

on_both!(nul_characters_are_refused_alike);

mod gadgets {
    use arc_tests::on_both;
    on_both!(arc_tests::gadget::app => nul_characters_in_json_fields_are_refused);

    async fn nul_characters_in_json_fields_are_refused(app: &arc_tests::TestApp) {
        let gadget = |specs: serde_json::Value| {
            serde_json::json!({
                "label": "g", "small": 1, "ratio": 1.0, "amount": "1",
                "made_at": "2026-01-01T00:00:00Z", "specs": specs
            })
        };
        for specs in [
            serde_json::json!({"a": "x\u{0}y"}),
            serde_json::json!({"k\u{0}": 1}),
            serde_json::json!([1, ["deep \u{0}"]]),
        ] {
            let reply = app.post("/gadgets", gadget(specs.clone())).await;
            arc_tests::assert_error(&reply, 400, "VALIDATION_ERROR");
            assert_eq!(
                reply.body["details"]["errors"][0]["field"], "specs",
                "{specs}"
            );
        }
        let ok = app
            .post("/gadgets", gadget(serde_json::json!({"a": "b"})))
            .await;
        assert_eq!(ok.status, 201, "{}", ok.body);
        let reply = app.get("/gadgets?label=a%00").await;
        arc_tests::assert_error(&reply, 400, "BAD_REQUEST");
    }
}

async fn nul_characters_are_refused_alike(app: &TestApp) {
    let reply = app
        .post("/products", json!({"name": "a\u{0}b", "price": 1}))
        .await;
    assert_error(&reply, 400, "VALIDATION_ERROR");
    assert_eq!(reply.body["details"]["errors"][0]["field"], "name");
    let bulk = app
        .post(
            "/products/bulk",
            json!({"items": [{"name": "fine", "price": 1}, {"name": "\u{0}", "price": 1}]}),
        )
        .await;
    assert_error(&bulk, 400, "VALIDATION_ERROR");
    assert_eq!(bulk.body["details"]["errors"][0]["field"], "items[1].name");

    for (query, param) in [
        ("search=%00", "search"),
        ("name=%00", "name"),
        ("name[in]=a,%00", "name[in]"),
        ("name[like]=a%00", "name[like]"),
        ("name[regex]=a%00", "name[regex]"),
    ] {
        let reply = app.get(&format!("/products?{query}")).await;
        assert_error(&reply, 400, "BAD_REQUEST");
        let error = reply.body["error"].as_str().unwrap();
        assert!(error.contains(&format!("`{param}`")), "{query}: {error}");
    }
    let filter = app
        .send(
            axum::http::Method::PATCH,
            "/products/bulk",
            Some(json!({"filter": {"name": {"like": "\u{0}"}}, "data": {"price": 2}})),
            &[],
        )
        .await;
    assert_error(&filter, 400, "BAD_REQUEST");

    // No row can have a NUL in its slug, on either database: not found.
    assert_error(&app.get("/products/slug/%00").await, 404, "NOT_FOUND");
    assert_error(&app.get("/categories/slug/a%00b").await, 404, "NOT_FOUND");
}
