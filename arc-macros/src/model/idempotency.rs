//! `idempotency` and `idempotency(ttl = "24h")`: what they say, and the check of the TTL.
//! Durations are read with `arc_spec::duration`, the one grammar of times in attributes;
//! [`DurationLit`] is that grammar as a darling value, for any option that takes a time.

use arc_spec::duration::{self, DurationError};
use darling::FromMeta;
use darling::util::{Override, SpannedValue};
use proc_macro2::Span;

use crate::ctxt::Ctxt;

/// The shortest TTL: a second.
const MIN_TTL: u64 = 1;
/// The longest TTL: 30 days (a retry window, not a record).
const MAX_TTL: u64 = 30 * 86_400;

/// A duration written as a string literal (`"24h"`), in seconds, with its span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DurationLit {
    pub secs: u64,
    pub span: Span,
}

impl FromMeta for DurationLit {
    fn from_expr(expr: &syn::Expr) -> darling::Result<Self> {
        let error = |message: String| darling::Error::custom(message).with_span(expr);
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = expr
        else {
            return Err(error(
                "expected a duration as a string, e.g. \"30s\", \"5m\", \"24h\" or \"7d\"".into(),
            ));
        };
        match duration::parse(&text.value()) {
            Ok(secs) => Ok(DurationLit {
                secs,
                span: text.span(),
            }),
            Err(DurationError::Empty) => {
                Err(error("the duration is empty: write e.g. \"24h\"".into()))
            }
            Err(e) => Err(error(e.to_string())),
        }
    }
}

/// `idempotency(..)`'s options.
#[derive(Debug, Default, Clone, FromMeta)]
pub(crate) struct IdempotencyArgs {
    /// How long a key's first answer is replayed (default: the runtime's, a day).
    pub ttl: Option<DurationLit>,
}

/// What `idempotency` declares: `None` when absent; `Some(None)` for the runtime's default
/// TTL; `Some(Some(secs))` for a TTL of its own, checked to lie between a second and 30 days.
pub(crate) fn declared(
    cx: &Ctxt,
    given: Option<&SpannedValue<Override<IdempotencyArgs>>>,
) -> Option<Option<u64>> {
    let given = given?;
    let ttl = match given.as_ref() {
        Override::Inherit => None,
        Override::Explicit(args) => args.ttl,
    };
    let Some(ttl) = ttl else {
        return Some(None);
    };
    if !(MIN_TTL..=MAX_TTL).contains(&ttl.secs) {
        cx.error_at(
            ttl.span,
            "`idempotency(ttl)` must be between \"1s\" and \"30d\": answers are kept for retries, not for good",
        );
    }
    Some(Some(ttl.secs))
}
