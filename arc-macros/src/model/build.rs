//! Building the model: [`Resource::from_ast`] and the field parser. Names the attributes use
//! (query fields, preset fields, the default sort) are resolved here, with the errors of
//! resolving them; the rules of the grammar are `check`'s.

use arc_spec::QueryParam;
use arc_spec::names::{pluralize, to_snake};
use darling::util::{Override, SpannedValue};
use darling::{FromField, FromMeta};
use proc_macro2::{Span, TokenStream};
use syn::{Ident, ItemStruct};

use super::attrs::{FieldArgs, IdentList, PresetField, ResourceArgs};
use super::{Auto, Field, Presets, Resource, Scalar, check, is_permissions, permissions, ty};
use crate::ctxt::Ctxt;
use crate::suggest::did_you_mean;

impl Resource {
    /// Builds and checks the model; `None` when any error was pushed.
    pub(crate) fn from_ast(cx: &Ctxt, args: TokenStream, item: &ItemStruct) -> Option<Resource> {
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
        check::not_generic(cx, item);
        let syn::Fields::Named(named) = &item.fields else {
            cx.error_spanned_by(&item.ident, "a resource is a struct with named fields");
            return None;
        };
        let fields: Vec<Field> = named.named.iter().filter_map(|f| field(cx, f)).collect();
        check::field_count(cx, item, &fields);
        let id = check::one_id(cx, item, &fields);
        let args = args?;
        let ident = item.ident.clone();
        let snake = to_snake(&ident.to_string());
        let name = args
            .name
            .as_ref()
            .map_or_else(|| snake.clone(), |n| n.as_ref().clone());
        let plural = pluralize(&name);
        let mut model = Resource {
            doc: super::doc_text(&item.attrs),
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
                audited: args.presets.audited.is_present(),
                actions: args.actions.is_some(),
                ..Presets::default()
            },
            default_sort: String::new(),
            lenient: args.query.lenient.is_present(),
            hooks: args.hooks.is_present(),
            read_hooks: args.read_hooks.is_present(),
            cache: check::cache(cx, args.cache.as_ref()),
            idempotency: super::idempotency::declared(cx, args.idempotency.as_ref()),
            permissions: permissions::PermissionsAst::default(),
            actions: super::actions::declared(cx, args.actions.as_ref()),
            claimed: Vec::new(),
        };
        model.mark_query(cx, &args.query.filter, "filter");
        model.mark_query(cx, &args.query.sort, "sort");
        model.mark_query(cx, &args.query.search, "search");
        model.mark_populate(cx, &args.query.populate);
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
        check::static_path(cx, args.path.as_ref(), model.presets.tenant.is_some());
        model.presets.owner = model.preset(
            cx,
            p.owned_by_user.as_ref(),
            "owned_by_user",
            "created_by",
            server_string,
            expected,
        );
        check::bypass_on_owner_only(cx, p);
        if let Some(Override::Explicit(PresetField {
            bypass: Some(roles),
            ..
        })) = p.owned_by_user.as_ref().map(|p| p.as_ref())
        {
            model.presets.owner_bypass = roles.0.iter().map(syn::LitStr::value).collect();
        }
        if let Some(slug) = model.presets.slug_lookup {
            model.fields[slug].unique = true;
        }
        check::id_type(cx, &model);
        check::system_fields_have_values(cx, &model);
        model.permissions = match item.attrs.iter().find(|a| is_permissions(a)) {
            Some(attr) => match &attr.meta {
                syn::Meta::List(list) => {
                    let actions: Vec<String> = model.actions.iter().map(|a| a.name()).collect();
                    permissions::PermissionsAst::parse(cx, list.tokens.clone(), &actions)
                }
                _ => {
                    cx.error_spanned_by(
                        attr,
                        "write the rules inside: #[permissions(list = public, ..)]",
                    );
                    permissions::PermissionsAst::default()
                }
            },
            None => {
                cx.error_spanned_by(
                    &model.ident,
                    "a resource says who may do what: add #[permissions(..)] below #[resource], \
                     e.g. #[permissions(list = public, get = public, default = roles(\"admin\"))]; \
                     #[permissions(default = public)] opens every route",
                );
                permissions::PermissionsAst::default()
            }
        };
        let mut rules = std::mem::take(&mut model.permissions);
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
                    if QueryParam::is_reserved(&name) {
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

    /// `populate = [category]`: each name embeds the row of the reference `category_id`
    /// under `category`, beside the id. The reference must be declared (`references = ..`),
    /// readable (not hidden), and its name must not be a field's.
    fn mark_populate(&mut self, cx: &Ctxt, list: &IdentList) {
        for (n, ident) in list.0.iter().enumerate() {
            let key = ident.to_string();
            if list.0[..n].iter().any(|seen| *seen == key) {
                cx.error_spanned_by(ident, format!("`{key}` is listed twice in `populate`"));
                continue;
            }
            let id_name = format!("{key}_id");
            if let Some(i) = self.find(&key) {
                let message = if self.fields[i].references.is_some() {
                    format!(
                        "`{key}` is the reference itself: its row is embedded beside it, under \
                         another name; name the field `{id_name}` and populate `{key}`"
                    )
                } else if self.find(&id_name).is_some() {
                    format!(
                        "`{key}` is a field of `{}`: the row of `{id_name}` cannot be embedded \
                         under its name",
                        self.ident
                    )
                } else {
                    format!(
                        "`{key}` is not a reference: `populate` embeds the row a field declared \
                         with `#[field(references = ..)]` names"
                    )
                };
                cx.error_spanned_by(ident, message);
                continue;
            }
            let Some(i) = self.find(&id_name) else {
                let populatable: Vec<String> = self
                    .fields
                    .iter()
                    .filter(|f| f.references.is_some())
                    .filter_map(|f| f.name.strip_suffix("_id").map(str::to_owned))
                    .collect();
                let message = format!(
                    "`populate` names `{key}`, but `{}` has no reference `{id_name}`",
                    self.ident
                );
                cx.error_spanned_by(
                    ident,
                    did_you_mean(message, &key, populatable.iter().map(String::as_str)),
                );
                continue;
            };
            let field = &mut self.fields[i];
            if field.references.is_none() {
                cx.error_spanned_by(
                    ident,
                    format!(
                        "`{id_name}` is not a reference: declare it with \
                         `#[field(references = ..)]` to populate `{key}`"
                    ),
                );
            } else if field.hidden {
                cx.error_spanned_by(
                    ident,
                    format!("`{id_name}` is hidden: no caller could see what `populate` embeds"),
                );
            } else {
                field.populate = Some(key);
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
        doc: super::doc_text(&f.attrs),
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
        states: args
            .states
            .as_ref()
            .map(|s| super::states::declared(cx, s))
            .unwrap_or_default(),
        references: args.references.clone(),
        populate: None,
    };
    if let Some(one_of) = &args.one_of {
        field.one_of = one_of.0.iter().map(syn::LitStr::value).collect();
    }
    for (given, slot) in [
        (&args.visible_to, &mut field.visible_to),
        (&args.writable_by, &mut field.writable_by),
        (&args.redact_for, &mut field.redact_for),
    ] {
        if let Some(roles) = given {
            *slot = roles.0.iter().map(syn::LitStr::value).collect();
        }
    }
    check::field_args(cx, &args, &field);
    Some(field)
}
