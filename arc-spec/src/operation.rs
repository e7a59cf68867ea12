//! The permission operations: the keys of `#[permissions(..)]`, each with one rule.

use std::fmt;

use crate::RoutePreset;

/// The key of `#[permissions(..)]` that covers every operation not listed.
pub const DEFAULT_KEY: &str = "default";

/// An operation a permission rule is given for: a key of `#[permissions(..)]` and a field of
/// the runtime's `Permissions`. A route checks one or two of them
/// ([`Action::operations`](crate::Action::operations)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// `list`: `GET /things`.
    List,
    /// `get`: `GET /things/{id}`, and the slug lookup.
    Get,
    /// `create`: `POST /things`, and bulk create.
    Create,
    /// `update`: `PATCH`/`PUT /things/{id}`, and bulk update.
    Update,
    /// `delete`: `DELETE /things/{id}`, and bulk delete.
    Delete,
    /// `deleted`: `GET /things/deleted` (soft_delete).
    Deleted,
    /// `restore`: `POST /things/{id}/restore` (soft_delete).
    Restore,
    /// `tree`: `GET /things/tree` and `GET /things/{id}/children` (tree).
    Tree,
    /// `bulk`: `POST|PATCH|DELETE /things/bulk` (bulk), checked besides the operation's own.
    Bulk,
}

impl Operation {
    /// Every operation, in the order `Permissions` declares them.
    pub const ALL: [Operation; 9] = [
        Operation::List,
        Operation::Get,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
        Operation::Deleted,
        Operation::Restore,
        Operation::Tree,
        Operation::Bulk,
    ];

    /// Its key in `#[permissions(..)]`, the field of `Permissions` and the registry's name.
    pub const fn name(self) -> &'static str {
        match self {
            Operation::List => "list",
            Operation::Get => "get",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
            Operation::Deleted => "deleted",
            Operation::Restore => "restore",
            Operation::Tree => "tree",
            Operation::Bulk => "bulk",
        }
    }

    /// The operation a key names (not [`DEFAULT_KEY`]).
    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Every key `#[permissions(..)]` accepts: the operations, then [`DEFAULT_KEY`].
    pub fn keys() -> impl Iterator<Item = &'static str> {
        Operation::ALL
            .into_iter()
            .map(Operation::name)
            .chain([DEFAULT_KEY])
    }

    /// The preset whose routes the operation guards (`None`: the resource always has them).
    pub const fn preset(self) -> Option<RoutePreset> {
        match self {
            Operation::Deleted | Operation::Restore => Some(RoutePreset::SoftDelete),
            Operation::Tree => Some(RoutePreset::Tree),
            Operation::Bulk => Some(RoutePreset::Bulk),
            _ => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(op));
        }
        assert_eq!(Operation::from_name(DEFAULT_KEY), None);
        assert_eq!(Operation::keys().count(), 10);
    }
}
