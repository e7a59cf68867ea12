//! `actions(cancel(reason: String), approve)`: the actions a resource declares, each with
//! its typed fields, parsed from the attribute's tokens; and the checks of their names.
//! Each action's rule is a key of `#[permissions]` (see `permissions`).

use darling::FromMeta;
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Token, parenthesized};

use arc_spec::{DEFAULT_KEY, Operation};

use crate::ctxt::Ctxt;

/// One action: its name, and the fields its body carries besides `action`.
#[derive(Debug, Clone)]
pub(crate) struct ActionDecl {
    pub ident: Ident,
    pub params: Vec<Param>,
}

impl ActionDecl {
    /// Its name on the wire (`"action": "cancel"`) and in `#[permissions]`.
    pub(crate) fn name(&self) -> String {
        self.ident.to_string().trim_start_matches("r#").to_owned()
    }
}

/// `/// Why. reason: String`
#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// Its `///` comments: the field's description in the document.
    pub docs: Vec<syn::Attribute>,
    pub ident: Ident,
    pub ty: syn::Type,
}

impl Param {
    /// Its name in the body: the identifier, without `r#`.
    fn name(&self) -> String {
        self.ident.to_string().trim_start_matches("r#").to_owned()
    }
}

impl Parse for Param {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let docs = input.call(syn::Attribute::parse_outer)?;
        let ident = input.call(syn::ext::IdentExt::parse_any)?;
        input.parse::<Token![:]>()?;
        Ok(Param {
            docs,
            ident,
            ty: input.parse()?,
        })
    }
}

impl Parse for ActionDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let ident: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        let mut params = Vec::new();
        if input.peek(syn::token::Paren) {
            let content;
            parenthesized!(content in input);
            params = Punctuated::<Param, Token![,]>::parse_terminated(&content)?
                .into_iter()
                .collect();
        }
        Ok(ActionDecl { ident, params })
    }
}

/// `actions(..)` as written, with the span of the word (for errors about the whole list).
#[derive(Debug, Clone)]
pub(crate) struct ActionsArgs {
    pub span: Span,
    pub decls: Vec<ActionDecl>,
}

impl FromMeta for ActionsArgs {
    fn from_meta(item: &syn::Meta) -> darling::Result<Self> {
        let syn::Meta::List(list) = item else {
            return Err(darling::Error::custom(
                "name the actions inside: actions(cancel(reason: String), approve)",
            )
            .with_span(item));
        };
        let parser = Punctuated::<ActionDecl, Token![,]>::parse_terminated;
        let decls = syn::parse::Parser::parse2(parser, list.tokens.clone())
            .map_err(darling::Error::from)?;
        Ok(ActionsArgs {
            span: list
                .path
                .segments
                .first()
                .map_or_else(Span::call_site, |s| s.ident.span()),
            decls: decls.into_iter().collect(),
        })
    }
}

/// The actions `given` declares, checked: at least one, each name once and none an
/// operation's (their rules share `#[permissions]`), each field once and none named
/// `action` (the body's tag).
pub(super) fn declared(cx: &Ctxt, given: Option<&ActionsArgs>) -> Vec<ActionDecl> {
    let Some(given) = given else {
        return Vec::new();
    };
    if given.decls.is_empty() {
        cx.error_at(
            given.span,
            "`actions(..)` names at least one action: actions(cancel(reason: String))",
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for decl in &given.decls {
        let name = decl.name();
        if !is_snake_case(&name) {
            cx.error_spanned_by(
                &decl.ident,
                format!(
                    "an action's name is snake_case (`a-z`, digits, single `_` between words): \
                     `{name}` is not"
                ),
            );
        }
        if seen.contains(&name) {
            cx.error_spanned_by(&decl.ident, format!("action `{name}` is declared twice"));
        }
        if Operation::from_name(&name).is_some() || name == DEFAULT_KEY {
            cx.error_spanned_by(
                &decl.ident,
                format!(
                    "`{name}` is a key of `#[permissions]` already; an action needs a name of its own"
                ),
            );
        }
        seen.push(name);
        let mut fields: Vec<String> = Vec::new();
        for param in &decl.params {
            if let Some(other) = param.docs.iter().find(|a| !a.path().is_ident("doc")) {
                cx.error_spanned_by(other, "an action's field takes `///` comments only");
            }
            let field = param.name();
            if field == "action" {
                cx.error_spanned_by(
                    &param.ident,
                    "`action` is the body's tag (the action's name): name the field otherwise",
                );
            } else if fields.contains(&field) {
                cx.error_spanned_by(&param.ident, format!("`{field}` is given twice"));
            }
            fields.push(field);
        }
    }
    given.decls.clone()
}

/// `cancel`, `mark_paid`, `step2`: lowercase words joined by single underscores, so each
/// name has its own variant (`MarkPaid`) and reads the same in the body and the rules.
fn is_snake_case(name: &str) -> bool {
    name.split('_').all(|word| {
        !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    }) && name.starts_with(|c: char| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn action_names_are_snake_case() {
        for good in ["cancel", "mark_paid", "step2", "a_b_c"] {
            assert!(super::is_snake_case(good), "{good}");
        }
        for bad in ["_", "_x", "x_", "a__b", "markPaid", "Cancel", "2fa", ""] {
            assert!(!super::is_snake_case(bad), "{bad}");
        }
    }
}
