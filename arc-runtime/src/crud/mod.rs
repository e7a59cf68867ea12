//! Generic CRUD over sea-orm, one code path for every resource.
//!
//! `access` decides which rows a caller may touch (scope, rule, tenancy, ownership); [`ops`]
//! holds the operations (list, get, create, update, delete and the preset routes) as plain
//! async functions over [`crate::Resource`]; [`handlers`] adapts them to axum; [`body`]
//! decodes request bodies; [`response`] writes the contract's envelopes; [`routes`] is the
//! route table of a resource; `states` holds the declared states' transitions, `references`
//! the check of the rows a write names.

pub(crate) mod access;
pub(crate) mod body;
pub(crate) mod handlers;
pub(crate) mod ops;
mod populate;
pub(crate) mod record;
mod references;
pub(crate) mod response;
pub(crate) mod routes;
mod states;

pub use routes::RouteInfo;
pub(crate) use routes::routes;
mod tree;
