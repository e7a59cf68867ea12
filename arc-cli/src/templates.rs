//! The files `arc new` and `arc generate resource` write. `{{name}}` is the project's
//! name, `{{crate}}` its crate name, `{{runtime}}` the path of arc-runtime; in a resource,
//! `{{Type}}`, `{{name}}`, `{{query}}` and `{{fields}}`.

/// The line of `src/lib.rs` after which `arc generate resource` mounts a resource.
pub const MOUNT_MARKER: &str = "// arc: resources";

/// `Cargo.toml`.
pub const CARGO_TOML: &str = r#"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
arc-runtime = { path = "{{runtime}}" }
tokio = { version = "1", features = ["rt-multi-thread", "macros", "net", "signal", "time", "sync"] }

[dev-dependencies]
axum = { version = "0.8", default-features = false, features = ["http1", "json", "query", "tokio", "original-uri", "matched-path"] }
tower = { version = "0.5", features = ["util"] }
http-body-util = "0.1"
serde_json = "1"

# Dependencies without debug info: tests link faster and rebuild less.
[profile.dev.package."*"]
debug = false

# A workspace of its own, wherever it is created.
[workspace]
"#;

/// `.gitignore`.
pub const GITIGNORE: &str = "/target\n*.db\n*.db-shm\n*.db-wal\n";

/// `README.md`.
pub const README: &str = r#"# {{name}}

An [arc-rs](https://example.invalid/arc-rs) app: resources are plain structs with
`#[resource]` and `#[permissions]`; arc-rs makes their REST routes, query grammar,
OpenAPI document and migrations.

```sh
cargo run                      # http://127.0.0.1:3000 on SQLite ({{name}}.db), migrated on start
cargo test                     # the API tests in tests/api.rs
```

Then open http://127.0.0.1:3000/_docs. Writes need a bearer token signed with
`ARC_JWT_SECRET` (a development secret is used when it is unset; production refuses to start
without it).

The app's command line: `cargo run -- routes`, `openapi`, `describe`,
`migrate up|down|status|fresh`, `doctor`.

Add a resource:

```sh
arc generate resource book title:string pages:i32 published:bool released_at:datetime?
```

writes `src/resources/book.rs`, declares it in `src/resources/mod.rs` and mounts it in
`src/lib.rs`; `cargo test` then covers it too.
"#;

/// `src/main.rs`.
pub const MAIN_RS: &str = r#"//! `cargo run`: serves {{name}}; `cargo run -- --help` lists the other commands.

use arc_runtime::App;
use arc_runtime::{Cli, CliError as Error, Setup};
use arc_runtime::Preset;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    Cli::new("{{name}}", build)
        .database("sqlite://{{name}}.db?mode=rwc")
        .run()
        .await
}

/// The app as the environment configures it (`ARC_ENV`, `ARC_JWT_SECRET`,
/// `ARC_CURSOR_SECRET`, `DATABASE_URL`).
async fn build(setup: Setup) -> Result<App, Error> {
    let production = matches!(setup.preset, Preset::Production | Preset::Edge);
    let secret = match std::env::var("ARC_JWT_SECRET") {
        Ok(secret) => secret.into_bytes(),
        Err(_) if production && setup.serving => {
            return Err("ARC_JWT_SECRET is required in production".into());
        }
        Err(_) => {{crate}}::DEV_JWT_SECRET.as_bytes().to_vec(),
    };
    let mut app = {{crate}}::app(setup.db, &secret, setup.preset)?;
    if let Ok(secret) = std::env::var("ARC_CURSOR_SECRET") {
        app = app.cursor_secret(secret.as_bytes());
    }
    Ok(app)
}
"#;

/// `src/lib.rs`.
pub const LIB_RS: &str = r#"//! {{name}}: the app and its resources.

pub mod resources;

use arc_runtime::App;
use arc_runtime::config::JwtConfigError;
use arc_runtime::config::{Auth, JwtAuthenticator, JwtKeys};
use arc_runtime::Preset;
use arc_runtime::sea_orm::DatabaseConnection;

/// The HS256 secret used when `ARC_JWT_SECRET` is unset outside production. Public: never
/// for production.
pub const DEV_JWT_SECRET: &str = "{{name}} development secret, never for production use";

/// The app over `db` under `preset`, authenticating bearer tokens signed with `jwt_secret`
/// (32 bytes or more) by the preset's token rules (in production: a `jti`, a day at most).
pub fn app(
    db: DatabaseConnection,
    jwt_secret: &[u8],
    preset: Preset,
) -> Result<App, JwtConfigError> {
    let jwt = JwtAuthenticator::new(JwtKeys::hs256(jwt_secret)?).preset(preset);
    Ok(App::new(db)
        .info("{{name}}", env!("CARGO_PKG_VERSION"))
        .preset(preset)
        .auth(Auth::new().with(jwt))
        // arc: resources
        .resource::<resources::Note>())
}
"#;

/// `src/resources/mod.rs`.
pub const RESOURCES_MOD: &str = r#"//! The app's resources, one file each (`arc generate resource` adds more).

pub mod note;
pub use note::Note;
"#;

/// `src/resources/note.rs`: the example resource.
pub const NOTE_RS: &str = r#"//! A note: the example resource `arc new` starts with.

use arc_runtime::prelude::*;

/// A note anyone can read; signed-in users write them, admins delete them.
#[resource(query(filter = [title, done, created_at], sort = [title, created_at], search = [title]))]
#[permissions(
    list = public,
    get = public,
    create = authenticated,
    update = authenticated,
    delete = roles("admin"),
)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    #[field(min_len = 1, max_len = 200)]
    pub title: String,
    #[field(max_len = 10000)]
    pub body: Option<String>,
    #[field(default)]
    pub done: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
"#;

/// A resource `arc generate resource` writes.
pub const RESOURCE_RS: &str = r#"//! The `{{name}}` resource.

use arc_runtime::prelude::*;

/// A {{name}}: anyone reads, signed-in users write, admins delete.
#[resource(query(
    {{query}},
))]
#[permissions(
    list = public,
    get = public,
    create = authenticated,
    update = authenticated,
    delete = roles("admin"),
)]
pub struct {{Type}} {
    #[field(id)]
    pub id: Uuid,
{{fields}}    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
"#;

/// `tests/api.rs`: every resource is listed, created, read and documented; the note's
/// rules hold.
pub const API_TEST: &str = r#"//! The API of {{name}}, in process: every resource (the generated ones too) lists, creates
//! and reads; writes need a token; the OpenAPI document covers every resource.

use std::time::Duration;

use arc_runtime::config::{JwtSigner, TokenClaims};
use arc_runtime::meta::{FieldType, ResourceMeta};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn app() -> arc_runtime::App {
    let db = arc_runtime::connect("sqlite::memory:").await.unwrap();
    let secret = {{crate}}::DEV_JWT_SECRET.as_bytes();
    let app = {{crate}}::app(db, secret, arc_runtime::Preset::Testing).unwrap();
    app.migrate().await.unwrap();
    app
}

fn token(roles: &[&str]) -> String {
    let signer = JwtSigner::hs256({{crate}}::DEV_JWT_SECRET.as_bytes()).unwrap();
    let claims = TokenClaims::new("tester", Duration::from_secs(600)).roles(roles);
    format!("Bearer {}", signer.sign(&claims).unwrap())
}

async fn call(router: &axum::Router, method: &str, uri: &str, body: Option<Value>, auth: Option<&str>) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A body with a valid value for every field a create needs.
fn sample(meta: &ResourceMeta) -> Value {
    let mut body = serde_json::Map::new();
    for field in meta.fields.iter().filter(|f| !f.system && !f.has_default) {
        let min = field.rules.min.unwrap_or(1.0).max(1.0);
        let value = match field.ty {
            FieldType::String => json!("sample"),
            FieldType::I32 | FieldType::I64 => json!(min as i64),
            FieldType::F64 => json!(min),
            FieldType::Bool => json!(true),
            FieldType::Uuid => json!("7f8a2c3e-0000-4000-8000-000000000001"),
            FieldType::DateTime => json!("2026-01-01T00:00:00Z"),
            FieldType::Decimal => json!("1.5"),
            FieldType::Json => json!({"any": "value"}),
            FieldType::Enum(values) => json!(values[0]),
        };
        body.insert(field.name.to_owned(), value);
    }
    Value::Object(body)
}

#[tokio::test]
async fn every_resource_lists_creates_and_reads() {
    let app = app().await;
    let metas = app.resources();
    let router = app.into_router();
    let writer = token(&[]);
    for meta in metas {
        let (status, list) = call(&router, "GET", meta.path, None, None).await;
        assert_eq!(status, 200, "{}: {list}", meta.path);
        assert_eq!(list["total"], 0);
        let (status, _) = call(&router, "POST", meta.path, Some(sample(meta)), None).await;
        assert_eq!(status, 401, "{}: writes need a token", meta.path);
        let (status, created) = call(&router, "POST", meta.path, Some(sample(meta)), Some(&writer)).await;
        assert_eq!(status, 201, "{}: {created}", meta.path);
        let id = created["data"]["id"].as_str().unwrap().to_owned();
        let (status, got) = call(&router, "GET", &format!("{}/{id}", meta.path), None, None).await;
        assert_eq!(status, 200, "{}: {got}", meta.path);
        let (status, _) = call(&router, "POST", meta.path, Some(json!({"nope": 1})), Some(&writer)).await;
        assert_eq!(status, 400, "{}: unknown fields are refused", meta.path);
    }
}

#[tokio::test]
async fn notes_follow_their_rules() {
    let router = app().await.into_router();
    let (status, created) = call(&router, "POST", "/notes", Some(json!({"title": "First"})), Some(&token(&[]))).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["done"], false);
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) = call(&router, "DELETE", &format!("/notes/{id}"), None, Some(&token(&[]))).await;
    assert_eq!(status, 403, "only admins delete");
    let (status, _) = call(&router, "DELETE", &format!("/notes/{id}"), None, Some(&token(&["admin"]))).await;
    assert_eq!(status, 200);
    let (status, found) = call(&router, "GET", "/notes?title[like]=fir", None, None).await;
    assert_eq!((status, found["total"].clone()), (200, json!(0)));
}

#[tokio::test]
async fn the_document_covers_every_resource() {
    let app = app().await;
    let doc = app.openapi().unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for meta in app.resources() {
        assert!(doc["paths"][meta.path]["get"].is_object(), "{} is documented", meta.path);
    }
}
"#;
