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
//! let db = arc_runtime::connect("sqlite::memory:").await?;
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

// Each module is private: what an app names is re-exported below, at the root or in
// [`config`], and what generated code names in `__private_0_1`. The tests of the crate's
// internals live beside them.
mod action;
mod app;
mod audit;
mod auth;
mod cache;
mod cli;
#[cfg(feature = "client")]
pub mod client;
pub mod compensation;
mod crud;
mod custom;
mod db;
mod docs;
mod enumeration;
mod error;
mod events;
mod extract;
mod hooks;
#[cfg(feature = "jobs")]
pub mod jobs;
#[cfg(feature = "mcp")]
pub mod mcp;
mod migration;
mod openapi;
pub mod orgs;
#[cfg(any(feature = "client", feature = "mcp"))]
mod percent;
mod permissions;
mod plugins;
mod preset;
mod query;
mod registry;
mod resource;
mod retry;
mod stores;
mod telemetry;
mod value;
#[cfg(feature = "webhooks")]
pub mod webhooks;
mod wire;

#[cfg(test)]
mod fuzz;

// Generated code names `::arc_runtime`: so do the framework's own resources ([`orgs`]) and
// this crate's tests of the macros.
extern crate self as arc_runtime;

pub use arc_macros::{Enum, permissions, resource};

// Declaring resources.
pub use action::{Action, Operation, ResourceAction, RoutePreset};
pub use crud::RouteInfo;
pub use enumeration::TextEnum;
pub use hooks::{
    ActionBody, Actions, Hooks, NoActions, ReadContext, ReadHooks, RowFilter, WriteContext,
};
pub use permissions::{
    CheckContext, CheckFuture, Permissions, Predicate, Rule, TransitionRule, Verdict, WhenAnswer,
    WhenFn,
};
pub use plugins::idempotency::Idempotent;
pub use resource::Resource;

// Building and serving an app.
pub use app::{App, ArcState, shutdown_signal};
pub use cli::{Cli, Error as CliError, Setup};
pub use compensation::Compensation;
pub use db::{connect, connect_with};
pub use plugins::steps::StepContext;
pub use preset::{Preset, UnknownPreset};

// Who is calling, and what goes wrong.
pub use audit::{AuditAction, AuditEntry};
pub use auth::{AuthContext, AuthMethod, Caller, RoleHierarchy, RoleScope};
pub use error::{ArcError, ErrorCode, FieldError, InternalCause};
pub use events::{DomainEvent, Event, EventMeta, PublishError};
pub use plugins::request_id::current as request_id;
pub use plugins::trace::{TraceContext, current as trace_context};
pub use plugins::versioning::ApiVersion;

// What an app tells about itself.
pub use custom::{CustomRoute, RouteContext};
pub use migration::{Change, ChangeKind, Migrator, Plan, ResourceMigration};
pub use openapi::{DocumentError, ServiceRoute};

pub mod meta {
    //! The field table `#[resource]` generates: what the runtime, the document and the CLI
    //! know of a resource ([`Resource::META`](crate::Resource::META)). Apps read it (to list
    //! resources, say); they do not build it.
    //!
    //! ```
    //! use arc_runtime::meta::{FieldType, ResourceMeta};
    //!
    //! fn columns(meta: &ResourceMeta) -> impl Iterator<Item = (&str, FieldType)> + '_ {
    //!     meta.fields.iter().map(|f| (f.name, f.ty))
    //! }
    //! # let _ = columns;
    //! ```

    pub use crate::resource::{Auto, FieldMeta, FieldType, Ops, Presets, ResourceMeta, Rules};
    /// The path segment that names a row's organization (`/organizations/{orgId}/members`).
    pub use arc_spec::names::ORG_SEGMENT;
}

pub mod config {
    //! What [`App`](crate::App)'s builder takes: authentication, the plugins' settings, the
    //! stores they keep their state in; with the errors their constructors return, the tower
    //! layers they are made of, and what they report (health, hits, telemetry guards).
    //!
    //! ```
    //! use arc_runtime::config::{KeyBy, RateLimit};
    //! use std::time::Duration;
    //!
    //! let limit = RateLimit::new(100, Duration::from_secs(60), KeyBy::User);
    //! # let _ = limit;
    //! ```

    pub use crate::audit::Audit;
    #[cfg(feature = "remote-jwks")]
    pub use crate::auth::jwks::RemoteJwks;
    pub use crate::auth::jwt::{
        DEFAULT_LEEWAY, DEFAULT_MAX_LIFETIME, JwtAuthenticator, JwtConfigError, JwtKeys, JwtSigner,
        TokenClaims,
    };
    pub use crate::auth::sessions::{CSRF_HEADER, Cookies, Sessions, TokenPair};
    pub use crate::auth::{
        AccessLayer, AccessService, ApiKeys, Auth, Authenticator, Elevation, Memberships,
    };
    pub use crate::cache::{Cache, CacheMeta};
    pub use crate::db::{STATEMENT_TARGET, STATEMENT_TIMEOUT};
    pub use crate::events::{BadPattern, EventPattern, EventRetry, Events};
    pub use crate::plugins::health::{CheckReport, Draining, Health, HealthReport};
    pub use crate::plugins::hygiene::{Cors, HttpConfigError, SecurityHeaders};
    pub use crate::plugins::idempotency::Idempotency;
    pub use crate::plugins::metrics::Metrics;
    pub use crate::plugins::rate_limit::{KeyBy, KeyFn, RateLimit};
    pub use crate::plugins::request_id::{RequestIdLayer, RequestIdService};
    pub use crate::plugins::versioning::{VersionBy, Versioning};
    pub use crate::preset::{LogFormat, PresetDefaults};
    pub use crate::query::QueryLimits;
    pub use crate::retry::Retry;
    pub use crate::stores::{
        AuditPage, AuditQuery, AuditStore, Begin, BoxFuture, CacheStore, Claim, EventTransport,
        Hit, IdempotencyStore, InMemoryAudit, InMemoryCache, InMemoryIdempotency,
        InMemoryMemberships, InMemoryRateLimit, InMemoryRevocation, InMemorySessions,
        InMemoryTransport, IssuedToken, Lookup, Membership, MembershipStore, RateLimitStore,
        Received, RevocationStore, Rotation, SessionStart, SessionStore, SqlAudit, SqlIdempotency,
        SqlMemberships, StoreError, membership_conformance, session_conformance,
    };
    pub use crate::telemetry::{Telemetry, TelemetryError, TelemetryGuard};
}

/// What a file of resources needs in scope.
pub mod prelude {
    pub use crate::{
        Actions, App, ArcError, AuthContext, CheckContext, Enum, Hooks, ReadContext, ReadHooks,
        Resource, RowFilter, TextEnum, Verdict, WriteContext, config::Auth, permissions, resource,
    };
    pub use chrono::{DateTime, Utc};
    pub use rust_decimal::Decimal;
    pub use serde_json::Value as Json;
    pub use uuid::Uuid;
}

pub use chrono;
pub use rust_decimal;
pub use sea_orm;
/// The migration framework: write a migration of the app's own against it ([`App::migration`]).
pub use sea_orm_migration;
pub use serde_json;
pub use uuid;

/// The paths generated code uses, and nothing else. Not a public API: it changes with the
/// macro, and its name carries the version so a mismatched `arc-macros` fails to build
/// rather than compile against the wrong layout (arc-runtime pins arc-macros exactly).
#[doc(hidden)]
pub mod __private_0_1 {
    pub use crate::auth::AuthContext;
    pub use crate::cache::CacheMeta;
    pub use crate::enumeration::{IntoDbValue, TextEnum, default_value, is_variant};
    pub use crate::error::ArcError;
    pub use crate::hooks::{
        ActionBody, Actions, Hooks, NoActions, ReadHookFns, ReadHooks, WriteContext,
    };
    pub use crate::permissions::{
        AskingDatabase, CheckContext, CheckFuture, OverCaller, Permissions, Predicate, Rule,
        TransitionRule, WhenFn,
    };
    pub use crate::plugins::idempotency::Idempotent;
    pub use crate::resource::{
        Auto, FieldMeta, FieldType, Presets, Resource, ResourceMeta, meta_of,
    };
    pub use core::time::Duration;
    pub use {chrono, rust_decimal, schemars, sea_orm, serde, serde_json, uuid};
}
