//! Demo data for an empty database: two organizations (`acme`, `globex`), a small category
//! tree, and 50 products per organization.

use arc_runtime::chrono::{Duration, Utc};
use arc_runtime::sea_orm::{
    ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
};
use arc_runtime::uuid::Uuid;

use crate::resources::{category_entity, product_entity};

/// The demo organizations.
pub const ORGS: [&str; 2] = ["acme", "globex"];
/// Products seeded per organization.
pub const PRODUCTS_PER_ORG: usize = 50;

/// Seeds the database when it has no category yet; returns whether it did.
pub async fn seed(db: &DatabaseConnection) -> Result<bool, DbErr> {
    if category_entity::Entity::find().count(db).await? > 0 {
        return Ok(false);
    }
    let now = Utc::now();
    let category = |name: &str, slug: &str, parent: Option<Uuid>| category_entity::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.into()),
        slug: Set(slug.into()),
        parent_id: Set(parent),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let electronics = category("Electronics", "electronics", None);
    let books = category("Books", "books", None);
    let parent = electronics.id.clone().unwrap();
    let leaves = [
        category("Phones", "phones", Some(parent)),
        category("Laptops", "laptops", Some(parent)),
        category("Audio", "audio", Some(parent)),
    ];
    let category_ids: Vec<Uuid> = [&electronics, &books]
        .into_iter()
        .chain(leaves.iter())
        .map(|c| c.id.clone().unwrap())
        .collect();
    category_entity::Entity::insert_many([electronics, books].into_iter().chain(leaves))
        .exec(db)
        .await?;

    let statuses = ["draft", "active", "active", "archived"];
    let mut products = Vec::with_capacity(ORGS.len() * PRODUCTS_PER_ORG);
    for org in ORGS {
        for n in 1..=PRODUCTS_PER_ORG {
            let created = now - Duration::minutes((PRODUCTS_PER_ORG - n) as i64);
            products.push(product_entity::ActiveModel {
                id: Set(Uuid::new_v4()),
                org_id: Set(org.into()),
                name: Set(format!("{} Product {n}", capitalize(org))),
                slug: Set(Some(format!("{org}-product-{n}"))),
                price: Set(100 * n as i64),
                status: Set(statuses[n % statuses.len()].into()),
                category_id: Set(Some(category_ids[n % category_ids.len()])),
                cost: Set(Some(60 * n as i64)),
                internal_note: Set(Some(format!("seeded #{n}"))),
                is_featured: Set(n % 10 == 0),
                created_by: Set("seed".into()),
                deleted_at: Set(None),
                created_at: Set(created),
                updated_at: Set(created),
            });
        }
    }
    product_entity::Entity::insert_many(products)
        .exec(db)
        .await?;
    Ok(true)
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
