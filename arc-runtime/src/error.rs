//! The one error type at the HTTP edge: [`ArcError`], its [`ErrorCode`]s and [`FieldError`]s.

use std::borrow::Cow;
use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::plugins::request_id;

/// The machine-readable code of an error, with its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: the body or query failed validation; `details.errors` lists every problem.
    Validation,
    /// 400: malformed JSON, bad query syntax, an unknown query parameter.
    BadRequest,
    /// 401: no or bad credentials.
    Unauthorized,
    /// 401: `x-arc-scope: platform` without credentials.
    ElevationAuthRequired,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 403: `x-arc-scope: platform` from a caller without a platform role that may elevate
    /// (or to an app without elevation).
    ElevationForbidden,
    /// 403: credentials came in a cookie, and the unsafe request did not echo the CSRF
    /// cookie in `x-csrf-token`.
    CsrfFailed,
    /// 403: the row belongs to someone else.
    OwnershipDenied,
    /// 403: a multi-tenant route and no active organization.
    OrgSelectionRequired,
    /// 403: `x-organization-id` names an organization the caller is not a member of.
    OrgAccessDenied,
    /// 404: no such route or row (or one the caller may not see).
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 409: a unique constraint would be violated.
    DuplicateKey,
    /// 409: a request with the same idempotency key is still in flight (with `Retry-After`).
    IdempotencyConflict,
    /// 409: a write or action would move a field with declared states along a transition
    /// that is not declared (`details` names the field, both states and the allowed ones).
    InvalidTransition,
    /// 409: the change would leave an organization without an owner (arc answers 400 with
    /// this code).
    LastOwner,
    /// 413: the body is over the configured limit.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 422: well-formed but not processable (e.g. an idempotency key reused with another body).
    Unprocessable,
    /// 429: too many requests.
    RateLimited,
    /// 500: a fault on our side; the cause is logged, never sent.
    Internal,
    /// 503: a dependency is down or the server is draining.
    ServiceUnavailable,
}

impl ErrorCode {
    /// Every code, in the order of the contract's table.
    pub const ALL: [ErrorCode; 23] = [
        Self::Validation,
        Self::BadRequest,
        Self::Unauthorized,
        Self::ElevationAuthRequired,
        Self::Forbidden,
        Self::ElevationForbidden,
        Self::CsrfFailed,
        Self::OwnershipDenied,
        Self::OrgSelectionRequired,
        Self::OrgAccessDenied,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::DuplicateKey,
        Self::IdempotencyConflict,
        Self::InvalidTransition,
        Self::LastOwner,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::Unprocessable,
        Self::RateLimited,
        Self::Internal,
        Self::ServiceUnavailable,
    ];

    /// The code as it appears in the envelope, e.g. `"NOT_FOUND"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Validation => "VALIDATION_ERROR",
            Self::BadRequest => "BAD_REQUEST",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::ElevationAuthRequired => "ELEVATION_AUTH_REQUIRED",
            Self::Forbidden => "FORBIDDEN",
            Self::ElevationForbidden => "ELEVATION_FORBIDDEN",
            Self::CsrfFailed => "CSRF_FAILED",
            Self::OwnershipDenied => "OWNERSHIP_DENIED",
            Self::OrgSelectionRequired => "ORG_SELECTION_REQUIRED",
            Self::OrgAccessDenied => "ORG_ACCESS_DENIED",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::Conflict => "CONFLICT",
            Self::DuplicateKey => "DUPLICATE_KEY",
            Self::IdempotencyConflict => "IDEMPOTENCY_CONFLICT",
            Self::InvalidTransition => "INVALID_TRANSITION",
            Self::LastOwner => "LAST_OWNER",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::Unprocessable => "UNPROCESSABLE_ENTITY",
            Self::RateLimited => "RATE_LIMITED",
            Self::Internal => "INTERNAL_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The HTTP status this code is sent with.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::Validation | Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::ElevationAuthRequired => StatusCode::UNAUTHORIZED,
            Self::Forbidden
            | Self::ElevationForbidden
            | Self::CsrfFailed
            | Self::OwnershipDenied
            | Self::OrgSelectionRequired
            | Self::OrgAccessDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict
            | Self::DuplicateKey
            | Self::IdempotencyConflict
            | Self::InvalidTransition
            | Self::LastOwner => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl ErrorCode {
    /// The code an error response of `status` carries when nothing more specific is known
    /// (responses of tower layers, such as a timeout's 503).
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            409 => Self::Conflict,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::Unprocessable,
            429 => Self::RateLimited,
            503 | 504 | 408 => Self::ServiceUnavailable,
            400..=499 => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one field of a body or query, as listed in `details.errors`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The field's JSON name (`items[2].name` inside bulk bodies).
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
    /// The JSON Schema keyword that failed: `required`, `type`, `minLength`, `enum`, ...
    pub keyword: &'static str,
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn clip(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// An error as a client sees it: a code, a message, optional details. The one error type at
/// the HTTP edge.
///
/// Every failure a client can see becomes an `ArcError`, which renders as the contract's
/// error envelope: `{"success":false,"error":..,"code":..,"timestamp":..,"requestId":..}`.
/// Server-side causes (database errors and the like) are logged with `tracing` and never
/// leave the process: the client sees `INTERNAL_ERROR` and the request id to quote.
///
/// ```
/// use arc_runtime::{ArcError, ErrorCode};
/// let e = ArcError::not_found("product not found");
/// assert_eq!(e.code(), ErrorCode::NotFound);
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ArcError {
    code: ErrorCode,
    message: Cow<'static, str>,
    details: Option<serde_json::Value>,
    retry_after: Option<u64>,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ArcError {
    /// The most field errors listed in a `VALIDATION_ERROR`'s `details.errors`.
    pub const MAX_LISTED_ERRORS: usize = 100;

    /// The longest field name an error repeats, in bytes.
    pub const MAX_FIELD_NAME: usize = 100;

    /// The longest error message, in bytes.
    pub const MAX_MESSAGE: usize = 1024;
}

impl ArcError {
    /// An error with this code and message (clipped to [`ArcError::MAX_MESSAGE`] bytes: a message
    /// that quotes client input stays small).
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        let message = message.into();
        let message = match clip(&message, ArcError::MAX_MESSAGE) {
            Cow::Borrowed(_) => message,
            Cow::Owned(clipped) => Cow::Owned(clipped),
        };
        Self {
            code,
            message,
            details: None,
            retry_after: None,
            source: None,
        }
    }

    /// 400 `BAD_REQUEST`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 404 `NOT_FOUND`.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 401 `UNAUTHORIZED` (with `WWW-Authenticate`).
    pub fn unauthorized(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// 403 `FORBIDDEN`.
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// 400 `VALIDATION_ERROR` listing the field errors: the first [`ArcError::MAX_LISTED_ERRORS`] in
    /// `details.errors`, and how many more there were in `details.omitted` (absent when
    /// none). Field names are clipped to [`ArcError::MAX_FIELD_NAME`] characters, so an error never
    /// echoes unbounded client input (an unknown key of 100 KB).
    pub fn validation(mut errors: Vec<FieldError>) -> Self {
        let total = errors.len();
        errors.truncate(ArcError::MAX_LISTED_ERRORS);
        for error in &mut errors {
            if let Cow::Owned(clipped) = clip(&error.field, ArcError::MAX_FIELD_NAME) {
                error.field = clipped;
            }
        }
        let message = match errors.as_slice() {
            [one] if total == 1 => format!("Validation failed: {}: {}", one.field, one.message),
            _ => format!("Validation failed: {total} errors"),
        };
        let mut details = serde_json::json!({ "errors": errors });
        if total > errors.len() {
            details["omitted"] = (total - errors.len()).into();
        }
        Self::new(ErrorCode::Validation, message).with_details(details)
    }

    /// A 500 whose cause is logged here and never sent to the client.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let source = source.into();
        tracing::error!(error = %source, "internal error");
        Self {
            code: ErrorCode::Internal,
            message: Cow::Borrowed("Internal server error"),
            details: None,
            retry_after: None,
            source: Some(source),
        }
    }

    /// Attaches `details` to the envelope.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// Adds a `Retry-After` header (seconds) to the response.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The machine code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The details object, if any.
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.details.as_ref()
    }
}

impl ArcError {
    /// The answer to a row the database refused: 409 for a unique key, 400 for a foreign
    /// key; `None` for any other refusal.
    fn refused(err: &sea_orm::SqlErr) -> Option<Self> {
        match err {
            sea_orm::SqlErr::UniqueConstraintViolation(_) => {
                tracing::debug!(error = %err, "unique constraint violated");
                Some(Self::new(
                    ErrorCode::DuplicateKey,
                    "A record with this value already exists",
                ))
            }
            sea_orm::SqlErr::ForeignKeyConstraintViolation(_) => {
                Some(Self::bad_request("A referenced record does not exist"))
            }
            _ => None,
        }
    }
}

impl From<crate::db::WriteError> for ArcError {
    fn from(err: crate::db::WriteError) -> Self {
        match err {
            crate::db::WriteError::Refused(refused) => {
                Self::refused(&refused).unwrap_or_else(|| Self::internal(refused))
            }
            crate::db::WriteError::Db(err) => err.into(),
        }
    }
}

impl From<sea_orm::DbErr> for ArcError {
    fn from(err: sea_orm::DbErr) -> Self {
        if let Some(refused) = err.sql_err().as_ref().and_then(Self::refused) {
            return refused;
        }
        if !overloaded(&err) {
            return Self::internal(err);
        }
        // The database is busy (every pooled connection taken), a statement ran past the
        // database's own timeout or lost a deadlock: the server is overloaded, not broken,
        // and says so (503 with `Retry-After`) rather than answering 500.
        tracing::warn!(error = %err, "database overloaded");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "The database is busy, try again shortly",
        )
        .with_retry_after(1)
    }
}

/// Whether `err` says the database is overloaded: no connection could be had in time, or a
/// statement was cancelled by its timeout (PostgreSQL's `query_canceled`, SQLSTATE 57014;
/// a SQLite read stopped by the [`Reader`](crate::db::Reader)), PostgreSQL rolled the write
/// back to break a deadlock or a serialization conflict (40P01, 40001), or SQLite stayed
/// locked past the busy timeout (`SQLITE_BUSY`, `SQLITE_LOCKED`).
fn overloaded(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match err {
        DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
            let sqlx::Error::Database(db) = &**e else {
                return false;
            };
            match db.code().as_deref() {
                // A statement cancelled by its timeout; a deadlock or a serialization
                // failure, which PostgreSQL resolves by rolling one write back: the same
                // request retried goes through.
                Some("57014" | "40P01" | "40001") => true,
                // SQLite's SQLITE_BUSY and SQLITE_LOCKED, with their extended codes: a lock
                // held past the busy timeout.
                Some(code) if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => code
                    .parse::<u32>()
                    .is_ok_and(|code| matches!(code & 0xff, 5 | 6)),
                _ => false,
            }
        }
        DbErr::Query(RuntimeErr::Internal(message)) => {
            message == crate::db::STATEMENT_STOPPED || message == crate::db::STATEMENT_BUSY
        }
        _ => false,
    }
}

/// The body of every error: a human message, a machine code, when, and the request id.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(description = "Every error: a human message, a machine code, when, and the request id.")]
pub(crate) struct ErrorEnvelope<'a> {
    /// Always `false`.
    #[schemars(schema_with = "always_false")]
    success: bool,
    /// What went wrong, for people.
    error: &'a str,
    /// What went wrong, for programs (see [`ErrorCode`]).
    #[schemars(schema_with = "error_codes")]
    code: &'static str,
    /// When, RFC 3339 with milliseconds.
    #[schemars(extend("format" = "date-time"))]
    timestamp: String,
    /// The request's id, as in its `x-request-id` header.
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    request_id: Option<&'a str>,
    /// More about it: `errors` lists every invalid field of a `VALIDATION_ERROR`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "details")]
    details: Option<&'a serde_json::Value>,
}

fn always_false(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "const": false })
}

fn error_codes(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    schemars::json_schema!({ "type": "string", "enum": codes })
}

fn details(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object" })
}

/// The cause of a 500, kept in the response's extensions (never in its body): the
/// development preset shows it in the body, and an app's own layer may log or report it.
///
/// ```
/// use arc_runtime::InternalCause;
/// # let response = axum::response::Response::new(axum::body::Body::empty());
/// if let Some(cause) = response.extensions().get::<InternalCause>() {
///     tracing::error!(cause = cause.as_str(), "internal error");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct InternalCause(pub(crate) std::sync::Arc<str>);

impl InternalCause {
    /// The cause, as its error displays it.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl IntoResponse for ArcError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let cause = self
            .source
            .as_ref()
            .map(|s| InternalCause(s.to_string().into()));
        let request_id = request_id::current();
        let request_id = request_id.as_ref().and_then(|id| id.to_str().ok());
        let body = ErrorEnvelope {
            success: false,
            error: &self.message,
            code: self.code.as_str(),
            timestamp: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            request_id,
            details: self.details.as_ref(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.code.status() == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = cause
            && self.code == ErrorCode::Internal
        {
            response.extensions_mut().insert(cause);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status() {
        assert_eq!(ErrorCode::DuplicateKey.status(), StatusCode::CONFLICT);
        assert_eq!(ErrorCode::Validation.as_str(), "VALIDATION_ERROR");
    }

    #[test]
    fn validation_message_names_the_field_when_alone() {
        let e = ArcError::validation(vec![FieldError {
            field: "name".into(),
            message: "is required".into(),
            keyword: "required",
        }]);
        assert_eq!(e.message(), "Validation failed: name: is required");
        assert_eq!(e.details().unwrap()["errors"][0]["keyword"], "required");
        assert!(e.details().unwrap().get("omitted").is_none());
    }

    #[test]
    fn validation_lists_are_capped_and_names_clipped() {
        let errors = (0..250)
            .map(|i| FieldError {
                field: format!("{i}{}", "é".repeat(300)),
                message: "is not a field of this resource".into(),
                keyword: "additionalProperties",
            })
            .collect();
        let e = ArcError::validation(errors);
        assert_eq!(e.message(), "Validation failed: 250 errors");
        let details = e.details().unwrap();
        assert_eq!(
            details["errors"].as_array().unwrap().len(),
            ArcError::MAX_LISTED_ERRORS
        );
        assert_eq!(details["omitted"], 150);
        let field = details["errors"][0]["field"].as_str().unwrap();
        assert!(
            field.len() <= ArcError::MAX_FIELD_NAME + 3 && field.ends_with('…'),
            "{field}"
        );
        let long = ArcError::bad_request(format!("unknown `{}`", "x".repeat(5000)));
        assert!(long.message().len() <= ArcError::MAX_MESSAGE + 3);
    }
}
