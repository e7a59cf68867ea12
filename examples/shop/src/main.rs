//! `cargo run -p shop`: the shop on SQLite (`shop.db`), seeded, on http://127.0.0.1:3000.
//! `cargo run -p shop -- token --user alice --org acme --org-roles admin` mints a token.
//!
//! Environment: `ARC_ENV` (`development` by default; `production` for JSON logs, strict
//! CORS, gzip, load shedding and required secrets), `HOST`, `PORT`, `DATABASE_URL` (default
//! `sqlite://shop.db?mode=rwc`; `sqlite::memory:` and `postgres://..` work), `ARC_JWT_SECRET`
//! (HS256 secret; a public development secret when unset, required in production),
//! `ARC_CURSOR_SECRET` (signs list cursors; random per process when unset, required in
//! production), `REDIS_URL` (when set: revoked tokens and rate-limit counters live there and
//! readiness checks it), `RUST_LOG`. Production and edge limit each user to 1200 requests a
//! minute.

use std::process::ExitCode;
use std::time::Duration;

use arc_runtime::plugins::rate_limit::{KeyBy, RateLimit};
use arc_runtime::preset::Preset;
use arc_runtime::telemetry::Telemetry;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "shop", about = "The arc-rs reference shop")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop (the default).
    Serve,
    /// Print a bearer token signed with the shop's secret.
    Token {
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// Platform roles, comma-separated.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// The active organization.
        #[arg(long)]
        org: Option<String>,
        /// Roles in the active organization, comma-separated.
        #[arg(long, value_delimiter = ',', requires = "org")]
        org_roles: Vec<String>,
        /// Lifetime in hours.
        #[arg(long, default_value_t = 24)]
        hours: u64,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let preset = match Preset::from_env() {
        Ok(preset) => preset,
        Err(e) => {
            eprintln!("shop: {e}");
            return ExitCode::FAILURE;
        }
    };
    // OTEL_EXPORTER_OTLP_ENDPOINT exports request and database spans; the guard flushes them.
    let _telemetry = match Telemetry::new(preset)
        .service_name("shop")
        .from_env()
        .init()
    {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("shop: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(preset).await,
        Command::Token {
            user,
            roles,
            org,
            org_roles,
            hours,
        } => jwt_secret(preset).and_then(|secret| {
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            let org_roles: Vec<&str> = org_roles.iter().map(String::as_str).collect();
            let ttl = Duration::from_secs(hours.saturating_mul(3600));
            let token = shop::demo_token(&secret, &user, &roles, org.as_deref(), &org_roles, ttl)?;
            println!("{token}");
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("shop stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error>;

/// `ARC_JWT_SECRET`, or the public development secret outside production.
fn jwt_secret(preset: Preset) -> Result<Vec<u8>, Error> {
    match std::env::var("ARC_JWT_SECRET") {
        Ok(secret) => Ok(secret.into_bytes()),
        Err(_) if matches!(preset, Preset::Production | Preset::Edge) => {
            Err("ARC_JWT_SECRET is required with ARC_ENV=production (32 bytes or more)".into())
        }
        Err(_) => {
            tracing::warn!(
                "ARC_JWT_SECRET is unset: using the public development secret; \
                 anyone can mint tokens for this server"
            );
            Ok(shop::DEV_JWT_SECRET.as_bytes().to_vec())
        }
    }
}

async fn serve(preset: Preset) -> Result<(), Error> {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://shop.db?mode=rwc".into());
    let secret = jwt_secret(preset)?;
    let db = arc_runtime::db::connect(&url).await?;
    let redis = match std::env::var("REDIS_URL") {
        Ok(url) => Some(arc_runtime::stores::redis::Redis::new(&url, "shop:")?),
        Err(_) => None,
    };
    let mut app = shop::app_with(db.clone(), &secret, redis.as_ref())?.preset(preset);
    match std::env::var("ARC_CURSOR_SECRET") {
        Ok(secret) => app = app.cursor_secret(secret.as_bytes()),
        Err(_) => tracing::warn!(
            "ARC_CURSOR_SECRET is unset: list cursors are valid for this process only"
        ),
    }
    if let Ok(token) = std::env::var("ARC_METRICS_TOKEN") {
        // For a /_metrics reachable from outside the private network.
        app = app.metrics(Some(
            arc_runtime::plugins::metrics::Metrics::new().bearer_token(token),
        ));
    }
    if let Some(redis) = &redis {
        // Readiness follows Redis too.
        let redis = redis.clone();
        let health = arc_runtime::plugins::health::Health::new().check(
            "redis",
            true,
            std::time::Duration::from_millis(500),
            move || {
                let redis = redis.clone();
                async move { redis.ping().await.map_err(|e| e.to_string()) }
            },
        );
        app = app.health(health);
    }
    if matches!(preset, Preset::Production | Preset::Edge) {
        // Per user (or address) per minute; shared by every instance when Redis is set.
        let mut limit = RateLimit::new(1200, std::time::Duration::from_secs(60), KeyBy::User);
        if let Some(redis) = &redis {
            limit = limit.store(redis.rate_limit());
        }
        app = app.rate_limit(Some(limit));
    }
    let problems = app.problems();
    if !problems.is_empty() {
        return Err(format!("not starting ({preset:?}): {}", problems.join("; ")).into());
    }
    app.migrate().await?;
    if shop::seed::seed(&db).await? {
        tracing::info!("seeded demo data: orgs acme and globex, 5 categories, 100 products");
    }
    if secret == shop::DEV_JWT_SECRET.as_bytes() {
        print_demo_tokens(&secret)?;
    }
    let addr = format!("{host}:{port}");
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        "shop ({preset:?}) listening on http://{addr} (try: curl http://{addr}/categories)"
    );
    app.serve_on(listener).await?;
    Ok(())
}

/// Logs a token per demo persona, for trying the shop with curl.
fn print_demo_tokens(secret: &[u8]) -> Result<(), Error> {
    let day = Duration::from_secs(24 * 3600);
    let personas: [(&str, &str, &[&str]); 4] = [
        ("ada", "acme", &["admin"]),
        ("eve", "acme", &["editor"]),
        ("carl", "acme", &[]),
        ("gus", "globex", &["admin"]),
    ];
    for (user, org, org_roles) in personas {
        let token = shop::demo_token(secret, user, &[], Some(org), org_roles, day)?;
        tracing::info!("demo token for {user} ({org}, roles {org_roles:?}): {token}");
    }
    Ok(())
}
