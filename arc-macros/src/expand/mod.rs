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

#[cfg(test)]
mod snapshot {
    //! The expansion of the shop's product resource, formatted, against a reviewed snapshot.
    //! Regenerate after a reviewed change with `UPDATE_SNAPSHOTS=1 cargo test -p arc-macros`.

    use quote::quote;

    use crate::ctxt::Ctxt;
    use crate::model::Resource;

    #[test]
    fn product_expansion() {
        let args = quote! {
            presets(soft_delete, slug_lookup, bulk),
            query(filter = [name, price, status, category_id, is_featured, created_at],
                  sort = [name, price, created_at], search = [name])
        };
        let item: syn::ItemStruct = syn::parse2(quote! {
            pub struct Product {
                #[field(id)] pub id: Uuid,
                #[field(system)] pub org_id: Option<String>,
                #[field(min_len = 1, max_len = 200)] pub name: String,
                #[field(min_len = 1, max_len = 200)] pub slug: Option<String>,
                #[field(range(min = 0))] pub price: i64,
                #[field(default)] pub status: ProductStatus,
                pub category_id: Option<Uuid>,
                #[field(range(min = 0))] pub cost: Option<i64>,
                #[field(hidden, max_len = 2000)] pub internal_note: Option<String>,
                #[field(default)] pub is_featured: bool,
                #[field(system)] pub created_by: Option<String>,
                #[field(system)] pub deleted_at: Option<DateTime<Utc>>,
                pub created_at: DateTime<Utc>,
                pub updated_at: DateTime<Utc>,
            }
        })
        .expect("struct");
        let cx = Ctxt::new();
        let model = Resource::from_ast(&cx, args, &item);
        assert!(cx.check().is_ok(), "the product resource is valid");
        let tokens = super::resource(&model.expect("model"), &item);
        let file: syn::File = syn::parse2(tokens).expect("expansion parses");
        let text = prettyplease::unparse(&file);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/snapshots/product.expanded.rs"
        );
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(path, &text).expect("write snapshot");
        }
        let expected = std::fs::read_to_string(path).expect("snapshot exists");
        assert_eq!(
            text, expected,
            "expansion changed: review, then UPDATE_SNAPSHOTS=1"
        );
    }
}
