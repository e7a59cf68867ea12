//! Durations as attributes write them: `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"7d"`, read once
//! here for the macro (which checks them at compile time) and the runtime.

use std::time::Duration;

/// The units a duration may use, with their length in milliseconds.
const UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// A duration written as a whole number and a unit (`ms`, `s`, `m`, `h`, `d`).
///
/// ```
/// use std::time::Duration;
/// assert_eq!(arc_spec::parse_duration("30s"), Ok(Duration::from_secs(30)));
/// assert_eq!(arc_spec::parse_duration("5m"), Ok(Duration::from_secs(300)));
/// assert!(arc_spec::parse_duration("5 minutes").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let expected = || {
        format!(
            "expected a duration such as \"30s\" or \"5m\" (a whole number and one of {}), found {text:?}",
            UNITS.map(|(u, _)| u).join(", ")
        )
    };
    let Some(&(_, per)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(expected());
    };
    let number: u64 = number.parse().map_err(|_| expected())?;
    number
        .checked_mul(per)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("the duration {text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_unit() {
        for (text, ms) in [
            ("0s", 0),
            ("500ms", 500),
            ("30s", 30_000),
            ("5m", 300_000),
            ("2h", 7_200_000),
            ("7d", 604_800_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(ms)),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for text in [
            "",
            "s",
            "30",
            "30 s",
            "-5s",
            "1.5s",
            "5min",
            "30S",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert!(
            parse_duration("18446744073709551615d")
                .unwrap_err()
                .contains("too long")
        );
    }
}
