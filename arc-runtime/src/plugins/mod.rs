//! Cross-cutting request plumbing, each piece a tower layer or axum middleware.

pub mod request_id;
