//! What a request leaves in the logs: its span (request id, W3C trace id, route, status) on
//! every line, and its database statements. One test in its own binary: a thread's log
//! subscriber does not mix with other tests' then.

use arc_runtime::App;
use arc_tests::TestApp;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use tower::ServiceExt;

/// Log output captured in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn requests_and_their_statements_are_traced() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A trace is continued, or a new one started; the answer names our span.
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let router = App::new(db)
        .route(
            "/work",
            get(|| async {
                tracing::info!("doing the work");
                "done"
            }),
        )
        .into_router();
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let request = Request::get("/work")
        .header("traceparent", incoming)
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    let res = router.clone().oneshot(request).await.unwrap();
    let out = res.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(
        out.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{out}"
    );
    assert!(!out.contains("00f067aa0ba902b7"), "our own span id");
    let fresh = router
        .oneshot(Request::get("/work").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let fresh = fresh.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(
        !fresh.contains("4bf92f3577b34da6a3ce929d0e0e4736"),
        "a new trace"
    );
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("doing the work") && l.contains("req-42"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
        "{line}"
    );
    assert!(line.contains("route=/work"), "{line}");

    // The shop's statements land in the span of the request that ran them, without values.
    let app = TestApp::sqlite().await;
    let headers = [("x-request-id", "req-db")];
    let reply = app
        .send(axum::http::Method::GET, "/products?limit=1", None, &headers)
        .await;
    assert_eq!(reply.status, 200);
    let text = logs.text();
    let statements: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(arc_runtime::config::STATEMENT_TARGET) && l.contains("req-db"))
        .collect();
    assert!(statements.len() >= 2, "the count and the page: {text}");
    assert!(
        statements
            .iter()
            .all(|l| l.contains("elapsed_ms=") && l.contains("SELECT"))
    );
    assert!(
        !statements.iter().any(|l| l.contains("\"acme\"")),
        "values are not logged"
    );
}
