//! [`TestApp`]: an app in process on a fresh SQLite database in memory, migrated, driven
//! through its router; every answer is checked against the app's own OpenAPI document.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use arc_runtime::App;
use arc_runtime::meta::ResourceMeta;
use arc_runtime::sea_orm::DatabaseConnection;
use axum::Router;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::contract::Contract;
use crate::persona::Persona;
use crate::reply::Reply;

/// The app under test.
pub struct TestApp {
    router: Router,
    db: DatabaseConnection,
    contract: Option<Contract>,
    document: Option<Value>,
    resources: Vec<&'static ResourceMeta>,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("resources", &self.resources.len())
            .finish_non_exhaustive()
    }
}

impl TestApp {
    /// The app `make` builds, on a fresh SQLite database in memory, migrated. Its document
    /// becomes the contract every answer is checked against. A panic when the database
    /// cannot be had or migrated, or the document not built, as in any test fixture.
    pub async fn new(make: impl FnOnce(DatabaseConnection) -> App) -> TestApp {
        let db = match arc_runtime::connect("sqlite::memory:").await {
            Ok(db) => db,
            Err(e) => panic!("SQLite in memory: {e}"),
        };
        let app = make(db.clone());
        if let Err(e) = app.migrate().await {
            panic!("migrating the app: {e}");
        }
        let document = match app.openapi() {
            Ok(document) => document,
            Err(e) => panic!("the app's OpenAPI document: {e}"),
        };
        TestApp {
            contract: Some(Contract::new(document.clone())),
            document: Some(document),
            resources: app.resources(),
            router: app.into_router(),
            db,
        }
    }

    /// The app's database, to arrange rows or check them behind the API's back.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The app's OpenAPI document.
    pub fn document(&self) -> &Value {
        self.document.as_ref().unwrap_or(&Value::Null)
    }

    /// The resources the app serves.
    pub fn resources(&self) -> &[&'static ResourceMeta] {
        &self.resources
    }

    /// A `method` request to `uri` (its path percent-encoded where it needs to be), sent
    /// when awaited; a panic here when `uri` is none.
    #[track_caller]
    pub fn request(&self, method: Method, uri: &str) -> Request<'_> {
        let uri = match uri.parse::<Uri>() {
            Ok(uri) => uri,
            Err(e) => panic!("`{uri}` is no URI: {e}"),
        };
        Request {
            app: self,
            method,
            uri,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// `GET uri`.
    #[track_caller]
    pub fn get(&self, uri: &str) -> Request<'_> {
        self.request(Method::GET, uri)
    }

    /// `POST uri` with a JSON body.
    #[track_caller]
    pub fn post(&self, uri: &str, body: Value) -> Request<'_> {
        self.request(Method::POST, uri).json(body)
    }

    /// `PATCH uri` with a JSON body.
    #[track_caller]
    pub fn patch(&self, uri: &str, body: Value) -> Request<'_> {
        self.request(Method::PATCH, uri).json(body)
    }

    /// `PUT uri` with a JSON body.
    #[track_caller]
    pub fn put(&self, uri: &str, body: Value) -> Request<'_> {
        self.request(Method::PUT, uri).json(body)
    }

    /// `DELETE uri`.
    #[track_caller]
    pub fn delete(&self, uri: &str) -> Request<'_> {
        self.request(Method::DELETE, uri)
    }

    /// Sends `request` through the router; a panic when the answer is not one the
    /// document allows (a status it does not list for the route, a body its schema
    /// refuses).
    async fn send(&self, request: axum::http::Request<Body>) -> Reply {
        let (method, uri) = (request.method().clone(), request.uri().to_string());
        let described = format!("{method} {uri}");
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(infallible) => match infallible {},
        };
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = match response.into_body().collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => panic!("{described}: reading the body: {e}"),
        };
        let json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body: Option<Value> = json.then(|| serde_json::from_slice(&bytes).ok()).flatten();
        if let Some(problem) = self
            .contract
            .as_ref()
            .and_then(|c| c.check(&method, &uri, status, body.as_ref()))
        {
            panic!("the answer breaks the app's document: {problem}");
        }
        Reply {
            status,
            headers,
            body: body.unwrap_or(Value::Null),
            request: described,
        }
    }
}

/// A request being made: who sends it, its headers and body. Await it to send it.
#[derive(Debug)]
#[must_use = "a request is sent when awaited"]
pub struct Request<'a> {
    app: &'a TestApp,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Option<Value>,
}

impl<'a> Request<'a> {
    /// Sent as `persona` (anonymous sends no credentials).
    pub fn as_(mut self, persona: &Persona) -> Self {
        self.headers.remove(AUTHORIZATION);
        if let Some(authorization) = persona.authorization() {
            match HeaderValue::from_str(authorization) {
                Ok(value) => {
                    self.headers.insert(AUTHORIZATION, value);
                }
                Err(e) => panic!("{}'s authorization is no header value: {e}", persona.name),
            }
        }
        self
    }

    /// With the header `name: value` (added to any of the same name; a `content-type`
    /// replaces the JSON one a body brings); a panic here when it is no header.
    #[track_caller]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            _ => panic!("`{name}: {value}` is no header"),
        }
        self
    }

    /// With a JSON body (and `content-type: application/json` unless a header says
    /// otherwise).
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    fn build(self) -> (axum::http::Request<Body>, &'a TestApp) {
        let mut request = axum::http::Request::new(match &self.body {
            Some(json) => Body::from(json.to_string()),
            None => Body::empty(),
        });
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        let mut headers = self.headers;
        if self.body.is_some() && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        *request.headers_mut() = headers;
        (request, self.app)
    }
}

impl<'a> IntoFuture for Request<'a> {
    type Output = Reply;
    type IntoFuture = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        let (request, app) = self.build();
        Box::pin(app.send(request))
    }
}
