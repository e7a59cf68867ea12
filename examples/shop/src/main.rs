//! `cargo run -p shop`: the shop on SQLite (`shop.db`), seeded, on http://127.0.0.1:3000.
//! `cargo run -p shop -- token --user alice --org acme --org-roles admin` mints a token;
//! `openapi`, `describe`, `routes`, `migrate up|down|status|fresh` and `doctor` are the
//! commands every arc-rs app gets (see `arc_runtime::Cli`).
//!
//! Environment: `ARC_ENV` (`development` by default; `production` for JSON logs, strict
//! CORS, gzip, load shedding and required secrets), `HOST`, `PORT`, `DATABASE_URL` (default
//! `sqlite://shop.db?mode=rwc`; `sqlite::memory:` and `postgres://..` work), `ARC_JWT_SECRET`
//! (HS256 secret; a public development secret when unset, required in production),
//! `ARC_CURSOR_SECRET` (signs list cursors; random per process when unset, required in
//! production), `REDIS_URL` (when set: revoked tokens, rate-limit counters, the query cache,
//! idempotency keys and the events' streams live there, and readiness checks it), `ARC_INSTANCES` (how many
//! instances serve the shop: in production, more than one refuses to start while any shared
//! state is in process memory), `ARC_METRICS_TOKEN` (scrapers must send it), `RUST_LOG` (info by
//! default; `RUST_LOG=info,sea_orm=debug` adds the SQL), `OTEL_EXPORTER_OTLP_ENDPOINT`.
//! Production and edge limit each user to 1200 requests a minute. Development applies
//! pending migrations on start; production refuses to start with pending ones unless served
//! with `--migrate`.

use std::process::ExitCode;
use std::time::Duration;

use arc_runtime::App;
use arc_runtime::Preset;
use arc_runtime::config::{KeyBy, RateLimit};
use arc_runtime::{Cli, CliError as Error, Setup};
use clap::{Arg, ArgMatches};

#[tokio::main]
async fn main() -> ExitCode {
    Cli::new("shop", build)
        .about("The arc-rs reference shop")
        .database("sqlite://shop.db?mode=rwc")
        .on_start(start)
        .command(token_command(), token)
        .run()
        .await
}

/// `ARC_JWT_SECRET`, or the public development secret outside production.
fn jwt_secret(preset: Preset) -> Result<Vec<u8>, Error> {
    match std::env::var("ARC_JWT_SECRET") {
        Ok(secret) => Ok(secret.into_bytes()),
        Err(_) if matches!(preset, Preset::Production | Preset::Edge) => {
            Err("ARC_JWT_SECRET is required with ARC_ENV=production (32 bytes or more)".into())
        }
        Err(_) => Ok(shop::DEV_JWT_SECRET.as_bytes().to_vec()),
    }
}

/// The shop as configured by the environment.
async fn build(setup: Setup) -> Result<App, Error> {
    let preset = setup.preset;
    if !setup.serving {
        // Describing itself: no secrets, no services.
        return Ok(shop::app(setup.db, shop::DEV_JWT_SECRET.as_bytes())?.preset(preset));
    }
    let secret = jwt_secret(preset)?;
    if secret == shop::DEV_JWT_SECRET.as_bytes()
        && matches!(preset, Preset::Production | Preset::Edge)
    {
        // The development secret is in the source: anyone could mint an admin's token.
        return Err(
            "ARC_JWT_SECRET is the public development secret; production needs its own".into(),
        );
    }
    if secret == shop::DEV_JWT_SECRET.as_bytes() {
        tracing::warn!(
            "ARC_JWT_SECRET is unset: using the public development secret; \
             anyone can mint tokens for this server"
        );
    }
    let redis = match std::env::var("REDIS_URL") {
        Ok(url) => Some(arc_stores::Redis::new(&url, "shop:")?),
        Err(_) => None,
    };
    // In production and edge, tokens need a `jti` and live a day at most.
    let mut app = shop::app_with(setup.db, &secret, redis.as_ref(), preset)?;
    match std::env::var("ARC_CURSOR_SECRET") {
        Ok(secret) => app = app.cursor_secret(secret.as_bytes()),
        Err(_) => tracing::warn!(
            "ARC_CURSOR_SECRET is unset: list cursors are valid for this process only"
        ),
    }
    if let Ok(n) = std::env::var("ARC_INSTANCES") {
        // More than one in production: every shared store must be Redis (or the database).
        let n = n
            .parse()
            .map_err(|_| "ARC_INSTANCES must be a whole number of instances")?;
        app = app.instances(n);
    }
    if let Ok(token) = std::env::var("ARC_METRICS_TOKEN") {
        // For a /_metrics reachable from outside the private network.
        app = app.metrics(arc_runtime::config::Metrics::new().bearer_token(token));
    }
    if let Some(redis) = &redis {
        // Readiness follows Redis too.
        let redis = redis.clone();
        let health = arc_runtime::config::Health::new().check(
            "redis",
            true,
            Duration::from_millis(500),
            move || {
                let redis = redis.clone();
                async move { Ok(redis.ping().await?) }
            },
        );
        app = app.health(health);
    }
    if matches!(preset, Preset::Production | Preset::Edge) {
        // Per user (or address) per minute; shared by every instance when Redis is set.
        let mut limit = RateLimit::new(1200, Duration::from_secs(60), KeyBy::User);
        if let Some(redis) = &redis {
            limit = limit.store(redis.rate_limit());
        }
        app = app.rate_limit(limit);
    }
    Ok(app)
}

/// Seeds the demo data into an empty database; in development, logs a token per persona.
async fn start(app: App) -> Result<App, Error> {
    if shop::seed::seed(app.db()).await? {
        tracing::info!("seeded demo data: orgs acme and globex, 5 categories, 100 products");
    }
    if std::env::var("ARC_JWT_SECRET").is_err() {
        print_demo_tokens(shop::DEV_JWT_SECRET.as_bytes())?;
    }
    Ok(app)
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
    // The categories every organization shares are changed by platform admins only.
    let token = shop::demo_token(secret, "root", &["admin"], Some("acme"), &[], day)?;
    tracing::info!("demo token for root (platform admin, in acme): {token}");
    // Acts in any organization with `x-arc-scope: platform`, audited.
    let token = shop::demo_token(secret, "sue", &["superadmin"], None, &[], day)?;
    tracing::info!("demo token for sue (superadmin, may elevate): {token}");
    Ok(())
}

fn token_command() -> clap::Command {
    let list = |name: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_delimiter(',')
            .num_args(1)
            .action(clap::ArgAction::Append)
            .help(help)
    };
    clap::Command::new("token")
        .about("Print a bearer token signed with the shop's secret")
        .arg(
            Arg::new("user")
                .long("user")
                .required(true)
                .help("The user id (sub)"),
        )
        .arg(list("roles", "Platform roles, comma-separated"))
        .arg(Arg::new("org").long("org").help("The active organization"))
        .arg(
            list(
                "org-roles",
                "Roles in the active organization, comma-separated",
            )
            .requires("org"),
        )
        .arg(
            Arg::new("hours")
                .long("hours")
                .value_parser(clap::value_parser!(u64))
                .default_value("24")
                .help("Lifetime in hours (production and edge accept at most 24)"),
        )
}

/// `shop token --user .. [--roles ..] [--org .. [--org-roles ..]] [--hours ..]`.
async fn token(preset: Preset, args: ArgMatches) -> Result<(), Error> {
    let secret = jwt_secret(preset)?;
    let strings = |name: &str| -> Vec<String> {
        args.get_many::<String>(name)
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    let (roles, org_roles) = (strings("roles"), strings("org-roles"));
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let org_roles: Vec<&str> = org_roles.iter().map(String::as_str).collect();
    let user = args.get_one::<String>("user").map_or("", String::as_str);
    let org = args.get_one::<String>("org").map(String::as_str);
    let hours = args.get_one::<u64>("hours").copied().unwrap_or(24);
    let ttl = Duration::from_secs(hours.saturating_mul(3600));
    let max = arc_runtime::config::DEFAULT_MAX_LIFETIME;
    if matches!(preset, Preset::Production | Preset::Edge) && ttl > max {
        return Err(format!(
            "--hours {hours}: the server refuses tokens that live longer than {} hours under ARC_ENV={preset:?}",
            max.as_secs() / 3600
        )
        .into());
    }
    let token = shop::demo_token(&secret, user, &roles, org, &org_roles, ttl)?;
    println!("{token}");
    Ok(())
}
