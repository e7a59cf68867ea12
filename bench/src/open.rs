//! The shop's product as an open resource: the same fields, presets and query settings,
//! without authentication, permissions or tenancy. The baseline the hand-written router and
//! the secured shop resource are measured against.

use arc_runtime::prelude::*;
use shop::ProductStatus;

/// A product, open to anyone.
#[resource(
    name = "product",
    table = "products",
    presets(soft_delete, slug_lookup, bulk),
    query(
        filter = [name, price, status, category_id, is_featured, created_at],
        sort = [name, price, created_at],
        search = [name]
    )
)]
#[permissions(default = public)]
#[expect(
    dead_code,
    reason = "declares the resource; rows travel as its entity's model"
)]
pub(crate) struct OpenProduct {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: Option<String>,
    #[field(min_len = 1, max_len = 200)]
    pub name: String,
    #[field(min_len = 1, max_len = 200)]
    pub slug: Option<String>,
    #[field(range(min = 0))]
    pub price: i64,
    #[field(default)]
    pub status: ProductStatus,
    pub category_id: Option<Uuid>,
    #[field(range(min = 0))]
    pub cost: Option<i64>,
    #[field(hidden, max_len = 2000)]
    pub internal_note: Option<String>,
    #[field(default)]
    pub is_featured: bool,
    #[field(system)]
    pub created_by: Option<String>,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
