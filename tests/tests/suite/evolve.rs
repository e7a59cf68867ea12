//! Schema evolution: a table made by one version of an app, migrated by the next; what is
//! safe is applied, what is not is refused with SQL that, completed by hand and added as the
//! app's own migration, makes it.

#![allow(missing_docs, reason = "test fixtures: versions of resources")]

use arc_runtime::prelude::*;
use arc_runtime::sea_orm::{ConnectionTrait, DbErr, Statement};
use arc_runtime::sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager, async_trait};
use arc_runtime::{Change, ChangeKind};
use arc_tests::{Backend, MakeApp, TestApp, evolving, on_each_backend};
use serde_json::json;

on_each_backend!(
    fresh_tables_match_their_resources,
    added_fields_and_indexes_follow,
    unsafe_changes_are_refused_until_the_app_migrates_them,
    an_apps_own_index_named_like_arcs_is_kept,
    a_unique_index_follows_its_scope_when_soft_delete_comes
);

/// Right after the migrations made them, every table matches its resource exactly: no
/// change at all, not even a kept column (each field type, preset and index included).
async fn fresh_tables_match_their_resources(backend: Backend) {
    let apps: [(&str, MakeApp); 9] = [
        ("shop", arc_tests::shop_app),
        ("gadget", arc_tests::gadget::app),
        ("notes", arc_tests::notes::app),
        ("parcels", arc_tests::parcels::app),
        ("ledger", arc_tests::ledger::app),
        ("tickets", arc_tests::tickets::app),
        ("dossiers", arc_tests::dossiers::app),
        ("teams", arc_tests::teams::app),
        // Index names over PostgreSQL's 63 bytes, shortened alike when made and compared.
        ("long names", long_app),
    ];
    for (name, make) in apps {
        let app = backend.app(make).await;
        let plan = make(app.db.clone())
            .migrator()
            .plan(&app.db)
            .await
            .expect("plan");
        assert!(plan.pending.is_empty(), "{name}: {plan}");
        assert_eq!(plan.changes, Vec::<Change>::new(), "{name}: {plan}");
        assert!(plan.is_empty());
        app.cleanup().await;
    }
}

/// The names of the indexes on `table`.
async fn indexes(app: &TestApp, table: &str) -> Vec<String> {
    let sql = if app.backend == "postgres" {
        format!(
            "SELECT indexname::text AS name FROM pg_indexes WHERE tablename = '{table}' AND schemaname = current_schema() ORDER BY 1"
        )
    } else {
        format!("SELECT name FROM pragma_index_list('{table}') ORDER BY 1")
    };
    let rows = app
        .db
        .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .expect("indexes");
    rows.iter()
        .map(|r| r.try_get::<String>("", "name").expect("name"))
        .collect()
}

/// Two gauges made by v1.
async fn deployed_v1(backend: Backend) -> TestApp {
    let app = backend.app(evolving::v1).await;
    for (label, reading) in [("a", 3), ("b", 4)] {
        let made = app
            .post("/gauges", json!({"label": label, "reading": reading}))
            .await;
        assert_eq!(made.status, 201, "{}", made.body);
    }
    app
}

async fn added_fields_and_indexes_follow(backend: Backend) {
    let app = deployed_v1(backend).await;
    assert!(
        indexes(&app, "gauges")
            .await
            .contains(&"idx-gauges-reading".to_owned())
    );
    let v2 = evolving::v2(app.db.clone());
    let plan = v2.migrator().plan(&app.db).await.expect("plan");
    assert!(
        plan.pending.is_empty(),
        "the create migration stays applied"
    );
    let summary: Vec<(ChangeKind, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.kind, c.summary.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (ChangeKind::Apply, r#"add column "note" (nullable)"#),
            (
                ChangeKind::Apply,
                r#"add column "pinned", the rows there get its #[field(default)]"#
            ),
            (
                ChangeKind::Apply,
                r#"drop index "idx-gauges-reading": no field of the resource asks for it now"#
            ),
            (ChangeKind::Apply, r#"create index "idx-gauges-pinned""#),
        ],
        "{plan}"
    );
    let shown = plan.to_string();
    assert!(
        shown.contains(r#"ALTER TABLE "gauges" ADD COLUMN "pinned""#),
        "{shown}"
    );
    assert!(!plan.is_empty());

    v2.migrate().await.expect("v2 migrates v1's table");
    let after = v2.migrator().plan(&app.db).await.expect("plan");
    assert!(after.is_empty(), "{after}");
    let names = indexes(&app, "gauges").await;
    assert!(names.contains(&"idx-gauges-pinned".to_owned()), "{names:?}");
    assert!(
        !names.contains(&"idx-gauges-reading".to_owned()),
        "{names:?}"
    );
    v2.migrate().await.expect("again: nothing to do");

    let served = app.instance(evolving::v2);
    let rows = served.get("/gauges?pinned=false&sort=label").await;
    assert_eq!(rows.status, 200, "{}", rows.body);
    assert_eq!(rows.column("label"), [json!("a"), json!("b")], "rows kept");
    assert_eq!(rows.column("note"), [json!(null), json!(null)]);
    let made = served
        .post(
            "/gauges",
            json!({"label": "c", "reading": 1, "pinned": true, "note": "new"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(served.get("/gauges?pinned=true").await.body["total"], 1);
    app.cleanup().await;
}

/// The SQL v3's plan refuses to run, completed where it asks for a value (`kPa`), as the app
/// would write its migration: on SQLite the column first, then one rebuild (which makes
/// `label` nullable too).
fn v3_by_hand(plan: &arc_runtime::Plan) -> Vec<String> {
    let sql_of = |what: &str| -> Vec<String> {
        plan.refused()
            .find(|c| c.summary.contains(what))
            .map(|c| c.sql.clone())
            .unwrap_or_default()
    };
    let mut statements = sql_of(r#""unit""#);
    statements.extend(sql_of(r#""reading""#));
    statements
        .into_iter()
        .map(|s| s.replace("/* the value of the rows there */", "'kPa'"))
        .collect()
}

/// A migration of the app's own, from SQL.
struct Sql {
    name: &'static str,
    statements: Vec<String>,
}

impl MigrationName for Sql {
    fn name(&self) -> &str {
        self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Sql {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in &self.statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}

async fn unsafe_changes_are_refused_until_the_app_migrates_them(backend: Backend) {
    let app = deployed_v1(backend).await;
    evolving::v2(app.db.clone()).migrate().await.expect("v2");
    let v3 = evolving::v3(app.db.clone());
    let plan = v3.migrator().plan(&app.db).await.expect("plan");
    let postgres = app.backend == "postgres";
    let kinds: Vec<(ChangeKind, String)> = plan
        .changes
        .iter()
        .map(|c| (c.kind, c.summary.split(':').next().unwrap_or("").to_owned()))
        .collect();
    let label = if postgres {
        (
            ChangeKind::Apply,
            r#"column "label" becomes nullable"#.to_owned(),
        )
    } else {
        (
            ChangeKind::Refuse,
            r#"column "label" becomes nullable, which SQLite makes by rebuilding the table; write a migration (App"#.to_owned(),
        )
    };
    assert_eq!(
        kinds,
        [
            label,
            (
                ChangeKind::Refuse,
                r#"column "reading" changes type from "#.to_owned()
                    + if postgres { "bigint to character varying" } else { "INTEGER to varchar" }
            ),
            (ChangeKind::Refuse, r#"add column "unit""#.to_owned()),
            (ChangeKind::Keep, r#"column "note" is no field of the resource; kept (drop it once nothing, an older instance included, reads it)"#.to_owned()),
        ],
        "{plan}"
    );
    let refused = v3.migrate().await.expect_err("refused");
    let message = refused.to_string();
    for part in ["reading", "unit", "none of its changes was made"] {
        assert!(message.contains(part), "{message}");
    }
    let still = app.instance(evolving::v2);
    let rows = still.get("/gauges?sort=label").await;
    assert_eq!(
        rows.column("reading"),
        [json!(3), json!(4)],
        "nothing changed"
    );
    let null_label = still
        .patch(
            &format!("/gauges/{}", rows.column("id")[0].as_str().unwrap()),
            json!({"label": "a2"}),
        )
        .await;
    assert_eq!(
        null_label.status, 200,
        "v2 still works: {}",
        null_label.body
    );
    if postgres {
        let nullable = app
            .scalar("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'gauges' AND column_name = 'label' AND is_nullable = 'YES'")
            .await;
        assert_eq!(nullable, 0, "the safe change was not made either");
    }

    // The refused changes' SQL, completed, as the app's migration.
    let statements = v3_by_hand(&plan);
    let v3 = evolving::v3(app.db.clone()).migration(Sql {
        name: "m20261204_000001_gauges_v3",
        statements,
    });
    v3.migrate()
        .await
        .expect("the app's migration, then the safe changes");
    let after = v3.migrator().plan(&app.db).await.expect("plan");
    assert!(after.is_empty(), "{after}");
    assert_eq!(after.refused().count(), 0);
    let served = app.instance(evolving::v3);
    let rows = served.get("/gauges?sort=label").await;
    assert_eq!(rows.status, 200, "{}", rows.body);
    assert_eq!(
        rows.column("reading"),
        [json!("3"), json!("4")],
        "converted"
    );
    assert_eq!(rows.column("unit"), [json!("kPa"), json!("kPa")]);
    let made = served
        .post(
            "/gauges",
            json!({"label": null, "reading": "high", "unit": "bar"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    app.cleanup().await;
}

pub mod u1 {
    use super::*;
    #[resource(query(filter = [slug]))]
    #[permissions(default = public)]
    pub struct Tag {
        #[field(id)]
        pub id: Uuid,
        #[field(unique)]
        pub slug: String,
    }
}

pub mod u2 {
    use super::*;
    #[resource(presets(soft_delete), query(filter = [slug]))]
    #[permissions(default = public)]
    pub struct Tag {
        #[field(id)]
        pub id: Uuid,
        #[field(unique)]
        pub slug: String,
        #[field(system)]
        pub deleted_at: Option<DateTime<Utc>>,
    }
}

/// A table and a filter column whose arc index name is longer than PostgreSQL's 63 bytes.
pub mod long {
    use super::*;
    #[resource(query(filter = [external_billing_reference_code]))]
    #[permissions(default = public)]
    pub struct CustomerSubscriptionInvoiceLine {
        #[field(id)]
        pub id: Uuid,
        pub external_billing_reference_code: String,
    }
}

fn tags_v1(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<u1::Tag>()
}
fn tags_v2(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<u2::Tag>()
}
fn long_app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<long::CustomerSubscriptionInvoiceLine>()
}

async fn exec(app: &TestApp, sql: &str) {
    app.db
        .execute_raw(Statement::from_string(
            app.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect(sql);
}

/// The app's own index on the gauges' labels, named like arc's but not one arc gives, stays.
async fn an_apps_own_index_named_like_arcs_is_kept(backend: Backend) {
    let app = backend.app(evolving::v1).await;
    exec(
        &app,
        r#"CREATE INDEX "idx-gauges-label-lower" ON "gauges" (lower("label"))"#,
    )
    .await;
    let v1 = evolving::v1(app.db.clone());
    let plan = v1.migrator().plan(&app.db).await.expect("plan");
    let drops: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Apply && c.summary.contains("drop index"))
        .collect();
    assert!(
        drops.is_empty(),
        "the user's index is planned to go: {plan}"
    );
}

/// A unique index made before the resource had `soft_delete` is made anew over live rows: a
/// deleted row releases its slug.
async fn a_unique_index_follows_its_scope_when_soft_delete_comes(backend: Backend) {
    let app = backend.app(tags_v1).await;
    let v2 = tags_v2(app.db.clone());
    let plan = v2.migrator().plan(&app.db).await.expect("plan");
    assert!(
        plan.changes
            .iter()
            .any(|c| c.summary.starts_with(r#"make index "uq-tags-slug" anew"#)),
        "{plan}"
    );
    v2.migrate().await.expect("v2");
    let after = v2.migrator().plan(&app.db).await.expect("plan");
    assert!(after.is_empty(), "{after}");
    let served = app.instance(tags_v2);
    let made = served.post("/tags", json!({"slug": "x"})).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let gone = served.delete(&format!("/tags/{}", made.id())).await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    let again = served.post("/tags", json!({"slug": "x"})).await;
    assert_eq!(
        again.status, 201,
        "a soft-deleted row should release its slug: {}",
        again.body
    );
}

/// A column the plan keeps survives the SQLite rebuild a refused change asks for, with its
/// values.
#[tokio::test]
async fn the_sqlite_rebuild_keeps_the_columns_the_plan_keeps() {
    let app = Backend::Sqlite.app(evolving::v2).await;
    let made = app
        .post(
            "/gauges",
            json!({"label": "a", "reading": 3, "note": "calibrated 2026-01"}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let v3 = evolving::v3(app.db.clone());
    let plan = v3.migrator().plan(&app.db).await.expect("plan");
    assert!(
        plan.changes
            .iter()
            .any(|c| c.kind == ChangeKind::Keep && c.summary.contains("\"note\"")),
        "{plan}"
    );
    let statements = v3_by_hand(&plan);
    evolving::v3(app.db.clone())
        .migration(Sql {
            name: "m20261204_000001_gauges_v3",
            statements,
        })
        .migrate()
        .await
        .expect("migrate");
    let notes = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT name FROM pragma_table_info('gauges') WHERE name = 'note'".to_owned(),
        ))
        .await
        .expect("q");
    assert_eq!(notes.len(), 1, "the kept column `note` is there");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM gauges WHERE note = 'calibrated 2026-01'")
            .await,
        1,
        "with its values"
    );
}
