//! Cross-cutting request plumbing, each piece a tower layer or axum middleware.

pub mod errors;
pub mod etag;
pub mod health;
pub mod hygiene;
pub mod metrics;
pub mod pipeline;
pub mod rate_limit;
pub mod request_id;
pub mod steps;
pub mod trace;
pub mod versioning;
