//! The property: whatever users of two organizations, with whatever roles, do to the shop, in
//! whatever order, on every route of every resource, nobody reads, lists, changes, restores,
//! bulk-edits, acts on, embeds (`populate`) or deletes a row outside their organization or
//! their ownership, an order's status moves only along its declared transitions, and hidden
//! or non-visible fields never appear in a response.
//!
//! Each case is a random cast of personas and a random sequence of requests. After every
//! request the response is checked (no 5xx; every `org_id`, `customer_id` and field it shows
//! is one the caller may see) and the database is compared with its state before: every row
//! that appeared, changed or went away must be one the caller was allowed to write (or, for
//! a product, one whose category the caller deleted: its reference is cleared, in any
//! organization, as the shared category is gone for all).
//!
//! A second property runs the same requests with memberships read from a store (through its
//! cache), changed between requests: a user leaves their organization, comes back, or has
//! their role there changed. Each request is judged by the membership as it is at that
//! moment, so a change holds on the very next request: what it takes away is refused, and
//! what it gives (an admin's seat) is granted. Changes go through the one `Memberships`
//! handle the app reads, which forgets its cache entry at each change; a change written
//! by another instance is `tests/tests/suite/memberships.rs`'s.
//!
//! `ARC_PROPTEST_CASES` sets the number of cases on SQLite (default 96); PostgreSQL runs a
//! quarter of them on one schema.

use std::collections::BTreeMap;

use arc_runtime::sea_orm::{DatabaseConnection, EntityTrait};
use arc_runtime::uuid::Uuid;
use arc_tests::TestApp;
use axum::http::Method;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use shop::{category_entity, order_entity, product_entity};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Member,
    Editor,
    Admin,
}

/// A user: their organization, their role there, and whether the token carries it as a
/// platform role (`roles`) or an organization role (`org_roles`). Both count for `roles(..)` on
/// the organization's own rows (products, orders); on the categories every organization
/// shares, only the platform role does.
#[derive(Clone, Debug)]
struct Persona {
    user: String,
    org: &'static str,
    role: Role,
    platform_role: bool,
}

impl Persona {
    fn token(&self) -> String {
        let role: &[&str] = match self.role {
            Role::Member => &[],
            Role::Editor => &["editor"],
            Role::Admin => &["admin"],
        };
        let (roles, org_roles) = if self.platform_role {
            (role, &[][..])
        } else {
            (&[][..], role)
        };
        let ttl = std::time::Duration::from_secs(3600);
        let token = shop::demo_token(
            shop::DEV_JWT_SECRET.as_bytes(),
            &self.user,
            roles,
            Some(self.org),
            org_roles,
            ttl,
        )
        .expect("token");
        format!("Bearer {token}")
    }

    fn admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Who this user is at the moment, when memberships come from a store and `membership`
    /// is their role in their organization now (`None`: not a member). A platform role stays
    /// what the token says; an organization role is the store's; a user outside every
    /// organization is judged as one of an organization that holds no row.
    fn now(&self, membership: Option<Role>) -> Persona {
        let mut now = self.clone();
        match membership {
            None => {
                now.org = "nowhere";
                if !self.platform_role {
                    now.role = Role::Member;
                }
            }
            Some(role) if !self.platform_role => now.role = role,
            Some(_) => {}
        }
        now
    }
}

impl Role {
    /// The role's name in the shop's rules and in the members' store.
    fn name(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

/// One request. Indexes pick a row among all rows of the table (both organizations, deleted
/// ones too), so most targets belong to someone else.
#[derive(Clone, Debug)]
enum Op {
    ListProducts(u8),
    GetProduct(usize),
    ProductBySlug(usize),
    CreateProduct {
        price: i64,
        featured: bool,
    },
    UpdateProduct {
        row: usize,
        price: i64,
        featured: Option<bool>,
    },
    DeleteProduct(usize),
    ListDeleted,
    Restore(usize),
    BulkCreate(u8),
    BulkUpdate {
        from_price: i64,
        price: i64,
    },
    BulkDelete {
        from_price: i64,
    },
    ListOrders(u8),
    GetOrder(usize),
    CreateOrder {
        product: usize,
        quantity: i32,
        /// Asks for a `paid` order (only admins may set `status`).
        paid: bool,
    },
    UpdateOrder(usize),
    /// `POST /orders/{id}/action` `{"action": "cancel"}`.
    CancelOrder(usize),
    DeleteOrder(usize),
    CreateCategory,
    UpdateCategory(usize),
    DeleteCategory(usize),
    OtherOrg(usize),
    /// Not a request: the user leaves their organization (memberships from a store only).
    Leave,
    /// Not a request: the user is (again) a member of their organization, with this role
    /// there (memberships from a store only).
    SetRole(Role),
}

fn op() -> impl Strategy<Value = Op> {
    let row = any::<usize>();
    prop_oneof![
        (0u8..7).prop_map(Op::ListProducts),
        row.prop_map(Op::GetProduct),
        row.prop_map(Op::ProductBySlug),
        (0i64..10_000, any::<bool>())
            .prop_map(|(price, featured)| Op::CreateProduct { price, featured }),
        (row, 0i64..10_000, proptest::option::of(any::<bool>())).prop_map(
            |(row, price, featured)| Op::UpdateProduct {
                row,
                price,
                featured
            }
        ),
        row.prop_map(Op::DeleteProduct),
        Just(Op::ListDeleted),
        row.prop_map(Op::Restore),
        (1u8..4).prop_map(Op::BulkCreate),
        (0i64..6000, 0i64..100)
            .prop_map(|(from_price, price)| Op::BulkUpdate { from_price, price }),
        (3000i64..6000).prop_map(|from_price| Op::BulkDelete { from_price }),
        (0u8..5).prop_map(Op::ListOrders),
        row.prop_map(Op::GetOrder),
        (row, 1i32..5, any::<bool>()).prop_map(|(product, quantity, paid)| Op::CreateOrder {
            product,
            quantity,
            paid
        }),
        row.prop_map(Op::UpdateOrder),
        row.prop_map(Op::CancelOrder),
        row.prop_map(Op::DeleteOrder),
        Just(Op::CreateCategory),
        row.prop_map(Op::UpdateCategory),
        row.prop_map(Op::DeleteCategory),
        row.prop_map(Op::OtherOrg),
    ]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Member), Just(Role::Editor), Just(Role::Admin)]
}

/// A request, or now and then a change of the caller's membership.
fn op_or_membership_change() -> BoxedStrategy<Op> {
    prop_oneof![
        8 => op(),
        1 => Just(Op::Leave),
        1 => role().prop_map(Op::SetRole),
    ]
    .boxed()
}

fn persona() -> impl Strategy<Value = Persona> {
    (
        prop_oneof![Just("acme"), Just("globex")],
        role(),
        any::<bool>(),
    )
        .prop_map(|(org, role, platform_role)| Persona {
            user: String::new(),
            org,
            role,
            platform_role,
        })
}

fn case(ops: BoxedStrategy<Op>) -> impl Strategy<Value = (Vec<Persona>, Vec<(usize, Op)>)> {
    (
        proptest::collection::vec(persona(), 2..6),
        proptest::collection::vec((any::<usize>(), ops), 1..40),
    )
        .prop_map(|(mut cast, ops)| {
            for (i, p) in cast.iter_mut().enumerate() {
                p.user = format!("user{i}");
            }
            (cast, ops)
        })
}

/// What the database holds, by id.
#[derive(Clone, PartialEq)]
struct Snapshot {
    products: BTreeMap<Uuid, product_entity::Model>,
    orders: BTreeMap<Uuid, order_entity::Model>,
    categories: BTreeMap<Uuid, category_entity::Model>,
}

/// Every row of `E`, by id.
async fn rows<E: EntityTrait>(
    db: &DatabaseConnection,
    id: fn(&E::Model) -> Uuid,
) -> BTreeMap<Uuid, E::Model> {
    let all = E::find().all(db).await.unwrap();
    all.into_iter().map(|m| (id(&m), m)).collect()
}

async fn snapshot(db: &DatabaseConnection) -> Snapshot {
    Snapshot {
        products: rows::<product_entity::Entity>(db, |m| m.id).await,
        orders: rows::<order_entity::Entity>(db, |m| m.id).await,
        categories: rows::<category_entity::Entity>(db, |m| m.id).await,
    }
}

fn nth<V>(map: &BTreeMap<Uuid, V>, n: usize) -> Uuid {
    if map.is_empty() {
        return Uuid::nil();
    }
    *map.keys().nth(n % map.len()).unwrap()
}

/// The request of `op`: method, path, body, extra header.
fn request(
    op: &Op,
    before: &Snapshot,
    seq: usize,
) -> (
    Method,
    String,
    Option<Value>,
    Option<(&'static str, &'static str)>,
) {
    let product = |n| nth(&before.products, n);
    let order = |n| nth(&before.orders, n);
    let category = |n| nth(&before.categories, n);
    match op {
        Op::ListProducts(v) => {
            let q = [
                "",
                "?select=cost,internal_note",
                "?sort=cost",
                "?cost[gte]=0",
                "?limit=1000&select=-name",
                "?search=product&sort=-price&after=",
                "?populate=category&select=name,category_id",
            ][*v as usize % 7];
            (Method::GET, format!("/products{q}"), None, None)
        }
        Op::GetProduct(n) => (
            Method::GET,
            format!("/products/{}", product(*n)),
            None,
            None,
        ),
        Op::ProductBySlug(n) => {
            let slug = before
                .products
                .get(&product(*n))
                .and_then(|p| p.slug.clone())
                .unwrap_or_else(|| "none".into());
            (Method::GET, format!("/products/slug/{slug}"), None, None)
        }
        Op::CreateProduct { price, featured } => {
            let mut body = json!({"name": format!("New {seq}"), "price": price, "cost": 1, "internal_note": "secret"});
            if *featured {
                body["is_featured"] = json!(true);
            }
            (Method::POST, "/products".into(), Some(body), None)
        }
        Op::UpdateProduct {
            row,
            price,
            featured,
        } => {
            let mut body = json!({"price": price});
            if let Some(f) = featured {
                body["is_featured"] = json!(f);
            }
            (
                Method::PATCH,
                format!("/products/{}", product(*row)),
                Some(body),
                None,
            )
        }
        Op::DeleteProduct(n) => (
            Method::DELETE,
            format!("/products/{}", product(*n)),
            None,
            None,
        ),
        Op::ListDeleted => (Method::GET, "/products/deleted".into(), None, None),
        Op::Restore(n) => (
            Method::POST,
            format!("/products/{}/restore", product(*n)),
            None,
            None,
        ),
        Op::BulkCreate(k) => {
            let items: Vec<Value> = (0..*k)
                .map(|i| json!({"name": format!("Bulk {seq}.{i}"), "price": 10}))
                .collect();
            (
                Method::POST,
                "/products/bulk".into(),
                Some(json!({"items": items})),
                None,
            )
        }
        Op::BulkUpdate { from_price, price } => (
            Method::PATCH,
            "/products/bulk".into(),
            Some(json!({"filter": {"price": {"gte": from_price}}, "data": {"price": price}})),
            None,
        ),
        Op::BulkDelete { from_price } => (
            Method::DELETE,
            "/products/bulk".into(),
            Some(json!({"filter": {"price": {"gte": from_price}}})),
            None,
        ),
        Op::ListOrders(v) => {
            let q = [
                "",
                "?sort=-total",
                "?status=pending",
                "?populate=product",
                "?populate=product&populate[product][select]=org_id,cost,name",
            ][*v as usize % 5];
            (Method::GET, format!("/orders{q}"), None, None)
        }
        Op::GetOrder(n) => (
            Method::GET,
            format!("/orders/{}?populate=product", order(*n)),
            None,
            None,
        ),
        Op::CreateOrder {
            product: p,
            quantity,
            paid,
        } => {
            let mut body = json!({"product_id": product(*p), "quantity": quantity});
            if *paid {
                body["status"] = json!("paid");
            }
            (Method::POST, "/orders".into(), Some(body), None)
        }
        Op::UpdateOrder(n) => (
            Method::PATCH,
            format!("/orders/{}", order(*n)),
            Some(json!({"status": "paid"})),
            None,
        ),
        Op::CancelOrder(n) => (
            Method::POST,
            format!("/orders/{}/action", order(*n)),
            Some(json!({"action": "cancel", "reason": format!("reason {seq}")})),
            None,
        ),
        Op::DeleteOrder(n) => (Method::DELETE, format!("/orders/{}", order(*n)), None, None),
        Op::CreateCategory => (
            Method::POST,
            "/categories".into(),
            Some(json!({"name": format!("Cat {seq}"), "slug": format!("cat-{seq}")})),
            None,
        ),
        Op::UpdateCategory(n) => (
            Method::PATCH,
            format!("/categories/{}", category(*n)),
            Some(json!({"name": format!("Renamed {seq}")})),
            None,
        ),
        Op::DeleteCategory(n) => (
            Method::DELETE,
            format!("/categories/{}", category(*n)),
            None,
            None,
        ),
        Op::OtherOrg(n) => (
            Method::GET,
            format!("/products/{}", product(*n)),
            None,
            Some(("x-organization-id", "elsewhere")),
        ),
        Op::Leave | Op::SetRole(_) => unreachable!("a membership change is no request"),
    }
}

/// Every object in `body` the caller may see: their org's rows, their own orders unless
/// admin, no hidden field, `cost` for admins only.
fn check_body(who: &Persona, body: &Value, path: &str) -> Result<(), String> {
    match body {
        Value::Object(map) => {
            if let Some(org) = map.get("org_id")
                && org != who.org
            {
                return Err(format!("{path}: row of org {org} shown to {}", who.org));
            }
            if let Some(customer) = map.get("customer_id")
                && !who.admin()
                && customer != &json!(who.user)
            {
                return Err(format!("{path}: order of {customer} shown to {}", who.user));
            }
            if map.contains_key("internal_note") {
                return Err(format!("{path}: internal_note shown"));
            }
            if map.contains_key("cost") && !who.admin() {
                return Err(format!("{path}: cost shown to a non-admin"));
            }
            for (k, v) in map {
                check_body(who, v, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_body(who, v, &format!("{path}[{i}]"))),
        _ => Ok(()),
    }
}

/// Every row that appeared, changed or went away between `before` and `after` is one `who`
/// may write, in the way they wrote it.
fn check_writes(who: &Persona, before: &Snapshot, after: &Snapshot) -> Result<(), String> {
    let may_create_product = matches!(who.role, Role::Admin | Role::Editor);
    for (id, new) in &after.products {
        match before.products.get(id) {
            None => {
                if !may_create_product || new.org_id != who.org || new.created_by != who.user {
                    return Err(format!("product {id} created as {new:?}"));
                }
                if new.is_featured && !who.admin() {
                    return Err(format!("product {id} featured by a non-admin"));
                }
            }
            Some(old) if old != new => {
                // A category deleted (by whoever may: the platform's admins, checked below)
                // leaves no product, of any organization, naming it: the foreign key sets
                // the reference to NULL and changes nothing else.
                let gone = old
                    .category_id
                    .is_some_and(|c| !after.categories.contains_key(&c));
                let cleared = product_entity::Model {
                    category_id: None,
                    ..old.clone()
                };
                if gone && *new == cleared {
                    continue;
                }
                if old.org_id != who.org
                    || new.org_id != who.org
                    || old.created_by != new.created_by
                {
                    return Err(format!("product {id} of {} changed", old.org_id));
                }
                let own = who.role == Role::Editor && old.created_by == who.user;
                if !who.admin() && (!own || old.deleted_at != new.deleted_at) {
                    return Err(format!(
                        "product {id} changed without the right: {old:?} -> {new:?}"
                    ));
                }
                if old.is_featured != new.is_featured && !who.admin() {
                    return Err(format!("product {id} featured by a non-admin"));
                }
            }
            Some(_) => {}
        }
    }
    if before
        .products
        .keys()
        .any(|id| !after.products.contains_key(id))
    {
        return Err("a product was hard-deleted".into());
    }
    for (id, new) in &after.orders {
        match before.orders.get(id) {
            None => {
                if new.org_id != who.org || new.customer_id != who.user {
                    return Err(format!("order {id} placed as {new:?}"));
                }
                let product = after.products.get(&new.product_id);
                if product.is_none_or(|p| p.org_id != who.org) {
                    return Err(format!("order {id} names a product of another org"));
                }
                if new.status != "pending" && !who.admin() {
                    return Err(format!("order {id} placed {} by a non-admin", new.status));
                }
            }
            Some(old) if old != new => {
                // Besides admins, an order's customer cancels it: its status and nothing else.
                let cancelled = order_entity::Model {
                    status: "cancelled".into(),
                    updated_at: new.updated_at,
                    ..old.clone()
                };
                let cancelled_own = old.customer_id == who.user && *new == cancelled;
                if !(who.admin() || cancelled_own)
                    || old.org_id != who.org
                    || new.org_id != who.org
                    || old.customer_id != new.customer_id
                {
                    return Err(format!("order {id} changed by {who:?}"));
                }
                let declared = [
                    ("pending", "paid"),
                    ("paid", "shipped"),
                    ("pending", "cancelled"),
                ];
                let moved = (old.status.as_str(), new.status.as_str());
                if moved.0 != moved.1 && !declared.contains(&moved) {
                    return Err(format!("order {id} moved {moved:?}"));
                }
            }
            Some(_) => {}
        }
    }
    if before
        .orders
        .keys()
        .any(|id| !after.orders.contains_key(id))
    {
        return Err("an order was deleted".into());
    }
    if before.categories != after.categories && !(who.admin() && who.platform_role) {
        return Err(format!("categories changed by {who:?}"));
    }
    Ok(())
}

/// An order of each organization, placed by `user0`, naming a product of the other one
/// (written behind the API's back, which refuses it): `?populate=product` must leave it an id.
async fn plant_foreign_references(db: &DatabaseConnection) {
    use arc_runtime::sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let products = rows::<product_entity::Entity>(db, |m| m.id).await;
    for (org, other) in [("acme", "globex"), ("globex", "acme")] {
        let Some(foreign) = products.values().find(|p| p.org_id == other) else {
            continue;
        };
        let now = arc_runtime::chrono::Utc::now();
        order_entity::ActiveModel {
            id: Set(Uuid::new_v4()),
            org_id: Set(org.to_owned()),
            customer_id: Set("user0".to_owned()),
            product_id: Set(foreign.id),
            quantity: Set(1),
            total: Set(foreign.price),
            status: Set("pending".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .unwrap();
    }
}

/// Memberships from a store, changed between requests, and each user's role in their
/// organization now (`None`: they left).
struct Changing {
    memberships: arc_runtime::config::Memberships,
    now: Vec<Option<Role>>,
}

impl Changing {
    /// The cast's memberships written to a fresh store: platform-role users are plain
    /// members of their organization, the others have their role there.
    async fn new(cast: &[Persona]) -> Changing {
        let memberships = arc_runtime::config::Memberships::in_memory()
            .cache(arc_runtime::config::InMemoryCache::new(1 << 20));
        let mut now = Vec::new();
        for p in cast {
            let role = if p.platform_role {
                Role::Member
            } else {
                p.role
            };
            memberships
                .put(&p.user, p.org, role.name())
                .await
                .expect("put");
            now.push(Some(role));
        }
        Changing { memberships, now }
    }
}

async fn run_case(
    app: &TestApp,
    cast: &[Persona],
    ops: &[(usize, Op)],
    mut changing: Option<&mut Changing>,
    requests: &std::cell::Cell<usize>,
) -> Result<(), TestCaseError> {
    let tokens: Vec<String> = cast.iter().map(Persona::token).collect();
    plant_foreign_references(&app.db).await;
    let mut before = snapshot(&app.db).await;
    for (seq, (who, op)) in ops.iter().enumerate() {
        let who = who % cast.len();
        let persona = &cast[who];
        // A change of membership, between requests.
        if let (Some(changing), Op::Leave | Op::SetRole(_)) = (changing.as_deref_mut(), op) {
            let m = &changing.memberships;
            let role = match op {
                Op::SetRole(role) => Some(if persona.platform_role {
                    Role::Member
                } else {
                    *role
                }),
                _ => None,
            };
            match role {
                Some(role) => m.put(&persona.user, persona.org, role.name()).await,
                None => m.remove(&persona.user, persona.org).await.map(drop),
            }
            .expect("the store answers");
            changing.now[who] = role;
            continue;
        }
        if matches!(op, Op::Leave | Op::SetRole(_)) {
            continue;
        }
        let judged = match changing.as_deref() {
            Some(changing) => persona.now(changing.now[who]),
            None => persona.clone(),
        };
        let (method, uri, body, extra) = request(op, &before, seq);
        let mut headers = vec![("authorization", tokens[who].as_str())];
        headers.extend(extra);
        let reply = app.send(method.clone(), &uri, body, &headers).await;
        requests.set(requests.get() + 1);
        let context = || {
            let body: String = reply.body.to_string().chars().take(400).collect();
            format!("{method} {uri} by {judged:?}: {} {body}", reply.status)
        };
        prop_assert!(reply.status.as_u16() < 500, "{}", context());
        if extra.is_some() {
            prop_assert_eq!(reply.status.as_u16(), 403, "{}", context());
        }
        // And what the caller may do, they can, on the very next request: an admin of the
        // organization (by the token, or by the store as of now) creates a product.
        if matches!(op, Op::CreateProduct { .. }) && judged.admin() && judged.org != "nowhere" {
            prop_assert_eq!(reply.status.as_u16(), 201, "{}", context());
        }
        check_body(&judged, &reply.body, "body")
            .map_err(|e| TestCaseError::fail(format!("{e}; {}", context())))?;
        let after = snapshot(&app.db).await;
        check_writes(&judged, &before, &after)
            .map_err(|e| TestCaseError::fail(format!("{e}; {}", context())))?;
        before = after;
    }
    Ok(())
}

/// The shop with memberships from `memberships` rather than the token's claims.
fn shop_with(
    memberships: arc_runtime::config::Memberships,
) -> impl FnOnce(DatabaseConnection) -> arc_runtime::App {
    move |db| {
        let secret = shop::DEV_JWT_SECRET.as_bytes();
        let auth = shop::auth(secret, None, arc_runtime::Preset::Development)
            .expect("the development secret is valid")
            .memberships(memberships);
        arc_tests::shop_app(db).auth(auth)
    }
}

/// Runs `cases` cases on `backend`; with `changing`, memberships come from a store and
/// change between requests.
fn run(cases: u32, backend: &'static str, changing: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let shared = match backend {
        "postgres" => Some(rt.block_on(TestApp::postgres())),
        _ => None,
    };
    let ops = if changing {
        op_or_membership_change()
    } else {
        op().boxed()
    };
    let mut runner = arc_tests::proptest_runner(cases);
    let requests = std::cell::Cell::new(0usize);
    let result = runner.run(&case(ops), |(cast, ops)| {
        rt.block_on(async {
            if changing {
                let mut changing = Changing::new(&cast).await;
                let app = TestApp::sqlite_with(shop_with(changing.memberships.clone())).await;
                return run_case(&app, &cast, &ops, Some(&mut changing), &requests).await;
            }
            match &shared {
                Some(app) => run_case(app, &cast, &ops, None, &requests).await,
                None => {
                    let app = TestApp::sqlite().await;
                    run_case(&app, &cast, &ops, None, &requests).await
                }
            }
        })
    });
    if let Some(app) = shared {
        rt.block_on(app.cleanup());
    }
    println!(
        "isolation on {backend}{}: {cases} cases, {} requests (shrinking included)",
        if changing {
            ", memberships changing"
        } else {
            ""
        },
        requests.get()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn nobody_crosses_an_org_or_ownership_sqlite() {
    run(arc_tests::proptest_cases(96), "sqlite", false);
}

#[test]
#[ignore = "needs PostgreSQL"]
fn nobody_crosses_an_org_or_ownership_postgres() {
    run(arc_tests::proptest_cases(96) / 4, "postgres", false);
}

/// The same, while users leave, come back and change roles between requests: each request
/// is judged by the membership of that moment.
#[test]
fn membership_changes_hold_on_the_next_request_sqlite() {
    run(arc_tests::proptest_cases(96) / 2, "sqlite", true);
}
