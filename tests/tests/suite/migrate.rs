//! The generated migrations: up, down, up again, on each backend.

use arc_runtime::sea_orm::{ConnectionTrait, Statement};
use arc_tests::{TestApp, on_both};
use serde_json::json;

on_both!(
    up_down_up,
    migrator_records_steps_and_fresh,
    older_tables_move_to_uniqueness_per_tenant
);

async fn count(app: &TestApp, table: &str) -> Result<(), arc_runtime::sea_orm::DbErr> {
    let backend = app.db.get_database_backend();
    app.db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT COUNT(*) FROM {table}"),
        ))
        .await
        .map(|_| ())
}

async fn up_down_up(app: &TestApp) {
    let migrations = arc_tests::shop_app(app.db.clone());
    for table in ["categories", "products", "orders"] {
        assert!(count(app, table).await.is_ok(), "{table} exists after up");
    }
    migrations.migrate().await.expect("up is idempotent");
    migrations.migrate_down().await.expect("down");
    for table in ["categories", "products", "orders"] {
        assert!(
            count(app, table).await.is_err(),
            "{table} is gone after down"
        );
    }
    migrations
        .migrate_down()
        .await
        .expect("down twice is harmless");
    migrations.migrate().await.expect("up again");
    assert_eq!(
        app.get("/products").await.body["total"],
        0,
        "fresh and empty"
    );
    let created = app
        .post(
            "/products",
            json!({"name": "Again", "price": 1, "slug": "again"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let dup = app
        .post(
            "/products",
            json!({"name": "Again", "price": 1, "slug": "again"}),
        )
        .await;
    assert_eq!(dup.status, 409, "the unique slug index came back too");
}

async fn migrator_records_steps_and_fresh(app: &TestApp) {
    let shop = arc_tests::shop_app(app.db.clone());
    let migrator = shop.migrator();
    let names = [
        "m_arc_create_categories",
        "m_arc_unique_per_scope_categories",
        "m_arc_create_products",
        "m_arc_unique_per_scope_products",
        "m_arc_create_orders",
        // The events plugin's outbox, dead letters and relay lease, after the resources.
        "m_arc_create_event_tables",
        // The audit trail's table (orders are audited).
        "m_arc_create_audit_table",
    ];
    let status = |applied: [bool; 7]| -> Vec<(String, bool)> {
        names
            .iter()
            .zip(applied)
            .map(|(n, a)| ((*n).to_owned(), a))
            .collect()
    };
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([true; 7]));
    migrator.down(&app.db, Some(3)).await.expect("down three");
    assert_eq!(
        migrator.status(&app.db).await.unwrap(),
        status([true, true, true, true, false, false, false])
    );
    assert!(
        count(app, "arc_audit").await.is_err(),
        "the audit trail dropped"
    );
    assert!(
        count(app, "arc_outbox").await.is_err(),
        "the outbox dropped"
    );
    assert!(count(app, "orders").await.is_err(), "orders dropped");
    assert!(count(app, "products").await.is_ok(), "products kept");
    migrator.up(&app.db, None).await.expect("up");
    assert_eq!(
        migrator.pending(&app.db).await.unwrap(),
        Vec::<String>::new()
    );

    let created = app
        .post("/products", json!({"name": "Kept?", "price": 1}))
        .await;
    assert_eq!(created.status, 201);
    migrator.fresh(&app.db).await.expect("fresh");
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([true; 7]));
    assert_eq!(
        app.get("/products").await.body["total"],
        0,
        "fresh drops rows"
    );

    migrator.down(&app.db, None).await.expect("down all");
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([false; 7]));
    migrator.up(&app.db, None).await.expect("up again");
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([true; 7]));
}

/// A products table as it was made before uniqueness per tenant: `slug` UNIQUE across every
/// organization, deleted rows included, and its migration not yet recorded.
async fn make_legacy_products(app: &TestApp) {
    let db = &app.db;
    let backend = db.get_database_backend();
    let legacy = if app.backend == "postgres" {
        vec![
            r#"DROP INDEX "uq-products-slug""#.to_owned(),
            "ALTER TABLE products ADD CONSTRAINT products_slug_key UNIQUE (slug)".to_owned(),
        ]
    } else {
        let row = db
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'products'",
            ))
            .await
            .unwrap()
            .unwrap();
        let sql: String = row.try_get("", "sql").unwrap();
        let with_unique = sql.replacen(r#""slug" varchar"#, r#""slug" varchar UNIQUE"#, 1);
        assert_ne!(sql, with_unique, "{sql}");
        vec![
            "ALTER TABLE products RENAME TO products_before".to_owned(),
            with_unique,
            "INSERT INTO products SELECT * FROM products_before".to_owned(),
            "DROP TABLE products_before".to_owned(),
        ]
    };
    for sql in legacy {
        db.execute_unprepared(&sql).await.expect(&sql);
    }
    db.execute_unprepared(
        "DELETE FROM seaql_migrations WHERE version = 'm_arc_unique_per_scope_products'",
    )
    .await
    .unwrap();
}

async fn older_tables_move_to_uniqueness_per_tenant(app: &TestApp) {
    make_legacy_products(app).await;
    let gus = arc_tests::shop_token("gus", "globex", &["admin"]);
    let by_gus = || async {
        app.send(
            axum::http::Method::POST,
            "/products",
            Some(json!({"name": "G", "price": 1, "slug": "shared"})),
            &[("authorization", gus.as_str())],
        )
        .await
    };
    let acme = app
        .post(
            "/products",
            json!({"name": "A", "price": 1, "slug": "shared"}),
        )
        .await;
    assert_eq!(acme.status, 201, "{}", acme.body);
    assert_eq!(
        by_gus().await.status,
        409,
        "the old table is unique across orgs"
    );

    let shop = arc_tests::shop_app(app.db.clone());
    assert_eq!(
        shop.migrator().pending(&app.db).await.unwrap(),
        ["m_arc_unique_per_scope_products"]
    );
    shop.migrate().await.expect("the move");
    assert_eq!(by_gus().await.status, 201, "unique per tenant now");
    assert_eq!(by_gus().await.status, 409, "and still unique inside one");
    let acme_rows = app.get("/products?limit=1").await.body["total"].clone();
    assert_eq!(acme_rows, 51, "every row was kept");
    shop.migrate().await.expect("up again is a no-op");
    let id = acme.body["data"]["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/products/{id}")).await.status, 200);
    let again = app
        .post(
            "/products",
            json!({"name": "A2", "price": 1, "slug": "shared"}),
        )
        .await;
    assert_eq!(again.status, 201, "a deleted row released its slug");
}
