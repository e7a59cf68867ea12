//! The black-box suite: the shop and its fixtures driven over HTTP, one module per concern.
//! One binary (each test binary links the whole stack: one link, not forty), but for the
//! tests that install a process-wide subscriber, in their own (`tracing.rs`, `otlp.rs`).

pub mod audit;
pub mod cache;
pub mod compensation;
pub mod crud;
pub mod custom_routes;
pub mod distributed;
pub mod docs_page;
pub mod elevation;
pub mod event_transport;
pub mod events;
pub mod evolve;
pub mod foreign_keys;
pub mod fuzz;
pub mod hooks;
pub mod hostile;
pub mod idempotency;
pub mod isolation;
pub mod jobs;
pub mod mcp;
pub mod memberships;
pub mod migrate;
pub mod openapi;
pub mod organizations;
pub mod permission_presets;
pub mod permissions;
pub mod pipeline;
pub mod presets;
pub mod query;
pub mod read_hooks;
pub mod registry;
pub mod service_client;
pub mod service_routes;
pub mod sessions;
pub mod shop;
pub mod sqlite_writer;
pub mod tenancy;
pub mod tokens;
pub mod transitions;
pub mod types;
pub mod webhooks;
pub mod websocket;
