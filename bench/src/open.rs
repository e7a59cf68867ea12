//! The shop's product as an open resource: the same fields, presets and query settings,
//! without authentication, permissions or tenancy. The baseline the hand-written router and
//! the secured shop resource are measured against; and the same resource with the query
//! cache on, fresh for an hour (every read a `HIT` once kept) or never (every read `STALE`).

// The structs declare resources (rows travel as their entities' models), and their create
// and patch types serve the document, never built here; which of them the lint sees as
// unused differs between the binary and its tests, so it is allowed, not expected.
#![allow(
    dead_code,
    reason = "declarations: rows travel as the entities' models"
)]

use arc_runtime::prelude::*;
use shop::ProductStatus;

/// The product's struct under `#[resource(name = "product", table = "products", ..)]` with
/// the settings given: one field list for every variant measured.
macro_rules! product {
    ($name:ident $(, $($setting:tt)+)?) => {
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
            $(, $($setting)+)?
        )]
        #[permissions(default = public)]
        pub(crate) struct $name {
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
    };
}

product!(OpenProduct);
product!(CachedProduct, cache(stale = "1h", expire = "1h"));
product!(StaleProduct, cache(stale = "0s", expire = "1h"));
