//! `#[permissions(list = public, update = any(owner("created_by"), roles("admin")), ..)]`:
//! parsed into rule trees and checked against the resource (fields, presets, operations);
//! `preset = public_read` and the other [`PermissionPreset`]s fill in what is not listed.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token, parenthesized};

use arc_spec::{DEFAULT_KEY, Operation, PermissionPreset, PresetRule, RuleSyntax, RuleWord};

use super::{Resource, Scalar, states};
use crate::ctxt::Ctxt;
use crate::suggest::did_you_mean;

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
    /// `rule(path::to::RULE)`: a `const` of the app's, checked at compile time by the
    /// expansion (`Rule::check`), since only the compiler sees its value.
    Named(syn::Path),
    /// Something that did not parse as a rule (already reported).
    Invalid,
}

/// `op = rule`, or `field(from -> to) = rule`
#[derive(Debug)]
pub(crate) struct Entry {
    pub op: Ident,
    /// The operation the key names; `None` for `default`, an action and a transition.
    pub key: Option<Operation>,
    /// The action the key names (one of `actions(..)`).
    pub action: Option<String>,
    /// `status(paid -> shipped)`: a transition of the field `op` names.
    pub transition: Option<(Ident, Ident)>,
    pub rule: RuleAst,
}

/// A transition's own rule, checked: the field, both states as stored, and the rule.
#[derive(Debug, Clone)]
pub(crate) struct TransitionRule {
    pub field: String,
    pub from: String,
    pub to: String,
    pub rule: RuleAst,
}

/// The attribute's content, parsed without failing: problems go to the context.
#[derive(Debug, Default)]
pub(crate) struct PermissionsAst {
    pub entries: Vec<Entry>,
    /// `preset = ..`: rules for what the entries do not list.
    pub preset: Option<PresetAst>,
}

/// `preset = owner_with_admin_bypass("created_by", bypass("admin"))`, parsed.
#[derive(Debug)]
pub(crate) struct PresetAst {
    pub preset: PermissionPreset,
    /// Its roles (the writers, the admins, the bypass roles), never empty.
    pub roles: Vec<LitStr>,
    /// `owner_with_admin_bypass`'s field, and its index once checked.
    pub owner: Option<(LitStr, Option<usize>)>,
}

impl PresetAst {
    /// The rule it gives `op`.
    fn rule(&self, op: Operation) -> RuleAst {
        let roles = || RuleAst::Roles(self.roles.clone());
        match self.preset.rule(op) {
            PresetRule::Public => RuleAst::Public,
            PresetRule::Authenticated => RuleAst::Authenticated,
            PresetRule::Deny => RuleAst::Deny,
            PresetRule::Roles => roles(),
            PresetRule::OwnerOrRoles => match &self.owner {
                Some((field, index)) => {
                    RuleAst::Any(vec![roles(), RuleAst::Owner(field.clone(), *index)])
                }
                None => RuleAst::Invalid,
            },
        }
    }

    /// `preset = name` or `preset = name(args)`.
    fn parse(cx: &Ctxt, raw: Raw) -> Option<PresetAst> {
        let names = || PermissionPreset::ALL.map(PermissionPreset::name);
        let Raw::Word(ident, args) = raw else {
            cx.error_at(
                span_of(&raw),
                format!("a preset is one of {}", names().join(", ")),
            );
            return None;
        };
        let word = ident.to_string();
        let Some(preset) = PermissionPreset::from_name(&word) else {
            let message = format!("unknown permission preset `{word}`");
            cx.error_spanned_by(&ident, did_you_mean(message, &word, names()));
            return None;
        };
        let default_role = || vec![LitStr::new(PermissionPreset::DEFAULT_ROLE, ident.span())];
        let given = args.is_some();
        let args: Vec<Raw> = args.into_iter().flatten().collect();
        let mut out = PresetAst {
            preset,
            roles: default_role(),
            owner: None,
        };
        match preset {
            PermissionPreset::PublicRead | PermissionPreset::AdminOnly if given => {
                out.roles = strings(cx, &ident, Some(args.into_iter().collect()));
            }
            PermissionPreset::PublicRead | PermissionPreset::AdminOnly => {}
            PermissionPreset::ReadOnly => {
                if given {
                    cx.error_spanned_by(&ident, "`read_only` takes no arguments");
                }
            }
            PermissionPreset::OwnerWithAdminBypass => {
                let usage = "`owner_with_admin_bypass` takes the owner field and the roles that \
                             reach every row: owner_with_admin_bypass(\"created_by\", \
                             bypass(\"admin\"))";
                let mut args = args.into_iter();
                let mut field = LitStr::new(PermissionPreset::DEFAULT_OWNER, ident.span());
                if given && args.len() == 0 {
                    cx.error_spanned_by(&ident, usage);
                }
                let mut next = args.next();
                if let Some(Raw::Str(lit)) = next {
                    field = lit;
                    next = args.next();
                }
                match next {
                    None => {}
                    Some(Raw::Word(bypass, roles)) if bypass == "bypass" => {
                        out.roles = strings(cx, &bypass, roles);
                    }
                    Some(other) => cx.error_at(span_of(&other), usage),
                }
                if let Some(extra) = args.next() {
                    cx.error_at(span_of(&extra), usage);
                }
                out.owner = Some((field, None));
            }
        }
        Some(out)
    }
}

/// Raw syntax: `ident`, `ident(args)`, a string literal, or `when(path)` / `rule(path)`.
enum Raw {
    Word(Ident, Option<Punctuated<Raw, Token![,]>>),
    Str(LitStr),
    Path(Ident, syn::Path),
}

impl Parse for Raw {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(Raw::Str(input.parse()?));
        }
        let ident: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if (ident == "when" || ident == "rule") && input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            return Ok(Raw::Path(ident, content.parse()?));
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
    transition: Option<(Ident, Ident)>,
    rule: Raw,
}

impl Parse for RawEntry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let op = input.call(syn::ext::IdentExt::parse_any)?;
        let transition = if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            let from = content.call(syn::ext::IdentExt::parse_any)?;
            content.parse::<Token![->]>()?;
            let to = content.call(syn::ext::IdentExt::parse_any)?;
            Some((from, to))
        } else {
            None
        };
        input.parse::<Token![=]>()?;
        Ok(RawEntry {
            op,
            transition,
            rule: input.parse()?,
        })
    }
}

fn span_of(raw: &Raw) -> Span {
    match raw {
        Raw::Word(ident, _) | Raw::Path(ident, _) => ident.span(),
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
        Raw::Path(word, path) if word == "when" => return RuleAst::When(path),
        Raw::Path(_, path) => return RuleAst::Named(path),
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
    let Some(known) = RuleWord::from_name(&word) else {
        let message = format!("unknown permission rule `{word}`");
        let words = RuleWord::ALL.map(RuleWord::name);
        cx.error_spanned_by(&name, did_you_mean(message, &word, words));
        return RuleAst::Invalid;
    };
    match known {
        RuleWord::Public => no_args(RuleAst::Public),
        RuleWord::Authenticated => no_args(RuleAst::Authenticated),
        RuleWord::Deny => no_args(RuleAst::Deny),
        RuleWord::OrgMember => no_args(RuleAst::OrgMember),
        RuleWord::Roles => RuleAst::Roles(strings(cx, &name, args)),
        RuleWord::OrgRoles => RuleAst::OrgRoles(strings(cx, &name, args)),
        RuleWord::Owner => {
            match args.map(|a| a.into_iter().collect::<Vec<_>>()).as_deref() {
                Some([Raw::Str(field)]) => RuleAst::Owner(field.clone(), None),
                _ => {
                    cx.error_spanned_by(&name, "`owner` names the field that holds the owner's user id: owner(\"created_by\")");
                    RuleAst::Invalid
                }
            }
        }
        RuleWord::TeamMember => match args.map(|a| a.into_iter().collect::<Vec<_>>()).as_deref() {
            None => RuleAst::TeamMember,
            Some([Raw::Str(field)]) => RuleAst::Team(field.clone(), None),
            Some(_) => {
                cx.error_spanned_by(&name, "`team_member` takes no arguments, or the field that holds the team id: team_member(\"team_id\")");
                RuleAst::Invalid
            }
        },
        RuleWord::When => {
            cx.error_spanned_by(&name, "`when` names a function: when(path::to::predicate)");
            RuleAst::Invalid
        }
        RuleWord::Rule => {
            cx.error_spanned_by(
                &name,
                "`rule` names a rule of the app's, a `const` of `arc_runtime::Rule`: \
                 rule(crate::rules::EDITORS)",
            );
            RuleAst::Invalid
        }
        RuleWord::All | RuleWord::Any => {
            let rules: Vec<RuleAst> = args.into_iter().flatten().map(|a| rule(cx, a)).collect();
            if rules.is_empty() {
                cx.error_spanned_by(&name, format!("`{word}(..)` needs at least one rule"));
            }
            if known == RuleWord::All {
                RuleAst::All(rules)
            } else {
                RuleAst::Any(rules)
            }
        }
    }
}

impl PermissionsAst {
    /// Parses the attribute's tokens; syntax errors go to `cx`. Its keys are the operations,
    /// `default` and the resource's `actions`.
    pub(crate) fn parse(
        cx: &Ctxt,
        tokens: proc_macro2::TokenStream,
        actions: &[String],
    ) -> PermissionsAst {
        let parser = Punctuated::<RawEntry, Token![,]>::parse_terminated;
        let raw = match syn::parse::Parser::parse2(parser, tokens) {
            Ok(raw) => raw,
            Err(e) => {
                cx.syn_error(e);
                return PermissionsAst::default();
            }
        };
        let mut entries: Vec<Entry> = Vec::new();
        let mut preset: Option<PresetAst> = None;
        let mut preset_key: Option<Ident> = None;
        for RawEntry {
            op,
            transition,
            rule: raw,
        } in raw
        {
            if let Some((from, to)) = transition {
                // The field and its transition are checked against the resource later.
                let same = |e: &Entry| {
                    e.op == op
                        && e.transition.as_ref().is_some_and(|(f, t)| {
                            states::name(f) == states::name(&from)
                                && states::name(t) == states::name(&to)
                        })
                };
                if entries.iter().any(same) {
                    cx.error_spanned_by(
                        &to,
                        format!(
                            "`{op}({} -> {})` is given twice",
                            states::name(&from),
                            states::name(&to)
                        ),
                    );
                    continue;
                }
                entries.push(Entry {
                    op,
                    key: None,
                    action: None,
                    transition: Some((from, to)),
                    rule: rule(cx, raw),
                });
                continue;
            }
            let name = op.to_string().trim_start_matches("r#").to_owned();
            if name == PermissionPreset::KEY && !actions.contains(&name) {
                if preset_key.is_some() {
                    cx.error_spanned_by(&op, "`preset` is given twice");
                } else {
                    preset_key = Some(op);
                    preset = PresetAst::parse(cx, raw);
                }
                continue;
            }
            let key = Operation::from_name(&name);
            let action = actions.contains(&name).then(|| name.clone());
            if key.is_none() && action.is_none() && name != DEFAULT_KEY {
                let mut keys: Vec<&str> = Operation::keys().collect();
                keys.push(PermissionPreset::KEY);
                keys.extend(actions.iter().map(String::as_str));
                cx.error_spanned_by(
                    &op,
                    did_you_mean(format!("unknown operation or action `{name}`"), &name, keys),
                );
                continue;
            }
            if entries.iter().any(|e| e.op == op && e.transition.is_none()) {
                cx.error_spanned_by(&op, format!("`{name}` is given twice"));
                continue;
            }
            entries.push(Entry {
                op,
                key,
                action,
                transition: None,
                rule: rule(cx, raw),
            });
        }
        // A preset gives every operation a rule, and the operations listed replace theirs:
        // a `default` beside it would quietly take over the ones it keeps for its roles
        // (the trash, restore, bulk).
        if let (Some(key), Some(default)) = (
            &preset_key,
            entries
                .iter()
                .find(|e| e.op == DEFAULT_KEY && e.transition.is_none()),
        ) {
            cx.error_spanned_by(
                &default.op,
                format!(
                    "`default` and `{key}` both say what the unlisted operations get: list the \
                     operations that differ from the preset instead"
                ),
            );
        }
        PermissionsAst { entries, preset }
    }

    /// Checks owner fields and preset operations against the resource, resolving owner
    /// fields to indexes; and each transition's field and states.
    pub(crate) fn check(&mut self, cx: &Ctxt, model: &Resource) {
        if let Some(preset) = &mut self.preset {
            check_preset(cx, model, preset);
        }
        for entry in &mut self.entries {
            if let Some((from, to)) = &entry.transition {
                check_transition(cx, model, &entry.op, from, to);
            }
            if let Some(preset) = entry.key.and_then(Operation::preset)
                && !model.presets.has(preset)
            {
                cx.error_spanned_by(
                    &entry.op,
                    format!(
                        "`{}` is a route of the `{preset}` preset, which this resource does not have",
                        entry.op
                    ),
                );
            }
            // `owner` and `team_member` filter rows; a create has none yet.
            let creates = matches!(entry.key, Some(Operation::Create | Operation::Bulk));
            check_rule(cx, model, &mut entry.rule, creates);
        }
        // An action is a write of its own: it never falls back to `default`. (A name
        // declared twice, or an operation's, has its own error already.)
        let mut asked: Vec<String> = Vec::new();
        for action in &model.actions {
            let name = action.name();
            if asked.contains(&name) || Operation::from_name(&name).is_some() {
                continue;
            }
            asked.push(name);
            if self.action_rule(&action.name()).is_none() {
                cx.error_spanned_by(
                    &action.ident,
                    format!(
                        "action `{name}` has no rule: add `{name} = ..` to #[permissions] \
                         (an action does not fall back to `default`)",
                        name = action.name()
                    ),
                );
            }
        }
        self.check_create_gap(cx, model);
    }

    /// The transitions' own rules, as written (checked by [`PermissionsAst::check`]).
    pub(crate) fn transitions(&self) -> Vec<TransitionRule> {
        self.entries
            .iter()
            .filter_map(|e| {
                let (from, to) = e.transition.as_ref()?;
                Some(TransitionRule {
                    field: e.op.to_string().trim_start_matches("r#").to_owned(),
                    from: states::name(from),
                    to: states::name(to),
                    rule: e.rule.clone(),
                })
            })
            .collect()
    }

    /// The rule of the action `name`, when `#[permissions]` gives it one.
    pub(crate) fn action_rule(&self, name: &str) -> Option<RuleAst> {
        self.entries
            .iter()
            .find(|e| e.action.as_deref() == Some(name))
            .map(|e| e.rule.clone())
    }

    /// Mass assignment: a field with a server default is state the server starts a row in
    /// (an order's `status`). When `create` lets in callers that `update` keeps out, those
    /// callers could pick that state on create. Each such field must say who may write it
    /// (`writable_by`) or that choosing it on create is by design (`writable_on_create`).
    fn check_create_gap(&self, cx: &Ctxt, model: &Resource) {
        let (update, _) = self.rule_for(Operation::Update);
        // An app's rule is a value only the compiler sees: on the update side it counts as
        // letting in no one known, on the create side as letting in anyone (the safe ends).
        let Some(updaters) = role_gate(&update, true) else {
            // Not role-gated: no set of callers to compare with.
            return;
        };
        let (create, _) = self.rule_for(Operation::Create);
        if role_gate(&create, false).is_some_and(|creators| creators.is_subset(&updaters)) {
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
                    "`{name}` has a default, and `create = {create:#}` lets in callers that \
                     `update = {update:#}` keeps out: they could choose `{name}` on create. \
                     Say who may write it, e.g. `#[field(default, writable_by({roles}))]`, or \
                     add `writable_on_create` if anyone who may create may choose it",
                    name = f.name,
                    create = syntax(&create),
                    update = syntax(&update),
                ),
            );
        }
    }

    /// The rule for `op`: its own, else the preset's, else `default` (never beside a
    /// preset), else deny; and whether it is listed (all but the last).
    pub(crate) fn rule_for(&self, op: Operation) -> (RuleAst, bool) {
        let find = |key: Option<Operation>| {
            self.entries
                .iter()
                .find(|e| e.key == key && e.action.is_none() && e.transition.is_none())
                .map(|e| e.rule.clone())
        };
        let rule = find(Some(op))
            .or_else(|| self.preset.as_ref().map(|p| p.rule(op)))
            .or_else(|| find(None));
        match rule {
            Some(rule) => (rule, true),
            None => (RuleAst::Deny, false),
        }
    }

    /// Each `rule(path)` the resource's rules use, once by its text, in the order first
    /// used, with whether one of its uses guards a create (`create`, or `bulk` when the
    /// resource has it: a row filter cannot hold there). The expansion holds them in one
    /// array and checks each at compile time.
    pub(crate) fn named(&self, model: &Resource) -> Vec<(syn::Path, bool)> {
        fn walk(rule: &RuleAst, creates: bool, out: &mut Vec<(syn::Path, bool)>) {
            match rule {
                RuleAst::Named(path) => {
                    let text = path_text(path);
                    match out.iter_mut().find(|(p, _)| path_text(p) == text) {
                        Some((_, c)) => *c |= creates,
                        None => out.push((path.clone(), creates)),
                    }
                }
                RuleAst::All(rules) | RuleAst::Any(rules) => {
                    rules.iter().for_each(|r| walk(r, creates, out));
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for op in Operation::ALL {
            if op.preset().is_some_and(|p| !model.presets.has(p)) {
                continue;
            }
            let creates = matches!(op, Operation::Create | Operation::Bulk);
            walk(&self.rule_for(op).0, creates, &mut out);
        }
        for action in &model.actions {
            if let Some(rule) = self.action_rule(&action.name()) {
                walk(&rule, false, &mut out);
            }
        }
        for t in self.transitions() {
            walk(&t.rule, false, &mut out);
        }
        out
    }
}

/// The preset's owner field: a `String` field of the resource that the server sets, never
/// the caller (`#[field(system)]`, or `owned_by_user`'s), so no caller hands a row to
/// someone else or takes one over.
fn check_preset(cx: &Ctxt, model: &Resource, preset: &mut PresetAst) {
    let Some((field, index)) = &mut preset.owner else {
        return;
    };
    *index = id_field(
        cx,
        model,
        field,
        false,
        "owner_with_admin_bypass",
        "user ids",
    );
    let Some(i) = *index else { return };
    let name = &model.fields[i].name;
    let bypass = preset
        .roles
        .iter()
        .map(|r| format!("{:?}", r.value()))
        .collect::<Vec<_>>()
        .join(", ");
    if model.presets.owner == Some(i) {
        // `owned_by_user` narrows every caller outside its own bypass to their rows, which
        // would quietly undo the preset's.
        let missing: Vec<String> = preset
            .roles
            .iter()
            .map(LitStr::value)
            .filter(|r| !model.presets.owner_bypass.contains(r))
            .collect();
        if !missing.is_empty() {
            cx.error_spanned_by(
                field,
                format!(
                    "`owned_by_user` scopes `{name}` too, and keeps {} to their own rows: \
                     give it the same bypass, `owned_by_user(field = \"{name}\", \
                     bypass({bypass}))`",
                    missing.join(", ")
                ),
            );
        }
    } else if !model.fields[i].system {
        cx.error_spanned_by(
            field,
            format!(
                "`{name}` decides who owns a row, so the server sets it, not the caller: \
                 mark it #[field(system)] and set it in a hook, or let \
                 `#[resource(presets(owned_by_user(field = \"{name}\", bypass({bypass}))))]` \
                 stamp it"
            ),
        );
    }
}

/// `field(from -> to) = ..`: the field declares `states(..)` with that transition.
fn check_transition(cx: &Ctxt, model: &Resource, field: &Ident, from: &Ident, to: &Ident) {
    let name = field.to_string().trim_start_matches("r#").to_owned();
    let with_states = model
        .fields
        .iter()
        .filter(|f| !f.states.transitions.is_empty());
    let Some(declared) = model.fields.iter().find(|f| f.name == name) else {
        let message = format!("unknown operation, action or field `{name}`");
        let mut keys: Vec<String> = with_states.map(|f| f.name.clone()).collect();
        keys.extend(Operation::keys().map(str::to_owned));
        cx.error_spanned_by(
            field,
            did_you_mean(message, &name, keys.iter().map(String::as_str)),
        );
        return;
    };
    if declared.states.transitions.is_empty() {
        cx.error_spanned_by(
            field,
            format!(
                "`{name}(from -> to)` gives a transition its own rule, and `{name}` declares no \
                 transitions: add #[field(states(..))] to it"
            ),
        );
        return;
    }
    let (from, to) = (states::name(from), states::name(to));
    if !declared
        .states
        .transitions
        .contains(&(from.clone(), to.clone()))
    {
        let moves: Vec<String> = declared
            .states
            .transitions
            .iter()
            .map(|(f, t)| format!("{f} -> {t}"))
            .collect();
        cx.error_spanned_by(
            field,
            format!(
                "`{name}` has no transition `{from} -> {to}`: it declares {}",
                moves.join(", ")
            ),
        );
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
fn role_gate(rule: &RuleAst, named_gated: bool) -> Option<std::collections::BTreeSet<String>> {
    let union =
        |sets: Vec<std::collections::BTreeSet<String>>| sets.into_iter().flatten().collect();
    match rule {
        RuleAst::Roles(roles) | RuleAst::OrgRoles(roles) => {
            Some(roles.iter().map(LitStr::value).collect())
        }
        RuleAst::Deny | RuleAst::Invalid => Some(Default::default()),
        RuleAst::Named(_) if named_gated => Some(Default::default()),
        // Every rule holds: any gated one gates the whole (their union is a safe answer).
        RuleAst::All(rules) => {
            let gated: Vec<_> = rules
                .iter()
                .filter_map(|r| role_gate(r, named_gated))
                .collect();
            (!gated.is_empty()).then(|| union(gated))
        }
        // Some rule holds: gated only when every branch is.
        RuleAst::Any(rules) => rules
            .iter()
            .map(|r| role_gate(r, named_gated))
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

/// The rule as the shared syntax tree, which renders it: `{}` as the runtime's document and
/// registry show it, `{:#}` in the attribute's own syntax (for errors).
pub(crate) fn syntax(rule: &RuleAst) -> RuleSyntax {
    let strings = |v: &[LitStr]| v.iter().map(LitStr::value).collect();
    let nested = |v: &[RuleAst]| v.iter().map(syntax).collect();
    match rule {
        RuleAst::Public => RuleSyntax::Public,
        RuleAst::Authenticated => RuleSyntax::Authenticated,
        RuleAst::Deny | RuleAst::Invalid => RuleSyntax::Deny,
        RuleAst::OrgMember => RuleSyntax::OrgMember,
        RuleAst::Roles(r) => RuleSyntax::Roles(strings(r)),
        RuleAst::OrgRoles(r) => RuleSyntax::OrgRoles(strings(r)),
        RuleAst::Owner(f, _) => RuleSyntax::Owner(f.value()),
        RuleAst::TeamMember => RuleSyntax::TeamMember,
        RuleAst::Team(f, _) => RuleSyntax::Team(f.value()),
        RuleAst::All(r) => RuleSyntax::All(nested(r)),
        RuleAst::Any(r) => RuleSyntax::Any(nested(r)),
        RuleAst::When(path) => RuleSyntax::When(path_text(path)),
        RuleAst::Named(path) => RuleSyntax::Named(path_text(path)),
    }
}

/// A `when(..)` predicate's path as the rule text shows it (`crate::may`): the same in the
/// expansion's route docs and, through the generated `Rule::When`, in the runtime's.
pub(crate) fn path_text(path: &syn::Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}
