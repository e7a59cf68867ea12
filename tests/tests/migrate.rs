//! The generated migrations: up, down, up again, on each backend.

use arc_runtime::sea_orm::{ConnectionTrait, Statement};
use arc_tests::{TestApp, on_both};
use serde_json::json;

on_both!(up_down_up, migrator_records_steps_and_fresh);

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
        "m_arc_create_products",
        "m_arc_create_orders",
    ];
    let status = |applied: [bool; 3]| -> Vec<(String, bool)> {
        names
            .iter()
            .zip(applied)
            .map(|(n, a)| ((*n).to_owned(), a))
            .collect()
    };
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([true; 3]));
    migrator.down(&app.db, Some(1)).await.expect("down one");
    assert_eq!(
        migrator.status(&app.db).await.unwrap(),
        status([true, true, false])
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
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([true; 3]));
    assert_eq!(
        app.get("/products").await.body["total"],
        0,
        "fresh drops rows"
    );

    migrator.down(&app.db, None).await.expect("down all");
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([false; 3]));
    migrator.up(&app.db, None).await.expect("up again");
    assert_eq!(migrator.status(&app.db).await.unwrap(), status([true; 3]));
}
