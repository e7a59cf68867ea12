use arc_runtime::prelude::*;

#[resource(actions(
    cancel(reason: String),
    cancel,
    update,
    approve(action: String, note: String, note: i32),
    ship,
    markPaid,
    refund(r#action: i64, #[serde(default)] amount: i64)
))]
#[permissions(
    default = authenticated,
    cancle = authenticated,
    ship = roles("admin"),
    markPaid = authenticated,
    refund = authenticated
)]
pub struct Order {
    #[field(id)]
    pub id: Uuid,
    pub note: String,
}

#[resource(actions())]
#[permissions(default = authenticated)]
pub struct Empty {
    #[field(id)]
    pub id: Uuid,
}

fn main() {}
