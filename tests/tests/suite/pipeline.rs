//! The production pipeline around the resources: health, metrics, the error envelope for
//! panics and timeouts, load shedding, graceful shutdown.

use std::time::Duration;

use arc_runtime::App;
use arc_runtime::config::Health;
use arc_tests::TestApp;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use openmetrics_parser::PrometheusValue;
use serde_json::Value;
use tower::ServiceExt;

async fn db() -> arc_runtime::sea_orm::DatabaseConnection {
    arc_runtime::connect("sqlite::memory:").await.unwrap()
}

async fn call(
    router: &axum::Router,
    uri: &str,
) -> (StatusCode, axum::http::HeaderMap, Value, String) {
    let res = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[tokio::test]
async fn health_live_and_ready_with_checks() {
    let db = db().await;
    let router = App::new(db.clone()).into_router();
    let (status, _, body, _) = call(&router, "/_health/live").await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("live"))
    );
    let (status, _, body, _) = call(&router, "/_health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"][0]["name"], "database");
    assert_eq!(body["checks"][0]["status"], "ok");

    let health = Health::new()
        .check("search", false, Duration::from_secs(1), || async {
            Err("index offline".into())
        })
        .check("queue", true, Duration::from_millis(50), || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        });
    let router = App::new(db.clone()).health(health).into_router();
    let (status, headers, body, _) = call(&router, "/_health/ready").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    assert_eq!(
        body["error"], "Not ready: queue failed",
        "the non-critical check does not fail it"
    );
    assert!(headers.contains_key("x-request-id"));
    let checks = body["details"]["checks"].as_array().unwrap();
    let queue = checks.iter().find(|c| c["name"] == "queue").unwrap();
    assert!(queue["error"].as_str().unwrap().contains("timed out"));
    // A check's own error text can name hosts and users: only development shows it.
    let search = checks.iter().find(|c| c["name"] == "search").unwrap();
    assert_eq!(search["error"], "failed; the server log has the cause");
    let leaky = || {
        Health::new().check("search", false, Duration::from_secs(1), || async {
            Err("redis://admin:hunter2@10.0.0.5 refused".into())
        })
    };
    let router = App::new(db.clone()).health(leaky()).into_router();
    let (_, _, _, text) = call(&router, "/_health/ready").await;
    assert!(!text.contains("hunter2"), "{text}");
    let router = App::new(db.clone())
        .preset(arc_runtime::Preset::Development)
        .health(leaky())
        .into_router();
    let (_, _, body, _) = call(&router, "/_health/ready").await;
    assert!(
        body["checks"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("10.0.0.5")),
        "{body}"
    );

    // The database itself goes away.
    let router = App::new(db.clone()).into_router();
    db.close_by_ref().await.unwrap();
    let (status, _, body, _) = call(&router, "/_health/ready").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"], "Not ready: database failed");
    assert_eq!(
        call(&router, "/_health/live").await.0,
        200,
        "alive all the same"
    );
}

#[tokio::test]
async fn metrics_use_route_templates_and_parse_as_prometheus() {
    let app = TestApp::sqlite().await;
    let product = app.get("/products?limit=1").await.body["docs"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/products/{product}")).await.status, 200);
    }
    assert_eq!(
        app.get("/products/00000000-0000-0000-0000-000000000000")
            .await
            .status,
        404
    );
    assert_eq!(app.get("/no/such/route").await.status, 404);
    let slug = app.get("/products?limit=1").await.body["docs"][0]["slug"].clone();
    let by_slug = app
        .get(&format!("/products/slug/{}", slug.as_str().unwrap()))
        .await;
    assert_eq!(by_slug.status, 200);
    let res = app
        .router
        .clone()
        .oneshot(Request::get("/_metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "Prometheus text format"
    );
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(!text.contains(&product), "no raw ids in labels");
    let exposition =
        openmetrics_parser::prometheus::parse_prometheus(&text).expect("valid Prometheus text");
    let family = |name: &str| {
        exposition
            .families
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let matches = |sample: &openmetrics_parser::Sample<PrometheusValue>,
                   labels: &[(&str, &str)]| {
        let set = sample.get_labelset().unwrap();
        labels
            .iter()
            .all(|(k, v)| set.get_label_value(k) == Some(*v))
    };
    let counter = |name: &str, labels: &[(&str, &str)]| -> f64 {
        family(name)
            .iter_samples()
            .filter(|s| matches(s, labels))
            .map(|s| match &s.value {
                PrometheusValue::Counter(c) => c.value.as_f64(),
                other => panic!("{name} is not a counter: {other:?}"),
            })
            .sum()
    };
    let get = [
        ("method", "GET"),
        ("route", "/products/{id}"),
        ("status", "200"),
    ];
    assert_eq!(counter("arc_http_requests_total", &get), 3.0, "{text}");
    let missing = [("route", "/products/{id}"), ("status", "404")];
    assert_eq!(counter("arc_http_requests_total", &missing), 1.0);
    let unmatched = [("route", "unmatched"), ("status", "404")];
    assert_eq!(counter("arc_http_requests_total", &unmatched), 1.0);
    let crud = |outcome| {
        [
            ("resource", "product"),
            ("operation", "get"),
            ("outcome", outcome),
        ]
    };
    assert_eq!(counter("arc_crud_operations_total", &crud("ok")), 3.0);
    assert_eq!(counter("arc_crud_operations_total", &crud("error")), 1.0);
    // One vocabulary: the label is the route table's (and the document's) name of the action.
    let slug_lookups = [("resource", "product"), ("operation", "get_by_slug")];
    assert_eq!(counter("arc_crud_operations_total", &slug_lookups), 1.0);
    let durations = family("arc_http_request_duration_seconds");
    let histogram = durations
        .iter_samples()
        .find(|s| matches(s, &get))
        .expect("a duration histogram of the route");
    match &histogram.value {
        PrometheusValue::Histogram(h) => {
            assert!(h.buckets.iter().any(|b| b.upper_bound == 0.005));
            assert_eq!(h.count, Some(3));
            let last = h.buckets.last().unwrap();
            assert_eq!(
                last.count.as_f64(),
                3.0,
                "every request counted in the last bucket"
            );
        }
        other => panic!("not a histogram: {other:?}"),
    }
}

#[tokio::test]
async fn metrics_can_ask_for_a_scraper_token() {
    use arc_runtime::config::Metrics;
    let router = App::new(db().await)
        .metrics(Metrics::new().bearer_token("scrape-me"))
        .into_router();
    let (status, headers, body, _) = call(&router, "/_metrics").await;
    assert_error_body(status, &body, 401, "UNAUTHORIZED");
    assert!(headers.contains_key("www-authenticate"));
    let with = |token: &'static str| {
        Request::get("/_metrics")
            .header("authorization", token)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&router, with("Bearer wrong")).await.status(), 401);
    let res = send(&router, with("Bearer scrape-me")).await;
    assert_eq!(res.status(), 200);
    let text = res.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("arc_http_requests_total"));
}

/// The default metrics are made when first needed, once: the handle an app hands out before
/// it is built is the recorder its pipeline records into and `/_metrics` renders; an app
/// without metrics has neither.
#[tokio::test]
async fn the_default_metrics_are_made_once_when_first_needed() {
    let app = App::new(db().await);
    let handle = app
        .metrics_handle()
        .expect("metrics are on by default")
        .clone();
    let router = app.into_router();
    let (status, ..) = call(&router, "/_health/live").await;
    assert_eq!(status, 200);
    assert!(handle.render().contains("arc_http_requests_total"));
    let (status, _, _, served) = call(&router, "/_metrics").await;
    assert_eq!(status, 200);
    assert!(served.contains("arc_http_requests_total"), "{served}");

    let off = App::new(db().await).without_metrics();
    assert!(off.metrics_handle().is_none());
    let (status, ..) = call(&off.into_router(), "/_metrics").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn panics_and_timeouts_answer_in_the_envelope() {
    let router = App::new(db().await)
        .route(
            "/boom",
            get(
                |axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
                    if q.is_none() {
                        panic!("secret internals: db password is hunter2");
                    }
                    "no panic"
                },
            ),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .timeout(Duration::from_millis(100))
        .into_router();
    // The clock stands still from here and jumps to the next timer when every task waits:
    // the timeout fires before the handler's sleep, however loaded the machine. (Not
    // before: the database's connect and pool timeouts would fire while it works on its
    // own thread.)
    tokio::time::pause();
    let (status, headers, body, text) = call(&router, "/boom").await;
    assert_eq!(status, 500);
    assert_eq!(body["code"], "INTERNAL_ERROR");
    assert_eq!(body["requestId"], headers["x-request-id"].to_str().unwrap());
    assert!(!text.contains("hunter2"), "{text}");
    let (status, _, body, _) = call(&router, "/slow").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    assert!(body["requestId"].is_string());
}

#[tokio::test]
async fn load_is_shed_with_retry_after() {
    let router = App::new(db().await)
        .route(
            "/work",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        )
        .max_in_flight(1)
        .into_router();
    // Paused time (after the database is set up, as above): the second request arrives
    // 50 ms into the first one's 300 ms, whatever the machine's load.
    tokio::time::pause();
    let (a, b) = tokio::join!(call(&router, "/work"), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        call(&router, "/work").await
    });
    assert_eq!(a.0, 200);
    assert_eq!(b.0, 503, "{}", b.2);
    assert_eq!(b.2["code"], "SERVICE_UNAVAILABLE");
    assert_eq!(b.1["retry-after"], "1");
    assert_eq!(
        b.2["requestId"],
        b.1["x-request-id"].to_str().unwrap(),
        "a shed request is answered under its id"
    );
    assert_eq!(call(&router, "/work").await.0, 200, "capacity is back");
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let health = Health::new();
    let draining = health.draining();
    let hook_ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = hook_ran.clone();
    let app = App::new(db().await)
        .on_shutdown(move || async move {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        })
        .health(health)
        .route(
            "/work",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(400)).await;
                "done"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve_until(listener, async {
        stopped.await.ok();
    }));
    let requests: Vec<_> = (0..8)
        .map(|_| tokio::spawn(raw_get(addr, "/work")))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(draining.is_set(), "readiness turns 503 while draining");
    for request in requests {
        let response = request.await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with("done"));
    }
    server.await.unwrap().unwrap();
    assert!(
        hook_ran.load(std::sync::atomic::Ordering::SeqCst),
        "shutdown hooks ran"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}

/// A GET over a new connection; the raw response.
async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn readiness_is_503_while_draining() {
    let health = Health::new();
    let router = App::new(db().await).health(health.clone()).into_router();
    assert_eq!(call(&router, "/_health/ready").await.0, 200);
    health.draining().set();
    let (status, headers, body, _) = call(&router, "/_health/ready").await;
    assert_error_body(status, &body, 503, "SERVICE_UNAVAILABLE");
    assert!(headers.contains_key("retry-after"));
}

fn assert_error_body(status: StatusCode, body: &Value, expected: u16, code: &str) {
    assert_eq!(status.as_u16(), expected, "{body}");
    assert_eq!(body["code"], code);
    assert_eq!(body["success"], false);
}

async fn send(router: &axum::Router, req: Request<Body>) -> axum::response::Response {
    router.clone().oneshot(req).await.unwrap()
}

#[tokio::test]
async fn security_headers_cors_and_compression() {
    use arc_runtime::config::Cors;
    let cors = Cors::origins(&["https://shop.example"])
        .unwrap()
        .with_credentials()
        .unwrap();
    let router = App::new(db().await)
        .preset(arc_runtime::Preset::Production)
        .cors(cors)
        .into_router();
    let res = send(
        &router,
        Request::get("/_health/live").body(Body::empty()).unwrap(),
    )
    .await;
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
    ] {
        assert_eq!(res.headers()[name], value);
    }
    assert!(
        res.headers().contains_key("strict-transport-security"),
        "production sends HSTS"
    );

    let preflight = |origin: &'static str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/_health/live")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = send(&router, preflight("https://shop.example")).await;
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let other = send(&router, preflight("https://evil.example")).await;
    assert!(!other.headers().contains_key("access-control-allow-origin"));

    assert!(
        Cors::any().with_credentials().is_err(),
        "credentials need explicit origins"
    );
    assert!(Cors::origins(&["shop.example"]).is_err());
    assert!(Cors::origins(&["https://shop.example/path"]).is_err());

    let big = Request::get("/_metrics")
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .unwrap();
    // Make the metrics text long enough to be worth compressing.
    for _ in 0..20 {
        send(
            &router,
            Request::get("/_health/live").body(Body::empty()).unwrap(),
        )
        .await;
    }
    let res = send(&router, big).await;
    assert_eq!(res.headers()["content-encoding"], "gzip");
}

/// Compression without CORS sits in the pipeline's layer, which gives the request ids: a
/// compressed answer still carries its id and trace, and the id given is the one echoed.
#[tokio::test]
async fn compressed_answers_keep_their_request_id_and_trace() {
    let router = App::new(db().await).compression(true).into_router();
    for _ in 0..20 {
        send(
            &router,
            Request::get("/_health/live").body(Body::empty()).unwrap(),
        )
        .await;
    }
    let res = send(
        &router,
        Request::get("/_metrics")
            .header("accept-encoding", "gzip")
            .header("x-request-id", "given-1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.headers()["x-request-id"], "given-1");
    assert!(res.headers().contains_key("traceparent"));
    let plain = send(
        &router,
        Request::get("/_metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(!plain.headers().contains_key("content-encoding"));
    assert_eq!(plain.headers()["x-request-id"].len(), 32);
}

/// With compression on, a resource's answer that compression may encode varies on
/// `accept-encoding` once, named in its own `Vary` (not appended as a second one), whether or
/// not this caller asked for gzip; an answer too small to encode does not vary on it.
#[tokio::test]
async fn compressible_answers_vary_on_the_encoding_once() {
    let app = TestApp::sqlite_with(|db| arc_tests::shop_app(db).compression(true)).await;
    let names = |headers: &axum::http::HeaderMap| -> Vec<String> {
        headers
            .get_all("vary")
            .iter()
            .flat_map(|v| v.to_str().unwrap().split(','))
            .map(|name| name.trim().to_owned())
            .collect()
    };
    for accept in [None, Some("gzip")] {
        let mut req = Request::get("/products?limit=20");
        for (name, value) in &app.default_headers {
            req = req.header(name, value);
        }
        if let Some(accept) = accept {
            req = req.header("accept-encoding", accept);
        }
        let raw = app
            .router
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(raw.status(), StatusCode::OK);
        assert_eq!(
            raw.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            accept,
            "encoded exactly when asked"
        );
        assert_eq!(raw.headers().get_all("vary").iter().count(), 1, "one Vary");
        let mut listed = names(raw.headers());
        listed.sort_unstable();
        assert_eq!(
            listed,
            [
                "accept-encoding",
                "authorization",
                "x-api-key",
                "x-arc-scope",
                "x-organization-id"
            ]
        );
    }
    // A 304 varies as its 200 does.
    let list = app.get("/products?limit=20").await;
    let tag = list.header("etag").expect("an ETag").to_owned();
    let not_modified = app
        .send(
            axum::http::Method::GET,
            "/products?limit=20",
            None,
            &[("if-none-match", &tag)],
        )
        .await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(names(&not_modified.headers), names(&list.headers));
    assert!(names(&list.headers).contains(&"accept-encoding".to_owned()));
    // A 404's body is too small to encode: it does not vary on the encoding.
    let missing = app
        .get("/products/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        names(&missing.headers),
        [
            "authorization",
            "x-api-key",
            "x-organization-id",
            "x-arc-scope"
        ]
    );
    // Without compression, no answer varies on it.
    let plain = TestApp::sqlite_with(|db| arc_tests::shop_app(db).compression(false)).await;
    let list = plain.get("/products?limit=20").await;
    assert_eq!(list.status, 200);
    assert!(!names(&list.headers).contains(&"accept-encoding".to_owned()));
}

#[tokio::test]
async fn presets_decide_causes_and_refuse_to_start_without_secrets() {
    use arc_runtime::Preset;
    let failing =
        || get(|| async { Err::<&str, _>(arc_runtime::ArcError::internal("disk on fire")) });
    let dev = App::new(db().await)
        .preset(Preset::Development)
        .route("/fail", failing())
        .into_router();
    let (status, _, body, _) = call(&dev, "/fail").await;
    assert_eq!(status, 500);
    assert_eq!(
        body["details"]["cause"], "disk on fire",
        "development shows the cause"
    );
    let prod = App::new(db().await)
        .preset(Preset::Production)
        .cursor_secret(b"shared")
        .route("/fail", failing())
        .into_router();
    let (status, _, body, text) = call(&prod, "/fail").await;
    assert_eq!(status, 500);
    assert_eq!(body["code"], "INTERNAL_ERROR");
    assert!(!text.contains("disk"), "production never does: {text}");

    let app = App::new(db().await).preset(Preset::Production);
    assert_eq!(app.problems().len(), 1);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = app.serve_until(listener, std::future::pending()).await;
    assert!(refused.unwrap_err().to_string().contains("cursor secret"));
    assert!("staging".parse::<Preset>().is_err());
    assert_eq!("prod".parse::<Preset>(), Ok(Preset::Production));
}

#[tokio::test]
async fn etags_and_conditional_gets() {
    use axum::http::Method;
    let app = TestApp::sqlite().await;
    let list = app.get("/products?limit=5").await;
    let weak = list.header("etag").unwrap().to_owned();
    assert!(weak.starts_with("W/\""), "lists get weak tags: {weak}");
    let again = app
        .send(
            Method::GET,
            "/products?limit=5",
            None,
            &[("if-none-match", &weak)],
        )
        .await;
    assert_eq!(again.status, 304);
    assert_eq!(again.body, Value::Null, "no body");
    assert_eq!(again.header("etag"), Some(weak.as_str()));

    let id = list.body["docs"][0]["id"].as_str().unwrap().to_owned();
    let uri = format!("/products/{id}");
    let one = app.get(&uri).await;
    let strong = one.header("etag").unwrap().to_owned();
    assert!(strong.starts_with('"'));
    let cached = app
        .send(Method::GET, &uri, None, &[("if-none-match", &strong)])
        .await;
    assert_eq!(cached.status, 304);
    app.patch(&uri, serde_json::json!({"price": 123})).await;
    let changed = app
        .send(Method::GET, &uri, None, &[("if-none-match", &strong)])
        .await;
    assert_eq!(changed.status, 200, "a write changes the representation");
    assert_ne!(changed.header("etag"), Some(strong.as_str()));

    // What another caller sees is another representation, with another tag.
    let member = arc_tests::shop_token("carl", "acme", &[]);
    let theirs = app
        .send(
            Method::GET,
            &uri,
            None,
            &[
                ("authorization", &member),
                ("if-none-match", changed.header("etag").unwrap()),
            ],
        )
        .await;
    assert_eq!(
        theirs.status, 200,
        "carl does not see cost, so his body differs"
    );
    // Two members see the same bytes, but each one's tag is their own: an ETag never lets
    // one caller's cached copy stand for another's.
    let cleo = arc_tests::shop_token("cleo", "acme", &[]);
    let cleos = app
        .send(
            Method::GET,
            &uri,
            None,
            &[
                ("authorization", &cleo),
                ("if-none-match", theirs.header("etag").unwrap()),
            ],
        )
        .await;
    assert_eq!(cleos.status, 200);
    assert_eq!(cleos.body, theirs.body);
    assert_ne!(cleos.header("etag"), theirs.header("etag"));
    // Shared caches keep per-caller answers apart, and keep signed-in answers to themselves.
    for reply in [&theirs, &cleos, &list, &one] {
        assert_eq!(reply.header("cache-control"), Some("private, no-cache"));
        assert_eq!(
            reply.header("vary"),
            Some("authorization, x-api-key, x-organization-id, x-arc-scope")
        );
    }
    let not_modified = app
        .send(
            Method::GET,
            &uri,
            None,
            &[
                ("authorization", &cleo),
                ("if-none-match", cleos.header("etag").unwrap()),
            ],
        )
        .await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(
        not_modified.header("cache-control"),
        Some("private, no-cache")
    );
    assert!(not_modified.header("vary").is_some());
    let public = app
        .send(Method::GET, "/categories", None, &[("authorization", "")])
        .await;
    assert_eq!(public.header("cache-control"), Some("no-cache"));
    assert!(public.header("vary").unwrap().contains("authorization"));
    assert!(
        app.post("/products", serde_json::json!({"name": "x", "price": 1}))
            .await
            .header("etag")
            .is_none()
    );
    let missing = app
        .get("/products/00000000-0000-0000-0000-000000000000")
        .await;
    assert!(missing.header("etag").is_none(), "errors are not tagged");
}

#[tokio::test]
async fn rate_limits_per_user_with_headers() {
    use arc_runtime::config::{KeyBy, RateLimit};
    use axum::http::Method;
    fn limited(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
        arc_tests::shop_app(db).rate_limit(RateLimit::new(2, Duration::from_secs(60), KeyBy::User))
    }
    let app = TestApp::sqlite_with(limited).await;
    let ada = arc_tests::acme_admin();
    let carl = arc_tests::shop_token("carl", "acme", &[]);
    let mut replies = Vec::new();
    for _ in 0..3 {
        let headers = [("authorization", ada.as_str())];
        replies.push(
            app.send(Method::GET, "/products?limit=1", None, &headers)
                .await,
        );
    }
    assert_eq!(replies[0].status, 200);
    assert_eq!(replies[0].header("ratelimit-limit"), Some("2"));
    assert_eq!(replies[0].header("ratelimit-remaining"), Some("1"));
    assert_eq!(replies[1].header("ratelimit-remaining"), Some("0"));
    let over = &replies[2];
    assert_eq!(over.status, 429);
    assert_eq!(over.body["code"], "RATE_LIMITED");
    let retry: u64 = over.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let other = app
        .send(
            Method::GET,
            "/products?limit=1",
            None,
            &[("authorization", carl.as_str())],
        )
        .await;
    assert_eq!(other.status, 200, "another user has their own budget");
}

#[tokio::test]
async fn api_versions_by_header_and_by_path() {
    use arc_runtime::config::{VersionBy, Versioning};
    use axum::http::Method;
    fn by_header(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
        let versions = Versioning::new(VersionBy::Header, "2")
            .deprecated("1", Some("Sat, 01 May 2027 00:00:00 GMT"));
        arc_tests::shop_app(db).versioning(versions)
    }
    let app = TestApp::sqlite_with(by_header).await;
    let current = app.get("/categories").await;
    assert_eq!(current.status, 200);
    assert_eq!(current.header("x-api-version"), Some("2"));
    assert!(current.header("deprecation").is_none());
    let old = app
        .send(Method::GET, "/categories", None, &[("x-api-version", "1")])
        .await;
    assert_eq!(old.status, 200);
    assert_eq!(old.header("deprecation"), Some("true"));
    assert_eq!(old.header("sunset"), Some("Sat, 01 May 2027 00:00:00 GMT"));
    let unknown = app
        .send(Method::GET, "/categories", None, &[("x-api-version", "9")])
        .await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["code"], "BAD_REQUEST");

    fn by_path(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
        let versions = Versioning::new(VersionBy::PathPrefix, "2").deprecated("1", None);
        arc_tests::shop_app(db).versioning(versions)
    }
    let app = TestApp::sqlite_with(by_path).await;
    let v2 = app.get("/v2/products?limit=1").await;
    assert_eq!(v2.status, 200, "{}", v2.body);
    assert_eq!(v2.header("x-api-version"), Some("2"));
    let v1 = app.get("/v1/products?limit=1").await;
    assert_eq!(
        (v1.status.as_u16(), v1.header("deprecation")),
        (200, Some("true"))
    );
    assert_eq!(
        app.get("/products").await.status,
        404,
        "routes live under their version"
    );
    let root = arc_tests::platform_admin();
    let created = app
        .send(
            Method::POST,
            "/v2/categories",
            Some(serde_json::json!({"name": "Versioned", "slug": "versioned"})),
            &[("authorization", root.as_str())],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.header("location").unwrap().to_owned();
    assert!(location.starts_with("/v2/categories/"), "{location}");
    assert_eq!(app.get(&location).await.status, 200, "Location resolves");
    assert_eq!(
        app.get("/_health/live").await.status,
        200,
        "service routes are not versioned"
    );
}

#[tokio::test]
async fn rate_limits_by_ip_need_the_peer_address() {
    use arc_runtime::config::{KeyBy, RateLimit};
    let router = App::new(db().await)
        .route("/work", get(|| async { "done" }))
        .rate_limit(RateLimit::new(1, Duration::from_secs(60), KeyBy::Ip))
        .into_router();
    let from = |ip: [u8; 4]| {
        let peer: std::net::SocketAddr = (ip, 5000).into();
        Request::get("/work")
            .extension(axum::extract::ConnectInfo(peer))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&router, from([10, 0, 0, 1])).await.status(), 200);
    assert_eq!(send(&router, from([10, 0, 0, 1])).await.status(), 429);
    assert_eq!(
        send(&router, from([10, 0, 0, 2])).await.status(),
        200,
        "per address"
    );
    for _ in 0..3 {
        let unknown = Request::get("/work").body(Body::empty()).unwrap();
        assert_eq!(
            send(&router, unknown).await.status(),
            200,
            "no shared 'unknown' budget"
        );
    }
}
