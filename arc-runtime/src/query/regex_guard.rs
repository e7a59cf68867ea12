//! The guard on `regex` filters: a pattern reaches the database only when it is in the portable
//! grammar below, small enough to compile cheaply, and free of catastrophic backtracking.
//!
//! The operand runs as SQLite's `REGEXP` (Rust's `regex` crate, registered by sqlx) or as
//! PostgreSQL's `~` (Spencer's ARE). The grammar is the subset that both compile, with the
//! same meaning as far as the engines allow:
//!
//! - literals (a metacharacter escaped with `\`; `\n \r \t`), `.`;
//! - bracket classes `[..]` and `[^..]` of literals, ranges and `\d \w \s`;
//! - `\d \w \s \D \W \S` (Unicode classes on SQLite, the locale's on PostgreSQL);
//! - the anchors `^` and `$`; groups `( )` and `(?: )`; alternation `|`;
//! - `* + ?` and counted repetition `{m}`, `{m,}`, `{m,n}` with counts up to 255
//!   (PostgreSQL's limit), each optionally lazy (`*?`);
//! - a leading `(?i)` (case-insensitive; PostgreSQL takes flags only there).
//!
//! Refused with a message naming the construct: `\p{..}` classes, named groups, other flags,
//! `\b`-style assertions, hex and octal escapes, nested classes and class set operations,
//! look-around and backreferences, and NUL characters (PostgreSQL text cannot hold them).
//!
//! Costs are bounded twice: the number of atoms after unrolling repetitions (nested counts
//! multiply) is at most [`MAX_EXPANSION`], which keeps PostgreSQL's compile cheap, and the
//! estimated compiled size on SQLite (UTF-8 automaton bytes of every class, unrolled) is at
//! most [`MAX_WEIGHT`], far under the `regex` crate's size limit. A cheap pass over the
//! syntax tree refuses most oversized patterns before the more costly translation runs.

use regex_syntax::ast::{
    self, Ast, ClassPerlKind, ClassSet, ClassSetItem, GroupKind, LiteralKind, RepetitionKind,
    RepetitionRange, SpecialLiteralKind,
};
use regex_syntax::hir::{Class, Hir, HirKind};

/// The longest pattern accepted, in bytes.
pub(crate) const MAX_REGEX_LEN: usize = 500;
/// The largest count of a counted repetition (PostgreSQL's `DUPMAX`).
pub(crate) const MAX_REPEAT: u32 = 255;
/// The most atoms a pattern may have once its repetitions are unrolled.
pub(crate) const MAX_EXPANSION: u64 = 1_000;
/// The largest estimated compiled size of a pattern (about 5 bytes of automaton each).
pub(crate) const MAX_WEIGHT: u64 = 50_000;

/// What the grammar accepts, for error messages.
pub(crate) const GRAMMAR: &str = "literals, `.`, `[..]` classes with ranges, `\\d \\w \\s \\D \\W \\S`, \
     `^ $`, `( )`, `(?: )`, `|`, `* + ?`, `{m,n}` up to 255 and a leading `(?i)`";

/// Why a pattern was refused; each message is for the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RegexError {
    /// Over [`MAX_REGEX_LEN`].
    #[error("regex is longer than {MAX_REGEX_LEN} characters")]
    TooLong,
    /// Not a regular expression at all.
    #[error("invalid regex: {0}")]
    Invalid(String),
    /// A construct outside the portable grammar.
    #[error("{0} not supported in regex filters (supported: {GRAMMAR})")]
    Unsupported(&'static str),
    /// Too large once unrolled or compiled.
    #[error("regex is too large: repetitions unroll to more than the server accepts")]
    TooLarge,
    /// Nested or ambiguous repetition.
    #[error("regex has nested or ambiguous repetition and could backtrack catastrophically")]
    Backtracking,
}

/// Checks a `regex` operand.
pub(crate) fn check(pattern: &str) -> Result<(), RegexError> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(RegexError::TooLong);
    }
    if pattern.contains('\0') {
        return Err(RegexError::Unsupported("NUL characters are"));
    }
    // PostgreSQL takes flags only at the very start, where they hold for the whole pattern.
    let (case_insensitive, body) = match pattern.strip_prefix("(?i)") {
        Some(body) => (true, body),
        None => (false, pattern),
    };
    let ast = ast::parse::ParserBuilder::new()
        .nest_limit(20)
        .build()
        .parse(body)
        .map_err(|e| match e.kind() {
            ast::ErrorKind::UnsupportedLookAround => RegexError::Unsupported("look-around is"),
            ast::ErrorKind::UnsupportedBackreference => {
                RegexError::Unsupported("backreferences are")
            }
            _ => RegexError::Invalid(first_line(&e.to_string()).to_owned()),
        })?;
    syntax(body, &ast)?;
    let hir = regex_syntax::hir::translate::TranslatorBuilder::new()
        .case_insensitive(case_insensitive)
        .build()
        .translate(body, &ast)
        .map_err(|e| RegexError::Invalid(first_line(&e.to_string()).to_owned()))?;
    if weight(&hir) > MAX_WEIGHT {
        return Err(RegexError::TooLarge);
    }
    if dangerous(&hir, false) {
        return Err(RegexError::Backtracking);
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s).trim()
}

/// What a subpattern costs once unrolled: its atoms, and a lower bound of its compiled
/// weight (classes at their smallest; the exact weight comes from the translation).
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    atoms: u64,
    weight: u64,
}

impl Cost {
    const fn atom(weight: u64) -> Cost {
        Cost { atoms: 1, weight }
    }

    fn plus(self, other: Cost) -> Result<Cost, RegexError> {
        Cost {
            atoms: self.atoms.saturating_add(other.atoms),
            weight: self.weight.saturating_add(other.weight),
        }
        .bounded()
    }

    fn times(self, copies: u64) -> Result<Cost, RegexError> {
        Cost {
            atoms: self.atoms.saturating_mul(copies),
            weight: self.weight.saturating_mul(copies),
        }
        .bounded()
    }

    fn bounded(self) -> Result<Cost, RegexError> {
        if self.atoms > MAX_EXPANSION || self.weight > MAX_WEIGHT {
            Err(RegexError::TooLarge)
        } else {
            Ok(self)
        }
    }
}

/// Checks `ast` against the grammar and returns its cost.
fn syntax(pattern: &str, ast: &Ast) -> Result<Cost, RegexError> {
    match ast {
        Ast::Empty(_) => Ok(Cost::default()),
        Ast::Flags(_) => Err(RegexError::Unsupported(
            "flags other than a leading `(?i)` are",
        )),
        Ast::Literal(lit) => literal(lit).map(|()| Cost::atom(1)),
        // `.`: the smallest weight of any class of non-ASCII scope.
        Ast::Dot(_) => Ok(Cost::atom(20)),
        Ast::Assertion(a) => match a.kind {
            ast::AssertionKind::StartLine | ast::AssertionKind::EndLine => Ok(Cost::atom(1)),
            _ => Err(RegexError::Unsupported(
                "assertions other than `^` and `$` (`\\b`, `\\A`, `\\z`, ..) are",
            )),
        },
        Ast::ClassUnicode(_) => Err(RegexError::Unsupported("Unicode classes (`\\p{..}`) are")),
        Ast::ClassPerl(perl) => Ok(Cost::atom(perl_weight(&perl.kind))),
        Ast::ClassBracketed(class) => bracketed(class).map(Cost::atom),
        Ast::Repetition(rep) => repetition(pattern, rep),
        Ast::Group(group) => match &group.kind {
            GroupKind::CaptureIndex(_) => syntax(pattern, &group.ast),
            GroupKind::CaptureName { .. } => Err(RegexError::Unsupported("named groups are")),
            GroupKind::NonCapturing(flags) if flags.items.is_empty() => syntax(pattern, &group.ast),
            GroupKind::NonCapturing(_) => Err(RegexError::Unsupported(
                "flags other than a leading `(?i)` are",
            )),
        },
        Ast::Alternation(alt) => alt
            .asts
            .iter()
            .try_fold(Cost::default(), |c, a| c.plus(syntax(pattern, a)?)),
        Ast::Concat(concat) => concat
            .asts
            .iter()
            .try_fold(Cost::default(), |c, a| c.plus(syntax(pattern, a)?)),
    }
}

/// A lower bound of a Perl class's weight (`\w` is thousands, `\d` hundreds).
fn perl_weight(kind: &ClassPerlKind) -> u64 {
    match kind {
        ClassPerlKind::Word => 3_000,
        ClassPerlKind::Digit => 200,
        ClassPerlKind::Space => 20,
    }
}

fn literal(lit: &ast::Literal) -> Result<(), RegexError> {
    match lit.kind {
        LiteralKind::Verbatim | LiteralKind::Meta | LiteralKind::Superfluous => Ok(()),
        LiteralKind::Special(
            SpecialLiteralKind::LineFeed
            | SpecialLiteralKind::CarriageReturn
            | SpecialLiteralKind::Tab,
        ) => Ok(()),
        LiteralKind::Special(_) => Err(RegexError::Unsupported(
            "escapes other than `\\n`, `\\r` and `\\t` are",
        )),
        LiteralKind::Octal | LiteralKind::HexFixed(_) | LiteralKind::HexBrace(_) => {
            Err(RegexError::Unsupported("hex and octal escapes are"))
        }
    }
}

/// Checks a bracket class; its weight is at least its number of items.
fn bracketed(class: &ast::ClassBracketed) -> Result<u64, RegexError> {
    match &class.kind {
        ClassSet::Item(item) => class_item(item),
        ClassSet::BinaryOp(_) => Err(RegexError::Unsupported(
            "class set operations (`&&`, `--`, `~~`) are",
        )),
    }
}

fn class_item(item: &ClassSetItem) -> Result<u64, RegexError> {
    match item {
        ClassSetItem::Empty(_) => Ok(0),
        ClassSetItem::Literal(lit) => literal(lit).map(|()| 1),
        ClassSetItem::Range(range) => {
            literal(&range.start)?;
            literal(&range.end)?;
            Ok(1)
        }
        ClassSetItem::Perl(perl) if !perl.negated => Ok(perl_weight(&perl.kind)),
        ClassSetItem::Perl(_) => Err(RegexError::Unsupported(
            "`\\D`, `\\S` and `\\W` inside `[..]` are",
        )),
        ClassSetItem::Ascii(_) => Err(RegexError::Unsupported("POSIX classes (`[:alpha:]`) are")),
        ClassSetItem::Unicode(_) => Err(RegexError::Unsupported("Unicode classes (`\\p{..}`) are")),
        ClassSetItem::Bracketed(_) => Err(RegexError::Unsupported("nested classes are")),
        ClassSetItem::Union(union) => union
            .items
            .iter()
            .try_fold(0u64, |w, i| Ok(w.saturating_add(class_item(i)?))),
    }
}

fn repetition(pattern: &str, rep: &ast::Repetition) -> Result<Cost, RegexError> {
    let copies = match &rep.op.kind {
        RepetitionKind::ZeroOrOne | RepetitionKind::ZeroOrMore => 1,
        RepetitionKind::OneOrMore => 2,
        RepetitionKind::Range(range) => {
            // PostgreSQL reads `{,n}` and `{ m }` as literal text; only the plain forms pass.
            let text = pattern
                .get(rep.op.span.start.offset..rep.op.span.end.offset)
                .unwrap_or("");
            let text = text.strip_suffix('?').unwrap_or(text);
            let plain = text
                .strip_prefix('{')
                .and_then(|t| t.strip_suffix('}'))
                .is_some_and(|t| {
                    t.starts_with(|c: char| c.is_ascii_digit())
                        && t.chars().all(|c| c.is_ascii_digit() || c == ',')
                });
            if !plain {
                return Err(RegexError::Unsupported(
                    "repetitions other than `{m}`, `{m,}` and `{m,n}` are",
                ));
            }
            let (RepetitionRange::Exactly(max)
            | RepetitionRange::AtLeast(max)
            | RepetitionRange::Bounded(_, max)) = *range;
            if max > MAX_REPEAT {
                return Err(RegexError::Unsupported("repetition counts above 255 are"));
            }
            match range {
                RepetitionRange::AtLeast(m) => u64::from(*m) + 1,
                _ => u64::from(max),
            }
        }
    };
    match &*rep.ast {
        Ast::Repetition(_) | Ast::Assertion(_) | Ast::Empty(_) | Ast::Flags(_) => {
            return Err(RegexError::Unsupported(
                "a repetition of a repetition, an anchor or nothing is",
            ));
        }
        _ => {}
    }
    syntax(pattern, &rep.ast)?.times(copies.max(1))
}

/// The estimated compiled size of `hir`: UTF-8 automaton bytes of each class and literal,
/// unrolled through repetitions.
fn weight(hir: &Hir) -> u64 {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => 1,
        HirKind::Literal(lit) => lit.0.len() as u64,
        HirKind::Class(Class::Unicode(class)) => class
            .iter()
            .map(|r| {
                regex_syntax::utf8::Utf8Sequences::new(r.start(), r.end())
                    .map(|s| s.len() as u64)
                    .sum::<u64>()
            })
            .sum::<u64>()
            .max(1),
        HirKind::Class(Class::Bytes(class)) => (class.ranges().len() as u64).max(1),
        HirKind::Repetition(rep) => {
            let copies = match rep.max {
                Some(max) => u64::from(max.max(1)),
                None => u64::from(rep.min) + 1,
            };
            weight(&rep.sub).saturating_mul(copies).saturating_add(1)
        }
        HirKind::Capture(cap) => weight(&cap.sub).saturating_add(2),
        HirKind::Concat(items) => items.iter().map(weight).fold(0, u64::saturating_add),
        HirKind::Alternation(items) => items
            .iter()
            .map(weight)
            .fold(items.len() as u64, u64::saturating_add),
    }
}

/// Whether `hir` has a variable-length repetition inside a repetition that may run more than
/// once (`in_repeat`), or an alternation of overlapping branches under one.
fn dangerous(hir: &Hir, in_repeat: bool) -> bool {
    match hir.kind() {
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => false,
        HirKind::Repetition(rep) => {
            // Any repetition that may run more than once is a context: PostgreSQL's engine
            // expands counted repetitions, so even small counts around a variable-length
            // part (`((.?.?){10}){10}`) take it seconds to minutes.
            let repeats = rep.max != Some(1);
            if in_repeat && can_repeat(hir) {
                return true;
            }
            dangerous(&rep.sub, in_repeat || repeats)
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

/// Whether a pattern matches text of more than one length, in characters (so nesting it
/// under a repetition gives the engine choices). Characters, not bytes: `\d` is one
/// character of one to four UTF-8 bytes, and `(\d{10}){10}` has no choice to make.
fn can_repeat(hir: &Hir) -> bool {
    let (min, max) = char_lengths(hir);
    max != Some(min)
}

/// The fewest and most characters `hir` matches (`None`: no bound).
fn char_lengths(hir: &Hir) -> (u64, Option<u64>) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => (0, Some(0)),
        HirKind::Literal(lit) => {
            let n = String::from_utf8_lossy(&lit.0).chars().count() as u64;
            (n, Some(n))
        }
        HirKind::Class(_) => (1, Some(1)),
        HirKind::Capture(cap) => char_lengths(&cap.sub),
        HirKind::Repetition(rep) => {
            let (min, max) = char_lengths(&rep.sub);
            let most = match (rep.max, max) {
                (Some(times), Some(max)) => Some(max.saturating_mul(u64::from(times))),
                (_, Some(0)) => Some(0),
                _ => None,
            };
            (min.saturating_mul(u64::from(rep.min)), most)
        }
        HirKind::Concat(items) => {
            items
                .iter()
                .map(char_lengths)
                .fold((0, Some(0)), |(min, max), (a, b)| {
                    (
                        min.saturating_add(a),
                        max.zip(b).map(|(x, y)| x.saturating_add(y)),
                    )
                })
        }
        HirKind::Alternation(items) => {
            let lengths: Vec<_> = items.iter().map(char_lengths).collect();
            let min = lengths.iter().map(|l| l.0).min().unwrap_or(0);
            let max = lengths
                .iter()
                .map(|l| l.1)
                .try_fold(0u64, |most, l| l.map(|l| most.max(l)));
            (min, max)
        }
    }
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
    use super::{RegexError, check};

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
            "(?i)^acme product [0-9]$",
            "(?i)a|b",
            "(?:ab|cd)\\d{3}",
            "[\\w.-]+",
            "\\W\\S\\D",
            "a{255}",
            "a*?b+?c??",
            "",
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
            assert_eq!(check(p), Err(RegexError::Backtracking), "{p}");
        }
    }

    #[test]
    fn constructs_outside_the_portable_grammar_are_refused() {
        for (p, says) in [
            ("\\pL", "Unicode classes"),
            ("\\p{Greek}", "Unicode classes"),
            ("[\\pL]", "Unicode classes"),
            ("(?P<n>a)", "named groups"),
            ("(?<n>a)", "named groups"),
            ("a(?i)b", "flags"),
            ("(?s).", "flags"),
            ("(?i:a)", "flags"),
            ("(?-i)a", "flags"),
            ("(?i)(?i)a", "flags"),
            ("(?im)a", "flags"),
            ("\\bword", "assertions"),
            ("\\Aabc\\z", "assertions"),
            ("\\x41", "hex"),
            ("\\u{41}", "hex"),
            ("[[a-z]]", "nested"),
            ("[a-z&&[^m]]", "set operations"),
            ("[[:alpha:]]", "POSIX"),
            ("[\\W]", "inside"),
            ("a{0,300}", "above 255"),
            ("a{256}", "above 255"),
            ("a{,3}", "invalid regex"),
            ("a{ 2 }", "repetitions other"),
            ("(?=a)", "look-around"),
            ("(a)\\1", "backreferences"),
            ("a\0", "NUL"),
        ] {
            let e = check(p).expect_err(p).to_string();
            assert!(e.contains(says), "{p}: {e}");
            if matches!(check(p), Err(RegexError::Unsupported(_))) {
                assert!(e.contains("not supported"), "{p}: {e}");
            }
        }
    }

    #[test]
    fn size_is_bounded() {
        for p in [
            "\\w{0,10000}",
            "\\w{255}",
            "(a{255}){255}",
            "((a{10}){10}){11}",
            "(?i)\\w{30}",
            &"\\w".repeat(20),
        ] {
            assert!(
                matches!(
                    check(p),
                    Err(RegexError::TooLarge | RegexError::Unsupported(_))
                ),
                "{p}: {:?}",
                check(p)
            );
        }
        assert_eq!(check("(a{10}){100}"), Ok(()), "1000 atoms");
        assert_eq!(check("\\w{1,14}"), Ok(()));
    }

    #[test]
    fn invalid_and_long_patterns_are_refused() {
        assert!(
            check("(unclosed")
                .unwrap_err()
                .to_string()
                .starts_with("invalid regex")
        );
        assert_eq!(check(&"a".repeat(501)), Err(RegexError::TooLong));
    }
}
