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
use crate::error::{ArcError, ErrorCode};

/// The resource of elevation entries in the trail (no resource of an app starts with `_`).
pub(crate) const RESOURCE: &str = "_elevation";

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
            Ok(entry) => keep(&state, entry).await,
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
    Ok(AuditEntry {
        id: uuid::Uuid::new_v4(),
        resource: RESOURCE.to_owned(),
        document_id: request.uri().path().to_owned(),
        action: AuditAction::Elevate,
        user_id: caller.user_id.clone(),
        organization_id: caller.org_id.clone(),
        request_id: crate::plugins::request_id::current()
            .and_then(|v| v.to_str().ok().map(str::to_owned)),
        trace_id: crate::plugins::trace::current().map(|t| t.trace_id_hex()),
        changes: Vec::new(),
        before: None,
        after: Some(after),
        timestamp: super::trail::now(),
    })
}

/// Keeps `entry` in the trail, or says why not (503).
async fn keep(state: &ArcState, entry: AuditEntry) -> Result<(), ArcError> {
    let Some(audit) = state.audit() else {
        // The trail is on whenever elevation is: this is a fault, and it fails closed.
        return Err(ArcError::new(
            ErrorCode::ServiceUnavailable,
            "The audit trail is unavailable, try again shortly",
        ));
    };
    audit.record(state.writer(), entry).await
}
