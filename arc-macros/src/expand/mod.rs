//! Code generation: one module per output, each reading the checked model.
//!
//! Generated items refer to everything through `::arc_runtime::__private_0_1`, so they do not
//! depend on the user's imports; items that need no name live in one `const _: () = {..}`.

mod actions;
mod dto;
mod entity;
pub(crate) mod enumeration;
mod resource_impl;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemStruct;

use crate::model::Resource;

/// The user's struct without our helper attributes (`#[permissions]`, `#[field]`).
pub(crate) fn strip_field_attrs(item: &ItemStruct) -> ItemStruct {
    let mut item = item.clone();
    item.attrs.retain(|a| !crate::model::is_permissions(a));
    for field in &mut item.fields {
        field.attrs.retain(|a| !a.path().is_ident("field"));
    }
    item
}

/// Everything `#[resource]` emits for a checked model.
pub(crate) fn resource(model: &Resource, item: &ItemStruct) -> TokenStream {
    let item = strip_field_attrs(item);
    let entity = entity::expand(model);
    let dtos = dto::expand(model, &item.vis);
    let imp = resource_impl::expand(model);
    let action_body = actions::body(model, &item.vis);
    let action_impls = actions::impls(model);
    quote! {
        #item
        #entity
        #dtos
        #action_body
        const _: () = {
            use ::arc_runtime::__private_0_1 as __p;
            #imp
            #action_impls
        };
    }
}

#[cfg(test)]
mod snapshot {
    //! The expansion of every `#[resource]` in the shop's `resources.rs` (and of the tests'
    //! `Note`, for its permissions), formatted, against
    //! reviewed snapshots in `tests/snapshots/`. The input is the shop's real source, so the
    //! snapshots follow it. Regenerate after review: `UPDATE_SNAPSHOTS=1 cargo test -p arc-macros`.

    use crate::ctxt::Ctxt;
    use crate::model::Resource;
    use arc_spec::names::to_snake;

    const SHOP: &str = include_str!("../../../examples/shop/src/resources.rs");
    /// A resource whose permissions use every kind of rule.
    const NOTES: &str = include_str!("../../../tests/src/notes.rs");
    /// Resources whose rules come from a preset (`Diary`) and from the app's named rules
    /// (`Draft`); the file's others are presets of the same kind.
    const RULEBOOK: &str = include_str!("../../../tests/src/rulebook.rs");

    #[test]
    fn shop_expansions() {
        let mut checked = Vec::new();
        let items = [SHOP, NOTES, RULEBOOK]
            .into_iter()
            .flat_map(|src| syn::parse_file(src).expect("resources parse").items);
        let skipped = ["Article", "Rate", "Switch"];
        for item in items {
            let syn::Item::Struct(mut item) = item else {
                continue;
            };
            if skipped.iter().any(|s| item.ident == s) {
                continue;
            }
            let Some(pos) = item
                .attrs
                .iter()
                .position(|a| a.path().is_ident("resource"))
            else {
                continue;
            };
            let attr = item.attrs.remove(pos);
            let args = match attr.meta {
                syn::Meta::List(list) => list.tokens,
                _ => proc_macro2::TokenStream::new(),
            };
            let cx = Ctxt::new();
            let model = Resource::from_ast(&cx, args, &item);
            assert!(cx.check().is_ok(), "{} is valid", item.ident);
            let tokens = super::resource(&model.expect("model"), &item);
            let text = prettyplease::unparse(&syn::parse2(tokens).expect("expansion parses"));
            let name = to_snake(&item.ident.to_string());
            let path = format!(
                "{}/tests/snapshots/{name}.expanded.rs",
                env!("CARGO_MANIFEST_DIR")
            );
            if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
                std::fs::write(&path, &text).expect("write snapshot");
            }
            let expected = std::fs::read_to_string(&path).expect("snapshot exists");
            assert_eq!(
                text, expected,
                "{name} expansion changed: review, then UPDATE_SNAPSHOTS=1"
            );
            checked.push(name);
        }
        assert_eq!(
            checked,
            ["category", "product", "order", "note", "diary", "draft"]
        );
    }
}
