//! The open product resource written by hand in plain axum + sea-orm: what a careful person
//! writes for the same three routes, with the same JSON, to measure the generated layer against.

use crate::open::open_product_entity as product;
use arc_runtime::TextEnum;
use arc_runtime::chrono::{DateTime, Utc};
use arc_runtime::sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use arc_runtime::uuid::Uuid;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use shop::ProductStatus;

#[derive(Serialize)]
struct ProductOut<'a> {
    id: Uuid,
    org_id: &'a Option<String>,
    name: &'a str,
    slug: &'a Option<String>,
    price: i64,
    status: &'a str,
    category_id: Option<Uuid>,
    cost: Option<i64>,
    is_featured: bool,
    created_by: &'a Option<String>,
    deleted_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl<'a> From<&'a product::Model> for ProductOut<'a> {
    fn from(m: &'a product::Model) -> Self {
        Self {
            id: m.id,
            org_id: &m.org_id,
            name: &m.name,
            slug: &m.slug,
            price: m.price,
            status: &m.status,
            category_id: m.category_id,
            cost: m.cost,
            is_featured: m.is_featured,
            created_by: &m.created_by,
            deleted_at: m.deleted_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The error envelope every server of the bench answers with.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "success": false, "error": message });
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
struct Paging {
    page: Option<u64>,
    limit: Option<u64>,
}

async fn list(State(db): State<DatabaseConnection>, Query(q): Query<Paging>) -> Response {
    let page = q.page.unwrap_or(1).max(1);
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    let base = product::Entity::find().filter(product::Column::DeletedAt.is_null());
    let rows = base
        .clone()
        .order_by_desc(product::Column::CreatedAt)
        .order_by_asc(product::Column::Id)
        .offset((page - 1) * limit)
        .limit(limit);
    let (total, docs) = match tokio::try_join!(base.count(&db), rows.all(&db)) {
        Ok(r) => r,
        Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    };
    let docs: Vec<_> = docs.iter().map(ProductOut::from).collect();
    Json(Page::new(docs, page, limit, total)).into_response()
}

/// A list's answer, as every server of the bench writes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<T> {
    success: bool,
    docs: Vec<T>,
    page: u64,
    limit: u64,
    total: u64,
    pages: u64,
    has_next: bool,
    has_prev: bool,
}

impl<T> Page<T> {
    /// Page `page` of `limit` rows, `docs`, of `total`.
    pub(crate) fn new(docs: Vec<T>, page: u64, limit: u64, total: u64) -> Self {
        let pages = total.div_ceil(limit);
        Self {
            success: true,
            docs,
            page,
            limit,
            total,
            pages,
            has_next: page < pages,
            has_prev: page > 1,
        }
    }
}

async fn get_one(State(db): State<DatabaseConnection>, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return error(StatusCode::NOT_FOUND, "product not found");
    };
    let found = product::Entity::find_by_id(id)
        .filter(product::Column::DeletedAt.is_null())
        .one(&db)
        .await;
    match found {
        Ok(Some(m)) => Json(serde_json::json!({ "success": true, "data": ProductOut::from(&m) }))
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "product not found"),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

/// A create's body, as every server of the bench reads it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewProduct {
    pub(crate) name: String,
    pub(crate) slug: Option<String>,
    pub(crate) price: i64,
    #[serde(default)]
    pub(crate) status: ProductStatus,
    pub(crate) category_id: Option<Uuid>,
    pub(crate) cost: Option<i64>,
    pub(crate) internal_note: Option<String>,
    #[serde(default)]
    pub(crate) is_featured: bool,
}

impl NewProduct {
    /// Whether the body breaks the resource's field rules (the 400 every server answers).
    pub(crate) fn invalid(&self) -> bool {
        let name_len = self.name.chars().count();
        !(1..=200).contains(&name_len) || self.price < 0 || self.cost.is_some_and(|c| c < 0)
    }
}

async fn create(State(db): State<DatabaseConnection>, Json(p): Json<NewProduct>) -> Response {
    if p.invalid() {
        return error(StatusCode::BAD_REQUEST, "Validation failed");
    }
    let now = Utc::now();
    let row = product::ActiveModel {
        id: Set(Uuid::new_v4()),
        org_id: Set(None),
        name: Set(p.name),
        slug: Set(p.slug),
        price: Set(p.price),
        status: Set(p.status.as_str().to_owned()),
        category_id: Set(p.category_id),
        cost: Set(p.cost),
        internal_note: Set(p.internal_note),
        is_featured: Set(p.is_featured),
        created_by: Set(None),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let inserted = async {
        let txn = db.begin().await?;
        let m = row.insert(&txn).await?;
        txn.commit().await?;
        Ok::<_, arc_runtime::sea_orm::DbErr>(m)
    }
    .await;
    match inserted {
        Ok(m) => {
            let body = serde_json::json!({ "success": true, "data": ProductOut::from(&m), "message": "Created successfully" });
            let location = format!("/products/{}", m.id);
            (
                StatusCode::CREATED,
                [(header::LOCATION, location)],
                Json(body),
            )
                .into_response()
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

/// The hand-written router.
pub(crate) fn router(db: DatabaseConnection) -> axum::Router {
    axum::Router::new()
        .route("/products", get(list).post(create))
        .route("/products/{id}", get(get_one))
        .with_state(db)
}
