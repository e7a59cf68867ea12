//! `#[field(states(pending -> paid -> shipped, pending -> cancelled))]`: the transitions a
//! field's value may make, parsed from the attribute's tokens, and their checks.

use darling::FromMeta;
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

use crate::ctxt::Ctxt;

/// `states(..)` as written: chains of states, each step a transition; and the span of the
/// word `states` (for errors about the whole attribute).
#[derive(Debug, Clone)]
pub(crate) struct StatesArgs {
    pub span: proc_macro2::Span,
    chains: Vec<Vec<Ident>>,
}

impl FromMeta for StatesArgs {
    fn from_meta(item: &syn::Meta) -> darling::Result<Self> {
        let syn::Meta::List(list) = item else {
            return Err(darling::Error::custom(
                "write the transitions inside: states(pending -> paid, pending -> cancelled)",
            )
            .with_span(item));
        };
        let chain = |input: syn::parse::ParseStream| {
            Punctuated::<Ident, Token![->]>::parse_separated_nonempty_with(
                input,
                syn::ext::IdentExt::parse_any,
            )
            .map(|states| states.into_iter().collect::<Vec<_>>())
        };
        let parser = |input: syn::parse::ParseStream| {
            let mut chains = Vec::new();
            while !input.is_empty() {
                chains.push(chain(input)?);
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(chains)
        };
        let chains = syn::parse::Parser::parse2(parser, list.tokens.clone())
            .map_err(darling::Error::from)?;
        let span = list
            .path
            .segments
            .first()
            .map_or_else(proc_macro2::Span::call_site, |s| s.ident.span());
        Ok(StatesArgs { span, chains })
    }
}

/// A state's name as stored: the identifier, without `r#`.
pub(crate) fn name(state: &Ident) -> String {
    state.to_string().trim_start_matches("r#").to_owned()
}

/// The checked transitions, `(from, to)` as the states are stored, with the ident of each
/// state where it is first named (for the expansion's checks against the field's type).
#[derive(Debug, Default)]
pub(crate) struct States {
    pub transitions: Vec<(String, String)>,
    pub named: Vec<Ident>,
}

/// The transitions `args` declares, checked: each chain has a step, no state moves to
/// itself, no transition is listed twice, and every state but the first named (where rows
/// start) is reached by some transition.
pub(super) fn declared(cx: &Ctxt, args: &StatesArgs) -> States {
    let mut states = States::default();
    if args.chains.is_empty() {
        cx.error_at(
            args.span,
            "`states(..)` declares at least one transition: states(pending -> paid)",
        );
    }
    for chain in &args.chains {
        for state in chain {
            if !states.named.iter().any(|n| name(n) == name(state)) {
                states.named.push(state.clone());
            }
        }
        if let [only] = chain.as_slice() {
            cx.error_spanned_by(
                only,
                format!(
                    "`{}` alone is no transition: write `{0} -> next`",
                    name(only)
                ),
            );
        }
        for step in chain.windows(2) {
            let (from, to) = (name(&step[0]), name(&step[1]));
            if from == to {
                cx.error_spanned_by(&step[1], format!("`{from}` cannot move to itself"));
            } else if states.transitions.contains(&(from.clone(), to.clone())) {
                cx.error_spanned_by(&step[1], format!("`{from} -> {to}` is declared twice"));
            } else {
                states.transitions.push((from, to));
            }
        }
    }
    let first = states.named.first().map(name).unwrap_or_default();
    for ident in states.named.iter().skip(1) {
        let state = name(ident);
        if !states.transitions.iter().any(|(_, to)| *to == state) {
            cx.error_spanned_by(
                ident,
                format!(
                    "no transition reaches `{state}`: every state but the first named \
                     (`{first}`, where a row starts unless its writer gives it another) needs a \
                     transition to it"
                ),
            );
        }
    }
    states
}
