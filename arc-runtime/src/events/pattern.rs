//! Event-type patterns: `product.*`, `*.created`, `order.cancelled`, `*`.

use std::fmt;

/// A pattern over event types, segment by segment (segments are separated by `.`): `*`
/// stands for one whole segment, and a pattern that is `*` alone matches every type.
/// `product.*` matches `product.created` but not `product` or `productline.created`.
///
/// ```
/// use arc_runtime::config::EventPattern;
/// let p: EventPattern = "product.*".parse().unwrap();
/// assert!(p.matches("product.created"));
/// assert!(!p.matches("order.created"));
/// assert!("*".parse::<EventPattern>().unwrap().matches("order.shipped"));
/// assert!("product.cre*".parse::<EventPattern>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventPattern(String);

/// A pattern that is not one: empty, with an empty segment, with `*` inside a segment, or
/// with a character outside `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{pattern}` is not an event pattern: {reason}")]
pub struct BadPattern {
    pattern: String,
    reason: &'static str,
}

impl std::str::FromStr for EventPattern {
    type Err = BadPattern;

    fn from_str(pattern: &str) -> Result<Self, BadPattern> {
        let bad = |reason| BadPattern {
            pattern: pattern.to_owned(),
            reason,
        };
        if pattern.is_empty() || pattern.len() > 200 {
            return Err(bad("it must have 1 to 200 characters"));
        }
        for segment in pattern.split('.') {
            if segment.is_empty() {
                return Err(bad("a segment between dots is empty"));
            }
            if segment != "*" && !is_name(segment) {
                return Err(bad(
                    "a segment is `*` or a name of letters, digits, `_` and `-`",
                ));
            }
        }
        Ok(EventPattern(pattern.to_owned()))
    }
}

/// Whether `segment` is a plain name: letters, digits, `_`, `-`.
pub(crate) fn is_name(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl EventPattern {
    /// The pattern that matches every event.
    pub fn all() -> EventPattern {
        EventPattern("*".to_owned())
    }

    /// Whether the event type `kind` matches.
    pub fn matches(&self, kind: &str) -> bool {
        if self.0 == "*" {
            return true;
        }
        let mut want = self.0.split('.');
        let mut have = kind.split('.');
        loop {
            match (want.next(), have.next()) {
                (None, None) => return true,
                (Some("*"), Some(_)) => {}
                (Some(w), Some(h)) if w == h => {}
                _ => return false,
            }
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> EventPattern {
        s.parse().unwrap()
    }

    #[test]
    fn segments_match_whole() {
        assert!(p("product.*").matches("product.created"));
        assert!(p("*.created").matches("order.created"));
        assert!(p("order.created").matches("order.created"));
        assert!(p("*").matches("anything.at.all"));
        assert!(!p("product.*").matches("product"));
        assert!(!p("product.*").matches("product.created.extra"));
        assert!(!p("product.*").matches("productline.created"));
        assert!(!p("*.created").matches("created"));
        assert!(p("*.*").matches("a.b"));
        assert!(!p("*.*").matches("a"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "",
            ".",
            "product.",
            ".created",
            "product.cre*",
            "pro duct.*",
            "a..b",
            "**",
        ] {
            assert!(bad.parse::<EventPattern>().is_err(), "{bad:?}");
        }
    }
}
