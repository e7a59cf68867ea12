//! The harness of the black-box tests: the shop (or another app) on a fresh database
//! (SQLite in memory, or PostgreSQL in a schema of its own), driven in-process through its
//! router.

#![allow(
    missing_docs,
    reason = "test fixtures: the resources' fields and the helpers are named for what they are"
)]

pub use arc_test::contract;
pub mod dossiers;
pub mod events;
pub mod evolving;
pub mod gadget;
pub mod ledger;
pub mod live;
pub mod memos;
pub mod notes;
pub mod parcels;
pub mod proxy;
pub mod rulebook;
pub mod sse;
pub mod teams;
pub mod tickets;
pub mod trails;
pub mod ws;

use arc_runtime::sea_orm::{ConnectionTrait, DatabaseConnection};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// The value of `var`, which a test that needs a service or a tool reads; a panic naming it
/// when unset. Such tests are `#[ignore = "needs .."]`: a plain `cargo test` lists them as
/// ignored, and `-- --include-ignored` (what `.ci/run` runs) runs them, where a missing
/// service is a failure, never a skip.
pub fn required_env(var: &str, what: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is unset: this test needs {what} (`.ci/run` sets it up; see the README)")
    })
}

/// The Redis server of the tests (`ARC_TEST_REDIS_URL`, see [`required_env`]) under a key
/// prefix of its own, so tests share the server without seeing each other's keys.
pub fn test_redis() -> arc_stores::Redis {
    let url = required_env("ARC_TEST_REDIS_URL", "Redis");
    let prefix = format!("arc-test:{}:", arc_runtime::uuid::Uuid::new_v4().simple());
    arc_stores::Redis::new(&url, prefix).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Builds the app under test over a database.
pub type MakeApp = fn(DatabaseConnection) -> arc_runtime::App;

/// The shop, authenticating tokens signed with its development secret.
pub fn shop_app(db: DatabaseConnection) -> arc_runtime::App {
    shop::app(db, shop::DEV_JWT_SECRET.as_bytes()).expect("the development secret is valid")
}

/// `Bearer <token>` for the shop: `user` active in `org` with `org_roles` there.
pub fn shop_token(user: &str, org: &str, org_roles: &[&str]) -> String {
    let ttl = std::time::Duration::from_secs(600);
    let token = shop::demo_token(
        shop::DEV_JWT_SECRET.as_bytes(),
        user,
        &[],
        Some(org),
        org_roles,
        ttl,
    )
    .expect("token");
    format!("Bearer {token}")
}

/// `Bearer <token>` for `root`, a platform admin (claim `roles`), in no organization: the
/// one who may change what every organization shares (the shop's categories).
pub fn platform_admin() -> String {
    let ttl = std::time::Duration::from_secs(600);
    let token = shop::demo_token(
        shop::DEV_JWT_SECRET.as_bytes(),
        "root",
        &["admin"],
        None,
        &[],
        ttl,
    )
    .expect("token");
    format!("Bearer {token}")
}

/// Who the shop's tests are by default: `ada`, admin of `acme`.
pub fn acme_admin() -> String {
    shop_token("ada", "acme", &["admin"])
}

/// An app under test.
pub struct TestApp {
    pub router: Router,
    pub db: DatabaseConnection,
    pub backend: &'static str,
    /// Headers sent with every request unless the request names them itself (an empty value
    /// then leaves the header out). The shop's tests send `authorization` as [`acme_admin`].
    pub default_headers: Vec<(String, String)>,
    /// The app's OpenAPI document: every answer is checked against it ([`contract`]).
    pub contract: Option<contract::Contract>,
    schema: Option<(String, DatabaseConnection)>,
    /// The SQLite file of [`TestApp::sqlite_file_with`].
    file: Option<std::path::PathBuf>,
}

impl Drop for TestApp {
    /// Removes the app's SQLite file, if it has one (an open connection keeps reading it).
    fn drop(&mut self) {
        if let Some(path) = self.file.take() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

/// A response: status, headers, JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `docs` or `data` array's values of `field`.
    pub fn column(&self, field: &str) -> Vec<Value> {
        let rows = self
            .body
            .get("docs")
            .or_else(|| self.body.get("data"))
            .and_then(Value::as_array);
        rows.map(|r| r.iter().map(|d| d[field].clone()).collect())
            .unwrap_or_default()
    }

    /// The `id` of the row in `data`; a panic showing the body when there is none.
    #[track_caller]
    pub fn id(&self) -> String {
        self.body["data"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.body))
            .to_owned()
    }
}

/// A database the tests run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in memory.
    Sqlite,
    /// PostgreSQL (`ARC_TEST_DATABASE_URL`), in a schema of the test's own.
    Postgres,
}

impl Backend {
    /// The app `make` builds, on this database, migrated (and seeded, when it is the shop).
    pub async fn app(self, make: impl FnOnce(DatabaseConnection) -> arc_runtime::App) -> TestApp {
        match self {
            Backend::Sqlite => TestApp::sqlite_with(make).await,
            Backend::Postgres => TestApp::postgres_with(make).await,
        }
    }
}

impl TestApp {
    /// The shop on a fresh in-memory SQLite database, seeded.
    pub async fn sqlite() -> TestApp {
        Self::sqlite_with(shop_app).await
    }

    /// The shop on PostgreSQL (`ARC_TEST_DATABASE_URL`) in a new schema, seeded; a panic
    /// when the variable is unset (tests that call it are `#[ignore = "needs PostgreSQL"]`).
    pub async fn postgres() -> TestApp {
        Self::postgres_with(shop_app).await
    }

    /// The app `make` builds, on a fresh SQLite database in a file of its own, as an app is
    /// deployed (its reads inline on connections of their own, its writes on the writer).
    pub async fn sqlite_with(make: impl FnOnce(DatabaseConnection) -> arc_runtime::App) -> TestApp {
        Self::sqlite_file_with(make).await
    }

    /// The app `make` builds, on a fresh in-memory SQLite database (one connection).
    pub async fn sqlite_memory_with(
        make: impl FnOnce(DatabaseConnection) -> arc_runtime::App,
    ) -> TestApp {
        let db = arc_runtime::connect("sqlite::memory:")
            .await
            .expect("sqlite");
        Self::build(db, "sqlite", None, make).await
    }

    /// The app `make` builds, on a fresh SQLite database in a file of its own (a pool of
    /// several connections, where `sqlite::memory:` has one: a request can wait inside its
    /// transaction while others go on). The file is removed when the app is dropped.
    pub async fn sqlite_file_with(
        make: impl FnOnce(DatabaseConnection) -> arc_runtime::App,
    ) -> TestApp {
        let path = std::env::temp_dir().join(format!(
            "arc-test-{}.db",
            arc_runtime::uuid::Uuid::new_v4().simple()
        ));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = arc_runtime::connect(&url).await.expect("sqlite file");
        let mut app = Self::build(db, "sqlite", None, make).await;
        app.file = Some(path);
        app
    }

    /// Like [`TestApp::sqlite_file_with`], on a pool whose connections never wait for a lock
    /// (a busy timeout of 0, where [`arc_runtime::connect`] waits up to 5 s): two writes that
    /// meet in SQLite fail with `SQLITE_BUSY` instead of sleeping in its busy handler, so a
    /// test sees every collision.
    pub async fn sqlite_file_unwaiting_with(
        make: impl FnOnce(DatabaseConnection) -> arc_runtime::App,
    ) -> TestApp {
        use arc_runtime::sea_orm::sqlx::sqlite::{
            SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
        };
        let path = std::env::temp_dir().join(format!(
            "arc-test-{}.db",
            arc_runtime::uuid::Uuid::new_v4().simple()
        ));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::ZERO);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("sqlite file");
        let db = arc_runtime::sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        let mut app = Self::build(db, "sqlite", None, make).await;
        app.file = Some(path);
        app
    }

    /// The size in bytes of the SQLite file's write-ahead log (`<file>-wal`), 0 when there is
    /// none; `None` when the app is not on a SQLite file.
    pub fn wal_bytes(&self) -> Option<u64> {
        let path = self.file.as_ref()?;
        let wal = format!("{}-wal", path.display());
        Some(std::fs::metadata(wal).map_or(0, |m| m.len()))
    }

    /// The app `make` builds, on PostgreSQL in a new schema (see [`TestApp::postgres`]).
    pub async fn postgres_with(
        make: impl FnOnce(DatabaseConnection) -> arc_runtime::App,
    ) -> TestApp {
        let url = required_env("ARC_TEST_DATABASE_URL", "PostgreSQL");
        let admin = arc_runtime::connect(&url).await.expect("postgres");
        let schema = format!("arc_t_{}", arc_runtime::uuid::Uuid::new_v4().simple());
        admin
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create schema");
        let db = arc_runtime::connect_with(&url, Some(&schema))
            .await
            .expect("postgres schema");
        Self::build(db, "postgres", Some((schema, admin)), make).await
    }

    /// Migrates the app `make` builds; seeds the shop's demo data when it is the shop.
    async fn build(
        db: DatabaseConnection,
        backend: &'static str,
        schema: Option<(String, DatabaseConnection)>,
        make: impl FnOnce(DatabaseConnection) -> arc_runtime::App,
    ) -> TestApp {
        let app = make(db.clone())
            .cursor_secret(b"test secret")
            .body_limit(64 * 1024);
        app.migrate().await.expect("migrate");
        let mut default_headers = Vec::new();
        if app.resources().iter().any(|r| r.name == "category") {
            shop::seed::seed(&db).await.expect("seed");
            default_headers.push(("authorization".to_owned(), acme_admin()));
        }
        let contract = app.openapi().ok().map(contract::Contract::new);
        TestApp {
            contract,
            router: app.into_router(),
            db,
            backend,
            default_headers,
            schema,
            file: None,
        }
    }

    /// Another instance of an app over this one's database (migrated and seeded already), as
    /// a second process behind the same load balancer would be.
    #[must_use]
    pub fn instance(&self, make: impl FnOnce(DatabaseConnection) -> arc_runtime::App) -> TestApp {
        let app = make(self.db.clone())
            .cursor_secret(b"test secret")
            .body_limit(64 * 1024);
        TestApp {
            contract: app.openapi().ok().map(contract::Contract::new),
            router: app.into_router(),
            db: self.db.clone(),
            backend: self.backend,
            default_headers: self.default_headers.clone(),
            schema: None,
            file: None,
        }
    }

    /// Drops the PostgreSQL schema (the SQLite file goes when the app is dropped).
    pub async fn cleanup(mut self) {
        if self.file.is_some() {
            self.db.close_by_ref().await.ok();
        }
        if let Some((schema, admin)) = self.schema.take() {
            self.db.close_by_ref().await.ok();
            admin
                .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                .await
                .ok();
        }
    }

    /// The number in the first column of the first row `sql` answers (`SELECT COUNT(*) ..`),
    /// asked of the app's database directly.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let db = &self.db;
        let statement =
            arc_runtime::sea_orm::Statement::from_string(db.get_database_backend(), sql);
        let row = db
            .query_one_raw(statement)
            .await
            .expect("query")
            .expect("a row");
        row.try_get_by_index::<i64>(0).expect("a number")
    }

    /// Sends a request with optional JSON body and extra headers (see `default_headers`).
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(encode_uri(uri));
        let defaults = self
            .default_headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .filter(|(k, _)| !headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)));
        for (k, v) in defaults.chain(headers.iter().copied()) {
            if !v.is_empty() {
                req = req.header(k, v);
            }
        }
        let body = match body {
            Some(json) => {
                req = req.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.dispatch(req.body(body).expect("request")).await
    }

    /// Sends a ready request, with the default headers it does not carry itself.
    pub async fn raw(&self, mut req: Request<Body>) -> Reply {
        for (k, v) in &self.default_headers {
            if !req.headers().contains_key(k.as_str()) {
                let name = axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name");
                req.headers_mut().insert(name, v.parse().expect("value"));
            }
        }
        self.dispatch(req).await
    }

    async fn dispatch(&self, req: Request<Body>) -> Reply {
        let (method, uri) = (req.method().clone(), req.uri().to_string());
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let parsed: Option<Value> = json.then(|| serde_json::from_slice(&bytes).ok()).flatten();
        if let Some(contract) = &self.contract
            && let Some(problem) = contract.check(&method, &uri, status, parsed.as_ref())
        {
            panic!(
                "{}: the answer breaks the document: {problem}",
                self.backend
            );
        }
        let body = parsed.unwrap_or_else(|| serde_json::from_slice(&bytes).unwrap_or(Value::Null));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, &[]).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, Some(body), &[]).await
    }

    pub async fn patch(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PATCH, uri, Some(body), &[]).await
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.send(Method::DELETE, uri, None, &[]).await
    }

    /// Requests of the caller whose bearer token is `token`.
    pub fn as_<'a>(&'a self, token: &'a str) -> Caller<'a> {
        Caller { app: self, token }
    }
}

/// Requests of one caller ([`TestApp::as_`]): their bearer token on each.
pub struct Caller<'a> {
    app: &'a TestApp,
    token: &'a str,
}

impl Caller<'_> {
    pub async fn send(&self, method: Method, uri: &str, body: Option<Value>) -> Reply {
        let auth = [("authorization", self.token)];
        self.app.send(method, uri, body, &auth).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None).await
    }

    pub async fn post(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, Some(body)).await
    }

    pub async fn patch(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::PATCH, uri, Some(body)).await
    }

    pub async fn delete(&self, uri: &str) -> Reply {
        self.send(Method::DELETE, uri, None).await
    }

    pub async fn delete_with(&self, uri: &str, body: Value) -> Reply {
        self.send(Method::DELETE, uri, Some(body)).await
    }
}

/// Percent-encodes the characters a test writes literally but a URI cannot hold.
pub fn encode_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    for ch in uri.chars() {
        match ch {
            ' ' | '^' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '\\' => {
                out.push_str(&format!("%{:02X}", ch as u32))
            }
            _ => out.push(ch),
        }
    }
    out
}

/// Asserts the contract's error envelope with `status` and `code`.
#[track_caller]
pub fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "status; body: {}",
        reply.body
    );
    assert_eq!(reply.body["success"], false, "{}", reply.body);
    assert_eq!(reply.body["code"], code, "{}", reply.body);
    assert!(
        reply.body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{}",
        reply.body
    );
    assert!(reply.body["timestamp"].is_string(), "{}", reply.body);
    assert!(reply.body["requestId"].is_string(), "{}", reply.body);
}

/// Defines `sqlite::<name>` and `postgres::<name>` tests running `name(&TestApp)` on the
/// shop, or on the app of `make` with `on_both!(make => name, ..)`. The PostgreSQL ones are
/// `#[ignore = "needs PostgreSQL"]` (run with `-- --include-ignored`).
#[macro_export]
macro_rules! on_both {
    ($make:path => $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let app = $crate::TestApp::sqlite_with($make).await;
                    super::$name(&app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL"]
                async fn $name() {
                    let app = $crate::TestApp::postgres_with($make).await;
                    super::$name(&app).await;
                    app.cleanup().await;
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both!($crate::shop_app => $($name),*);
    };
}

/// Defines `sqlite::<name>` and `postgres::<name>` tests running `name(Backend)`, for tests
/// that build their app themselves (with [`Backend::app`]), unlike [`on_both!`]'s. The
/// PostgreSQL ones are `#[ignore = "needs PostgreSQL"]` (run with `-- --include-ignored`).
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[ignore = "needs PostgreSQL"]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// How many cases each fuzz test runs: `ARC_FUZZ_CASES` when set (a long run by command,
/// e.g. `ARC_FUZZ_CASES=100000 cargo test -p arc-tests --test suite --release fuzz::`),
/// else `default` (the short run inside `cargo test`).
pub fn fuzz_cases(default: u32) -> u32 {
    cases_from("ARC_FUZZ_CASES", default)
}

/// How many cases a property test over whole requests runs: `ARC_PROPTEST_CASES` when set
/// (a longer run by command), else `default` (the short run inside `cargo test`).
pub fn proptest_cases(default: u32) -> u32 {
    cases_from("ARC_PROPTEST_CASES", default)
}

fn cases_from(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// A property test's runner of `cases` cases, which keeps no file of past failures (each run
/// stands alone; a failure prints its minimal case).
pub fn proptest_runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })
}
