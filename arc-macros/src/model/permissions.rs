//! `#[permissions(list = public, update = any(owner("created_by"), roles("admin")), ..)]`:
//! parsed into rule trees and checked against the resource (fields, presets, operations).

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token, parenthesized};

use super::{Resource, Scalar};
use crate::ctxt::Ctxt;
use crate::suggest::did_you_mean;

/// Operations a rule can be given for; `default` covers the ones not listed.
pub(crate) const OPERATIONS: [&str; 10] = [
    "list", "get", "create", "update", "delete", "deleted", "restore", "tree", "bulk", "default",
];
const COMBINATORS: [&str; 11] = [
    "public",
    "authenticated",
    "deny",
    "roles",
    "org_roles",
    "org_member",
    "owner",
    "team_member",
    "all",
    "any",
    "when",
];

/// One rule as written.
#[derive(Debug, Clone)]
pub(crate) enum RuleAst {
    Public,
    Authenticated,
    Deny,
    OrgMember,
    Roles(Vec<LitStr>),
    OrgRoles(Vec<LitStr>),
    /// The field name, and the index once checked.
    Owner(LitStr, Option<usize>),
    /// `team_member`: an active team in the active organization.
    TeamMember,
    /// `team_member("team_id")`: rows of the caller's active team; the field name, and the
    /// index once checked.
    Team(LitStr, Option<usize>),
    All(Vec<RuleAst>),
    Any(Vec<RuleAst>),
    /// `when(path::to::fn)`: `fn(&AuthContext) -> bool`.
    When(syn::Path),
    /// Something that did not parse as a rule (already reported).
    Invalid,
}

/// `op = rule`
#[derive(Debug)]
pub(crate) struct Entry {
    pub op: Ident,
    pub rule: RuleAst,
}

/// The attribute's content, parsed without failing: problems go to the context.
#[derive(Debug)]
pub(crate) struct PermissionsAst {
    pub entries: Vec<Entry>,
}

/// Raw syntax: `ident`, `ident(args)`, a string literal, or `when(path)`.
enum Raw {
    Word(Ident, Option<Punctuated<Raw, Token![,]>>),
    Str(LitStr),
    When(Ident, syn::Path),
}

impl Parse for Raw {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(Raw::Str(input.parse()?));
        }
        let ident: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if ident == "when" && input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            return Ok(Raw::When(ident, content.parse()?));
        }
        if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            return Ok(Raw::Word(
                ident,
                Some(content.parse_terminated(Raw::parse, Token![,])?),
            ));
        }
        Ok(Raw::Word(ident, None))
    }
}

struct RawEntry {
    op: Ident,
    rule: Raw,
}

impl Parse for RawEntry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let op = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![=]>()?;
        Ok(RawEntry {
            op,
            rule: input.parse()?,
        })
    }
}

fn span_of(raw: &Raw) -> Span {
    match raw {
        Raw::Word(ident, _) | Raw::When(ident, _) => ident.span(),
        Raw::Str(lit) => lit.span(),
    }
}

fn strings(cx: &Ctxt, name: &Ident, args: Option<Punctuated<Raw, Token![,]>>) -> Vec<LitStr> {
    let mut out = Vec::new();
    let mut given = false;
    for arg in args.into_iter().flatten() {
        given = true;
        match arg {
            Raw::Str(lit) => out.push(lit),
            other => cx.error_at(
                span_of(&other),
                format!("`{name}(..)` takes role names as strings: {name}(\"admin\")"),
            ),
        }
    }
    // One mistake, one error: `roles(admin)` is about the quotes, not about emptiness.
    if !given {
        cx.error_spanned_by(
            name,
            format!("`{name}()` needs at least one role, e.g. {name}(\"admin\")"),
        );
    }
    out
}

fn rule(cx: &Ctxt, raw: Raw) -> RuleAst {
    let (name, args) = match raw {
        Raw::Word(name, args) => (name, args),
        Raw::When(_, path) => return RuleAst::When(path),
        Raw::Str(lit) => {
            cx.error_spanned_by(
                &lit,
                "expected a rule such as `public` or `roles(\"admin\")`",
            );
            return RuleAst::Invalid;
        }
    };
    let word = name.to_string();
    let no_args = |rule: RuleAst| {
        if args.is_some() {
            cx.error_spanned_by(&name, format!("`{word}` takes no arguments"));
        }
        rule
    };
    match word.as_str() {
        "public" => no_args(RuleAst::Public),
        "authenticated" => no_args(RuleAst::Authenticated),
        "deny" => no_args(RuleAst::Deny),
        "org_member" => no_args(RuleAst::OrgMember),
        "roles" => RuleAst::Roles(strings(cx, &name, args)),
        "org_roles" => RuleAst::OrgRoles(strings(cx, &name, args)),
        "owner" => {
            match args.map(|a| a.into_iter().collect::<Vec<_>>()).as_deref() {
                Some([Raw::Str(field)]) => RuleAst::Owner(field.clone(), None),
                _ => {
                    cx.error_spanned_by(&name, "`owner` names the field that holds the owner's user id: owner(\"created_by\")");
                    RuleAst::Invalid
                }
            }
        }
        "team_member" => match args.map(|a| a.into_iter().collect::<Vec<_>>()).as_deref() {
            None => RuleAst::TeamMember,
            Some([Raw::Str(field)]) => RuleAst::Team(field.clone(), None),
            Some(_) => {
                cx.error_spanned_by(&name, "`team_member` takes no arguments, or the field that holds the team id: team_member(\"team_id\")");
                RuleAst::Invalid
            }
        },
        "when" => {
            cx.error_spanned_by(&name, "`when` names a function: when(path::to::predicate)");
            RuleAst::Invalid
        }
        "all" | "any" => {
            let rules: Vec<RuleAst> = args.into_iter().flatten().map(|a| rule(cx, a)).collect();
            if rules.is_empty() {
                cx.error_spanned_by(&name, format!("`{word}(..)` needs at least one rule"));
            }
            if word == "all" {
                RuleAst::All(rules)
            } else {
                RuleAst::Any(rules)
            }
        }
        _ => {
            let message = format!("unknown permission rule `{word}`");
            cx.error_spanned_by(&name, did_you_mean(message, &word, COMBINATORS));
            RuleAst::Invalid
        }
    }
}

impl PermissionsAst {
    /// Parses the attribute's tokens; syntax errors go to `cx`.
    pub(crate) fn parse(cx: &Ctxt, tokens: proc_macro2::TokenStream) -> PermissionsAst {
        let parser = Punctuated::<RawEntry, Token![,]>::parse_terminated;
        let raw = match syn::parse::Parser::parse2(parser, tokens) {
            Ok(raw) => raw,
            Err(e) => {
                cx.syn_error(e);
                return PermissionsAst {
                    entries: Vec::new(),
                };
            }
        };
        let mut entries: Vec<Entry> = Vec::new();
        for RawEntry { op, rule: raw } in raw {
            let name = op.to_string();
            if !OPERATIONS.contains(&name.as_str()) {
                cx.error_spanned_by(
                    &op,
                    did_you_mean(format!("unknown operation `{name}`"), &name, OPERATIONS),
                );
                continue;
            }
            if entries.iter().any(|e| e.op == op) {
                cx.error_spanned_by(&op, format!("`{name}` is given twice"));
                continue;
            }
            entries.push(Entry {
                op,
                rule: rule(cx, raw),
            });
        }
        PermissionsAst { entries }
    }

    /// Checks owner fields and preset operations against the resource, resolving owner
    /// fields to indexes.
    pub(crate) fn check(&mut self, cx: &Ctxt, model: &Resource) {
        for entry in &mut self.entries {
            let op = entry.op.to_string();
            let preset = match op.as_str() {
                "deleted" | "restore" => model.presets.soft_delete.map(|_| ()).ok_or("soft_delete"),
                "tree" => model.presets.tree.map(|_| ()).ok_or("tree"),
                "bulk" => {
                    if model.presets.bulk {
                        Ok(())
                    } else {
                        Err("bulk")
                    }
                }
                _ => Ok(()),
            };
            if let Err(preset) = preset {
                cx.error_spanned_by(&entry.op, format!("`{op}` is a route of the `{preset}` preset, which this resource does not have"));
            }
            let creates = matches!(op.as_str(), "create" | "bulk");
            check_rule(cx, model, &mut entry.rule, creates);
        }
        self.check_create_gap(cx, model);
    }

    /// Mass assignment: a field with a server default is state the server starts a row in
    /// (an order's `status`). When `create` lets in callers that `update` keeps out, those
    /// callers could pick that state on create. Each such field must say who may write it
    /// (`writable_by`) or that choosing it on create is by design (`writable_on_create`).
    fn check_create_gap(&self, cx: &Ctxt, model: &Resource) {
        let (update, _) = self.rule_for("update");
        let Some(updaters) = role_gate(&update) else {
            // Not role-gated: no set of callers to compare with.
            return;
        };
        let (create, _) = self.rule_for("create");
        if role_gate(&create).is_some_and(|creators| creators.is_subset(&updaters)) {
            return;
        }
        // Nobody updates (`deny`): the state a row is created in is the state it keeps.
        let roles = if updaters.is_empty() {
            "\"admin\"".to_owned()
        } else {
            updaters
                .iter()
                .map(|r| format!("{r:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for f in &model.fields {
            let Some(span) = f.default else { continue };
            if f.system || f.id || !f.writable_by.is_empty() || f.writable_on_create {
                continue;
            }
            cx.error_at(
                span,
                format!(
                    "`{name}` has a default, and `create = {create}` lets in callers that \
                     `update = {update}` keeps out: they could choose `{name}` on create. \
                     Say who may write it, e.g. `#[field(default, writable_by({roles}))]`, or \
                     add `writable_on_create` if anyone who may create may choose it",
                    name = f.name,
                    create = describe(&create),
                    update = describe(&update),
                ),
            );
        }
    }

    /// The rule for `op`: its own, else `default`, else deny.
    pub(crate) fn rule_for(&self, op: &str) -> (RuleAst, bool) {
        let find = |name: &str| {
            self.entries
                .iter()
                .find(|e| e.op == name)
                .map(|e| e.rule.clone())
        };
        match find(op) {
            Some(rule) => (rule, true),
            None => match find("default") {
                Some(rule) => (rule, true),
                None => (RuleAst::Deny, false),
            },
        }
    }
}

fn check_rule(cx: &Ctxt, model: &Resource, rule: &mut RuleAst, creates: bool) {
    match rule {
        RuleAst::Owner(field, index) => {
            *index = id_field(cx, model, field, creates, "owner", "user ids");
        }
        RuleAst::Team(field, index) => {
            *index = id_field(cx, model, field, creates, "team_member", "team ids");
        }
        RuleAst::All(rules) | RuleAst::Any(rules) => {
            for r in rules {
                check_rule(cx, model, r, creates);
            }
        }
        _ => {}
    }
}

/// The roles one of which every caller the rule grants must have, or `None` when it grants
/// some callers without a role (`public`, `authenticated`, `owner`, `when`, ..). Deny grants
/// nobody: the empty set.
fn role_gate(rule: &RuleAst) -> Option<std::collections::BTreeSet<String>> {
    let union =
        |sets: Vec<std::collections::BTreeSet<String>>| sets.into_iter().flatten().collect();
    match rule {
        RuleAst::Roles(roles) | RuleAst::OrgRoles(roles) => {
            Some(roles.iter().map(LitStr::value).collect())
        }
        RuleAst::Deny | RuleAst::Invalid => Some(Default::default()),
        // Every rule holds: any gated one gates the whole (their union is a safe answer).
        RuleAst::All(rules) => {
            let gated: Vec<_> = rules.iter().filter_map(role_gate).collect();
            (!gated.is_empty()).then(|| union(gated))
        }
        // Some rule holds: gated only when every branch is.
        RuleAst::Any(rules) => rules
            .iter()
            .map(role_gate)
            .collect::<Option<Vec<_>>>()
            .map(union),
        _ => None,
    }
}

/// Resolves the field a row rule (`owner`, `team_member`) names: it must exist and hold
/// strings, and the rule cannot guard a create (no row exists yet).
fn id_field(
    cx: &Ctxt,
    model: &Resource,
    field: &LitStr,
    creates: bool,
    rule: &str,
    holds: &str,
) -> Option<usize> {
    let name = field.value();
    if creates {
        cx.error_spanned_by(
            field,
            format!(
                "`{rule}` filters existing rows; a create has none (use `authenticated` or roles)"
            ),
        );
    }
    match model.fields.iter().position(|f| f.name == name) {
        None => {
            let message = format!(
                "`{rule}` names `{name}`, which is not a field of `{}`",
                model.ident
            );
            cx.error_spanned_by(
                field,
                did_you_mean(message, &name, model.fields.iter().map(|f| f.name.as_str())),
            );
            None
        }
        Some(i) if !matches!(model.fields[i].fty.scalar, Scalar::String) => {
            cx.error_spanned_by(
                field,
                format!("`{name}` holds {holds}, so it must be a `String` or `Option<String>`"),
            );
            None
        }
        Some(i) => Some(i),
    }
}

/// The rule in the attribute's own syntax, for docs.
pub(crate) fn describe(rule: &RuleAst) -> String {
    let list = |v: &[LitStr]| {
        v.iter()
            .map(|s| format!("{:?}", s.value()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let nested = |v: &[RuleAst]| v.iter().map(describe).collect::<Vec<_>>().join(", ");
    match rule {
        RuleAst::Public => "public".into(),
        RuleAst::Authenticated => "authenticated".into(),
        RuleAst::Deny | RuleAst::Invalid => "deny".into(),
        RuleAst::OrgMember => "org_member".into(),
        RuleAst::Roles(r) => format!("roles({})", list(r)),
        RuleAst::OrgRoles(r) => format!("org_roles({})", list(r)),
        RuleAst::Owner(f, _) => format!("owner({:?})", f.value()),
        RuleAst::TeamMember => "team_member".into(),
        RuleAst::Team(f, _) => format!("team_member({:?})", f.value()),
        RuleAst::All(r) => format!("all({})", nested(r)),
        RuleAst::Any(r) => format!("any({})", nested(r)),
        RuleAst::When(path) => format!(
            "when({})",
            quote::quote!(#path).to_string().replace(' ', "")
        ),
    }
}
