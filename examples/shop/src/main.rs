//! `cargo run -p shop`: the shop on SQLite (`shop.db`), seeded, on http://127.0.0.1:3000.
//!
//! Environment: `HOST`, `PORT`, `DATABASE_URL` (default `sqlite://shop.db?mode=rwc`;
//! `sqlite::memory:` and `postgres://..` work), `ARC_CURSOR_SECRET` (signs list cursors;
//! random per process when unset), `RUST_LOG`.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("shop stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://shop.db?mode=rwc".into());
    let db = arc_runtime::db::connect(&url).await?;
    let mut app = shop::app(db.clone());
    match std::env::var("ARC_CURSOR_SECRET") {
        Ok(secret) => app = app.cursor_secret(secret.as_bytes()),
        Err(_) => tracing::warn!(
            "ARC_CURSOR_SECRET is unset: list cursors are valid for this process only"
        ),
    }
    app.migrate().await?;
    if shop::seed::seed(&db).await? {
        tracing::info!("seeded demo data: orgs acme and globex, 5 categories, 100 products");
    }
    let addr = format!("{host}:{port}");
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    tracing::info!(
        "shop listening on http://{addr} (try: curl 'http://{addr}/products?limit=2&sort=-price')"
    );
    axum_serve(listener, app).await?;
    Ok(())
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    app: arc_runtime::App,
) -> std::io::Result<()> {
    app.serve_on(listener).await
}
