//! Webhooks: an organization's admins subscribe URLs to event patterns; its events reach
//! them signed as arc signs them (and with a timestamped signature), are retried while the
//! receiver fails, logged, and a webhook that keeps failing is disabled. No delivery crosses
//! organizations, none carries what the organization's admins may not read, and the
//! routes are for the organization's owners and admins only. On both databases, against a
//! receiver on a real socket.

#![allow(
    missing_docs,
    reason = "test fixtures: their fields are named for what they are"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_runtime::config::EventRetry;
use arc_runtime::prelude::*;
use arc_runtime::sea_orm::DatabaseConnection;
use arc_runtime::webhooks::{self, Webhooks};
use arc_tests::events::fast;
use arc_tests::{Backend, TestApp, on_each_backend, shop_app, shop_token};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

on_each_backend!(
    deliveries_are_signed_retried_and_logged,
    no_delivery_crosses_organizations_or_shows_what_admins_may_not_read,
    a_webhook_that_keeps_failing_is_disabled_and_can_be_turned_back_on,
    only_the_organizations_admins_manage_webhooks,
    an_organization_has_at_most_its_cap_of_webhooks,
    the_apps_own_events_go_to_no_webhook,
);

/// A payslip of an organization: its amount for the role `finance` only, and its rows for
/// their owners only (an admin reads none of the others').
#[resource(presets(multi_tenant(field = "org_id")))]
#[permissions(default = org_member)]
pub struct Payslip {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    #[field(min_len = 1, max_len = 100)]
    pub title: String,
    #[field(visible_to("finance"))]
    pub amount: i64,
}

/// A note only its author reads.
#[resource(presets(multi_tenant(field = "org_id"), owned_by_user(field = "author")))]
#[permissions(default = org_member)]
pub struct Diary {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    #[field(system)]
    pub author: Option<String>,
    #[field(max_len = 100)]
    pub text: String,
}

/// A notice of an organization: creating one publishes the app's own event `board.posted`
/// (a payload of the app's making, which nothing checks against what an admin may read).
#[resource(hooks, presets(multi_tenant(field = "org_id")))]
#[permissions(default = org_member)]
pub struct Notice {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    #[field(min_len = 1, max_len = 100)]
    pub text: String,
}

/// The app's own event of a notice posted.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Posted {
    text: String,
    secret: String,
}

impl arc_runtime::DomainEvent for Posted {
    const NAME: &'static str = "board.posted";
}

impl Hooks for Notice {
    async fn after_create(
        ctx: &WriteContext<'_>,
        created: &notice_entity::Model,
    ) -> Result<(), ArcError> {
        let posted = Posted {
            text: created.text.clone(),
            secret: "not-for-webhooks".to_owned(),
        };
        ctx.publish(&posted).await?;
        Ok(())
    }
}

/// What the receiver got: one request.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// Whether `value`, or a value anywhere inside it, is one `is` picks.
fn holds(value: &Value, is: &dyn Fn(&Value) -> bool) -> bool {
    is(value)
        || match value {
            Value::Array(items) => items.iter().any(|v| holds(v, is)),
            Value::Object(fields) => fields.values().any(|v| holds(v, is)),
            _ => false,
        }
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A receiver on a real socket: it keeps every request and answers 500 to the first
/// `failing` ones (all of them when `failing` is `usize::MAX`), 200 after.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(failing: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let failing = Arc::new(AtomicUsize::new(failing));
        let (kept, left) = (got.clone(), failing.clone());
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let (kept, left) = (kept.clone(), left.clone());
                async move {
                    kept.lock().unwrap().push(Received {
                        path: uri.path().to_owned(),
                        headers,
                        body,
                    });
                    let fail = left
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                            0 => None,
                            usize::MAX => Some(usize::MAX),
                            n => Some(n - 1),
                        })
                        .is_ok();
                    if fail {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, got, failing }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests came (at most 10 s).
    async fn until(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} requests within 10 s, {n} expected", self.got().len());
    }
}

/// Webhooks as fast as a test wants them, to any target (the receiver is on loopback).
fn fast_webhooks() -> Webhooks {
    Webhooks::new()
        .allow_insecure()
        .poll_interval(Duration::from_millis(20))
        .timeout(Duration::from_secs(2))
        .retry(EventRetry {
            attempts: 4,
            base: Duration::from_millis(10),
            max: Duration::from_millis(40),
        })
}

fn shop_with(webhooks: Webhooks) -> impl FnOnce(DatabaseConnection) -> App {
    move |db| {
        shop_app(db)
            .resource::<Payslip>()
            .resource::<Diary>()
            .resource::<Notice>()
            .events(fast().define::<Posted>())
            .webhooks(webhooks)
    }
}

const SECRET: &str = "whsec_a-test-secret-of-some-length";

/// A webhook of the caller's organization to `url` for `events`: its id.
async fn subscribe(app: &TestApp, token: &str, url: &str, events: Value) -> String {
    let made = app
        .as_(token)
        .post(
            "/webhooks",
            json!({"url": url, "events": events, "secret": SECRET}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(
        made.body["data"].get("secret").is_none(),
        "the secret is never shown"
    );
    made.id()
}

/// Waits until the log shows the delivery of `webhook` as `status` (at most 10 s).
async fn logged(app: &TestApp, token: &str, webhook: &str, status: &str) -> Value {
    for _ in 0..500 {
        let log = app
            .as_(token)
            .get(&format!(
                "/webhook-deliveries?webhook_id={webhook}&status={status}"
            ))
            .await;
        assert_eq!(log.status, 200, "{}", log.body);
        if let Some(row) = log.body["docs"].as_array().and_then(|rows| rows.first()) {
            return row.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {status} delivery of {webhook} in the log within 10 s");
}

async fn deliveries_are_signed_retried_and_logged(backend: Backend) {
    let receiver = Receiver::start(2).await;
    let app = backend.app(shop_with(fast_webhooks())).await;
    let ada = shop_token("ada", "acme", &["admin"]);
    let webhook = subscribe(&app, &ada, &receiver.url("/acme"), json!(["product.*"])).await;
    let product = app
        .as_(&ada)
        .post(
            "/products",
            json!({"name": "Lamp", "price": 5, "cost": 2, "status": "active", "internal_note": "n"}),
        )
        .await;
    assert_eq!(product.status, 201, "{}", product.body);

    // Two failures, then the delivery: three requests, the same event and body each time.
    let got = receiver.until(3).await;
    let row = logged(&app, &ada, &webhook, "delivered").await;
    assert_eq!(row["attempts"], 3, "{row}");
    assert_eq!(row["response_status"], 200, "{row}");
    assert!(
        row.get("body").is_none() && row.get("due_at").is_none(),
        "{row}"
    );
    assert_eq!(got.len(), 3, "nothing after the delivery");
    let ids: Vec<&str> = got.iter().map(|r| r.header("x-webhook-id")).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert!(got.iter().all(|r| r.body == got[0].body));
    let last = &got[2];
    assert_eq!(last.path, "/acme");
    assert_eq!(last.header("x-webhook-event"), "product.created");
    assert_eq!(
        last.header("x-webhook-delivery"),
        row["id"].as_str().unwrap()
    );
    assert_eq!(row["event_id"].as_str().unwrap(), ids[0]);
    assert_eq!(last.header("content-type"), "application/json");

    // arc's signature over the body, and the timestamped one.
    webhooks::verify(SECRET, &last.body, last.header("x-webhook-signature")).unwrap();
    let now = u64::try_from(Utc::now().timestamp()).unwrap();
    webhooks::verify_timestamped(
        SECRET,
        &last.body,
        last.header("x-webhook-timestamp"),
        last.header("x-webhook-signature-v2"),
        Duration::from_secs(60),
        now,
    )
    .unwrap();
    assert!(
        webhooks::verify(
            "another secret....",
            &last.body,
            last.header("x-webhook-signature")
        )
        .is_err()
    );

    // arc's envelope, with the row as acme's admins read it.
    let event = last.json();
    assert_eq!(event["type"], "product.created");
    assert_eq!(event["meta"]["id"], ids[0]);
    assert_eq!(event["meta"]["organizationId"], "acme");
    // The stream's envelope: which event of which row, none of the request's internal ids.
    let mut keys: Vec<&str> = event["meta"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "id",
            "organizationId",
            "resource",
            "resourceId",
            "timestamp"
        ],
        "{event}"
    );
    assert_eq!(event["meta"]["resource"], "product");
    for internal in ["correlationId", "traceId", "userId"] {
        assert!(event["meta"].get(internal).is_none(), "{internal}: {event}");
        assert!(
            event["payload"].get(internal).is_none(),
            "{internal}: {event}"
        );
    }
    assert_eq!(event["payload"]["operation"], "create");
    assert_eq!(event["payload"]["data"]["name"], "Lamp");
    assert_eq!(event["payload"]["data"]["cost"], 2, "admins read the cost");
    assert!(event["payload"]["data"].get("internal_note").is_none());

    // Another event: delivered at once (the receiver recovered), one more request.
    let id = product.id();
    let changed = app
        .as_(&ada)
        .patch(&format!("/products/{id}"), json!({"price": 6}))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let got = receiver.until(4).await;
    assert_eq!(got[3].header("x-webhook-event"), "product.updated");
    // An event no pattern matches goes nowhere.
    let order = app
        .as_(&ada)
        .post("/orders", json!({"product_id": id, "quantity": 1}))
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), 4);
    app.cleanup().await;
}

async fn no_delivery_crosses_organizations_or_shows_what_admins_may_not_read(backend: Backend) {
    let receiver = Receiver::start(0).await;
    let app = backend.app(shop_with(fast_webhooks())).await;
    let ada = shop_token("ada", "acme", &["admin"]);
    let gwen = shop_token("gwen", "globex", &["admin"]);
    let acme = subscribe(&app, &ada, &receiver.url("/acme"), json!(["*"])).await;
    let globex = subscribe(&app, &gwen, &receiver.url("/globex"), json!(["*"])).await;

    // A payslip by acme's finance member: its amount is for finance alone.
    let fay = shop_token("fay", "acme", &["member", "finance"]);
    let slip = app
        .as_(&fay)
        .post("/payslips", json!({"title": "May", "amount": 4200}))
        .await;
    assert_eq!(slip.status, 201, "{}", slip.body);
    // A diary entry, which only its author reads: no admin reads every row, so none goes.
    let diary = app
        .as_(&fay)
        .post("/diaries", json!({"text": "dear diary"}))
        .await;
    assert_eq!(diary.status, 201, "{}", diary.body);
    // A product of globex's.
    let lamp = app
        .as_(&gwen)
        .post(
            "/products",
            json!({"name": "Globex lamp", "price": 6, "status": "active"}),
        )
        .await;
    assert_eq!(lamp.status, 201, "{}", lamp.body);

    logged(&app, &ada, &acme, "delivered").await;
    logged(&app, &gwen, &globex, "delivered").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.got();
    // The webhooks' own events (`webhook.created`, with the other webhook's URL) go to
    // no webhook.
    let to = |path: &str| -> Vec<Value> {
        got.iter()
            .filter(|r| r.path == path)
            .map(Received::json)
            .collect()
    };
    let (to_acme, to_globex) = (to("/acme"), to("/globex"));
    // Acme's webhook heard of acme's payslip only, without its amount.
    let kinds: Vec<&str> = to_acme
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["payslip.created"], "{to_acme:#?}");
    assert_eq!(to_acme[0]["payload"]["data"]["title"], "May");
    assert!(
        to_acme[0]["payload"]["data"].get("amount").is_none(),
        "{to_acme:#?}"
    );
    // Nor did any delivery carry the amount, as its field or as a value under any key (a
    // search of the bodies' text would also find "4200" in a timestamp's microseconds or an
    // id).
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let amount = |v: &Value| v == &json!(4200) || v.get("amount").is_some();
    assert!(!bodies.iter().any(|b| holds(b, &amount)), "{bodies:#?}");
    // Globex's heard of globex's product only.
    let kinds: Vec<&str> = to_globex
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["product.created"], "{to_globex:#?}");
    assert!(
        to_globex
            .iter()
            .all(|e| e["meta"]["organizationId"] == "globex")
    );

    // Each organization's log and webhooks are its own.
    let globex_log = app.as_(&gwen).get("/webhook-deliveries").await;
    assert_eq!(globex_log.status, 200);
    assert!(
        globex_log.body["docs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|row| row["webhook_id"] == globex.as_str())
    );
    let theirs = app.as_(&gwen).get(&format!("/webhooks/{acme}")).await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let listed = app.as_(&gwen).get("/webhooks").await;
    assert_eq!(listed.body["total"], 1, "{}", listed.body);
    let moved = app
        .as_(&gwen)
        .patch(
            &format!("/webhooks/{acme}"),
            json!({"url": receiver.url("/stolen")}),
        )
        .await;
    assert_eq!(moved.status, 404, "{}", moved.body);
    app.cleanup().await;
}

async fn a_webhook_that_keeps_failing_is_disabled_and_can_be_turned_back_on(backend: Backend) {
    let receiver = Receiver::start(usize::MAX).await;
    let webhooks = fast_webhooks()
        .retry(EventRetry {
            attempts: 2,
            base: Duration::from_millis(10),
            max: Duration::from_millis(20),
        })
        .disable_after(3);
    let app = backend.app(shop_with(webhooks)).await;
    let ada = shop_token("ada", "acme", &["admin"]);
    let webhook = subscribe(
        &app,
        &ada,
        &receiver.url("/down"),
        json!(["product.created"]),
    )
    .await;
    for name in ["One", "Two"] {
        let made = app
            .as_(&ada)
            .post(
                "/products",
                json!({"name": name, "price": 1, "status": "active"}),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    // The first delivery fails twice (its last attempt), the second once more: disabled.
    let failed = logged(&app, &ada, &webhook, "failed").await;
    assert_eq!(failed["response_status"], 500, "{failed}");
    assert_eq!(failed["last_error"], "the receiver answered 500");
    let mut shown = Value::Null;
    for _ in 0..500 {
        shown = app
            .as_(&ada)
            .get(&format!("/webhooks/{webhook}"))
            .await
            .body["data"]
            .clone();
        if shown["disabled"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(shown["disabled"], true, "{shown}");
    // Attempts in flight when the limit was reached count too.
    assert!(shown["failures"].as_i64().unwrap() >= 3, "{shown}");
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("3 failed attempts")
    );
    // Disabled: a new event is not handed to it, and nothing more is sent.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = receiver.got().len();
    let made = app
        .as_(&ada)
        .post(
            "/products",
            json!({"name": "Three", "price": 1, "status": "active"}),
        )
        .await;
    assert_eq!(made.status, 201);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), before);

    // Turned back on by its admin: failures cleared, deliveries again.
    receiver.failing.store(0, Ordering::SeqCst);
    let on = app
        .as_(&ada)
        .patch(&format!("/webhooks/{webhook}"), json!({"disabled": false}))
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    assert_eq!(on.body["data"]["failures"], 0, "{}", on.body);
    assert_eq!(on.body["data"]["disabled_reason"], Value::Null);
    assert_eq!(on.body["data"]["disabled"], false);
    let made = app
        .as_(&ada)
        .post(
            "/products",
            json!({"name": "Four", "price": 1, "status": "active"}),
        )
        .await;
    assert_eq!(made.status, 201);
    logged(&app, &ada, &webhook, "delivered").await;
    app.cleanup().await;
}

async fn only_the_organizations_admins_manage_webhooks(backend: Backend) {
    // The default guard: https to public addresses only.
    let app = backend.app(shop_with(Webhooks::new())).await;
    let ada = shop_token("ada", "acme", &["admin"]);
    let owner = shop_token("olga", "acme", &["owner"]);
    let member = shop_token("max", "acme", &["member"]);
    let good =
        json!({"url": "https://hooks.example.com/arc", "events": ["order.*"], "secret": SECRET});

    let anonymous = app
        .send(Method::GET, "/webhooks", None, &[("authorization", "")])
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    for (method, uri) in [
        (Method::GET, "/webhooks"),
        (Method::POST, "/webhooks"),
        (Method::GET, "/webhook-deliveries"),
    ] {
        let body = (method == Method::POST).then(|| good.clone());
        let refused = app.as_(&member).send(method, uri, body).await;
        assert_eq!(refused.status, 403, "{uri}: {}", refused.body);
    }
    let made = app.as_(&owner).post("/webhooks", good.clone()).await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert!(made.body["data"].get("secret").is_none());
    let id = made.id();
    let read = app.as_(&ada).get(&format!("/webhooks/{id}")).await;
    assert_eq!(read.status, 200);
    assert!(read.body["data"].get("secret").is_none(), "{}", read.body);
    assert_eq!(read.body["data"]["disabled"], false);
    // Not a way to read the secret: it is neither filtered nor selected.
    let probe = app
        .as_(&ada)
        .get("/webhooks?secret=whsec_a-test-secret-of-some-length")
        .await;
    assert_eq!(probe.status, 400, "{}", probe.body);
    let probe = app.as_(&ada).get("/webhooks?select=secret").await;
    assert_eq!(probe.status, 400, "{}", probe.body);

    // The log is the deliveries' own.
    let forged = app
        .as_(&ada)
        .post("/webhook-deliveries", json!({"event": "order.created"}))
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // Server-owned fields are not the caller's.
    let forged = app
        .as_(&ada)
        .patch(
            &format!("/webhooks/{id}"),
            json!({"failures": 0, "organization_id": "globex"}),
        )
        .await;
    assert!(forged.status.is_client_error(), "{}", forged.body);

    // What the guard refuses, as a validation error.
    for (url, events) in [
        ("http://hooks.example.com/arc", json!(["order.*"])),
        ("https://127.0.0.1/hook", json!(["order.*"])),
        (
            "https://169.254.169.254/latest/meta-data",
            json!(["order.*"]),
        ),
        ("https://localhost:8080/hook", json!(["order.*"])),
        ("https://[::1]/hook", json!(["order.*"])),
        ("https://user:pw@hooks.example.com/", json!(["order.*"])),
        ("not a url", json!(["order.*"])),
        ("https://hooks.example.com/arc", json!([])),
        ("https://hooks.example.com/arc", json!("order.*")),
        ("https://hooks.example.com/arc", json!(["order..x"])),
    ] {
        let body = json!({"url": url, "events": events, "secret": SECRET});
        let refused = app.as_(&ada).post("/webhooks", body).await;
        assert_eq!(refused.status, 400, "{url} {events}: {}", refused.body);
        assert_eq!(refused.body["code"], "VALIDATION_ERROR", "{}", refused.body);
    }
    let short = app
        .as_(&ada)
        .post(
            "/webhooks",
            json!({"url": "https://hooks.example.com/", "events": ["*"], "secret": "short"}),
        )
        .await;
    assert_eq!(short.status, 400, "{}", short.body);
    let moved = app
        .as_(&ada)
        .patch(
            &format!("/webhooks/{id}"),
            json!({"url": "https://10.0.0.1/"}),
        )
        .await;
    assert_eq!(moved.status, 400, "{}", moved.body);
    assert_eq!(
        moved.body["details"]["errors"][0]["field"], "url",
        "{}",
        moved.body
    );
    app.cleanup().await;
}

async fn an_organization_has_at_most_its_cap_of_webhooks(backend: Backend) {
    let app = backend.app(shop_with(fast_webhooks().max_per_org(3))).await;
    let ada = shop_token("ada", "acme", &["admin"]);
    let gwen = shop_token("gwen", "globex", &["admin"]);
    let hook = |n: usize| json!({"url": format!("https://hooks.example.com/{n}"), "events": ["*"], "secret": SECRET});
    let mut ids = Vec::new();
    for n in 0..3 {
        let made = app.as_(&ada).post("/webhooks", hook(n)).await;
        assert_eq!(made.status, 201, "{}", made.body);
        ids.push(made.id());
    }
    // The fourth is refused, in the contract's envelope.
    let refused = app.as_(&ada).post("/webhooks", hook(3)).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["code"], "CONFLICT", "{}", refused.body);
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap()
            .contains("at most 3"),
        "{}",
        refused.body
    );
    let listed = app.as_(&ada).get("/webhooks").await;
    assert_eq!(listed.body["total"], 3, "{}", listed.body);
    // Another organization's cap is its own.
    let theirs = app.as_(&gwen).post("/webhooks", hook(0)).await;
    assert_eq!(theirs.status, 201, "{}", theirs.body);
    // A place freed is taken again.
    let deleted = app.as_(&ada).delete(&format!("/webhooks/{}", ids[0])).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    let again = app.as_(&ada).post("/webhooks", hook(3)).await;
    assert_eq!(again.status, 201, "{}", again.body);
    app.cleanup().await;
}

async fn the_apps_own_events_go_to_no_webhook(backend: Backend) {
    let receiver = Receiver::start(0).await;
    let app = backend.app(shop_with(fast_webhooks())).await;
    let ada = shop_token("ada", "acme", &["admin"]);
    subscribe(&app, &ada, &receiver.url("/acme"), json!(["*"])).await;
    // The notice's row event and the app's own `board.posted`, published with the write
    // in acme: only the row event goes.
    let notice = app
        .as_(&ada)
        .post("/notices", json!({"text": "Hello"}))
        .await;
    assert_eq!(notice.status, 201, "{}", notice.body);
    receiver.until(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = receiver.got();
    let kinds: Vec<String> = got
        .iter()
        .map(|r| r.header("x-webhook-event").to_owned())
        .collect();
    assert_eq!(kinds, ["notice.created"], "{kinds:?}");
    assert!(
        !got.iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("not-for-webhooks"))
    );
    app.cleanup().await;
}
