//! `GET /ws`: arc's WebSocket protocol over the events, on both databases: authenticated
//! before the upgrade, each caller shown what it may read (its org, its own orders, no
//! hidden field), subscriptions by resource or pattern, mistakes answered without closing,
//! and the session closed at its lifetime with arc's 4003.

use std::time::Duration;

use arc_runtime::App;
use arc_runtime::sea_orm::DatabaseConnection;
use arc_tests::events::{fast, lamps};
use arc_tests::ws::{self, WsClient};
use arc_tests::{Backend, on_each_backend, shop_app, shop_token};
use axum::http::Method;
use serde_json::{Value, json};

on_each_backend!(
    the_upgrade_is_refused_in_the_error_envelope,
    each_caller_sees_what_it_may_read,
    messages_are_answered_and_mistakes_do_not_close,
    the_session_ends_at_its_lifetime,
);

fn shop(db: DatabaseConnection) -> App {
    shop_app(db).events(fast())
}

async fn open(addr: std::net::SocketAddr, path: &str, token: &str) -> WsClient {
    let mut client = ws::connect(addr, path, &[("authorization", token)])
        .await
        .unwrap_or_else(|r| panic!("refused: {r:?}"));
    let hello = client.next(Duration::from_secs(2)).await.expect("hello");
    assert_eq!(hello["type"], "connected", "{hello}");
    client
}

async fn subscribe(client: &mut WsClient, message: Value) -> Value {
    client.send(&message).await;
    client
        .next(Duration::from_secs(2))
        .await
        .expect("an answer")
}

async fn the_upgrade_is_refused_in_the_error_envelope(backend: Backend) {
    let app = backend.app(shop).await;
    let addr = ws::serve(&app.router).await;
    // No credentials: a 401 before any upgrade, in the envelope.
    let anonymous = ws::connect(addr, "/ws", &[]).await.err().expect("refused");
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["success"], false);
    assert_eq!(anonymous.body["code"], "UNAUTHORIZED");
    let forged = ws::connect(addr, "/ws", &[("authorization", "Bearer not.a.token")])
        .await
        .err()
        .expect("refused");
    assert_eq!(forged.status, 401);
    // Another organization's: 403.
    let carl = shop_token("carl", "acme", &[]);
    let elsewhere = ws::connect(
        addr,
        "/ws",
        &[("authorization", &carl), ("x-organization-id", "globex")],
    )
    .await
    .err()
    .expect("refused");
    assert_eq!(elsewhere.status, 403, "{:?}", elsewhere.body);
    // A bad filter, an unknown parameter: 400.
    let many = (0..65)
        .map(|n| format!("t{n}.*"))
        .collect::<Vec<_>>()
        .join(",");
    let too_many = format!("/ws?events={many}");
    for path in ["/ws?events=pro*", "/ws?limit=1", too_many.as_str()] {
        let bad = ws::connect(addr, path, &[("authorization", &carl)])
            .await
            .err()
            .expect("refused");
        assert_eq!(bad.status, 400, "{path}: {:?}", bad.body);
        assert_eq!(bad.body["success"], false);
    }
    // A plain GET (no upgrade): a 400 the document allows (the test client checks every
    // answer against it).
    let plain = app
        .send(Method::GET, "/ws", None, &[("authorization", &carl)])
        .await;
    assert_eq!(plain.status, 400, "{}", plain.body);
    assert_eq!(plain.body["success"], false);
    let anonymous = app
        .send(Method::GET, "/ws", None, &[("authorization", "")])
        .await;
    assert_eq!(anonymous.status, 401);
    app.cleanup().await;
}

async fn each_caller_sees_what_it_may_read(backend: Backend) {
    let app = backend.app(shop).await;
    let addr = ws::serve(&app.router).await;
    let carl = shop_token("carl", "acme", &[]);
    let cleo = shop_token("cleo", "acme", &[]);
    let gwen = shop_token("gwen", "globex", &["admin"]);
    let ada = arc_tests::acme_admin();

    let mut carl_ws = open(addr, "/ws", &carl).await;
    for resource in ["product", "order"] {
        let answer = subscribe(
            &mut carl_ws,
            json!({"type": "subscribe", "resource": resource}),
        )
        .await;
        assert_eq!(answer, json!({"type": "subscribed", "channel": resource}));
    }
    let mut ada_ws = open(addr, "/ws?events=product.*,order.*", &ada).await;
    let mut gwen_ws = open(addr, "/ws", &gwen).await;
    subscribe(&mut gwen_ws, json!({"type": "subscribe", "events": "*"})).await;

    let written = lamps(&app, &[&cleo, &carl]).await;
    let (lamp_id, orders) = (&written.acme, &written.orders);
    let quiet = Duration::from_millis(500);
    let seen = |messages: Vec<Value>| -> Vec<(String, Value)> {
        messages
            .into_iter()
            .filter(|m| m["type"] != "ping")
            .map(|m| {
                (
                    m["type"].as_str().unwrap().to_owned(),
                    m["meta"]["resourceId"].clone(),
                )
            })
            .collect()
    };
    let carl_got = carl_ws.drain(quiet).await;
    assert_eq!(
        seen(carl_got.clone()),
        [
            ("product.created".to_owned(), json!(lamp_id)),
            ("order.created".to_owned(), json!(orders[1])),
        ],
        "acme's product and carl's own order; not cleo's order, not globex's product"
    );
    // The row as a member's GET shows it: no hidden field, no admin-only one, and not
    // who wrote it.
    let data = &carl_got[0]["data"]["data"];
    assert_eq!(data["name"], "Acme lamp", "{:#}", carl_got[0]);
    assert!(data.get("internal_note").is_none(), "{data}");
    assert!(data.get("cost").is_none(), "{data}");
    assert!(carl_got[0]["data"].get("userId").is_none());
    assert!(carl_got[0]["meta"].get("userId").is_none());

    let ada_got = ada_ws.drain(quiet).await;
    assert_eq!(
        seen(ada_got.clone()),
        [
            ("product.created".to_owned(), json!(lamp_id)),
            ("order.created".to_owned(), json!(orders[0])),
            ("order.created".to_owned(), json!(orders[1])),
        ],
        "the admin: every acme event"
    );
    assert_eq!(
        ada_got[0]["data"]["data"]["cost"],
        json!(2),
        "admins see cost"
    );
    assert!(ada_got[0]["data"]["data"].get("internal_note").is_none());

    let gwen_got = seen(gwen_ws.drain(quiet).await);
    assert_eq!(gwen_got.len(), 1, "only globex's product: {gwen_got:?}");
    assert_eq!(gwen_got[0].0, "product.created");
    assert_eq!(gwen_got[0].1, json!(written.globex));

    // Unsubscribed: no more of that resource, still the other.
    let answer = subscribe(
        &mut carl_ws,
        json!({"type": "unsubscribe", "resource": "product"}),
    )
    .await;
    assert_eq!(
        answer,
        json!({"type": "unsubscribed", "channel": "product"})
    );
    let again = app
        .post("/products", json!({"name": "Another", "price": 1}))
        .await;
    assert_eq!(again.status, 201);
    let placed = app
        .send(
            Method::POST,
            "/orders",
            Some(json!({"product_id": lamp_id, "quantity": 2})),
            &[("authorization", &carl)],
        )
        .await;
    assert_eq!(placed.status, 201);
    assert_eq!(
        seen(carl_ws.drain(quiet).await),
        [(
            "order.created".to_owned(),
            placed.body["data"]["id"].clone()
        )]
    );
    app.cleanup().await;
}

async fn messages_are_answered_and_mistakes_do_not_close(backend: Backend) {
    let app = backend.app(shop).await;
    let addr = ws::serve(&app.router).await;
    let carl = shop_token("carl", "acme", &[]);
    let mut client = ws::connect(addr, "/ws", &[("authorization", &carl)])
        .await
        .unwrap();
    let hello = client.next(Duration::from_secs(2)).await.unwrap();
    assert!(hello["clientId"].as_str().unwrap().starts_with("ws_"));
    assert_eq!(hello["resources"], json!(["category", "order", "product"]));

    let cases = [
        (
            json!({"type": "subscribe", "resource": "nope"}),
            json!({"type": "error", "channel": "nope", "error": "Unknown resource"}),
        ),
        (
            json!({"type": "subscribe", "events": "pro*"}),
            json!("error"),
        ),
        (json!({"type": "subscribe"}), json!("error")),
        (
            json!({"type": "dance"}),
            json!({"type": "error", "error": "Unknown message type"}),
        ),
        (
            json!([1, 2]),
            json!({"type": "error", "error": "Invalid message format"}),
        ),
        (json!({"type": "ping"}), json!("pong")),
    ];
    for (message, expected) in cases {
        let answer = subscribe(&mut client, message.clone()).await;
        match expected {
            Value::String(kind) => assert_eq!(answer["type"], kind, "{message}: {answer}"),
            exact => assert_eq!(answer, exact, "{message}"),
        }
    }
    client.send_text("{not json").await;
    let answer = client.next(Duration::from_secs(2)).await.unwrap();
    assert_eq!(answer["error"], "Invalid message format");
    client.send_text(&"x".repeat(20 * 1024)).await;
    let answer = client.next(Duration::from_secs(2)).await.unwrap();
    assert_eq!(answer["error"], "Message too large");
    // Still open: a subscription works, and the server pings.
    let answer = subscribe(
        &mut client,
        json!({"type": "subscribe", "channel": "product"}),
    )
    .await;
    assert_eq!(answer["type"], "subscribed");
    let beat = client
        .next_any(Duration::from_secs(2))
        .await
        .expect("a heartbeat");
    assert_eq!(beat["type"], "ping", "{beat}");
    assert!(beat["timestamp"].is_i64(), "{beat}");
    // Subscriptions are bounded.
    let mut refused = None;
    for n in 0..80 {
        let answer = subscribe(
            &mut client,
            json!({"type": "subscribe", "events": format!("thing{n}.*")}),
        )
        .await;
        if answer["type"] == "error" {
            refused = Some(answer);
            break;
        }
    }
    assert_eq!(
        refused.expect("a limit")["error"],
        "Subscription limit reached"
    );
    app.cleanup().await;
}

async fn the_session_ends_at_its_lifetime(backend: Backend) {
    let app = backend
        .app(|db| shop_app(db).events(fast().stream_lifetime(Duration::from_secs(1))))
        .await;
    let addr = ws::serve(&app.router).await;
    let carl = shop_token("carl", "acme", &[]);
    let mut client = open(addr, "/ws", &carl).await;
    let (messages, closed) = client.until_closed(Duration::from_secs(5)).await;
    assert!(
        messages
            .iter()
            .any(|m| m == &json!({"type": "error", "error": "Session expired"})),
        "{messages:?}"
    );
    assert_eq!(closed.code, Some(4003));
    assert_eq!(closed.reason, "Session expired");
    app.cleanup().await;
}

/// The WebSocket's isolation as a property (the model is `arc_tests::live`'s): whatever
/// members, editors and admins of two organizations and a platform admin write, in whatever
/// order, and whatever each client subscribes to and unsubscribes from meanwhile (by
/// resource, by channel, by pattern, or in its URL), each client receives exactly the events
/// of rows its caller may read whose types it follows, each showing only what its caller may
/// see, and each subscription is answered as its caller's rights say.
mod isolation {
    use std::net::SocketAddr;
    use std::time::Duration;

    use arc_tests::live::{self, CAST, Listening, Persona, Shop, Write};
    use arc_tests::ws::{self, WsClient};
    use arc_tests::{Backend, TestApp};
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use serde_json::{Value, json};

    /// A client: who opens it (an index of the cast), and the patterns of its URL's
    /// `?events=`, if any.
    type Client = (usize, Option<Vec<&'static str>>);

    /// A message that changes a client's subscriptions.
    #[derive(Clone, Debug)]
    enum Change {
        /// `subscribe` to a resource, named by `resource` or by `channel`.
        Resource {
            key: &'static str,
            resource: &'static str,
        },
        /// `subscribe` to a pattern (`events`).
        Events(&'static str),
        /// `unsubscribe` from a resource.
        DropResource(&'static str),
        /// `unsubscribe` from a pattern.
        DropEvents(&'static str),
    }

    /// A write by one of the cast, or a change of a client's (an index of the clients).
    #[derive(Clone, Debug)]
    enum Step {
        Write(usize, Write),
        Change(usize, Change),
    }

    const RESOURCES: [&str; 3] = ["product", "order", "category"];

    fn change() -> impl Strategy<Value = Change> {
        let resource = || proptest::sample::select(&RESOURCES[..]);
        let pattern = || proptest::sample::select(&live::PATTERNS[..]);
        prop_oneof![
            (prop_oneof![Just("resource"), Just("channel")], resource())
                .prop_map(|(key, resource)| Change::Resource { key, resource }),
            pattern().prop_map(Change::Events),
            resource().prop_map(Change::DropResource),
            pattern().prop_map(Change::DropEvents),
        ]
    }

    type Case = (Vec<Client>, Vec<Step>);

    fn case() -> impl Strategy<Value = Case> {
        let url = proptest::option::weighted(0.75, live::patterns());
        let client = (0..CAST.len(), url);
        let step = prop_oneof![
            3 => live::write().prop_map(|(who, write)| Step::Write(who, write)),
            1 => (any::<usize>(), change()).prop_map(|(client, change)| Step::Change(client, change)),
        ];
        (
            proptest::collection::vec(client, 1..6),
            proptest::collection::vec(step, 1..32),
        )
    }

    /// Adds `pattern` to `patterns` unless it is there (a stream follows each once).
    fn follow(patterns: &mut Vec<String>, pattern: String) {
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }

    impl Change {
        /// The message, and the server's answer to `persona`, whose client follows
        /// `patterns`, changed as the server should change them.
        fn exchange(&self, persona: &Persona, patterns: &mut Vec<String>) -> (Value, Value) {
            match *self {
                Change::Resource { key, resource } => {
                    let mut message = json!({"type": "subscribe"});
                    message[key] = json!(resource);
                    if persona.may_list(resource) {
                        follow(patterns, format!("{resource}.*"));
                        let answer = json!({"type": "subscribed", "channel": resource});
                        (message, answer)
                    } else {
                        let answer = json!({"type": "error", "channel": resource, "error": "Subscription denied"});
                        (message, answer)
                    }
                }
                Change::Events(pattern) => {
                    follow(patterns, pattern.to_owned());
                    (
                        json!({"type": "subscribe", "events": pattern}),
                        json!({"type": "subscribed", "channel": pattern}),
                    )
                }
                Change::DropResource(resource) => {
                    patterns.retain(|p| *p != format!("{resource}.*"));
                    (
                        json!({"type": "unsubscribe", "resource": resource}),
                        json!({"type": "unsubscribed", "channel": resource}),
                    )
                }
                Change::DropEvents(pattern) => {
                    patterns.retain(|p| p != pattern);
                    (
                        json!({"type": "unsubscribe", "events": pattern}),
                        json!({"type": "unsubscribed", "channel": pattern}),
                    )
                }
            }
        }
    }

    /// Opens a client for `persona` (with `?events=` when given) and checks its greeting:
    /// the resources it names are those the caller may subscribe to.
    async fn open(
        addr: SocketAddr,
        persona: Persona,
        url: Option<&[&'static str]>,
    ) -> Result<Listening<WsClient>, TestCaseError> {
        let path = match url {
            Some(patterns) => format!("/ws?events={}", patterns.join(",")),
            None => "/ws".to_owned(),
        };
        let token = persona.token();
        let mut client = ws::connect(addr, &path, &[("authorization", &token)])
            .await
            .map_err(|r| TestCaseError::fail(format!("{persona:?} refused: {r:?}")))?;
        let hello = client.next(Duration::from_secs(2)).await;
        let hello = hello.ok_or_else(|| TestCaseError::fail("no greeting"))?;
        let resources: Vec<&str> = ["category", "order", "product"]
            .into_iter()
            .filter(|r| persona.may_list(r))
            .collect();
        prop_assert_eq!(&hello["type"], "connected", "{}", hello);
        prop_assert_eq!(&hello["resources"], &json!(resources), "{:?}", persona);
        let mut patterns = Vec::new();
        for pattern in url.unwrap_or_default() {
            follow(&mut patterns, (*pattern).to_owned());
        }
        Ok(Listening::new(persona, patterns, client))
    }

    /// What the cases did, in all (shrinking included).
    #[derive(Debug, Default)]
    struct Tally {
        cases: usize,
        writes: usize,
        committed: usize,
        events: usize,
        changes: usize,
        carried: usize,
    }

    impl std::ops::AddAssign for Tally {
        fn add_assign(&mut self, case: Tally) {
            self.cases += case.cases;
            self.writes += case.writes;
            self.committed += case.committed;
            self.events += case.events;
            self.changes += case.changes;
            self.carried += case.carried;
        }
    }

    async fn run_case(
        app: &TestApp,
        addr: SocketAddr,
        clients: &[Client],
        steps: &[Step],
        tally: &mut Tally,
    ) -> Result<(), TestCaseError> {
        let mut listening = Vec::new();
        for (who, url) in clients {
            listening.push(open(addr, CAST[*who], url.as_deref()).await?);
        }
        let mut shop = Shop::default();
        let mut unchecked = false;
        let first = Shop::FIRST.map(|(who, write)| Step::Write(who, write));
        for step in first.iter().chain(steps) {
            match step {
                Step::Write(who, write) => {
                    let events = shop.apply(app, CAST[*who], write).await?;
                    for client in &mut listening {
                        client.expect(&events);
                    }
                    unchecked |= !events.is_empty();
                }
                Step::Change(n, change) => {
                    // A subscription counts from its answer on: what was on its way before
                    // is received (and checked) first.
                    if unchecked {
                        live::check(app, &mut listening).await?;
                        unchecked = false;
                    }
                    let n = n % listening.len();
                    let client = &mut listening[n];
                    let (message, answer) = change.exchange(&client.persona, &mut client.patterns);
                    client.stream.send(&message).await;
                    let got = client.stream.next(Duration::from_secs(2)).await;
                    prop_assert_eq!(got, Some(answer), "{:?} sent {}", client.persona, message);
                    tally.changes += 1;
                }
            }
        }
        let checked = live::check(app, &mut listening).await;
        tally.cases += 1;
        tally.writes += Shop::FIRST.len()
            + steps
                .iter()
                .filter(|s| matches!(s, Step::Write(..)))
                .count();
        tally.committed += shop.committed;
        tally.events += shop.events;
        tally.carried += listening.iter().map(|l| l.carried).sum::<usize>();
        checked
    }

    fn run(backend: Backend, cases: u32) {
        let tally = std::cell::RefCell::new(Tally::default());
        let test = async |shared: &live::Shared, (clients, steps): Case| {
            let mut this = Tally::default();
            let result = run_case(&shared.app, shared.addr, &clients, &steps, &mut this).await;
            *tally.borrow_mut() += this;
            result
        };
        let result = live::run(backend, cases, case(), test);
        println!("WebSocket isolation on {backend:?}: {:?}", tally.borrow());
        if let Err(e) = result {
            panic!("{e}");
        }
    }

    #[test]
    fn a_client_receives_exactly_what_its_caller_may_read_sqlite() {
        run(Backend::Sqlite, arc_tests::proptest_cases(24));
    }

    #[test]
    #[ignore = "needs PostgreSQL"]
    fn a_client_receives_exactly_what_its_caller_may_read_postgres() {
        run(Backend::Postgres, arc_tests::proptest_cases(24) / 2);
    }
}
