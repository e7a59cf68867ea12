//! Property fuzzing of the shop's bodies: POST/PATCH through the router answer a success or a 4xx in
//! the error envelope, never a 500, on SQLite and on PostgreSQL (`ARC_TEST_DATABASE_URL`;
//! those are `#[ignore = "needs PostgreSQL"]`).
//!
//! A short run is part of `cargo test`; a long run is `ARC_FUZZ_CASES=100000 cargo test -p
//! arc-tests --test suite --release fuzz::`. Failures are kept by proptest in
//! `fuzz.proptest-regressions` beside this file and re-run first.

use std::sync::OnceLock;

use arc_runtime::Resource;
use arc_runtime::meta::ResourceMeta;
use arc_tests::{TestApp, fuzz_cases};
use axum::http::Method;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const METAS: [&ResourceMeta; 3] = [
    <shop::Category as Resource>::META,
    <shop::Product as Resource>::META,
    <shop::Order as Resource>::META,
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: fuzz_cases(256),
        ..ProptestConfig::default()
    }
}

/// Any JSON value, with strings that hold NULs, escapes and non-ASCII text.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(9_223_372_036_854_775_807_i64)),
        Just(json!(1e300)),
        Just(json!("00000000-0000-0000-0000-000000000000")),
        Just(json!("2026-01-02T03:04:05Z")),
        Just(json!("paid")),
        Just(json!("active")),
        "\\PC{0,20}".prop_map(Value::from),
        "[\\x00-\\x7f]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object whose keys are mostly the resource's own field names.
fn body_for(meta: &'static ResourceMeta) -> impl Strategy<Value = Map<String, Value>> {
    let names: Vec<String> = meta.fields.iter().map(|f| f.name.to_owned()).collect();
    let key = prop_oneof![
        4 => proptest::sample::select(names),
        1 => "\\PC{0,10}",
    ];
    proptest::collection::btree_map(key, json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

fn any_body() -> impl Strategy<Value = (usize, Map<String, Value>)> {
    (0..METAS.len()).prop_flat_map(|i| (Just(i), body_for(METAS[i])))
}

/// One app under test, on its own runtime.
struct Apps {
    rt: tokio::runtime::Runtime,
    app: TestApp,
    /// An existing row of each resource, to PATCH.
    ids: Vec<String>,
}

/// The shop on `backend` ("sqlite" or "postgres"), made once per test binary.
fn apps(backend: &'static str) -> &'static Apps {
    static SQLITE: OnceLock<Apps> = OnceLock::new();
    static POSTGRES: OnceLock<Apps> = OnceLock::new();
    let cell = if backend == "postgres" {
        &POSTGRES
    } else {
        &SQLITE
    };
    cell.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let (app, ids) = rt.block_on(async {
            let app = match backend {
                "postgres" => TestApp::postgres().await,
                _ => TestApp::sqlite().await,
            };
            let mut ids = Vec::new();
            for meta in METAS {
                let list = app.get(&format!("{}?limit=1", meta.path)).await;
                let id = list
                    .column("id")
                    .first()
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                ids.push(id.unwrap_or_else(|| uuid_nil().to_owned()));
            }
            (app, ids)
        });
        Apps { rt, app, ids }
    })
}

fn uuid_nil() -> &'static str {
    "00000000-0000-0000-0000-000000000000"
}

/// A 2xx, or a 4xx in the contract's error envelope.
fn well_answered(reply: &arc_tests::Reply, what: &str) -> Result<(), TestCaseError> {
    let status = reply.status.as_u16();
    prop_assert!(status < 500, "{what}: {status} {}", reply.body);
    if status >= 400 {
        prop_assert_eq!(
            &reply.body["success"],
            &json!(false),
            "{}: {}",
            what,
            reply.body
        );
        prop_assert!(reply.body["code"].is_string(), "{what}: {}", reply.body);
        prop_assert!(reply.body["error"].is_string(), "{what}: {}", reply.body);
    } else {
        prop_assert_eq!(
            &reply.body["success"],
            &json!(true),
            "{}: {}",
            what,
            reply.body
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn writes_answer_a_success_or_a_4xx((i, map) in any_body(), patch: bool) {
        write("sqlite", i, map, patch)?;
    }

    #[test]
    #[ignore = "needs PostgreSQL"]
    fn writes_answer_a_success_or_a_4xx_on_postgres((i, map) in any_body(), patch: bool) {
        write("postgres", i, map, patch)?;
    }

    #[test]
    fn bulk_creates_answer_a_success_or_a_4xx(items in proptest::collection::vec(body_for(METAS[1]), 1..4)) {
        bulk_create("sqlite", items)?;
    }

    #[test]
    #[ignore = "needs PostgreSQL"]
    fn bulk_creates_answer_a_success_or_a_4xx_on_postgres(items in proptest::collection::vec(body_for(METAS[1]), 1..4)) {
        bulk_create("postgres", items)?;
    }
}

/// POST (or PATCH an existing row of) resource `i` with `map` on `backend`.
fn write(
    backend: &'static str,
    i: usize,
    map: Map<String, Value>,
    patch: bool,
) -> Result<(), TestCaseError> {
    let Apps { rt, app, ids } = apps(backend);
    let meta = METAS[i];
    let (method, uri) = if patch {
        (Method::PATCH, format!("{}/{}", meta.path, ids[i]))
    } else {
        (Method::POST, meta.path.to_owned())
    };
    let body = Value::Object(map);
    let reply = rt.block_on(app.send(method.clone(), &uri, Some(body.clone()), &[]));
    well_answered(&reply, &format!("{backend} {method} {uri} {body}"))
}

/// A bulk create of `items` on `backend`.
fn bulk_create(backend: &'static str, items: Vec<Map<String, Value>>) -> Result<(), TestCaseError> {
    let Apps { rt, app, .. } = apps(backend);
    let body = json!({ "items": items });
    let reply = rt.block_on(app.post("/products/bulk", body.clone()));
    well_answered(&reply, &format!("{backend} bulk {body}"))
}
