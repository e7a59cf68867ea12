//! The error context every phase of the macro pushes into: errors are collected, never
//! returned on the first one, and must be checked before code is emitted.

use std::cell::RefCell;
use std::fmt::Display;

use quote::ToTokens;

/// Collects spanned errors. Dropping it unchecked is a bug in the macro and panics.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: RefCell<Option<Vec<proc_macro2::TokenStream>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// An error at the span of `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// An error at `span`.
    pub(crate) fn error_at<M: Display>(&self, span: proc_macro2::Span, message: M) {
        self.syn_error(syn::Error::new(span, message));
    }

    /// A ready syn error.
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.push(error.to_compile_error());
    }

    /// A ready darling error (possibly many).
    pub(crate) fn darling_error(&self, error: darling::Error) {
        self.push(error.write_errors());
    }

    fn push(&self, tokens: proc_macro2::TokenStream) {
        if let Some(errors) = self.errors.borrow_mut().as_mut() {
            errors.push(tokens);
        }
    }

    /// Consumes the context: `Ok` when no error was pushed, else every error as
    /// `compile_error!` invocations.
    pub(crate) fn check(self) -> Result<(), proc_macro2::TokenStream> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into_iter().collect())
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !std::thread::panicking() && self.errors.borrow().is_some() {
            panic!("forgot to check for errors");
        }
    }
}
