//! The route actions: every route a resource can have, with its name, method, path, the
//! preset that adds it and the permission operations it checks. The runtime's router, the
//! OpenAPI document, the registry, metrics labels and the macro's route docs all read this
//! one table.

use std::fmt;

use crate::Operation;

/// An HTTP method a resource route answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method as HTTP writes it (`GET`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A preset of `#[resource(presets(..))]` that adds routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoutePreset {
    /// `soft_delete`: `GET /things/deleted`, `POST /things/{id}/restore`.
    SoftDelete,
    /// `slug_lookup`: `GET /things/slug/{slug}`.
    SlugLookup,
    /// `tree`: `GET /things/tree`, `GET /things/{id}/children`.
    Tree,
    /// `bulk`: `POST|PATCH|DELETE /things/bulk`.
    Bulk,
    /// `actions(..)`: `POST /things/{id}/action`, one route for every action the resource
    /// declares (not a preset of `presets(..)`: the resource has it when it has actions).
    Actions,
}

impl RoutePreset {
    /// Its name in `presets(..)` (`soft_delete`).
    pub const fn name(self) -> &'static str {
        match self {
            RoutePreset::SoftDelete => "soft_delete",
            RoutePreset::SlugLookup => "slug_lookup",
            RoutePreset::Tree => "tree",
            RoutePreset::Bulk => "bulk",
            RoutePreset::Actions => "actions",
        }
    }
}

impl fmt::Display for RoutePreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a route of a resource does: one of the generic handlers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `GET /things`
    List,
    /// `POST /things`
    Create,
    /// `GET /things/{id}`
    Get,
    /// `PATCH /things/{id}`
    Update,
    /// `PUT /things/{id}` (the same as PATCH)
    Replace,
    /// `DELETE /things/{id}`
    Delete,
    /// `GET /things/deleted`
    Deleted,
    /// `POST /things/{id}/restore`
    Restore,
    /// `GET /things/slug/{slug}`
    BySlug,
    /// `GET /things/tree`
    Tree,
    /// `GET /things/{id}/children`
    Children,
    /// `POST /things/bulk`
    BulkCreate,
    /// `PATCH /things/bulk`
    BulkUpdate,
    /// `DELETE /things/bulk`
    BulkDelete,
    /// `POST /things/{id}/action`: the body names one of the resource's actions
    /// (`{"action": "cancel", ..}`), whose own rule is checked.
    Act,
}

impl Action {
    /// Every action, in the stable order of a resource's route table.
    pub const ALL: [Action; 15] = [
        Action::List,
        Action::Create,
        Action::Get,
        Action::Update,
        Action::Replace,
        Action::Delete,
        Action::Deleted,
        Action::Restore,
        Action::BySlug,
        Action::Tree,
        Action::Children,
        Action::BulkCreate,
        Action::BulkUpdate,
        Action::BulkDelete,
        Action::Act,
    ];

    /// Its one name (`list`, `get_by_slug`, `bulk_create`, ...): the metrics label, the
    /// registry's `operation`, the last part of the OpenAPI `operationId`.
    pub const fn name(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Create => "create",
            Action::Get => "get",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Deleted => "deleted",
            Action::Restore => "restore",
            Action::BySlug => "get_by_slug",
            Action::Tree => "tree",
            Action::Children => "children",
            Action::BulkCreate => "bulk_create",
            Action::BulkUpdate => "bulk_update",
            Action::BulkDelete => "bulk_delete",
            Action::Act => "action",
        }
    }

    /// The action a name names.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The HTTP method it answers.
    pub const fn method(self) -> Method {
        match self {
            Action::List
            | Action::Get
            | Action::Deleted
            | Action::BySlug
            | Action::Tree
            | Action::Children => Method::Get,
            Action::Create | Action::Restore | Action::BulkCreate | Action::Act => Method::Post,
            Action::Update | Action::BulkUpdate => Method::Patch,
            Action::Replace => Method::Put,
            Action::Delete | Action::BulkDelete => Method::Delete,
        }
    }

    /// Whether the route changes data (every method but `GET`): the routes that take an
    /// `idempotency-key` when the resource has `idempotency`.
    pub const fn mutates(self) -> bool {
        !matches!(self.method(), Method::Get)
    }

    /// The shape of its path after the collection's (`/{id}/restore`; empty for the
    /// collection itself), parameters as the router writes them.
    pub const fn path_suffix(self) -> &'static str {
        match self {
            Action::List | Action::Create => "",
            Action::Get | Action::Update | Action::Replace | Action::Delete => "/{id}",
            Action::Deleted => "/deleted",
            Action::Restore => "/{id}/restore",
            Action::BySlug => "/slug/{slug}",
            Action::Tree => "/tree",
            Action::Children => "/{id}/children",
            Action::BulkCreate | Action::BulkUpdate | Action::BulkDelete => "/bulk",
            Action::Act => "/{id}/action",
        }
    }

    /// Its path template under the collection path `base` (`/products/{id}/restore`).
    pub fn path(self, base: &str) -> String {
        format!("{base}{}", self.path_suffix())
    }

    /// The preset that adds the route (`None` for the six CRUD routes).
    pub const fn preset(self) -> Option<RoutePreset> {
        match self {
            Action::Deleted | Action::Restore => Some(RoutePreset::SoftDelete),
            Action::BySlug => Some(RoutePreset::SlugLookup),
            Action::Tree | Action::Children => Some(RoutePreset::Tree),
            Action::BulkCreate | Action::BulkUpdate | Action::BulkDelete => Some(RoutePreset::Bulk),
            Action::Act => Some(RoutePreset::Actions),
            _ => None,
        }
    }

    /// The permission operations the route checks: its own, and for bulk routes the bulk
    /// rule first. None for [`Action::Act`]: it checks the rule of the action its body names.
    pub const fn operations(self) -> &'static [Operation] {
        match self {
            Action::List => &[Operation::List],
            Action::Create => &[Operation::Create],
            Action::Get | Action::BySlug => &[Operation::Get],
            Action::Update | Action::Replace => &[Operation::Update],
            Action::Delete => &[Operation::Delete],
            Action::Deleted => &[Operation::Deleted],
            Action::Restore => &[Operation::Restore],
            Action::Tree | Action::Children => &[Operation::Tree],
            Action::BulkCreate => &[Operation::Bulk, Operation::Create],
            Action::BulkUpdate => &[Operation::Bulk, Operation::Update],
            Action::BulkDelete => &[Operation::Bulk, Operation::Delete],
            Action::Act => &[],
        }
    }

    /// The actions a resource with the presets `has` serves, in the table's order.
    pub fn served(has: impl Fn(RoutePreset) -> bool) -> impl Iterator<Item = Action> {
        Action::ALL
            .into_iter()
            .filter(move |a| a.preset().is_none_or(&has))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_each() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
    }

    #[test]
    fn a_route_checks_rules_its_resource_has() {
        for action in Action::ALL {
            for op in action.operations() {
                // An operation's preset is the action's (or the operation has none).
                assert!(op.preset().is_none() || op.preset() == action.preset());
            }
        }
    }

    #[test]
    fn writes_mutate() {
        let writes: Vec<_> = Action::ALL
            .into_iter()
            .filter(|a| a.mutates())
            .map(Action::name)
            .collect();
        assert_eq!(
            writes,
            [
                "create",
                "update",
                "replace",
                "delete",
                "restore",
                "bulk_create",
                "bulk_update",
                "bulk_delete",
                "action"
            ]
        );
    }

    #[test]
    fn served() {
        let plain: Vec<_> = Action::served(|_| false).collect();
        assert_eq!(plain.len(), 6);
        assert_eq!(Action::served(|_| true).count(), Action::ALL.len());
        let paths: Vec<_> = Action::served(|p| p == RoutePreset::SoftDelete)
            .map(|a| format!("{} {}", a.method(), a.path("/notes")))
            .collect();
        assert_eq!(
            paths,
            [
                "GET /notes",
                "POST /notes",
                "GET /notes/{id}",
                "PATCH /notes/{id}",
                "PUT /notes/{id}",
                "DELETE /notes/{id}",
                "GET /notes/deleted",
                "POST /notes/{id}/restore",
            ]
        );
    }
}
