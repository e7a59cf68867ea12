//! Procedural macros of arc-rs: `#[resource]` on a struct, `#[derive(Enum)]` on its enums.
//!
//! Entry points only: parse -> model (checked, every error at once) -> expand. On error the
//! user's item is emitted unchanged beside the errors, so the rest of their crate still
//! type-checks.

mod ctxt;
mod expand;
mod model;
mod suggest;

use proc_macro::TokenStream;
use quote::quote;

use crate::ctxt::Ctxt;

/// Turns a plain struct into a REST resource. See the `arc_runtime` docs for the options.
#[proc_macro_attribute]
pub fn resource(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = match syn::parse::<syn::ItemStruct>(input.clone()) {
        Ok(item) => item,
        Err(e) => {
            let error =
                syn::Error::new(e.span(), "`#[resource]` goes on a struct").to_compile_error();
            let input = proc_macro2::TokenStream::from(input);
            return quote!(#error #input).into();
        }
    };
    let cx = Ctxt::new();
    let model = model::Resource::from_ast(&cx, args.into(), &item);
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand::resource(&model, &item).into(),
        (Err(errors), _) => {
            let item = expand::strip_field_attrs(&item);
            quote!(#item #errors).into()
        }
        (Ok(()), None) => {
            let item = expand::strip_field_attrs(&item);
            quote!(#item ::core::compile_error!("arc: the resource could not be read");).into()
        }
    }
}

/// Who may do what on a resource: `#[permissions(list = public, update = roles("admin"))]`.
///
/// Read by `#[resource]`; written above it, this only puts it below, so either order works.
#[proc_macro_attribute]
pub fn permissions(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    let mut item = match syn::parse::<syn::ItemStruct>(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let input = proc_macro2::TokenStream::from(input);
            return quote!(::core::compile_error!("`#[permissions]` goes on a `#[resource]` struct"); #input).into();
        }
    };
    let is_resource = |a: &syn::Attribute| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "resource")
    };
    let Some(pos) = item.attrs.iter().position(is_resource) else {
        let error =
            syn::Error::new_spanned(&item.ident, "`#[permissions]` goes with `#[resource]`")
                .to_compile_error();
        return quote!(#error #item).into();
    };
    // Put ourselves right after `#[resource]`, which reads us.
    let permissions: syn::Attribute = syn::parse_quote!(#[permissions(#args)]);
    item.attrs.insert(pos + 1, permissions);
    quote!(#item).into()
}

/// Implements `arc_runtime::TextEnum` for a fieldless enum, with serde's names.
#[proc_macro_derive(Enum, attributes(serde))]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    let cx = Ctxt::new();
    let tokens = expand::enumeration::expand(&cx, &input);
    match cx.check() {
        Ok(()) => tokens.into(),
        Err(errors) => errors.into(),
    }
}
