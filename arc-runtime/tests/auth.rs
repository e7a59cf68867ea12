//! Authentication over HTTP: JWT (HS256, RS256 PEM, JWKS), forged, expired, revoked and
//! malformed tokens, API keys, custom authenticators and organization selection.

use std::time::{SystemTime, UNIX_EPOCH};

use arc_runtime::config::{
    ApiKeys, Auth, Authenticator, BoxFuture, JwtAuthenticator, JwtKeys, RequestIdLayer,
    RevocationStore, StoreError,
};
use arc_runtime::{ArcError, AuthContext, AuthMethod};
use axum::Json;
use axum::body::Body;
use axum::http::{Request, StatusCode, request::Parts};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &[u8] = b"a test secret that is at least 32 bytes long";
const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/rsa_public.pem");
const OTHER_PRIVATE: &[u8] = include_bytes!("fixtures/other_private.pem");
const JWKS: &str = include_str!("fixtures/jwks.json");

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims(extra: Value) -> Value {
    let mut c = json!({"sub": "u1", "exp": now() + 600, "roles": ["editor"], "org_id": "acme",
                       "org_roles": ["admin"], "orgs": ["acme", "globex"], "jti": "t1"});
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn hs256(claims: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET).unwrap(),
    )
    .unwrap()
}

fn rs256(claims: &Value, key: &[u8], kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap()
}

fn router(auth: Auth) -> axum::Router {
    axum::Router::new()
        .route(
            "/me",
            get(|ctx: AuthContext| async move {
                Json(json!({
                    "user": ctx.user_id, "roles": ctx.roles, "org": ctx.org_id,
                    "org_roles": ctx.org_roles, "method": format!("{:?}", ctx.method),
                }))
            }),
        )
        .layer(auth.layer())
        .layer(RequestIdLayer)
}

async fn call(
    router: &axum::Router,
    headers: &[(&str, &str)],
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::builder().uri("/me");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes())
        .unwrap_or(Value::Null);
    (status, body, www)
}

async fn bearer(router: &axum::Router, token: &str) -> (StatusCode, Value, Option<String>) {
    call(router, &[("authorization", &format!("Bearer {token}"))]).await
}

#[track_caller]
fn assert_401(reply: &(StatusCode, Value, Option<String>)) {
    assert_eq!(reply.0, StatusCode::UNAUTHORIZED, "{}", reply.1);
    assert_eq!(reply.1["code"], "UNAUTHORIZED");
    assert_eq!(reply.1["success"], false);
    assert!(reply.1["requestId"].is_string());
    assert_eq!(reply.2.as_deref(), Some("Bearer"));
}

fn hs_auth() -> Auth {
    Auth::new().with(JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap()))
}

#[tokio::test]
async fn no_credentials_is_anonymous() {
    let (status, body, _) = call(&router(hs_auth()), &[]).await;
    assert_eq!(status, 200);
    assert!(body["user"].is_null());
    assert_eq!(body["method"], "Anonymous");
}

#[tokio::test]
async fn a_valid_hs256_token_names_the_caller() {
    let (status, body, _) = bearer(&router(hs_auth()), &hs256(&claims(json!({})))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"], "u1");
    assert_eq!(body["roles"], json!(["editor"]));
    assert_eq!(body["org"], "acme");
    assert_eq!(body["org_roles"], json!(["admin"]));
    assert_eq!(body["method"], "Jwt");
    let (status, ..) = call(
        &router(hs_auth()),
        &[(
            "authorization",
            &format!("bearer {}", hs256(&claims(json!({})))),
        )],
    )
    .await;
    assert_eq!(status, 200, "the scheme is case-insensitive");
}

#[tokio::test]
async fn expired_premature_forged_and_malformed_tokens_are_401() {
    let r = router(hs_auth());
    assert_401(&bearer(&r, &hs256(&claims(json!({"exp": now() - 120})))).await);
    let (status, ..) = bearer(&r, &hs256(&claims(json!({"exp": now() - 10})))).await;
    assert_eq!(status, 200, "within the leeway");
    assert_401(&bearer(&r, &hs256(&claims(json!({"nbf": now() + 300})))).await);
    assert_401(&bearer(&r, &hs256(&claims(json!({"exp": null})))).await);
    let wrong = encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(b"another secret, 32 bytes or more!!").unwrap(),
    )
    .unwrap();
    assert_401(&bearer(&r, &wrong).await);
    let valid = hs256(&claims(json!({})));
    let (head, rest) = valid.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let tampered_payload = URL_SAFE_NO_PAD.encode(claims(json!({"roles": ["admin"]})).to_string());
    assert_401(&bearer(&r, &format!("{head}.{tampered_payload}.{sig}")).await);
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    assert_401(&bearer(&r, &format!("{none_header}.{payload}.")).await);
    assert_401(&bearer(&r, &format!("{none_header}.{payload}")).await);
    for garbage in ["abc", "a.b.c", "....", "eyJ.eyJ.sig", &"x".repeat(10_000)] {
        assert_401(&bearer(&r, garbage).await);
    }
    for header in ["Basic dTpw", "Bearer", "Bearer ", "token"] {
        assert_401(&call(&r, &[("authorization", header)]).await);
    }
}

#[tokio::test]
async fn claims_of_the_wrong_shape_are_401() {
    let r = router(hs_auth());
    for bad in [
        json!({"roles": "admin"}),
        json!({"sub": null}),
        json!({"sub": 42}),
        json!({"sub": ""}),
        json!({"orgs": [1, 2]}),
        json!({"org_id": ["acme"]}),
        // Ids are written into rows; PostgreSQL's text cannot hold a NUL.
        json!({"sub": "ada\0"}),
        json!({"org_id": "ac\0me"}),
        json!({"roles": ["admin\0"]}),
    ] {
        assert_401(&bearer(&r, &hs256(&claims(bad.clone()))).await);
    }
}

#[tokio::test]
async fn rs256_with_a_pem_key_and_no_algorithm_confusion() {
    let r = router(Auth::new().with(JwtAuthenticator::new(
        JwtKeys::rs256_pem(RSA_PUBLIC).unwrap(),
    )));
    let (status, body, _) = bearer(&r, &rs256(&claims(json!({})), RSA_PRIVATE, None)).await;
    assert_eq!(status, 200, "{body}");
    assert_401(&bearer(&r, &rs256(&claims(json!({})), OTHER_PRIVATE, None)).await);
    // The classic confusion: an HS256 token whose secret is the RSA public key.
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(RSA_PUBLIC).unwrap(),
    )
    .unwrap();
    assert_401(&bearer(&r, &confused).await);
    // And an RS256 token against an HS256 app.
    assert_401(
        &bearer(
            &router(hs_auth()),
            &rs256(&claims(json!({})), RSA_PRIVATE, None),
        )
        .await,
    );
}

#[tokio::test]
async fn rs256_with_a_jwks_document() {
    let r = router(Auth::new().with(JwtAuthenticator::new(JwtKeys::jwks(JWKS).unwrap())));
    let (status, ..) = bearer(
        &r,
        &rs256(&claims(json!({})), RSA_PRIVATE, Some("test-key")),
    )
    .await;
    assert_eq!(status, 200);
    assert_401(&bearer(&r, &rs256(&claims(json!({})), RSA_PRIVATE, Some("unknown"))).await);
    assert_401(&bearer(&r, &rs256(&claims(json!({})), RSA_PRIVATE, None)).await);
    assert_401(
        &bearer(
            &r,
            &rs256(&claims(json!({})), OTHER_PRIVATE, Some("test-key")),
        )
        .await,
    );
    assert!(JwtKeys::jwks("{}").is_err());
    assert!(JwtKeys::jwks(r#"{"keys":[]}"#).is_err());
}

/// Keys fetched from a URL (`RemoteJwks`): the `remote-jwks` feature.
#[cfg(feature = "remote-jwks")]
mod remote {
    use super::*;

    const ROTATED: &str = include_str!("fixtures/jwks_rotated.json");

    /// A JWKS endpoint on a local port whose document the test swaps, counting fetches.
    struct JwksServer {
        url: String,
        document: std::sync::Arc<std::sync::Mutex<Option<&'static str>>>,
        hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl JwksServer {
        async fn start(document: Option<&'static str>) -> JwksServer {
            use std::sync::atomic::Ordering;
            let shared = std::sync::Arc::new(std::sync::Mutex::new(document));
            let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let (doc, count) = (shared.clone(), hits.clone());
            let app = axum::Router::new().route(
                "/jwks.json",
                get(move || async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    match *doc.lock().unwrap() {
                        Some(text) => (StatusCode::OK, text.to_owned()),
                        None => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            JwksServer {
                url,
                document: shared,
                hits,
            }
        }

        fn hits(&self) -> usize {
            self.hits.load(std::sync::atomic::Ordering::SeqCst)
        }

        fn serve(&self, document: Option<&'static str>) {
            *self.document.lock().unwrap() = document;
        }
    }

    #[tokio::test]
    async fn jwks_from_a_url_is_cached_and_follows_rotation() {
        use arc_runtime::config::RemoteJwks;
        use std::time::Duration;
        let server = JwksServer::start(Some(JWKS)).await;
        let remote =
            RemoteJwks::with_ttl(&server.url, Duration::from_secs(600), Duration::ZERO).unwrap();
        let r = router(Auth::new().with(JwtAuthenticator::new(JwtKeys::Remote(remote))));
        let token = |key: &[u8], kid: &str| rs256(&claims(json!({})), key, Some(kid));
        assert_eq!(
            server.hits(),
            0,
            "nothing fetched before a token needs a key"
        );
        for _ in 0..3 {
            assert_eq!(bearer(&r, &token(RSA_PRIVATE, "test-key")).await.0, 200);
        }
        assert_eq!(server.hits(), 1, "cached");

        // The issuer rotates: a token names a key the cache does not hold, so it is fetched.
        server.serve(Some(ROTATED));
        assert_eq!(
            bearer(&r, &token(OTHER_PRIVATE, "rotated-key")).await.0,
            200
        );
        assert_eq!(server.hits(), 2);
        assert_401(&bearer(&r, &token(OTHER_PRIVATE, "test-key")).await);
        assert_401(&bearer(&r, &token(RSA_PRIVATE, "nobody")).await);

        // The endpoint fails: known keys keep working, unknown ones are refused.
        server.serve(None);
        assert_eq!(bearer(&r, &token(RSA_PRIVATE, "test-key")).await.0, 200);
        assert_401(&bearer(&r, &token(RSA_PRIVATE, "gone")).await);
    }

    /// The rotated document without `test-key`: the issuer withdrew it.
    fn withdrawn() -> &'static str {
        let mut set: Value = serde_json::from_str(ROTATED).unwrap();
        set["keys"]
            .as_array_mut()
            .unwrap()
            .retain(|k| k["kid"] != "test-key");
        assert_eq!(set["keys"].as_array().unwrap().len(), 1);
        Box::leak(set.to_string().into_boxed_str())
    }

    #[tokio::test]
    async fn a_withdrawn_jwks_key_is_refused_even_when_the_issuer_is_down() {
        use arc_runtime::config::RemoteJwks;
        use std::time::Duration;
        let server = JwksServer::start(Some(ROTATED)).await;
        // Expired at once, so every token asks for a fetch.
        let remote = RemoteJwks::with_ttl(&server.url, Duration::ZERO, Duration::ZERO).unwrap();
        let r = router(Auth::new().with(JwtAuthenticator::new(JwtKeys::Remote(remote))));
        let old = rs256(&claims(json!({})), RSA_PRIVATE, Some("test-key"));
        let new = rs256(&claims(json!({})), OTHER_PRIVATE, Some("rotated-key"));
        assert_eq!(bearer(&r, &old).await.0, 200);
        assert_eq!(bearer(&r, &new).await.0, 200);

        server.serve(Some(withdrawn()));
        assert_401(&bearer(&r, &old).await);
        assert_eq!(bearer(&r, &new).await.0, 200);

        // The issuer fails: the last good set serves, and it does not hold the withdrawn key.
        server.serve(None);
        let hits = server.hits();
        assert_401(&bearer(&r, &old).await);
        assert_eq!(
            bearer(&r, &new).await.0,
            200,
            "the last good set, for a while"
        );
        assert!(server.hits() > hits, "a refresh was tried");
        server.serve(Some(ROTATED));
        assert_eq!(
            bearer(&r, &old).await.0,
            200,
            "back when the issuer lists it again"
        );

        // The last good set is kept for a bounded time only.
        let server = JwksServer::start(Some(ROTATED)).await;
        let remote = RemoteJwks::with_ttl(&server.url, Duration::ZERO, Duration::ZERO)
            .unwrap()
            .max_stale(Duration::from_millis(200));
        let r = router(Auth::new().with(JwtAuthenticator::new(JwtKeys::Remote(remote))));
        assert_eq!(bearer(&r, &new).await.0, 200);
        server.serve(None);
        assert_eq!(bearer(&r, &new).await.0, 200, "within max_stale");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_401(&bearer(&r, &new).await);
    }

    #[tokio::test]
    async fn jwks_from_a_url_fails_closed_and_refetches_at_most_so_often() {
        use arc_runtime::config::RemoteJwks;
        use std::time::Duration;
        let server = JwksServer::start(None).await;
        let remote = RemoteJwks::with_ttl(
            &server.url,
            Duration::from_secs(600),
            Duration::from_secs(60),
        )
        .unwrap();
        let r = router(Auth::new().with(JwtAuthenticator::new(JwtKeys::Remote(remote))));
        for kid in ["test-key", "a", "b", "c"] {
            assert_401(&bearer(&r, &rs256(&claims(json!({})), RSA_PRIVATE, Some(kid))).await);
        }
        assert_eq!(server.hits(), 1, "unknown kids do not make a fetch storm");

        // Expired keys are fetched again; when that fails, the known ones still serve.
        let server = JwksServer::start(Some(JWKS)).await;
        let remote = RemoteJwks::with_ttl(&server.url, Duration::ZERO, Duration::ZERO).unwrap();
        let r = router(Auth::new().with(JwtAuthenticator::new(JwtKeys::Remote(remote))));
        let token = rs256(&claims(json!({})), RSA_PRIVATE, Some("test-key"));
        assert_eq!(bearer(&r, &token).await.0, 200);
        assert_eq!(bearer(&r, &token).await.0, 200);
        assert_eq!(server.hits(), 2, "expired, so fetched again");
        server.serve(None);
        assert_eq!(bearer(&r, &token).await.0, 200, "stale keys beat no keys");
        assert_eq!(server.hits(), 3);
        let unreachable = RemoteJwks::new("http://127.0.0.1:9/jwks.json").unwrap();
        let r = router(Auth::new().with(JwtAuthenticator::new(JwtKeys::Remote(unreachable))));
        assert_401(
            &bearer(
                &r,
                &rs256(&claims(json!({})), RSA_PRIVATE, Some("test-key")),
            )
            .await,
        );
        assert!(RemoteJwks::new("ftp://example.com/jwks").is_err());
        assert!(RemoteJwks::new("not a url").is_err());
        let file = std::env::temp_dir().join(format!("arc-jwks-{}.json", std::process::id()));
        std::fs::write(&file, JWKS).unwrap();
        assert!(JwtKeys::jwks_file(&file).is_ok());
        std::fs::remove_file(&file).unwrap();
        assert!(JwtKeys::jwks_file(&file).is_err());
    }
}

#[tokio::test]
async fn audience_and_issuer_when_configured() {
    let jwt = JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap())
        .audience(&["shop"])
        .issuer(&["https://id.example"]);
    let r = router(Auth::new().with(jwt));
    let good = claims(json!({"aud": "shop", "iss": "https://id.example"}));
    assert_eq!(bearer(&r, &hs256(&good)).await.0, 200);
    assert_401(
        &bearer(
            &r,
            &hs256(&claims(
                json!({"aud": "other", "iss": "https://id.example"}),
            )),
        )
        .await,
    );
    assert_401(
        &bearer(
            &r,
            &hs256(&claims(
                json!({"aud": "shop", "iss": "https://evil.example"}),
            )),
        )
        .await,
    );
    // Leaving the claims out must not get past the check.
    assert_401(&bearer(&r, &hs256(&claims(json!({})))).await);
    assert_401(&bearer(&r, &hs256(&claims(json!({"aud": "shop"})))).await);
    assert_401(&bearer(&r, &hs256(&claims(json!({"iss": "https://id.example"})))).await);
}

#[tokio::test]
async fn tokens_without_jti_are_401_when_jti_is_required() {
    let lenient = router(hs_auth());
    let strict = router(
        Auth::new().with(JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap()).require_jti()),
    );
    for r in [&lenient, &strict] {
        assert_eq!(bearer(r, &hs256(&claims(json!({})))).await.0, 200);
    }
    for missing in [json!({"jti": null}), json!({"jti": ""})] {
        let token = hs256(&claims(missing));
        assert_eq!(bearer(&lenient, &token).await.0, 200, "optional by default");
        assert_401(&bearer(&strict, &token).await);
    }
    let again = router(
        Auth::new().with(
            JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap())
                .require_jti()
                .optional_jti(),
        ),
    );
    assert_eq!(
        bearer(&again, &hs256(&claims(json!({"jti": null}))))
            .await
            .0,
        200,
        "the later setting wins"
    );
}

#[tokio::test]
async fn token_lifetime_is_bounded_when_a_maximum_is_set() {
    use std::time::Duration;
    let hour = Duration::from_secs(3600);
    let r = router(
        Auth::new().with(JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap()).max_lifetime(hour)),
    );
    let t = now();
    let ok = [
        json!({"iat": t, "exp": t + 600}),
        json!({"iat": t - 600, "exp": t + 3000}),
        json!({"iat": t + 10, "exp": t + 3600}),
        json!({"iat": (t as f64) + 0.5, "exp": t + 60}),
    ];
    for claim in ok {
        let (status, body, _) = bearer(&r, &hs256(&claims(claim.clone()))).await;
        assert_eq!(status, 200, "{claim}: {body}");
    }
    for bad in [
        json!({"iat": t, "exp": t + 3601}),
        json!({"iat": t - 86_400, "exp": t + 600}),
        json!({"iat": null, "exp": t + 600}),
        json!({"iat": t + 120, "exp": t + 600}),
        json!({"iat": "yesterday", "exp": t + 600}),
    ] {
        assert_401(&bearer(&r, &hs256(&claims(bad))).await);
    }
    // Without a maximum, iat is optional, but a token from the future is still refused.
    let r = router(hs_auth());
    assert_eq!(
        bearer(&r, &hs256(&claims(json!({"iat": null})))).await.0,
        200
    );
    assert_eq!(
        bearer(&r, &hs256(&claims(json!({"iat": t - 86_400 * 365}))))
            .await
            .0,
        200
    );
    assert_401(&bearer(&r, &hs256(&claims(json!({"iat": t + 3600})))).await);
    let r = router(
        Auth::new().with(
            JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap())
                .max_lifetime(hour)
                .any_lifetime(),
        ),
    );
    let long = claims(json!({"iat": t, "exp": t + 86_400 * 30}));
    assert_eq!(
        bearer(&r, &hs256(&long)).await.0,
        200,
        "the later setting wins"
    );
}

#[tokio::test]
async fn production_requires_jti_and_at_most_a_day() {
    use arc_runtime::Preset;
    use arc_runtime::config::{DEFAULT_MAX_LIFETIME, JwtSigner, TokenClaims};
    use std::time::Duration;
    assert_eq!(DEFAULT_MAX_LIFETIME, Duration::from_secs(24 * 3600));
    let jwt = |preset| JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap()).preset(preset);
    let t = now();
    let signer = JwtSigner::hs256(SECRET).unwrap();
    let issued = signer
        .sign(&TokenClaims::new("u1", DEFAULT_MAX_LIFETIME))
        .unwrap();
    let week = claims(json!({"iat": t, "exp": t + 7 * 86_400}));
    let no_jti = claims(json!({"iat": t, "jti": null}));
    for preset in [Preset::Production, Preset::Edge] {
        let r = router(Auth::new().with(jwt(preset)));
        assert_eq!(
            bearer(&r, &issued).await.0,
            200,
            "{preset:?}: a day, with jti"
        );
        assert_401(&bearer(&r, &hs256(&week)).await);
        assert_401(&bearer(&r, &hs256(&no_jti)).await);
        assert_401(&bearer(&r, &hs256(&claims(json!({})))).await);
    }
    for preset in [Preset::Development, Preset::Testing] {
        let r = router(Auth::new().with(jwt(preset)));
        for token in [hs256(&week), hs256(&no_jti), issued.clone()] {
            assert_eq!(bearer(&r, &token).await.0, 200, "{preset:?}");
        }
    }
    let relaxed = router(Auth::new().with(jwt(Preset::Production).any_lifetime()));
    assert_eq!(
        bearer(&relaxed, &hs256(&week)).await.0,
        200,
        "settings after the preset win"
    );
}

#[tokio::test]
async fn weak_secrets_are_refused_at_configuration() {
    assert!(JwtKeys::hs256(b"short").is_err());
}

#[tokio::test]
async fn revoked_tokens_are_401() {
    let auth = hs_auth();
    let r = router(auth.clone());
    let token = hs256(&claims(json!({"jti": "revoke-me"})));
    assert_eq!(bearer(&r, &token).await.0, 200);
    auth.revocation_store()
        .revoke("revoke-me", (now() + 600) as u64)
        .await
        .unwrap();
    assert_401(&bearer(&r, &token).await);
    assert_eq!(
        bearer(&r, &hs256(&claims(json!({"jti": "other"})))).await.0,
        200
    );
}

#[tokio::test]
async fn remembered_tokens_still_expire() {
    let jwt = JwtAuthenticator::new(JwtKeys::hs256(SECRET).unwrap()).leeway(0);
    let r = router(Auth::new().with(jwt));
    let token = hs256(&claims(json!({"exp": now() + 1})));
    assert_eq!(bearer(&r, &token).await.0, 200, "verified and remembered");
    assert_eq!(bearer(&r, &token).await.0, 200, "from memory");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body, _) = bearer(&r, &token).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "Token has expired");
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_401(&bearer(&r, &forged).await);
}

struct BrokenStore;

impl RevocationStore for BrokenStore {
    fn is_revoked<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async { Err(StoreError::new("down")) })
    }
    fn revoke<'a>(&'a self, _: &'a str, _: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::new("down")) })
    }
}

#[tokio::test]
async fn a_failing_revocation_store_fails_closed() {
    let r = router(hs_auth().revocation(BrokenStore));
    assert_401(&bearer(&r, &hs256(&claims(json!({})))).await);
    assert_eq!(
        call(&r, &[]).await.0,
        200,
        "anonymous callers have no token to check"
    );
}

#[tokio::test]
async fn api_keys_are_matched_by_digest() {
    let service = AuthContext {
        user_id: Some("svc-1".into()),
        roles: vec!["admin".into()],
        ..AuthContext::default()
    };
    let r = router(hs_auth().with(ApiKeys::new().key("k-123", service)));
    let (status, body, _) = call(&r, &[("x-api-key", "k-123")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"], "svc-1");
    assert_eq!(body["method"], "ApiKey");
    assert_401(&call(&r, &[("x-api-key", "k-124")]).await);
    assert_401(&call(&r, &[("x-api-key", "")]).await);
    let (_, body, _) = call(
        &r,
        &[
            ("x-api-key", "k-123"),
            (
                "authorization",
                &format!("Bearer {}", hs256(&claims(json!({})))),
            ),
        ],
    )
    .await;
    assert_eq!(
        body["user"], "u1",
        "authenticators are asked in order: the JWT first"
    );
}

struct HeaderUser;

impl Authenticator for HeaderUser {
    fn authenticate<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> BoxFuture<'a, Result<Option<AuthContext>, ArcError>> {
        let found = parts.headers.get("x-test-user").map(|v| AuthContext {
            user_id: Some(v.to_str().unwrap_or("").to_owned()),
            method: AuthMethod::Custom("header"),
            ..AuthContext::default()
        });
        Box::pin(async move { Ok(found) })
    }
}

#[tokio::test]
async fn custom_authenticators() {
    let r = router(Auth::new().with(HeaderUser));
    let (status, body, _) = call(&r, &[("x-test-user", "alice")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"], "alice");
    assert_eq!(body["method"], "Custom(\"header\")");
}

#[tokio::test]
async fn organization_selection() {
    let r = router(hs_auth());
    let token = format!("Bearer {}", hs256(&claims(json!({}))));
    let (status, body, _) = call(
        &r,
        &[("authorization", &token), ("x-organization-id", "globex")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["org"], "globex");
    assert_eq!(
        body["org_roles"],
        json!([]),
        "roles in acme do not carry over to globex"
    );
    let (_, body, _) = call(
        &r,
        &[("authorization", &token), ("x-organization-id", "acme")],
    )
    .await;
    assert_eq!(body["org_roles"], json!(["admin"]));
    let (status, body, _) = call(
        &r,
        &[("authorization", &token), ("x-organization-id", "initech")],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["code"], "ORG_ACCESS_DENIED");
    assert_401(&call(&r, &[("x-organization-id", "acme")]).await);
    let (status, body, _) =
        call(&r, &[("authorization", &token), ("x-organization-id", " ")]).await;
    assert_eq!(
        (status.as_u16(), body["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );
}
