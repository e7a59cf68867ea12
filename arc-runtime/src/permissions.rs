//! Permissions: a rule per operation, evaluated against the caller into a decision that is
//! either denied, granted, or granted for some rows only (a row filter applied in SQL).
//!
//! Rules are static values the macro emits (`Rule::Any(&[Rule::Owner("created_by"),
//! Rule::Roles(&["admin"])])`), or an app names in a `const` and uses as `rule(path)`.
//! Row filters go through the one scope every query uses, so a row outside them is a 404 on
//! every route and never appears in a list.

use std::future::Future;
use std::pin::Pin;

use arc_spec::RuleSyntax;
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{Condition, DatabaseConnection};

use crate::action::Operation;
use crate::auth::{AuthContext, RoleScope};
use crate::error::ArcError;
use crate::query::sql;
use crate::resource::{FieldMeta, ResourceMeta};

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
    /// organization on a `multi_tenant` resource (its rows are that organization's own;
    /// an [elevated](AuthContext::elevated) caller has every role there).
    Roles(&'static [&'static str]),
    /// A caller with one of these roles in the active organization (or elevated).
    OrgRoles(&'static [&'static str]),
    /// A caller with an active organization (or elevated).
    OrgMember,
    /// Rows whose field holds the caller's user id (every row for an elevated caller).
    Owner(&'static str),
    /// A member of the active organization with an active team (`team_id`), or an
    /// elevated caller.
    TeamMember,
    /// Like [`Rule::TeamMember`], on the rows whose field holds the active team.
    Team(&'static str),
    /// Every rule holds (row filters are combined with AND).
    All(&'static [Rule]),
    /// Some rule holds (row filters are combined with OR).
    Any(&'static [Rule]),
    /// A predicate of the app's: `when(path::to::fn)`, over the caller alone or asking the
    /// database (see [`Predicate`]).
    When(Predicate),
    /// A rule the app names: `rule(path::to::RULE)` in `#[permissions]`, a `const` of its
    /// own that several resources share. It holds when `rule` does; documents show its path.
    ///
    /// ```
    /// use arc_runtime::Rule;
    /// /// Editors, or the row's author.
    /// pub const EDITOR_OR_AUTHOR: Rule =
    ///     Rule::Any(&[Rule::Roles(&["editor"]), Rule::Owner("created_by")]);
    /// // #[permissions(update = rule(crate::EDITOR_OR_AUTHOR), ..)]
    /// ```
    ///
    /// The macro checks it at compile time against the resource as it checks its own rules
    /// (an `owner(..)` or `team_member(..)` names a `String` field, and guards no create).
    Named {
        /// The path as written (`crate::EDITOR_OR_AUTHOR`).
        path: &'static str,
        /// The rule.
        rule: &'static Rule,
    },
}

/// What `when(path)` calls: a `fn(&AuthContext) -> bool`, or an
/// `async fn(&CheckContext<'_>) -> Result<Verdict, ArcError>` that may ask the database and
/// answer with a row filter. [`when!`](crate::when) writes it from the function, through
/// [`WhenFn`].
#[derive(Clone, Copy)]
pub struct Predicate {
    /// The function: its answer now when it needs only the caller, else (given the
    /// context) its future.
    pub call: for<'a> fn(&AuthContext, Option<&'a CheckContext<'a>>) -> WhenAnswer<'a>,
    /// The path as written (for documents and the registry).
    pub path: &'static str,
    /// The module it was written in (`module_path!()`), where `path` resolves: a rule
    /// brings in predicates written in other modules (an app's named rules), and the same
    /// text there may name another function.
    pub module: &'static str,
}

impl Predicate {
    /// Whether `other` is the same function, written the same way in the same module: each
    /// is asked once per decision.
    fn same(&self, other: &Predicate) -> bool {
        self.path == other.path && self.module == other.module
    }

    /// Its answer when it needs nothing but the caller; `None` for an asynchronous one.
    fn sync(&self, caller: &AuthContext) -> Option<bool> {
        match (self.call)(caller, None) {
            WhenAnswer::Now(granted) => Some(granted),
            WhenAnswer::Later(_) | WhenAnswer::NeedsContext => None,
        }
    }

    /// Its answer, asked with the request's context.
    fn check<'a>(&self, ctx: &'a CheckContext<'a>) -> CheckFuture<'a> {
        match (self.call)(ctx.caller, Some(ctx)) {
            WhenAnswer::Now(granted) => Box::pin(std::future::ready(Ok(Verdict::from(granted)))),
            WhenAnswer::Later(future) => future,
            WhenAnswer::NeedsContext => Box::pin(std::future::ready(Ok(Verdict::Deny))),
        }
    }
}

/// What a `when(..)` function answers when called ([`WhenFn::answer`]).
#[non_exhaustive]
pub enum WhenAnswer<'a> {
    /// Its answer, from the caller alone.
    Now(bool),
    /// Its future, given the context.
    Later(CheckFuture<'a>),
    /// It needs the context, which was not given.
    NeedsContext,
}

impl std::fmt::Debug for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "when({})", self.path)
    }
}

/// What an asynchronous `when(..)` sees.
#[non_exhaustive]
pub struct CheckContext<'a> {
    /// The database, for the check's own questions (a membership table, say).
    pub db: &'a DatabaseConnection,
    /// Who asks.
    pub caller: &'a AuthContext,
    /// The resource asked of (`"project"`).
    pub resource: &'static str,
    /// What is asked: the operation (`"list"`, `"update"`) or the action (`"cancel"`).
    pub operation: &'static str,
}

/// The answer of an asynchronous `when(..)`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Verdict {
    /// Granted, on every row the rest of the rule lets in.
    Allow,
    /// Refused: as any rule that does not hold (401 anonymous, 403 signed in).
    Deny,
    /// Granted on the rows this condition holds for, in SQL (a list shows only them, a
    /// read or write of another row is a 404). Inside `any(..)` it is OR-ed with the other
    /// branches' rows, inside `all(..)` AND-ed, as `owner(..)` is.
    Rows(Condition),
}

impl Verdict {
    /// Granted on the rows `condition` holds for: a sea-query expression on the resource's
    /// columns (`project_entity::Column::Team.is_in(teams)`).
    pub fn rows(condition: impl IntoCondition) -> Self {
        Verdict::Rows(condition.into_condition())
    }
}

impl From<bool> for Verdict {
    fn from(granted: bool) -> Self {
        if granted {
            Verdict::Allow
        } else {
            Verdict::Deny
        }
    }
}

/// A `when(..)` rule outside `#[permissions]` (a [`CustomRoute`](crate::CustomRoute)'s
/// permission, or inside `Rule::Any(&[..])`): `when!(path::to::fn)`, for the same two kinds
/// of function as the attribute takes. `#[permissions]` writes its `when(..)` through it.
///
/// ```
/// use arc_runtime::{AuthContext, Rule, when};
/// fn staff(caller: &AuthContext) -> bool { caller.has_role("staff") }
/// const STAFF_OR_ADMIN: Rule = Rule::Any(&[when!(staff), Rule::Roles(&["admin"])]);
/// ```
#[macro_export]
macro_rules! when {
    ($f:path) => {
        $crate::when!($f, ::core::stringify!($f))
    };
    ($f:path, $text:expr) => {
        $crate::Rule::When($crate::Predicate {
            call: {
                fn call<'a>(
                    caller: &$crate::AuthContext,
                    ctx: ::core::option::Option<&'a $crate::CheckContext<'a>>,
                ) -> $crate::WhenAnswer<'a> {
                    $crate::WhenFn::answer($f, caller, ctx)
                }
                call
            },
            path: $text,
            module: ::core::module_path!(),
        })
    };
}

/// The future of an asynchronous `when(..)`.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<Verdict, ArcError>> + Send + 'a>>;

/// The functions `when(..)` takes. `Marker` tells the two kinds apart (as axum's `Handler`
/// does); you never name it.
#[diagnostic::on_unimplemented(
    message = "`when(..)` takes a `fn(&AuthContext) -> bool` or an `async fn(&CheckContext<'_>) -> Result<Verdict, ArcError>`",
    label = "not a predicate `when(..)` can call"
)]
pub trait WhenFn<'a, Marker> {
    /// Its answer now when it needs only the caller, else its future given the context.
    fn answer(self, caller: &AuthContext, ctx: Option<&'a CheckContext<'a>>) -> WhenAnswer<'a>;
}

/// [`WhenFn`]'s marker of a `fn(&AuthContext) -> bool`.
#[doc(hidden)]
#[derive(Debug)]
pub enum OverCaller {}

/// [`WhenFn`]'s marker of an `async fn(&CheckContext<'_>) -> Result<Verdict, ArcError>`.
#[doc(hidden)]
#[derive(Debug)]
pub enum AskingDatabase {}

impl<'a, F: Fn(&AuthContext) -> bool> WhenFn<'a, OverCaller> for F {
    fn answer(self, caller: &AuthContext, _: Option<&'a CheckContext<'a>>) -> WhenAnswer<'a> {
        WhenAnswer::Now(self(caller))
    }
}

impl<'a, F, Fut> WhenFn<'a, AskingDatabase> for F
where
    F: Fn(&'a CheckContext<'a>) -> Fut,
    Fut: Future<Output = Result<Verdict, ArcError>> + Send + 'a,
{
    fn answer(self, _: &AuthContext, ctx: Option<&'a CheckContext<'a>>) -> WhenAnswer<'a> {
        match ctx {
            Some(ctx) => WhenAnswer::Later(Box::pin(self(ctx))),
            None => WhenAnswer::NeedsContext,
        }
    }
}

/// The answers of the `when(..)` in a rule, asked before it is evaluated
/// ([`ask`]); none where nothing may be asked (an event stream's rows, checked in memory):
/// there a synchronous `when` is called, and an asynchronous one does not hold.
#[derive(Debug, Default)]
pub(crate) struct Answers(Vec<(Predicate, Verdict)>);

impl Answers {
    /// Every `when(..)` of `rule` granted: with these a rule lets in the most it can, so
    /// what it refuses with them it refuses whatever the app's code answers. Decided
    /// without that code (nothing is asked).
    #[cfg(any(feature = "mcp", test))]
    pub(crate) fn granting(rule: &Rule) -> Self {
        let mut found = Vec::new();
        predicates(rule, &mut found);
        Answers(found.into_iter().map(|p| (*p, Verdict::Allow)).collect())
    }

    /// The answer of the check `p`, with its place.
    fn find(&self, p: &Predicate) -> Option<(usize, &Verdict)> {
        self.0
            .iter()
            .enumerate()
            .find_map(|(i, (q, v))| q.same(p).then_some((i, v)))
    }
}

/// Every `when(..)` of `rule`, in order (a check named twice, twice).
fn predicates<'r>(rule: &'r Rule, out: &mut Vec<&'r Predicate>) {
    match rule {
        Rule::When(p) => out.push(p),
        Rule::All(rules) | Rule::Any(rules) => {
            for rule in *rules {
                predicates(rule, out);
            }
        }
        Rule::Named { rule, .. } => predicates(rule, out),
        _ => {}
    }
}

/// Asks every `when(..)` of `rule`, each once (the asynchronous ones with `ctx`).
pub(crate) async fn ask(rule: &Rule, ctx: &CheckContext<'_>) -> Result<Answers, ArcError> {
    let mut found = Vec::new();
    predicates(rule, &mut found);
    let mut answers = Answers::default();
    for p in found {
        if answers.find(p).is_some() {
            continue;
        }
        // Each function is called once per decision: a synchronous one's answer is kept too.
        let verdict = match p.sync(ctx.caller) {
            Some(granted) => Verdict::from(granted),
            None => p.check(ctx).await?,
        };
        answers.0.push((*p, verdict));
    }
    Ok(answers)
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
    /// `status(paid -> shipped) = ..`: transitions with a rule of their own, which must hold
    /// too (beside the write's) for a write or action that makes them.
    pub transitions: &'static [TransitionRule],
}

/// A transition's own rule: `status(paid -> shipped) = roles("admin")` in `#[permissions]`.
#[derive(Clone, Copy, Debug)]
pub struct TransitionRule {
    /// The field with `states(..)`.
    pub field: &'static str,
    /// The state it leaves, as stored.
    pub from: &'static str,
    /// The state it enters, as stored.
    pub to: &'static str,
    /// `status(paid -> shipped)`, as asked ([`CheckContext::operation`]) and described.
    pub name: &'static str,
    /// Who may make it.
    pub rule: Rule,
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
        transitions: &[],
    };
}

impl Rule {
    /// The rule as the shared syntax tree.
    fn syntax(&self) -> RuleSyntax {
        let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
        let nested = |rules: &[Rule]| rules.iter().map(Rule::syntax).collect();
        match self {
            Rule::Public => RuleSyntax::Public,
            Rule::Authenticated => RuleSyntax::Authenticated,
            Rule::Deny => RuleSyntax::Deny,
            Rule::Roles(roles) => RuleSyntax::Roles(strings(roles)),
            Rule::OrgRoles(roles) => RuleSyntax::OrgRoles(strings(roles)),
            Rule::OrgMember => RuleSyntax::OrgMember,
            Rule::Owner(field) => RuleSyntax::Owner((*field).to_owned()),
            Rule::TeamMember => RuleSyntax::TeamMember,
            Rule::Team(field) => RuleSyntax::Team((*field).to_owned()),
            Rule::All(rules) => RuleSyntax::All(nested(rules)),
            Rule::Any(rules) => RuleSyntax::Any(nested(rules)),
            Rule::When(p) => RuleSyntax::When(p.path.to_owned()),
            Rule::Named { path, .. } => RuleSyntax::Named((*path).to_owned()),
        }
    }

    /// Whether anyone, signed in or not, passes it.
    pub fn is_public(&self) -> bool {
        match self {
            Rule::Public => true,
            Rule::All(rules) => rules.iter().all(Rule::is_public),
            Rule::Any(rules) => rules.iter().any(Rule::is_public),
            Rule::Named { rule, .. } => rule.is_public(),
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
            Rule::Named { rule, .. } => rule.calls_app(),
            _ => false,
        }
    }

    /// Every field a row filter of it names (`owner(..)`, `team_member(..)`).
    pub(crate) fn row_fields(&self, out: &mut impl FnMut(&'static str)) {
        match self {
            Rule::Owner(field) | Rule::Team(field) => out(field),
            Rule::All(rules) | Rule::Any(rules) => rules.iter().for_each(|r| r.row_fields(out)),
            Rule::Named { rule, .. } => rule.row_fields(out),
            _ => {}
        }
    }

    /// Checks the rule against a resource's `fields` at compile time: each field a row
    /// filter names is a `String` field of the resource, and (when the rule guards a create,
    /// `creates`) there is none, since a create has no row yet. `#[permissions]` calls it
    /// on each `rule(path)` it is given, so a mistake is a compile error at the path.
    ///
    /// # Panics
    ///
    /// On the first mistake, with what is wrong: in a `const`, a compile error.
    #[doc(hidden)]
    pub const fn check(&self, fields: &[crate::resource::FieldMeta], creates: bool) {
        match self {
            Rule::Owner(field) | Rule::Team(field) => {
                if creates {
                    panic!(
                        "`owner(..)` and `team_member(..)` filter existing rows; a create has \
                         none: this rule cannot guard `create` or `bulk`"
                    );
                }
                let mut i = 0;
                loop {
                    if i == fields.len() {
                        panic!(
                            "an `owner(..)` or `team_member(..)` of this rule names a field the \
                             resource does not have"
                        );
                    }
                    if same(fields[i].name, field) {
                        break;
                    }
                    i += 1;
                }
                if !matches!(fields[i].ty, crate::resource::FieldType::String) {
                    panic!(
                        "an `owner(..)` or `team_member(..)` of this rule names a field that \
                         is not a `String` (it holds user or team ids)"
                    );
                }
            }
            Rule::All(rules) | Rule::Any(rules) => {
                let mut i = 0;
                while i < rules.len() {
                    rules[i].check(fields, creates);
                    i += 1;
                }
            }
            Rule::Named { rule, .. } => rule.check(fields, creates),
            _ => {}
        }
    }
}

/// Whether two strings are equal, in a `const fn`.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The rule in the attribute's own words: `any(roles(admin), owner(created_by))`. Documents
/// and the registry show it; the macro's route docs render the same text, through the same
/// syntax tree.
impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.syntax().fmt(f)
    }
}

impl Permissions {
    /// The rule of the action `name`, when the resource declares it.
    pub fn action(&self, name: &str) -> Option<Rule> {
        self.actions
            .iter()
            .find_map(|(n, rule)| (*n == name).then_some(*rule))
    }

    /// The rule of the transition of `field` from `from` to `to`, when it has one of its own.
    pub fn transition(&self, field: &str, from: &str, to: &str) -> Option<&'static TransitionRule> {
        self.transitions
            .iter()
            .find(|t| t.field == field && t.from == from && t.to == to)
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
    /// The rows of an asynchronous `when(..)`'s answer, by its place in [`Answers`].
    Checked(usize),
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
            // The database's answer cannot be asked of values in memory.
            RowRule::Checked(_) => false,
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

/// Evaluates `rule` for `caller` on rows of `meta`'s resource (its role scope says which
/// roles count: see [`AuthContext::has_role_in`]), with the `answers` of its asynchronous
/// `when(..)`.
pub(crate) fn evaluate(
    rule: &Rule,
    caller: &AuthContext,
    meta: &ResourceMeta,
    answers: &Answers,
) -> Access {
    evaluate_in(rule, caller, meta.role_scope(), meta.fields, answers)
}

/// [`evaluate`], given the role scope and the field table a row filter's field is found in
/// (a field the table lacks holds for nobody: the rule does not hold).
fn evaluate_in(
    rule: &Rule,
    caller: &AuthContext,
    scope: RoleScope,
    fields: &[FieldMeta],
    answers: &Answers,
) -> Access {
    let grant = |ok: bool| if ok { Access::Full } else { Access::Denied };
    let index = |name: &str| fields.iter().position(|f| f.name == name);
    match rule {
        Rule::Public => Access::Full,
        Rule::Deny => Access::Denied,
        Rule::Authenticated => grant(caller.is_authenticated()),
        Rule::Roles(roles) => {
            grant(caller.is_authenticated() && roles.iter().any(|r| caller.has_role_in(r, scope)))
        }
        Rule::OrgRoles(roles) => grant(
            in_org(caller) && (caller.elevated || roles.iter().any(|r| caller.has_org_role(r))),
        ),
        Rule::OrgMember => grant(in_org(caller)),
        // Asked before ([`ask`]); where nothing is asked, a synchronous predicate is called
        // here and an asynchronous one does not hold.
        Rule::When(p) => match answers.find(p) {
            Some((_, Verdict::Allow)) => Access::Full,
            Some((i, Verdict::Rows(_))) => Access::Rows(RowRule::Checked(i)),
            Some((_, Verdict::Deny)) => Access::Denied,
            None => grant(p.sync(caller).unwrap_or(false)),
        },
        Rule::TeamMember => grant(in_team(caller)),
        // A row filter on a field the table lacks holds for nobody, elevated or not.
        Rule::Team(field) | Rule::Owner(field) if index(field).is_none() => Access::Denied,
        // Elevation acts for every team and every owner: no row filter of theirs.
        Rule::Team(_) | Rule::Owner(_) if caller.elevated => grant(caller.is_authenticated()),
        Rule::Team(field) if in_team(caller) => {
            index(field).map_or(Access::Denied, |i| Access::Rows(RowRule::Team(i)))
        }
        Rule::Owner(field) if caller.is_authenticated() => {
            index(field).map_or(Access::Denied, |i| Access::Rows(RowRule::Owner(i)))
        }
        Rule::Team(_) | Rule::Owner(_) => Access::Denied,
        Rule::Named { rule, .. } => evaluate_in(rule, caller, scope, fields, answers),
        Rule::Any(rules) => {
            let mut rows = Vec::new();
            for rule in *rules {
                match evaluate_in(rule, caller, scope, fields, answers) {
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
                match evaluate_in(rule, caller, scope, fields, answers) {
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

/// Whether the caller acts in an organization: a member with one active, or an elevated
/// caller (in the one they named, or across all).
fn in_org(caller: &AuthContext) -> bool {
    caller.is_authenticated() && (caller.org_id.is_some() || caller.elevated)
}

/// Whether the caller acts in a team of their organization (an elevated caller, in all).
fn in_team(caller: &AuthContext) -> bool {
    in_org(caller) && (caller.team_id.is_some() || caller.elevated)
}

/// The caller's access under `rule` on `meta`'s resource, with the `answers` of its
/// asynchronous checks: all rows, or the rows of a row rule (see [`condition`]), or the
/// error (401 for anonymous callers, 403 otherwise).
pub(crate) fn authorize_by(
    meta: &ResourceMeta,
    rule: &Rule,
    caller: &AuthContext,
    answers: &Answers,
) -> Result<Option<RowRule>, ArcError> {
    match evaluate(rule, caller, meta, answers) {
        Access::Full => Ok(None),
        Access::Rows(rows) => Ok(Some(rows)),
        Access::Denied if caller.is_authenticated() => {
            Err(ArcError::forbidden("You do not have permission to do this"))
        }
        Access::Denied => Err(ArcError::unauthorized("Authentication required")),
    }
}

/// The rows `rows` lets `caller` touch, as SQL (`answers`: the asynchronous checks' rows).
pub(crate) fn condition(
    meta: &ResourceMeta,
    rows: &RowRule,
    caller: &AuthContext,
    answers: &Answers,
) -> Condition {
    match rows {
        RowRule::Owner(field) => {
            let user = caller.user_id.clone().unwrap_or_default();
            Condition::all().add(sql::column(meta, *field).eq(user))
        }
        RowRule::Team(field) => {
            let team = caller.team_id.clone().unwrap_or_default();
            Condition::all().add(sql::column(meta, *field).eq(team))
        }
        RowRule::Checked(i) => match answers.0.get(*i) {
            Some((_, Verdict::Rows(rows))) => rows.clone(),
            // Never built so: a row rule of a check comes from its rows.
            _ => Condition::all().add(Expr::val(1).eq(0)),
        },
        RowRule::And(all) => all.iter().fold(Condition::all(), |c, r| {
            c.add(condition(meta, r, caller, answers))
        }),
        RowRule::Or(any) => any.iter().fold(Condition::any(), |c, r| {
            c.add(condition(meta, r, caller, answers))
        }),
    }
}

/// Whether `caller` may read every row of `meta` in their organization: the resource is
/// the organization's own (`multi_tenant`), its `list` and `get` rules grant all its rows,
/// and `owned_by_user`, if on, lets them by. The same question the resource's own routes
/// answer, asked where rows reach a reader without a query (the audit trail's entries, a
/// webhook's deliveries): a reader limited to some rows (their own, or a read hook's) gets
/// none of the resource's there.
pub(crate) fn reads_every_row(meta: &ResourceMeta, caller: &AuthContext) -> bool {
    let presets = &meta.presets;
    let scope = meta.role_scope();
    // Read hooks narrow rows by data the entries do not carry: their entries are not shown.
    meta.read_hooks.is_none()
        && presets.tenant.is_some()
        && presets.owner.is_none_or(|_| {
            presets
                .owner_bypass
                .iter()
                .any(|role| caller.has_role_in(role, scope))
        })
        && [&meta.permissions.list, &meta.permissions.get]
            .into_iter()
            // An asynchronous `when(..)` is not asked here: such a rule does not hold.
            .all(|rule| evaluate(rule, caller, meta, &Answers::default()) == Access::Full)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of the active organization, where its roles count.
    const ORG: RoleScope = RoleScope::Organization;

    /// A resource's fields: row filters name them, and become filters by index.
    const FIELDS: &[FieldMeta] = &[
        FieldMeta::new("id", crate::resource::FieldType::String),
        FieldMeta::new("title", crate::resource::FieldType::String),
        FieldMeta::new("team_id", crate::resource::FieldType::String),
        FieldMeta::new("created_by", crate::resource::FieldType::String),
        FieldMeta::new("author", crate::resource::FieldType::String),
        FieldMeta::new("stock", crate::resource::FieldType::I64),
    ];

    /// [`super::evaluate`] with no asynchronous answer.
    fn evaluate(rule: &Rule, caller: &AuthContext, scope: RoleScope) -> Access {
        super::evaluate_in(rule, caller, scope, FIELDS, &Answers::default())
    }

    fn never(_: &AuthContext) -> bool {
        false
    }

    #[test]
    fn a_when_anywhere_calls_the_app() {
        const WHEN: Rule = when!(never);
        for rule in [
            WHEN,
            Rule::Any(&[Rule::Owner("id"), WHEN]),
            Rule::All(&[Rule::OrgMember, Rule::Any(&[Rule::Public, WHEN])]),
        ] {
            assert!(rule.calls_app(), "{rule:?}");
        }
        for rule in [
            Rule::Public,
            Rule::Any(&[Rule::Owner("id"), Rule::Roles(&["admin"])]),
            Rule::All(&[Rule::OrgMember, Rule::Team("team_id")]),
        ] {
            assert!(!rule.calls_app(), "{rule:?}");
        }
    }

    #[test]
    fn granted_checks_bound_what_a_rule_could_let_in() {
        const WHEN: Rule = when!(never);
        let member = user(&[], Some("acme"), &[]);
        let could =
            |rule: &Rule| super::evaluate_in(rule, &member, ORG, FIELDS, &Answers::granting(rule));
        // The app's check granted: a rule that could hold on it alone could let them in.
        assert_eq!(could(&WHEN), Access::Full);
        assert_eq!(
            could(&Rule::Any(&[Rule::Roles(&["admin"]), WHEN])),
            Access::Full
        );
        // What the rest of a rule refuses, no answer of the app's lets in.
        let owners = Rule::All(&[Rule::OrgRoles(&["owner"]), WHEN]);
        assert_eq!(could(&owners), Access::Denied);
        // Asked for real, `never` refuses.
        assert_eq!(evaluate(&WHEN, &member, ORG), Access::Denied);
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
    fn elevation_passes_the_organizations_checks_and_no_platform_role() {
        const PLATFORM: RoleScope = RoleScope::Platform;
        let elevated = |org: Option<&str>| AuthContext {
            elevated: true,
            ..user(&["superadmin"], org, &[])
        };
        for caller in [elevated(None), elevated(Some("acme"))] {
            for rule in [
                Rule::OrgMember,
                Rule::OrgRoles(&["owner"]),
                Rule::TeamMember,
                Rule::Team("team_id"),
                Rule::Owner("created_by"),
                Rule::Any(&[Rule::Owner("created_by"), Rule::Team("team_id")]),
                Rule::All(&[Rule::Roles(&["admin"]), Rule::Owner("created_by")]),
            ] {
                assert_eq!(evaluate(&rule, &caller, ORG), Access::Full, "{rule:?}");
            }
            // On rows every organization shares, only platform roles count, as for anyone.
            let admin = Rule::Roles(&["admin"]);
            assert_eq!(evaluate(&admin, &caller, PLATFORM), Access::Denied);
            assert_eq!(evaluate(&Rule::Deny, &caller, ORG), Access::Denied);
        }
        // The same caller unelevated is a caller like any other.
        let plain = user(&["superadmin"], None, &[]);
        assert_eq!(evaluate(&Rule::OrgMember, &plain, ORG), Access::Denied);
        assert_eq!(
            evaluate(&Rule::Owner("created_by"), &plain, ORG),
            Access::Rows(RowRule::Owner(3))
        );
        // An anonymous caller is never elevated; were one marked so, nothing would pass.
        let ghost = AuthContext {
            elevated: true,
            ..AuthContext::anonymous()
        };
        assert_eq!(evaluate(&Rule::OrgMember, &ghost, ORG), Access::Denied);
        assert_eq!(
            evaluate(&Rule::Owner("created_by"), &ghost, ORG),
            Access::Denied
        );
    }

    /// An app's rule, shared by resources: editors, or the row's author.
    const EDITOR_OR_AUTHOR: Rule = Rule::Any(&[Rule::Roles(&["editor"]), Rule::Owner("author")]);

    // Checked as the expansion checks it: a mistake here would not compile.
    const _: () = EDITOR_OR_AUTHOR.check(FIELDS, false);

    #[test]
    fn named_rules_hold_as_their_rule_and_show_their_path() {
        let named = Rule::Named {
            path: "crate::EDITOR_OR_AUTHOR",
            rule: &EDITOR_OR_AUTHOR,
        };
        let editor = user(&["editor"], None, &[]);
        let writer = user(&["writer"], None, &[]);
        assert_eq!(evaluate(&named, &editor, ORG), Access::Full);
        assert_eq!(
            evaluate(&named, &writer, ORG),
            Access::Rows(RowRule::Owner(4))
        );
        assert_eq!(
            evaluate(&named, &AuthContext::anonymous(), ORG),
            Access::Denied
        );
        assert_eq!(named.to_string(), "rule(crate::EDITOR_OR_AUTHOR)");
        assert_eq!(
            EDITOR_OR_AUTHOR.to_string(),
            "any(roles(editor), owner(author))"
        );
        let mut fields = Vec::new();
        named.row_fields(&mut |f| fields.push(f));
        assert_eq!(fields, ["author"]);
        const PUBLIC: Rule = Rule::Named {
            path: "OPEN",
            rule: &Rule::Public,
        };
        assert!(PUBLIC.is_public());
        assert!(!named.is_public());
    }

    #[test]
    fn a_row_filter_on_a_field_the_table_lacks_holds_for_nobody() {
        // Where no check ran (a custom route without a resource has no fields), the rule
        // fails closed rather than filtering by a column that is not there.
        let writer = user(&["writer"], Some("acme"), &[]);
        for rule in [Rule::Owner("nope"), Rule::Team("nope")] {
            let writer = AuthContext {
                team_id: Some("t".into()),
                ..writer.clone()
            };
            assert_eq!(evaluate(&rule, &writer, ORG), Access::Denied, "{rule}");
        }
        let either = Rule::Any(&[Rule::Owner("nope"), Rule::Roles(&["writer"])]);
        assert_eq!(evaluate(&either, &writer, ORG), Access::Full);
        let elevated = AuthContext {
            elevated: true,
            ..user(&["superadmin"], None, &[])
        };
        assert_eq!(
            evaluate(&Rule::Owner("nope"), &elevated, ORG),
            Access::Denied
        );
        assert_eq!(
            evaluate(&Rule::Owner("created_by"), &elevated, ORG),
            Access::Full
        );
    }

    /// Two modules with a predicate of the same name, each in a rule of its own.
    mod strict {
        pub(super) fn check(_: &crate::auth::AuthContext) -> bool {
            false
        }
        pub(super) const RULE: crate::Rule = crate::when!(check);
    }
    mod lenient {
        pub(super) fn check(_: &crate::auth::AuthContext) -> bool {
            true
        }
        pub(super) const RULE: crate::Rule = crate::when!(check);
    }

    #[tokio::test]
    async fn predicates_of_the_same_text_in_other_modules_are_asked_apart() {
        let db = DatabaseConnection::default();
        let caller = user(&[], None, &[]);
        let ctx = CheckContext {
            db: &db,
            caller: &caller,
            resource: "draft",
            operation: "update",
        };
        for rule in [
            Rule::All(&[lenient::RULE, strict::RULE]),
            Rule::All(&[strict::RULE, lenient::RULE]),
        ] {
            let answers = ask(&rule, &ctx).await.expect("asked");
            assert_eq!(answers.0.len(), 2, "each asked once");
            let access = super::evaluate_in(&rule, &caller, ORG, FIELDS, &answers);
            assert_eq!(access, Access::Denied, "the strict one is not skipped");
        }
        // The same predicate twice is asked once.
        let twice = Rule::Any(&[strict::RULE, strict::RULE]);
        assert_eq!(ask(&twice, &ctx).await.expect("asked").0.len(), 1);
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
        assert_eq!(
            evaluate(&Rule::Owner("created_by"), &anon, ORG),
            Access::Denied
        );
        let any = Rule::Any(&[Rule::Owner("created_by"), Rule::Roles(&["admin"])]);
        assert_eq!(evaluate(&any, &org_admin, ORG), Access::Full);
        assert_eq!(
            evaluate(&any, &editor, ORG),
            Access::Rows(RowRule::Owner(3))
        );
        assert_eq!(evaluate(&any, &anon, ORG), Access::Denied);
        let all = Rule::All(&[
            Rule::Roles(&["editor"]),
            Rule::Owner("created_by"),
            Rule::Owner("author"),
        ]);
        assert_eq!(
            evaluate(&all, &editor, ORG),
            Access::Rows(RowRule::And(vec![RowRule::Owner(3), RowRule::Owner(4)]))
        );
        assert_eq!(evaluate(&all, &org_admin, ORG), Access::Denied);
        let either = Rule::Any(&[Rule::Owner("created_by"), Rule::Owner("author")]);
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
        assert_eq!(evaluate(&when!(editors), &editor, ORG), Access::Full);
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
        assert_eq!(evaluate(&when!(editors), &org_admin, ORG), Access::Denied);
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
            evaluate(&Rule::Team("team_id"), &in_team, ORG),
            Access::Rows(RowRule::Team(2))
        );
        assert_eq!(
            evaluate(&Rule::Team("team_id"), &no_team, ORG),
            Access::Denied
        );
    }
}
