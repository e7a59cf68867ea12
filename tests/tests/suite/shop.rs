//! The shop's contract: who may do what to categories, products and orders, with tokens of
//! the demo personas of two organizations.

use arc_tests::{Reply, TestApp, assert_error, on_both, platform_admin, shop_token};
use axum::http::Method;
use serde_json::{Value, json};

on_both!(
    categories_are_public_to_read,
    products_belong_to_their_org,
    editors_change_what_they_created,
    admins_may_what_editors_may,
    field_rules_of_products,
    orders_are_their_customers,
    orders_are_cancelled_by_their_customers,
    order_status_moves_only_as_declared,
    references_name_rows_the_caller_can_read,
    populate_embeds_what_the_caller_could_read,
    tokens_and_org_selection,
);

/// The personas: acme's admin, editor, two members; globex's admin.
struct Shop {
    ada: String,
    eve: String,
    carl: String,
    cleo: String,
    gus: String,
}

fn shop() -> Shop {
    Shop {
        ada: shop_token("ada", "acme", &["admin"]),
        eve: shop_token("eve", "acme", &["editor"]),
        carl: shop_token("carl", "acme", &[]),
        cleo: shop_token("cleo", "acme", &[]),
        gus: shop_token("gus", "globex", &["admin"]),
    }
}

const ANONYMOUS: &str = "";

async fn as_(app: &TestApp, token: &str, method: Method, uri: &str, body: Option<Value>) -> Reply {
    app.send(method, uri, body, &[("authorization", token)])
        .await
}

async fn first_product(app: &TestApp, token: &str) -> Value {
    let reply = as_(
        app,
        token,
        Method::GET,
        "/products?limit=1&sort=price",
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["docs"][0].clone()
}

async fn categories_are_public_to_read(app: &TestApp) {
    let s = shop();
    let list = as_(app, ANONYMOUS, Method::GET, "/categories", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["total"], 5);
    let tree = as_(app, ANONYMOUS, Method::GET, "/categories/tree", None).await;
    assert_eq!(tree.status, 200);
    let slug = as_(app, ANONYMOUS, Method::GET, "/categories/slug/books", None).await;
    assert_eq!(slug.body["data"]["name"], "Books");
    let new = Some(json!({"name": "Toys", "slug": "toys"}));
    let anonymous = as_(app, ANONYMOUS, Method::POST, "/categories", new.clone()).await;
    assert_error(&anonymous, 401, "UNAUTHORIZED");
    assert!(anonymous.header("www-authenticate").is_some());
    assert_error(
        &as_(app, &s.eve, Method::POST, "/categories", new.clone()).await,
        403,
        "FORBIDDEN",
    );
    let id = slug.body["data"]["id"].as_str().unwrap();
    let uri = format!("/categories/{id}");
    let rename = Some(json!({"name": "Mine now"}));
    // Categories are shared by every organization: an admin of one of them (an org role)
    // may not create, rename or delete them; only a platform admin may.
    for org_admin in [&s.ada, &s.gus] {
        for (method, uri, body) in [
            (Method::POST, "/categories", new.clone()),
            (Method::PATCH, uri.as_str(), rename.clone()),
            (Method::DELETE, uri.as_str(), None),
        ] {
            assert_error(
                &as_(app, org_admin, method, uri, body).await,
                403,
                "FORBIDDEN",
            );
        }
    }
    let unchanged = as_(app, ANONYMOUS, Method::GET, &uri, None).await;
    assert_eq!(unchanged.body["data"]["name"], "Books");
    assert_eq!(
        as_(app, &platform_admin(), Method::POST, "/categories", new)
            .await
            .status,
        201
    );
    assert_error(
        &as_(app, &s.carl, Method::DELETE, &uri, None).await,
        403,
        "FORBIDDEN",
    );
    let renamed = as_(app, &platform_admin(), Method::PATCH, &uri, rename).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
}

async fn products_belong_to_their_org(app: &TestApp) {
    let s = shop();
    assert_error(
        &as_(app, ANONYMOUS, Method::GET, "/products", None).await,
        401,
        "UNAUTHORIZED",
    );
    let acme = as_(app, &s.carl, Method::GET, "/products?limit=100", None).await;
    assert_eq!(acme.body["total"], 50);
    assert!(acme.column("org_id").iter().all(|o| o == "acme"));
    let globex = as_(app, &s.gus, Method::GET, "/products?limit=100", None).await;
    assert_eq!(globex.body["total"], 50);
    assert!(globex.column("org_id").iter().all(|o| o == "globex"));

    let theirs = first_product(app, &s.gus).await;
    let uri = format!("/products/{}", theirs["id"].as_str().unwrap());
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"price": 1}))),
        (Method::DELETE, None),
    ] {
        assert_error(
            &as_(app, &s.ada, method, &uri, body).await,
            404,
            "NOT_FOUND",
        );
    }
    let slug = format!("/products/slug/{}", theirs["slug"].as_str().unwrap());
    assert_error(
        &as_(app, &s.ada, Method::GET, &slug, None).await,
        404,
        "NOT_FOUND",
    );
    let bulk = Some(json!({"filter": {"price": {"gte": 0}}, "data": {"price": 1}}));
    let updated = as_(app, &s.ada, Method::PATCH, "/products/bulk", bulk).await;
    assert_eq!(updated.body["data"]["matchedCount"], 50, "acme's only");
    assert_eq!(
        as_(app, &s.gus, Method::GET, &uri, None).await.body["data"]["price"],
        theirs["price"],
        "globex's product is untouched"
    );

    let created = as_(
        app,
        &s.ada,
        Method::POST,
        "/products",
        Some(json!({"name": "Anvil", "price": 500})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["data"]["org_id"], "acme");
    assert_eq!(created.body["data"]["created_by"], "ada");
    assert_error(
        &as_(
            app,
            &s.ada,
            Method::POST,
            "/products",
            Some(json!({"name": "Moved", "price": 1, "org_id": "globex"})),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &as_(
            app,
            &s.carl,
            Method::POST,
            "/products",
            Some(json!({"name": "Mine", "price": 1})),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let id = created.body["data"]["id"].as_str().unwrap();
    assert_error(
        &as_(
            app,
            &s.eve,
            Method::DELETE,
            &format!("/products/{id}"),
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &as_(app, &s.eve, Method::GET, "/products/deleted", None).await,
        403,
        "FORBIDDEN",
    );
}

async fn editors_change_what_they_created(app: &TestApp) {
    let s = shop();
    let created = as_(
        app,
        &s.eve,
        Method::POST,
        "/products",
        Some(json!({"name": "Easel", "price": 900})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["data"]["created_by"], "eve");
    let own = format!("/products/{}", created.body["data"]["id"].as_str().unwrap());
    let patched = as_(
        app,
        &s.eve,
        Method::PATCH,
        &own,
        Some(json!({"price": 950})),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["price"], 950);

    let seeded = first_product(app, &s.eve).await;
    let other = format!("/products/{}", seeded["id"].as_str().unwrap());
    assert_error(
        &as_(
            app,
            &s.eve,
            Method::PATCH,
            &other,
            Some(json!({"price": 1})),
        )
        .await,
        403,
        "OWNERSHIP_DENIED",
    );
    assert_eq!(
        as_(app, &s.ada, Method::GET, &other, None).await.body["data"]["price"],
        seeded["price"],
        "nothing changed"
    );
    assert_eq!(
        as_(
            app,
            &s.ada,
            Method::PATCH,
            &other,
            Some(json!({"price": 2}))
        )
        .await
        .status,
        200,
        "admins update any product of their org"
    );
}

/// The shop declares `admin` ⊇ `editor` once; products' `create = roles("editor")` then
/// admits admins, and nothing else changes: the hierarchy only adds roles downwards.
async fn admins_may_what_editors_may(app: &TestApp) {
    let s = shop();
    let new = || Some(json!({"name": "Lectern", "price": 700, "cost": 300}));
    let by_admin = as_(app, &s.ada, Method::POST, "/products", new()).await;
    assert_eq!(by_admin.status, 201, "{}", by_admin.body);
    assert_eq!(
        by_admin.body["data"]["cost"], 300,
        "the admin's own field rules hold"
    );
    let by_member = as_(app, &s.carl, Method::POST, "/products", new()).await;
    assert_error(&by_member, 403, "FORBIDDEN");
    // The editor gains nothing of the admin's: `cost` stays the admin's.
    let id = by_admin.body["data"]["id"].as_str().unwrap();
    let seen = as_(app, &s.eve, Method::GET, &format!("/products/{id}"), None).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert!(seen.body["data"].get("cost").is_none(), "{}", seen.body);
    // An organization's admin is an editor there, not on the rows every organization
    // shares (the categories, platform roles only).
    let category = as_(
        app,
        &s.ada,
        Method::POST,
        "/categories",
        Some(json!({"name": "Easels", "slug": "easels"})),
    )
    .await;
    assert_error(&category, 403, "FORBIDDEN");
    // The registry and the document say who passes `roles("editor")`.
    let root = platform_admin();
    let registry = as_(app, &root, Method::GET, "/_resources", None).await;
    assert_eq!(
        registry.body["roles"]["includes"],
        json!({"admin": ["editor"]})
    );
    let document = as_(app, &root, Method::GET, "/_docs/openapi.json", None).await;
    assert_eq!(
        document.body["info"]["x-arc-roles"],
        json!({"admin": ["editor"]})
    );
}

async fn field_rules_of_products(app: &TestApp) {
    let s = shop();
    let for_admin = first_product(app, &s.ada).await;
    assert!(for_admin["cost"].is_number(), "{for_admin}");
    let for_member = first_product(app, &s.carl).await;
    assert!(for_member.get("cost").is_none(), "{for_member}");
    for body in [&for_admin, &for_member] {
        assert!(body.get("internal_note").is_none());
    }
    assert_error(
        &as_(app, &s.carl, Method::GET, "/products?sort=cost", None).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &as_(app, &s.carl, Method::GET, "/products?select=cost", None).await,
        400,
        "BAD_REQUEST",
    );
    let featured = as_(
        app,
        &s.eve,
        Method::POST,
        "/products",
        Some(json!({"name": "Star", "price": 1, "is_featured": true})),
    )
    .await;
    assert_error(&featured, 403, "FORBIDDEN");
    assert!(
        featured.body["error"]
            .as_str()
            .unwrap()
            .contains("is_featured")
    );
    let by_admin = as_(
        app,
        &s.ada,
        Method::POST,
        "/products",
        Some(json!({"name": "Star", "price": 1, "is_featured": true, "internal_note": "n"})),
    )
    .await;
    assert_eq!(by_admin.status, 201, "{}", by_admin.body);
    assert_eq!(by_admin.body["data"]["is_featured"], true);
    assert!(by_admin.body["data"].get("internal_note").is_none());

    // A field the caller cannot see (`cost`, admins only) is no field at all in their bodies
    // either: the same answer as a name that does not exist, whatever its value, so a write
    // tells them neither that it exists nor its type.
    let unknown = |reply: &Reply, field: &str| {
        assert_error(reply, 400, "VALIDATION_ERROR");
        let errors = reply.body["details"]["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{}", reply.body);
        assert_eq!(errors[0]["field"], field);
        assert_eq!(errors[0]["keyword"], "additionalProperties");
        errors[0]["message"].clone()
    };
    let uri = format!(
        "/products/{}",
        by_admin.body["data"]["id"].as_str().unwrap()
    );
    for value in [json!(5), json!("x")] {
        let with_cost = json!({"name": "e1", "price": 1, "cost": value});
        let with_nothing = json!({"name": "e1", "price": 1, "kost": value});
        let said = unknown(
            &as_(app, &s.eve, Method::POST, "/products", Some(with_cost)).await,
            "cost",
        );
        let unknown_said = unknown(
            &as_(app, &s.eve, Method::POST, "/products", Some(with_nothing)).await,
            "kost",
        );
        assert_eq!(said, unknown_said);
        let hers = as_(
            app,
            &s.eve,
            Method::POST,
            "/products",
            Some(json!({"name": "e2", "price": 1})),
        )
        .await;
        let hers = format!("/products/{}", hers.body["data"]["id"].as_str().unwrap());
        let patch = Some(json!({"cost": value}));
        unknown(&as_(app, &s.eve, Method::PATCH, &hers, patch).await, "cost");
    }
    let admin_writes = as_(app, &s.ada, Method::PATCH, &uri, Some(json!({"cost": 7}))).await;
    assert_eq!(
        admin_writes.body["data"]["cost"], 7,
        "{}",
        admin_writes.body
    );
}

/// A new pending order of `customer`'s: its path.
async fn place_order(app: &TestApp, customer: &str) -> String {
    let product = first_product(app, customer).await;
    let body = json!({"product_id": product["id"], "quantity": 1});
    let placed = as_(app, customer, Method::POST, "/orders", Some(body)).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    format!("/orders/{}", placed.body["data"]["id"].as_str().unwrap())
}

/// `POST {order}/action` with `body`, by `token`.
async fn act(app: &TestApp, token: &str, order: &str, body: Value) -> Reply {
    let uri = format!("{order}/action");
    as_(app, token, Method::POST, &uri, Some(body)).await
}

async fn orders_are_cancelled_by_their_customers(app: &TestApp) {
    let s = shop();
    let order = place_order(app, &s.carl).await;
    let cancel = json!({"action": "cancel", "reason": "ordered twice"});

    // Nobody else reaches it: not signed in, another org's admin, another member.
    assert_error(
        &act(app, ANONYMOUS, &order, cancel.clone()).await,
        401,
        "UNAUTHORIZED",
    );
    for stranger in [&s.gus, &s.cleo] {
        assert_error(
            &act(app, stranger, &order, cancel.clone()).await,
            404,
            "NOT_FOUND",
        );
    }
    // A missing order is a 404 too, and so is a malformed id.
    let missing = "/orders/00000000-0000-4000-8000-000000000000";
    assert_error(
        &act(app, &s.carl, missing, cancel.clone()).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &act(app, &s.carl, "/orders/nope", cancel.clone()).await,
        404,
        "NOT_FOUND",
    );

    // Bodies that ask for no action, another one, or cancel wrongly: a 400 naming the problem.
    for (body, field, says) in [
        (json!({"reason": "x"}), "action", "`cancel`"),
        (json!({"action": 7}), "action", "`cancel`"),
        (
            json!({"action": "refund", "reason": "x"}),
            "action",
            "`refund` is not an action of order: its actions are `cancel`",
        ),
        (
            json!({"action": "cancel"}),
            "reason",
            "missing field `reason`",
        ),
        (
            json!({"action": "cancel", "reason": "x", "status": "paid"}),
            "status",
            "unknown field `status`",
        ),
        (json!({"action": "cancel", "reason": 5}), "", "invalid type"),
        (
            json!({"action": "cancel", "reason": "  "}),
            "reason",
            "1 to 500",
        ),
    ] {
        let refused = act(app, &s.carl, &order, body.clone()).await;
        assert_error(&refused, 400, "VALIDATION_ERROR");
        let error = &refused.body["details"]["errors"][0];
        assert_eq!(error["field"], field, "{body}: {}", refused.body);
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    let still = as_(app, &s.carl, Method::GET, &order, None).await;
    assert_eq!(
        still.body["data"]["status"], "pending",
        "nothing was written"
    );

    // Its customer cancels it: 200 with the row after.
    let cancelled = act(app, &s.carl, &order, cancel.clone()).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["success"], true);
    assert_eq!(cancelled.body["data"]["status"], "cancelled");
    assert_eq!(cancelled.body["data"]["customer_id"], "carl");
    // Once: a cancelled order cannot be cancelled again.
    let again = act(app, &s.carl, &order, cancel.clone()).await;
    assert_error(&again, 409, "INVALID_TRANSITION");
    assert_eq!(
        again.body["details"],
        json!({"field": "status", "from": "cancelled", "to": "cancelled", "allowed": []})
    );

    // An admin cancels any pending order of the org, but not a paid one.
    let other = place_order(app, &s.cleo).await;
    let by_admin = act(app, &s.ada, &other, cancel.clone()).await;
    assert_eq!(by_admin.status, 200, "{}", by_admin.body);
    let paid = place_order(app, &s.cleo).await;
    let body = Some(json!({"status": "paid"}));
    let paying = as_(app, &s.ada, Method::PATCH, &paid, body).await;
    assert_eq!(paying.status, 200, "{}", paying.body);
    let late = act(app, &s.cleo, &paid, cancel).await;
    assert_error(&late, 409, "INVALID_TRANSITION");
    assert_eq!(late.body["details"]["from"], "paid");
    assert_eq!(late.body["details"]["to"], "cancelled");
    assert_eq!(late.body["details"]["allowed"], json!(["shipped"]));
    let kept = as_(app, &s.cleo, Method::GET, &paid, None).await;
    assert_eq!(kept.body["data"]["status"], "paid");
}

async fn order_status_moves_only_as_declared(app: &TestApp) {
    let s = shop();
    let order = place_order(app, &s.carl).await;
    let to = |status: &str| Some(json!({ "status": status }));
    // pending -> shipped skips `paid`: refused, naming both states and what is allowed.
    let skipped = as_(app, &s.ada, Method::PATCH, &order, to("shipped")).await;
    assert_error(&skipped, 409, "INVALID_TRANSITION");
    let message = skipped.body["error"].as_str().unwrap();
    assert!(
        message.contains("from `pending` to `shipped`") && message.contains("`paid`"),
        "{message}"
    );
    // Writing the state it is in is no move; each declared step is allowed.
    for status in ["pending", "paid", "paid", "shipped"] {
        let moved = as_(app, &s.ada, Method::PATCH, &order, to(status)).await;
        assert_eq!(moved.status, 200, "{status}: {}", moved.body);
        assert_eq!(moved.body["data"]["status"], status);
    }
    // Shipped is where it ends: no way back, by PUT either.
    for back in ["paid", "pending", "cancelled"] {
        let refused = as_(app, &s.ada, Method::PATCH, &order, to(back)).await;
        assert_error(&refused, 409, "INVALID_TRANSITION");
        let put = as_(app, &s.ada, Method::PUT, &order, to(back)).await;
        assert_error(&put, 409, "INVALID_TRANSITION");
    }
    let kept = as_(app, &s.ada, Method::GET, &order, None).await;
    assert_eq!(kept.body["data"]["status"], "shipped");
}

async fn references_name_rows_the_caller_can_read(app: &TestApp) {
    let s = shop();
    let categories = as_(app, ANONYMOUS, Method::GET, "/categories?limit=1", None).await;
    let category = categories.body["docs"][0]["id"].clone();
    let nowhere = json!("00000000-0000-4000-8000-000000000000");
    let refused = |reply: &Reply, field: &str, message: &str| {
        assert_error(reply, 400, "VALIDATION_ERROR");
        let error = &reply.body["details"]["errors"][0];
        assert_eq!(error["field"], field, "{}", reply.body);
        assert_eq!(error["message"], message);
        assert_eq!(error["keyword"], "exists");
    };

    // A product names a category that exists, or none.
    let product =
        |category: &Value| Some(json!({"name": "Ref", "price": 1, "category_id": category}));
    let made = as_(app, &s.eve, Method::POST, "/products", product(&category)).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let uri = format!("/products/{}", made.body["data"]["id"].as_str().unwrap());
    let lost = as_(app, &s.eve, Method::POST, "/products", product(&nowhere)).await;
    refused(&lost, "category_id", "no such category");
    let patch = Some(json!({"category_id": nowhere}));
    refused(
        &as_(app, &s.eve, Method::PATCH, &uri, patch).await,
        "category_id",
        "no such category",
    );
    let cleared = as_(
        app,
        &s.eve,
        Method::PATCH,
        &uri,
        Some(json!({"category_id": null})),
    )
    .await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(cleared.body["data"]["category_id"], Value::Null);
    let bulk = Some(json!({"items": [
        {"name": "B1", "price": 1, "category_id": category},
        {"name": "B2", "price": 1, "category_id": nowhere},
    ]}));
    refused(
        &as_(app, &s.ada, Method::POST, "/products/bulk", bulk).await,
        "items[1].category_id",
        "no such category",
    );
    let data = Some(json!({"filter": {"name": "Ref"}, "data": {"category_id": nowhere}}));
    refused(
        &as_(app, &s.ada, Method::PATCH, "/products/bulk", data).await,
        "category_id",
        "no such category",
    );

    // An order names a product its customer can read: not another org's, not a deleted one,
    // and the answer is the same as for a product that never was.
    let order = |product: &Value| Some(json!({"product_id": product, "quantity": 1}));
    let theirs = first_product(app, &s.gus).await["id"].clone();
    let foreign = as_(app, &s.carl, Method::POST, "/orders", order(&theirs)).await;
    refused(&foreign, "product_id", "no such product");
    let never = as_(app, &s.carl, Method::POST, "/orders", order(&nowhere)).await;
    assert_eq!(never.body["details"], foreign.body["details"]);
    let gone = made.body["data"]["id"].clone();
    let deleted = as_(app, &s.ada, Method::DELETE, &uri, None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let late = as_(app, &s.carl, Method::POST, "/orders", order(&gone)).await;
    refused(&late, "product_id", "no such product");
}

async fn populate_embeds_what_the_caller_could_read(app: &TestApp) {
    use arc_runtime::sea_orm::{ActiveModelTrait, ActiveValue, EntityTrait};
    let s = shop();

    // Every product of a page with its category, one per reference; none where it names none.
    let page = as_(
        app,
        &s.carl,
        Method::GET,
        "/products?limit=50&populate=category",
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let docs = page.body["docs"].as_array().unwrap();
    assert!(docs.iter().any(|d| d["category_id"].is_string()));
    for doc in docs {
        match &doc["category_id"] {
            Value::Null => assert_eq!(doc["category"], Value::Null, "{doc}"),
            id => {
                assert_eq!(&doc["category"]["id"], id, "{doc}");
                assert!(doc["category"]["slug"].is_string(), "{doc}");
            }
        }
    }
    // A select of the embedded rows; a page that does not show the reference embeds nothing.
    let named = as_(
        app,
        &s.carl,
        Method::GET,
        "/products?populate[category][select]=name&category_id[exists]=true",
        None,
    )
    .await;
    let category = named.body["docs"][0]["category"].as_object().unwrap();
    let mut keys: Vec<&str> = category.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "name"]);
    let bare = as_(
        app,
        &s.carl,
        Method::GET,
        "/products?select=name&populate=category",
        None,
    )
    .await;
    assert_eq!(bare.status, 200, "{}", bare.body);
    assert!(
        bare.body["docs"][0].get("category").is_none(),
        "{}",
        bare.body
    );
    // What cannot be populated is a 400 naming what can.
    for query in [
        "populate=owner",
        "populate=category_id",
        "populate[category][match]=x",
        "populate[category][select]=nope",
        "populate=category&populate=category",
    ] {
        let refused = as_(
            app,
            &s.carl,
            Method::GET,
            &format!("/products?{query}"),
            None,
        )
        .await;
        assert_error(&refused, 400, "BAD_REQUEST");
    }
    let refused = as_(app, &s.carl, Method::GET, "/products?populate=owner", None).await;
    assert!(refused.body["error"].as_str().unwrap().contains("category"));

    // An order's product as its customer would read it: without what only admins see.
    let product = first_product(app, &s.carl).await;
    let order = Some(json!({"product_id": product["id"], "quantity": 1}));
    let placed = as_(app, &s.carl, Method::POST, "/orders", order).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let uri = format!("/orders/{}?populate=product", placed.id());
    let theirs = as_(app, &s.carl, Method::GET, &uri, None).await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    assert_eq!(theirs.body["data"]["product"]["id"], product["id"]);
    assert!(theirs.body["data"]["product"].get("cost").is_none());
    let admins = as_(app, &s.ada, Method::GET, &uri, None).await;
    assert!(
        admins.body["data"]["product"]["cost"].is_i64(),
        "{}",
        admins.body
    );
    // Without `populate`, the same row as ever.
    let plain = as_(
        app,
        &s.carl,
        Method::GET,
        &format!("/orders/{}", placed.id()),
        None,
    )
    .await;
    assert!(plain.body["data"].get("product").is_none());

    // A product of another organization (written behind the API's back) stays an id, for
    // a member and an admin alike: populating says nothing the reference did not.
    let foreign = first_product(app, &s.gus).await["id"].clone();
    let id: arc_runtime::uuid::Uuid = placed.id().parse().unwrap();
    shop::order_entity::ActiveModel {
        id: ActiveValue::Unchanged(id),
        product_id: ActiveValue::Set(foreign.as_str().unwrap().parse().unwrap()),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .unwrap();
    for token in [&s.carl, &s.ada] {
        let hidden = as_(app, token, Method::GET, &uri, None).await;
        assert_eq!(hidden.body["data"]["product"], foreign, "{}", hidden.body);
        let listed = as_(app, token, Method::GET, "/orders?populate=product", None).await;
        let row = listed.body["docs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == placed.body["data"]["id"])
            .cloned()
            .unwrap();
        assert_eq!(row["product"], foreign);
    }
    assert!(
        shop::order_entity::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .is_some()
    );

    // The embedded rows are cached with the page, and a write to them makes it old.
    let cached = "/products?limit=50&populate=category&category_id[exists]=true";
    let first = as_(app, &s.carl, Method::GET, cached, None).await;
    let again = as_(app, &s.carl, Method::GET, cached, None).await;
    assert_eq!(again.header("x-cache"), Some("HIT"));
    assert_eq!(first.body, again.body);
    let category = first.body["docs"][0]["category"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = as_(
        app,
        &platform_admin(),
        Method::PATCH,
        &format!("/categories/{category}"),
        Some(json!({"name": "Renamed"})),
    )
    .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let after = as_(app, &s.carl, Method::GET, cached, None).await;
    assert_ne!(after.header("x-cache"), Some("HIT"));
    assert_eq!(after.body["docs"][0]["category"]["name"], "Renamed");
}

async fn orders_are_their_customers(app: &TestApp) {
    let s = shop();
    let product = first_product(app, &s.carl).await;
    let order = |quantity: i64| Some(json!({"product_id": product["id"], "quantity": quantity}));
    let placed = as_(app, &s.carl, Method::POST, "/orders", order(3)).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    let data = &placed.body["data"];
    assert_eq!(data["customer_id"], "carl");
    assert_eq!(data["org_id"], "acme");
    assert_eq!(data["status"], "pending");
    assert_eq!(data["total"], product["price"].as_i64().unwrap() * 3);
    as_(app, &s.cleo, Method::POST, "/orders", order(1)).await;

    // Only admins write `status`: a member who asks for a paid order hears which field
    // they may not write, and nothing is placed.
    let mut paid_by_member = order(1).unwrap();
    paid_by_member["status"] = json!("paid");
    let refused = as_(
        app,
        &s.carl,
        Method::POST,
        "/orders",
        Some(paid_by_member.clone()),
    )
    .await;
    assert_error(&refused, 403, "FORBIDDEN");
    assert_eq!(refused.body["details"]["fields"], json!(["status"]));
    let by_admin = as_(app, &s.ada, Method::POST, "/orders", Some(paid_by_member)).await;
    assert_eq!(by_admin.status, 201, "{}", by_admin.body);
    assert_eq!(by_admin.body["data"]["status"], "paid");

    let mine = as_(app, &s.carl, Method::GET, "/orders", None).await;
    assert_eq!(mine.column("customer_id"), [json!("carl")]);
    let all = as_(app, &s.ada, Method::GET, "/orders", None).await;
    assert_eq!(all.body["total"], 3, "admins see the org's orders");
    assert_eq!(
        as_(app, &s.gus, Method::GET, "/orders", None).await.body["total"],
        0
    );
    let uri = format!("/orders/{}", data["id"].as_str().unwrap());
    assert_error(
        &as_(app, &s.cleo, Method::GET, &uri, None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &as_(
            app,
            &s.carl,
            Method::PATCH,
            &uri,
            Some(json!({"status": "paid"})),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    let paid = as_(
        app,
        &s.ada,
        Method::PATCH,
        &uri,
        Some(json!({"status": "paid"})),
    )
    .await;
    assert_eq!(paid.body["data"]["status"], "paid");
    assert_error(
        &as_(app, &s.ada, Method::DELETE, &uri, None).await,
        403,
        "FORBIDDEN",
    );

    let theirs = first_product(app, &s.gus).await;
    let foreign = as_(
        app,
        &s.carl,
        Method::POST,
        "/orders",
        Some(json!({"product_id": theirs["id"], "quantity": 1})),
    )
    .await;
    assert_error(&foreign, 400, "VALIDATION_ERROR");
    assert_eq!(foreign.body["details"]["errors"][0]["field"], "product_id");
    assert_error(
        &as_(
            app,
            &s.carl,
            Method::POST,
            "/orders",
            Some(json!({"product_id": product["id"], "quantity": 1, "customer_id": "cleo"})),
        )
        .await,
        400,
        "VALIDATION_ERROR",
    );
}

async fn tokens_and_org_selection(app: &TestApp) {
    let s = shop();
    let forged = format!("{}x", s.ada);
    let reply = as_(app, &forged, Method::GET, "/products", None).await;
    assert_error(&reply, 401, "UNAUTHORIZED");
    assert!(reply.header("www-authenticate").is_some());
    let other_secret = shop::demo_token(
        b"some other secret, 32 bytes or more",
        "ada",
        &[],
        Some("acme"),
        &["admin"],
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert_error(
        &as_(
            app,
            &format!("Bearer {other_secret}"),
            Method::GET,
            "/products",
            None,
        )
        .await,
        401,
        "UNAUTHORIZED",
    );
    let expired = shop::demo_token(
        shop::DEV_JWT_SECRET.as_bytes(),
        "ada",
        &[],
        Some("acme"),
        &["admin"],
        std::time::Duration::ZERO,
    )
    .unwrap();
    // Issued with no lifetime: expired, but within the 30 s leeway.
    assert_eq!(
        as_(
            app,
            &format!("Bearer {expired}"),
            Method::GET,
            "/products",
            None
        )
        .await
        .status,
        200
    );
    let orgless = shop::demo_token(
        shop::DEV_JWT_SECRET.as_bytes(),
        "ada",
        &["admin"],
        None,
        &[],
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    assert_error(
        &as_(
            app,
            &format!("Bearer {orgless}"),
            Method::GET,
            "/products",
            None,
        )
        .await,
        403,
        "ORG_SELECTION_REQUIRED",
    );
    let wrong_org = app
        .send(
            Method::GET,
            "/products",
            None,
            &[("authorization", &s.ada), ("x-organization-id", "globex")],
        )
        .await;
    assert_error(&wrong_org, 403, "ORG_ACCESS_DENIED");
}

/// The Redis of the tests of the shop on Redis, under a prefix of this process.
static REDIS: std::sync::OnceLock<arc_stores::Redis> = std::sync::OnceLock::new();

fn redis() -> arc_stores::Redis {
    REDIS
        .get_or_init(|| {
            let url = arc_tests::required_env("ARC_TEST_REDIS_URL", "Redis");
            let prefix = format!("shop-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple());
            arc_stores::Redis::new(&url, prefix).unwrap()
        })
        .clone()
}

fn shop_on_redis(db: arc_runtime::sea_orm::DatabaseConnection) -> arc_runtime::App {
    let preset = arc_runtime::Preset::Development;
    shop::app_with(db, shop::DEV_JWT_SECRET.as_bytes(), REDIS.get(), preset).expect("app")
}

/// A token revoked through one instance's Redis store is refused by another instance.
#[tokio::test]
#[ignore = "needs Redis"]
async fn revocation_is_shared_through_redis() {
    let redis = redis();
    let app = TestApp::sqlite_with(shop_on_redis).await;
    let token = shop_token("ada", "acme", &["admin"]);
    let claims = jsonwebtoken::decode::<Value>(
        token.trim_start_matches("Bearer "),
        &jsonwebtoken::DecodingKey::from_secret(shop::DEV_JWT_SECRET.as_bytes()).unwrap(),
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    )
    .unwrap()
    .claims;
    assert_eq!(
        as_(&app, &token, Method::GET, "/products", None)
            .await
            .status,
        200
    );
    use arc_runtime::config::RevocationStore;
    let other_instance = redis.revocation();
    let exp = claims["exp"].as_u64().unwrap();
    other_instance
        .revoke(claims["jti"].as_str().unwrap(), exp)
        .await
        .unwrap();
    let refused = as_(&app, &token, Method::GET, "/products", None).await;
    assert_error(&refused, 401, "UNAUTHORIZED");
    assert_eq!(refused.body["error"], "Token has been revoked");
}

/// With Redis, the shop's events travel on its stream (`{prefix}events`).
#[tokio::test]
#[ignore = "needs Redis"]
async fn the_shops_events_travel_on_redis() {
    let streams = redis().event_streams();
    let app = TestApp::sqlite_with(shop_on_redis).await;
    let ada = shop_token("ada", "acme", &["admin"]);
    let created = as_(
        &app,
        &ada,
        Method::POST,
        "/products",
        Some(json!({"name": "On Redis", "price": 3})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    for _ in 0..250 {
        let entries = streams.read("-", 1000).await.unwrap();
        if let Some(entry) = entries
            .iter()
            .find(|e| e.event.meta.resource_id.as_deref() == Some(id.as_str()))
        {
            assert_eq!(entry.event.name, "product.created");
            assert_eq!(entry.event.payload["data"]["name"], "On Redis");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("product.created never reached the stream");
}

/// A reference to a resource the app does not serve has no table to look in: the app says so
/// and does not start, rather than answering its writes with 500s.
#[tokio::test]
async fn a_reference_to_a_resource_not_served_keeps_the_app_from_starting() {
    let db = arc_runtime::connect("sqlite::memory:")
        .await
        .expect("sqlite");
    let products_alone = arc_runtime::App::new(db.clone()).resource::<shop::Product>();
    let problems = products_alone.problems();
    assert_eq!(
        problems,
        [
            "`product.category_id` references `category`, which the app does not serve: add .resource::<..>() for it"
        ]
    );
    let both = arc_runtime::App::new(db)
        .resource::<shop::Category>()
        .resource::<shop::Product>();
    assert!(both.problems().is_empty(), "{:?}", both.problems());
}
