//! The command line of an app: [`Cli`].

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

use clap::{ArgMatches, FromArgMatches, Subcommand};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::App;
use crate::migration::ChangeKind;
use crate::preset::Preset;
use crate::telemetry::{Telemetry, TelemetryGuard};

/// An error of a command, printed before a non-zero exit.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the app's builder is given.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The preset (`ARC_ENV`).
    pub preset: Preset,
    /// The database pool; disconnected for the commands that need none.
    pub db: DatabaseConnection,
    /// Whether the app is built to serve (as opposed to describe itself).
    pub serving: bool,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type Build = Box<dyn Fn(Setup) -> BoxFuture<Result<App, Error>> + Send + Sync>;
type Started = Box<dyn Fn(App) -> BoxFuture<Result<App, Error>> + Send + Sync>;
type Handler = Box<dyn Fn(Preset, ArgMatches) -> BoxFuture<Result<(), Error>> + Send + Sync>;

/// The built-in commands.
#[derive(Clone, Debug, Subcommand)]
enum Builtin {
    /// Serve the app (the default).
    Serve {
        /// Address to listen on (default: HOST or 127.0.0.1).
        #[arg(long, env = "HOST", default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (default: PORT or 3000).
        #[arg(long, env = "PORT", default_value_t = 3000)]
        port: u16,
        /// Apply pending migrations before serving, also in production.
        #[arg(long)]
        migrate: bool,
    },
    /// Print the OpenAPI 3.1 document.
    Openapi,
    /// Print the registry (arc-describe/v1 JSON).
    Describe,
    /// Print the routes: method, path, permission, preset.
    Routes,
    /// Apply, roll back or list the migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Check the configuration and the services; non-zero exit on problems.
    Doctor,
}

#[derive(Clone, Debug, Subcommand)]
enum MigrateAction {
    /// Apply the pending migrations.
    Up {
        /// Only this many.
        #[arg(long)]
        steps: Option<u32>,
    },
    /// Roll back applied migrations (drops their tables).
    Down {
        /// This many (default: one).
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List each migration and whether it is applied.
    Status,
    /// Show what `up` would do (pending migrations, then the changes each table needs to
    /// match its resource, applied or refused with the SQL to write), without doing it.
    Plan,
    /// Drop the app's tables and apply every migration again.
    Fresh,
}

/// The command line every arc-rs app gets in one line of `main`: `serve` (the default),
/// `openapi`, `describe`, `routes`, `migrate up|down|status|plan|fresh` and `doctor`, plus the
/// app's own commands.
///
/// ```no_run
/// use arc_runtime::Cli;
/// # fn build(setup: arc_runtime::Setup) -> Result<arc_runtime::App, arc_runtime::CliError> {
/// #     Ok(arc_runtime::App::new(setup.db))
/// # }
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     Cli::new("shop", |setup| async move { build(setup) }).run().await
/// }
/// ```
///
/// The database comes from `DATABASE_URL` (or the app's default), the preset from `ARC_ENV`.
/// `serve` applies pending migrations in development and testing; in production and edge it
/// refuses to start on pending ones unless given `--migrate`. `openapi`, `describe` and
/// `routes` need no database.
#[must_use = "call .run().await"]
pub struct Cli {
    name: &'static str,
    about: Option<String>,
    database: String,
    build: Build,
    started: Option<Started>,
    commands: Vec<(clap::Command, Handler)>,
}

impl Cli {
    /// The command line of the app `name`, built by `build`.
    pub fn new<F, Fut>(name: &'static str, build: F) -> Cli
    where
        F: Fn(Setup) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<App, Error>> + Send + 'static,
    {
        Cli {
            name,
            about: None,
            database: "sqlite://app.db?mode=rwc".to_owned(),
            build: Box::new(move |setup| Box::pin(build(setup))),
            started: None,
            commands: Vec::new(),
        }
    }

    /// The `--help` text.
    pub fn about(mut self, about: impl Into<String>) -> Cli {
        self.about = Some(about.into());
        self
    }

    /// The database when `DATABASE_URL` is unset (default `sqlite://app.db?mode=rwc`).
    pub fn database(mut self, url: impl Into<String>) -> Cli {
        self.database = url.into();
        self
    }

    /// Runs after migrations, before `serve` listens (seed data, warm caches).
    pub fn on_start<F, Fut>(mut self, f: F) -> Cli
    where
        F: Fn(App) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<App, Error>> + Send + 'static,
    {
        self.started = Some(Box::new(move |app| Box::pin(f(app))));
        self
    }

    /// An app command beside the built-in ones.
    pub fn command<F, Fut>(mut self, command: clap::Command, run: F) -> Cli
    where
        F: Fn(Preset, ArgMatches) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.commands
            .push((command, Box::new(move |p, m| Box::pin(run(p, m)))));
        self
    }

    fn clap(&self) -> clap::Command {
        let mut command = clap::Command::new(self.name);
        if let Some(about) = &self.about {
            command = command.about(about.clone());
        }
        let mut command = Builtin::augment_subcommands(command);
        for (extra, _) in &self.commands {
            command = command.subcommand(extra.clone());
        }
        command
    }

    /// Parses the process's arguments and runs the command.
    pub async fn run(self) -> ExitCode {
        let matches = self.clap().get_matches();
        self.run_matches(matches).await
    }

    /// Parses `args` (the program name first) and runs the command.
    pub async fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        match self.clap().try_get_matches_from(args) {
            Ok(matches) => self.run_matches(matches).await,
            Err(e) => {
                let _ = e.print();
                ExitCode::from(2)
            }
        }
    }

    /// Runs the command `matches` names. Boxed here, so the whole program (the server, the
    /// migrations, every command) is compiled into this crate once, not into each app's
    /// binary by the `.await` in its `main`. Not `Send`, as it never was: the app's layers
    /// (`FnOnce` without `Sync`) are held across awaits, so it runs on the task that awaits
    /// it (`main`'s).
    fn run_matches(self, matches: ArgMatches) -> Pin<Box<dyn Future<Output = ExitCode>>> {
        Box::pin(self.run_matches_inner(matches))
    }

    async fn run_matches_inner(self, matches: ArgMatches) -> ExitCode {
        let preset = match Preset::from_env() {
            Ok(preset) => preset,
            Err(e) => {
                eprintln!("{}: {e}", self.name);
                return ExitCode::FAILURE;
            }
        };
        let name = self.name;
        let result = self.dispatch(preset, matches).await;
        match result {
            Ok(code) => code,
            Err(e) => {
                tracing::error!("{name}: {e}");
                eprintln!("{name}: {e}");
                ExitCode::FAILURE
            }
        }
    }

    async fn dispatch(self, preset: Preset, matches: ArgMatches) -> Result<ExitCode, Error> {
        if let Some((name, sub)) = matches.subcommand()
            && let Some((_, run)) = self.commands.iter().find(|(c, _)| c.get_name() == name)
        {
            run(preset, sub.clone()).await?;
            return Ok(ExitCode::SUCCESS);
        }
        let command = if matches.subcommand().is_some() {
            Builtin::from_arg_matches(&matches)?
        } else {
            // No command is `serve` with its defaults (HOST and PORT included).
            Builtin::from_arg_matches(&self.clap().try_get_matches_from([self.name, "serve"])?)?
        };
        match command {
            Builtin::Serve {
                host,
                port,
                migrate,
            } => {
                let _telemetry = self.telemetry(preset)?;
                self.serve(preset, &host, port, migrate).await?;
            }
            Builtin::Openapi => {
                let app = self.offline(preset).await?;
                emit(serde_json::to_string_pretty(&app.openapi()?)?);
            }
            Builtin::Describe => {
                let app = self.offline(preset).await?;
                emit(serde_json::to_string_pretty(&app.describe())?);
            }
            Builtin::Routes => {
                let app = self.offline(preset).await?;
                emit(routes_table(&app).trim_end());
            }
            Builtin::Migrate { action } => {
                let app = self.online(preset, false).await?;
                migrate(&app, action).await?;
            }
            Builtin::Doctor => {
                let problems = self.doctor(preset).await;
                if !problems.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    fn telemetry(&self, preset: Preset) -> Result<TelemetryGuard, Error> {
        Ok(Telemetry::new(preset)
            .service_name(self.name)
            .from_env()
            .init()?)
    }

    fn database_url(&self) -> String {
        std::env::var("DATABASE_URL").unwrap_or_else(|_| self.database.clone())
    }

    /// The app with no database, to describe itself.
    async fn offline(&self, preset: Preset) -> Result<App, Error> {
        (self.build)(Setup {
            preset,
            db: DatabaseConnection::default(),
            serving: false,
        })
        .await
    }

    /// The app on its database.
    async fn online(&self, preset: Preset, serving: bool) -> Result<App, Error> {
        let db = crate::db::connect(&self.database_url()).await?;
        (self.build)(Setup {
            preset,
            db,
            serving,
        })
        .await
    }

    async fn serve(
        self,
        preset: Preset,
        host: &str,
        port: u16,
        migrate: bool,
    ) -> Result<(), Error> {
        let app = self.online(preset, true).await?;
        let problems = app.problems();
        if !problems.is_empty() {
            return Err(format!("not starting ({preset:?}): {}", problems.join("; ")).into());
        }
        let plan = app.migrator().plan(app.db()).await?;
        if !plan.is_empty() {
            if preset.defaults().explicit_migrations && !migrate {
                return Err(format!(
                    "not starting: the database is behind the app; run `{} migrate plan` to \
                     see, `{0} migrate up` to apply, or serve with --migrate:\n{plan}",
                    self.name
                )
                .into());
            }
            tracing::info!(plan = %plan, "applying pending migrations and schema changes");
            app.migrate().await?;
        }
        let app = match &self.started {
            Some(started) => started(app).await?,
            None => app,
        };
        let addr = format!("{host}:{port}");
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        tracing::info!("{} ({preset:?}) listening on http://{addr}", self.name);
        app.serve_on(listener).await?;
        Ok(())
    }

    /// Checks what it can and prints each finding with how to fix it; returns the problems.
    async fn doctor(&self, preset: Preset) -> Vec<String> {
        let mut problems = Vec::new();
        let mut say = |ok: bool, what: String| {
            emit(format_args!("{} {what}", if ok { "ok  " } else { "FAIL" }));
            if !ok {
                problems.push(what);
            }
        };
        say(true, format!("preset {preset:?} (ARC_ENV)"));
        let url = self.database_url();
        let db = match crate::db::connect(&url).await {
            Ok(db) => db,
            Err(e) => {
                say(
                    false,
                    format!(
                        "database {}: {e} (check DATABASE_URL and that the server runs)",
                        redact(&url)
                    ),
                );
                return problems;
            }
        };
        match db.execute_unprepared("SELECT 1").await {
            Ok(_) => say(true, format!("database {} answers", redact(&url))),
            Err(e) => say(false, format!("database {}: {e}", redact(&url))),
        }
        let app = match (self.build)(Setup {
            preset,
            db: db.clone(),
            serving: true,
        })
        .await
        {
            Ok(app) => app,
            Err(e) => {
                say(false, format!("configuration: {e}"));
                return problems;
            }
        };
        say(true, "configuration builds".to_owned());
        for problem in app.problems() {
            say(false, problem);
        }
        // Served when first asked for, so a document that cannot be made shows only then.
        match app.openapi() {
            Ok(_) => say(true, "the OpenAPI document is made".to_owned()),
            Err(e) => say(false, format!("the OpenAPI document: {e}")),
        }
        match app.migrator().plan(&db).await {
            Ok(plan) if plan.is_empty() => say(
                true,
                "migrations: none pending, every table matches its resource".to_owned(),
            ),
            Ok(plan) => say(
                false,
                format!(
                    "the database is behind the app (run `{} migrate up`):\n{plan}",
                    self.name
                ),
            ),
            Err(e) => say(false, format!("migrations: {e}")),
        }
        // The app's readiness checks: the database, and Redis or whatever else it registered.
        let report = app.health_report().await;
        for check in &report.checks {
            let what = match &check.error {
                None => format!("check {}: ok ({:.1} ms)", check.name, check.duration_ms),
                Some(e) => format!(
                    "check {}: {e}{}",
                    check.name,
                    if check.critical {
                        ""
                    } else {
                        " (not critical)"
                    }
                ),
            };
            say(check.error.is_none() || !check.critical, what);
        }
        emit(if problems.is_empty() {
            "no problems found".to_owned()
        } else {
            format!("{} problem(s)", problems.len())
        });
        problems
    }
}

/// Writes a line to stdout; a closed pipe (`shop routes | head`) is not an error.
fn emit(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn migrate(app: &App, action: MigrateAction) -> Result<(), Error> {
    let migrator = app.migrator();
    let db = app.db();
    match action {
        MigrateAction::Up { steps } => {
            let plan = migrator.plan(db).await?;
            migrator.up(db, steps).await?;
            let applied = steps.map_or(plan.pending.len(), |n| plan.pending.len().min(n as usize));
            emit(format_args!("applied {applied} migration(s)"));
            if steps.is_none() {
                for change in plan.changes.iter().filter(|c| c.kind == ChangeKind::Apply) {
                    emit(format_args!("changed {}: {}", change.table, change.summary));
                }
            }
        }
        MigrateAction::Down { steps } => {
            migrator.down(db, Some(steps)).await?;
            emit(format_args!("rolled back up to {steps} migration(s)"));
        }
        MigrateAction::Status => {
            for (name, applied) in migrator.status(db).await? {
                emit(format_args!(
                    "{} {name}",
                    if applied { "applied" } else { "pending" }
                ));
            }
        }
        MigrateAction::Plan => {
            let plan = migrator.plan(db).await?;
            emit(plan.to_string().trim_end());
        }
        MigrateAction::Fresh => {
            migrator.fresh(db).await?;
            emit("dropped the app's tables and applied every migration");
        }
    }
    Ok(())
}

/// The `routes` table: method, path, permission, preset; resources' routes, then the
/// service routes.
pub(crate) fn routes_table(app: &App) -> String {
    let mut rows: Vec<[String; 4]> = vec![[
        "METHOD".into(),
        "PATH".into(),
        "PERMISSION".into(),
        "PRESET".into(),
    ]];
    for registered in app.registered() {
        let meta = registered.meta;
        for route in crate::crud::routes::routes(meta) {
            rows.push([
                route.method.to_string(),
                registered.served(&route.path),
                meta.permission(route.action),
                route.action.preset().map_or("-", |p| p.name()).to_owned(),
            ]);
        }
    }
    for route in app.service_routes() {
        rows.push([
            route.method.to_string(),
            route.path,
            route.access.to_owned(),
            "service".to_owned(),
        ]);
    }
    for route in app.app_routes() {
        rows.push([
            route.method.to_string(),
            route.path.clone(),
            route.permission.clone(),
            "app".to_owned(),
        ]);
    }
    for path in app.custom_routes() {
        rows.push(["*".into(), path.clone(), "app".into(), "app".into()]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line = format!(
            "{:w0$}  {:w1$}  {:w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::routes_table;

    /// Routes under a base path are listed where they are served.
    #[tokio::test]
    async fn the_table_lists_routes_under_their_base() {
        let db = crate::connect("sqlite::memory:").await.expect("db");
        let table = routes_table(&crate::App::new(db).organizations_under("/api"));
        let paths: Vec<&str> = table
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().nth(1))
            .filter(|path| path.contains("organizations"))
            .collect();
        assert!(paths.len() >= 10, "{table}");
        assert!(
            paths.iter().all(|p| p.starts_with("/api/organizations")),
            "{table}"
        );
        assert!(
            paths.contains(&"/api/organizations/invitations/{id}/accept"),
            "{table}"
        );
    }
}
