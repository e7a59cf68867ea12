//! The actions' side of a resource: the body enum of `POST /{path}/{id}/action`
//! (`OrderAction`, serde's `Deserialize` and schemars' `JsonSchema`, so the route decodes and
//! the document describes one type), its names, and the bond between the resource and its
//! `Actions` impl (the user's, checked to take this enum; or the macro's, for a resource
//! without actions, which has no action route).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::Visibility;

use arc_spec::names::to_pascal;

use crate::model::Resource;

/// The enum, beside the struct (the user's `impl Actions` names it).
pub(super) fn body(model: &Resource, vis: &Visibility) -> TokenStream {
    if model.actions.is_empty() {
        return quote!();
    }
    let ident = &model.ident;
    let body = format_ident!("{}Action", ident);
    let variants = model.actions.iter().map(|action| {
        let name = action.name();
        let variant = format_ident!("{}", to_pascal(&name), span = action.ident.span());
        let fields = action.params.iter().map(|p| {
            let (docs, field, ty) = (&p.docs, &p.ident, &p.ty);
            quote!(#(#docs)* #field: #ty)
        });
        let doc = format!(" `{{\"action\": \"{name}\", ..}}`");
        quote! {
            #[doc = #doc]
            #[serde(rename = #name)]
            #variant { #(#fields),* }
        }
    });
    let doc = format!(
        " The body of `POST {}/{{id}}/action`: one of the actions of [`{ident}`], by name.",
        model.path
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug, ::arc_runtime::__private_0_1::serde::Deserialize, ::arc_runtime::__private_0_1::schemars::JsonSchema)]
        #[serde(crate = "::arc_runtime::__private_0_1::serde", tag = "action", deny_unknown_fields)]
        #[schemars(crate = "::arc_runtime::__private_0_1::schemars")]
        #vis enum #body {
            #(#variants,)*
        }
    }
}

/// Inside the `const _` block: the enum's names, and the check that the resource's `Actions`
/// impl takes it; or, without actions, the impl that has none.
pub(super) fn impls(model: &Resource) -> TokenStream {
    let ident = &model.ident;
    let module = &model.entity_mod;
    let Some(first) = model.actions.first() else {
        return quote! {
            /// No actions declared: no action route.
            impl __p::Actions for #ident {
                type Action = __p::NoActions;

                fn act(
                    _: &__p::WriteContext<'_>,
                    _: &#module::Model,
                    action: __p::NoActions,
                    _: &mut #module::ActiveModel,
                ) -> ::core::future::Ready<::core::result::Result<(), __p::ArcError>> {
                    match action {}
                }
            }
        };
    };
    let body = format_ident!("{}Action", ident);
    let names = model.actions.iter().map(|a| a.name());
    // Spanned at the first action: a missing or mismatched `impl Actions` is reported there.
    let bond = quote_spanned! {first.ident.span()=>
        const _: fn() = || {
            fn takes_its_actions<T: __p::Actions<Action = #body>>() {}
            takes_its_actions::<#ident>();
        };
    };
    quote! {
        impl __p::ActionBody for #body {
            const NAMES: &'static [&'static str] = &[#(#names),*];
        }
        #bond
    }
}
