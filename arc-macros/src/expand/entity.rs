//! The sea-orm entity of a resource: `Model`, `ActiveModel`, `Entity`, `Column`,
//! `PrimaryKey` and an empty `Relation`, in a module `<name>_entity`, via sea-orm's derives.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{Field, Resource, Scalar};

/// The column type of a field, as stored: enums as text.
pub(super) fn stored_type(field: &Field) -> TokenStream {
    let inner = match &field.fty.scalar {
        Scalar::Uuid => quote!(::arc_runtime::__private_0_1::uuid::Uuid),
        Scalar::String | Scalar::Enum(_) => quote!(::std::string::String),
        Scalar::I32 => quote!(i32),
        Scalar::I64 => quote!(i64),
        Scalar::F64 => quote!(f64),
        Scalar::Bool => quote!(bool),
        Scalar::DateTime => quote!(
            ::arc_runtime::__private_0_1::chrono::DateTime<
                ::arc_runtime::__private_0_1::chrono::Utc,
            >
        ),
        Scalar::Decimal => quote!(::arc_runtime::__private_0_1::rust_decimal::Decimal),
        Scalar::Json => quote!(::arc_runtime::__private_0_1::serde_json::Value),
    };
    // sea-orm reads nullability from a literal `Option<` prefix.
    if field.fty.nullable {
        quote!(Option<#inner>)
    } else {
        inner
    }
}

pub(super) fn expand(model: &Resource) -> TokenStream {
    let module = &model.entity_mod;
    let table = &model.table;
    let ident = &model.ident;
    let doc = format!(" The sea-orm entity of [`super::{ident}`]: table `{table}`.");
    let fields = model.fields.iter().map(|f| {
        let name = format_ident!("{}", f.name);
        let ty = stored_type(f);
        let attr = if f.id {
            if matches!(f.fty.scalar, Scalar::Uuid) {
                quote!(#[sea_orm(primary_key, auto_increment = false)])
            } else {
                quote!(#[sea_orm(primary_key)])
            }
        } else if f.indexed() {
            quote!(#[sea_orm(indexed)])
        } else {
            quote!()
        };
        // Named outright where it is not the field's name, so sea-orm's own renaming rule
        // can never disagree with the field table's (`FieldMeta::column`).
        let column = f.column();
        let column = (column != f.name).then(|| quote!(#[sea_orm(column_name = #column)]));
        let docs = &f.docs;
        quote! { #(#docs)* #attr #column pub #name: #ty, }
    });
    quote! {
        #[doc = #doc]
        pub mod #module {
            // sea-orm's derives name their paths `sea_orm::..` and some prelude items bare;
            // field types below are fully qualified, so the glob shadows nothing of the user's.
            use ::arc_runtime::__private_0_1::sea_orm;
            use sea_orm::entity::prelude::*;

            /// A row as stored.
            #[derive(Clone, Debug, PartialEq, sea_orm::DeriveEntityModel)]
            #[sea_orm(table_name = #table)]
            pub struct Model {
                #(#fields)*
            }

            /// No relations are declared.
            #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
            pub enum Relation {}

            impl sea_orm::ActiveModelBehavior for ActiveModel {}
        }
    }
}
