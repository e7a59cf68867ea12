//! arc-stores: the shared implementations of [arc-runtime]'s store traits, so N instances of
//! an app behave as one. arc-runtime keeps the traits and their in-memory implementations
//! (the embedded default); this crate holds the ones on real infrastructure, today Redis
//! ([`Redis`]: token revocation, rate-limit counters, the query cache ([`RedisCache`]),
//! idempotency keys ([`RedisIdempotency`]), sessions of refresh tokens ([`RedisSessions`]),
//! the background jobs' queue ([`RedisJobs`]), and the events' transport on Redis Streams,
//! [`RedisStreams`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use arc_runtime::config::{Auth, KeyBy, RateLimit};
//! use arc_stores::Redis;
//!
//! # fn f(app: arc_runtime::App) -> Result<arc_runtime::App, Box<dyn std::error::Error>> {
//! let redis = Redis::new("redis://127.0.0.1:6379", "shop:")?;
//! let app = app
//!     .auth(Auth::new().revocation(redis.revocation()))
//!     .rate_limit(RateLimit::new(600, Duration::from_secs(60), KeyBy::User).store(redis.rate_limit()));
//! # Ok(app) }
//! ```
//!
//! [arc-runtime]: arc_runtime

// Library code answers errors; its unit tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cache;
mod idempotency;
mod jobs;
mod redis;
mod sessions;
mod streams;

pub use cache::RedisCache;
pub use idempotency::RedisIdempotency;
pub use jobs::RedisJobs;
pub use redis::{Redis, RedisRateLimit, RedisRevocation};
pub use sessions::RedisSessions;
pub use streams::{DeadLetter, RedisStreams};
