//! The service routes answer whatever the callers do: health, metrics and the documents are
//! outside authentication and the rate limit (a load balancer's probe and a scraper are not
//! users), while the registry stays for authenticated admins.

use std::time::Duration;

use arc_runtime::App;
use arc_runtime::config::Metrics;
use arc_runtime::config::{KeyBy, RateLimit};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

async fn db() -> arc_runtime::sea_orm::DatabaseConnection {
    arc_runtime::connect("sqlite::memory:").await.unwrap()
}

/// Status, `www-authenticate`, JSON body (`Null` when not JSON), `x-request-id`.
async fn get(
    router: &axum::Router,
    uri: &str,
    authorization: Option<&str>,
) -> (StatusCode, Option<String>, Value, Option<String>) {
    // Every request from one address behind the proxy, as an anonymous crowd looks.
    let peer: std::net::SocketAddr = ([10, 0, 0, 1], 5000).into();
    let mut req = Request::get(uri).extension(axum::extract::ConnectInfo(peer));
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (www, id) = (header("www-authenticate"), header("x-request-id"));
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, www, body, id)
}

/// The shop (JWT auth) on a migrated database, with one request a minute per caller.
async fn limited_shop() -> axum::Router {
    let app = arc_tests::shop_app(db().await).rate_limit(RateLimit::new(
        1,
        Duration::from_secs(60),
        KeyBy::User,
    ));
    app.migrate().await.unwrap();
    app.into_router()
}

#[tokio::test]
async fn readiness_stays_200_while_the_rate_limit_refuses_anonymous_callers() {
    let router = limited_shop().await;
    assert_eq!(get(&router, "/categories", None).await.0, 200);
    let (status, _, body, _) = get(&router, "/categories", None).await;
    assert_eq!(status, 429, "{body}");
    for path in [
        "/_health/ready",
        "/_health/live",
        "/_metrics",
        "/_docs/openapi.json",
        "/_docs",
    ] {
        for _ in 0..3 {
            let (status, _, body, id) = get(&router, path, None).await;
            assert_eq!(status, 200, "{path}: {body}");
            assert!(id.is_some(), "{path} keeps its request id");
        }
    }
    let (status, _, body, _) = get(&router, "/categories", None).await;
    assert_eq!(status, 429, "the API is still limited: {body}");
}

#[tokio::test]
async fn service_routes_ignore_garbage_and_expired_tokens() {
    let router = limited_shop().await;
    // Signed with the right secret, expired long past the leeway.
    let expired = {
        let claims = serde_json::json!({"sub": "ada", "exp": 1_000_000, "jti": "old"});
        let key = jsonwebtoken::EncodingKey::from_secret(shop::DEV_JWT_SECRET.as_bytes()).unwrap();
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
    };
    let expired = format!("Bearer {expired}");
    for authorization in ["Bearer garbage", "Basic Zm9vOmJhcg==", expired.as_str()] {
        for path in [
            "/_health/live",
            "/_health/ready",
            "/_metrics",
            "/_docs/openapi.json",
            "/_docs",
            "/_docs/docs.js",
        ] {
            let (status, _, body, _) = get(&router, path, Some(authorization)).await;
            assert_eq!(status, 200, "{path} with {authorization}: {body}");
        }
        // The API and the registry still refuse the credentials.
        for path in ["/categories", "/_resources"] {
            let (status, www, body, _) = get(&router, path, Some(authorization)).await;
            assert_eq!(status, 401, "{path} with {authorization}: {body}");
            assert_eq!(body["code"], "UNAUTHORIZED");
            assert_eq!(www.as_deref(), Some("Bearer"));
        }
    }
}

#[tokio::test]
async fn the_registry_stays_for_authenticated_platform_admins() {
    let router = arc_tests::shop_app(db().await).into_router();
    let (status, _, body, _) = get(&router, "/_resources", None).await;
    assert_eq!(
        (status.as_u16(), &body["code"]),
        (401, &"UNAUTHORIZED".into())
    );
    let member = arc_tests::shop_token("carl", "acme", &[]);
    let (status, _, body, _) = get(&router, "/_resources", Some(&member)).await;
    assert_eq!((status.as_u16(), &body["code"]), (403, &"FORBIDDEN".into()));
    let org_admin = arc_tests::shop_token("ada", "acme", &["admin"]);
    let (status, _, body, _) = get(&router, "/_resources", Some(&org_admin)).await;
    assert_eq!((status.as_u16(), &body["code"]), (403, &"FORBIDDEN".into()));
    let admin = arc_tests::platform_admin();
    let (status, _, body, _) = get(&router, "/_resources", Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["$schema"], "arc-describe/v1");
}

#[tokio::test]
async fn the_metrics_token_works_beside_jwt_auth() {
    let router = arc_tests::shop_app(db().await)
        .metrics(Metrics::new().bearer_token("scrape-me"))
        .into_router();
    let (status, _, body, _) = get(&router, "/_metrics", Some("Bearer scrape-me")).await;
    assert_eq!(status, 200, "{body}");
    for wrong in [None, Some("Bearer wrong"), Some("Bearer scrape-me-not")] {
        let (status, www, body, id) = get(&router, "/_metrics", wrong).await;
        assert_eq!(status, 401, "{wrong:?}");
        assert_eq!(body["code"], "UNAUTHORIZED");
        assert_eq!(body["requestId"].as_str(), id.as_deref());
        assert_eq!(www.as_deref(), Some("Bearer"));
    }
    // A user's token is not the scraper's.
    let admin = arc_tests::acme_admin();
    assert_eq!(get(&router, "/_metrics", Some(&admin)).await.0, 401);
    // Health does not care about either.
    let (status, _, _, _) = get(&router, "/_health/ready", Some("Bearer scrape-me")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn probes_are_not_shed_with_the_load() {
    let router = App::new(db().await)
        .route(
            "/work",
            axum::routing::get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        )
        .max_in_flight(1)
        .into_router();
    let (busy, during) = tokio::join!(get(&router, "/work", None), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        (
            get(&router, "/work", None).await.0,
            get(&router, "/_health/ready", None).await.0,
            get(&router, "/_health/live", None).await.0,
        )
    });
    assert_eq!(busy.0, 200);
    assert_eq!(
        during,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::OK,
            StatusCode::OK
        )
    );
}
