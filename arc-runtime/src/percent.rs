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

/// Appends `segment` to `out` as one path segment that cannot step out of its place: as
/// [`encode`], and the dot segments `.` and `..` encoded whole.
pub(crate) fn encode_segment(segment: &str, out: &mut String) {
    if segment == "." || segment == ".." {
        for byte in segment.bytes() {
            let _ = write!(out, "%{byte:02X}");
        }
    } else {
        encode(segment, out);
    }
}

#[cfg(test)]
mod tests {
    use super::{encode, encode_segment};

    #[test]
    fn a_segment_stays_in_its_place() {
        let segment = |s: &str| {
            let mut path = String::from("/p/");
            encode_segment(s, &mut path);
            path
        };
        assert_eq!(segment("0b7c-AZ_~.x"), "/p/0b7c-AZ_~.x");
        assert_eq!(segment("../admin?x#y"), "/p/..%2Fadmin%3Fx%23y");
        assert_eq!(segment(".."), "/p/%2E%2E");
        assert_eq!(segment("é"), "/p/%C3%A9");
        let mut query = String::new();
        encode("a b&c=d+e", &mut query);
        assert_eq!(query, "a%20b%26c%3Dd%2Be");
    }
}
