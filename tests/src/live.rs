//! The live streams' isolation as a property, shared by the tests of `/events/stream` (SSE)
//! and `/ws` (WebSocket): a cast of callers in two organizations and a platform admin in
//! none; random writes of the shop's products, orders and categories by them; a model of the
//! shop that says which writes commit and which events each makes; and who may see each
//! event (their organization's products; of its orders, their own, or all of them for an
//! admin; every category), through which patterns, showing which fields.
//!
//! The model is the test's own account of the shop's rules: it never asks the runtime who
//! may see what. A write it expects to commit must commit and one it expects refused must be
//! refused, so the events it expects are the ones the shop made.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use arc_runtime::uuid::Uuid;
use axum::http::Method;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestError};
use serde_json::{Value, json};

use crate::sse::{self, SseEvent, SseStream};
use crate::ws::WsClient;
use crate::{Backend, Reply, TestApp};

/// A caller's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A member of their organization, with no role there.
    Member,
    /// An editor of their organization: creates products, updates their own.
    Editor,
    /// An admin of their organization.
    Admin,
    /// A platform admin (claim `roles`) in no organization: writes the categories every
    /// organization shares.
    Platform,
}

/// One of the cast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persona {
    pub user: &'static str,
    pub org: Option<&'static str>,
    pub role: Role,
}

const fn persona(user: &'static str, org: Option<&'static str>, role: Role) -> Persona {
    Persona { user, org, role }
}

/// Who writes, and who listens.
pub const CAST: [Persona; 7] = [
    persona("carl", Some("acme"), Role::Member),
    persona("cleo", Some("acme"), Role::Member),
    persona("eve", Some("acme"), Role::Editor),
    persona("ada", Some("acme"), Role::Admin),
    persona("gil", Some("globex"), Role::Member),
    persona("gwen", Some("globex"), Role::Admin),
    persona("root", None, Role::Platform),
];

impl Persona {
    /// Their bearer token.
    pub fn token(&self) -> String {
        match (self.org, self.role) {
            (None, _) => crate::platform_admin(),
            (Some(org), Role::Editor) => crate::shop_token(self.user, org, &["editor"]),
            (Some(org), Role::Admin) => crate::shop_token(self.user, org, &["admin"]),
            (Some(org), _) => crate::shop_token(self.user, org, &[]),
        }
    }

    /// Whether `org` is their organization.
    fn of(&self, org: Option<&str>) -> bool {
        self.org.is_some() && self.org == org
    }

    /// Whether they may subscribe to `resource`'s events (they may list it): products and
    /// orders are for members of an organization, categories for anyone.
    pub fn may_list(&self, resource: &str) -> bool {
        match resource {
            "category" => true,
            "product" | "order" => self.org.is_some(),
            _ => false,
        }
    }

    /// Whether they may read the row of `event`.
    pub fn may_see(&self, event: &Committed) -> bool {
        match event.resource() {
            "category" => true,
            "product" => self.of(event.org),
            "order" => {
                self.of(event.org)
                    && (self.role == Role::Admin || event.customer == Some(self.user))
            }
            _ => false,
        }
    }
}

/// An event of a committed write, as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Its type: `product.created`, `order.updated`, ..
    pub kind: String,
    /// The row's id.
    pub id: String,
    /// The payload's `operation`: `create`, `update`, `restore` or `delete`.
    pub operation: &'static str,
    /// The row's organization (none for a category).
    pub org: Option<&'static str>,
    /// Who placed it (orders).
    pub customer: Option<&'static str>,
}

/// What a stream shows of an event: its type, its row's id, its operation.
pub type Shown = (String, String, String);

impl Committed {
    /// The resource it is of.
    pub fn resource(&self) -> &str {
        self.kind.split('.').next().unwrap_or_default()
    }

    fn shown(&self) -> Shown {
        (
            self.kind.clone(),
            self.id.clone(),
            self.operation.to_owned(),
        )
    }
}

/// The patterns streams follow in these tests: every event, a resource's, an action's, one
/// type.
pub const PATTERNS: [&str; 10] = [
    "*",
    "product.*",
    "order.*",
    "category.*",
    "*.created",
    "*.updated",
    "*.deleted",
    "product.created",
    "order.updated",
    "product.deleted",
];

/// One to three of [`PATTERNS`].
pub fn patterns() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(proptest::sample::select(&PATTERNS[..]), 1..4)
}

/// Whether `pattern` matches the event type `kind`, segment by segment (`*` alone matches
/// every type): the test's own reading of the grammar, not the runtime's.
pub fn matches(pattern: &str, kind: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (pattern, kind): (Vec<&str>, Vec<&str>) =
        (pattern.split('.').collect(), kind.split('.').collect());
    pattern.len() == kind.len() && pattern.iter().zip(&kind).all(|(p, k)| *p == "*" || p == k)
}

/// A write. A row is picked by index among the rows of its table the case wrote (both
/// organizations', deleted ones too), so many writes aim at someone else's.
#[derive(Clone, Debug)]
pub enum Write {
    CreateProduct,
    UpdateProduct(usize),
    DeleteProduct(usize),
    RestoreProduct(usize),
    /// `POST /products/bulk` of this many.
    BulkCreateProducts(usize),
    /// `PATCH /products/bulk` filtered on the product's name.
    BulkUpdateProducts(usize),
    /// `DELETE /products/bulk` filtered on the product's name.
    BulkDeleteProducts(usize),
    /// An order of the product.
    CreateOrder(usize),
    UpdateOrder(usize),
    /// Never allowed (orders are cancelled, not deleted).
    DeleteOrder(usize),
    CreateCategory,
    UpdateCategory(usize),
    DeleteCategory(usize),
}

/// One of the [`CAST`] (its index), admins most often: most of their writes commit.
pub fn writer() -> impl Strategy<Value = usize> {
    let weights = [1, 1, 2, 3, 1, 3, 2];
    let weighted: Vec<(u32, BoxedStrategy<usize>)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (*w, Just(i).boxed()))
        .collect();
    proptest::strategy::Union::new_weighted(weighted)
}

/// A write by one of the [`CAST`] (its index).
pub fn write() -> impl Strategy<Value = (usize, Write)> {
    let row = any::<usize>;
    let write = prop_oneof![
        4 => Just(Write::CreateProduct),
        2 => row().prop_map(Write::UpdateProduct),
        1 => row().prop_map(Write::DeleteProduct),
        1 => row().prop_map(Write::RestoreProduct),
        1 => (1..4usize).prop_map(Write::BulkCreateProducts),
        1 => row().prop_map(Write::BulkUpdateProducts),
        1 => row().prop_map(Write::BulkDeleteProducts),
        4 => row().prop_map(Write::CreateOrder),
        2 => row().prop_map(Write::UpdateOrder),
        1 => row().prop_map(Write::DeleteOrder),
        2 => Just(Write::CreateCategory),
        1 => row().prop_map(Write::UpdateCategory),
        1 => row().prop_map(Write::DeleteCategory),
    ];
    (writer(), write)
}

/// A row the case wrote.
#[derive(Clone, Debug)]
struct Row {
    id: String,
    name: String,
    org: Option<&'static str>,
    /// Who created it (products) or placed it (orders).
    by: &'static str,
    deleted: bool,
}

/// The rows one case wrote, as the test knows them.
#[derive(Debug)]
pub struct Shop {
    /// The start of every name the case gives (the app may be shared with other cases).
    tag: String,
    writes: usize,
    /// How many of the writes committed, and how many events they made.
    pub committed: usize,
    pub events: usize,
    products: Vec<Row>,
    orders: Vec<Row>,
    categories: Vec<Row>,
}

impl Default for Shop {
    fn default() -> Self {
        Shop {
            tag: format!("c{}", &Uuid::new_v4().simple().to_string()[..12]),
            writes: 0,
            committed: 0,
            events: 0,
            products: Vec::new(),
            orders: Vec::new(),
            categories: Vec::new(),
        }
    }
}

/// The row `n` picks among `rows`, if there are any.
fn pick(rows: &[Row], n: usize) -> Option<usize> {
    (!rows.is_empty()).then(|| n % rows.len())
}

/// Checks that `reply` is `ok` when the write may commit, and a refusal (a 4xx, the caller
/// being authenticated) when not; says whether it committed.
fn commits(reply: &Reply, may: bool, ok: u16, what: &str) -> Result<bool, TestCaseError> {
    let status = reply.status.as_u16();
    if may {
        prop_assert_eq!(status, ok, "{} commits: {}", what, reply.body);
    } else {
        prop_assert!(
            (400..500).contains(&status) && status != 401,
            "{} is refused: {} {}",
            what,
            status,
            reply.body
        );
    }
    Ok(may)
}

/// The id of the row `value` is.
fn id_in(value: &Value) -> Result<String, TestCaseError> {
    value["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| TestCaseError::fail(format!("no id in {value}")))
}

/// The event of type `kind` of a write that did `operation` to `row`.
fn event(kind: &str, row: &Row, operation: &'static str) -> Committed {
    Committed {
        kind: kind.to_owned(),
        id: row.id.clone(),
        operation,
        org: row.org,
        customer: kind.starts_with("order.").then_some(row.by),
    }
}

impl Row {
    /// The row `who` created, named `name`, as the answer shows it (`made`).
    fn created(made: &Value, name: String, who: Persona) -> Result<Row, TestCaseError> {
        Ok(Row {
            id: id_in(made)?,
            name,
            org: who.org,
            by: who.user,
            deleted: false,
        })
    }
}

/// Notes `row`, just created, in `table`, and its event of type `kind` in `events`.
fn create(table: &mut Vec<Row>, kind: &str, row: Row, events: &mut Vec<Committed>) {
    events.push(event(kind, &row, "create"));
    table.push(row);
}

impl Shop {
    /// The writes a case starts with, so that its other writes find rows to aim at: a
    /// product in each organization, by its admin (ada, gwen), and a category (root's).
    pub const FIRST: [(usize, Write); 3] = [
        (3, Write::CreateProduct),
        (5, Write::CreateProduct),
        (6, Write::CreateCategory),
    ];

    /// Sends `write` as `who`; checks that it commits exactly when the shop's rules allow it;
    /// gives the events it made, in order.
    pub async fn apply(
        &mut self,
        app: &TestApp,
        who: Persona,
        write: &Write,
    ) -> Result<Vec<Committed>, TestCaseError> {
        self.writes += 1;
        let n = self.writes;
        let name = format!("{}-{n}", self.tag);
        let token = who.token();
        let send = |method: Method, uri: String, body: Option<Value>| {
            let token = token.clone();
            async move {
                app.send(method, &uri, body, &[("authorization", &token)])
                    .await
            }
        };
        let what = format!("{write:?} by {who:?}");
        let org_admin = who.org.is_some() && who.role == Role::Admin;
        // A hidden field, and one only admins see (and so write).
        let product = |name: &str| {
            let mut row =
                json!({"name": name, "price": n, "status": "active", "internal_note": "x"});
            if who.role == Role::Admin {
                row["cost"] = json!(1);
            }
            row
        };
        let mut events = Vec::new();
        match *write {
            Write::CreateProduct => {
                let may = who.org.is_some() && matches!(who.role, Role::Editor | Role::Admin);
                let reply = send(Method::POST, "/products".into(), Some(product(&name))).await;
                if commits(&reply, may, 201, &what)? {
                    let row = Row::created(&reply.body["data"], name, who)?;
                    create(&mut self.products, "product.created", row, &mut events);
                }
            }
            Write::UpdateProduct(i) => {
                let Some(k) = pick(&self.products, i) else {
                    return Ok(events);
                };
                let row = &self.products[k];
                let may = !row.deleted
                    && who.of(row.org)
                    && (who.role == Role::Admin || who.role == Role::Editor && row.by == who.user);
                let uri = format!("/products/{}", row.id);
                let reply = send(Method::PATCH, uri, Some(json!({"price": n}))).await;
                if commits(&reply, may, 200, &what)? {
                    events.push(event("product.updated", row, "update"));
                }
            }
            Write::DeleteProduct(i) => {
                let Some(k) = pick(&self.products, i) else {
                    return Ok(events);
                };
                let row = &mut self.products[k];
                let may = !row.deleted && who.of(row.org) && who.role == Role::Admin;
                let reply = send(Method::DELETE, format!("/products/{}", row.id), None).await;
                if commits(&reply, may, 200, &what)? {
                    row.deleted = true;
                    events.push(event("product.deleted", row, "delete"));
                }
            }
            Write::RestoreProduct(i) => {
                let Some(k) = pick(&self.products, i) else {
                    return Ok(events);
                };
                let row = &mut self.products[k];
                let may = row.deleted && who.of(row.org) && who.role == Role::Admin;
                let uri = format!("/products/{}/restore", row.id);
                let reply = send(Method::POST, uri, None).await;
                if commits(&reply, may, 200, &what)? {
                    row.deleted = false;
                    events.push(event("product.updated", row, "restore"));
                }
            }
            Write::BulkCreateProducts(count) => {
                // Bulk writes take the `bulk` rule too: the shop leaves it to its default,
                // admins.
                let names: Vec<String> = (0..count).map(|j| format!("{name}-{j}")).collect();
                let items: Vec<Value> = names.iter().map(|name| product(name)).collect();
                let body = json!({ "items": items });
                let reply = send(Method::POST, "/products/bulk".into(), Some(body)).await;
                if commits(&reply, org_admin, 201, &what)? {
                    let made = reply.body["data"].as_array().cloned().unwrap_or_default();
                    prop_assert_eq!(made.len(), count, "{}: {}", what, reply.body);
                    for (made, name) in made.iter().zip(names) {
                        let row = Row::created(made, name, who)?;
                        create(&mut self.products, "product.created", row, &mut events);
                    }
                }
            }
            Write::BulkUpdateProducts(i) | Write::BulkDeleteProducts(i) => {
                let Some(k) = pick(&self.products, i) else {
                    return Ok(events);
                };
                let row = &mut self.products[k];
                let delete = matches!(write, Write::BulkDeleteProducts(_));
                let filter = json!({"name": row.name});
                let (method, body, counted) = if delete {
                    (Method::DELETE, json!({"filter": filter}), "deletedCount")
                } else {
                    let data = json!({"price": n});
                    (
                        Method::PATCH,
                        json!({"filter": filter, "data": data}),
                        "matchedCount",
                    )
                };
                let reply = send(method, "/products/bulk".into(), Some(body)).await;
                // The filter names one row: the write is the caller's when it may write it;
                // otherwise it matches nothing, or is refused.
                if !row.deleted && who.of(row.org) && org_admin {
                    commits(&reply, true, 200, &what)?;
                    prop_assert_eq!(&reply.body["data"][counted], &json!(1), "{}", what);
                    row.deleted |= delete;
                    events.push(if delete {
                        event("product.deleted", row, "delete")
                    } else {
                        event("product.updated", row, "update")
                    });
                } else if reply.status.is_success() {
                    prop_assert_eq!(&reply.body["data"][counted], &json!(0), "{}", what);
                } else {
                    commits(&reply, false, 200, &what)?;
                }
            }
            Write::CreateOrder(i) => {
                let Some(k) = pick(&self.products, i) else {
                    return Ok(events);
                };
                let ordered = &self.products[k];
                // The hook refuses a product that is deleted or another organization's.
                let may = !ordered.deleted && who.of(ordered.org);
                let body = json!({"product_id": ordered.id, "quantity": 1});
                let reply = send(Method::POST, "/orders".into(), Some(body)).await;
                if commits(&reply, may, 201, &what)? {
                    let row = Row::created(&reply.body["data"], name, who)?;
                    create(&mut self.orders, "order.created", row, &mut events);
                }
            }
            Write::UpdateOrder(i) | Write::DeleteOrder(i) => {
                let Some(k) = pick(&self.orders, i) else {
                    return Ok(events);
                };
                let row = &self.orders[k];
                let uri = format!("/orders/{}", row.id);
                if matches!(write, Write::DeleteOrder(_)) {
                    let reply = send(Method::DELETE, uri, None).await;
                    commits(&reply, false, 200, &what)?;
                    return Ok(events);
                }
                let may = org_admin && who.of(row.org);
                let reply = send(Method::PATCH, uri, Some(json!({"status": "paid"}))).await;
                if commits(&reply, may, 200, &what)? {
                    events.push(event("order.updated", row, "update"));
                }
            }
            Write::CreateCategory => {
                let may = who.role == Role::Platform;
                let body = json!({"name": name, "slug": name});
                let reply = send(Method::POST, "/categories".into(), Some(body)).await;
                if commits(&reply, may, 201, &what)? {
                    let row = Row::created(&reply.body["data"], name, who)?;
                    create(&mut self.categories, "category.created", row, &mut events);
                }
            }
            Write::UpdateCategory(i) | Write::DeleteCategory(i) => {
                let Some(k) = pick(&self.categories, i) else {
                    return Ok(events);
                };
                let row = &mut self.categories[k];
                let may = who.role == Role::Platform && !row.deleted;
                let uri = format!("/categories/{}", row.id);
                if matches!(write, Write::DeleteCategory(_)) {
                    let reply = send(Method::DELETE, uri, None).await;
                    if commits(&reply, may, 200, &what)? {
                        row.deleted = true;
                        events.push(event("category.deleted", row, "delete"));
                    }
                } else {
                    let reply = send(Method::PATCH, uri, Some(json!({"name": name}))).await;
                    if commits(&reply, may, 200, &what)? {
                        events.push(event("category.updated", row, "update"));
                    }
                }
            }
        }
        self.committed += usize::from(!events.is_empty());
        self.events += events.len();
        Ok(events)
    }
}

/// An event as a stream showed it.
#[derive(Clone, Debug)]
pub struct Received {
    pub kind: String,
    pub payload: Value,
    pub meta: Value,
}

impl Received {
    /// An SSE event: named by its type, its data `{type, payload, meta}`.
    pub fn from_sse(event: SseEvent) -> Received {
        let named = event.event.unwrap_or_default();
        let kind = if event.data["type"] == named.as_str() {
            named
        } else {
            format!("{named} (its data says {})", event.data["type"])
        };
        Received {
            kind,
            payload: event.data["payload"].clone(),
            meta: event.data["meta"].clone(),
        }
    }

    /// A WebSocket message: `{type, data, meta}`.
    pub fn from_ws(message: Value) -> Received {
        Received {
            kind: message["type"].as_str().unwrap_or_default().to_owned(),
            payload: message["data"].clone(),
            meta: message["meta"].clone(),
        }
    }

    /// Checks that it shows `persona` nothing of its row they may not see (no hidden field,
    /// a cost to admins only, the row in their organization, an order of theirs unless they
    /// are its admin, never who wrote it); what it shows.
    pub fn check(&self, persona: &Persona) -> Result<Shown, TestCaseError> {
        let resource = self.kind.split('.').next().unwrap_or_default();
        let row = &self.payload["data"];
        let context = || {
            let whole = json!({"type": self.kind, "payload": self.payload, "meta": self.meta});
            format!("{persona:?} was shown {whole}")
        };
        prop_assert_eq!(&self.payload["resource"], &json!(resource), "{}", context());
        prop_assert_eq!(&self.meta["resource"], &json!(resource), "{}", context());
        prop_assert_eq!(&self.meta["resourceId"], &row["id"], "{}", context());
        prop_assert!(
            self.payload.get("userId").is_none() && self.meta.get("userId").is_none(),
            "{}",
            context()
        );
        prop_assert!(row.get("internal_note").is_none(), "{}", context());
        match resource {
            "product" => {
                prop_assert_eq!(&row["org_id"], &json!(persona.org), "{}", context());
                // Only admins see a cost, and it is the row's: admins write one, editors none.
                // (An admin is not always shown it: the payload is shaped for the writer,
                // then for the reader.)
                if let Some(cost) = row.get("cost") {
                    prop_assert_eq!(persona.role, Role::Admin, "{}", context());
                    let by_admin = CAST
                        .iter()
                        .any(|p| p.role == Role::Admin && row["created_by"] == p.user);
                    let written = if by_admin { json!(1) } else { Value::Null };
                    prop_assert_eq!(cost, &written, "{}", context());
                }
            }
            "order" => {
                prop_assert_eq!(&row["org_id"], &json!(persona.org), "{}", context());
                if persona.role != Role::Admin {
                    prop_assert_eq!(&row["customer_id"], &json!(persona.user), "{}", context());
                }
            }
            "category" => {}
            _ => prop_assert!(false, "not an event of the shop's: {}", context()),
        }
        Ok((
            self.kind.clone(),
            self.meta["resourceId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            self.payload["operation"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ))
    }
}

/// A stream the tests read events from.
pub trait Listener {
    /// The next event within `wait`, if one comes.
    fn next_event(&mut self, wait: Duration) -> impl Future<Output = Option<Received>>;
}

impl Listener for SseStream {
    async fn next_event(&mut self, wait: Duration) -> Option<Received> {
        self.next(wait).await.map(Received::from_sse)
    }
}

impl Listener for WsClient {
    async fn next_event(&mut self, wait: Duration) -> Option<Received> {
        self.next(wait).await.map(Received::from_ws)
    }
}

/// A stream one of the cast opened: the patterns it follows, and the events it should have
/// carried by the next [`check`].
pub struct Listening<L> {
    pub persona: Persona,
    pub patterns: Vec<String>,
    pub stream: L,
    due: Vec<Shown>,
    /// How many events it carried, as it should have, in all.
    pub carried: usize,
}

impl<L: Listener> Listening<L> {
    pub fn new(persona: Persona, patterns: Vec<String>, stream: L) -> Self {
        Listening {
            persona,
            patterns,
            stream,
            due: Vec::new(),
            carried: 0,
        }
    }

    /// Notes which of `events` the stream should carry: those of rows its caller may read,
    /// of a type one of its patterns matches.
    pub fn expect(&mut self, events: &[Committed]) {
        let follows = |e: &Committed| self.patterns.iter().any(|p| matches(p, &e.kind));
        let due: Vec<Shown> = events
            .iter()
            .filter(|e| self.persona.may_see(e) && follows(e))
            .map(Committed::shown)
            .collect();
        self.due.extend(due);
    }
}

/// How long a stream that has carried what it should must then stay silent: anything within
/// that time is an event it should not have had. The events are in memory by then, so this
/// is far more than they take.
const QUIET: Duration = Duration::from_millis(150);

/// Waits until the relay has delivered every write so far; then checks that each stream
/// carried exactly the events it should have since the last check, in order, each showing
/// its caller only what they may see.
pub async fn check<L: Listener>(
    app: &TestApp,
    streams: &mut [Listening<L>],
) -> Result<(), TestCaseError> {
    crate::events::delivered(app).await;
    let received = futures_util::future::join_all(
        streams
            .iter_mut()
            .map(|s| receive(&mut s.stream, s.due.len())),
    )
    .await;
    for (listening, got) in streams.iter_mut().zip(received) {
        let shown = got
            .iter()
            .map(|r| r.check(&listening.persona))
            .collect::<Result<Vec<_>, _>>()?;
        let due = std::mem::take(&mut listening.due);
        listening.carried += due.len();
        prop_assert_eq!(
            shown,
            due,
            "{:?} following {:?}",
            listening.persona,
            listening.patterns
        );
    }
    Ok(())
}

/// What `stream` carries: `due` events (within 10 s), then any more until it is [`QUIET`].
async fn receive<L: Listener>(stream: &mut L, due: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < due {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match stream.next_event(left).await {
            Some(event) => got.push(event),
            None => break,
        }
    }
    while let Some(event) = stream.next_event(QUIET).await {
        got.push(event);
    }
    got
}

/// Waits until the streams' feed has passed every event written so far, so that a stream
/// opened next starts after all of them: a category of the platform admin's, seen on a
/// stream opened before it was written.
async fn settle(app: &TestApp) {
    crate::events::delivered(app).await;
    let root = crate::platform_admin();
    let auth = [("authorization", root.as_str())];
    let uri = "/events/stream?events=category.created";
    let mut probe = sse::open(&app.router, uri, &auth).await;
    assert_eq!(probe.status, 200, "{}", probe.error);
    let name = format!("settle-{}", Uuid::new_v4().simple());
    let body = json!({"name": name, "slug": name});
    let made = app
        .send(Method::POST, "/categories", Some(body), &auth)
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let id = json!(made.id());
    while probe
        .next(Duration::from_secs(10))
        .await
        .expect("the probe's event within 10 s")
        .data["meta"]["resourceId"]
        != id
    {}
}

/// The app a property test's cases share: the shop with fast events, also served on a local
/// socket (for WebSocket clients).
pub struct Shared {
    pub app: TestApp,
    pub addr: SocketAddr,
}

/// Runs `cases` cases of `strategy` through `test`, all on one [`Shared`] app on `backend`
/// (faster than an app each, on PostgreSQL above all): each case's names are its own, and
/// each starts once the streams' feed has passed the cases before. The first failure comes
/// back shrunk to its smallest case.
pub fn run<S: Strategy>(
    backend: Backend,
    cases: u32,
    strategy: S,
    test: impl AsyncFn(&Shared, S::Value) -> Result<(), TestCaseError>,
) -> Result<(), TestError<S::Value>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let shared = rt.block_on(async {
        let app = backend
            .app(|db| crate::shop_app(db).events(crate::events::fast()))
            .await;
        let addr = crate::ws::serve(&app.router).await;
        Shared { app, addr }
    });
    let result = crate::proptest_runner(cases).run(&strategy, |case| {
        rt.block_on(async {
            settle(&shared.app).await;
            test(&shared, case).await
        })
    });
    rt.block_on(shared.app.cleanup());
    result
}
