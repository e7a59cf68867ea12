//! The create and patch DTOs: the typed bodies of `POST` and `PATCH`, for clients and tests.
//!
//! The server decodes bodies through the field table (to report every problem at once); these
//! types accept exactly the same bodies.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Visibility;

use crate::model::{Field, Resource};

/// A bound as a JSON number literal: integral bounds without a fraction.
fn number(value: f64) -> TokenStream {
    if value.fract() == 0.0 && value.abs() < 9.0e15 {
        let int = proc_macro2::Literal::i64_unsuffixed(value as i64);
        quote!(#int)
    } else {
        let float = proc_macro2::Literal::f64_unsuffixed(value);
        quote!(#float)
    }
}

/// The field's validation rules as schemars attributes, so the JSON Schema states what the
/// server checks: `length`, `range` and the allowed values.
pub(super) fn schema_rules(f: &Field) -> TokenStream {
    let mut out = TokenStream::new();
    let bounds = |min: Option<TokenStream>, max: Option<TokenStream>| {
        let min = min.map(|m| quote!(min = #m));
        let max = max.map(|m| quote!(max = #m));
        let parts: Vec<TokenStream> = min.into_iter().chain(max).collect();
        quote!(#(#parts),*)
    };
    if f.min_len.is_some() || f.max_len.is_some() {
        let inner = bounds(
            f.min_len.map(|v| number(f64::from(v))),
            f.max_len.map(|v| number(f64::from(v))),
        );
        out.extend(quote!(#[schemars(length(#inner))]));
    }
    if f.min.is_some() || f.max.is_some() {
        let inner = bounds(f.min.map(number), f.max.map(number));
        out.extend(quote!(#[schemars(range(#inner))]));
    }
    if !f.one_of.is_empty() {
        let values = &f.one_of;
        out.extend(quote!(#[schemars(extend("enum" = [#(#values),*]))]));
    }
    out
}

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
            quote!(#[serde(default, skip_serializing_if = "Option::is_none")])
        } else if f.default.is_some() {
            quote!(#[serde(default)])
        } else {
            quote!()
        };
        let rules = schema_rules(f);
        quote! { #(#docs)* #attr #rules pub #name: #ty, }
    });
    let patch_fields = writable.iter().map(|f| {
        let name = &f.ident;
        let ty = &f.ty;
        let docs = &f.docs;
        let rules = schema_rules(f);
        let ty_text = quote!(#ty).to_string();
        if f.fty.nullable {
            quote! {
                #(#docs)*
                #[serde(default, skip_serializing_if = "Option::is_none",
                        deserialize_with = "::arc_runtime::__private::double_option")]
                #rules
                pub #name: Option<#ty>,
            }
        } else {
            // Absent stays `None`; `null` is refused as the server refuses it, and the schema
            // is the field's own (not nullable), so document, DTO and decoder agree.
            quote! {
                #(#docs)*
                #[serde(default, skip_serializing_if = "Option::is_none",
                        deserialize_with = "::arc_runtime::__private::present")]
                #[schemars(with = #ty_text)]
                #rules
                pub #name: Option<#ty>,
            }
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
        #[derive(Debug, Clone, ::arc_runtime::__private::serde::Serialize, ::arc_runtime::__private::serde::Deserialize, ::arc_runtime::__private::schemars::JsonSchema)]
        #[serde(crate = "::arc_runtime::__private::serde", deny_unknown_fields)]
        #[schemars(crate = "::arc_runtime::__private::schemars")]
        #vis struct #create {
            #(#create_fields)*
        }

        #[doc = #patch_doc]
        #[derive(Debug, Clone, Default, ::arc_runtime::__private::serde::Serialize, ::arc_runtime::__private::serde::Deserialize, ::arc_runtime::__private::schemars::JsonSchema)]
        #[serde(crate = "::arc_runtime::__private::serde", deny_unknown_fields)]
        #[schemars(crate = "::arc_runtime::__private::schemars")]
        #vis struct #patch {
            #(#patch_fields)*
        }
    }
}
