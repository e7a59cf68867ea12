//! ETags and conditional GET: a `200` answer to `GET`/`HEAD` gets an `ETag` (weak for lists,
//! whose bytes depend on paging, strong for one row), and a request whose `If-None-Match`
//! names it gets `304 Not Modified` without a body.
//!
//! The tag is a 64-bit hash of the body's [`digest`] and, for a resource's answers, of the
//! caller's view ([`Audience`]): it changes exactly when the representation does, is the same
//! on every instance running the same build, and one caller's tag never validates another
//! caller's copy (their views differ even where their bytes agree). The hash is SipHash with
//! std's fixed keys (`DefaultHasher::new()`): public, but no writer can cheaply make a new body
//! that keeps an old body's tag (rustc-hash's, tried for speed, lets one cancel bytes out).
//!
//! Hashing the body is most of a tag's cost (about 10 instructions a byte): an answer whose
//! body was digested before (the query cache keeps the digest beside the body) carries it as
//! [`Digested`], and the tag is made from it without reading the body again.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::action::{Action, ResourceAction};
use crate::auth::AuthContext;

/// The largest body that gets an ETag: larger ones, and bodies whose size is not known
/// before they are read (a stream), are sent through untouched and untagged.
const MAX_TAGGED: usize = 8 * 1024 * 1024;

/// Whose view an answer is: the caller, whose view ([`AuthContext::view_parts`]) [`tag`]
/// mixes in. The handlers of a resource put it in their responses' extensions (the caller
/// shared, not copied: the view is hashed only when a tag is made).
#[derive(Clone, Debug)]
pub(crate) struct Audience(pub Arc<AuthContext>);

impl Audience {
    /// A hash of the caller's view: the same on every instance running the same build.
    /// Every anonymous caller's is one, made once.
    fn hash(&self) -> u64 {
        static ANONYMOUS: OnceLock<u64> = OnceLock::new();
        if self.0.has_anonymous_view() {
            return *ANONYMOUS.get_or_init(|| view_hash(&AuthContext::anonymous()));
        }
        view_hash(&self.0)
    }
}

/// The hash of `caller`'s view. The parts (each length first) are hashed at once: a hasher's
/// call costs more than the few bytes most parts are.
fn view_hash(caller: &AuthContext) -> u64 {
    // Room for a signed-in caller's view with a few roles, so it is not grown.
    let mut parts = Vec::with_capacity(256);
    caller.view_parts(|part| {
        parts.extend_from_slice(&(part.len() as u64).to_le_bytes());
        parts.extend_from_slice(part);
    });
    digest(&parts)
}

/// The digest of a body: what its tag is made from.
pub(crate) fn digest(body: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

/// A response's body with its [`digest`], made before (in its extensions): the tag is made
/// from it when the body being tagged is this one (the same bytes in memory, so a layer
/// that rewrote the body on the way out is digested again, never mistagged).
#[derive(Clone, Debug)]
pub(crate) struct Digested {
    body: Bytes,
    digest: u64,
}

impl Digested {
    /// `body`, whose [`digest`] is `digest`.
    pub(crate) fn new(body: Bytes, digest: u64) -> Self {
        Self { body, digest }
    }

    /// The digest, when `body` is the body it was made of.
    fn of(&self, body: &Bytes) -> Option<u64> {
        (self.body.as_ptr() == body.as_ptr() && self.body.len() == body.len())
            .then_some(self.digest)
    }
}

/// The tag of a body of `digest` as seen by `audience` (none: anyone): `"<16 hex digits>"`,
/// with `W/` in front when `weak`. (Always a header value; `None` is never answered.)
pub(crate) fn tag(digest: u64, audience: Option<&Audience>, weak: bool) -> Option<HeaderValue> {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write_u64(digest);
    audience.map(Audience::hash).hash(&mut hasher);
    let mut buf = *b"W/\"0000000000000000\"";
    super::request_id::hex(hasher.finish(), &mut buf[3..19]);
    let text = if weak { &buf[..] } else { &buf[2..] };
    // Quotes, `W/` and hex digits: always a header value.
    HeaderValue::from_bytes(text).ok()
}

/// Whether `If-None-Match` in `headers` names `etag` (weak comparison, as GET uses).
pub(crate) fn none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    fn opaque(tag: &[u8]) -> &[u8] {
        let tag = tag.trim_ascii();
        tag.strip_prefix(b"W/").unwrap_or(tag)
    }
    let wanted = opaque(etag.as_bytes());
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .any(|candidate| candidate.trim_ascii() == b"*" || opaque(candidate) == wanted)
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
    // Only a body known to fit is read: one that might not is sent on as it comes.
    if response
        .body()
        .size_hint()
        .upper()
        .is_none_or(|n| n > MAX_TAGGED as u64)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_TAGGED).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(error = %e, "response body not tagged");
            return crate::ArcError::internal(e.to_string()).into_response();
        }
    };
    let digest = parts
        .extensions
        .get::<Digested>()
        .and_then(|d| d.of(&bytes))
        .unwrap_or_else(|| digest(&bytes));
    // Untagged rather than tagged with anything but this body's own tag.
    let Some(value) = tag(digest, parts.extensions.get::<Audience>(), weak) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if none_match(request, &value) {
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
        let one = digest(b"{\"a\":1}");
        let strong = tag(one, None, false).unwrap();
        let weak = tag(one, None, true).unwrap();
        assert!(strong.as_bytes().starts_with(b"\"") && weak.as_bytes().starts_with(b"W/\""));
        assert_ne!(tag(digest(b"{\"a\":2}"), None, false), Some(strong.clone()));
        let carl = AuthContext {
            user_id: Some("carl".into()),
            ..AuthContext::default()
        };
        let cleo = AuthContext {
            user_id: Some("cleo".into()),
            ..AuthContext::default()
        };
        let for_carl = tag(one, Some(&Audience(Arc::new(carl))), false);
        assert_ne!(
            for_carl,
            Some(strong.clone()),
            "a caller's view is part of the tag"
        );
        assert_ne!(
            for_carl,
            tag(one, Some(&Audience(Arc::new(cleo))), false),
            "the same bytes for two callers are two representations"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", {}", weak.to_str().unwrap())).unwrap(),
        );
        assert!(none_match(&headers, &strong), "weak comparison");
        assert!(!none_match(
            &headers,
            &tag(digest(b"other"), None, false).unwrap()
        ));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&headers, &strong));
        assert!(!none_match(&HeaderMap::new(), &strong));
    }

    /// An anonymous caller's view is hashed once, to what hashing it gives; a caller with
    /// the anonymous view but a token's extras (id, claims) shares it.
    #[test]
    fn the_anonymous_view_is_hashed_once_to_its_own_hash() {
        let anonymous = Audience(Arc::new(AuthContext::anonymous()));
        assert_eq!(anonymous.hash(), view_hash(&AuthContext::anonymous()));
        assert_eq!(anonymous.hash(), anonymous.hash());
        let with_token_id = Audience(Arc::new(AuthContext {
            token_id: Some("jti".into()),
            ..AuthContext::default()
        }));
        assert_eq!(with_token_id.hash(), anonymous.hash());
        let carl = AuthContext {
            user_id: Some("carl".into()),
            ..AuthContext::default()
        };
        let carls = Audience(Arc::new(carl.clone()));
        assert_eq!(carls.hash(), view_hash(&carl));
        assert_ne!(carls.hash(), anonymous.hash());
    }

    /// A tagged answer: its body, its `ETag`, its status.
    async fn tagged(response: Response) -> (Bytes, Option<String>, StatusCode) {
        let tagged = with_etag(response, &HeaderMap::new()).await;
        let etag = tagged
            .headers()
            .get(header::ETAG)
            .map(|v| v.to_str().unwrap().to_owned());
        let status = tagged.status();
        let body = axum::body::to_bytes(tagged.into_body(), usize::MAX)
            .await
            .unwrap();
        (body, etag, status)
    }

    #[tokio::test]
    async fn a_digest_made_before_is_used_for_its_body_only() {
        let body = Bytes::from_static(b"{\"data\":[1,2,3]}");
        let answer = |body: Bytes, digested: Option<Digested>| {
            let mut response = Response::new(Body::from(body));
            if let Some(digested) = digested {
                response.extensions_mut().insert(digested);
            }
            response
        };
        let (_, plain, _) = tagged(answer(body.clone(), None)).await;
        let plain = plain.expect("an ETag");
        assert_eq!(
            plain,
            tag(digest(&body), None, false).unwrap().to_str().unwrap()
        );
        let (_, given, _) = tagged(answer(
            body.clone(),
            Some(Digested::new(body.clone(), digest(&body))),
        ))
        .await;
        assert_eq!(
            given.as_deref(),
            Some(plain.as_str()),
            "the same tag either way"
        );
        // The digest carried is what the tag is made from, unread: a wrong one shows it.
        let (_, carried, _) =
            tagged(answer(body.clone(), Some(Digested::new(body.clone(), 7)))).await;
        assert_eq!(
            carried.as_deref(),
            tag(7, None, false).unwrap().to_str().ok()
        );
        // The same bytes elsewhere in memory (a layer rewrote the body): digested again.
        let copy = Bytes::copy_from_slice(&body);
        let (sent, rewritten, status) =
            tagged(answer(copy, Some(Digested::new(body.clone(), 7)))).await;
        assert_eq!((sent, status), (body, StatusCode::OK));
        assert_eq!(rewritten, Some(plain));
    }

    /// A body larger than [`MAX_TAGGED`], or one whose size is not known before it is read,
    /// is answered as it is, untagged: never a 500, never read into memory here.
    #[tokio::test]
    async fn large_and_streamed_bodies_go_through_untagged() {
        let large = Bytes::from(vec![b'x'; MAX_TAGGED + 1]);
        let (sent, etag, status) = tagged(Response::new(Body::from(large.clone()))).await;
        assert_eq!((sent, etag, status), (large, None, StatusCode::OK));

        let chunks = futures_util::stream::iter([
            Ok::<_, std::io::Error>(Bytes::from_static(b"{\"a\":")),
            Ok(Bytes::from_static(b"1}")),
        ]);
        let (sent, etag, status) = tagged(Response::new(Body::from_stream(chunks))).await;
        assert_eq!(
            (sent, etag, status),
            (Bytes::from_static(b"{\"a\":1}"), None, StatusCode::OK)
        );

        let (_, etag, _) = tagged(Response::new(Body::from(vec![b'x'; MAX_TAGGED]))).await;
        assert!(etag.is_some(), "a body of the limit is tagged");
    }
}
