//! What the attributes say, as darling parses them: `#[resource(..)]` and `#[field(..)]`.
//! No validation beyond syntax here; [`super::check`] judges the whole model.

use arc_spec::duration::{self, DurationError};
use darling::util::{Flag, Override, SpannedValue};
use darling::{FromField, FromMeta};
use proc_macro2::Span;
use syn::{Expr, Ident, Lit};

/// `#[resource(..)]`
#[derive(Debug, Default, FromMeta)]
pub(crate) struct ResourceArgs {
    /// Resource name (default: the struct name in snake_case).
    pub name: Option<SpannedValue<String>>,
    /// Collection path (default: `/` + plural kebab-case name).
    pub path: Option<SpannedValue<String>>,
    /// Table (default: plural snake_case name).
    pub table: Option<SpannedValue<String>>,
    #[darling(default)]
    pub presets: PresetArgs,
    #[darling(default)]
    pub query: QueryArgs,
    /// The user implements `Hooks` for the struct.
    pub hooks: Flag,
    /// The user implements `ReadHooks` for the struct.
    pub read_hooks: Flag,
    /// `cache` or `cache(stale = "30s", expire = "5m", tags = ["catalog"])`: reads are
    /// answered from the query cache.
    pub cache: Option<SpannedValue<Override<CacheArgs>>>,
    /// `idempotency` or `idempotency(ttl = "24h")`: idempotency keys on the mutating routes.
    pub idempotency: Option<SpannedValue<Override<super::idempotency::IdempotencyArgs>>>,
    /// `actions(cancel(reason: String), approve)`: `POST /{path}/{id}/action`.
    pub actions: Option<super::actions::ActionsArgs>,
}

/// `cache(stale = "30s", expire = "5m", tags = ["catalog"])`
#[derive(Debug, Default, Clone, FromMeta)]
pub(crate) struct CacheArgs {
    /// How long an answer is served as fresh.
    pub stale: Option<DurationLit>,
    /// How long it is kept at all (served stale, and refreshed, after `stale`).
    pub expire: Option<DurationLit>,
    /// Names whose writes also make the answers old (the resource's own name always does).
    pub tags: Option<StrList>,
}

/// `presets(soft_delete, slug_lookup(field = "handle"), tree, bulk, audited)`
#[derive(Debug, Default, FromMeta)]
pub(crate) struct PresetArgs {
    pub soft_delete: Option<SpannedValue<Override<PresetField>>>,
    pub slug_lookup: Option<SpannedValue<Override<PresetField>>>,
    pub tree: Option<SpannedValue<Override<PresetField>>>,
    pub bulk: Word,
    /// Every write leaves an entry in the audit trail.
    pub audited: Word,
    /// `multi_tenant(field = "org_id")`
    pub multi_tenant: Option<SpannedValue<Override<PresetField>>>,
    /// `owned_by_user(field = "created_by", bypass("admin"))`
    pub owned_by_user: Option<SpannedValue<Override<PresetField>>>,
}

/// A preset that is a bare word (`bulk`, `audited`): there or not, with no options. Unlike
/// darling's `Flag`, an option given to it (`audited(x = 1)`) is refused in our words.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Word(bool);

impl Word {
    /// Whether the word was written.
    pub(crate) fn is_present(self) -> bool {
        self.0
    }
}

impl FromMeta for Word {
    fn from_none() -> Option<Self> {
        Some(Word(false))
    }

    fn from_meta(item: &syn::Meta) -> darling::Result<Self> {
        match item {
            syn::Meta::Path(_) => Ok(Word(true)),
            other => {
                let name = other
                    .path()
                    .get_ident()
                    .map_or_else(String::new, ToString::to_string);
                Err(darling::Error::custom(format!(
                    "preset `{name}` takes no options: write `{name}` alone"
                ))
                .with_span(other))
            }
        }
    }
}

/// The field a preset uses, when not its default name.
#[derive(Debug, Default, Clone, FromMeta)]
pub(crate) struct PresetField {
    pub field: Option<SpannedValue<String>>,
    /// Roles that bypass `owned_by_user`.
    pub bypass: Option<SpannedValue<StrList>>,
}

/// `query(filter = [..], sort = [..], search = [..], populate = [..], default_sort = "-created_at", lenient)`
#[derive(Debug, Default, FromMeta)]
pub(crate) struct QueryArgs {
    #[darling(default)]
    pub filter: IdentList,
    #[darling(default)]
    pub sort: IdentList,
    #[darling(default)]
    pub search: IdentList,
    /// The references `?populate=` embeds, by the name they are embedded under.
    #[darling(default)]
    pub populate: IdentList,
    pub default_sort: Option<SpannedValue<String>>,
    pub lenient: Flag,
}

/// `[a, b, c]`: field names.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdentList(pub Vec<Ident>);

impl FromMeta for IdentList {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        let Expr::Array(array) = expr else {
            return Err(
                darling::Error::custom("expected a list of field names: `[a, b]`").with_span(expr),
            );
        };
        let mut errors = darling::Error::accumulator();
        let mut idents = Vec::new();
        for elem in &array.elems {
            match elem {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    idents.extend(p.path.get_ident().cloned());
                }
                other => {
                    errors.push(darling::Error::custom("expected a field name").with_span(other))
                }
            }
        }
        errors.finish_with(IdentList(idents))
    }
}

/// A numeric bound: an integer or float literal, possibly negative.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Num(pub f64);

impl FromMeta for Num {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        let (neg, inner) = match expr {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => (true, &*u.expr),
            other => (false, other),
        };
        let value = match inner {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(i), ..
            }) => i.base10_parse::<f64>().ok(),
            Expr::Lit(syn::ExprLit {
                lit: Lit::Float(f), ..
            }) => f.base10_parse::<f64>().ok(),
            _ => None,
        };
        match value {
            Some(v) => Ok(Num(if neg { -v } else { v })),
            None => Err(darling::Error::custom("expected a number").with_span(expr)),
        }
    }
}

/// `range(min = 0, max = 100)`
#[derive(Debug, Default, Clone, FromMeta)]
pub(crate) struct RangeArgs {
    pub min: Option<Num>,
    pub max: Option<Num>,
}

/// A duration written as a string literal (`"24h"`), in seconds, with its span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DurationLit {
    pub secs: u64,
    pub span: Span,
}

impl FromMeta for DurationLit {
    fn from_expr(expr: &syn::Expr) -> darling::Result<Self> {
        let error = |message: String| darling::Error::custom(message).with_span(expr);
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = expr
        else {
            return Err(error(
                "expected a duration as a string, e.g. \"30s\", \"5m\", \"24h\" or \"7d\"".into(),
            ));
        };
        match duration::parse(&text.value()) {
            Ok(secs) => Ok(DurationLit {
                secs,
                span: text.span(),
            }),
            Err(DurationError::Empty) => {
                Err(error("the duration is empty: write e.g. \"24h\"".into()))
            }
            Err(e) => Err(error(e.to_string())),
        }
    }
}

/// `one_of("a", "b")`, or as a value `tags = ["a", "b"]`
#[derive(Debug, Default, Clone)]
pub(crate) struct StrList(pub Vec<syn::LitStr>);

impl FromMeta for StrList {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        let Expr::Array(array) = expr else {
            return Err(
                darling::Error::custom("expected a list of strings: `[\"a\", \"b\"]`")
                    .with_span(expr),
            );
        };
        let mut errors = darling::Error::accumulator();
        let mut values = Vec::new();
        for elem in &array.elems {
            match elem {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => values.push(s.clone()),
                other => errors
                    .push(darling::Error::custom("expected a string literal").with_span(other)),
            }
        }
        errors.finish_with(StrList(values))
    }

    fn from_list(items: &[darling::ast::NestedMeta]) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        let mut values = Vec::new();
        for item in items {
            match item {
                darling::ast::NestedMeta::Lit(Lit::Str(s)) => values.push(s.clone()),
                other => errors
                    .push(darling::Error::custom("expected a string literal").with_span(other)),
            }
        }
        errors.finish_with(StrList(values))
    }
}

/// `#[field(..)]` on a struct field.
#[derive(Debug, FromField)]
#[darling(attributes(field))]
pub(crate) struct FieldArgs {
    pub ident: Option<Ident>,
    pub ty: syn::Type,
    /// The primary key.
    pub id: Flag,
    /// Server-owned.
    pub system: Flag,
    /// Never in a response.
    pub hidden: Flag,
    /// Unique in the table.
    pub unique: Flag,
    /// `Default::default()` when a create leaves it out.
    pub default: Flag,
    pub min_len: Option<SpannedValue<u32>>,
    pub max_len: Option<SpannedValue<u32>>,
    pub range: Option<SpannedValue<RangeArgs>>,
    pub one_of: Option<SpannedValue<StrList>>,
    /// Seen only by these roles.
    pub visible_to: Option<SpannedValue<StrList>>,
    /// Written only by these roles (others get a 403).
    pub writable_by: Option<SpannedValue<StrList>>,
    /// Anyone who may create may choose its value, even callers the update rule keeps out
    /// (silences the mass-assignment check on a field with a default).
    pub writable_on_create: Flag,
    /// Masked for these roles.
    pub redact_for: Option<SpannedValue<StrList>>,
    /// `states(pending -> paid, pending -> cancelled)`: the transitions its value may make.
    pub states: Option<super::states::StatesArgs>,
    /// `references = Category`: holds the id of a row of that resource.
    pub references: Option<syn::Path>,
}
