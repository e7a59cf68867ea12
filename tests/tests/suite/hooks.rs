//! Hooks of a resource (before and after each write, inside its transaction) and the steps
//! across resources (guards, transforms, intercepts), on both databases.

use arc_runtime::App;
use arc_tests::{TestApp, assert_error, on_both};
use axum::http::Method;
use serde_json::{Value, json};

mod resource_hooks {
    use super::*;
    on_both!(arc_tests::ledger::app => hooks_shape_refuse_and_audit_writes, bulk_writes_run_each_rows_hooks);
}

mod steps {
    use super::*;
    on_both!(super::steps_app => guards_transforms_and_intercepts);
}

async fn audit_lines(app: &TestApp) -> Vec<Value> {
    app.get("/audit-lines?sort=created_at&limit=100")
        .await
        .column("what")
}

async fn hooks_shape_refuse_and_audit_writes(app: &TestApp) {
    let created = app
        .post("/entries", json!({"code": "  rent ", "amount": 100}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.body["data"]["code"], "RENT",
        "before_create shaped it"
    );
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        audit_lines(app).await,
        [json!("created RENT")],
        "after_create, same txn"
    );

    let negative = app
        .post("/entries", json!({"code": "debt", "amount": -5}))
        .await;
    assert_error(&negative, 409, "CONFLICT");
    assert_eq!(
        app.get("/entries").await.body["total"],
        1,
        "after_create's error rolled back"
    );
    assert_eq!(audit_lines(app).await.len(), 1);

    let uri = format!("/entries/{id}");
    let updated = app.patch(&uri, json!({"amount": 120})).await;
    assert_eq!(updated.status, 200);
    assert_eq!(audit_lines(app).await[1], json!("RENT 100 -> 120"));
    app.patch(&uri, json!({"locked": true})).await;
    let refused = app.patch(&uri, json!({"amount": 1})).await;
    assert_error(&refused, 409, "CONFLICT");
    assert_eq!(refused.body["error"], "entry is locked");
    assert_eq!(app.get(&uri).await.body["data"]["amount"], 120);

    let keep = app
        .post("/entries", json!({"code": "keep", "amount": 1}))
        .await;
    let keep_uri = format!("/entries/{}", keep.body["data"]["id"].as_str().unwrap());
    assert_error(&app.delete(&keep_uri).await, 409, "CONFLICT");
    assert_eq!(
        app.get(&keep_uri).await.status,
        200,
        "after_delete's error rolled back"
    );
    assert_eq!(app.delete(&uri).await.status, 200);
    assert_eq!(audit_lines(app).await.last(), Some(&json!("deleted RENT")));
}

async fn bulk_writes_run_each_rows_hooks(app: &TestApp) {
    for (code, amount) in [("a", 1), ("b", 2), ("c", 3)] {
        let created = app
            .post("/entries", json!({"code": code, "amount": amount}))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    let bulk = |method: Method, body: Value| async move {
        app.send(method, "/entries/bulk", Some(body), &[]).await
    };
    let updated = bulk(
        Method::PATCH,
        json!({"filter": {"amount": {"gte": 2}}, "data": {"amount": 10}}),
    )
    .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["data"]["matchedCount"], 2);
    let lines = audit_lines(app).await;
    assert!(lines.contains(&json!("B 2 -> 10")), "{lines:?}");
    assert!(lines.contains(&json!("C 3 -> 10")), "{lines:?}");

    // before_update refuses a locked entry: the whole bulk update rolls back.
    let b = app.get("/entries?code=B").await.body["docs"][0]["id"].clone();
    app.patch(
        &format!("/entries/{}", b.as_str().unwrap()),
        json!({"locked": true}),
    )
    .await;
    let before = app.get("/entries?sort=code").await.column("amount");
    let refused = bulk(
        Method::PATCH,
        json!({"filter": {"amount": {"gte": 0}}, "data": {"amount": 7}}),
    )
    .await;
    assert_error(&refused, 409, "CONFLICT");
    assert_eq!(refused.body["error"], "entry is locked");
    assert_eq!(app.get("/entries?sort=code").await.column("amount"), before);

    // after_delete refuses KEEP entries: the whole bulk delete rolls back.
    app.post("/entries", json!({"code": "keep", "amount": 1}))
        .await;
    let refused = bulk(Method::DELETE, json!({"filter": {"amount": {"lte": 100}}})).await;
    assert_error(&refused, 409, "CONFLICT");
    assert_eq!(
        app.get("/entries").await.body["total"],
        4,
        "nothing deleted"
    );
    let deleted = bulk(
        Method::DELETE,
        json!({"filter": {"code": {"in": ["A", "C"]}}}),
    )
    .await;
    assert_eq!(deleted.body["data"]["deletedCount"], 2, "{}", deleted.body);
    let lines = audit_lines(app).await;
    assert!(lines.contains(&json!("deleted A")), "{lines:?}");
    assert!(lines.contains(&json!("deleted C")), "{lines:?}");

    // A filter that selects every row by construction is no filter.
    for filter in [
        json!({"code": {"nin": []}}),
        json!({"code": {"like": ""}}),
        json!({"code": {"regex": "x*"}}),
        json!({"code": {"exists": true}, "amount": {"nin": []}}),
        json!({"locked": {"in": [true, false]}}),
    ] {
        let refused = bulk(Method::DELETE, json!({ "filter": filter })).await;
        assert_error(&refused, 400, "BAD_REQUEST");
        let refused = bulk(
            Method::PATCH,
            json!({"filter": filter, "data": {"amount": 0}}),
        )
        .await;
        assert_error(&refused, 400, "BAD_REQUEST");
    }
    assert_eq!(app.get("/entries").await.body["total"], 2);
}

fn steps_app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    arc_tests::ledger::app(db)
        .guard(|ctx| {
            let writing = ctx.method != Method::GET;
            if writing && ctx.headers.contains_key("x-maintenance") {
                return Err(arc_runtime::ArcError::new(
                    arc_runtime::ErrorCode::ServiceUnavailable,
                    "Read-only during maintenance",
                ));
            }
            Ok(())
        })
        .transform(|ctx, body| {
            if let (Some(op), Some(data)) = (ctx.operation, body.get_mut("data"))
                && op.action == arc_runtime::Action::Get
            {
                data["_links"] =
                    json!({"self": format!("/entries/{}", data["id"].as_str().unwrap_or(""))});
            }
        })
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                let mut res = next.run(req).await;
                res.headers_mut()
                    .insert("x-intercepted", axum::http::HeaderValue::from_static("yes"));
                res
            },
        ))
}

async fn guards_transforms_and_intercepts(app: &TestApp) {
    let refused = app
        .send(
            Method::POST,
            "/entries",
            Some(json!({"code": "a", "amount": 1})),
            &[("x-maintenance", "1")],
        )
        .await;
    assert_error(&refused, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(
        app.get("/entries").await.body["total"],
        0,
        "the guard ran before the handler"
    );
    let created = app
        .post("/entries", json!({"code": "a", "amount": 1}))
        .await;
    assert_eq!(created.status, 201);
    assert!(
        created.body["data"].get("_links").is_none(),
        "the transform is for reads"
    );
    assert_eq!(created.header("x-intercepted"), Some("yes"));
    let id = created.body["data"]["id"].as_str().unwrap();
    let one = app.get(&format!("/entries/{id}")).await;
    assert_eq!(one.body["data"]["_links"]["self"], format!("/entries/{id}"));
}
