//! Domain events: each committed write has its event in the outbox (and a rolled-back one
//! none), the relay publishes them once under its lease, subscribers are retried and then
//! dead-lettered, and `/events/stream` shows each caller the events of rows it may read, on
//! both databases.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_runtime::config::Events;
use arc_runtime::sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use arc_runtime::{App, Event};
use arc_tests::events::{Seen, delivered, fast, shop_subscribed};
use arc_tests::sse::{self, SseEvent};
use arc_tests::{Backend, TestApp, on_each_backend, shop_app, shop_token};
use axum::http::Method;
use serde_json::{Value, json};

on_each_backend!(
    writes_publish_their_events,
    rolled_back_writes_have_no_event,
    failing_subscribers_are_retried_then_dead_lettered,
    one_relay_publishes_each_row_once,
    a_dead_relays_lease_is_taken_over,
    the_stream_shows_each_caller_what_it_may_read,
    the_stream_resumes_and_beats,
    a_write_on_one_instance_reaches_the_streams_of_every_instance,
    streams_are_bounded_and_close_in_time,
    delivered_rows_are_pruned_and_positions_go_on,
    apps_publish_their_own_events_checked_against_their_schemas,
);

/// The shop with fast events and a subscriber to every event, which keeps what it sees.
fn shop_seeing(seen: &Seen<Arc<Event>>) -> impl FnOnce(DatabaseConnection) -> App + use<> {
    shop_subscribed(fast(), "*", seen, |event| event, Duration::ZERO)
}

async fn outbox_rows(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM arc_outbox").await
}

/// Waits until `seen` holds `n` events (at most 10 s); they are returned.
async fn seen_n(seen: &Seen<Arc<Event>>, n: usize) -> Vec<Arc<Event>> {
    arc_tests::events::seen_n(seen, n, Duration::from_secs(10)).await
}

async fn writes_publish_their_events(backend: Backend) {
    let seen = Seen::default();
    let app = backend.app(shop_seeing(&seen)).await;
    let created = app
        .send(
            Method::POST,
            "/products",
            Some(
                json!({"name": "Lamp", "price": 1200, "cost": 700, "internal_note": "supplier X"}),
            ),
            &[("x-request-id", "req-lamp-1")],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.id();
    let updated = app
        .send(
            Method::PATCH,
            &format!("/products/{id}"),
            Some(json!({"price": 1300})),
            &[],
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    // A patch that changes nothing is no event.
    let same = app
        .send(
            Method::PATCH,
            &format!("/products/{id}"),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(app.delete(&format!("/products/{id}")).await.status, 200);
    let restored = app
        .post(&format!("/products/{id}/restore"), json!({}))
        .await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    // An editor's write: the event shows the row as the editor sees it (no `cost`).
    let editor = shop_token("eve", "acme", &["editor"]);
    let by_editor = app
        .send(
            Method::POST,
            "/products",
            Some(json!({"name": "Desk", "price": 9000})),
            &[("authorization", &editor)],
        )
        .await;
    assert_eq!(by_editor.status, 201, "{}", by_editor.body);

    let events = seen_n(&seen, 5).await;
    let ours: Vec<&Arc<Event>> = events
        .iter()
        .filter(|e| e.meta.resource_id.as_deref() == Some(id.as_str()))
        .collect();
    let kinds: Vec<(&str, &str)> = ours
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.payload["operation"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("product.created", "create"),
            ("product.updated", "update"),
            ("product.deleted", "delete"),
            ("product.updated", "restore"),
        ],
        "in order, one per write that changed the row"
    );
    let first = ours[0];
    assert_eq!(first.meta.resource.as_deref(), Some("product"));
    assert_eq!(first.meta.organization_id.as_deref(), Some("acme"));
    assert_eq!(first.meta.user_id.as_deref(), Some("ada"));
    assert_eq!(first.meta.version, 1);
    assert_eq!(first.meta.correlation_id.as_deref(), Some("req-lamp-1"));
    let trace = first.meta.trace_id.as_deref().expect("a trace id");
    assert!(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trace}"
    );
    let data = &first.payload["data"];
    assert_eq!(data["id"], json!(id));
    assert_eq!(
        data["cost"],
        json!(700),
        "an admin wrote it, an admin sees it"
    );
    assert!(
        data.get("internal_note").is_none(),
        "hidden fields never travel: {data}"
    );
    assert_eq!(first.payload["organizationId"], json!("acme"));
    assert_eq!(ours[1].payload["data"]["price"], json!(1300));
    assert!(
        ours[2].payload["data"]["deleted_at"].is_string(),
        "a soft delete's event carries the row as deleted: {}",
        ours[2].payload
    );
    let desk = events
        .iter()
        .find(|e| e.meta.resource_id.as_deref() == Some(by_editor.id().as_str()))
        .expect("the editor's event");
    assert_eq!(desk.meta.user_id.as_deref(), Some("eve"));
    assert!(
        desk.payload["data"].get("cost").is_none(),
        "the editor's view: {}",
        desk.payload
    );
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.meta.id).collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");

    // Bulk writes: one event per row, in the bulk's transaction.
    let before = outbox_rows(&app).await;
    let bulk = app
        .post(
            "/products/bulk",
            json!({"items": [{"name": "B1", "price": 1}, {"name": "B2", "price": 2}]}),
        )
        .await;
    assert_eq!(bulk.status, 201, "{}", bulk.body);
    let patched = app
        .send(
            Method::PATCH,
            "/products/bulk",
            Some(json!({"filter": {"price": {"lte": 2}}, "data": {"status": "active"}})),
            &[],
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let modified = patched.body["data"]["modifiedCount"].as_i64().unwrap();
    let removed = app
        .send(
            Method::DELETE,
            "/products/bulk",
            Some(json!({"filter": {"price": {"lte": 2}}})),
            &[],
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let deleted = removed.body["data"]["deletedCount"].as_i64().unwrap();
    assert!(modified >= 2 && deleted >= 2, "{modified} {deleted}");
    assert_eq!(outbox_rows(&app).await - before, 2 + modified + deleted);
    delivered(&app).await;
    let all = seen.lock().unwrap().clone();
    let count = |kind: &str| all.iter().filter(|e| e.name == kind).count() as i64;
    assert_eq!(count("product.deleted"), 1 + deleted);
    app.cleanup().await;
}

async fn rolled_back_writes_have_no_event(backend: Backend) {
    let ledger = backend
        .app(|db| arc_tests::ledger::app(db).events(fast()))
        .await;
    let before = outbox_rows(&ledger).await;
    // An after hook refuses: the row and its event go together.
    let refused = ledger
        .post("/entries", json!({"code": "debt", "amount": -5}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let kept = ledger
        .post("/entries", json!({"code": "keep", "amount": 5}))
        .await;
    assert_eq!(kept.status, 201, "{}", kept.body);
    let keep = kept.id();
    let refused = ledger.delete(&format!("/entries/{keep}")).await;
    assert_eq!(
        refused.status, 409,
        "after_delete refuses KEEP: {}",
        refused.body
    );
    // A bulk create with one refused item: all or nothing, events too.
    let bulk = ledger
        .post(
            "/entries/bulk",
            json!({"items": [{"code": "a", "amount": 1}, {"code": "b", "amount": -1}]}),
        )
        .await;
    assert_eq!(bulk.status, 409, "{}", bulk.body);
    assert_eq!(
        outbox_rows(&ledger).await - before,
        1,
        "only the committed create has an event"
    );
    ledger.cleanup().await;

    let app = backend.app(|db| shop_app(db).events(fast())).await;
    let before = outbox_rows(&app).await;
    let member = shop_token("carl", "acme", &[]);
    let denied = app
        .send(
            Method::POST,
            "/products",
            Some(json!({"name": "X", "price": 1})),
            &[("authorization", &member)],
        )
        .await;
    assert_eq!(denied.status, 403);
    let invalid = app
        .post("/products", json!({"name": "", "price": -1}))
        .await;
    assert_eq!(invalid.status, 400);
    let first = app
        .post(
            "/products",
            json!({"name": "S", "slug": "same-slug", "price": 1}),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let duplicate = app
        .post(
            "/products",
            json!({"name": "S2", "slug": "same-slug", "price": 1}),
        )
        .await;
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);
    let unknown = app
        .send(
            Method::POST,
            "/orders",
            Some(json!({"product_id": arc_runtime::uuid::Uuid::new_v4(), "quantity": 1})),
            &[("authorization", &member)],
        )
        .await;
    assert_eq!(
        unknown.status, 400,
        "the order hook refuses: {}",
        unknown.body
    );
    assert_eq!(outbox_rows(&app).await - before, 1);
    app.cleanup().await;
}

async fn failing_subscribers_are_retried_then_dead_lettered(backend: Backend) {
    let calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let (flaky, broken, panicky) = (calls.clone(), calls.clone(), calls.clone());
    let app = backend
        .app(move |db| {
            shop_app(db)
                .events(fast())
                // Fails twice, then handles it.
                .on("product.created", move |event| {
                    let calls = flaky.clone();
                    async move {
                        let mut calls = calls.lock().unwrap();
                        calls.push(format!("flaky {}", event.name));
                        let tries = calls.iter().filter(|c| c.starts_with("flaky")).count();
                        if tries < 3 { Err("not yet") } else { Ok(()) }
                    }
                })
                .on("product.deleted", move |event| {
                    let calls = broken.clone();
                    async move {
                        calls.lock().unwrap().push(format!("broken {}", event.name));
                        Err::<(), _>("the downstream service is gone")
                    }
                })
                .on("product.updated", move |_| {
                    panicky.lock().unwrap().push("panicky".to_owned());
                    async move {
                        panic!("a bug in a subscriber");
                        #[allow(unreachable_code)]
                        Ok::<(), std::convert::Infallible>(())
                    }
                })
        })
        .await;
    let created = app
        .post("/products", json!({"name": "Fan", "price": 10}))
        .await;
    let id = created.id();
    let patched = app
        .send(
            Method::PATCH,
            &format!("/products/{id}"),
            Some(json!({"price": 11})),
            &[],
        )
        .await;
    assert_eq!(
        patched.status, 200,
        "a subscriber's panic is not the request's"
    );
    assert_eq!(app.delete(&format!("/products/{id}")).await.status, 200);
    delivered(&app).await;
    let mut letters = 0;
    for _ in 0..500 {
        letters = app
            .scalar("SELECT COUNT(*) FROM arc_event_dead_letters")
            .await;
        if letters >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        letters, 2,
        "the broken and the panicking subscriber's events"
    );
    let calls = calls.lock().unwrap().clone();
    let count = |prefix: &str| calls.iter().filter(|c| c.starts_with(prefix)).count();
    assert_eq!(count("flaky"), 3, "two failures, then handled: {calls:?}");
    assert_eq!(count("broken"), 3, "three attempts: {calls:?}");
    assert_eq!(
        count("panicky"),
        3,
        "a panic is a failure like any: {calls:?}"
    );
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT subscriber, name, envelope, error, attempts FROM arc_event_dead_letters \
             WHERE name = 'product.deleted'",
        ))
        .await
        .unwrap()
        .expect("the dead letter");
    let subscriber: String = row.try_get("", "subscriber").unwrap();
    assert!(subscriber.starts_with("product.deleted"), "{subscriber}");
    let error: String = row.try_get("", "error").unwrap();
    assert_eq!(error, "the downstream service is gone");
    let attempts: i32 = row.try_get("", "attempts").unwrap();
    assert_eq!(attempts, 3);
    let envelope: Value =
        serde_json::from_str(&row.try_get::<String>("", "envelope").unwrap()).unwrap();
    assert_eq!(envelope["type"], "product.deleted");
    assert_eq!(
        envelope["meta"]["resourceId"],
        json!(id),
        "the full envelope is kept"
    );
    app.cleanup().await;
}

async fn one_relay_publishes_each_row_once(backend: Backend) {
    // Two instances on one database: each relays to its own subscriber, under one lease.
    let (one, two) = (Seen::default(), Seen::default());
    let app = backend.app(shop_seeing(&one)).await;
    let other = app.instance(shop_seeing(&two));
    for n in 0..24 {
        let on = if n % 2 == 0 { &app } else { &other };
        let created = on
            .post("/products", json!({"name": format!("P{n}"), "price": n}))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
    }
    delivered(&app).await;
    // Give a second publication, if there were one, time to arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut all: Vec<String> = one
        .lock()
        .unwrap()
        .iter()
        .chain(two.lock().unwrap().iter())
        .map(|e| e.meta.id.to_string())
        .collect();
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), total, "no event published twice");
    assert_eq!(total as i64, outbox_rows(&app).await, "every row published");
    app.cleanup().await;
}

async fn a_dead_relays_lease_is_taken_over(backend: Backend) {
    let seen = Seen::default();
    let app = backend.app(shop_seeing(&seen)).await;
    // An instance that died holding the lease, for 2.5 s more.
    let until = arc_runtime::chrono::Utc::now().timestamp_millis() + 2500;
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO arc_outbox_lease (name, owner, until) VALUES ('relay', 'dead', {until}) \
             ON CONFLICT (name) DO UPDATE SET owner = 'dead', until = {until}"
        ))
        .await
        .unwrap();
    // A round of this instance's relay that took the lease just before may still be under
    // way: let it end, so the write below is the dead one's to publish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let created = app
        .post("/products", json!({"name": "Late", "price": 1}))
        .await;
    assert_eq!(created.status, 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        seen.lock().unwrap().is_empty(),
        "the lease is still the dead one's"
    );
    let events = seen_n(&seen, 1).await;
    assert_eq!(
        events[0].meta.resource_id.as_deref(),
        Some(created.id().as_str())
    );
    let owner = app
        .scalar("SELECT COUNT(*) FROM arc_outbox_lease WHERE owner <> 'dead'")
        .await;
    assert_eq!(owner, 1, "this instance holds it now");
    app.cleanup().await;
}

async fn a_write_on_one_instance_reaches_the_streams_of_every_instance(backend: Backend) {
    let app = backend.app(|db| shop_app(db).events(fast())).await;
    let other = app.instance(|db| shop_app(db).events(fast()));
    let carl = shop_token("carl", "acme", &[]);
    let mut here = sse::open(&app.router, "/events/stream", &[("authorization", &carl)]).await;
    let mut there = sse::open(&other.router, "/events/stream", &[("authorization", &carl)]).await;
    let mut written = Vec::new();
    for n in 0..6 {
        let on = if n % 2 == 0 { &app } else { &other };
        let created = on
            .post("/products", json!({"name": format!("I{n}"), "price": n}))
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        written.push(json!(created.id()));
    }
    delivered(&app).await;
    for stream in [&mut here, &mut there] {
        let got = stream.drain(Duration::from_millis(300)).await;
        let ids: Vec<&Value> = got.iter().map(|e| &e.data["meta"]["resourceId"]).collect();
        assert_eq!(
            ids,
            written.iter().collect::<Vec<_>>(),
            "each instance, every write, in order"
        );
        let mut ids: Vec<&str> = got.iter().filter_map(|e| e.id.as_deref()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), written.len(), "an id per event");
    }
    app.cleanup().await;
}

async fn streams_are_bounded_and_close_in_time(backend: Backend) {
    let app = backend
        .app(|db| {
            shop_app(db).events(
                fast()
                    .max_streams(2)
                    .stream_lifetime(Duration::from_secs(1)),
            )
        })
        .await;
    let carl = shop_token("carl", "acme", &[]);
    let auth = [("authorization", carl.as_str())];
    let mut one = sse::open(&app.router, "/events/stream", &auth).await;
    let mut two = sse::open(&app.router, "/events/stream", &auth).await;
    assert_eq!((one.status.as_u16(), two.status.as_u16()), (200, 200));
    let third = sse::open(&app.router, "/events/stream", &auth).await;
    assert_eq!(third.status, 503, "{}", third.error);
    assert_eq!(third.error["code"], "SERVICE_UNAVAILABLE");
    documented(&app, &third);
    // At their lifetime, streams close (the client reconnects, authenticated again).
    assert!(one.drain(Duration::from_secs(3)).await.is_empty());
    assert!(one.ended(), "the stream closed at its lifetime");
    assert!(two.drain(Duration::from_secs(3)).await.is_empty());
    assert!(two.ended());
    let again = sse::open(&app.router, "/events/stream", &auth).await;
    assert_eq!(again.status, 200, "closed streams give their place back");
    // A token that expires closes its stream with it.
    let ttl = std::time::Duration::from_secs(1);
    let short = shop::demo_token(
        shop::DEV_JWT_SECRET.as_bytes(),
        "cleo",
        &[],
        Some("acme"),
        &[],
        ttl,
    )
    .unwrap();
    drop(again);
    let app2 = backend.app(|db| shop_app(db).events(fast())).await;
    let mut expiring = sse::open(
        &app2.router,
        "/events/stream",
        &[("authorization", &format!("Bearer {short}"))],
    )
    .await;
    assert_eq!(expiring.status, 200);
    assert!(expiring.drain(Duration::from_secs(3)).await.is_empty());
    assert!(expiring.ended(), "the stream closed when its token expired");
    app2.cleanup().await;
    app.cleanup().await;
}

async fn delivered_rows_are_pruned_and_positions_go_on(backend: Backend) {
    let app = backend
        .app(|db| shop_app(db).events(fast().retention(Duration::from_millis(300))))
        .await;
    for n in 0..3 {
        let created = app
            .post("/products", json!({"name": format!("Old {n}"), "price": n}))
            .await;
        assert_eq!(created.status, 201);
    }
    delivered(&app).await;
    let last = app.scalar("SELECT position FROM arc_outbox_lease").await;
    assert!(last > 0);
    let mut left = i64::MAX;
    for _ in 0..100 {
        left = outbox_rows(&app).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        left, 0,
        "delivered rows older than the retention are pruned"
    );
    // The next event's position comes after every earlier one, though their rows are gone.
    let carl = shop_token("carl", "acme", &[]);
    let mut stream = sse::open(&app.router, "/events/stream", &[("authorization", &carl)]).await;
    let created = app
        .post("/products", json!({"name": "New", "price": 9}))
        .await;
    let event = stream
        .next(Duration::from_secs(5))
        .await
        .expect("the new event");
    assert_eq!(event.data["meta"]["resourceId"], json!(created.id()));
    delivered(&app).await;
    let now = app.scalar("SELECT position FROM arc_outbox_lease").await;
    assert!(now > last, "{now} after {last}");
    app.cleanup().await;
}

/// Panics unless the document allows the stream's refusal: its status and its body.
fn documented(app: &TestApp, refused: &sse::SseStream) {
    let contract = app.contract.as_ref().expect("the app's document");
    if let Some(problem) = contract.check(
        &Method::GET,
        "/events/stream",
        refused.status,
        Some(&refused.error),
    ) {
        panic!("the stream's answer breaks the document: {problem}");
    }
}

fn names(events: &[SseEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.event.clone().unwrap_or_default())
        .collect()
}

async fn the_stream_shows_each_caller_what_it_may_read(backend: Backend) {
    let app = backend.app(|db| shop_app(db).events(fast())).await;
    let quiet = Duration::from_millis(400);
    // Fails closed: no credentials, no stream; a bad filter is a 400.
    let anonymous = sse::open(&app.router, "/events/stream", &[]).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.error);
    assert_eq!(anonymous.error["code"], "UNAUTHORIZED");
    documented(&app, &anonymous);
    let carl = shop_token("carl", "acme", &[]);
    let bad = sse::open(
        &app.router,
        "/events/stream?events=pro*",
        &[("authorization", &carl)],
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.error);
    documented(&app, &bad);
    let unknown = sse::open(
        &app.router,
        "/events/stream?limit=3",
        &[("authorization", &carl)],
    )
    .await;
    assert_eq!(unknown.status, 400);
    // Another organization's stream: refused before any event is looked at.
    let elsewhere = sse::open(
        &app.router,
        "/events/stream",
        &[("authorization", &carl), ("x-organization-id", "globex")],
    )
    .await;
    assert_eq!(elsewhere.status, 403, "{}", elsewhere.error);
    documented(&app, &elsewhere);

    let ada = arc_tests::acme_admin();
    let cleo = shop_token("cleo", "acme", &[]);
    let gil = shop_token("gil", "globex", &[]);
    let mut carl_s = sse::open(&app.router, "/events/stream", &[("authorization", &carl)]).await;
    assert_eq!(carl_s.status, 200);
    assert!(carl_s.content_type.starts_with("text/event-stream"));
    let mut ada_s = sse::open(&app.router, "/events/stream", &[("authorization", &ada)]).await;
    let mut gil_s = sse::open(&app.router, "/events/stream", &[("authorization", &gil)]).await;
    let mut orders_only = sse::open(
        &app.router,
        "/events/stream?events=order.*",
        &[("authorization", &carl)],
    )
    .await;

    let written = arc_tests::events::lamps(&app, &[&carl, &cleo]).await;
    let (lamp, carls_order, cleos_order) = (&written.acme, &written.orders[0], &written.orders[1]);

    let carl_sees = carl_s.drain(quiet).await;
    assert_eq!(
        names(&carl_sees),
        ["product.created", "order.created"],
        "his org's product and his own order, not cleo's, not globex's: {carl_sees:#?}"
    );
    let product = &carl_sees[0].data;
    assert_eq!(product["type"], "product.created");
    assert_eq!(product["meta"]["resourceId"], json!(lamp));
    let row = &product["payload"]["data"];
    assert_eq!(row["name"], "Acme lamp");
    assert!(row.get("cost").is_none(), "cost is for admins: {row}");
    assert!(row.get("internal_note").is_none(), "hidden: {row}");
    assert!(
        product["payload"].get("userId").is_none(),
        "the writer is not named"
    );
    assert_eq!(carl_sees[1].data["meta"]["resourceId"], json!(carls_order));
    assert_ne!(
        carl_sees[0].id, carl_sees[1].id,
        "each event has its id line"
    );

    let ada_sees = ada_s.drain(quiet).await;
    assert_eq!(
        names(&ada_sees),
        ["product.created", "order.created", "order.created"],
        "an admin sees every acme order: {ada_sees:#?}"
    );
    assert_eq!(ada_sees[0].data["payload"]["data"]["cost"], json!(2));
    let ada_orders: Vec<&Value> = ada_sees[1..]
        .iter()
        .map(|e| &e.data["meta"]["resourceId"])
        .collect();
    assert_eq!(ada_orders, [&json!(carls_order), &json!(cleos_order)]);

    let gil_sees = gil_s.drain(quiet).await;
    assert_eq!(names(&gil_sees), ["product.created"], "{gil_sees:#?}");
    assert_eq!(gil_sees[0].data["payload"]["data"]["name"], "Globex lamp");

    let filtered = orders_only.drain(Duration::from_millis(50)).await;
    assert_eq!(names(&filtered), ["order.created"]);
    app.cleanup().await;
}

async fn the_stream_resumes_and_beats(backend: Backend) {
    let app = backend
        .app(|db| shop_app(db).events(fast().heartbeat(Duration::from_millis(100))))
        .await;
    let carl = shop_token("carl", "acme", &[]);
    let mut first = sse::open(&app.router, "/events/stream", &[("authorization", &carl)]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let created = app
            .post("/products", json!({"name": format!("R{n}"), "price": n}))
            .await;
        ids.push(created.id());
    }
    let got = first.drain(Duration::from_millis(400)).await;
    assert_eq!(got.len(), 3, "{got:#?}");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let _ = first.next(Duration::from_millis(50)).await;
    assert!(first.comments > 0, "heartbeats keep an idle stream open");
    drop(first);

    // The client reconnects after the first event: the rest come from the outbox, in order,
    // then live ones.
    let last = got[0].id.clone().expect("an id");
    let mut again = sse::open(
        &app.router,
        "/events/stream",
        &[("authorization", &carl), ("last-event-id", &last)],
    )
    .await;
    let replayed = again.drain(Duration::from_millis(300)).await;
    let replayed_ids: Vec<&Value> = replayed
        .iter()
        .map(|e| &e.data["meta"]["resourceId"])
        .collect();
    assert_eq!(replayed_ids, [&json!(ids[1]), &json!(ids[2])]);
    let live = app
        .post("/products", json!({"name": "R3", "price": 3}))
        .await;
    let next = again
        .next(Duration::from_secs(5))
        .await
        .expect("the live event");
    assert_eq!(next.data["meta"]["resourceId"], json!(live.id()));
    // Ids are the server's word to this caller: a made-up position, or another caller's id,
    // resumes nothing (no history by naming a position).
    for (who, id) in [
        (&carl, "0".to_owned()),
        (&shop_token("cleo", "acme", &[]), last.clone()),
    ] {
        let mut forged = sse::open(
            &app.router,
            "/events/stream",
            &[("authorization", who), ("last-event-id", &id)],
        )
        .await;
        assert_eq!(forged.status, 200);
        let replayed = forged.drain(Duration::from_millis(200)).await;
        assert!(replayed.is_empty(), "{id}: {replayed:#?}");
    }
    // A garbled id resumes nothing, and is no error.
    let garbled = sse::open(
        &app.router,
        "/events/stream",
        &[("authorization", &carl), ("last-event-id", "not-a-number")],
    )
    .await;
    assert_eq!(garbled.status, 200);
    app.cleanup().await;
}

/// The stream's isolation as a property (the model is `arc_tests::live`'s): whatever
/// members, editors and admins of two organizations and a platform admin write, in whatever
/// order, each stream carries exactly the events of rows its caller may read (their
/// organization's products; of its orders, their own, or all of them for an admin; every
/// category) whose types its `?events=` names, each showing only what its caller may see.
mod isolation {
    use arc_tests::live::{self, CAST, Listening, Shop, Write};
    use arc_tests::{Backend, TestApp, sse};
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    /// A stream: who opens it (an index of the cast), and its `?events=`, if any.
    type Stream = (usize, Option<Vec<&'static str>>);

    type Case = (Vec<Stream>, Vec<(usize, Write)>);

    fn case() -> impl Strategy<Value = Case> {
        let stream = (0..CAST.len(), proptest::option::of(live::patterns()));
        (
            proptest::collection::vec(stream, 1..6),
            proptest::collection::vec(live::write(), 1..24),
        )
    }

    async fn run_case(
        app: &TestApp,
        streams: &[Stream],
        writes: &[(usize, Write)],
    ) -> Result<(), TestCaseError> {
        let mut listening = Vec::new();
        for (who, url) in streams {
            let persona = CAST[*who];
            let (uri, patterns) = match url {
                Some(patterns) => (
                    format!("/events/stream?events={}", patterns.join(",")),
                    patterns.iter().map(|p| (*p).to_owned()).collect(),
                ),
                None => ("/events/stream".to_owned(), vec!["*".to_owned()]),
            };
            let token = persona.token();
            let stream = sse::open(&app.router, &uri, &[("authorization", &token)]).await;
            prop_assert_eq!(stream.status, 200, "{:?}: {}", persona, stream.error);
            listening.push(Listening::new(persona, patterns, stream));
        }
        let mut shop = Shop::default();
        for (who, write) in Shop::FIRST.iter().chain(writes) {
            let events = shop.apply(app, CAST[*who], write).await?;
            for stream in &mut listening {
                stream.expect(&events);
            }
        }
        live::check(app, &mut listening).await
    }

    fn run(backend: Backend, cases: u32) {
        let test = async |shared: &live::Shared, (streams, writes): Case| {
            run_case(&shared.app, &streams, &writes).await
        };
        if let Err(e) = live::run(backend, cases, case(), test) {
            panic!("{e}");
        }
    }

    #[test]
    fn a_stream_carries_exactly_what_its_caller_may_read_sqlite() {
        run(Backend::Sqlite, arc_tests::proptest_cases(24));
    }

    #[test]
    #[ignore = "needs PostgreSQL"]
    fn a_stream_carries_exactly_what_its_caller_may_read_postgres() {
        run(Backend::Postgres, arc_tests::proptest_cases(24) / 2);
    }
}

/// An announcement, the app's own event: published by a route on its own.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Announcement {
    #[schemars(length(min = 1, max = 20))]
    text: String,
}

impl arc_runtime::DomainEvent for Announcement {
    const NAME: &'static str = "board.announced";
}

/// Never declared.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Rumour {
    text: String,
}

impl arc_runtime::DomainEvent for Rumour {
    const NAME: &'static str = "board.rumour";
}

/// `POST /announce {"text", "rumour"}`: publishes, and says what `publish` answered.
async fn announce(
    axum::extract::State(state): axum::extract::State<arc_runtime::ArcState>,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    let text = body["text"].as_str().unwrap_or_default().to_owned();
    let outcome = if body["rumour"] == json!(true) {
        state.publish(&Rumour { text }).await
    } else {
        state.publish(&Announcement { text }).await
    };
    axum::Json(match outcome {
        Ok(()) => json!({"published": true}),
        Err(e) => json!({"published": false, "error": e.to_string()}),
    })
}

async fn apps_publish_their_own_events_checked_against_their_schemas(backend: Backend) {
    let seen = Seen::default();
    let app = backend
        .app(|db| {
            let seen = seen.clone();
            arc_tests::ledger::app(db)
                .events(
                    fast()
                        .define::<Announcement>()
                        .define::<arc_tests::ledger::LargeEntry>(),
                )
                .route("/announce", axum::routing::post(announce))
                .on("board.*", {
                    let seen = seen.clone();
                    move |event| {
                        let seen = seen.clone();
                        async move {
                            seen.lock().unwrap().push(event);
                            Ok::<(), std::convert::Infallible>(())
                        }
                    }
                })
                .on("ledger.*", move |event| {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push(event);
                        Ok::<(), std::convert::Infallible>(())
                    }
                })
        })
        .await;
    let said = app.post("/announce", json!({"text": "Hello"})).await;
    assert_eq!(said.body, json!({"published": true}));
    for (body, error) in [
        (json!({"text": ""}), "does not match its schema"),
        (json!({"text": "x".repeat(21)}), "does not match its schema"),
        (json!({"text": "psst", "rumour": true}), "is not declared"),
    ] {
        let refused = app.post("/announce", body.clone()).await;
        assert_eq!(refused.body["published"], false, "{body}");
        let text = refused.body["error"].as_str().unwrap();
        assert!(text.contains(error), "{body}: {text}");
    }
    // A hook publishes with the write: a committed large entry has its event, a refused
    // one (its after hook refuses negatives, after publishing) has none.
    let large = app
        .post("/entries", json!({"code": "big", "amount": 5000}))
        .await;
    assert_eq!(large.status, 201, "{}", large.body);
    let refused = app
        .post("/entries", json!({"code": "debt", "amount": -5000}))
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let small = app
        .post("/entries", json!({"code": "small", "amount": 5}))
        .await;
    assert_eq!(small.status, 201);

    let events = seen_n(&seen, 2).await;
    delivered(&app).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events_now = seen.lock().unwrap().clone();
    assert_eq!(events_now.len(), 2, "{events_now:#?}");
    // Two subscribers, each at its own pace: find each one's.
    let by_name = |name: &str| events.iter().find(|e| e.name == name).unwrap().clone();
    let said = by_name("board.announced");
    assert_eq!(said.payload, json!({"text": "Hello"}));
    assert_eq!(said.meta.version, 1);
    assert_eq!(said.meta.resource, None);
    let large = by_name("ledger.large");
    assert_eq!(large.payload, json!({"code": "BIG", "amount": 5000}));
    assert_eq!(large.meta.version, 2);
    app.cleanup().await;

    // The registry lists them with their schemas.
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let described = arc_tests::ledger::app(db.clone())
        .events(Events::new().define::<Announcement>())
        .describe();
    assert_eq!(described["events"][0]["type"], "board.announced");
    assert_eq!(described["events"][0]["version"], 1);
    assert_eq!(
        described["events"][0]["schema"]["properties"]["text"]["maxLength"],
        20
    );
    // Declarations that cannot work keep the app from starting.
    let twice = arc_tests::ledger::app(db.clone()).events(
        Events::new()
            .define::<Announcement>()
            .define::<Announcement>(),
    );
    assert_eq!(
        twice.problems(),
        ["event `board.announced` is declared twice"]
    );
    let clash = arc_tests::ledger::app(db).events(Events::new().define::<EntryCreated>());
    assert_eq!(
        clash.problems(),
        ["event `entry.created` is a resource's own: choose another type"]
    );
}

/// A type the ledger's entries already use.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct EntryCreated {}

impl arc_runtime::DomainEvent for EntryCreated {
    const NAME: &'static str = "entry.created";
}
