//! Permissions: a rule per operation, evaluated against the caller into a decision that is
//! either denied, granted, or granted for some rows only (a row filter applied in SQL).
//!
//! Rules are static values the macro emits (`Rule::Any(&[Rule::Owner(7), Rule::Roles(&["admin"])])`).
//! Row filters go through the one scope every query uses, so a row outside them is a 404 on
//! every route and never appears in a list.

use arc_spec::RuleSyntax;
use sea_orm::Condition;
use sea_orm::sea_query::ExprTrait;

use crate::action::Operation;
use crate::auth::{AuthContext, RoleScope};
use crate::error::ArcError;
use crate::query::sql;
use crate::resource::ResourceMeta;

/// A permission rule.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    /// Anyone, signed in or not.
    Public,
    /// Any authenticated caller.
    Authenticated,
    /// Nobody.
    Deny,
    /// A caller with one of these platform roles, or with one of them in the active
    /// organization on a `multi_tenant` resource (its rows are that organization's own).
    Roles(&'static [&'static str]),
    /// A caller with one of these roles in the active organization.
    OrgRoles(&'static [&'static str]),
    /// A caller with an active organization.
    OrgMember,
    /// Rows whose field (by index) holds the caller's user id.
    Owner(usize),
    /// A member of the active organization with an active team (`team_id`).
    TeamMember,
    /// Like [`Rule::TeamMember`], on the rows whose field (by index) holds the active team.
    Team(usize),
    /// Every rule holds (row filters are combined with AND).
    All(&'static [Rule]),
    /// Some rule holds (row filters are combined with OR).
    Any(&'static [Rule]),
    /// A predicate of the app's over the caller: `when(path::to::fn)`, with the path as
    /// written (for documents and the registry).
    When(fn(&AuthContext) -> bool, &'static str),
}

/// The rules of a resource's operations. An operation with no rule is denied.
#[derive(Clone, Copy, Debug)]
pub struct Permissions {
    /// `GET /things`
    pub list: Rule,
    /// `GET /things/{id}` (and the slug lookup)
    pub get: Rule,
    /// `POST /things` (and bulk create)
    pub create: Rule,
    /// `PATCH`/`PUT /things/{id}` (and bulk update)
    pub update: Rule,
    /// `DELETE /things/{id}` (and bulk delete)
    pub delete: Rule,
    /// `GET /things/deleted`
    pub deleted: Rule,
    /// `POST /things/{id}/restore`
    pub restore: Rule,
    /// `GET /things/tree`, `GET /things/{id}/children`
    pub tree: Rule,
    /// `POST|PATCH|DELETE /things/bulk`
    pub bulk: Rule,
    /// `POST /things/{id}/action`: each action's name and rule, in the order `actions(..)`
    /// declares them.
    pub actions: &'static [(&'static str, Rule)],
}

impl Permissions {
    /// Every operation open to anyone.
    pub const PUBLIC: Permissions = Permissions {
        list: Rule::Public,
        get: Rule::Public,
        create: Rule::Public,
        update: Rule::Public,
        delete: Rule::Public,
        deleted: Rule::Public,
        restore: Rule::Public,
        tree: Rule::Public,
        bulk: Rule::Public,
        actions: &[],
    };
}

impl Rule {
    /// The rule in the attribute's own words, fields by name: `any(roles(admin),
    /// owner(created_by))`. Documents and the registry show it; the macro's route docs
    /// render the same text, through the same syntax tree.
    pub fn describe(&self, meta: &crate::resource::ResourceMeta) -> String {
        self.syntax(meta).to_string()
    }

    /// The rule as the shared syntax tree.
    fn syntax(&self, meta: &crate::resource::ResourceMeta) -> RuleSyntax {
        let field = |i: usize| meta.fields.get(i).map_or("?", |f| f.name).to_owned();
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        let nested = |rules: &[Rule]| rules.iter().map(|r| r.syntax(meta)).collect();
        match self {
            Rule::Public => RuleSyntax::Public,
            Rule::Authenticated => RuleSyntax::Authenticated,
            Rule::Deny => RuleSyntax::Deny,
            Rule::Roles(roles) => RuleSyntax::Roles(strings(roles)),
            Rule::OrgRoles(roles) => RuleSyntax::OrgRoles(strings(roles)),
            Rule::OrgMember => RuleSyntax::OrgMember,
            Rule::Owner(i) => RuleSyntax::Owner(field(*i)),
            Rule::TeamMember => RuleSyntax::TeamMember,
            Rule::Team(i) => RuleSyntax::Team(field(*i)),
            Rule::All(rules) => RuleSyntax::All(nested(rules)),
            Rule::Any(rules) => RuleSyntax::Any(nested(rules)),
            Rule::When(_, path) => RuleSyntax::When((*path).to_owned()),
        }
    }

    /// Whether anyone, signed in or not, passes it.
    pub fn is_public(&self) -> bool {
        match self {
            Rule::Public => true,
            Rule::All(rules) => rules.iter().all(Rule::is_public),
            Rule::Any(rules) => rules.iter().any(Rule::is_public),
            _ => false,
        }
    }

    /// Whether it calls the app's code (a `when(..)` anywhere in it): its answer may then
    /// depend on more than the parts of the caller rules read
    /// ([`AuthContext::view_parts`]), or on when it is asked.
    pub(crate) fn calls_app(&self) -> bool {
        match self {
            Rule::When(..) => true,
            Rule::All(rules) | Rule::Any(rules) => rules.iter().any(Rule::calls_app),
            _ => false,
        }
    }
}

impl Permissions {
    /// The rule of the action `name`, when the resource declares it.
    pub fn action(&self, name: &str) -> Option<Rule> {
        self.actions
            .iter()
            .find_map(|(n, rule)| (*n == name).then_some(*rule))
    }

    /// The rule of `op` (the field [`Operation::name`] names).
    pub const fn rule(&self, op: Operation) -> Rule {
        match op {
            Operation::List => self.list,
            Operation::Get => self.get,
            Operation::Create => self.create,
            Operation::Update => self.update,
            Operation::Delete => self.delete,
            Operation::Deleted => self.deleted,
            Operation::Restore => self.restore,
            Operation::Tree => self.tree,
            Operation::Bulk => self.bulk,
        }
    }
}

/// Which rows a granted rule covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RowRule {
    /// The field (by index) holds the caller's id.
    Owner(usize),
    /// The field (by index) holds the caller's active team.
    Team(usize),
    /// All of these.
    And(Vec<RowRule>),
    /// Any of these.
    Or(Vec<RowRule>),
}

impl RowRule {
    /// Whether a row whose fields hold `value_of(index)` is covered, for `caller`: the same
    /// question as the SQL condition this filter becomes, asked of values in memory (the
    /// event stream's rows).
    pub(crate) fn holds<'a>(
        &self,
        value_of: &impl Fn(usize) -> Option<&'a str>,
        caller: &AuthContext,
    ) -> bool {
        let is = |field: usize, want: Option<&str>| want.is_some() && value_of(field) == want;
        match self {
            RowRule::Owner(field) => is(*field, caller.user_id.as_deref()),
            RowRule::Team(field) => is(*field, caller.team_id.as_deref()),
            RowRule::And(all) => all.iter().all(|r| r.holds(value_of, caller)),
            RowRule::Or(any) => any.iter().any(|r| r.holds(value_of, caller)),
        }
    }
}

/// The outcome of a rule for a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Not allowed.
    Denied,
    /// Allowed on every row.
    Full,
    /// Allowed on the rows the filter covers.
    Rows(RowRule),
}

/// Evaluates `rule` for `caller` on rows of `scope` (which roles count: see
/// [`AuthContext::has_role_in`]).
pub(crate) fn evaluate(rule: &Rule, caller: &AuthContext, scope: RoleScope) -> Access {
    let grant = |ok: bool| if ok { Access::Full } else { Access::Denied };
    match rule {
        Rule::Public => Access::Full,
        Rule::Deny => Access::Denied,
        Rule::Authenticated => grant(caller.is_authenticated()),
        Rule::Roles(roles) => {
            grant(caller.is_authenticated() && roles.iter().any(|r| caller.has_role_in(r, scope)))
        }
        Rule::OrgRoles(roles) => grant(
            caller.is_authenticated()
                && caller.org_id.is_some()
                && roles.iter().any(|r| caller.has_org_role(r)),
        ),
        Rule::OrgMember => grant(caller.is_authenticated() && caller.org_id.is_some()),
        Rule::When(predicate, _) => grant(predicate(caller)),
        Rule::TeamMember => grant(in_team(caller)),
        Rule::Team(field) if in_team(caller) => Access::Rows(RowRule::Team(*field)),
        Rule::Team(_) => Access::Denied,
        Rule::Owner(field) => {
            if caller.is_authenticated() {
                Access::Rows(RowRule::Owner(*field))
            } else {
                Access::Denied
            }
        }
        Rule::Any(rules) => {
            let mut rows = Vec::new();
            for rule in *rules {
                match evaluate(rule, caller, scope) {
                    Access::Full => return Access::Full,
                    Access::Rows(r) => rows.push(r),
                    Access::Denied => {}
                }
            }
            match rows.len() {
                0 => Access::Denied,
                1 => Access::Rows(rows.remove(0)),
                _ => Access::Rows(RowRule::Or(rows)),
            }
        }
        Rule::All(rules) => {
            let mut rows = Vec::new();
            for rule in *rules {
                match evaluate(rule, caller, scope) {
                    Access::Denied => return Access::Denied,
                    Access::Rows(r) => rows.push(r),
                    Access::Full => {}
                }
            }
            match rows.len() {
                0 => Access::Full,
                1 => Access::Rows(rows.remove(0)),
                _ => Access::Rows(RowRule::And(rows)),
            }
        }
    }
}

fn in_team(caller: &AuthContext) -> bool {
    caller.is_authenticated() && caller.org_id.is_some() && caller.team_id.is_some()
}

/// The caller's access to `op` on `meta`'s resource: all rows, or the rows of a row rule (see
/// [`condition`]), or the error (401 for anonymous callers, 403 otherwise).
pub(crate) fn authorize(
    meta: &ResourceMeta,
    op: Operation,
    caller: &AuthContext,
) -> Result<Option<RowRule>, ArcError> {
    authorize_by(meta, &meta.permissions.rule(op), caller)
}

/// [`authorize`] with `rule`, the rule of one of the resource's actions.
pub(crate) fn authorize_by(
    meta: &ResourceMeta,
    rule: &Rule,
    caller: &AuthContext,
) -> Result<Option<RowRule>, ArcError> {
    match evaluate(rule, caller, meta.role_scope()) {
        Access::Full => Ok(None),
        Access::Rows(rows) => Ok(Some(rows)),
        Access::Denied if caller.is_authenticated() => {
            Err(ArcError::forbidden("You do not have permission to do this"))
        }
        Access::Denied => Err(ArcError::unauthorized("Authentication required")),
    }
}

/// The rows `rows` lets `caller` touch, as SQL.
pub(crate) fn condition(meta: &ResourceMeta, rows: &RowRule, caller: &AuthContext) -> Condition {
    match rows {
        RowRule::Owner(field) => {
            let user = caller.user_id.clone().unwrap_or_default();
            Condition::all().add(sql::column(meta, *field).eq(user))
        }
        RowRule::Team(field) => {
            let team = caller.team_id.clone().unwrap_or_default();
            Condition::all().add(sql::column(meta, *field).eq(team))
        }
        RowRule::And(all) => all
            .iter()
            .fold(Condition::all(), |c, r| c.add(condition(meta, r, caller))),
        RowRule::Or(any) => any
            .iter()
            .fold(Condition::any(), |c, r| c.add(condition(meta, r, caller))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of the active organization, where its roles count.
    const ORG: RoleScope = RoleScope::Organization;

    fn never(_: &AuthContext) -> bool {
        false
    }

    #[test]
    fn a_when_anywhere_calls_the_app() {
        const WHEN: Rule = Rule::When(never, "never");
        for rule in [
            WHEN,
            Rule::Any(&[Rule::Owner(1), WHEN]),
            Rule::All(&[Rule::OrgMember, Rule::Any(&[Rule::Public, WHEN])]),
        ] {
            assert!(rule.calls_app(), "{rule:?}");
        }
        for rule in [
            Rule::Public,
            Rule::Any(&[Rule::Owner(1), Rule::Roles(&["admin"])]),
            Rule::All(&[Rule::OrgMember, Rule::Team(2)]),
        ] {
            assert!(!rule.calls_app(), "{rule:?}");
        }
    }

    fn user(roles: &[&str], org: Option<&str>, org_roles: &[&str]) -> AuthContext {
        AuthContext {
            user_id: Some("u".into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            org_id: org.map(str::to_owned),
            org_roles: org_roles.iter().map(|r| r.to_string()).collect(),
            ..AuthContext::default()
        }
    }

    #[test]
    fn combinators() {
        let anon = AuthContext::anonymous();
        let editor = user(&["editor"], Some("acme"), &[]);
        let org_admin = user(&[], Some("acme"), &["admin"]);
        assert_eq!(evaluate(&Rule::Public, &anon, ORG), Access::Full);
        assert_eq!(evaluate(&Rule::Authenticated, &anon, ORG), Access::Denied);
        assert_eq!(evaluate(&Rule::Authenticated, &editor, ORG), Access::Full);
        assert_eq!(evaluate(&Rule::Deny, &org_admin, ORG), Access::Denied);
        assert_eq!(
            evaluate(&Rule::Roles(&["admin"]), &org_admin, ORG),
            Access::Full,
            "org roles count"
        );
        assert_eq!(
            evaluate(&Rule::Roles(&["admin"]), &editor, ORG),
            Access::Denied
        );
        assert_eq!(
            evaluate(&Rule::OrgRoles(&["editor"]), &editor, ORG),
            Access::Denied,
            "platform roles do not"
        );
        assert_eq!(evaluate(&Rule::OrgMember, &editor, ORG), Access::Full);
        assert_eq!(
            evaluate(&Rule::OrgMember, &user(&[], None, &[]), ORG),
            Access::Denied
        );
        assert_eq!(evaluate(&Rule::Owner(3), &anon, ORG), Access::Denied);
        let any = Rule::Any(&[Rule::Owner(3), Rule::Roles(&["admin"])]);
        assert_eq!(evaluate(&any, &org_admin, ORG), Access::Full);
        assert_eq!(
            evaluate(&any, &editor, ORG),
            Access::Rows(RowRule::Owner(3))
        );
        assert_eq!(evaluate(&any, &anon, ORG), Access::Denied);
        let all = Rule::All(&[Rule::Roles(&["editor"]), Rule::Owner(3), Rule::Owner(4)]);
        assert_eq!(
            evaluate(&all, &editor, ORG),
            Access::Rows(RowRule::And(vec![RowRule::Owner(3), RowRule::Owner(4)]))
        );
        assert_eq!(evaluate(&all, &org_admin, ORG), Access::Denied);
        let either = Rule::Any(&[Rule::Owner(3), Rule::Owner(4)]);
        assert_eq!(
            evaluate(&either, &editor, ORG),
            Access::Rows(RowRule::Or(vec![RowRule::Owner(3), RowRule::Owner(4)]))
        );
        assert_eq!(
            evaluate(&Rule::Any(&[]), &editor, ORG),
            Access::Denied,
            "an empty any grants nothing"
        );
        fn editors(c: &AuthContext) -> bool {
            c.roles.iter().any(|r| r == "editor")
        }
        assert_eq!(
            evaluate(&Rule::When(editors, "editors"), &editor, ORG),
            Access::Full
        );
        assert_eq!(
            evaluate(&Rule::Roles(&["admin"]), &org_admin, RoleScope::Platform),
            Access::Denied,
            "an org role grants nothing on rows every organization shares"
        );
        let platform_admin = user(&["admin"], None, &[]);
        assert_eq!(
            evaluate(
                &Rule::Roles(&["admin"]),
                &platform_admin,
                RoleScope::Platform
            ),
            Access::Full
        );
        assert_eq!(
            evaluate(&Rule::When(editors, "editors"), &org_admin, ORG),
            Access::Denied
        );
    }

    #[test]
    fn teams() {
        let no_team = user(&[], Some("acme"), &[]);
        let in_team = AuthContext {
            team_id: Some("red".into()),
            ..no_team.clone()
        };
        let teamless_org = AuthContext {
            org_id: None,
            ..in_team.clone()
        };
        assert_eq!(evaluate(&Rule::TeamMember, &in_team, ORG), Access::Full);
        assert_eq!(evaluate(&Rule::TeamMember, &no_team, ORG), Access::Denied);
        assert_eq!(
            evaluate(&Rule::TeamMember, &teamless_org, ORG),
            Access::Denied,
            "a team belongs to the active organization"
        );
        assert_eq!(
            evaluate(&Rule::TeamMember, &AuthContext::anonymous(), ORG),
            Access::Denied
        );
        assert_eq!(
            evaluate(&Rule::Team(2), &in_team, ORG),
            Access::Rows(RowRule::Team(2))
        );
        assert_eq!(evaluate(&Rule::Team(2), &no_team, ORG), Access::Denied);
    }
}
