//! The resource model: what `#[resource]` and the `#[field]`s say, checked as a whole.
//!
//! [`Resource::from_ast`] parses with darling, classifies field types and validates every
//! reference (query fields, preset fields, bounds), pushing each problem into the [`Ctxt`]
//! at the user's token. The expanders read the model as plain data.

pub mod attrs;
pub mod permissions;
pub mod ty;

use darling::util::{Override, SpannedValue};
use darling::{FromField, FromMeta};
use proc_macro2::{Span, TokenStream};
use syn::{Ident, ItemStruct};

use crate::ctxt::Ctxt;
use crate::suggest::did_you_mean;
use attrs::{FieldArgs, IdentList, PresetField, ResourceArgs};
pub use ty::{FieldTy, Scalar};

/// What the server fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auto {
    None,
    Uuid,
    CreatedAt,
    UpdatedAt,
}

/// One field of the resource.
#[derive(Debug)]
pub struct Field {
    pub ident: Ident,
    pub name: String,
    /// The type as the user wrote it.
    pub ty: syn::Type,
    /// The user's `///` docs, carried over to the DTO and model fields.
    pub docs: Vec<syn::Attribute>,
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
}

impl Field {
    /// Filtered or sorted: worth an index (a unique field has its own, made by the runtime's
    /// migration over the field's scope).
    pub fn indexed(&self) -> bool {
        (self.filter || self.sort) && !self.id && !self.unique
    }
}

/// The presets, as field indexes.
#[derive(Debug, Default)]
pub struct Presets {
    pub soft_delete: Option<usize>,
    pub slug_lookup: Option<usize>,
    pub tree: Option<usize>,
    pub bulk: bool,
    pub tenant: Option<usize>,
    pub owner: Option<usize>,
    pub owner_bypass: Vec<String>,
}

/// A checked resource.
#[derive(Debug)]
pub struct Resource {
    pub ident: Ident,
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
    pub permissions: permissions::PermissionsAst,
    /// Fields a preset names (even with the wrong type): their own errors are the preset's.
    pub claimed: Vec<usize>,
}

const RESERVED: [&str; 6] = ["page", "limit", "after", "sort", "select", "search"];

impl Resource {
    /// Builds and checks the model; `None` when any error was pushed.
    pub fn from_ast(cx: &Ctxt, args: TokenStream, item: &ItemStruct) -> Option<Resource> {
        let args = match darling::ast::NestedMeta::parse_meta_list(args) {
            Ok(list) => match ResourceArgs::from_list(&list) {
                Ok(args) => Some(args),
                Err(e) => {
                    cx.darling_error(e);
                    None
                }
            },
            Err(e) => {
                cx.syn_error(e);
                None
            }
        };
        if !item.generics.params.is_empty() {
            cx.error_spanned_by(&item.generics, "a resource cannot be generic");
        }
        let syn::Fields::Named(named) = &item.fields else {
            cx.error_spanned_by(&item.ident, "a resource is a struct with named fields");
            return None;
        };
        let fields: Vec<Field> = named.named.iter().filter_map(|f| field(cx, f)).collect();
        if fields.len() > 64 {
            cx.error_spanned_by(&item.ident, "a resource has at most 64 fields");
        }
        let ids: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| f.id)
            .map(|(i, _)| i)
            .collect();
        let id = match ids.as_slice() {
            [one] => *one,
            [] => {
                cx.error_spanned_by(
                    &item.ident,
                    "a resource needs one id field: mark it `#[field(id)]`",
                );
                0
            }
            [_, rest @ ..] => {
                for i in rest {
                    cx.error_spanned_by(
                        &fields[*i].ident,
                        "a resource has exactly one `#[field(id)]`",
                    );
                }
                0
            }
        };
        let args = args?;
        let ident = item.ident.clone();
        let snake = to_snake(&ident.to_string());
        let name = args
            .name
            .as_ref()
            .map_or_else(|| snake.clone(), |n| n.as_ref().clone());
        let plural = pluralize(&name);
        let mut model = Resource {
            entity_mod: Ident::new(&format!("{snake}_entity"), ident.span()),
            ident,
            path: args.path.as_ref().map_or_else(
                || format!("/{}", plural.replace('_', "-")),
                |p| p.as_ref().clone(),
            ),
            table: args
                .table
                .as_ref()
                .map_or_else(|| plural.clone(), |t| t.as_ref().clone()),
            name,
            fields,
            id,
            presets: Presets {
                bulk: args.presets.bulk.is_present(),
                ..Presets::default()
            },
            default_sort: String::new(),
            lenient: args.query.lenient.is_present(),
            hooks: args.hooks.is_present(),
            permissions: permissions::PermissionsAst {
                entries: Vec::new(),
            },
            claimed: Vec::new(),
        };
        if let Some(path) = &args.path {
            let p = path.as_ref();
            if !p.starts_with('/')
                || p.len() < 2
                || p.ends_with('/')
                || p.contains(['{', '}', '*', ':'])
            {
                cx.error_at(path.span(), "`path` is a static path like \"/products\"");
            }
        }
        model.mark_query(cx, &args.query.filter, "filter");
        model.mark_query(cx, &args.query.sort, "sort");
        model.mark_query(cx, &args.query.search, "search");
        model.default_sort = model.default_sort(cx, args.query.default_sort.as_ref());
        let p = &args.presets;
        model.presets.soft_delete = model.preset(
            cx,
            p.soft_delete.as_ref(),
            "soft_delete",
            "deleted_at",
            |f, _| matches!(f.fty.scalar, Scalar::DateTime) && f.fty.nullable && f.system,
            "`Option<DateTime<Utc>>` marked `#[field(system)]`",
        );
        model.presets.slug_lookup = model.preset(
            cx,
            p.slug_lookup.as_ref(),
            "slug_lookup",
            "slug",
            |f, _| f.fty.scalar.is_string() && !f.hidden,
            "a `String` (or `Option<String>`) that is not hidden",
        );
        let id_scalar = model
            .fields
            .get(model.id)
            .map(|f| std::mem::discriminant(&f.fty.scalar));
        model.presets.tree = model.preset(
            cx,
            p.tree.as_ref(),
            "tree",
            "parent_id",
            |f, _| f.fty.nullable && Some(std::mem::discriminant(&f.fty.scalar)) == id_scalar,
            "`Option<T>` where `T` is the id's type",
        );
        let server_string = |f: &Field, _: &Self| f.fty.scalar.is_string() && f.system && !f.id;
        let expected = "a `String` (or `Option<String>`) marked `#[field(system)]`";
        model.presets.tenant = model.preset(
            cx,
            p.multi_tenant.as_ref(),
            "multi_tenant",
            "org_id",
            server_string,
            expected,
        );
        model.presets.owner = model.preset(
            cx,
            p.owned_by_user.as_ref(),
            "owned_by_user",
            "created_by",
            server_string,
            expected,
        );
        for (preset, name) in [
            (&p.soft_delete, "soft_delete"),
            (&p.slug_lookup, "slug_lookup"),
            (&p.tree, "tree"),
            (&p.multi_tenant, "multi_tenant"),
            (&p.owned_by_user, "owned_by_user"),
        ] {
            if let Some(Override::Explicit(PresetField {
                bypass: Some(roles),
                ..
            })) = preset.as_ref().map(|p| p.as_ref())
            {
                if name == "owned_by_user" {
                    if roles.0.is_empty() {
                        cx.error_at(
                            roles.span(),
                            "`bypass` needs at least one role, e.g. bypass(\"admin\")",
                        );
                    }
                    model.presets.owner_bypass = roles.0.iter().map(syn::LitStr::value).collect();
                } else {
                    cx.error_at(
                        roles.span(),
                        format!("`bypass` applies to `owned_by_user`, not `{name}`"),
                    );
                }
            }
        }
        if let Some(slug) = model.presets.slug_lookup {
            model.fields[slug].unique = true;
        }
        model.check_fields(cx);
        model.permissions = match item.attrs.iter().find(|a| is_permissions(a)) {
            Some(attr) => match &attr.meta {
                syn::Meta::List(list) => {
                    permissions::PermissionsAst::parse(cx, list.tokens.clone())
                }
                _ => {
                    cx.error_spanned_by(
                        attr,
                        "write the rules inside: #[permissions(list = public, ..)]",
                    );
                    permissions::PermissionsAst {
                        entries: Vec::new(),
                    }
                }
            },
            None => {
                cx.error_spanned_by(
                    &model.ident,
                    "a resource says who may do what: add #[permissions(..)] below #[resource], \
                     e.g. #[permissions(list = public, get = public, default = roles(\"admin\"))]; \
                     #[permissions(default = public)] opens every route",
                );
                permissions::PermissionsAst {
                    entries: Vec::new(),
                }
            }
        };
        let mut rules = std::mem::replace(
            &mut model.permissions,
            permissions::PermissionsAst {
                entries: Vec::new(),
            },
        );
        rules.check(cx, &model);
        model.permissions = rules;
        Some(model)
    }

    fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|f| f.name.as_str())
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    fn unknown_field(&self, cx: &Ctxt, span: Span, name: &str, what: &str) {
        let message = format!(
            "{what} names `{name}`, which is not a field of `{}`",
            self.ident
        );
        cx.error_at(span, did_you_mean(message, name, self.field_names()));
    }

    fn mark_query(&mut self, cx: &Ctxt, list: &IdentList, kind: &str) {
        let mut seen: Vec<String> = Vec::new();
        for ident in &list.0 {
            let name = ident.to_string();
            if seen.contains(&name) {
                cx.error_spanned_by(ident, format!("`{name}` is listed twice in `{kind}`"));
                continue;
            }
            seen.push(name.clone());
            let Some(i) = self.find(&name) else {
                self.unknown_field(cx, ident.span(), &name, &format!("`query({kind})`"));
                continue;
            };
            let field = &mut self.fields[i];
            if field.hidden {
                cx.error_spanned_by(
                    ident,
                    format!("`{name}` is hidden and cannot be used in `{kind}`"),
                );
                continue;
            }
            match kind {
                "filter" => {
                    if RESERVED.contains(&name.as_str()) {
                        cx.error_spanned_by(
                            ident,
                            format!(
                                "`{name}` is a reserved query parameter and cannot be a filter"
                            ),
                        );
                    }
                    field.filter = true;
                }
                "sort" if matches!(field.fty.scalar, Scalar::Json) => {
                    cx.error_spanned_by(ident, format!("`{name}` is JSON and cannot be sorted"));
                }
                "sort" => field.sort = true,
                _ if !field.fty.scalar.is_string() => {
                    cx.error_spanned_by(
                        ident,
                        format!("`{name}` is not a string and cannot be searched"),
                    );
                }
                _ => field.search = true,
            }
        }
    }

    fn default_sort(&self, cx: &Ctxt, given: Option<&SpannedValue<String>>) -> String {
        let Some(given) = given else {
            return match self.find("created_at") {
                Some(i) if self.fields[i].auto == Auto::CreatedAt => "-created_at".into(),
                _ => String::new(),
            };
        };
        for part in given.split(',') {
            let name = part.trim_start_matches(['-', '+']);
            match self.find(name) {
                // The default is the server's choice: any field it can order by.
                Some(i)
                    if self.fields[i].hidden
                        || matches!(self.fields[i].fty.scalar, Scalar::Json) =>
                {
                    cx.error_at(
                        given.span(),
                        format!("`default_sort` cannot sort by `{name}` (hidden or JSON)"),
                    );
                }
                Some(_) => {}
                None => self.unknown_field(cx, given.span(), name, "`default_sort`"),
            }
        }
        given.as_ref().clone()
    }

    fn preset(
        &mut self,
        cx: &Ctxt,
        preset: Option<&SpannedValue<Override<PresetField>>>,
        preset_name: &str,
        default_field: &str,
        fits: impl Fn(&Field, &Self) -> bool,
        expected: &str,
    ) -> Option<usize> {
        let preset = preset?;
        let explicit = match preset.as_ref() {
            Override::Explicit(PresetField { field: Some(f), .. }) => Some(f),
            _ => None,
        };
        let (name, span) = match explicit {
            Some(f) => (f.as_ref().as_str(), f.span()),
            None => (default_field, preset.span()),
        };
        let Some(i) = self.find(name) else {
            let message = format!("preset `{preset_name}` needs a field `{name}`: {expected}");
            cx.error_at(span, did_you_mean(message, name, self.field_names()));
            return None;
        };
        self.claimed.push(i);
        if !fits(&self.fields[i], self) {
            cx.error_at(
                span,
                format!("preset `{preset_name}` needs `{name}` to be {expected}"),
            );
            cx.error_spanned_by(
                &self.fields[i].ty,
                format!("`{name}` is used by preset `{preset_name}` here"),
            );
            return None;
        }
        Some(i)
    }

    fn check_fields(&self, cx: &Ctxt) {
        if let Some(id) = self.fields.get(self.id).filter(|f| f.id)
            && (!matches!(id.fty.scalar, Scalar::Uuid | Scalar::I32 | Scalar::I64)
                || id.fty.nullable)
        {
            cx.error_spanned_by(
                &id.ty,
                "the id is a `Uuid` (generated) or an `i32`/`i64` (auto-increment)",
            );
        }
        // Fields a preset fills in from the caller have a value on every create; a field a
        // preset names with the wrong type already has the preset's error.
        let stamped = [self.presets.tenant, self.presets.owner];
        for (i, f) in self.fields.iter().enumerate() {
            if stamped.contains(&Some(i)) || self.claimed.contains(&i) {
                continue;
            }
            let required_by_nobody =
                f.system && !f.id && !f.fty.nullable && f.default.is_none() && f.auto == Auto::None;
            if required_by_nobody && !self.hooks {
                cx.error_spanned_by(&f.ident, format!(
                    "system field `{}` has no value on create: make it `Option<..>`, give it `#[field(default)]`, \
                     or set it in a hook (`#[resource(hooks)]`)", f.name));
            }
        }
    }
}

/// Whether `attr` is `#[permissions(..)]` (by its last path segment).
pub fn is_permissions(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "permissions")
}

/// One struct field as a model field; `None` (with errors pushed) when it cannot be one.
fn field(cx: &Ctxt, f: &syn::Field) -> Option<Field> {
    let args = match FieldArgs::from_field(f) {
        Ok(args) => args,
        Err(e) => {
            cx.darling_error(e);
            return None;
        }
    };
    let ident = args.ident.clone()?;
    let name = ident.to_string().trim_start_matches("r#").to_owned();
    let fty = match ty::classify(&args.ty) {
        Ok(t) => t,
        Err(message) => {
            cx.error_spanned_by(&args.ty, message);
            return None;
        }
    };
    let is_time = matches!(fty.scalar, Scalar::DateTime) && !fty.nullable;
    let auto = match name.as_str() {
        _ if args.id.is_present() && matches!(fty.scalar, Scalar::Uuid) => Auto::Uuid,
        "created_at" if is_time => Auto::CreatedAt,
        "updated_at" if is_time => Auto::UpdatedAt,
        _ => Auto::None,
    };
    let mut field = Field {
        ident,
        name,
        ty: args.ty.clone(),
        docs: f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
        fty,
        id: args.id.is_present(),
        system: args.system.is_present() || auto != Auto::None,
        hidden: args.hidden.is_present(),
        unique: args.unique.is_present(),
        default: args.default.is_present().then(|| args.default.span()),
        auto,
        min_len: args.min_len.as_ref().map(|v| **v),
        max_len: args.max_len.as_ref().map(|v| **v),
        min: args.range.as_ref().and_then(|r| r.min.map(|n| n.0)),
        max: args.range.as_ref().and_then(|r| r.max.map(|n| n.0)),
        one_of: Vec::new(),
        visible_to: Vec::new(),
        writable_by: Vec::new(),
        writable_on_create: args.writable_on_create.is_present(),
        redact_for: Vec::new(),
        filter: false,
        sort: false,
        search: false,
    };
    if args.writable_on_create.is_present() && (field.default.is_none() || field.system) {
        cx.error_at(
            args.writable_on_create.span(),
            "`writable_on_create` is for a client-writable field with `default`",
        );
    }
    let is_string = field.fty.scalar.is_string();
    for (given, what) in [(&args.min_len, "min_len"), (&args.max_len, "max_len")] {
        if let Some(v) = given
            && !is_string
        {
            cx.error_at(
                v.span(),
                format!("`{what}` applies to `String` fields only"),
            );
        }
    }
    if let (Some(min), Some(max)) = (&args.min_len, &args.max_len)
        && **min > **max
    {
        cx.error_at(
            min.span(),
            format!(
                "`min_len = {}` is greater than `max_len = {}`",
                **min, **max
            ),
        );
    }
    if let Some(range) = &args.range {
        if !field.fty.scalar.is_numeric() {
            cx.error_at(
                range.span(),
                "`range` applies to number fields only (i32, i64, f64, Decimal)",
            );
        }
        match (range.min, range.max) {
            (None, None) => cx.error_at(range.span(), "`range` needs `min`, `max` or both"),
            (Some(min), Some(max)) if min.0 > max.0 => {
                cx.error_at(
                    range.span(),
                    format!("`range(min = {}, max = {})` is empty", min.0, max.0),
                );
            }
            _ => {}
        }
    }
    if let Some(one_of) = &args.one_of {
        if !is_string {
            cx.error_at(one_of.span(), "`one_of` applies to `String` fields; for a closed set of values use an enum deriving `arc_runtime::Enum`");
        }
        if one_of.0.is_empty() {
            // An empty list carries no span of its own: point at the field.
            cx.error_spanned_by(&field.ident, "`one_of` needs at least one value");
        }
        field.one_of = one_of.0.iter().map(syn::LitStr::value).collect();
    }
    if let Some(span) = field.default {
        if field.id || field.auto != Auto::None {
            cx.error_at(
                span,
                "`default` does not apply to a field the server fills in",
            );
        } else if field.fty.nullable {
            cx.error_at(
                span,
                "`default` is implied for `Option` fields (they default to null)",
            );
        }
    }
    for (given, what, slot) in [
        (&args.visible_to, "visible_to", &mut field.visible_to),
        (&args.writable_by, "writable_by", &mut field.writable_by),
        (&args.redact_for, "redact_for", &mut field.redact_for),
    ] {
        let Some(roles) = given else { continue };
        if roles.0.is_empty() {
            cx.error_at(
                roles.span(),
                format!("`{what}` needs at least one role, e.g. {what}(\"admin\")"),
            );
        } else if field.id {
            cx.error_at(roles.span(), format!("`{what}` does not apply to the id"));
        } else if field.hidden && what != "writable_by" {
            cx.error_at(
                roles.span(),
                format!("`{what}` does not apply to a hidden field: nobody sees it"),
            );
        } else if field.system && what == "writable_by" {
            cx.error_at(
                roles.span(),
                "`writable_by` does not apply to a field the server sets",
            );
        }
        *slot = roles.0.iter().map(syn::LitStr::value).collect();
    }
    if field.id && (args.system.is_present() || args.hidden.is_present()) {
        cx.error_spanned_by(&field.ident, "the id is always server-owned and visible");
    }
    Some(field)
}

/// `ProductCategory` -> `product_category`.
pub fn to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for (i, ch) in s.chars().enumerate() {
        if ch.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// `category` -> `categories`, `box` -> `boxes`, `product` -> `products`.
pub fn pluralize(s: &str) -> String {
    if let Some(stem) = s.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    if s.ends_with(['s', 'x', 'z']) || s.ends_with("ch") || s.ends_with("sh") {
        return format!("{s}es");
    }
    format!("{s}s")
}

/// `category_id` -> `CategoryId` (sea-orm's column variant names).
pub fn to_camel(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(to_snake("ProductCategory"), "product_category");
        assert_eq!(pluralize("category"), "categories");
        assert_eq!(pluralize("key"), "keys");
        assert_eq!(pluralize("box"), "boxes");
        assert_eq!(pluralize("order"), "orders");
        assert_eq!(to_camel("category_id"), "CategoryId");
    }
}
