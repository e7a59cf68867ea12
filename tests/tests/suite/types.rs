//! Every supported field type, written, read back, filtered and sorted on both databases.

use arc_tests::{TestApp, assert_error, on_both};
use serde_json::json;

on_both!(arc_tests::gadget::app => round_trip, filters_by_type, type_errors);

fn gadget(label: &str, small: i32, ratio: f64, amount: &str) -> serde_json::Value {
    json!({
        "label": label, "small": small, "ratio": ratio, "amount": amount,
        "made_at": "2026-03-04T05:06:07Z",
    })
}

async fn round_trip(app: &TestApp) {
    let maker = "6f9619ff-8b86-d011-b42d-00cf4fc964ff";
    let body = json!({
        "label": "Widget", "small": -7, "big": 9_007_199_254_740_993i64, "ratio": 0.125,
        "amount": "1234.56", "flag": true, "finish": "high-gloss", "coating": "matte",
        "made_at": "2026-03-04T05:06:07.123Z", "maker": maker,
        "specs": {"w": 3, "tags": ["a", "b"], "nested": {"ok": true}}, "kind_": "spare",
    });
    let created = app.post("/gadgets", body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let got = app.get(&format!("/gadgets/{id}")).await.body["data"].clone();
    for key in [
        "label", "small", "big", "ratio", "amount", "flag", "finish", "coating", "maker", "specs",
        "kind_",
    ] {
        assert_eq!(got[key], body[key], "{key} round-trips on {}", app.backend);
    }
    // `kind_` is stored in the column `kind` (sea-orm's name for it): filters and sorts
    // name that column too.
    let listed = app.get("/gadgets?kind_=spare&sort=-kind_").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.column("id"), vec![json!(id)]);
    let made_at = chrono_ms(got["made_at"].as_str().unwrap());
    assert_eq!(
        made_at, "2026-03-04T05:06:07.123",
        "made_at keeps milliseconds"
    );

    let defaults = app
        .post("/gadgets", gadget("Plain", 1, 1.0, "0"))
        .await
        .body["data"]
        .clone();
    assert_eq!(defaults["flag"], false);
    assert_eq!(defaults["finish"], "matte");
    assert!(
        defaults["coating"].is_null() && defaults["specs"].is_null() && defaults["big"].is_null()
    );

    let patched = app
        .patch(
            &format!("/gadgets/{id}"),
            json!({"coating": null, "specs": [1, 2], "amount": 5}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert!(patched.body["data"]["coating"].is_null());
    assert_eq!(patched.body["data"]["specs"], json!([1, 2]));
    assert_eq!(patched.body["data"]["amount"], "5");
}

fn chrono_ms(text: &str) -> String {
    // Both databases must keep at least millisecond precision; compare on that.
    text.get(..23).unwrap_or(text).to_owned()
}

async fn filters_by_type(app: &TestApp) {
    for (label, small, ratio, amount) in [
        ("a", -5, 0.5, "10.25"),
        ("b", 0, 1.5, "2"),
        ("c", 5, 2.5, "100.5"),
    ] {
        assert_eq!(
            app.post("/gadgets", gadget(label, small, ratio, amount))
                .await
                .status,
            201
        );
    }
    let labels =
        |q: &'static str| async move { app.get(&format!("/gadgets?{q}")).await.column("label") };
    assert_eq!(labels("small[lt]=0").await, [json!("a")]);
    assert_eq!(
        labels("ratio[gte]=1.5&sort=-ratio").await,
        [json!("c"), json!("b")]
    );
    assert_eq!(
        labels("amount[gt]=5&sort=amount").await,
        [json!("a"), json!("c")]
    );
    assert_eq!(labels("amount=2").await, [json!("b")]);
    assert_eq!(
        labels("sort=-amount").await,
        [json!("c"), json!("a"), json!("b")]
    );
    assert_eq!(labels("finish=matte&sort=label").await.len(), 3);
    assert_eq!(labels("finish=high-gloss").await.len(), 0);
    assert_eq!(labels("coating[exists]=false").await.len(), 3);
    assert_eq!(labels("flag=false").await.len(), 3);
    assert_eq!(
        labels("made_at[gte]=2026-03-04&made_at[lt]=2026-03-05")
            .await
            .len(),
        3
    );
    assert_eq!(labels("maker[exists]=true").await.len(), 0);
    assert_eq!(
        labels("label[in]=a,c&sort=-small").await,
        [json!("c"), json!("a")]
    );
}

async fn type_errors(app: &TestApp) {
    let bad = json!({
        "label": 5, "small": 1000, "big": "x", "ratio": -1, "amount": "abc", "flag": "yes",
        "finish": "shiny", "coating": 3, "made_at": "yesterday", "maker": "nope",
    });
    let reply = app.post("/gadgets", bad).await;
    assert_error(&reply, 400, "VALIDATION_ERROR");
    let mut fields: Vec<&str> = reply.body["details"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "amount", "big", "coating", "finish", "flag", "label", "made_at", "maker", "ratio",
            "small"
        ]
    );
    assert_error(
        &app.post("/gadgets", json!({"small": 2147483648i64})).await,
        400,
        "VALIDATION_ERROR",
    );
    assert_eq!(app.get("/gadgets").await.body["total"], 0);
}

/// A field stored under another column name (`kind_` in `kind`) is named alike by the entity
/// and the field table, so the app has nothing to refuse.
#[tokio::test]
async fn a_field_stored_under_another_name_is_one_the_app_accepts() {
    let db = arc_runtime::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    assert_eq!(arc_tests::gadget::app(db).problems(), Vec::<String>::new());
}
