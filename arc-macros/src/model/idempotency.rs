//! `idempotency` and `idempotency(ttl = "24h")`: what they say, and the check of the TTL.
//! The TTL is a [`DurationLit`], the one grammar of times in attributes.

use darling::FromMeta;
use darling::util::{Override, SpannedValue};

use super::attrs::DurationLit;
use crate::ctxt::Ctxt;

/// The shortest TTL: a second.
const MIN_TTL: u64 = 1;
/// The longest TTL: 30 days (a retry window, not a record).
const MAX_TTL: u64 = 30 * 86_400;

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
