//! The guard on `regex` filters: a length cap and a refusal of patterns that can
//! backtrack catastrophically on a backtracking engine (PostgreSQL's).
//!
//! A pattern is refused when it does not parse as a regular expression, or when a repetition
//! contains another unbounded repetition (`(a+)+`, `(a*)*`, `(.*a)*`), or an alternation under
//! a repetition whose branches can match the same text (`(a|a)*`, `(a|ab)+`). Backreferences
//! and look-around do not parse, so they are refused too.

use regex_syntax::hir::{Hir, HirKind};

/// The longest pattern accepted, in bytes.
pub const MAX_REGEX_LEN: usize = 500;

/// Checks a `regex` operand; the error is a message for the client.
pub fn check(pattern: &str) -> Result<(), String> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(format!("regex is longer than {MAX_REGEX_LEN} characters"));
    }
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(20)
        .build()
        .parse(pattern)
        .map_err(|e| format!("invalid regex: {}", first_line(&e.to_string())))?;
    if dangerous(&hir, false) {
        return Err(
            "regex has nested or ambiguous repetition and could backtrack catastrophically".into(),
        );
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

/// Whether `hir` has a repetition inside an unbounded repetition (`in_repeat`), or an
/// alternation of overlapping branches under one.
fn dangerous(hir: &Hir, in_repeat: bool) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => false,
        HirKind::Repetition(rep) => {
            let unbounded = rep.max.is_none() || rep.max.is_some_and(|m| m > 10);
            if in_repeat && can_repeat(hir) {
                return true;
            }
            dangerous(&rep.sub, in_repeat || unbounded)
        }
        HirKind::Capture(cap) => dangerous(&cap.sub, in_repeat),
        HirKind::Concat(items) => items.iter().any(|h| dangerous(h, in_repeat)),
        HirKind::Alternation(branches) => {
            if in_repeat && overlapping(branches) {
                return true;
            }
            branches.iter().any(|h| dangerous(h, in_repeat))
        }
    }
}

/// Whether a pattern matches text of more than one length (so nesting it under a
/// repetition gives the engine choices).
fn can_repeat(hir: &Hir) -> bool {
    let props = hir.properties();
    props.minimum_len() != props.maximum_len() || props.maximum_len().is_none()
}

/// Whether two branches of an alternation can start with the same character: a cheap,
/// conservative test for ambiguity.
fn overlapping(branches: &[Hir]) -> bool {
    let firsts: Vec<Option<Vec<u8>>> = branches.iter().map(first_bytes).collect();
    for (i, a) in firsts.iter().enumerate() {
        for b in &firsts[i + 1..] {
            match (a, b) {
                (Some(a), Some(b)) if a.iter().all(|x| !b.contains(x)) => {}
                _ => return true,
            }
        }
    }
    false
}

/// The bytes a branch can start with, when it starts with a literal; `None` when unknown.
fn first_bytes(hir: &Hir) -> Option<Vec<u8>> {
    match hir.kind() {
        HirKind::Literal(lit) => lit.0.first().map(|b| vec![*b]),
        HirKind::Capture(cap) => first_bytes(&cap.sub),
        HirKind::Concat(items) => items.first().and_then(first_bytes),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn plain_patterns_pass() {
        for p in [
            "^abc",
            "a+b*",
            "[a-z]+@[a-z]+\\.com$",
            "(foo|bar)baz",
            "x{2,3}",
            "(ab)+",
            "(a|b)*",
        ] {
            assert_eq!(check(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn catastrophic_patterns_are_refused() {
        for p in [
            "(a+)+$",
            "(a*)*b",
            "(.*a)*",
            "(ab|a)*b",
            "(a|ab)+c",
            "((a+)b?)*",
            "(\\w+\\s?)*$",
        ] {
            assert!(check(p).is_err(), "{p}");
        }
    }

    #[test]
    fn invalid_and_long_patterns_are_refused() {
        assert!(check("(unclosed").unwrap_err().starts_with("invalid regex"));
        assert!(check("(a)\\1").is_err());
        assert!(check("(?=a)").is_err());
        assert!(check(&"a".repeat(501)).unwrap_err().contains("longer than"));
    }
}
