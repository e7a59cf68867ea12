//! The shop's command line, run as a process: `routes`, `openapi`, `describe`, `token`,
//! `migrate up|down|status|fresh`, `doctor`, and `serve` applying migrations in development
//! and refusing pending ones in production.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A scratch directory with its own SQLite database.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("shop-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn shop(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_shop"));
        command
            .args(args)
            .current_dir(&self.0)
            .env_remove("ARC_ENV")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("ARC_JWT_SECRET")
            .env_remove("ARC_CURSOR_SECRET")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("RUST_LOG", "warn");
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("run shop")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn describing_commands_need_no_database() {
    let dir = Scratch::new("describe");
    let routes = dir.shop(&["routes"], &[]);
    assert!(routes.status.success(), "{}", stderr(&routes));
    let table = stdout(&routes);
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("METHOD") && header.contains("PERMISSION"),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("POST")
            && l.contains("/products/{id}/restore")
            && l.contains("roles(admin)")
            && l.ends_with("soft_delete")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("/_resources") && l.contains("admin"))
    );

    let openapi = dir.shop(&["openapi"], &[]);
    assert!(openapi.status.success(), "{}", stderr(&openapi));
    let doc: serde_json::Value = serde_json::from_slice(&openapi.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/orders/{id}"]["patch"].is_object());

    let describe = dir.shop(&["describe"], &[]);
    let described: serde_json::Value = serde_json::from_slice(&describe.stdout).unwrap();
    assert_eq!(described["$schema"], "arc-describe/v1");
    assert_eq!(described["resources"].as_array().unwrap().len(), 3);

    assert!(
        std::fs::read_dir(&dir.0).unwrap().next().is_none(),
        "no database file was made"
    );
    let token = dir.shop(
        &[
            "token",
            "--user",
            "ada",
            "--org",
            "acme",
            "--org-roles",
            "admin",
        ],
        &[],
    );
    assert!(token.status.success(), "{}", stderr(&token));
    assert_eq!(stdout(&token).trim().split('.').count(), 3, "a JWT");
    // Production refuses tokens living longer than a day: the command does not mint them.
    let secret = ("ARC_JWT_SECRET", "a production secret of at least 32 bytes");
    let production = [("ARC_ENV", "production"), secret];
    let day = dir.shop(&["token", "--user", "ada"], &production);
    assert!(day.status.success(), "{}", stderr(&day));
    let long = dir.shop(&["token", "--user", "ada", "--hours", "48"], &production);
    assert!(!long.status.success());
    assert!(
        stderr(&long).contains("longer than 24 hours"),
        "{}",
        stderr(&long)
    );
    let bad = dir.shop(&["nonsense"], &[]);
    assert_eq!(bad.status.code(), Some(2), "clap's usage error");
}

#[test]
fn migrations_and_doctor() {
    let dir = Scratch::new("migrate");
    let status = dir.shop(&["migrate", "status"], &[]);
    assert!(status.status.success(), "{}", stderr(&status));
    assert_eq!(
        stdout(&status),
        "pending m_arc_create_categories\npending m_arc_unique_per_scope_categories\n\
         pending m_arc_create_products\npending m_arc_unique_per_scope_products\n\
         pending m_arc_create_orders\npending m_arc_create_event_tables\n\
         pending m_arc_create_audit_table\n"
    );
    let doctor = dir.shop(&["doctor"], &[]);
    assert_eq!(doctor.status.code(), Some(1), "{}", stdout(&doctor));
    assert!(
        stdout(&doctor).contains("FAIL the database is behind the app"),
        "{}",
        stdout(&doctor)
    );
    let plan = dir.shop(&["migrate", "plan"], &[]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(
        stdout(&plan).starts_with("pending  migration m_arc_create_categories\n"),
        "{}",
        stdout(&plan)
    );
    assert!(
        stdout(&doctor).contains("shop migrate up"),
        "says how to fix it"
    );

    let up = dir.shop(&["migrate", "up"], &[]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert_eq!(stdout(&up), "applied 7 migration(s)\n");
    let doctor = dir.shop(&["doctor"], &[]);
    assert!(doctor.status.success(), "{}", stdout(&doctor));
    assert!(stdout(&doctor).contains("no problems found"));
    // The document is served when first asked for: the doctor makes it now.
    assert!(
        stdout(&doctor).contains("ok   the OpenAPI document is made"),
        "{}",
        stdout(&doctor)
    );
    let plan = dir.shop(&["migrate", "plan"], &[]);
    assert_eq!(
        stdout(&plan),
        "nothing to do: every table matches its resource\n",
        "the tables the migrations made match the resources"
    );

    let down = dir.shop(&["migrate", "down", "--steps", "3"], &[]);
    assert!(down.status.success(), "{}", stderr(&down));
    let status = stdout(&dir.shop(&["migrate", "status"], &[]));
    assert!(
        status.contains("applied m_arc_create_products")
            && status.contains("pending m_arc_create_orders")
            && status.contains("pending m_arc_create_event_tables")
            && status.contains("pending m_arc_create_audit_table"),
        "{status}"
    );
    let fresh = dir.shop(&["migrate", "fresh"], &[]);
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    let status = stdout(&dir.shop(&["migrate", "status"], &[]));
    assert!(!status.contains("pending"), "{status}");

    // Production: the secrets are checked and named.
    let doctor = dir.shop(&["doctor"], &[("ARC_ENV", "production")]);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(
        stdout(&doctor).contains("ARC_JWT_SECRET is required"),
        "{}",
        stdout(&doctor)
    );
    let public = [
        ("ARC_ENV", "production"),
        ("ARC_JWT_SECRET", shop::DEV_JWT_SECRET),
    ];
    let doctor = dir.shop(&["doctor"], &public);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(
        stdout(&doctor).contains("public development secret"),
        "{}",
        stdout(&doctor)
    );
    let secrets = [
        ("ARC_ENV", "production"),
        ("ARC_JWT_SECRET", "a-production-secret-of-32-bytes-or-more"),
    ];
    let doctor = dir.shop(&["doctor"], &secrets);
    assert_eq!(doctor.status.code(), Some(1));
    assert!(
        stdout(&doctor).contains("no cursor secret"),
        "{}",
        stdout(&doctor)
    );
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_migrates_in_development_and_refuses_pending_in_production() {
    let dir = Scratch::new("serve");
    let production = [
        ("ARC_ENV", "production"),
        ("ARC_JWT_SECRET", "a-production-secret-of-32-bytes-or-more"),
        ("ARC_CURSOR_SECRET", "cursor-secret"),
    ];
    let refused = dir.shop(&["serve", "--port", "1"], &production);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("pending  migration m_arc_create_categories"),
        "{message}"
    );
    assert!(message.contains("--migrate"), "says how: {message}");

    // Development applies them and serves.
    let port = free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args(["serve", "--port", &port])
        .current_dir(&dir.0)
        .env_remove("ARC_ENV")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ready = false;
    while Instant::now() < deadline {
        if let Ok(mut stream) =
            std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()))
        {
            use std::io::{Read, Write};
            let _ = stream
                .write_all(b"GET /categories HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                ready = answer.contains("\"total\":5");
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "the shop did not serve its seeded categories");
    let status = stdout(&dir.shop(&["migrate", "status"], &[]));
    assert!(!status.contains("pending"), "{status}");
    // With the migrations applied, production starts (and is stopped at once here).
    let mut child = Command::new(env!("CARGO_BIN_EXE_shop"))
        .args(["serve", "--port", &free_port().to_string()])
        .current_dir(&dir.0)
        .envs(production)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let early_exit = child.try_wait().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        early_exit.is_none(),
        "production refused to start: {early_exit:?}"
    );
}
