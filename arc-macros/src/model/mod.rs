//! The resource model: what `#[resource]` and the `#[field]`s say, checked as a whole.
//!
//! [`Resource::from_ast`] (in `build`) parses with darling, classifies field types and
//! resolves every reference (query fields, preset fields, the default sort); `check` holds
//! the named checks of the grammar; the naming helpers are `arc_spec::names`, shared with the
//! runtime. Each problem is pushed into
//! the [`Ctxt`](crate::ctxt::Ctxt) at the user's token. The expanders read the model as plain
//! data.

pub(crate) mod actions;
pub(crate) mod attrs;
mod build;
mod check;
mod idempotency;
pub(crate) mod permissions;
pub(crate) mod states;
pub(crate) mod ty;

use arc_spec::RoutePreset;
use proc_macro2::Span;
use syn::Ident;

pub(crate) use ty::{FieldTy, Scalar};

/// What the server fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auto {
    None,
    Uuid,
    CreatedAt,
    UpdatedAt,
}

/// One field of the resource.
#[derive(Debug)]
pub(crate) struct Field {
    pub ident: Ident,
    pub name: String,
    /// The type as the user wrote it.
    pub ty: syn::Type,
    /// The user's `///` docs, carried over to the DTO and model fields.
    pub docs: Vec<syn::Attribute>,
    /// The same docs as text, for the field table (and so the JSON Schemas).
    pub doc: String,
    pub fty: FieldTy,
    pub id: bool,
    pub system: bool,
    pub hidden: bool,
    pub unique: bool,
    /// `#[field(default)]`, with its span.
    pub default: Option<Span>,
    pub auto: Auto,
    pub min_len: Option<u32>,
    pub max_len: Option<u32>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub one_of: Vec<String>,
    pub visible_to: Vec<String>,
    pub writable_by: Vec<String>,
    /// `#[field(writable_on_create)]`: a default callers may choose on create by design.
    pub writable_on_create: bool,
    pub redact_for: Vec<String>,
    pub filter: bool,
    pub sort: bool,
    pub search: bool,
    /// `states(..)`: the transitions its value may make (none: any change).
    pub states: states::States,
    /// `references = Category`: the resource whose id it holds.
    pub references: Option<syn::Path>,
    /// `query(populate = [category])`: the member `?populate=` embeds its row under.
    pub populate: Option<String>,
}

impl Field {
    /// Filtered, sorted or a reference (joined on, looked up by): worth an index (a unique field has its own, made by the runtime's
    /// migration over the field's scope).
    pub(crate) fn indexed(&self) -> bool {
        (self.filter || self.sort || self.references.is_some()) && !self.id && !self.unique
    }

    /// The column the field is stored in: its name, in the snake case sea-orm's derive gives
    /// a column by default (`kind_` is stored as `kind`, `createdBy` as `created_by`). The
    /// entity and the field table both name it, so the runtime's SQL and sea-orm's agree.
    pub(crate) fn column(&self) -> String {
        arc_spec::names::to_snake(&arc_spec::names::to_pascal(&self.name))
    }
}

/// The presets, as field indexes.
#[derive(Debug, Default)]
pub(crate) struct Presets {
    pub soft_delete: Option<usize>,
    pub slug_lookup: Option<usize>,
    pub tree: Option<usize>,
    pub bulk: bool,
    /// `audited`: each write leaves an audit entry (no route of its own).
    pub audited: bool,
    pub tenant: Option<usize>,
    pub owner: Option<usize>,
    pub owner_bypass: Vec<String>,
    /// `actions(..)`: the action route (the actions are [`Resource::actions`]).
    pub actions: bool,
}

impl Presets {
    /// Whether the resource has `preset` (and so its routes).
    pub(crate) fn has(&self, preset: RoutePreset) -> bool {
        match preset {
            RoutePreset::SoftDelete => self.soft_delete.is_some(),
            RoutePreset::SlugLookup => self.slug_lookup.is_some(),
            RoutePreset::Tree => self.tree.is_some(),
            RoutePreset::Bulk => self.bulk,
            RoutePreset::Actions => self.actions,
        }
    }
}

/// `cache(..)`, checked: its times in seconds and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cache {
    pub stale_secs: u64,
    pub expire_secs: u64,
    pub tags: Vec<String>,
}

/// A checked resource.
#[derive(Debug)]
pub(crate) struct Resource {
    pub ident: Ident,
    /// The struct's doc comment, as text.
    pub doc: String,
    pub name: String,
    pub path: String,
    pub table: String,
    pub entity_mod: Ident,
    pub fields: Vec<Field>,
    pub id: usize,
    pub presets: Presets,
    pub default_sort: String,
    pub lenient: bool,
    pub hooks: bool,
    /// `read_hooks`: the user implements `ReadHooks`.
    pub read_hooks: bool,
    /// The query cache's settings, when reads are cached.
    pub cache: Option<Cache>,
    /// `idempotency`: `Some(None)` for the runtime's default TTL, `Some(Some(secs))` for one
    /// of its own.
    pub idempotency: Option<Option<u64>>,
    pub permissions: permissions::PermissionsAst,
    /// `actions(..)`, in the order declared.
    pub actions: Vec<actions::ActionDecl>,
    /// Fields a preset names (even with the wrong type): their own errors are the preset's.
    pub claimed: Vec<usize>,
}

/// The text of the `///` comments among `attrs`: one line each, the space after `///` dropped,
/// as rustdoc and schemars read them.
pub(crate) fn doc_text(attrs: &[syn::Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) if nv.path.is_ident("doc") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').map(str::to_owned).unwrap_or(line))
        .collect();
    lines.join("\n").trim().to_owned()
}

/// Whether `attr` is `#[permissions(..)]` (by its last path segment).
pub(crate) fn is_permissions(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "permissions")
}
