//! Cross-cutting request plumbing, each piece a tower layer or axum middleware.

pub(crate) mod errors;
pub(crate) mod etag;
pub(crate) mod health;
pub(crate) mod hygiene;
pub(crate) mod idempotency;
pub(crate) mod metrics;
pub(crate) mod pipeline;
pub(crate) mod rate_limit;
pub(crate) mod request_id;
pub(crate) mod steps;
pub(crate) mod trace;
pub(crate) mod versioning;
