//! The files `arc new` and `arc generate resource` write. `{{name}}` is the project's
//! name, `{{crate}}` its crate name, `{{runtime}}` the path of arc-runtime, `{{test_kit}}`
//! that of arc-test; in a resource,
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
arc-test = { path = "{{test_kit}}" }
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

/// `tests/api.rs`, on arc-rs's test kit: every resource passes its smoke test, lists,
/// creates and reads, and is documented; the note's rules hold.
pub const API_TEST: &str = r#"//! The API of {{name}}, in process, with arc-rs's test kit (`arc-test`): every resource
//! (the generated ones too) answers each route as its OpenAPI document says, for anonymous
//! callers, signed-in users and admins; lists, creates and reads; the note's rules hold.
//! Every answer is checked against the document.

use arc_test::{Persona, TestApp, Tokens, body_of, smoke_of};
use serde_json::json;

const SECRET: &[u8] = {{crate}}::DEV_JWT_SECRET.as_bytes();

async fn app() -> TestApp {
    TestApp::new(|db| {{crate}}::app(db, SECRET, arc_runtime::Preset::Testing).expect("the app")).await
}

#[tokio::test]
async fn every_resource_passes_its_smoke_test_and_round_trips() {
    let app = app().await;
    let tokens = Tokens::hs256(SECRET);
    let (anonymous, writer) = (Persona::anonymous(), tokens.persona("tester").build());
    let admin = tokens.persona("root").roles(&["admin"]).build();
    for meta in app.resources().to_vec() {
        let list = app.get(meta.path).await;
        list.assert_ok();
        assert_eq!(list.body["total"], 0, "{}", meta.path);
        app.post(meta.path, body_of(meta, 1))
            .as_(&anonymous)
            .await
            .assert_error(401, "UNAUTHORIZED");
        let created = app.post(meta.path, body_of(meta, 2)).as_(&writer).await;
        created.assert_status(201);
        app.get(&format!("{}/{}", meta.path, created.id())).await.assert_ok();
        app.post(meta.path, json!({ "nope": 1 })).as_(&writer).await.assert_status(400);
        smoke_of(&app, meta, &[&anonymous, &writer, &admin]).await;
    }
}

#[tokio::test]
async fn notes_follow_their_rules() {
    let app = app().await;
    let tokens = Tokens::hs256(SECRET);
    let (user, admin) = (tokens.persona("tester").build(), tokens.persona("root").roles(&["admin"]).build());
    let created = app.post("/notes", json!({ "title": "First" })).as_(&user).await;
    created.assert_status(201);
    assert_eq!(created.data()["done"], false);
    for (query, total) in [("title[like]=fir", 1), ("title[like]=sec", 0)] {
        let found = app.get(&format!("/notes?{query}")).await;
        found.assert_ok();
        assert_eq!(found.body["total"], total, "{query}");
    }
    let note = format!("/notes/{}", created.id());
    app.delete(&note).as_(&user).await.assert_error(403, "FORBIDDEN");
    app.delete(&note).as_(&admin).await.assert_ok();
    app.get(&note).await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn the_document_covers_every_resource() {
    let app = app().await;
    let doc = app.document();
    assert_eq!(doc["openapi"], "3.1.0");
    for meta in app.resources() {
        assert!(doc["paths"][meta.path]["get"].is_object(), "{} is documented", meta.path);
    }
}
"#;
