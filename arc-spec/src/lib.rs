//! The vocabulary `#[resource]` (arc-macros) and the runtime that serves it (arc-runtime)
//! share, stored once: the permission operations, the route actions with their methods, paths
//! and presets, the reserved query parameters, the words of the rule grammar with the one
//! renderer of rule text, the naming helpers, and the grammar of durations in attributes.
//!
//! As `serde_derive_internals` is for serde, this crate is an implementation detail: apps
//! depend on `arc-runtime`, which re-exports what they need ([`Action`], [`Operation`]). It
//! has no dependencies, so the proc-macro crate links it without cost.

// Library code answers errors; its unit tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod action;
pub mod duration;
pub mod names;
mod operation;
mod query;
mod rule;

pub use action::{Action, Method, RoutePreset};
pub use operation::{DEFAULT_KEY, Operation};
pub use query::QueryParam;
pub use rule::{PermissionPreset, PresetRule, RuleSyntax, RuleWord};
