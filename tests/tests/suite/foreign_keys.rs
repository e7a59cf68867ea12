//! References are foreign keys in the database: a row still referenced through a required
//! field is not deleted (409), a nullable reference is cleared when its row goes (and no
//! cached answer shows it still set), and a deployed table gains its foreign keys, once no
//! row references a row that does not exist.

use arc_runtime::sea_orm::sqlx::{self, AssertSqlSafe};
use arc_runtime::sea_orm::{ConnectionTrait, Statement, Value};
use arc_runtime::{Change, ChangeKind};
use arc_tests::notes::bearer;
use arc_tests::{Backend, TestApp, assert_error, on_each_backend, platform_admin, shop_token};
use axum::http::Method;
use serde_json::json;

on_each_backend!(
    references_are_foreign_keys_of_the_schema,
    a_row_still_referenced_is_not_deleted,
    a_nullable_reference_is_cleared_with_its_row,
    a_cached_answer_is_made_old_by_the_clearing,
    a_deployed_table_gains_its_foreign_key,
    rows_referencing_nothing_hold_the_foreign_key_back,
    an_apps_own_index_is_never_rebuilt_away
);

/// A migration dropped unfinished (a timeout, a cancelled start) on a `:memory:` database,
/// whose one connection has its foreign keys switched off for it, leaves them on.
#[tokio::test]
async fn a_cancelled_migration_leaves_sqlites_foreign_keys_on() {
    let app = TestApp::sqlite_memory_with(arc_tests::teams::app).await;
    let migrator = arc_tests::teams::app(app.db.clone()).migrator();
    for micros in (0..40).map(|i| i * 50) {
        let up = migrator.up(&app.db, None);
        let _ = tokio::time::timeout(std::time::Duration::from_micros(micros), up).await;
        // The task that switches them on again runs once the connection is free.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!(
            app.scalar("PRAGMA foreign_keys").await,
            1,
            "after a migration cut at {micros} µs"
        );
    }
}

/// The foreign keys of `table`: `column -> target(target_column) on delete ACTION`, sorted.
async fn foreign_keys(app: &TestApp, table: &str) -> Vec<String> {
    let sql = if app.backend == "postgres" {
        format!(
            r#"SELECT a.attname::text || ' -> ' || t.relname::text || '(' || ta.attname::text || ') on delete ' ||
                      CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'n' THEN 'SET NULL' ELSE c.confdeltype::text END AS key
               FROM pg_constraint c
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
               JOIN pg_class t ON t.oid = c.confrelid
               JOIN pg_attribute ta ON ta.attrelid = c.confrelid AND ta.attnum = c.confkey[1]
               WHERE c.contype = 'f' AND c.conrelid = to_regclass('{table}') ORDER BY 1"#
        )
    } else {
        format!(
            r#"SELECT "from" || ' -> ' || "table" || '(' || "to" || ') on delete ' || on_delete AS key
               FROM pragma_foreign_key_list('{table}') ORDER BY 1"#
        )
    };
    let rows = app
        .db
        .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .expect("foreign keys");
    rows.iter()
        .map(|r| r.try_get::<String>("", "key").expect("key"))
        .collect()
}

/// Removes every foreign key of `table`, as a table made before arc had them: on SQLite by
/// rebuilding it from its own SQL without them (with foreign keys off, as SQLite asks).
async fn strip_foreign_keys(app: &TestApp, table: &str) {
    if app.backend == "postgres" {
        let names = app
            .db
            .query_all_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!(
                    "SELECT conname::text AS name FROM pg_constraint WHERE contype = 'f' AND conrelid = to_regclass('{table}')"
                ),
            ))
            .await
            .expect("names");
        for row in names {
            let name: String = row.try_get("", "name").expect("name");
            app.db
                .execute_unprepared(&format!(
                    r#"ALTER TABLE "{table}" DROP CONSTRAINT "{name}""#
                ))
                .await
                .expect("drop constraint");
        }
        return;
    }
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            format!("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = '{table}'"),
        ))
        .await
        .expect("schema")
        .expect("the table");
    let mut create: String = row.try_get("", "sql").expect("sql");
    while let Some(start) = create.find(", FOREIGN KEY (") {
        let rest = &create[start..];
        let end = ["ON DELETE SET NULL", "ON DELETE NO ACTION"]
            .iter()
            .filter_map(|action| rest.find(action).map(|at| at + action.len()))
            .min()
            .expect("an action");
        create.replace_range(start..start + end, "");
    }
    let legacy = create.replacen(&format!(r#""{table}""#), r#""legacy""#, 1);
    assert!(!legacy.contains("FOREIGN KEY"), "{legacy}");
    let mut conn = app
        .db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .expect("a connection");
    for sql in [
        "PRAGMA foreign_keys = OFF".to_owned(),
        "BEGIN".to_owned(),
        legacy,
        format!(r#"INSERT INTO "legacy" SELECT * FROM "{table}""#),
        format!(r#"DROP TABLE "{table}""#),
        format!(r#"ALTER TABLE "legacy" RENAME TO "{table}""#),
        "COMMIT".to_owned(),
        "PRAGMA foreign_keys = ON".to_owned(),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .expect("legacy table");
    }
}

/// A product of acme, and an order of it by carl.
async fn product_with_an_order(app: &TestApp) -> (String, String) {
    let product = app
        .post(
            "/products",
            json!({"name": "Referenced lamp", "price": 250}),
        )
        .await;
    assert_eq!(product.status, 201, "{}", product.body);
    let carl = shop_token("carl", "acme", &[]);
    let order = app
        .as_(&carl)
        .post(
            "/orders",
            json!({"product_id": product.id(), "quantity": 2}),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    (product.id(), order.id())
}

/// A category, made by the platform's admin.
async fn category(app: &TestApp, slug: &str) -> String {
    let root = platform_admin();
    let made = app
        .as_(&root)
        .post("/categories", json!({"name": slug, "slug": slug}))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    made.id()
}

/// Each `#[field(references = ..)]` is a foreign key: `NO ACTION` (refused) when the field is
/// required, `SET NULL` when it may be empty.
async fn references_are_foreign_keys_of_the_schema(backend: Backend) {
    let shop = backend.app(arc_tests::shop_app).await;
    assert_eq!(
        foreign_keys(&shop, "products").await,
        ["category_id -> categories(id) on delete SET NULL"]
    );
    assert_eq!(
        foreign_keys(&shop, "orders").await,
        ["product_id -> products(id) on delete NO ACTION"]
    );
    assert_eq!(
        foreign_keys(&shop, "categories").await,
        Vec::<String>::new()
    );
    shop.cleanup().await;
    let teams = backend.app(arc_tests::teams::app).await;
    assert_eq!(
        foreign_keys(&teams, "tasks").await,
        ["project_id -> projects(id) on delete NO ACTION"]
    );
    teams.cleanup().await;
}

/// Deleting a project that tasks still reference is a 409 (alone or in bulk), the project
/// stays; once its tasks are gone it goes. The answer says that rows reference it, not which.
async fn a_row_still_referenced_is_not_deleted(backend: Backend) {
    let app = backend.app(arc_tests::teams::app).await;
    let admin = bearer("root", &["admin"], None, &[]);
    let project = app
        .as_(&admin)
        .post("/projects", json!({"name": "p1", "team": "red"}))
        .await;
    assert_eq!(project.status, 201, "{}", project.body);
    let task = app
        .as_(&admin)
        .post("/tasks", json!({"title": "t1", "project_id": project.id()}))
        .await;
    assert_eq!(task.status, 201, "{}", task.body);
    let uri = format!("/projects/{}", project.id());
    let refused = app.as_(&admin).delete(&uri).await;
    assert_error(&refused, 409, "CONFLICT");
    assert!(
        !refused.body.to_string().contains(&task.id()),
        "the answer names no referencing row: {}",
        refused.body
    );
    let bulk = app
        .as_(&admin)
        .delete_with("/projects/bulk", json!({"filter": {"name": "p1"}}))
        .await;
    assert_error(&bulk, 409, "CONFLICT");
    assert_eq!(app.as_(&admin).get(&uri).await.status, 200, "still there");
    let gone = app
        .as_(&admin)
        .delete(&format!("/tasks/{}", task.id()))
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    let deleted = app.as_(&admin).delete(&uri).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_error(&app.as_(&admin).get(&uri).await, 404, "NOT_FOUND");
    app.cleanup().await;
}

/// A product's category is optional: deleting the category clears it on the product, and
/// the product list, cached before, shows it cleared at once.
async fn a_nullable_reference_is_cleared_with_its_row(backend: Backend) {
    let app = backend.app(arc_tests::shop_app).await;
    let toys = category(&app, "toys").await;
    let made = app
        .post(
            "/products",
            json!({"name": "Cleared lamp", "price": 250, "category_id": toys}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let uri = "/products?name=Cleared%20lamp";
    let first = app.get(uri).await;
    assert_eq!(first.column("category_id"), [json!(toys)]);
    let again = app.get(uri).await;
    assert_eq!(
        again.header("x-cache"),
        Some("HIT"),
        "cached before the delete"
    );
    let root = platform_admin();
    let deleted = app
        .send(
            Method::DELETE,
            &format!("/categories/{toys}"),
            None,
            &[("authorization", &root)],
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let after = app.get(uri).await;
    assert_ne!(
        after.header("x-cache"),
        Some("HIT"),
        "the delete made it old"
    );
    assert_eq!(after.column("category_id"), [json!(null)]);
    let one = app.get(&format!("/products/{}", made.id())).await;
    assert_eq!(one.body["data"]["category_id"], json!(null));
    app.cleanup().await;
}

/// A badge's membership is optional, and badges are cached without embedding memberships:
/// deleting the membership clears the badge's reference, and that alone makes the cached
/// badge list old.
async fn a_cached_answer_is_made_old_by_the_clearing(backend: Backend) {
    let app = backend.app(arc_tests::teams::app).await;
    let admin = bearer("root", &["admin"], None, &[]);
    let member = app
        .as_(&admin)
        .post("/memberships", json!({"user_id": "alice", "team": "red"}))
        .await;
    assert_eq!(member.status, 201, "{}", member.body);
    let badge = app
        .as_(&admin)
        .post(
            "/badges",
            json!({"label": "first", "membership_id": member.id()}),
        )
        .await;
    assert_eq!(badge.status, 201, "{}", badge.body);
    let uri = "/badges?label=first";
    assert_eq!(
        app.as_(&admin).get(uri).await.column("membership_id"),
        [json!(member.id())]
    );
    let again = app.as_(&admin).get(uri).await;
    assert_eq!(
        again.header("x-cache"),
        Some("HIT"),
        "cached before the delete"
    );
    let deleted = app
        .as_(&admin)
        .delete(&format!("/memberships/{}", member.id()))
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let after = app.as_(&admin).get(uri).await;
    assert_ne!(
        after.header("x-cache"),
        Some("HIT"),
        "the delete made it old"
    );
    assert_eq!(after.column("membership_id"), [json!(null)]);
    app.cleanup().await;
}

/// A table made before arc had foreign keys: the plan adds its key (on SQLite by rebuilding
/// `products`, which `orders` references: no order is lost or changed by it), `up` makes
/// it, and then nothing is left to do.
async fn a_deployed_table_gains_its_foreign_key(backend: Backend) {
    let app = backend.app(arc_tests::shop_app).await;
    let toys = category(&app, "toys-deployed").await;
    let lamp = app
        .post(
            "/products",
            json!({"name": "Deployed lamp", "price": 250, "category_id": toys}),
        )
        .await;
    assert_eq!(lamp.status, 201, "{}", lamp.body);
    let (product, order) = product_with_an_order(&app).await;
    // `orders` keeps its key to `products`: with SQLite's foreign keys on, dropping the old
    // `products` in its rebuild would be refused (or, were the key `SET NULL`, clear them).
    strip_foreign_keys(&app, "products").await;
    assert_eq!(foreign_keys(&app, "products").await, Vec::<String>::new());
    let counts = (
        app.scalar("SELECT COUNT(*) FROM products").await,
        app.scalar("SELECT COUNT(*) FROM orders").await,
    );
    let migrator = arc_tests::shop_app(app.db.clone()).migrator();
    let plan = migrator.plan(&app.db).await.expect("plan");
    let added: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.summary.contains("foreign key"))
        .collect();
    assert_eq!(added.len(), 1, "{plan}");
    assert!(added.iter().all(|c| c.kind == ChangeKind::Apply), "{plan}");
    assert!(
        plan.to_string()
            .contains("add foreign key (category_id) -> categories(id) on delete SET NULL"),
        "{plan}"
    );
    migrator.up(&app.db, None).await.expect("up");
    assert_eq!(
        foreign_keys(&app, "products").await,
        ["category_id -> categories(id) on delete SET NULL"]
    );
    assert_eq!(
        foreign_keys(&app, "orders").await,
        ["product_id -> products(id) on delete NO ACTION"]
    );
    let after = (
        app.scalar("SELECT COUNT(*) FROM products").await,
        app.scalar("SELECT COUNT(*) FROM orders").await,
    );
    assert_eq!(after, counts, "every row kept");
    let kept = app.get(&format!("/orders/{order}")).await;
    assert_eq!(
        kept.body["data"]["product_id"],
        json!(product),
        "{}",
        kept.body
    );
    let lamp_now = app.get(&format!("/products/{}", lamp.id())).await;
    assert_eq!(lamp_now.body["data"]["category_id"], json!(toys));
    let plan = migrator.plan(&app.db).await.expect("plan");
    assert!(plan.is_empty(), "{plan}");
    assert_eq!(plan.changes, Vec::<Change>::new(), "{plan}");
    app.cleanup().await;
}

/// A row that references a row that does not exist (possible only without the foreign key)
/// holds it back: the plan refuses it, with the SQL that clears such rows (the order is
/// deleted, the product's category cleared); run as the app's own migration would, the
/// next `up` adds the keys.
async fn rows_referencing_nothing_hold_the_foreign_key_back(backend: Backend) {
    let app = backend.app(arc_tests::shop_app).await;
    let (product, order) = product_with_an_order(&app).await;
    for table in ["products", "orders"] {
        strip_foreign_keys(&app, table).await;
    }
    let nowhere = arc_runtime::uuid::Uuid::new_v4();
    let set = |table: &str, column: &str, id: &str| {
        Statement::from_sql_and_values(
            app.db.get_database_backend(),
            format!(r#"UPDATE "{table}" SET "{column}" = $1 WHERE "id" = $2"#),
            [
                Value::from(nowhere),
                Value::from(arc_runtime::uuid::Uuid::parse_str(id).expect("uuid")),
            ],
        )
    };
    for (table, column, id) in [
        ("orders", "product_id", &order),
        ("products", "category_id", &product),
    ] {
        let done = app
            .db
            .execute_raw(set(table, column, id))
            .await
            .expect("set");
        assert_eq!(done.rows_affected(), 1);
    }
    let migrator = arc_tests::shop_app(app.db.clone()).migrator();
    let plan = migrator.plan(&app.db).await.expect("plan");
    let refused: Vec<&Change> = plan.refused().collect();
    assert_eq!(refused.len(), 2, "{plan}");
    assert!(
        refused
            .iter()
            .all(|c| c.summary.contains("1 row(s) reference a row of")),
        "{plan}"
    );
    let error = migrator.up(&app.db, None).await.expect_err("refused");
    assert!(error.to_string().contains("add foreign key"), "{error}");
    assert_eq!(foreign_keys(&app, "orders").await, Vec::<String>::new());
    for change in &refused {
        for sql in &change.sql {
            app.db.execute_unprepared(sql).await.expect(sql);
        }
    }
    migrator.up(&app.db, None).await.expect("up");
    assert_eq!(
        foreign_keys(&app, "orders").await,
        ["product_id -> products(id) on delete NO ACTION"]
    );
    assert_error(
        &app.get(&format!("/orders/{order}")).await,
        404,
        "NOT_FOUND",
    );
    let cleared = app.get(&format!("/products/{product}")).await;
    assert_eq!(cleared.body["data"]["category_id"], json!(null));
    app.cleanup().await;
}

/// On SQLite a foreign key comes by rebuilding the table, which would drop what the app made
/// on it: with an index of the app's own there, the plan refuses (the SQL goes in a migration
/// of the app's, which makes the index again) and `up` leaves the table as it is. PostgreSQL
/// adds the key in place, and the index stays.
async fn an_apps_own_index_is_never_rebuilt_away(backend: Backend) {
    let app = backend.app(arc_tests::shop_app).await;
    strip_foreign_keys(&app, "products").await;
    app.db
        .execute_unprepared(r#"CREATE INDEX "own_products_price" ON "products" ("price")"#)
        .await
        .expect("own index");
    let own = || async {
        app.scalar(if app.backend == "postgres" {
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'own_products_price' AND schemaname = current_schema()"
        } else {
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'own_products_price'"
        })
        .await
    };
    let migrator = arc_tests::shop_app(app.db.clone()).migrator();
    let plan = migrator.plan(&app.db).await.expect("plan");
    let key = plan
        .changes
        .iter()
        .find(|c| c.summary.contains("foreign key"))
        .expect("the key's change");
    if app.backend == "postgres" {
        assert_eq!(key.kind, ChangeKind::Apply, "{plan}");
        migrator.up(&app.db, None).await.expect("up");
        assert_eq!(
            foreign_keys(&app, "products").await,
            ["category_id -> categories(id) on delete SET NULL"]
        );
    } else {
        assert_eq!(key.kind, ChangeKind::Refuse, "{plan}");
        assert!(key.summary.contains("own_products_price"), "{plan}");
        let error = migrator.up(&app.db, None).await.expect_err("refused");
        assert!(error.to_string().contains("own_products_price"), "{error}");
        assert_eq!(foreign_keys(&app, "products").await, Vec::<String>::new());
    }
    assert_eq!(own().await, 1, "the app's index is still there");
    app.cleanup().await;
}
