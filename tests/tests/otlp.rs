//! OpenTelemetry export: a request's span and its database spans reach an OTLP/HTTP
//! collector (a real HTTP server here, decoding the JSON the exporter posts), under the trace
//! the caller sent and with the span id the answer's `traceparent` names. Its own binary: it
//! installs the process's subscriber.

use std::sync::{Arc, Mutex};

use arc_runtime::Preset;
use arc_runtime::config::Telemetry;
use arc_tests::TestApp;
use axum::http::Method;
use serde_json::Value;

/// Starts a collector on its own thread and runtime (the exporter's flush blocks the test's).
fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let sink = received.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let router = axum::Router::new().route(
                "/v1/traces",
                axum::routing::post(move |body: axum::body::Bytes| async move {
                    let batch: Value = serde_json::from_slice(&body).expect("OTLP JSON");
                    sink.lock().unwrap().push(batch);
                    "{}"
                }),
            );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    (format!("http://{addr}"), received)
}

/// Every span the collector received, with the service name of its resource.
fn spans(received: &Mutex<Vec<Value>>) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for batch in received.lock().unwrap().iter() {
        for resource in batch["resourceSpans"].as_array().unwrap() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].as_str().unwrap().to_owned())
                .unwrap_or_default();
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    out.push((service.clone(), span.clone()));
                }
            }
        }
    }
    out
}

/// `(trace id, span id)` of a `traceparent` value.
fn ids(traceparent: &str) -> (String, String) {
    let parts: Vec<&str> = traceparent.split('-').collect();
    (parts[1].to_owned(), parts[2].to_owned())
}

#[tokio::test]
async fn request_and_database_spans_reach_the_collector() {
    let (endpoint, received) = collector();
    let telemetry = Telemetry::new(Preset::Testing)
        .otlp(endpoint)
        .service_name("shop-under-test")
        .init()
        .expect("subscriber");
    let app = TestApp::sqlite().await;

    // A request continuing the caller's trace.
    let caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{caller_trace}-{caller_span}-01");
    let reply = app
        .send(
            Method::GET,
            "/products?limit=2",
            None,
            &[("traceparent", traceparent.as_str())],
        )
        .await;
    assert_eq!(reply.status, 200);
    let (trace, ours) = ids(reply.header("traceparent").unwrap());
    assert_eq!(trace, caller_trace);
    // A request starting a new trace.
    let fresh = app.get("/categories").await;
    assert_eq!(fresh.status, 200);
    let (fresh_trace, fresh_span) = ids(fresh.header("traceparent").unwrap());
    assert_ne!(fresh_trace, caller_trace);

    telemetry.flush();
    let spans = spans(&received);
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "shop-under-test"),
        "{spans:?}"
    );
    let request = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s["name"] == "request" && s["traceId"] == caller_trace)
        .unwrap_or_else(|| panic!("no request span in {spans:#?}"));
    assert_eq!(
        request["spanId"],
        ours.as_str(),
        "the answer names the exported span"
    );
    assert_eq!(
        request["parentSpanId"], caller_span,
        "a child of the caller's span"
    );
    let attribute = |span: &Value, key: &str| -> Value {
        span["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .map(|a| a["value"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(attribute(request, "route")["stringValue"], "/products");
    assert_eq!(attribute(request, "status")["intValue"], "200");
    assert_eq!(request["kind"], 2, "SPAN_KIND_SERVER");

    // The database calls of that request are its children: the count and the page.
    let statements: Vec<&Value> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s["parentSpanId"] == ours.as_str())
        .collect();
    assert!(statements.len() >= 2, "{statements:#?}");
    for statement in &statements {
        assert!(
            statement["name"].as_str().unwrap().starts_with("sea_orm."),
            "{statement}"
        );
        assert_eq!(statement["traceId"], caller_trace);
        assert_eq!(statement["kind"], 3, "SPAN_KIND_CLIENT");
        assert_eq!(attribute(statement, "db.system")["stringValue"], "sqlite");
        assert_eq!(
            attribute(statement, "db.operation")["stringValue"],
            "SELECT"
        );
    }

    // The new trace is exported under the ids its answer named.
    let started = spans
        .iter()
        .map(|(_, s)| s)
        .find(|s| s["name"] == "request" && s["traceId"] == fresh_trace.as_str())
        .unwrap_or_else(|| panic!("no span for the new trace in {spans:#?}"));
    assert_eq!(started["spanId"], fresh_span.as_str());
    assert!(
        started["parentSpanId"].as_str().unwrap_or("").is_empty(),
        "a root span: {started}"
    );
    app.cleanup().await;
}
