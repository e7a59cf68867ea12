//! The `Resource` impl: the static field table, the column lookup, the route table, and the
//! no-op hooks when the resource declares none.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use arc_spec::names::to_pascal;
use arc_spec::{Action, Operation};

use crate::model::permissions::{RuleAst, syntax};
use crate::model::{Auto, Field, Resource, Scalar};

/// The rule as the runtime's `Rule`; a `rule(path)` by its place in `named` (the
/// expansion's one array of them, [`named_rules`]).
fn rule_tokens(rule: &RuleAst, named: &Named) -> TokenStream {
    let nested = |rules: &[RuleAst]| {
        rules
            .iter()
            .map(|r| rule_tokens(r, named))
            .collect::<Vec<_>>()
    };
    match rule {
        RuleAst::Public => quote!(__p::Rule::Public),
        RuleAst::Authenticated => quote!(__p::Rule::Authenticated),
        RuleAst::Deny | RuleAst::Invalid | RuleAst::Owner(_, None) | RuleAst::Team(_, None) => {
            quote!(__p::Rule::Deny)
        }
        RuleAst::TeamMember => quote!(__p::Rule::TeamMember),
        RuleAst::Team(field, Some(_)) => quote!(__p::Rule::Team(#field)),
        RuleAst::OrgMember => quote!(__p::Rule::OrgMember),
        RuleAst::Roles(roles) => quote!(__p::Rule::Roles(&[#(#roles),*])),
        RuleAst::OrgRoles(roles) => quote!(__p::Rule::OrgRoles(&[#(#roles),*])),
        RuleAst::Owner(field, Some(_)) => quote!(__p::Rule::Owner(#field)),
        RuleAst::All(rules) => {
            let rules = nested(rules);
            quote!(__p::Rule::All(&[#(#rules),*]))
        }
        RuleAst::Any(rules) => {
            let rules = nested(rules);
            quote!(__p::Rule::Any(&[#(#rules),*]))
        }
        // Spanned at the user's path: one that does not resolve, or is neither a
        // `fn(&AuthContext) -> bool` nor an `async fn(&CheckContext) -> Result<Verdict, _>`,
        // is reported there. Both entry points are written from the one function.
        RuleAst::When(path) => {
            let text = crate::model::permissions::path_text(path);
            quote_spanned!(path.span()=> ::arc_runtime::when!(#path, #text))
        }
        RuleAst::Named(path) => {
            let text = crate::model::permissions::path_text(path);
            let i = named
                .paths
                .iter()
                .position(|(p, _)| crate::model::permissions::path_text(p) == text)
                .map_or_else(
                    || quote!(0),
                    |i| Literal::usize_unsuffixed(i).into_token_stream(),
                );
            let ident = &named.ident;
            quote!(__p::Rule::Named { path: #text, rule: #ident::__ARC_NAMED_RULES[#i] })
        }
    }
}

/// The `rule(path)`s of a resource, once each: where the expansion finds them.
struct Named<'a> {
    ident: &'a syn::Ident,
    paths: Vec<(syn::Path, bool)>,
}

/// The resource's `rule(path)`s in one array (each path written once, spanned at the user's
/// token: one that is not a `Rule` is one error there), and a check of each, at compile
/// time, against the field table (`Rule::check`), spanned at its path, where its error shows.
fn named_rules(named: &Named) -> TokenStream {
    if named.paths.is_empty() {
        return quote!();
    }
    let ident = named.ident;
    let count = Literal::usize_unsuffixed(named.paths.len());
    let refs = named
        .paths
        .iter()
        .map(|(path, _)| quote_spanned!(path.span()=> &#path));
    let checks = named.paths.iter().enumerate().map(|(i, (path, creates))| {
        let i = Literal::usize_unsuffixed(i);
        // Every token at the path, so the error's span is the path alone.
        let ident = syn::Ident::new(&ident.to_string(), path.span());
        quote_spanned! {path.span()=>
            const _: () = #ident::__ARC_NAMED_RULES[#i]
                .check(<#ident as __p::Resource>::META.fields, #creates);
        }
    });
    quote! {
        impl #ident {
            /// The app's rules `#[permissions]` names (`rule(path)`).
            #[doc(hidden)]
            const __ARC_NAMED_RULES: [&'static __p::Rule; #count] = [#(#refs),*];
        }
        #(#checks)*
    }
}

/// `__p::Permissions { list: .., .., actions: &[..], transitions: &[..] }`: a field per
/// operation of the shared table, unlisted operations denied (or `default`), then each
/// action's rule and each transition's own.
fn permissions(model: &Resource, named: &Named) -> TokenStream {
    let fields = Operation::ALL.map(|op| {
        let name = format_ident!("{}", op.name());
        let rule = rule_tokens(&model.permissions.rule_for(op).0, named);
        quote!(#name: #rule)
    });
    let actions = model.actions.iter().map(|action| {
        let name = action.name();
        let rule = rule_tokens(
            &model
                .permissions
                .action_rule(&name)
                .unwrap_or(RuleAst::Deny),
            named,
        );
        quote!((#name, #rule))
    });
    let transitions = model.permissions.transitions().into_iter().map(|t| {
        let (field, from, to) = (&t.field, &t.from, &t.to);
        let name = format!("{field}({from} -> {to})");
        let rule = rule_tokens(&t.rule, named);
        quote! {
            __p::TransitionRule { field: #field, from: #from, to: #to, name: #name, rule: #rule }
        }
    });
    quote! {
        __p::Permissions {
            #(#fields,)*
            actions: &[#(#actions),*],
            transitions: &[#(#transitions),*],
        }
    }
}

/// The rules `action` checks, as the runtime's document and registry print them (joined by
/// `and`), an operation neither listed nor covered by `default` marked "(not listed)".
fn route_doc(model: &Resource, action: Action) -> String {
    let rules: Vec<String> = if action == Action::Act {
        model
            .actions
            .iter()
            .map(|a| {
                let rule = model.permissions.action_rule(&a.name());
                format!("`{}`: {}", a.name(), syntax(&rule.unwrap_or(RuleAst::Deny)))
            })
            .collect()
    } else {
        action
            .operations()
            .iter()
            .map(|op| match model.permissions.rule_for(*op) {
                (rule, true) => syntax(&rule).to_string(),
                (rule, false) => format!("{} (not listed)", syntax(&rule)),
            })
            .collect()
    };
    format!(
        " `{} {}`: {}",
        action.method(),
        action.path(&model.path),
        rules.join(" and ")
    )
}

fn field_type(f: &Field) -> TokenStream {
    match &f.fty.scalar {
        Scalar::Uuid => quote!(__p::FieldType::Uuid),
        Scalar::String => quote!(__p::FieldType::String),
        Scalar::I32 => quote!(__p::FieldType::I32),
        Scalar::I64 => quote!(__p::FieldType::I64),
        Scalar::F64 => quote!(__p::FieldType::F64),
        Scalar::Bool => quote!(__p::FieldType::Bool),
        Scalar::DateTime => quote!(__p::FieldType::DateTime),
        Scalar::Decimal => quote!(__p::FieldType::Decimal),
        Scalar::Json => quote!(__p::FieldType::Json),
        // Spanned at the user's type: a type that is not a `TextEnum` is reported there.
        Scalar::Enum(ty) => {
            quote_spanned!(ty.span()=> __p::FieldType::Enum(<#ty as __p::TextEnum>::VARIANTS))
        }
    }
}

/// `Some(v)` or `None` as tokens.
fn opt<T: quote::ToTokens>(v: Option<T>) -> TokenStream {
    match v {
        Some(v) => quote!(Some(#v)),
        None => quote!(None),
    }
}

/// One entry of the field table, as a chain of const builder calls.
fn field_meta(f: &Field) -> TokenStream {
    let name = &f.name;
    let ty = field_type(f);
    let mut chain = quote!(__p::FieldMeta::new(#name, #ty));
    let mut add = |call: TokenStream| chain = quote!(#chain.#call);
    let column = f.column();
    if column != *name {
        add(quote!(column(#column)));
    }
    if f.id {
        add(quote!(id()));
    }
    if f.fty.nullable {
        add(quote!(nullable()));
    }
    match f.auto {
        Auto::None => {}
        Auto::Uuid => add(quote!(auto(__p::Auto::Uuid))),
        Auto::CreatedAt => add(quote!(auto(__p::Auto::CreatedAt))),
        Auto::UpdatedAt => add(quote!(auto(__p::Auto::UpdatedAt))),
    }
    if f.system && !f.id && f.auto == Auto::None {
        add(quote!(system()));
    }
    if f.hidden {
        add(quote!(hidden()));
    }
    if f.unique {
        add(quote!(unique()));
    }
    if f.default.is_some() {
        let user_ty = &f.ty;
        add(quote_spanned!(user_ty.span()=> default(__p::default_value::<#user_ty>)));
    }
    if f.filter {
        add(quote!(filterable()));
    }
    if f.sort {
        add(quote!(sortable()));
    }
    if f.search {
        add(quote!(searchable()));
    }
    if f.min_len.is_some() || f.max_len.is_some() {
        let (min, max) = (
            opt(f.min_len.map(Literal::u32_unsuffixed)),
            opt(f.max_len.map(Literal::u32_unsuffixed)),
        );
        add(quote!(len(#min, #max)));
    }
    if f.min.is_some() || f.max.is_some() {
        let (min, max) = (
            opt(f.min.map(Literal::f64_unsuffixed)),
            opt(f.max.map(Literal::f64_unsuffixed)),
        );
        add(quote!(range(#min, #max)));
    }
    if !f.one_of.is_empty() {
        let values = &f.one_of;
        add(quote!(one_of(&[#(#values),*])));
    }
    for (roles, method) in [
        (&f.visible_to, "visible_to"),
        (&f.writable_by, "writable_by"),
        (&f.redact_for, "redact_for"),
    ] {
        if !roles.is_empty() {
            let method = format_ident!("{}", method);
            add(quote!(#method(&[#(#roles),*])));
        }
    }
    if !f.doc.is_empty() {
        let doc = &f.doc;
        add(quote!(doc(#doc)));
    }
    if !f.states.transitions.is_empty() {
        let moves = f
            .states
            .transitions
            .iter()
            .map(|(from, to)| quote!((#from, #to)));
        add(quote!(states(&[#(#moves),*])));
    }
    if let Some(target) = &f.references {
        // Spanned at the user's path: one that is not a resource is reported there.
        add(quote_spanned!(target.span()=> references(__p::meta_of::<#target>)));
    }
    if let Some(key) = &f.populate {
        add(quote!(populate(#key)));
    }
    chain
}

/// For a field with `references = ..`: a check, at compile time, that it holds the kind of
/// value the referenced resource's id is (spanned at the path).
fn reference_check(f: &Field, ident: &syn::Ident) -> TokenStream {
    let Some(target) = &f.references else {
        return quote!();
    };
    // `Self` names the struct outside its impl too.
    let target = match target.get_ident() {
        Some(i) if i == "Self" => syn::Path::from(ident.clone()),
        _ => target.clone(),
    };
    let ty = field_type(f);
    let message = format!(
        "`{}` holds another kind of value than the id of the resource it references",
        f.name
    );
    quote_spanned! {target.span()=>
        const _: () = ::core::assert!(
            #ty.same_kind(<#target as __p::Resource>::META.fields[<#target as __p::Resource>::META.id].ty),
            #message
        );
    }
}

/// For a field of an enum type with `states(..)`: a check, at compile time, that each state
/// it names is a value of the enum (spanned at the state, where the error shows).
fn state_checks(f: &Field) -> TokenStream {
    let Scalar::Enum(ty) = &f.fty.scalar else {
        return quote!();
    };
    let checks = f.states.named.iter().map(|state| {
        let name = crate::model::states::name(state);
        let message = format!("`{name}` is not a value of the field's enum");
        quote_spanned! {state.span()=>
            const _: () = ::core::assert!(
                __p::is_variant(<#ty as __p::TextEnum>::VARIANTS, #name),
                #message
            );
        }
    });
    quote!(#(#checks)*)
}

/// `cache: Some(..)` when reads are cached: the settings, and the key's part of the resource,
/// its name and a fingerprint of its field table (`product@1a2b3c4d5e6f7a8b`), so answers a
/// build with other fields kept are never read.
fn cache(model: &Resource, metas: &[TokenStream]) -> TokenStream {
    let Some(cache) = &model.cache else {
        return quote!(None);
    };
    // FNV-1a: stable across builds and compilers, unlike std's hasher.
    let table = quote!(#(#metas,)*).to_string();
    let fingerprint = table.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let key = format!("{}@{fingerprint:016x}", model.name);
    let (stale, expire) = (
        Literal::u64_unsuffixed(cache.stale_secs),
        Literal::u64_unsuffixed(cache.expire_secs),
    );
    let tags = &cache.tags;
    quote! {
        Some(__p::CacheMeta {
            stale: __p::Duration::from_secs(#stale),
            expire: __p::Duration::from_secs(#expire),
            tags: &[#(#tags),*],
            key: #key,
        })
    }
}

/// The impl's doc: the routes, and who may use them.
fn routes_doc(model: &Resource) -> TokenStream {
    let docs = Action::served(|preset| model.presets.has(preset)).map(|a| route_doc(model, a));
    quote! {
        /// The routes, and who may use them:
        ///
        #(#[doc = #docs])*
    }
}

pub(super) fn expand(model: &Resource) -> TokenStream {
    let ident = &model.ident;
    let module = &model.entity_mod;
    let (name, path, table) = (&model.name, &model.path, &model.table);
    let migration = format!("m_arc_create_{table}");
    let metas: Vec<TokenStream> = model.fields.iter().map(field_meta).collect();
    let cache = cache(model, &metas);
    let count = Literal::usize_unsuffixed(model.fields.len());
    let columns = model.fields.iter().map(|f| {
        let variant = format_ident!("{}", to_pascal(&f.name));
        quote!(#module::Column::#variant)
    });
    let id = Literal::usize_unsuffixed(model.id);
    let index = |i: Option<usize>| opt(i.map(Literal::usize_unsuffixed));
    let soft_delete = index(model.presets.soft_delete);
    let slug_lookup = index(model.presets.slug_lookup);
    let tree = index(model.presets.tree);
    let bulk = model.presets.bulk;
    let audited = model.presets.audited;
    let tenant = index(model.presets.tenant);
    let owner = index(model.presets.owner);
    let owner_bypass = &model.presets.owner_bypass;
    let has_actions = model.presets.actions;
    let state_checks = model.fields.iter().map(state_checks);
    let reference_checks = model
        .fields
        .iter()
        .map(|f| reference_check(f, &model.ident));
    let default_sort = &model.default_sort;
    let lenient = model.lenient;
    let idempotency = match model.idempotency {
        None => quote!(None),
        Some(None) => quote!(Some(__p::Idempotent::DEFAULT)),
        Some(Some(secs)) => quote!(Some(__p::Idempotent::ttl_secs(#secs))),
    };
    let routes_doc = routes_doc(model);
    let doc = &model.doc;
    let named = Named {
        ident: &model.ident,
        paths: model.permissions.named(model),
    };
    let permissions = permissions(model, &named);
    let named_rules = named_rules(&named);
    let hooks = if model.hooks {
        quote!()
    } else {
        quote! {
            /// No hooks declared: the defaults do nothing.
            impl __p::Hooks for #ident {
                const DECLARED: bool = false;
            }
        }
    };
    let read_hooks = if model.read_hooks {
        quote!()
    } else {
        quote! {
            /// No read hooks declared: reads are not narrowed.
            impl __p::ReadHooks for #ident {
                const DECLARED: bool = false;
            }
        }
    };
    quote! {
        #routes_doc
        impl __p::Resource for #ident {
            type Entity = #module::Entity;
            type Model = #module::Model;
            type ActiveModel = #module::ActiveModel;

            const META: &'static __p::ResourceMeta = &__p::ResourceMeta {
                name: #name,
                doc: #doc,
                path: #path,
                table: #table,
                migration: #migration,
                fields: &[
                    #(#metas,)*
                ],
                id: #id,
                presets: __p::Presets {
                    soft_delete: #soft_delete,
                    slug_lookup: #slug_lookup,
                    tree: #tree,
                    bulk: #bulk,
                    audited: #audited,
                    tenant: #tenant,
                    owner: #owner,
                    owner_bypass: &[#(#owner_bypass),*],
                    actions: #has_actions,
                },
                default_sort: #default_sort,
                lenient: #lenient,
                idempotency: #idempotency,
                permissions: #permissions,
                cache: #cache,
                read_hooks: __p::ReadHookFns::of::<Self>(),
            };

            fn column(index: usize) -> #module::Column {
                const COLUMNS: [#module::Column; #count] = [#(#columns),*];
                COLUMNS[index]
            }
        }

        #hooks
        #read_hooks
        #(#state_checks)*
        #(#reference_checks)*
        #named_rules
    }
}
