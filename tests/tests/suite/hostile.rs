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

/// The shop on SQLite with a 2 MiB body limit, so a 1 MiB body reaches the decoder.
async fn roomy_shop() -> axum::Router {
    let db = arc_runtime::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    let app = arc_tests::shop_app(db).body_limit(2 << 20);
    app.migrate().await.expect("migrate");
    app.into_router()
}

/// Sends `body` as JSON to `uri` as acme's admin; the status and the body's size in bytes.
async fn post_raw(
    router: &axum::Router,
    uri: &str,
    body: String,
) -> (u16, serde_json::Value, usize) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::post(uri)
        .header("content-type", "application/json")
        .header("authorization", arc_tests::acme_admin())
        .body(axum::body::Body::from(body))
        .expect("request");
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_default();
    (status, json, bytes.len())
}

/// A 1 MiB body of unknown keys answers a small error: the list is capped and the rest
/// counted; a huge key is not echoed in full.
#[tokio::test]
async fn error_lists_are_capped() {
    let router = roomy_shop().await;
    let mut body = serde_json::Map::new();
    body.insert("name".into(), json!("x"));
    body.insert("price".into(), json!(1));
    let mut n = 0;
    while serde_json::to_string(&body).unwrap().len() < (1 << 20) - 64 {
        for _ in 0..1000 {
            body.insert(format!("unknown_{n}"), json!(0));
            n += 1;
        }
    }
    let (status, reply, size) = post_raw(
        &router,
        "/products",
        serde_json::Value::Object(body).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["code"], "VALIDATION_ERROR");
    let errors = reply["details"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 100);
    assert_eq!(reply["details"]["omitted"], n - 100);
    assert!(errors.iter().all(|e| e["field"].is_string()
        && e["message"].is_string()
        && e["keyword"] == "additionalProperties"));
    assert!(size < 16 * 1024, "{size} bytes of error");

    let items: Vec<serde_json::Value> = (0..1000)
        .map(|i| json!({"name": "", "price": -1, format!("odd_{i}"): 1}))
        .collect();
    let (status, reply, size) = post_raw(
        &router,
        "/products/bulk",
        json!({ "items": items }).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["details"]["errors"].as_array().unwrap().len(), 100);
    assert!(reply["details"]["omitted"].as_u64().unwrap() > 0, "{reply}");
    assert!(size < 16 * 1024, "{size} bytes of error");

    let long_key = "k".repeat(100_000);
    let (status, reply, size) = post_raw(
        &router,
        "/products",
        json!({"name": "x", "price": 1, long_key.as_str(): 1}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    assert!(size < 4 * 1024, "{size} bytes of error: {reply}");
    let field = reply["details"]["errors"][0]["field"].as_str().unwrap();
    assert!(field.starts_with("kkkk") && field.len() < 200, "{field}");
}

/// A pool with no free connection is the server overloaded, not broken: 503, never 500.
#[test]
fn a_pool_timeout_is_a_503() {
    use arc_runtime::{ArcError, ErrorCode};
    let timeout = arc_runtime::sea_orm::DbErr::ConnectionAcquire(
        arc_runtime::sea_orm::error::ConnAcquireErr::Timeout,
    );
    assert_eq!(
        ArcError::from(timeout).code(),
        ErrorCode::ServiceUnavailable
    );
}

/// A statement PostgreSQL cancels at its `statement_timeout` (every pooled connection has one,
/// `arc_runtime::config::STATEMENT_TIMEOUT`) is the server overloaded, not broken: 503 with
/// `Retry-After`, never 500.
#[tokio::test]
#[ignore = "needs PostgreSQL"]
async fn a_cancelled_statement_is_a_503() {
    use arc_runtime::sea_orm::{ConnectionTrait, TransactionTrait};
    use arc_runtime::{ArcError, ErrorCode};
    let app = TestApp::postgres().await;
    let txn = app.db.begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL statement_timeout = 50")
        .await
        .unwrap();
    let cancelled = txn
        .execute_unprepared("SELECT pg_sleep(2)")
        .await
        .expect_err("cancelled at its timeout");
    let error = ArcError::from(cancelled);
    assert_eq!(error.code(), ErrorCode::ServiceUnavailable, "{error:?}");
    drop(txn);
    let shown: String = app
        .db
        .query_one_raw(arc_runtime::sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SHOW statement_timeout",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "statement_timeout")
        .unwrap();
    assert_eq!(shown, "20s", "the pool's connections carry the timeout");
    app.cleanup().await;
}
