//! The vocabulary of resource routes, below crud and the plugins: which [`Action`] a route
//! performs, which permission [`Operation`]s it checks, and [`ResourceAction`], the
//! response extension that tells plugins (metrics, ETag, steps) which resource and action
//! answered.
//!
//! The tables themselves (names, methods, paths, presets, operations) are stored once, in a
//! crate the `#[resource]` macro shares, so the expansion, the router, the document, the
//! registry and the metrics labels cannot disagree.

use axum::http::Method;

pub use arc_spec::{Action, Operation, RoutePreset};

/// Which resource and action produced a response (in its extensions), for metrics, logs and
/// steps. Its label is [`Action::name`] (`list`, `get_by_slug`, `bulk_create`, ..).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceAction {
    /// The resource's name.
    pub resource: &'static str,
    /// The route's action, as the route table, the document and the registry name it.
    pub action: Action,
}

/// The HTTP method `action` answers.
pub(crate) fn method(action: Action) -> Method {
    match action.method() {
        arc_spec::Method::Get => Method::GET,
        arc_spec::Method::Post => Method::POST,
        arc_spec::Method::Put => Method::PUT,
        arc_spec::Method::Patch => Method::PATCH,
        arc_spec::Method::Delete => Method::DELETE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_agree() {
        for action in Action::ALL {
            assert_eq!(method(action).as_str(), action.method().as_str());
        }
    }
}
