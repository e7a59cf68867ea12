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
