//! ETags and conditional GET: a `200` answer to `GET`/`HEAD` gets an `ETag` (weak for lists,
//! whose bytes depend on paging, strong for one row), and a request whose `If-None-Match`
//! names it gets `304 Not Modified` without a body.
//!
//! The tag is a 64-bit hash of the body and, for a resource's answers, of the caller's view
//! ([`Audience`]): it changes exactly when the representation does, is the same on every
//! instance running the same build, and one caller's tag never validates another caller's
//! copy (their views differ even where their bytes agree). The hash is SipHash with std's
//! fixed keys (`DefaultHasher::new()`): public, but no writer can cheaply make a new body that
//! keeps an old body's tag (rustc-hash's, tried for speed, lets one cancel bytes out).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::action::{Action, ResourceAction};
use crate::auth::AuthContext;

/// The largest body that gets an ETag (larger ones are streamed through untouched).
const MAX_TAGGED: usize = 8 * 1024 * 1024;

/// Whose view an answer is: the caller, whose view ([`AuthContext::view_parts`]) [`tag`]
/// mixes in. The handlers of a resource put it in their responses' extensions (the caller
/// shared, not copied: the view is hashed only when a tag is made).
#[derive(Clone, Debug)]
pub(crate) struct Audience(pub Arc<AuthContext>);

impl Audience {
    /// A hash of the caller's view: the same on every instance running the same build.
    fn hash(&self) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        self.0.view_parts(|part| {
            hasher.write_usize(part.len());
            hasher.write(part);
        });
        hasher.finish()
    }
}

/// The tag of `body` as seen by `audience` (none: anyone): `"<16 hex digits>"`, with `W/` in
/// front when `weak`.
pub(crate) fn tag(body: &[u8], audience: Option<&Audience>, weak: bool) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    audience.map(Audience::hash).hash(&mut hasher);
    let mut buf = *b"W/\"0000000000000000\"";
    super::request_id::hex(hasher.finish(), &mut buf[3..19]);
    let text = if weak { &buf[..] } else { &buf[2..] };
    String::from_utf8_lossy(text).into_owned()
}

/// Whether `If-None-Match` in `headers` names `etag` (weak comparison, as GET uses).
pub(crate) fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let wanted = opaque(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == wanted)
}

/// What a conditional request asks: `Some` for `GET`/`HEAD` (with its `If-None-Match`
/// values, usually none), `None` for requests that get no tag.
pub(crate) fn conditional(req: &Request) -> Option<Vec<HeaderValue>> {
    matches!(*req.method(), Method::GET | Method::HEAD).then(|| {
        req.headers()
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .cloned()
            .collect()
    })
}

/// Tags a `200` answer to a conditional request and answers `304` when it names the tag.
pub(crate) async fn apply(response: Response, if_none_match: Vec<HeaderValue>) -> Response {
    // A stream (`text/event-stream`) never ends: there is no body to tag.
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if response.status() != StatusCode::OK || streaming {
        return response;
    }
    let mut request = HeaderMap::new();
    for value in if_none_match {
        request.append(header::IF_NONE_MATCH, value);
    }
    with_etag(response, &request).await
}

async fn with_etag(response: Response, request: &HeaderMap) -> Response {
    if response.headers().contains_key(header::ETAG) {
        return response;
    }
    let weak = response
        .extensions()
        .get::<ResourceAction>()
        .is_some_and(|op| {
            matches!(
                op.action,
                Action::List | Action::Deleted | Action::Tree | Action::Children
            )
        });
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_TAGGED).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "response body not tagged");
            return crate::ArcError::internal(e.to_string()).into_response();
        }
    };
    let etag = tag(&bytes, parts.extensions.get::<Audience>(), weak);
    let Ok(value) = HeaderValue::from_str(&etag) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if none_match(request, &etag) {
        let mut not_modified = StatusCode::NOT_MODIFIED.into_response();
        let headers = not_modified.headers_mut();
        headers.insert(header::ETAG, value);
        for name in [header::CACHE_CONTROL, header::VARY] {
            if let Some(v) = parts.headers.get(&name) {
                headers.insert(name, v.clone());
            }
        }
        return not_modified;
    }
    parts.headers.insert(header::ETAG, value);
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_matching() {
        let strong = tag(b"{\"a\":1}", None, false);
        let weak = tag(b"{\"a\":1}", None, true);
        assert!(strong.starts_with('"') && weak.starts_with("W/\""));
        assert_ne!(tag(b"{\"a\":2}", None, false), strong);
        let carl = AuthContext {
            user_id: Some("carl".into()),
            ..AuthContext::default()
        };
        let cleo = AuthContext {
            user_id: Some("cleo".into()),
            ..AuthContext::default()
        };
        let for_carl = tag(b"{\"a\":1}", Some(&Audience(Arc::new(carl))), false);
        assert_ne!(for_carl, strong, "a caller's view is part of the tag");
        assert_ne!(
            for_carl,
            tag(b"{\"a\":1}", Some(&Audience(Arc::new(cleo))), false),
            "the same bytes for two callers are two representations"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", {weak}")).unwrap(),
        );
        assert!(none_match(&headers, &strong), "weak comparison");
        assert!(!none_match(&headers, &tag(b"other", None, false)));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&headers, &strong));
        assert!(!none_match(&HeaderMap::new(), &strong));
    }
}
