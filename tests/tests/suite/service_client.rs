//! The service client: the shop's resources through it on a real socket (envelopes
//! unwrapped, errors with their codes, a tenant's rows its own, idempotency keys replayed),
//! retries with one key across a mutation's attempts, `Retry-After`, timeouts, size
//! limits, the request id and `traceparent` carried from the request a call is made for,
//! and the circuit breaker opening, failing fast and closing after a probe, with its gauge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_runtime::client::{Breaker, CircuitState, ClientError, ServiceClient};
use arc_runtime::config::{Metrics, Retry};
use arc_runtime::uuid::Uuid;
use arc_tests::{TestApp, shop_app, shop_token};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// A product as the client reads it.
#[derive(Debug, serde::Deserialize)]
struct ProductView {
    id: Uuid,
    name: String,
    price: i64,
    cost: Option<i64>,
}

/// An order as the client reads it.
#[derive(Debug, serde::Deserialize)]
struct OrderView {
    id: Uuid,
    status: String,
}

fn quick() -> Retry {
    Retry {
        attempts: 3,
        base: Duration::from_millis(5),
        max: Duration::from_millis(20),
    }
}

/// A client of the shop served at `addr`, calling as `token` (`Bearer ..`).
fn shop_client(addr: std::net::SocketAddr, token: &str) -> ServiceClient {
    ServiceClient::builder("shop", format!("http://{addr}"))
        .header("authorization", token)
        .retry(quick())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_shops_resources_through_the_client() {
    let app = TestApp::sqlite_with(shop_app).await;
    let addr = arc_tests::ws::serve(&app.router).await;
    let ada = shop_client(addr, &shop_token("ada", "acme", &["admin"]));
    let products = ada.resource::<shop::Product>().reads_as::<ProductView>();

    let lamp = products
        .create(&json!({"name": "Client lamp", "price": 5, "cost": 2, "status": "active"}))
        .await
        .unwrap();
    assert_eq!(
        (lamp.name.as_str(), lamp.price, lamp.cost),
        ("Client lamp", 5, Some(2))
    );
    assert_eq!(products.get(lamp.id).await.unwrap().id, lamp.id);
    let page = products.list([("name", "Client lamp")]).await.unwrap();
    assert_eq!(page.docs.len(), 1);
    assert_eq!(page.total, Some(1));
    assert!(!page.has_next);
    let changed = products
        .update(lamp.id, &json!({"price": 6}))
        .await
        .unwrap();
    assert_eq!(changed.price, 6);

    // The contract's errors, with their codes and details; a 4xx is not retried.
    let refused = products
        .create(&json!({"name": "", "price": -1}))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), Some(StatusCode::BAD_REQUEST), "{refused}");
    assert_eq!(refused.code(), Some("VALIDATION_ERROR"));
    let ClientError::Status(answer) = &refused else {
        panic!("{refused}")
    };
    let fields: Vec<&str> = answer.details.as_ref().unwrap()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"price") && fields.contains(&"name"),
        "{fields:?}"
    );
    assert!(answer.request_id.is_some());
    let missing = products.get(Uuid::new_v4()).await.unwrap_err();
    assert_eq!(missing.code(), Some("NOT_FOUND"), "{missing}");
    // An id cannot leave its path segment.
    let escaped = products.get("../orders").await.unwrap_err();
    assert_eq!(escaped.code(), Some("NOT_FOUND"), "{escaped}");
    for id in ["..", ".", "%2e%2E", ""] {
        let refused = products.get(id).await.unwrap_err();
        assert!(
            matches!(refused, ClientError::Request { .. }),
            "{id}: {refused}"
        );
    }
    // An organization is one segment too (the members of `/organizations/{orgId}/members`).
    let members = ada
        .resource::<arc_runtime::orgs::Member>()
        .reads_as::<Value>();
    let refused = members.clone().in_org("..").get("x").await.unwrap_err();
    assert!(matches!(refused, ClientError::Request { .. }), "{refused}");
    let climbing = members
        .clone()
        .in_org("acme/../../admin")
        .get("x")
        .await
        .unwrap_err();
    assert_eq!(
        climbing.code(),
        Some("NOT_FOUND"),
        "stays a segment: {climbing}"
    );

    // Another organization's admin: the row is not theirs to see, nor to change.
    let gwen = shop_client(addr, &shop_token("gwen", "globex", &["admin"]));
    let theirs = gwen.resource::<shop::Product>().reads_as::<ProductView>();
    assert_eq!(
        theirs.get(lamp.id).await.unwrap_err().code(),
        Some("NOT_FOUND")
    );
    let moved = theirs
        .update(lamp.id, &json!({"price": 1}))
        .await
        .unwrap_err();
    assert_eq!(moved.code(), Some("NOT_FOUND"));
    // Anonymous: 401.
    let anonymous = ServiceClient::builder("shop", format!("http://{addr}"))
        .build()
        .unwrap();
    let unauthorized = anonymous
        .resource::<shop::Order>()
        .reads_as::<Value>()
        .list([("limit", "1")])
        .await
        .unwrap_err();
    assert_eq!(unauthorized.code(), Some("UNAUTHORIZED"), "{unauthorized}");

    // An action; an order placed twice under one idempotency key is placed once.
    let carl = shop_client(addr, &shop_token("carl", "acme", &["member"]));
    let orders = carl.resource::<shop::Order>().reads_as::<OrderView>();
    let body = json!({"product_id": lamp.id, "quantity": 1});
    let place = || {
        carl.post("/orders")
            .json(&body)
            .idempotency_key("order-7")
            .send()
    };
    let (first, again) = (place().await.unwrap(), place().await.unwrap());
    assert_eq!(again.headers["x-idempotency-replayed"], "true");
    let order: Value = first.json().unwrap();
    assert_eq!(
        again.json::<Value>().unwrap()["data"]["id"],
        order["data"]["id"]
    );
    let id = order["data"]["id"].as_str().unwrap();
    let cancelled = orders
        .action(id, "cancel", &json!({"reason": "changed my mind"}))
        .await
        .unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(cancelled.id.to_string(), id);
    let listed = orders.list([("status", "cancelled")]).await.unwrap();
    assert_eq!(listed.docs.len(), 1);

    let deleted = products.delete(lamp.id).await.unwrap();
    assert_eq!(deleted.id, lamp.id.to_string());
    assert_eq!(
        products.get(lamp.id).await.unwrap_err().code(),
        Some("NOT_FOUND")
    );
    app.cleanup().await;
}

/// A request a stub received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    headers: HeaderMap,
}

/// What a stub answers to its `n`th request (0-based).
type Script =
    dyn Fn(usize) -> (StatusCode, Vec<(&'static str, String)>, String, Duration) + Send + Sync;

/// A service on a real socket that keeps what it receives and answers as its script says.
#[derive(Clone)]
struct Stub {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    async fn start(
        script: impl Fn(usize) -> (StatusCode, Vec<(&'static str, String)>, String, Duration)
        + Send
        + Sync
        + 'static,
    ) -> Stub {
        let script: Arc<Script> = Arc::new(script);
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let kept = seen.clone();
        let count = Arc::new(AtomicUsize::new(0));
        let app =
            axum::Router::new().fallback(move |method: axum::http::Method, headers: HeaderMap| {
                let (script, kept, count) = (script.clone(), kept.clone(), count.clone());
                async move {
                    kept.lock().unwrap().push(Seen {
                        method: method.to_string(),
                        headers,
                    });
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let (status, headers, body, delay) = script(n);
                    tokio::time::sleep(delay).await;
                    let mut answer = (status, body).into_response();
                    for (name, value) in headers {
                        answer.headers_mut().insert(name, value.parse().unwrap());
                    }
                    answer
                }
            });
        let addr = arc_tests::ws::serve(&app).await;
        Stub {
            base: format!("http://{addr}"),
            seen,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// `at` as an HTTP date (`Sun, 06 Dec 2026 20:00:00 GMT`).
fn httpdate_of(at: std::time::SystemTime) -> String {
    let at: arc_runtime::chrono::DateTime<arc_runtime::chrono::Utc> = at.into();
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn ok(body: Value) -> (StatusCode, Vec<(&'static str, String)>, String, Duration) {
    (
        StatusCode::OK,
        vec![("content-type", "application/json".into())],
        body.to_string(),
        Duration::ZERO,
    )
}

fn status(code: u16) -> (StatusCode, Vec<(&'static str, String)>, String, Duration) {
    let status = StatusCode::from_u16(code).unwrap();
    let body =
        json!({"success": false, "error": "scripted", "code": "SCRIPTED", "requestId": "stub-1"});
    (status, Vec::new(), body.to_string(), Duration::ZERO)
}

#[tokio::test]
async fn mutations_are_retried_under_one_key_and_errors_are_not() {
    // Two 503s, then the answer.
    let stub = Stub::start(|n| {
        if n < 2 {
            status(503)
        } else {
            ok(json!({"id": 1}))
        }
    })
    .await;
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(quick())
        .build()
        .unwrap();
    let answer = client
        .post("/things")
        .json(&json!({"a": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.json::<Value>().unwrap(), json!({"id": 1}));
    let seen = stub.seen();
    assert_eq!(seen.len(), 3);
    let keys: Vec<&str> = seen
        .iter()
        .map(|s| s.headers["idempotency-key"].to_str().unwrap())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    Uuid::parse_str(keys[0]).unwrap();
    assert_eq!(seen[0].headers["content-type"], "application/json");
    assert!(
        seen[0].headers["user-agent"]
            .to_str()
            .unwrap()
            .starts_with("arc-rs/")
    );
    // Made outside a request: no request id, no trace to continue.
    assert!(seen[0].headers.get("x-request-id").is_none());
    assert!(seen[0].headers.get("traceparent").is_none());
    // Another call, another key; reads carry none.
    client
        .patch("/things/1")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    client.get("/things").send().await.unwrap();
    let seen = stub.seen();
    assert_ne!(seen[3].headers["idempotency-key"], keys[0]);
    assert_eq!(seen[4].method, "GET");
    assert!(seen[4].headers.get("idempotency-key").is_none());

    // A 4xx is final: one request, the envelope's code.
    let stub = Stub::start(|_| status(422)).await;
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(quick())
        .build()
        .unwrap();
    let refused = client.get("/x").send().await.unwrap_err();
    assert_eq!(refused.code(), Some("SCRIPTED"));
    assert_eq!(stub.seen().len(), 1);
    // A 5xx after the last attempt: the last answer.
    let stub = Stub::start(|_| status(500)).await;
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(quick())
        .build()
        .unwrap();
    let failed = client.delete("/x").send().await.unwrap_err();
    assert_eq!(failed.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(stub.seen().len(), 3);
    // 429 and 409 in flight, with Retry-After: waited for, then the answer.
    let stub = Stub::start(|n| match n {
        0 => {
            let (s, _, b, d) = status(429);
            (s, vec![("retry-after", "0".into())], b, d)
        }
        1 => {
            let (s, _, b, d) = status(409);
            (s, vec![("retry-after", "0".into())], b, d)
        }
        _ => ok(json!({})),
    })
    .await;
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(quick())
        .build()
        .unwrap();
    client.post("/x").send().await.unwrap();
    assert_eq!(stub.seen().len(), 3);
    // A mutation that may have been applied (500, 502, 504, no answer in time) is final,
    // unless the client is told the service keeps idempotency keys.
    let stub = Stub::start(|_| status(500)).await;
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(quick())
        .build()
        .unwrap();
    let failed = client.post("/x").json(&json!({})).send().await.unwrap_err();
    assert_eq!(failed.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(
        stub.seen().len(),
        1,
        "not repeated: it may have been applied"
    );
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(quick())
        .retry_mutations()
        .build()
        .unwrap();
    client
        .patch("/x")
        .json(&json!({}))
        .send()
        .await
        .unwrap_err();
    assert_eq!(stub.seen().len(), 4, "repeated under one key when told");
    // Retry-After as an HTTP date is waited for too.
    let when = std::time::SystemTime::now() + Duration::from_secs(2);
    let date = httpdate_of(when);
    let stub = Stub::start(move |n| {
        if n == 0 {
            let (s, _, b, d) = status(503);
            (s, vec![("retry-after", date.clone())], b, d)
        } else {
            ok(json!({}))
        }
    })
    .await;
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(Retry {
            attempts: 2,
            base: Duration::from_millis(1),
            max: Duration::from_secs(5),
        })
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    client.get("/x").send().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    // A 409 without Retry-After is a conflict: final.
    let stub = Stub::start(|_| status(409)).await;
    let client = ServiceClient::builder("stub", &stub.base)
        .retry(quick())
        .build()
        .unwrap();
    assert_eq!(
        client.post("/x").send().await.unwrap_err().status(),
        Some(StatusCode::CONFLICT)
    );
    assert_eq!(stub.seen().len(), 1);
}

#[tokio::test]
async fn timeouts_unreachable_services_and_oversized_answers() {
    let stub = Stub::start(|_| {
        let (s, h, b, _) = ok(json!({}));
        (s, h, b, Duration::from_millis(500))
    })
    .await;
    let client = ServiceClient::builder("slow", &stub.base)
        .timeout(Duration::from_millis(50))
        .retry(Retry {
            attempts: 2,
            ..quick()
        })
        .build()
        .unwrap();
    let late = client.get("/x").send().await.unwrap_err();
    assert!(matches!(late, ClientError::Timeout { .. }), "{late}");
    assert_eq!(stub.seen().len(), 2);

    // Nothing listens: a transport error after the attempts.
    let port = {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap().port()
    };
    let client = ServiceClient::builder("gone", format!("http://127.0.0.1:{port}"))
        .retry(quick())
        .build()
        .unwrap();
    let gone = client.get("/x").send().await.unwrap_err();
    assert!(matches!(gone, ClientError::Transport { .. }), "{gone}");

    let stub = Stub::start(|_| ok(json!({"blob": "x".repeat(4096)}))).await;
    let client = ServiceClient::builder("big", &stub.base)
        .max_response(1024)
        .build()
        .unwrap();
    let big = client.get("/x").send().await.unwrap_err();
    assert!(
        matches!(big, ClientError::TooLarge { limit: 1024, .. }),
        "{big}"
    );

    // What cannot be a call is refused before anything is sent.
    for base in ["not a url", "ftp://host/", "http://host/?q=1"] {
        let made = ServiceClient::builder("bad", base).build();
        assert!(matches!(made, Err(ClientError::Request { .. })), "{base}");
    }
    let made = ServiceClient::builder("bad", &stub.base)
        .header("bad header", "x")
        .build();
    assert!(matches!(made, Err(ClientError::Request { .. })));
    let client = ServiceClient::builder("stub", format!("{}/base/", stub.base))
        .build()
        .unwrap();
    let bad_path = client.get("relative").send().await.unwrap_err();
    assert!(
        matches!(bad_path, ClientError::Request { .. }),
        "{bad_path}"
    );
    for path in ["/a/../../b", "/a/%2e%2E/b", "/a\\..\\b", "/.", "/x/.."] {
        let refused = client.get(path).send().await.unwrap_err();
        assert!(
            matches!(refused, ClientError::Request { .. }),
            "{path}: {refused}"
        );
    }
    let bad_header = client
        .get("/x")
        .header("x-ok", "bad\nvalue")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(bad_header, ClientError::Request { .. }),
        "{bad_header}"
    );
    let before = stub.seen().len();
    client
        .get("/under")
        .query([("q", "a b&c")])
        .send()
        .await
        .unwrap();
    assert_eq!(stub.seen().len(), before + 1);
}

#[tokio::test]
async fn the_request_id_and_trace_go_with_calls_made_for_a_request() {
    let stub = Stub::start(|_| ok(json!({"pong": true}))).await;
    let client = ServiceClient::builder("stub", &stub.base).build().unwrap();
    let relay = axum::routing::get(move || {
        let client = client.clone();
        async move {
            let answer = client.get("/ping").send().await.unwrap();
            axum::Json(answer.json::<Value>().unwrap())
        }
    });
    let app = TestApp::sqlite_with(|db| shop_app(db).route("/relay", relay)).await;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let caller_span = "b7ad6b7169203331";
    let answer = app
        .send(
            axum::http::Method::GET,
            "/relay",
            None,
            &[
                ("x-request-id", "relay-42"),
                ("traceparent", &format!("00-{trace}-{caller_span}-01")),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["pong"], true);
    let seen = stub.seen();
    assert_eq!(seen[0].headers["x-request-id"], "relay-42");
    let traceparent = seen[0].headers["traceparent"].to_str().unwrap().to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts[1], trace, "{traceparent}");
    assert_ne!(
        parts[2], caller_span,
        "the callee's parent is this server's span"
    );
    app.cleanup().await;
}

#[tokio::test]
async fn the_breaker_opens_fails_fast_and_closes_after_a_probe() {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let down = failing.clone();
    let stub = Stub::start(move |_| {
        if down.load(Ordering::SeqCst) {
            status(503)
        } else {
            ok(json!({}))
        }
    })
    .await;
    let metrics = Metrics::new();
    let client = ServiceClient::builder("flaky", &stub.base)
        .retry(Retry {
            attempts: 1,
            ..quick()
        })
        .breaker(Breaker {
            failures: 3,
            open_for: Duration::from_millis(200),
            probes: 1,
        })
        .metrics(metrics.clone())
        .build()
        .unwrap();
    let gauge = |value: u8| format!("arc_circuit_breaker_state{{service=\"flaky\"}} {value}");
    assert!(metrics.render().contains(&gauge(0)), "{}", metrics.render());

    for _ in 0..3 {
        let failed = client.get("/x").send().await.unwrap_err();
        assert_eq!(failed.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }
    assert_eq!(client.circuit(), CircuitState::Open);
    assert!(metrics.render().contains(&gauge(1)), "{}", metrics.render());
    // Open: the call fails at once, the service hears nothing.
    let fast = client.get("/x").send().await.unwrap_err();
    assert!(matches!(fast, ClientError::CircuitOpen { .. }), "{fast}");
    assert_eq!(stub.seen().len(), 3);

    // After open_for, one probe; it fails: open again.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(client.circuit(), CircuitState::HalfOpen);
    client.get("/x").send().await.unwrap_err();
    assert_eq!(client.circuit(), CircuitState::Open);
    assert_eq!(stub.seen().len(), 4);
    // The service recovers: the next probe closes it.
    failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(250)).await;
    client.get("/x").send().await.unwrap();
    assert_eq!(client.circuit(), CircuitState::Closed);
    assert!(metrics.render().contains(&gauge(0)), "{}", metrics.render());

    // The circuit opening during a call's retries: the call says what the service answered.
    let stub = Stub::start(|_| status(503)).await;
    let client = ServiceClient::builder("busy", &stub.base)
        .retry(Retry {
            attempts: 5,
            ..quick()
        })
        .breaker(Breaker {
            failures: 3,
            open_for: Duration::from_secs(60),
            probes: 1,
        })
        .build()
        .unwrap();
    let failed = client.get("/x").send().await.unwrap_err();
    assert_eq!(
        failed.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{failed}"
    );
    assert_eq!(stub.seen().len(), 3, "attempts count toward the circuit");
    assert_eq!(client.circuit(), CircuitState::Open);

    // A 4xx is the service working: it never opens the circuit.
    let stub = Stub::start(|_| status(404)).await;
    let client = ServiceClient::builder("strict", &stub.base)
        .breaker(Breaker {
            failures: 1,
            ..Breaker::default()
        })
        .build()
        .unwrap();
    for _ in 0..3 {
        client.get("/x").send().await.unwrap_err();
    }
    assert_eq!(client.circuit(), CircuitState::Closed);
}
