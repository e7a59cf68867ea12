//! Code generation: one module per output, each reading the checked model.
//!
//! Generated items refer to everything through `::arc_runtime::__private`, so they do not
//! depend on the user's imports; items that need no name live in one `const _: () = {..}`.

mod dto;
mod entity;
pub mod enumeration;
mod resource_impl;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemStruct;

use crate::model::Resource;

/// The user's struct without our `#[field]` helper attributes.
pub fn strip_field_attrs(item: &ItemStruct) -> ItemStruct {
    let mut item = item.clone();
    for field in &mut item.fields {
        field.attrs.retain(|a| !a.path().is_ident("field"));
    }
    item
}

/// Everything `#[resource]` emits for a checked model.
pub fn resource(model: &Resource, item: &ItemStruct) -> TokenStream {
    let item = strip_field_attrs(item);
    let entity = entity::expand(model);
    let dtos = dto::expand(model, &item.vis);
    let imp = resource_impl::expand(model);
    quote! {
        #item
        #entity
        #dtos
        const _: () = {
            use ::arc_runtime::__private as __p;
            #imp
        };
    }
}
