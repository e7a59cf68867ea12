//! Sessions over HTTP: refresh tokens rotate once each, a reused one ends the session and
//! revokes its access token, logout revokes, a session ends at its maximum lifetime, and
//! cookies carry the tokens with a CSRF token on every unsafe request; on memory and on
//! Redis shared by two instances. Every answer is checked against the document.

use std::time::Duration;

use arc_runtime::config::{
    Auth, Cookies, JwtAuthenticator, JwtKeys, JwtSigner, Sessions, TokenClaims, TokenPair,
};
use arc_runtime::sea_orm::DatabaseConnection;
use arc_tests::notes::{Note, SECRET};
use arc_tests::{TestApp, assert_error, required_env};
use axum::http::Method;
use serde_json::{Value, json};

/// The notes, with sessions (and cookies, when `cookies`), their tokens verified by the
/// app's authenticator. `redis`: the revocation store and the sessions' on that server.
fn app(
    db: DatabaseConnection,
    sessions: Sessions,
    redis: Option<&arc_stores::Redis>,
) -> arc_runtime::App {
    let keys = JwtKeys::hs256(SECRET).expect("key");
    let mut jwt = JwtAuthenticator::new(keys);
    if let Some(cookies) = sessions.cookie_settings() {
        jwt = jwt.cookies(cookies.clone());
    }
    let auth = Auth::new().with(jwt);
    let auth = match redis {
        Some(redis) => auth.revocation(redis.revocation()),
        None => auth,
    };
    arc_runtime::App::new(db)
        .resource::<Note>()
        .auth(auth)
        .sessions(sessions)
}

fn sessions() -> Sessions {
    Sessions::new(JwtSigner::hs256(SECRET).expect("key"))
}

fn alice() -> TokenClaims {
    TokenClaims::new("alice", Duration::ZERO).roles(&["writer"])
}

fn bearer(pair: &TokenPair) -> String {
    format!("Bearer {}", pair.access_token)
}

async fn refresh(app: &TestApp, token: &str) -> arc_tests::Reply {
    app.post("/auth/refresh", json!({ "refreshToken": token }))
        .await
}

/// The pair in a refresh's answer.
fn pair_of(reply: &arc_tests::Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["tokenType"], "Bearer");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    (
        reply.body["accessToken"]
            .as_str()
            .expect("access")
            .to_owned(),
        reply.body["refreshToken"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    )
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    let sessions = sessions();
    let app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    rotation_scenario(&app, &app, &sessions).await;
}

#[tokio::test]
#[ignore = "needs Redis"]
async fn on_redis_two_instances_share_the_sessions() {
    let url = required_env("ARC_TEST_REDIS_URL", "Redis");
    let prefix = format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple());
    let redis = arc_stores::Redis::new(&url, prefix).expect("redis");
    let sessions = sessions().store(redis.sessions());
    let a = TestApp::sqlite_with(|db| app(db, sessions.clone(), Some(&redis))).await;
    // The same app over the same database and Redis: another instance.
    let b = a.instance(|db| app(db, sessions.clone(), Some(&redis)));
    rotation_scenario(&a, &b, &sessions).await;
}

/// Rotation on `a`, reuse detected on `b` (the same instance, or another).
async fn rotation_scenario(a: &TestApp, b: &TestApp, sessions: &Sessions) {
    let first = sessions.issue(alice()).await.expect("login");
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.expires_in, 15 * 60);
    assert_eq!(first.csrf_token, None, "no cookies, no CSRF token");
    assert_eq!(a.as_(&bearer(&first)).get("/notes").await.status, 200);
    let (access, next) = pair_of(&refresh(a, &first.refresh_token).await);
    let second = format!("Bearer {access}");
    assert_eq!(b.as_(&second).get("/notes").await.status, 200);
    let (access, newest) = pair_of(&refresh(b, &next).await);
    let third = format!("Bearer {access}");
    assert_eq!(a.as_(&third).get("/notes").await.status, 200);
    // The first refresh token again: someone else holds the session.
    assert_error(&refresh(b, &first.refresh_token).await, 401, "UNAUTHORIZED");
    // The session is over for everyone: its live access token is revoked, its newest
    // refresh token is dead.
    assert_error(&a.as_(&third).get("/notes").await, 401, "UNAUTHORIZED");
    assert_error(&refresh(a, &newest).await, 401, "UNAUTHORIZED");
    // Another session of the same user goes on.
    let other = sessions.issue(alice()).await.expect("login");
    assert_eq!(a.as_(&bearer(&other)).get("/notes").await.status, 200);
    let (_, _) = pair_of(&refresh(a, &other.refresh_token).await);
}

#[tokio::test]
async fn bad_refresh_requests_are_4xx_and_change_nothing() {
    let sessions = sessions();
    let app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    let pair = sessions.issue(alice()).await.expect("login");
    let (id, secret) = pair.refresh_token.split_once('.').expect("id.secret");
    let long = "a".repeat(2_000);
    let forged = format!("{id}.{}", "A".repeat(43));
    for token in [
        "",
        "x",
        "a.b",
        &long,
        secret,
        id,
        &forged,
        &format!("{id}.{secret}x"),
    ] {
        assert_error(&refresh(&app, token).await, 401, "UNAUTHORIZED");
    }
    for body in [
        json!({}),
        json!({ "refreshToken": 7 }),
        json!({ "refreshToken": pair.refresh_token, "extra": 1 }),
        json!([pair.refresh_token]),
    ] {
        let reply = app.post("/auth/refresh", body.clone()).await;
        assert_error(&reply, 400, "BAD_REQUEST");
    }
    let text = app
        .send(
            Method::POST,
            "/auth/refresh",
            None,
            &[("content-type", "text/plain")],
        )
        .await;
    assert_error(&text, 400, "BAD_REQUEST");
    let request = axum::http::Request::post("/auth/refresh")
        .header("content-type", "text/plain")
        .body(axum::body::Body::from(pair.refresh_token.clone()))
        .expect("request");
    assert_error(&app.raw(request).await, 415, "UNSUPPORTED_MEDIA_TYPE");
    // A body the size of a token, no more.
    let big = json!({ "refreshToken": "a".repeat(8 * 1024) });
    assert_error(
        &app.post("/auth/refresh", big).await,
        413,
        "PAYLOAD_TOO_LARGE",
    );
    // None of that touched the session, not even the forged secret in its id: its token
    // still rotates (arc's `token` works too).
    let reply = app
        .post("/auth/refresh", json!({ "token": pair.refresh_token }))
        .await;
    pair_of(&reply);
}

#[tokio::test]
async fn logout_revokes_the_access_token_and_the_session() {
    let sessions = sessions();
    let app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    assert_error(
        &app.post("/auth/logout", json!({})).await,
        401,
        "UNAUTHORIZED",
    );
    let pair = sessions.issue(alice()).await.expect("login");
    let token = bearer(&pair);
    let out = app.as_(&token).post("/auth/logout", json!({})).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(out.body, json!({ "success": true }));
    assert_error(&app.as_(&token).get("/notes").await, 401, "UNAUTHORIZED");
    assert_error(
        &refresh(&app, &pair.refresh_token).await,
        401,
        "UNAUTHORIZED",
    );
    // Credentials with nothing to revoke get no logout that changes nothing.
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs()
        + 60;
    let unrevocable = arc_tests::notes::sign(&json!({ "sub": "bob", "exp": exp }));
    let out = app.as_(&unrevocable).post("/auth/logout", json!({})).await;
    assert_error(&out, 400, "BAD_REQUEST");
}

#[tokio::test]
async fn a_store_that_cannot_answer_is_a_503_never_a_session() {
    // Nothing listens on port 1.
    let redis = arc_stores::Redis::new("redis://127.0.0.1:1", "arc-test:down:").expect("redis");
    let sessions = sessions().store(redis.sessions());
    let app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    let refused = sessions.issue(alice()).await.expect_err("no store");
    assert_eq!(refused.code(), arc_runtime::ErrorCode::ServiceUnavailable);
    let token = format!("{}.{}", "0".repeat(32), "A".repeat(43));
    assert_error(&refresh(&app, &token).await, 503, "SERVICE_UNAVAILABLE");
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_lifetime() {
    let sessions = sessions()
        .max_lifetime(Duration::from_secs(2))
        .access_ttl(Duration::from_secs(60));
    let app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    let pair = sessions.issue(alice()).await.expect("login");
    assert!(pair.expires_in <= 2, "{pair:?}");
    assert!(pair.refresh_expires_in <= 2, "{pair:?}");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_error(
        &refresh(&app, &pair.refresh_token).await,
        401,
        "UNAUTHORIZED",
    );
}

/// The cookies of a reply, by name: (value, attributes).
fn cookies(reply: &arc_tests::Reply) -> Vec<(String, String, String)> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| {
            let text = v.to_str().expect("ascii").to_owned();
            let (pair, attributes) = text.split_once(';').expect("attributes");
            let (name, value) = pair.split_once('=').expect("name=value");
            (name.to_owned(), value.to_owned(), attributes.to_owned())
        })
        .collect()
}

fn cookie<'a>(set: &'a [(String, String, String)], name: &str) -> &'a (String, String, String) {
    set.iter()
        .find(|(n, ..)| n == name)
        .unwrap_or_else(|| panic!("no {name} cookie in {set:?}"))
}

#[tokio::test]
async fn cookies_carry_the_tokens_and_unsafe_requests_echo_the_csrf_token() {
    let sessions = sessions().cookies(Cookies::new());
    let app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    let pair = sessions.issue(alice()).await.expect("login");
    let csrf = pair.csrf_token.clone().expect("a CSRF token with cookies");
    // The login answer sets them: the tokens HttpOnly, every one Secure and SameSite.
    let login = sessions.respond(&pair);
    assert_eq!(login.status(), 200);
    let set: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    assert_eq!(set.len(), 3, "{set:?}");
    let access = set
        .iter()
        .find(|c| c.starts_with("arc_access="))
        .expect("access");
    assert!(
        access.contains("HttpOnly") && access.contains("Secure"),
        "{access}"
    );
    assert!(
        access.contains("SameSite=Lax") && access.contains("Path=/;"),
        "{access}"
    );
    let refresh_cookie = set
        .iter()
        .find(|c| c.starts_with("arc_refresh="))
        .expect("refresh");
    assert!(refresh_cookie.contains("Path=/auth;"), "{refresh_cookie}");
    assert!(refresh_cookie.contains("HttpOnly") && refresh_cookie.contains("SameSite=Strict"));
    let csrf_cookie = set
        .iter()
        .find(|c| c.starts_with("arc_csrf="))
        .expect("csrf");
    assert!(
        !csrf_cookie.contains("HttpOnly"),
        "the page reads it: {csrf_cookie}"
    );

    let jar = format!("arc_access={}; arc_csrf={csrf}", pair.access_token);
    let with = |extra: &[(&'static str, String)]| {
        let mut headers = vec![("cookie", jar.clone())];
        headers.extend(extra.iter().cloned());
        headers
    };
    let send = |method: Method,
                uri: &'static str,
                body: Option<Value>,
                headers: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.send(method, uri, body, &headers).await
        }
    };
    // Reads need no CSRF token.
    assert_eq!(
        send(Method::GET, "/notes", None, with(&[])).await.status,
        200
    );
    // Writes do: none, a wrong one, the cookie's value without the token's are refused.
    let note = json!({ "title": "n", "owner_id": "alice" });
    for extra in [vec![], vec![("x-csrf-token", "wrong".to_owned())]] {
        let reply = send(Method::POST, "/notes", Some(note.clone()), with(&extra)).await;
        assert_error(&reply, 403, "CSRF_FAILED");
    }
    // A CSRF cookie an attacker planted does not match the token's claim.
    let planted = format!("arc_access={}; arc_csrf=planted", pair.access_token);
    let reply = send(
        Method::POST,
        "/notes",
        Some(note.clone()),
        vec![("cookie", planted), ("x-csrf-token", "planted".to_owned())],
    )
    .await;
    assert_error(&reply, 403, "CSRF_FAILED");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM notes").await,
        0,
        "nothing written"
    );
    let created = send(
        Method::POST,
        "/notes",
        Some(note.clone()),
        with(&[("x-csrf-token", csrf.clone())]),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    // The bearer header needs no CSRF token: a page of another site cannot set it.
    let bearer = send(
        Method::POST,
        "/notes",
        Some(note.clone()),
        vec![("authorization", bearer(&pair))],
    )
    .await;
    assert_eq!(bearer.status, 201, "{}", bearer.body);
    // A cookie sent twice (one planted by a sibling domain) counts as none.
    let twice = format!("arc_access={0}; arc_access={0}", pair.access_token);
    let reply = send(Method::GET, "/notes", None, vec![("cookie", twice)]).await;
    assert_error(&reply, 401, "UNAUTHORIZED");

    // The refresh takes its token from the cookie, and the CSRF cookie echoed.
    let refresh_jar = format!("arc_refresh={}; arc_csrf={csrf}", pair.refresh_token);
    let refused = send(
        Method::POST,
        "/auth/refresh",
        None,
        vec![("cookie", refresh_jar.clone())],
    )
    .await;
    assert_error(&refused, 403, "CSRF_FAILED");
    let refreshed = send(
        Method::POST,
        "/auth/refresh",
        None,
        vec![("cookie", refresh_jar), ("x-csrf-token", csrf.clone())],
    )
    .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refreshed.header("cache-control"), Some("no-store"));
    for token in ["accessToken", "refreshToken"] {
        assert!(
            refreshed.body.get(token).is_none(),
            "an HttpOnly cookie is not repeated where scripts read: {}",
            refreshed.body
        );
    }
    let set = cookies(&refreshed);
    let (_, access, _) = cookie(&set, "arc_access");
    let (_, next_csrf, _) = cookie(&set, "arc_csrf");
    assert_ne!(next_csrf, &csrf, "each access token has its own CSRF token");
    assert_eq!(refreshed.body["csrfToken"], next_csrf.as_str());
    // Logout by cookie: without the CSRF token, refused (and nothing ends); with it, it
    // clears the cookies.
    let jar = format!("arc_access={access}; arc_csrf={next_csrf}");
    let forged = send(
        Method::POST,
        "/auth/logout",
        Some(json!({})),
        vec![("cookie", jar.clone())],
    )
    .await;
    assert_error(&forged, 403, "CSRF_FAILED");
    let still = send(Method::GET, "/notes", None, vec![("cookie", jar.clone())]).await;
    assert_eq!(still.status, 200, "{}", still.body);
    let out = send(
        Method::POST,
        "/auth/logout",
        Some(json!({})),
        vec![("cookie", jar.clone()), ("x-csrf-token", next_csrf.clone())],
    )
    .await;
    assert_eq!(out.status, 200, "{}", out.body);
    for (name, value, attributes) in cookies(&out) {
        assert!(
            value.is_empty() && attributes.contains("Max-Age=0"),
            "{name}"
        );
    }
    let after = send(Method::GET, "/notes", None, vec![("cookie", jar)]).await;
    assert_error(&after, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_websocket_by_cookie_opens_from_the_apps_own_pages_only() {
    let sessions = sessions().cookies(Cookies::new().allow_origin("https://app.example.com/"));
    let app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    let pair = sessions.issue(alice()).await.expect("login");
    let jar = format!("arc_access={}", pair.access_token);
    let upgrade = |origin: Option<&'static str>| {
        let mut headers = vec![
            ("cookie", jar.as_str()),
            ("host", "api.example.com"),
            ("upgrade", "websocket"),
            ("connection", "upgrade"),
        ];
        headers.extend(origin.map(|o| ("origin", o)));
        let app = &app;
        async move { app.send(Method::GET, "/notes", None, &headers).await }
    };
    // A WebSocket has no CSRF header and no CORS: another site's page, a sibling
    // subdomain, or no Origin at all is refused before any route runs.
    for origin in [
        Some("https://evil.example"),
        Some("https://api.example.com.evil.example"),
        Some("https://other.example.com"),
        Some("null"),
        None,
    ] {
        assert_error(&upgrade(origin).await, 403, "CSRF_FAILED");
    }
    // The app's own origin and the allowed one go on (this route is no WebSocket, so it
    // answers as a read).
    for origin in ["https://api.example.com", "https://APP.example.com"] {
        let reply = upgrade(Some(origin)).await;
        assert_eq!(reply.status, 200, "{origin}: {}", reply.body);
    }
    // The bearer header is no credential a page of another site can send.
    let bearer = app
        .send(
            Method::GET,
            "/notes",
            None,
            &[
                ("authorization", &bearer(&pair)),
                ("upgrade", "websocket"),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(bearer.status, 200, "{}", bearer.body);
}

#[tokio::test]
async fn the_document_describes_the_session_routes() {
    let sessions = sessions();
    let bearer_app = TestApp::sqlite_with(|db| app(db, sessions.clone(), None)).await;
    let document = bearer_app.get("/_docs/openapi.json").await.body;
    let refresh = &document["paths"]["/auth/refresh"]["post"];
    assert_eq!(refresh["operationId"], "refresh_session");
    assert!(refresh["responses"]["401"].is_object(), "{refresh}");
    assert!(refresh.get("security").is_none(), "{refresh}");
    let logout = &document["paths"]["/auth/logout"]["post"];
    assert_eq!(logout["operationId"], "logout");
    assert_eq!(logout["security"], json!([{ "bearerAuth": [] }]));
    assert!(document["components"]["securitySchemes"]["cookieAuth"].is_null());
    // With cookies: the cookie is a way in, and the answers carry no token.
    let cookie_app =
        TestApp::sqlite_with(|db| app(db, sessions.clone().cookies(Cookies::new()), None)).await;
    let document = cookie_app.get("/_docs/openapi.json").await.body;
    assert_eq!(
        document["components"]["securitySchemes"]["cookieAuth"]["name"],
        "arc_access"
    );
    let logout = &document["paths"]["/auth/logout"]["post"];
    assert_eq!(
        logout["security"],
        json!([{ "bearerAuth": [] }, { "cookieAuth": [] }])
    );
    // Sessions without authentication cannot log anyone out: the app names the problem.
    let problems = arc_runtime::App::new(DatabaseConnection::default())
        .sessions(sessions.clone())
        .problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("sessions need authentication")),
        "{problems:?}"
    );
    // Several instances with sessions in memory: named too.
    let problems = arc_runtime::App::new(DatabaseConnection::default())
        .auth(Auth::new())
        .sessions(sessions)
        .distributed()
        .problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("sessions (Sessions::store)")),
        "{problems:?}"
    );
}
