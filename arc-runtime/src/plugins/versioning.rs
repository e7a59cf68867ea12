//! API versioning, by the `x-api-version` request header or by a path prefix (`/v1/...`).
//! Every answer names its version in `x-api-version`; a deprecated version also gets
//! `Deprecation` and, when its end is known, `Sunset` (RFC 8594); an unknown version is a 400.
//! Handlers read the version as an [`ApiVersion`] request extension.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::error::ArcError;

/// The request and response header naming the version.
pub const HEADER: HeaderName = HeaderName::from_static("x-api-version");

/// The version a request is served as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiVersion(pub Arc<str>);

/// How clients choose a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionBy {
    /// The `x-api-version` header (absent: the current version).
    Header,
    /// A path prefix: `/v1/products`; the routes are mounted under each version.
    PathPrefix,
}

#[derive(Clone, Debug)]
struct Version {
    name: Arc<str>,
    sunset: Option<HeaderValue>,
    deprecated: bool,
}

/// The versions an app serves.
///
/// ```
/// use arc_runtime::plugins::versioning::{VersionBy, Versioning};
/// let versions = Versioning::new(VersionBy::Header, "2")
///     .deprecated("1", Some("Sat, 01 May 2027 00:00:00 GMT"));
/// # let _ = versions;
/// ```
#[derive(Clone, Debug)]
pub struct Versioning {
    by: VersionBy,
    current: Arc<str>,
    versions: Vec<Version>,
}

impl Versioning {
    /// Serves `current`, chosen `by` header or path prefix.
    pub fn new(by: VersionBy, current: &str) -> Self {
        Self {
            by,
            current: current.into(),
            versions: vec![Version {
                name: current.into(),
                sunset: None,
                deprecated: false,
            }],
        }
    }

    /// Also serves `version`, still supported.
    pub fn supported(mut self, version: &str) -> Self {
        self.versions.push(Version {
            name: version.into(),
            sunset: None,
            deprecated: false,
        });
        self
    }

    /// Also serves `version`, deprecated, ending at `sunset` (an HTTP date) when known.
    pub fn deprecated(mut self, version: &str, sunset: Option<&str>) -> Self {
        self.versions.push(Version {
            name: version.into(),
            sunset: sunset.and_then(|s| HeaderValue::from_str(s).ok()),
            deprecated: true,
        });
        self
    }

    /// How versions are chosen.
    pub fn by(&self) -> VersionBy {
        self.by
    }

    /// The version names, current first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.versions.iter().map(|v| &*v.name)
    }

    fn find(&self, name: &str) -> Option<&Version> {
        self.versions.iter().find(|v| &*v.name == name)
    }

    /// The layer for header versioning, or for the routes under `/v{name}` with a prefix.
    pub fn layer(&self, fixed: Option<&str>) -> VersioningLayer {
        VersioningLayer {
            versions: Arc::new(self.clone()),
            fixed: fixed.map(Arc::from),
        }
    }
}

/// The layer of [`Versioning`].
#[derive(Clone, Debug)]
pub struct VersioningLayer {
    versions: Arc<Versioning>,
    fixed: Option<Arc<str>>,
}

impl<S> Layer<S> for VersioningLayer {
    type Service = VersioningService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VersioningService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`VersioningLayer`].
#[derive(Clone, Debug)]
pub struct VersioningService<S> {
    inner: S,
    layer: VersioningLayer,
}

impl<S> Service<Request> for VersioningService<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let versions = &self.layer.versions;
        let asked: Option<String> = match &self.layer.fixed {
            Some(fixed) => Some(fixed.to_string()),
            None => req.headers().get(HEADER).map(|v| {
                v.to_str()
                    .unwrap_or("?")
                    .trim()
                    .trim_start_matches('v')
                    .to_owned()
            }),
        };
        let name = asked.unwrap_or_else(|| versions.current.to_string());
        let Some(version) = versions.find(&name).cloned() else {
            let known: Vec<&str> = versions.names().collect();
            let error = ArcError::bad_request(format!(
                "Unknown API version {name:?}; this server speaks {}",
                known.join(", ")
            ))
            .into_response();
            return Box::pin(async move { Ok(error) });
        };
        req.extensions_mut()
            .insert(ApiVersion(version.name.clone()));
        let future = self.inner.call(req);
        Box::pin(async move {
            let mut response = future.await?;
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&version.name) {
                headers.insert(HEADER, value);
            }
            if version.deprecated {
                headers.insert(
                    HeaderName::from_static("deprecation"),
                    HeaderValue::from_static("true"),
                );
                if let Some(sunset) = version.sunset {
                    headers.insert(HeaderName::from_static("sunset"), sunset);
                }
            }
            Ok(response)
        })
    }
}
