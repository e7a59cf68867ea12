//! Durations as attributes write them: `"30s"`, `"5m"`, `"24h"`, `"7d"`, or a sum of such
//! parts (`"1h30m"`), in whole seconds. The macro reads `idempotency(ttl = "24h")` (and any
//! other attribute that takes a time) with [`parse`], so every attribute speaks one grammar.

use std::fmt;

/// Why a duration text is not one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurationError {
    /// Nothing was written.
    Empty,
    /// A part has no number before its unit, or a number with no unit after it.
    Malformed(String),
    /// A unit other than `s`, `m`, `h` or `d`.
    UnknownUnit(String),
    /// The total does not fit in 64 bits of seconds.
    TooLong,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Empty => f.write_str("the duration is empty"),
            DurationError::Malformed(part) => write!(
                f,
                "`{part}` is not a duration: write a whole number and a unit, e.g. \"30s\", \"5m\", \"24h\", \"7d\""
            ),
            DurationError::UnknownUnit(unit) => write!(
                f,
                "unknown unit `{unit}`: use `s` (seconds), `m` (minutes), `h` (hours) or `d` (days)"
            ),
            DurationError::TooLong => f.write_str("the duration is too long"),
        }
    }
}

impl std::error::Error for DurationError {}

/// The seconds `text` says: parts of a whole number and a unit (`s`, `m`, `h`, `d`), added.
///
/// ```
/// use arc_spec::duration::parse;
/// assert_eq!(parse("24h"), Ok(86_400));
/// assert_eq!(parse("1h30m"), Ok(5_400));
/// assert!(parse("24").is_err());
/// assert!(parse("3 weeks").is_err());
/// ```
pub fn parse(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = rest.split_at(digits);
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, next) = after.split_at(unit_len);
        let part = &rest[..digits + unit_len];
        if number.is_empty() || unit.is_empty() {
            return Err(DurationError::Malformed(if part.is_empty() {
                text.to_owned()
            } else {
                part.to_owned()
            }));
        }
        let scale: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        let n: u64 = number.parse().map_err(|_| DurationError::TooLong)?;
        total = n
            .checked_mul(scale)
            .and_then(|s| total.checked_add(s))
            .ok_or(DurationError::TooLong)?;
        rest = next;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_add_up() {
        assert_eq!(parse("30s"), Ok(30));
        assert_eq!(parse("5m"), Ok(300));
        assert_eq!(parse("7d"), Ok(604_800));
        assert_eq!(parse(" 2h15m10s "), Ok(8_110));
        assert_eq!(parse("0s"), Ok(0));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert_eq!(parse("24"), Err(DurationError::Malformed("24".into())));
        assert_eq!(parse("h"), Err(DurationError::Malformed("h".into())));
        assert_eq!(parse("1w"), Err(DurationError::UnknownUnit("w".into())));
        assert_eq!(
            parse("1h 30m"),
            Err(DurationError::Malformed("1h 30m".into()))
        );
        assert_eq!(parse("99999999999999999999d"), Err(DurationError::TooLong));
    }
}
