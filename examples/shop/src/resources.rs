//! The shop's resources: categories, products and orders, as plain structs.

// A field's doc comment becomes its description in the OpenAPI document (and its reviewed
// snapshot): the fields whose names say all are left without one.
#![allow(
    missing_docs,
    reason = "plain fields are described by their names and types"
)]

use arc_runtime::prelude::*;
use arc_runtime::sea_orm::{ActiveValue, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

/// A product category; categories nest through `parent_id`.
#[resource(
    presets(slug_lookup, tree),
    query(
        filter = [name, slug, parent_id],
        sort = [name, created_at],
        search = [name],
        default_sort = "name"
    )
)]
#[permissions(
    list = public,
    get = public,
    tree = public,
    default = roles("admin"),
)]
pub struct Category {
    #[field(id)]
    pub id: Uuid,
    #[field(min_len = 1, max_len = 100)]
    pub name: String,
    #[field(min_len = 1, max_len = 100)]
    pub slug: String,
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a product is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    /// Not yet for sale (the default).
    #[default]
    Draft,
    /// For sale.
    Active,
    /// No longer for sale.
    Archived,
}

/// A product of one organization's catalog. Prices are integers in minor units (cents).
#[resource(
    hooks,
    presets(soft_delete, slug_lookup, bulk, multi_tenant(field = "org_id")),
    cache(stale = "30s", expire = "5m"),
    query(
        filter = [name, price, status, category_id, is_featured, created_at],
        sort = [name, price, created_at],
        search = [name],
        populate = [category]
    )
)]
#[permissions(
    list = org_member,
    get = org_member,
    create = roles("editor"),
    update = any(roles("admin"), all(roles("editor"), owner("created_by"))),
    default = roles("admin"),
)]
pub struct Product {
    #[field(id)]
    pub id: Uuid,
    /// The owning organization (the caller's, set by the multi-tenant preset).
    #[field(system)]
    pub org_id: String,
    #[field(min_len = 1, max_len = 200)]
    pub name: String,
    #[field(min_len = 1, max_len = 200)]
    pub slug: Option<String>,
    #[field(range(min = 0))]
    pub price: i64,
    #[field(default)]
    pub status: ProductStatus,
    #[field(references = Category)]
    pub category_id: Option<Uuid>,
    /// What the product costs the shop: only admins see it.
    #[field(range(min = 0), visible_to("admin"))]
    pub cost: Option<i64>,
    #[field(hidden, max_len = 2000)]
    pub internal_note: Option<String>,
    /// Shown first in the storefront; only admins may set it.
    #[field(default, writable_by("admin"))]
    pub is_featured: bool,
    /// Who created it (the caller, set by a hook).
    #[field(system)]
    pub created_by: String,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    /// Placed, not paid (the default).
    #[default]
    Pending,
    /// Paid.
    Paid,
    /// On its way.
    Shipped,
    /// Called off.
    Cancelled,
}

/// An order of one product; its total is computed by the server.
///
/// Admins see and update their organization's orders; anyone else sees only their own.
/// Orders are never deleted: their customer (or an admin) cancels a pending one with
/// `POST /orders/{id}/action` `{"action": "cancel", "reason": ".."}`. Its status moves
/// `pending -> paid -> shipped`, or `pending -> cancelled`, and no other way. Every write of
/// one is in the audit trail (`GET /_audit`). A client that may retry sends an
/// `idempotency-key`: one order per key.
#[resource(
    hooks,
    idempotency,
    presets(
        multi_tenant(field = "org_id"),
        owned_by_user(field = "customer_id", bypass("admin")),
        audited
    ),
    query(
        filter = [status, product_id, total, created_at],
        sort = [total, created_at],
        populate = [product]
    ),
    actions(cancel(
        /// Why (1 to 500 characters).
        reason: String
    ))
)]
#[permissions(
    list = org_member,
    get = org_member,
    create = org_member,
    update = roles("admin"),
    delete = deny,
    cancel = org_member,
)]
pub struct Order {
    #[field(id)]
    pub id: Uuid,
    /// The organization it was placed in.
    #[field(system)]
    pub org_id: String,
    /// The caller who placed it.
    #[field(system)]
    pub customer_id: String,
    /// A product of the order's organization.
    #[field(references = Product)]
    pub product_id: Uuid,
    #[field(range(min = 1, max = 1000))]
    pub quantity: i32,
    /// `price × quantity`, computed on every write.
    #[field(system)]
    pub total: i64,
    /// Where the order is: written by admins only (a member's order starts `pending`), along
    /// its declared transitions; its customer may also cancel it while `pending`.
    #[field(
        default,
        writable_by("admin"),
        states(pending -> paid -> shipped, pending -> cancelled)
    )]
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn set_value<T: Clone + Into<arc_runtime::sea_orm::Value>>(v: &ActiveValue<T>) -> Option<T> {
    match v {
        ActiveValue::Set(v) | ActiveValue::Unchanged(v) => Some(v.clone()),
        ActiveValue::NotSet => None,
    }
}

/// Computes `total` from the ordered product's price. The reference on `product_id` has
/// already refused a product the customer cannot read; one deleted since (in the moment
/// between that check and this read) is the same validation error on `product_id`.
async fn price_order(
    ctx: &WriteContext<'_>,
    row: &mut order_entity::ActiveModel,
) -> Result<(), ArcError> {
    let (Some(product_id), Some(quantity)) = (set_value(&row.product_id), set_value(&row.quantity))
    else {
        return Ok(());
    };
    let org = ctx.caller.org_id.clone().unwrap_or_default();
    let product = product_entity::Entity::find_by_id(product_id)
        .filter(product_entity::Column::DeletedAt.is_null())
        .filter(product_entity::Column::OrgId.eq(org))
        .one(ctx.txn)
        .await?
        .ok_or_else(|| {
            ArcError::validation(vec![arc_runtime::FieldError {
                field: "product_id".into(),
                message: "no such product".into(),
                keyword: "exists",
            }])
        })?;
    // Exact or refused: a total that does not fit is the client's problem to hear about,
    // never a wrapped or saturated number.
    let total = product
        .price
        .checked_mul(i64::from(quantity))
        .ok_or_else(|| {
            ArcError::validation(vec![arc_runtime::FieldError {
                field: "quantity".into(),
                message: format!(
                    "the total ({} × {quantity}) is larger than the largest total ({})",
                    product.price,
                    i64::MAX
                ),
                keyword: "maximum",
            }])
        })?;
    row.total = ActiveValue::Set(total);
    Ok(())
}

impl Hooks for Product {
    /// Records who created the product.
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut product_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        let user = ctx.caller.user_id.clone().unwrap_or_default();
        row.created_by = ActiveValue::Set(user);
        Ok(())
    }
}

impl Hooks for Order {
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut order_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        price_order(ctx, row).await
    }

    async fn before_update(
        ctx: &WriteContext<'_>,
        current: &order_entity::Model,
        row: &mut order_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        if row.product_id.is_set() && set_value(&row.product_id) != Some(current.product_id)
            || row.quantity.is_set() && set_value(&row.quantity) != Some(current.quantity)
        {
            price_order(ctx, row).await?;
        }
        Ok(())
    }
}

/// Published when an order is cancelled, with the customer's reason.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OrderCancelled {
    /// The order.
    pub order_id: Uuid,
    /// Why, in the words of whoever cancelled it.
    pub reason: String,
}

impl arc_runtime::DomainEvent for OrderCancelled {
    const NAME: &'static str = "order.cancelled";
}

/// The longest reason a cancellation keeps.
const MAX_REASON: usize = 500;

impl Actions for Order {
    type Action = OrderAction;

    /// `cancel`: the order becomes `cancelled` (its states allow it from `pending` only: any
    /// other is a 409), and `order.cancelled` carries the reason.
    async fn act(
        ctx: &WriteContext<'_>,
        current: &order_entity::Model,
        action: OrderAction,
        row: &mut order_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        match action {
            OrderAction::Cancel { reason } => {
                let reason = reason.trim();
                let keyword = match reason.chars().count() {
                    0 => Some("minLength"),
                    n if n > MAX_REASON => Some("maxLength"),
                    _ => None,
                };
                if let Some(keyword) = keyword {
                    return Err(ArcError::validation(vec![arc_runtime::FieldError {
                        field: "reason".into(),
                        message: format!("says why, in 1 to {MAX_REASON} characters"),
                        keyword,
                    }]));
                }
                row.status = ActiveValue::Set(OrderStatus::Cancelled.as_str().to_owned());
                ctx.publish(&OrderCancelled {
                    order_id: current.id,
                    reason: reason.to_owned(),
                })
                .await?;
            }
        }
        Ok(())
    }
}
