//! The rule grammar of `#[permissions(..)]`: its words, its presets ([`PermissionPreset`]),
//! and [`RuleSyntax`], the one rendering of a rule as text. The macro builds a [`RuleSyntax`] from the rule it parsed,
//! the runtime from its `Rule` and the field table, so the route docs of an expansion, the
//! OpenAPI document, the registry and the CLI print a rule the same way.

use std::fmt;

use crate::Operation;

/// A word of the rule grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleWord {
    /// `public`: anyone, signed in or not.
    Public,
    /// `authenticated`: any signed-in caller.
    Authenticated,
    /// `deny`: nobody.
    Deny,
    /// `roles("a", ..)`: one of these roles.
    Roles,
    /// `org_roles("a", ..)`: one of these roles in the active organization.
    OrgRoles,
    /// `org_member`: a caller with an active organization.
    OrgMember,
    /// `owner("field")`: the rows whose field holds the caller's user id.
    Owner,
    /// `team_member`, or `team_member("field")`: a caller in a team, or its team's rows.
    TeamMember,
    /// `all(rule, ..)`: every rule holds.
    All,
    /// `any(rule, ..)`: some rule holds.
    Any,
    /// `when(path::to::predicate)`: a function of the app's over the caller.
    When,
    /// `rule(path::to::RULE)`: a rule the app names, a `const` of the runtime's `Rule`.
    Rule,
}

impl RuleWord {
    /// Every word.
    pub const ALL: [RuleWord; 12] = [
        RuleWord::Public,
        RuleWord::Authenticated,
        RuleWord::Deny,
        RuleWord::Roles,
        RuleWord::OrgRoles,
        RuleWord::OrgMember,
        RuleWord::Owner,
        RuleWord::TeamMember,
        RuleWord::All,
        RuleWord::Any,
        RuleWord::When,
        RuleWord::Rule,
    ];

    /// The word as written.
    pub const fn name(self) -> &'static str {
        match self {
            RuleWord::Public => "public",
            RuleWord::Authenticated => "authenticated",
            RuleWord::Deny => "deny",
            RuleWord::Roles => "roles",
            RuleWord::OrgRoles => "org_roles",
            RuleWord::OrgMember => "org_member",
            RuleWord::Owner => "owner",
            RuleWord::TeamMember => "team_member",
            RuleWord::All => "all",
            RuleWord::Any => "any",
            RuleWord::When => "when",
            RuleWord::Rule => "rule",
        }
    }

    /// The word `name` is, if it is one.
    pub fn from_name(name: &str) -> Option<RuleWord> {
        RuleWord::ALL.into_iter().find(|w| w.name() == name)
    }
}

impl fmt::Display for RuleWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A rule as text: the syntax tree both sides render through.
///
/// `{}` writes it as the document and the registry show it, strings bare:
/// `any(owner(created_by), roles(admin))`. `{:#}` writes it as the attribute is written,
/// strings quoted: `any(owner("created_by"), roles("admin"))` (for compile errors, which
/// tell the user what to write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSyntax {
    /// `public`
    Public,
    /// `authenticated`
    Authenticated,
    /// `deny`
    Deny,
    /// `roles(..)`
    Roles(Vec<String>),
    /// `org_roles(..)`
    OrgRoles(Vec<String>),
    /// `org_member`
    OrgMember,
    /// `owner(field)`
    Owner(String),
    /// `team_member`
    TeamMember,
    /// `team_member(field)`
    Team(String),
    /// `all(..)`
    All(Vec<RuleSyntax>),
    /// `any(..)`
    Any(Vec<RuleSyntax>),
    /// `when(path)`, the path as written.
    When(String),
    /// `rule(path)`, the path as written.
    Named(String),
}

impl RuleSyntax {
    /// Its word.
    pub const fn word(&self) -> RuleWord {
        match self {
            RuleSyntax::Public => RuleWord::Public,
            RuleSyntax::Authenticated => RuleWord::Authenticated,
            RuleSyntax::Deny => RuleWord::Deny,
            RuleSyntax::Roles(_) => RuleWord::Roles,
            RuleSyntax::OrgRoles(_) => RuleWord::OrgRoles,
            RuleSyntax::OrgMember => RuleWord::OrgMember,
            RuleSyntax::Owner(_) => RuleWord::Owner,
            RuleSyntax::TeamMember | RuleSyntax::Team(_) => RuleWord::TeamMember,
            RuleSyntax::All(_) => RuleWord::All,
            RuleSyntax::Any(_) => RuleWord::Any,
            RuleSyntax::When(_) => RuleWord::When,
            RuleSyntax::Named(_) => RuleWord::Rule,
        }
    }
}

/// A string argument: quoted in the attribute's syntax, bare otherwise.
fn string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if f.alternate() {
        write!(f, "{s:?}")
    } else {
        f.write_str(s)
    }
}

/// `items`, separated by `, `, each written by `one`.
fn list<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    one: fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        one(f, item)?;
    }
    Ok(())
}

impl fmt::Display for RuleSyntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word().name())?;
        match self {
            RuleSyntax::Public
            | RuleSyntax::Authenticated
            | RuleSyntax::Deny
            | RuleSyntax::OrgMember
            | RuleSyntax::TeamMember => return Ok(()),
            _ => f.write_str("(")?,
        }
        match self {
            RuleSyntax::Roles(roles) | RuleSyntax::OrgRoles(roles) => {
                list(f, roles, |f, s| string(f, s))?;
            }
            RuleSyntax::Owner(field) | RuleSyntax::Team(field) => string(f, field)?,
            RuleSyntax::All(rules) | RuleSyntax::Any(rules) => list(f, rules, |f, rule| {
                if f.alternate() {
                    write!(f, "{rule:#}")
                } else {
                    write!(f, "{rule}")
                }
            })?,
            RuleSyntax::When(path) | RuleSyntax::Named(path) => f.write_str(path)?,
            _ => {}
        }
        f.write_str(")")
    }
}

/// A preset of `#[permissions(preset = ..)]`: rules for the common shapes of a resource,
/// which the operations the attribute lists override.
///
/// A preset gives every operation a rule; the operations the attribute lists replace theirs,
/// and `default` cannot stand beside it (it would take over the routes a preset keeps for
/// its roles). The Node framework's `publicRead`, where any signed-in caller may write and
/// delete any row, is `#[permissions(preset = public_read, create = authenticated, update =
/// authenticated, delete = authenticated)]`: this crate's `public_read` keeps writes behind
/// roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PermissionPreset {
    /// `public_read`, `public_read("editor", ..)`: anyone lists, reads and walks the tree;
    /// everything else needs one of the roles (`"admin"` when none are given).
    PublicRead,
    /// `admin_only`, `admin_only("ops", ..)`: every operation needs one of the roles
    /// (`"admin"` when none are given).
    AdminOnly,
    /// `owner_with_admin_bypass`, `owner_with_admin_bypass("created_by")`,
    /// `owner_with_admin_bypass("created_by", bypass("admin", "support"))`: a signed-in
    /// caller creates, and lists, reads, walks, updates and deletes the rows whose field
    /// (`"user_id"` when none is named) holds their user id; the bypass roles (`"admin"`)
    /// reach every row and alone use the other routes (trash, restore, bulk). The field must
    /// be one the server sets (`#[field(system)]` or `owned_by_user`'s): a field the caller
    /// writes would let them hand rows to someone else.
    OwnerWithAdminBypass,
    /// `read_only`: a signed-in caller lists, reads and walks the tree; nothing is written.
    ReadOnly,
}

/// What a preset gives an operation, before its arguments are filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PresetRule {
    /// `public`
    Public,
    /// `authenticated`
    Authenticated,
    /// `deny`
    Deny,
    /// `roles(..)`, the preset's roles.
    Roles,
    /// `any(roles(..), owner(..))`, the preset's bypass roles and owner field.
    OwnerOrRoles,
}

impl PermissionPreset {
    /// Every preset.
    pub const ALL: [PermissionPreset; 4] = [
        PermissionPreset::PublicRead,
        PermissionPreset::AdminOnly,
        PermissionPreset::OwnerWithAdminBypass,
        PermissionPreset::ReadOnly,
    ];

    /// The key that names a preset in `#[permissions(..)]`.
    pub const KEY: &'static str = "preset";

    /// The roles a preset uses when it is given none.
    pub const DEFAULT_ROLE: &'static str = "admin";

    /// The owner field `owner_with_admin_bypass` uses when it is given none.
    pub const DEFAULT_OWNER: &'static str = "user_id";

    /// Its name as written.
    pub const fn name(self) -> &'static str {
        match self {
            PermissionPreset::PublicRead => "public_read",
            PermissionPreset::AdminOnly => "admin_only",
            PermissionPreset::OwnerWithAdminBypass => "owner_with_admin_bypass",
            PermissionPreset::ReadOnly => "read_only",
        }
    }

    /// The preset `name` is, if it is one.
    pub fn from_name(name: &str) -> Option<PermissionPreset> {
        PermissionPreset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The rule it gives `op`.
    pub const fn rule(self, op: Operation) -> PresetRule {
        use Operation::{Create, Delete, Get, List, Tree, Update};
        match (self, op) {
            (PermissionPreset::PublicRead, List | Get | Tree) => PresetRule::Public,
            (PermissionPreset::PublicRead | PermissionPreset::AdminOnly, _) => PresetRule::Roles,
            (PermissionPreset::OwnerWithAdminBypass, Create) => PresetRule::Authenticated,
            (PermissionPreset::OwnerWithAdminBypass, List | Get | Tree | Update | Delete) => {
                PresetRule::OwnerOrRoles
            }
            (PermissionPreset::OwnerWithAdminBypass, _) => PresetRule::Roles,
            (PermissionPreset::ReadOnly, List | Get | Tree) => PresetRule::Authenticated,
            (PermissionPreset::ReadOnly, _) => PresetRule::Deny,
        }
    }
}

impl fmt::Display for PermissionPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let rule = RuleSyntax::Any(vec![
            RuleSyntax::All(vec![
                RuleSyntax::Roles(vec!["writer".into(), "admin".into()]),
                RuleSyntax::Owner("created_by".into()),
            ]),
            RuleSyntax::Team("team_id".into()),
            RuleSyntax::OrgMember,
            RuleSyntax::When("crate::may".into()),
        ]);
        assert_eq!(
            rule.to_string(),
            "any(all(roles(writer, admin), owner(created_by)), team_member(team_id), \
             org_member, when(crate::may))"
        );
        assert_eq!(
            format!("{rule:#}"),
            "any(all(roles(\"writer\", \"admin\"), owner(\"created_by\")), \
             team_member(\"team_id\"), org_member, when(crate::may))"
        );
        assert_eq!(
            RuleSyntax::When("crate::may".into()).to_string(),
            "when(crate::may)"
        );
    }

    #[test]
    fn presets() {
        for preset in PermissionPreset::ALL {
            assert_eq!(PermissionPreset::from_name(preset.name()), Some(preset));
        }
        let public = PermissionPreset::PublicRead;
        assert_eq!(public.rule(Operation::Get), PresetRule::Public);
        assert_eq!(public.rule(Operation::Delete), PresetRule::Roles);
        assert_eq!(public.rule(Operation::Deleted), PresetRule::Roles);
        let owner = PermissionPreset::OwnerWithAdminBypass;
        assert_eq!(owner.rule(Operation::Create), PresetRule::Authenticated);
        assert_eq!(owner.rule(Operation::Update), PresetRule::OwnerOrRoles);
        assert_eq!(owner.rule(Operation::Bulk), PresetRule::Roles);
        assert_eq!(owner.rule(Operation::Restore), PresetRule::Roles);
        let read = PermissionPreset::ReadOnly;
        assert_eq!(read.rule(Operation::List), PresetRule::Authenticated);
        assert_eq!(read.rule(Operation::Create), PresetRule::Deny);
        assert_eq!(read.rule(Operation::Bulk), PresetRule::Deny);
        assert_eq!(
            PermissionPreset::AdminOnly.rule(Operation::List),
            PresetRule::Roles
        );
    }

    #[test]
    fn words_round_trip() {
        for word in RuleWord::ALL {
            assert_eq!(RuleWord::from_name(word.name()), Some(word));
        }
    }
}
