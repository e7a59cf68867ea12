//! Helpers of the events' tests: settings as fast as a test wants them, the shop with a
//! subscriber that keeps what it handles, and waiting for the relay and the subscribers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_runtime::config::{EventRetry, Events};
use arc_runtime::sea_orm::DatabaseConnection;
use arc_runtime::{App, Event};
use axum::http::Method;
use serde_json::json;

use crate::{TestApp, shop_app};

/// Events as fast as a test wants them: the outbox polled every 20 ms, a failing subscriber
/// retried within milliseconds, a stream's heartbeat every 200 ms.
pub fn fast() -> Events {
    Events::new()
        .poll_interval(Duration::from_millis(20))
        .heartbeat(Duration::from_millis(200))
        .retry(EventRetry {
            attempts: 3,
            base: Duration::from_millis(5),
            max: Duration::from_millis(20),
        })
}

/// What a subscriber noted of the events it handled, in the order it handled them.
pub type Seen<T> = Arc<Mutex<Vec<T>>>;

/// The shop on `events`, with a subscriber to `pattern` that keeps `note(event)` of each
/// event it handles in `seen`, after taking `pause` over it (so that a busy consumer leaves
/// the next entries to another instance's).
pub fn shop_subscribed<T, N>(
    events: Events,
    pattern: &'static str,
    seen: &Seen<T>,
    note: N,
    pause: Duration,
) -> impl FnOnce(DatabaseConnection) -> App + use<T, N>
where
    T: Send + 'static,
    N: Fn(Arc<Event>) -> T + Send + Sync + 'static,
{
    let seen = seen.clone();
    move |db| {
        shop_app(db).events(events).on(pattern, move |event| {
            let (seen, noted) = (seen.clone(), note(event));
            async move {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                seen.lock().unwrap().push(noted);
                Ok::<(), std::convert::Infallible>(())
            }
        })
    }
}

/// Waits until `seen` holds `n` notes (at most `within`); they are returned.
pub async fn seen_n<T: Clone + std::fmt::Debug>(
    seen: &Seen<T>,
    n: usize,
    within: Duration,
) -> Vec<T> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let now = seen.lock().unwrap().clone();
        if now.len() >= n {
            return now;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!(
                "{} events handled within {within:?}, {n} expected: {now:#?}",
                now.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the relay has delivered every outbox row (at most 10 s).
pub async fn delivered(app: &TestApp) {
    for _ in 0..500 {
        let pending = app
            .scalar("SELECT COUNT(*) FROM arc_outbox WHERE delivered_at IS NULL")
            .await;
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the outbox was not delivered within 10 s");
}

/// The writes of the streams' example tests, the ids they made.
pub struct Lamps {
    /// Acme's lamp: by ada, with a cost (for admins' eyes) and a hidden note.
    pub acme: String,
    /// Globex's lamp, by gwen.
    pub globex: String,
    /// An order of acme's lamp by each customer, in their order.
    pub orders: Vec<String>,
}

/// Writes a lamp in acme and one in globex, then an order of acme's by each of `customers`
/// (tokens); every write must commit.
pub async fn lamps(app: &TestApp, customers: &[&str]) -> Lamps {
    let ada = crate::acme_admin();
    let gwen = crate::shop_token("gwen", "globex", &["admin"]);
    let create = async |token: &str, uri: &str, body: serde_json::Value| {
        let made = app
            .send(Method::POST, uri, Some(body), &[("authorization", token)])
            .await;
        assert_eq!(made.status, 201, "{uri}: {}", made.body);
        made.id()
    };
    let acme = json!({"name": "Acme lamp", "price": 5, "cost": 2, "status": "active", "internal_note": "n"});
    let acme = create(&ada, "/products", acme).await;
    let globex = json!({"name": "Globex lamp", "price": 6, "status": "active"});
    let globex = create(&gwen, "/products", globex).await;
    let mut orders = Vec::new();
    for customer in customers {
        let order = json!({"product_id": acme, "quantity": 1});
        orders.push(create(customer, "/orders", order).await);
    }
    Lamps {
        acme,
        globex,
        orders,
    }
}
