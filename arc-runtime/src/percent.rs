//! Percent-encoding of path segments and query components, for the requests the framework
//! makes itself (the service client, MCP tool calls).

use std::fmt::Write as _;

/// Appends `text` to `out`, every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`)
/// percent-encoded: safe in a path segment and in a query's name or value.
pub(crate) fn encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Whether `segment` is `.` or `..`, its dots percent-encoded or not: URLs decode them, so
/// such a segment moves a path however it is written. A caller's id never is one.
pub(crate) fn dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

#[cfg(test)]
mod tests {
    use super::{dot_segment, encode};

    #[test]
    fn components_are_encoded_and_dot_segments_known() {
        let encoded = |s: &str| {
            let mut out = String::new();
            encode(s, &mut out);
            out
        };
        assert_eq!(encoded("0b7c-AZ_~.x"), "0b7c-AZ_~.x");
        assert_eq!(encoded("../admin?x#y"), "..%2Fadmin%3Fx%23y");
        assert_eq!(encoded("é"), "%C3%A9");
        assert_eq!(encoded("a b&c=d+e"), "a%20b%26c%3Dd%2Be");
        for dots in [".", "..", "%2e", "%2E%2e", ".%2E"] {
            assert!(dot_segment(dots), "{dots}");
        }
        for id in ["...", "a..", ".a", "%2e%2e%2e", ""] {
            assert!(!dot_segment(id), "{id}");
        }
    }
}
