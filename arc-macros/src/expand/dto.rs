//! The create and patch DTOs: typed bodies of `POST` and `PATCH` for clients and tests to
//! send (`Serialize` only). The server decodes bodies through the field table, and the document
//! describes them from the same table (arc-runtime's `wire` module): these types are a convenience
//! for writing a body, not a second description of it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Visibility;

use crate::model::Resource;

pub(super) fn expand(model: &Resource, vis: &Visibility) -> TokenStream {
    let ident = &model.ident;
    let create = format_ident!("{}Create", ident);
    let patch = format_ident!("{}Patch", ident);
    let writable: Vec<_> = model.fields.iter().filter(|f| !f.system && !f.id).collect();
    let create_fields = writable.iter().map(|f| {
        let name = &f.ident;
        let ty = &f.ty;
        let docs = &f.docs;
        let attr = if f.fty.nullable {
            quote!(#[serde(skip_serializing_if = "Option::is_none")])
        } else {
            quote!()
        };
        quote! { #(#docs)* #attr pub #name: #ty, }
    });
    let patch_fields = writable.iter().map(|f| {
        let name = &f.ident;
        let ty = &f.ty;
        let docs = &f.docs;
        // Absent when `None`; for a nullable field, `Some(None)` is written as `null`.
        quote! {
            #(#docs)*
            #[serde(skip_serializing_if = "Option::is_none")]
            pub #name: Option<#ty>,
        }
    });
    let path = &model.path;
    let create_doc =
        format!(" The body of `POST {path}`: the client-writable fields of [`{ident}`].");
    let patch_doc = format!(
        " The body of `PATCH {path}/{{id}}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one; `null` for any other field is refused."
    );
    quote! {
        #[doc = #create_doc]
        #[derive(Debug, Clone, ::arc_runtime::__private_0_1::serde::Serialize)]
        #[serde(crate = "::arc_runtime::__private_0_1::serde")]
        #vis struct #create {
            #(#create_fields)*
        }

        #[doc = #patch_doc]
        #[derive(Debug, Clone, Default, ::arc_runtime::__private_0_1::serde::Serialize)]
        #[serde(crate = "::arc_runtime::__private_0_1::serde")]
        #vis struct #patch {
            #(#patch_fields)*
        }
    }
}
