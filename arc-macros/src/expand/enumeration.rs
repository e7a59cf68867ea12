//! `#[derive(Enum)]`: a fieldless enum as a text field, named as serde names it.
//!
//! The names come from serde's own reading of the `#[serde(..)]` attributes
//! (`serde_derive_internals`, the code `serde_derive` runs), so `rename_all`, `rename`,
//! `rename(serialize = .., deserialize = ..)` and `alias` mean here exactly what they mean to
//! serde. A variant is stored, listed in `TextEnum::VARIANTS` and shown by the API under the
//! name serde *writes*; `TextEnum::from_name` also takes every name serde *reads*.
//!
//! Mistakes in serde's attributes are serde's to report: its derive beside this one reads the
//! same attributes and reports each mistake once, so this derive does not repeat them. It
//! reports what serde accepts but a text column cannot hold (a tagged or untagged
//! representation, skipped variants, two variants stored under one name).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use serde_derive_internals::ast::{Container, Data as SerdeData};
use serde_derive_internals::attr::TagType;
use syn::{Data, DeriveInput, Fields};

use crate::ctxt::Ctxt;

/// One variant as serde names it.
#[derive(Debug)]
struct Named {
    ident: syn::Ident,
    /// The name serde writes: what the column stores and the API shows.
    stored: String,
    /// Where `stored` comes from: the `rename` literal, else the variant's name.
    span: Span,
    /// Every name serde reads for it (its deserialize name and aliases), sorted.
    read: Vec<String>,
    /// `#[serde(other)]`: what serde reads from any name no variant has.
    other: bool,
}

pub(crate) fn expand(cx: &Ctxt, input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        cx.error_spanned_by(ident, "`Enum` derives for fieldless enums only");
        return TokenStream::new();
    };
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(&input.generics, "`Enum` cannot be generic");
    }
    let mut unit = true;
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            cx.error_spanned_by(&v.ident, "`Enum` variants carry no data");
            unit = false;
        }
    }
    if !unit {
        return TokenStream::new();
    }
    let Some(variants) = names(cx, input) else {
        return TokenStream::new();
    };

    let stored: Vec<&str> = variants.iter().map(|v| v.stored.as_str()).collect();
    let idents: Vec<&syn::Ident> = variants.iter().map(|v| &v.ident).collect();
    // `from_name`: the stored names first (so it inverts `as_str`), then each other name
    // serde reads, once; a name no variant has is the `#[serde(other)]` variant, as for serde.
    let mut seen: Vec<&str> = stored.clone();
    let mut read_names = Vec::new();
    let mut read_idents = Vec::new();
    for v in &variants {
        for name in &v.read {
            if !seen.contains(&name.as_str()) {
                seen.push(name);
                read_names.push(name.as_str());
                read_idents.push(&v.ident);
            }
        }
    }
    let fallback = match variants.iter().find(|v| v.other) {
        Some(v) => {
            let other = &v.ident;
            quote!(::core::option::Option::Some(Self::#other))
        }
        None => quote!(::core::option::Option::None),
    };

    quote! {
        impl ::arc_runtime::__private_0_1::TextEnum for #ident {
            const VARIANTS: &'static [&'static str] = &[#(#stored),*];

            fn as_str(&self) -> &'static str {
                match self {
                    #(Self::#idents => #stored,)*
                }
            }

            fn from_name(name: &str) -> ::core::option::Option<Self> {
                match name {
                    #(#stored => ::core::option::Option::Some(Self::#idents),)*
                    #(#read_names => ::core::option::Option::Some(Self::#read_idents),)*
                    _ => #fallback,
                }
            }
        }
    }
}

/// Each variant's names as serde reads the attributes of `input` (a fieldless enum), checked
/// for what a text column needs; `None` when there is nothing to emit.
fn names(cx: &Ctxt, input: &DeriveInput) -> Option<Vec<Named>> {
    // serde_derive_internals is built on syn 3; the same tokens parse the same there.
    let input3: syn3::DeriveInput = match syn3::parse2(input.to_token_stream()) {
        Ok(input3) => input3,
        Err(e) => {
            cx.error_at(e.span(), e);
            return None;
        }
    };
    let serde_cx = serde_derive_internals::Ctxt::new();
    let private = proc_macro2::Ident::new("__private", Span::call_site());
    let container = Container::from_ast(
        &serde_cx,
        &input3,
        serde_derive_internals::Derive::Deserialize,
        &private,
    );
    // serde's mistakes are left to serde's derive, which reports each of them once; the names
    // are still emitted (as serde read them), so the user's other uses of the enum do not
    // fail as well. Without a serde derive there are no `#[serde]` attributes to get wrong:
    // `Enum` does not declare them, so the compiler refuses them.
    let serde_ok = serde_cx.check().is_ok();
    let Some(container) = container else {
        cx.error_spanned_by(&input.ident, "serde cannot read this enum");
        return None;
    };
    let SerdeData::Enum(serde_variants) = &container.data else {
        cx.error_spanned_by(&input.ident, "`Enum` derives for fieldless enums only");
        return None;
    };

    let representation = match container.attrs.tag() {
        TagType::External => None,
        TagType::Internal { .. } | TagType::Adjacent { .. } => Some("tag"),
        TagType::None => Some("untagged"),
    };
    let conversions = [
        (container.attrs.type_from().is_some(), "from"),
        (container.attrs.type_try_from().is_some(), "try_from"),
        (container.attrs.type_into().is_some(), "into"),
    ];
    let container_words = representation.into_iter().chain(
        conversions
            .into_iter()
            .filter_map(|(set, word)| set.then_some(word)),
    );
    for word in container_words {
        cx.error_at(
            serde_word(&input.attrs, word).unwrap_or_else(|| input.ident.span()),
            format!(
                "`#[serde({word})]` makes serde write this enum as something other than its \
                 variants' names, which `Enum` stores as text"
            ),
        );
    }

    let mut variants = Vec::new();
    for (v, original) in serde_variants.iter().zip(&input_variants(input)) {
        let attrs = &v.attrs;
        if attrs.skip_serializing() || attrs.skip_deserializing() {
            report_words(
                cx,
                original,
                &["skip", "skip_serializing", "skip_deserializing"],
                |word| {
                    format!(
                        "a variant of an `Enum` is stored as text, so serde must both write and \
                         read it: remove `{word}`"
                    )
                },
            );
        }
        if attrs.untagged()
            || attrs.serialize_with().is_some()
            || attrs.deserialize_with().is_some()
        {
            report_words(
                cx,
                original,
                &["untagged", "with", "serialize_with", "deserialize_with"],
                |word| {
                    format!(
                        "`#[serde({word})]` makes serde write this variant as something other \
                         than its name, which `Enum` stores as text"
                    )
                },
            );
        }
        let name = attrs.name().serialize_name();
        variants.push(Named {
            ident: original.ident.clone(),
            stored: name.value.clone(),
            span: name.span,
            read: attrs.aliases().iter().map(|n| n.value.clone()).collect(),
            other: attrs.other(),
        });
    }
    if serde_ok {
        check_names(cx, &variants);
    }
    Some(variants)
}

/// An error at each of `words` that the variant's `#[serde(..)]` attributes hold (at its name
/// when none is found).
fn report_words(
    cx: &Ctxt,
    variant: &syn::Variant,
    words: &[&str],
    message: impl Fn(&str) -> String,
) {
    let found: Vec<(&str, Span)> = words
        .iter()
        .filter_map(|w| serde_word(&variant.attrs, w).map(|span| (*w, span)))
        .collect();
    if found.is_empty() {
        cx.error_spanned_by(&variant.ident, message(words[0]));
    }
    for (word, span) in found {
        cx.error_at(span, message(word));
    }
}

fn input_variants(input: &DeriveInput) -> Vec<&syn::Variant> {
    match &input.data {
        Data::Enum(data) => data.variants.iter().collect(),
        Data::Struct(_) | Data::Union(_) => Vec::new(),
    }
}

/// One stored name per variant, and none that serde reads as another variant.
fn check_names(cx: &Ctxt, variants: &[Named]) {
    for (i, v) in variants.iter().enumerate() {
        if let Some(first) = variants[..i].iter().find(|w| w.stored == v.stored) {
            cx.error_at(
                v.span,
                format!(
                    "`{}` is already the name `{}` is stored as: each variant of an `Enum` needs \
                     a name of its own",
                    v.stored, first.ident
                ),
            );
        } else if let Some(reader) = variants
            .iter()
            .find(|w| w.read.contains(&v.stored))
            .filter(|w| w.ident != v.ident)
        {
            cx.error_at(
                v.span,
                format!(
                    "`{}` is stored as `{}`, which serde reads as `{}`: rename one of them",
                    v.ident, v.stored, reader.ident
                ),
            );
        }
    }
}

/// The span of `word` as an option of a `#[serde(..)]` attribute among `attrs`, for errors.
fn serde_word(attrs: &[syn::Attribute], word: &str) -> Option<Span> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .filter_map(|a| match &a.meta {
            syn::Meta::List(list) => Some(list.tokens.clone()),
            syn::Meta::Path(_) | syn::Meta::NameValue(_) => None,
        })
        .flat_map(|tokens| tokens.into_iter())
        .find_map(|tt| match tt {
            TokenTree::Ident(i) if i == word => Some(i.span()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each variant's stored name and the names serde reads, for `item`.
    fn read(item: &str) -> Vec<(String, Vec<String>)> {
        let input: DeriveInput = syn::parse_str(item).unwrap();
        let cx = Ctxt::new();
        let names = names(&cx, &input).unwrap();
        cx.check().unwrap();
        names.into_iter().map(|n| (n.stored, n.read)).collect()
    }

    fn stored(item: &str) -> Vec<String> {
        read(item).into_iter().map(|(s, _)| s).collect()
    }

    fn errors(item: &str) -> String {
        let input: DeriveInput = syn::parse_str(item).unwrap();
        let cx = Ctxt::new();
        let _ = expand(&cx, &input);
        cx.check().unwrap_err().to_string()
    }

    #[test]
    fn every_rename_all_rule_serde_has() {
        let rules = [
            ("lowercase", ["instock", "gone", "httpcode"]),
            ("UPPERCASE", ["INSTOCK", "GONE", "HTTPCODE"]),
            ("PascalCase", ["InStock", "Gone", "HTTPCode"]),
            ("camelCase", ["inStock", "gone", "hTTPCode"]),
            ("snake_case", ["in_stock", "gone", "h_t_t_p_code"]),
            ("SCREAMING_SNAKE_CASE", ["IN_STOCK", "GONE", "H_T_T_P_CODE"]),
            ("kebab-case", ["in-stock", "gone", "h-t-t-p-code"]),
            ("SCREAMING-KEBAB-CASE", ["IN-STOCK", "GONE", "H-T-T-P-CODE"]),
        ];
        for (rule, expected) in rules {
            let item =
                format!("#[serde(rename_all = {rule:?})] enum E {{ InStock, Gone, HTTPCode }}");
            assert_eq!(stored(&item), expected, "{rule}");
        }
        assert_eq!(stored("enum E { InStock, r#Type }"), ["InStock", "Type"]);
    }

    #[test]
    fn rename_wins_over_rename_all() {
        let item = r#"#[serde(rename_all = "snake_case")]
            enum E { InStock, #[serde(rename = "gone")] OutOfStock }"#;
        assert_eq!(stored(item), ["in_stock", "gone"]);
    }

    #[test]
    fn aliases_are_read_not_stored() {
        let item = r#"#[serde(rename_all = "lowercase")]
            enum E { #[serde(alias = "new", alias = "fresh")] Draft, Active }"#;
        assert_eq!(
            read(item),
            [
                (
                    "draft".into(),
                    vec!["draft".into(), "fresh".into(), "new".into()]
                ),
                ("active".into(), vec!["active".into()]),
            ]
        );
    }

    #[test]
    fn the_serialize_name_is_stored_and_the_deserialize_name_read() {
        let item = r#"enum E {
            #[serde(rename(serialize = "out", deserialize = "in"))] A,
            #[serde(rename(serialize = "b"))] B,
        }"#;
        assert_eq!(
            read(item),
            [
                ("out".into(), vec!["in".into()]),
                ("b".into(), vec!["B".into()]),
            ]
        );
        let item = r#"#[serde(rename_all(serialize = "UPPERCASE", deserialize = "lowercase"))]
            enum E { Draft }"#;
        assert_eq!(read(item), [("DRAFT".into(), vec!["draft".into()])]);
    }

    #[test]
    fn serdes_own_mistakes_are_left_to_serde() {
        // serde's derive reports the unknown rule; this one emits the enum's plain names.
        let input: DeriveInput =
            syn::parse_str(r#"#[serde(rename_all = "nope")] enum E { InStock }"#).unwrap();
        let cx = Ctxt::new();
        let tokens = expand(&cx, &input).to_string();
        assert!(cx.check().is_ok());
        assert!(tokens.contains("\"InStock\""), "{tokens}");
    }

    #[test]
    fn representations_other_than_the_name_are_refused() {
        let e = errors(r#"#[serde(tag = "type")] enum E { A }"#);
        assert!(e.contains("serde(tag)"), "{e}");
        let e = errors(r#"#[serde(untagged)] enum E { A }"#);
        assert!(e.contains("serde(untagged)"), "{e}");
        let e = errors(r#"#[serde(into = "String")] enum E { A }"#);
        assert!(e.contains("serde(into)"), "{e}");
        let e = errors(r#"enum E { #[serde(skip)] A, B }"#);
        assert!(e.contains("remove `skip`"), "{e}");
        let e = errors(r#"enum E { #[serde(skip_deserializing)] A, B }"#);
        assert!(e.contains("remove `skip_deserializing`"), "{e}");
        let e = errors(r#"enum E { #[serde(with = "m")] A, B }"#);
        assert!(e.contains("serde(with)"), "{e}");
    }

    #[test]
    fn one_stored_name_per_variant() {
        let e = errors(r#"enum E { #[serde(rename = "x")] A, #[serde(rename = "x")] B }"#);
        assert!(
            e.contains("`x` is already the name `A` is stored as"),
            "{e}"
        );
        let e = errors(r#"enum E { #[serde(rename(serialize = "B"))] A, B }"#);
        assert!(
            e.contains("`B` is already the name `A` is stored as"),
            "{e}"
        );
        let e =
            errors(r#"enum E { #[serde(rename(serialize = "b"))] A, #[serde(alias = "b")] B }"#);
        assert!(
            e.contains("`A` is stored as `b`, which serde reads as `B`"),
            "{e}"
        );
    }

    #[test]
    fn from_name_takes_what_serde_reads_after_the_stored_names() {
        let input: DeriveInput = syn::parse_str(
            r#"#[serde(rename_all = "lowercase")]
            enum E { #[serde(alias = "new", rename(serialize = "draft", deserialize = "d"))] Draft, #[serde(other)] Unknown }"#,
        )
        .unwrap();
        let cx = Ctxt::new();
        let tokens = expand(&cx, &input).to_string();
        cx.check().unwrap();
        let from_name = tokens.split("fn from_name").nth(1).unwrap();
        let from_name = from_name.split("impl").next().unwrap().replace(' ', "");
        assert!(
            from_name.contains(
                r#"matchname{"draft"=>::core::option::Option::Some(Self::Draft),"unknown"=>::core::option::Option::Some(Self::Unknown),"d"=>::core::option::Option::Some(Self::Draft),"new"=>::core::option::Option::Some(Self::Draft),_=>::core::option::Option::Some(Self::Unknown),}"#
            ),
            "{from_name}"
        );
    }
}
