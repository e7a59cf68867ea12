//! A test kit for apps built with arc-rs: the app in process on SQLite in memory
//! ([`TestApp`]), bearer tokens for personas ([`Tokens`], [`Persona`]), requests with the
//! contract's assertions ([`Reply`]: status, error envelope and code, a field absent), every
//! answer checked against the app's own OpenAPI document ([`contract`]), create bodies made
//! from a resource's field table ([`body_for`]) and a smoke test per resource ([`smoke`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use arc_test::{Persona, TestApp, Tokens};
//! use serde_json::json;
//!
//! let secret = shop::DEV_JWT_SECRET.as_bytes();
//! let app = TestApp::new(|db| shop::app(db, secret).expect("the shop")).await;
//! let tokens = Tokens::hs256(secret);
//! let editor = tokens.persona("eve").org("acme", &["editor"]).build();
//!
//! // An anonymous caller may read categories, not create products.
//! app.get("/categories").await.assert_ok();
//! app.post("/products", json!({ "name": "Mug", "price": 12 }))
//!     .as_(&Persona::anonymous())
//!     .await
//!     .assert_error(401, "UNAUTHORIZED");
//! // The editor creates one; nobody but admins sees its cost.
//! let mug = app.post("/products", json!({ "name": "Mug", "price": 12 })).as_(&editor).await;
//! mug.assert_status(201).assert_absent("cost");
//! # }
//! ```

pub mod contract;

mod app;
mod factory;
mod persona;
mod reply;
mod smoke;

pub use app::{Request, TestApp};
pub use factory::{body_for, body_of};
pub use persona::{Persona, PersonaBuilder, Tokens};
pub use reply::Reply;
pub use smoke::{Smoke, SmokeAnswer, smoke, smoke_of};

/// The HTTP vocabulary the kit speaks, so a test needs no HTTP crate of its own.
pub use axum::http::{Method, StatusCode};
