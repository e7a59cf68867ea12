//! The shop's token rules: under the production preset a token needs a `jti` (so it can be
//! revoked) and lives a day at most; the demo tokens meet both.

use std::time::Duration;

use arc_runtime::Preset;
use arc_tests::TestApp;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

const SECRET: &[u8] = shop::DEV_JWT_SECRET.as_bytes();

async fn status(router: &axum::Router, token: &str) -> u16 {
    let req = Request::get("/products?limit=1")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    router.clone().oneshot(req).await.unwrap().status().as_u16()
}

fn demo(ttl: Duration) -> String {
    shop::demo_token(SECRET, "ada", &[], Some("acme"), &["admin"], ttl).unwrap()
}

/// A token of the right secret with `claims` besides `sub`, `org_id` and `orgs`.
fn signed(claims: serde_json::Value) -> String {
    let mut all = serde_json::json!({"sub": "ada", "org_id": "acme", "orgs": ["acme"],
                                     "org_roles": ["admin"]});
    all.as_object_mut()
        .unwrap()
        .extend(claims.as_object().unwrap().clone());
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET).unwrap();
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &all, &key).unwrap()
}

async fn shop(preset: Preset) -> axum::Router {
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let app = shop::app_with(db, SECRET, None, preset).unwrap();
    app.migrate().await.unwrap();
    app.into_router()
}

#[tokio::test]
async fn production_takes_the_demo_tokens_and_refuses_unrevocable_or_long_ones() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let day = arc_runtime::config::DEFAULT_MAX_LIFETIME;
    let no_jti = signed(serde_json::json!({"iat": now, "exp": now + 600}));
    let no_iat = signed(serde_json::json!({"jti": "j1", "exp": now + 600}));
    let week = signed(serde_json::json!({"jti": "j2", "iat": now, "exp": now + 7 * 86_400}));

    let production = shop(Preset::Production).await;
    assert_eq!(
        status(&production, &demo(day)).await,
        200,
        "the demo token of a day"
    );
    assert_eq!(
        status(&production, &demo(Duration::from_secs(600))).await,
        200
    );
    assert_eq!(
        status(&production, &demo(day + Duration::from_secs(3600))).await,
        401
    );
    for refused in [&no_jti, &no_iat, &week] {
        assert_eq!(status(&production, refused).await, 401, "{refused}");
    }

    let development = shop(Preset::Development).await;
    for accepted in [&no_jti, &no_iat, &week] {
        assert_eq!(status(&development, accepted).await, 200);
    }
    // The harness's shop is the development one.
    let app = TestApp::sqlite().await;
    let reply = app
        .send(
            axum::http::Method::GET,
            "/products?limit=1",
            None,
            &[("authorization", &format!("Bearer {week}"))],
        )
        .await;
    assert_eq!(reply.status, 200);
}
