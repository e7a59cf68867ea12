//! Hooks of a resource (before and after each write, inside its transaction) and the steps
//! across resources (guards, transforms, intercepts), on both databases.

use arc_runtime::App;
use arc_tests::{TestApp, assert_error, on_both};
use axum::http::Method;
use serde_json::{Value, json};

mod hooks {
    use super::*;
    on_both!(arc_tests::ledger::app => hooks_shape_refuse_and_audit_writes);
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
                && op.operation == "get"
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
