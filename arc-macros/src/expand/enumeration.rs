//! `#[derive(Enum)]`: a fieldless enum as a text field, named as serde names it.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::ctxt::Ctxt;

/// serde's `rename_all` rules.
fn rename(name: &str, rule: &str) -> Option<String> {
    let words = split_words(name);
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    Some(match rule {
        "lowercase" => name.to_lowercase(),
        "UPPERCASE" => name.to_uppercase(),
        "PascalCase" => name.to_owned(),
        "camelCase" => {
            let mut s = name.to_owned();
            if let Some(first) = s.get(0..1) {
                let lowered = first.to_lowercase();
                s.replace_range(0..1, &lowered);
            }
            s
        }
        "snake_case" => lower.join("_"),
        "SCREAMING_SNAKE_CASE" => lower.join("_").to_uppercase(),
        "kebab-case" => lower.join("-"),
        "SCREAMING-KEBAB-CASE" => lower.join("-").to_uppercase(),
        _ => return None,
    })
}

fn split_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for ch in name.chars() {
        if ch.is_uppercase() || words.is_empty() {
            words.push(String::new());
        }
        if let Some(w) = words.last_mut() {
            w.push(ch);
        }
    }
    words
}

/// The value of `#[serde(<key> = "..")]` among `attrs`, if any.
fn serde_str(attrs: &[syn::Attribute], key: &str) -> Option<LitStr> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        // serde checks its own attributes; only the ones we need are read here.
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                found = Some(meta.value()?.parse::<LitStr>()?);
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                let _ = meta.parse_nested_meta(|_| Ok(()));
            }
            Ok(())
        });
    }
    found
}

pub(crate) fn expand(cx: &Ctxt, input: &DeriveInput) -> TokenStream {
    let ident = &input.ident;
    let Data::Enum(data) = &input.data else {
        cx.error_spanned_by(ident, "`Enum` derives for fieldless enums only");
        return TokenStream::new();
    };
    let rule = serde_str(&input.attrs, "rename_all");
    if let Some(rule) = &rule
        && rename("X", &rule.value()).is_none()
    {
        cx.error_spanned_by(rule, "unknown `rename_all` rule");
    }
    let mut names = Vec::new();
    let mut variants = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            cx.error_spanned_by(&v.ident, "`Enum` variants carry no data");
            continue;
        }
        let name = match serde_str(&v.attrs, "rename") {
            Some(lit) => lit.value(),
            None => {
                let base = v.ident.to_string();
                rule.as_ref()
                    .and_then(|r| rename(&base, &r.value()))
                    .unwrap_or(base)
            }
        };
        names.push(name);
        variants.push(&v.ident);
    }
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(&input.generics, "`Enum` cannot be generic");
    }
    let ident_name = ident.to_string();
    quote! {
        impl ::arc_runtime::__private::TextEnum for #ident {
            const VARIANTS: &'static [&'static str] = &[#(#names),*];

            fn as_str(&self) -> &'static str {
                match self {
                    #(Self::#variants => #names,)*
                }
            }

            fn from_name(name: &str) -> ::core::option::Option<Self> {
                match name {
                    #(#names => ::core::option::Option::Some(Self::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }

        impl ::arc_runtime::__private::schemars::JsonSchema for #ident {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(#ident_name)
            }

            fn schema_id() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(::core::concat!(::core::module_path!(), "::", #ident_name))
            }

            fn json_schema(
                _: &mut ::arc_runtime::__private::schemars::SchemaGenerator,
            ) -> ::arc_runtime::__private::schemars::Schema {
                ::arc_runtime::__private::schemars::json_schema!({
                    "type": "string",
                    "enum": [#(#names),*],
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn serde_rules() {
        assert_eq!(rename("InStock", "snake_case").unwrap(), "in_stock");
        assert_eq!(rename("InStock", "camelCase").unwrap(), "inStock");
        assert_eq!(rename("InStock", "kebab-case").unwrap(), "in-stock");
        assert_eq!(
            rename("InStock", "SCREAMING_SNAKE_CASE").unwrap(),
            "IN_STOCK"
        );
        assert_eq!(rename("InStock", "lowercase").unwrap(), "instock");
        assert!(rename("InStock", "nope").is_none());
    }
}
