//! arc-runtime: what `#[resource]` expands against, and the runtime that serves it.
//!
//! A resource is a plain struct with `#[resource(..)]` on it. The macro declares (the
//! sea-orm entity, the DTOs, a static field table, a route table); this crate acts: it parses
//! queries, validates bodies, runs the CRUD operations in transactions and writes the
//! envelopes of the HTTP contract, once, for every resource.
//!
//! ```
//! use arc_runtime::prelude::*;
//!
//! #[resource(presets(soft_delete), query(filter = [name, price], sort = [price]))]
//! #[permissions(list = public, get = public, default = roles("admin"))]
//! pub struct Product {
//!     #[field(id)] pub id: Uuid,
//!     #[field(min_len = 1, max_len = 200)] pub name: String,
//!     #[field(range(min = 0))] pub price: i64,
//!     #[field(system)] pub deleted_at: Option<DateTime<Utc>>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = arc_runtime::db::connect("sqlite::memory:").await?;
//! let app = App::new(db).resource::<Product>();
//! app.migrate().await?; // creates the `products` table
//! // app.serve("127.0.0.1:3000").await?;
//! # Ok(()) }
//! ```
//!
//! The options of `#[resource(..)]`, `#[field(..)]` and `#[permissions(..)]` are listed on
//! [`macro@resource`] and [`macro@permissions`].

// Library code answers errors; its unit tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod action;
pub mod app;
pub mod auth;
pub mod cli;
pub mod crud;
pub mod db;
pub mod docs;
pub mod enumeration;
pub mod error;
pub mod extract;
pub mod hooks;
pub mod migration;
pub mod openapi;
pub mod permissions;
pub mod plugins;
pub mod preset;
pub mod query;
pub mod registry;
pub mod resource;
pub mod stores;
pub mod telemetry;
pub mod value;
pub mod wire;

pub use action::Action;
pub use app::{App, ArcState};
pub use arc_macros::{Enum, permissions, resource};
pub use auth::{Auth, AuthContext};
pub use enumeration::TextEnum;
pub use error::{ArcError, ErrorCode, FieldError};
pub use hooks::{Hooks, WriteContext};
pub use resource::Resource;

/// What a file of resources needs in scope.
pub mod prelude {
    pub use crate::{
        App, ArcError, Auth, AuthContext, Enum, Hooks, Resource, TextEnum, WriteContext,
        permissions, resource,
    };
    pub use chrono::{DateTime, Utc};
    pub use rust_decimal::Decimal;
    pub use serde_json::Value as Json;
    pub use uuid::Uuid;
}

pub use chrono;
pub use rust_decimal;
pub use sea_orm;
pub use serde_json;
pub use uuid;

/// The paths generated code uses. Not a public API: it changes with the macro.
#[doc(hidden)]
pub mod __private {
    pub use crate::enumeration::{IntoDbValue, TextEnum, default_value};
    pub use crate::hooks::Hooks;
    pub use crate::migration::ResourceMigration;
    pub use crate::permissions::{Permissions, Rule};
    pub use crate::resource::{
        Auto, FieldMeta, FieldType, Ops, Presets, Resource, ResourceMeta, Rules, SerializeFields,
    };
    pub use sea_orm;
    pub use serde;
}
