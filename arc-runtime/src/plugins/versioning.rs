//! API versioning: [`Versioning`] and the layer that applies it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ArcError;

/// The request and response header naming the version.
pub(crate) const HEADER: HeaderName = HeaderName::from_static("x-api-version");

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
/// use arc_runtime::config::{VersionBy, Versioning};
/// let versions = Versioning::new(VersionBy::Header, "2")
///     .deprecated("1", Some("Sat, 01 May 2027 00:00:00 GMT"));
/// # let _ = versions;
/// ```
///
/// API versioning, by the `x-api-version` request header or by a path prefix (`/v1/...`).
/// Every answer names its version in `x-api-version`; a deprecated version also gets
/// `Deprecation` and, when its end is known, `Sunset` (RFC 8594); an unknown version is a 400.
/// Handlers read the version as an [`ApiVersion`] request extension.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until it is given to the app"]
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

    /// The middleware's state for header versioning (`fixed` = `None`), or for the routes
    /// under `/v{name}` (`fixed` = that name): `from_fn_with_state(scope, versioning::layer)`.
    pub(crate) fn scope(&self, fixed: Option<&str>) -> VersionScope {
        VersionScope {
            versions: Arc::new(self.clone()),
            fixed: fixed.map(Arc::from),
        }
    }
}

/// The versions and, under a path prefix, the one the routes serve.
#[derive(Clone, Debug)]
pub(crate) struct VersionScope {
    versions: Arc<Versioning>,
    fixed: Option<Arc<str>>,
}

/// The middleware (see the module).
pub(crate) async fn layer(
    State(scope): State<VersionScope>,
    mut req: Request,
    next: Next,
) -> Response {
    let versions = &scope.versions;
    let asked: Option<String> = match &scope.fixed {
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
        return ArcError::bad_request(format!(
            "Unknown API version {name:?}; this server speaks {}",
            known.join(", ")
        ))
        .into_response();
    };
    req.extensions_mut()
        .insert(ApiVersion(version.name.clone()));
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if scope.fixed.is_some() {
        // Handlers name their resources without the prefix they are mounted under.
        // An app's own route may have named it with the prefix already.
        let prefix = format!("/v{}", version.name);
        let named = headers
            .get(axum::http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|location| crate::crud::response::is_under(location, &prefix));
        if !named {
            crate::crud::response::prefix_location(headers, &prefix);
        }
    }
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
    response
}
