//! The create and patch DTOs: the typed bodies of `POST` and `PATCH`, for clients and tests.
//!
//! The server decodes bodies through the field table (to report every problem at once); these
//! types accept exactly the same bodies.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Visibility;

use crate::model::Resource;

pub fn expand(model: &Resource, vis: &Visibility) -> TokenStream {
    let ident = &model.ident;
    let create = format_ident!("{}Create", ident);
    let patch = format_ident!("{}Patch", ident);
    let writable: Vec<_> = model.fields.iter().filter(|f| !f.system && !f.id).collect();
    let create_fields = writable.iter().map(|f| {
        let name = &f.ident;
        let ty = &f.ty;
        let docs = &f.docs;
        let attr = if f.fty.nullable {
            quote!(#[serde(default, skip_serializing_if = "Option::is_none")])
        } else if f.default.is_some() {
            quote!(#[serde(default)])
        } else {
            quote!()
        };
        quote! { #(#docs)* #attr pub #name: #ty, }
    });
    let patch_fields = writable.iter().map(|f| {
        let name = &f.ident;
        let ty = &f.ty;
        let docs = &f.docs;
        if f.fty.nullable {
            quote! {
                #(#docs)*
                #[serde(default, skip_serializing_if = "Option::is_none",
                        deserialize_with = "::arc_runtime::__private::double_option")]
                pub #name: Option<#ty>,
            }
        } else {
            quote! {
                #(#docs)*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub #name: Option<#ty>,
            }
        }
    });
    let path = &model.path;
    let create_doc =
        format!(" The body of `POST {path}`: the client-writable fields of [`{ident}`].");
    let patch_doc = format!(
        " The body of `PATCH {path}/{{id}}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one."
    );
    quote! {
        #[doc = #create_doc]
        #[derive(Debug, Clone, ::arc_runtime::__private::serde::Serialize, ::arc_runtime::__private::serde::Deserialize)]
        #[serde(crate = "::arc_runtime::__private::serde", deny_unknown_fields)]
        #vis struct #create {
            #(#create_fields)*
        }

        #[doc = #patch_doc]
        #[derive(Debug, Clone, Default, ::arc_runtime::__private::serde::Serialize, ::arc_runtime::__private::serde::Deserialize)]
        #[serde(crate = "::arc_runtime::__private::serde", deny_unknown_fields)]
        #vis struct #patch {
            #(#patch_fields)*
        }
    }
}
