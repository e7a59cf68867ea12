//! The kit run against the shop: personas and their tokens, the assertions, bodies made
//! from the resources' field tables, and a smoke test of each resource whose answers are
//! checked against the shop's document.

use arc_test::{Method, Persona, TestApp, Tokens, body_for, smoke};

const SECRET: &[u8] = shop::DEV_JWT_SECRET.as_bytes();

async fn shop() -> TestApp {
    TestApp::new(|db| shop::app(db, SECRET).expect("the shop")).await
}

#[tokio::test]
async fn personas_and_assertions() {
    let app = shop().await;
    let tokens = Tokens::hs256(SECRET);
    let admin = tokens.persona("ada").org("acme", &["admin"]).build();
    let editor = tokens.persona("eve").org("acme", &["editor"]).build();
    let stranger = tokens.persona("sam").org("globex", &["admin"]).build();

    let body = body_for::<shop::Product>(1);
    let created = app.post("/products", body.clone()).as_(&editor).await;
    created.assert_status(201).assert_ok().assert_absent("cost");
    let id = created.id();
    // The admin sees the cost; the other organization does not see the row at all.
    let seen = app.get(&format!("/products/{id}")).as_(&admin).await;
    seen.assert_ok();
    assert!(seen.data().get("cost").is_some(), "{}", seen.body);
    app.get(&format!("/products/{id}"))
        .as_(&stranger)
        .await
        .assert_error(404, "NOT_FOUND");
    let theirs = app.get("/products").as_(&stranger).await;
    theirs.assert_ok();
    assert!(
        theirs.docs().iter().all(|p| p["org_id"] == "globex"),
        "{}",
        theirs.body
    );
    assert!(theirs.docs().iter().all(|p| p["id"] != id.as_str()));
    // A forged token and nobody at all.
    app.get("/products")
        .as_(&Persona::with_authorization("forger", "Bearer not.a.token"))
        .await
        .assert_error(401, "UNAUTHORIZED");
    app.post("/products", body)
        .as_(&Persona::anonymous())
        .await
        .assert_error(401, "UNAUTHORIZED");
    // A header of the request's own.
    app.get("/products")
        .as_(&admin)
        .header("x-organization-id", "globex")
        .await
        .assert_error(403, "ORG_ACCESS_DENIED");
}

#[tokio::test]
async fn every_resource_of_the_shop_passes_its_smoke_test() {
    let app = shop().await;
    let tokens = Tokens::hs256(SECRET);
    let anonymous = Persona::anonymous();
    let member = tokens.persona("max").org("acme", &[]).build();
    // An admin of the platform (the categories every organization shares) and of Acme.
    let admin = tokens
        .persona("ada")
        .roles(&["admin"])
        .org("acme", &["admin"])
        .build();
    let cast = [&anonymous, &member, &admin];

    let categories = smoke::<shop::Category>(&app, &cast).await;
    assert_eq!(
        categories.status("anonymous", Method::GET, "/categories"),
        Some(200)
    );
    assert_eq!(
        categories.status("anonymous", Method::POST, "/categories"),
        Some(401)
    );
    assert_eq!(
        categories.status("max", Method::POST, "/categories"),
        Some(403)
    );
    assert_eq!(
        categories.status("ada", Method::POST, "/categories"),
        Some(201)
    );
    assert_eq!(
        categories.status("ada", Method::DELETE, "/categories/{id}"),
        Some(200)
    );

    assert_eq!(
        categories.status("ada", Method::GET, "/categories/slug/{slug}"),
        Some(200)
    );
    // A member reads the category an admin made, and changes nothing.
    assert_eq!(
        categories.status("max", Method::GET, "/categories/{id}"),
        Some(200)
    );
    assert_eq!(
        categories.status("max", Method::PATCH, "/categories/{id}"),
        Some(403)
    );

    let products = smoke::<shop::Product>(&app, &cast).await;
    assert_eq!(
        products.status("max", Method::GET, "/products/{id}"),
        Some(200)
    );
    assert_eq!(
        products.status("max", Method::DELETE, "/products/{id}"),
        Some(403)
    );
    assert_eq!(
        products.status("anonymous", Method::GET, "/products"),
        Some(401)
    );
    assert_eq!(products.status("max", Method::GET, "/products"), Some(200));
    assert_eq!(products.status("max", Method::POST, "/products"), Some(403));
    assert_eq!(products.status("ada", Method::POST, "/products"), Some(201));
    assert_eq!(
        products.status("ada", Method::GET, "/products/{id}"),
        Some(200)
    );
    assert_eq!(
        products.status("ada", Method::GET, "/products/slug/{slug}"),
        Some(200)
    );
    assert_eq!(
        products.status("ada", Method::DELETE, "/products/{id}"),
        Some(200)
    );
    assert_eq!(
        products.status("ada", Method::POST, "/products/{id}/restore"),
        Some(200)
    );
    // Every route the document has for products was sent by each persona.
    let routes = products
        .answers
        .iter()
        .filter(|a| a.persona == "ada")
        .count();
    assert!(routes >= 12, "{routes} routes");

    // Orders name a product: each persona first makes one (members may not, so their
    // order is a 400); the admin's order is placed and read.
    let orders = smoke::<shop::Order>(&app, &cast).await;
    assert_eq!(
        orders.status("anonymous", Method::POST, "/orders"),
        Some(401)
    );
    assert_eq!(orders.status("max", Method::POST, "/orders"), Some(400));
    assert_eq!(orders.status("ada", Method::POST, "/orders"), Some(201));
    assert_eq!(orders.status("ada", Method::GET, "/orders/{id}"), Some(200));
    // Its cancel action takes a reason the smoke cannot know: a 400, as documented.
    assert_eq!(
        orders.status("ada", Method::POST, "/orders/{id}/action"),
        Some(400)
    );
    // Max reads Ada's order? Orders are their customer's own: a 404.
    assert_eq!(orders.status("max", Method::GET, "/orders/{id}"), Some(404));
}

/// The README's example, as it is written there.
#[tokio::test]
async fn editors_create_products_and_only_admins_see_their_cost() {
    let secret = shop::DEV_JWT_SECRET.as_bytes();
    let app = TestApp::new(|db| shop::app(db, secret).unwrap()).await;
    let tokens = Tokens::hs256(secret);
    let editor = tokens.persona("eve").org("acme", &["editor"]).build();
    let admin = tokens
        .persona("ada")
        .roles(&["admin"])
        .org("acme", &["admin"])
        .build();

    let mug = app
        .post("/products", body_for::<shop::Product>(1))
        .as_(&editor)
        .await;
    mug.assert_status(201).assert_absent("cost");
    app.post("/products", body_for::<shop::Product>(2))
        .as_(&Persona::anonymous())
        .await
        .assert_error(401, "UNAUTHORIZED");

    // Every route of the resource, as each persona: documented answers only, no 5xx.
    let run = smoke::<shop::Product>(&app, &[&Persona::anonymous(), &editor, &admin]).await;
    assert_eq!(
        run.status("eve", Method::DELETE, "/products/{id}"),
        Some(403)
    );
}

/// An answer the document does not list fails the test that heard it: a custom route that
/// answers 409 without saying so in its `errors`.
#[tokio::test]
#[should_panic(expected = "which the document does not list")]
async fn an_undocumented_answer_fails_the_test() {
    use arc_runtime::{ArcError, CustomRoute, RouteContext, Rule};
    async fn clash(_: RouteContext) -> Result<serde_json::Value, ArcError> {
        Err(ArcError::new(
            arc_runtime::ErrorCode::Conflict,
            "always in conflict",
        ))
    }
    let app = TestApp::new(|db| {
        shop::app(db, SECRET)
            .unwrap()
            .route_with(CustomRoute::get("/clash", clash).permission(Rule::Public))
    })
    .await;
    let _ = app.get("/clash").await;
}
