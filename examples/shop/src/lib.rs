//! The reference app of arc-rs: a multi-tenant shop of categories, products and orders.
//!
//! [`app`] mounts the resources; [`seed`] fills an empty database with demo data. The binary
//! (`cargo run -p shop`) wires them to the environment; the black-box tests use them directly.

pub mod resources;
pub mod seed;

use arc_runtime::App;
use arc_runtime::sea_orm::DatabaseConnection;

pub use resources::*;

/// The shop's application over `db`: every resource mounted.
pub fn app(db: DatabaseConnection) -> App {
    App::new(db)
        .resource::<Category>()
        .resource::<Product>()
        .resource::<Order>()
}
