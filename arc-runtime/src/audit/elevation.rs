//! Elevated requests in the audit trail: before an elevated caller's request runs, one entry
//! says who acted, on which method and path, in which organization (none: across all), and
//! why (`x-arc-reason`). A request whose entry cannot be kept is refused (503), never run
//! unrecorded.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json};

use super::{AuditAction, AuditEntry};
use crate::app::ArcState;
use crate::auth::AuthContext;
use crate::auth::elevation::{REASON_HEADER, reason_of};
use crate::error::ArcError;

/// The middleware: records the request of an elevated caller, then runs it.
pub(crate) async fn record(
    State(state): State<ArcState>,
    request: Request,
    next: Next,
) -> Response {
    let elevated = request
        .extensions()
        .get::<Arc<AuthContext>>()
        .filter(|caller| caller.elevated)
        .cloned();
    if let Some(caller) = elevated {
        let kept = match entry(&caller, &request) {
            Ok(entry) => super::keep(&state, entry).await,
            Err(refused) => Err(refused),
        };
        if let Err(refused) = kept {
            return refused.into_response();
        }
    }
    next.run(request).await
}

/// The entry of `request` by `caller`.
fn entry(caller: &AuthContext, request: &Request) -> Result<AuditEntry, ArcError> {
    let mut after = Map::new();
    after.insert("method".into(), Json::from(request.method().as_str()));
    after.insert("path".into(), Json::from(request.uri().path()));
    if let Some(query) = request.uri().query() {
        // What a list or a bulk write asked for.
        after.insert("query".into(), Json::from(query));
    }
    if let Some(reason) = request.headers().get(REASON_HEADER) {
        after.insert("reason".into(), Json::from(reason_of(reason)?));
    }
    tracing::info!(
        user = caller.user_id.as_deref().unwrap_or(""),
        organization = caller.org_id.as_deref().unwrap_or("*"),
        method = %request.method(),
        path = request.uri().path(),
        "platform elevation"
    );
    Ok(AuditEntry::own(
        super::ELEVATION,
        request.uri().path().to_owned(),
        AuditAction::Elevate,
        caller,
        after,
    ))
}
