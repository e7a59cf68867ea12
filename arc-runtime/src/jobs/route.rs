//! `GET /_jobs`: the queues' counts, their latest dead letters and the cron schedules, for
//! platform admins (platform role `admin`; 401 anonymous, 403 anyone else).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::ArcState;
use crate::auth::Caller;
use crate::error::{ArcError, ErrorCode};
use crate::stores::StoreError;

/// The platform role that reads the jobs.
const READER_ROLE: &str = "admin";

/// Dead letters shown per queue (the most recent).
const DEAD_SHOWN: usize = 10;

/// `GET /_jobs`.
pub(crate) async fn overview(State(state): State<ArcState>, caller: Caller) -> Response {
    let mut response = answer(&state, &caller)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn answer(state: &ArcState, caller: &Caller) -> Result<Response, ArcError> {
    let runtime = state
        .jobs_runtime()
        .ok_or_else(|| ArcError::not_found("Route not found"))?;
    if !caller.0.is_authenticated() {
        return Err(ArcError::unauthorized("Authentication required"));
    }
    if !caller.0.has_platform_role(READER_ROLE) {
        return Err(ArcError::forbidden("The jobs are for platform admins"));
    }
    let unavailable = |error: StoreError| {
        tracing::warn!(%error, "jobs: the store did not answer");
        ArcError::new(
            ErrorCode::ServiceUnavailable,
            "The jobs' store is unavailable",
        )
    };
    let mut queues = Vec::new();
    for stats in runtime.stats().await.map_err(unavailable)? {
        let dead = runtime
            .dead_letters(&stats.name, DEAD_SHOWN)
            .await
            .map_err(unavailable)?;
        let mut queue = json!(stats);
        queue["deadLetters"] = json!(dead);
        queues.push(queue);
    }
    let schedules: Vec<_> = runtime
        .schedules()
        .into_iter()
        .map(|(job, schedule, next)| json!({ "job": job, "schedule": schedule, "next": next }))
        .collect();
    Ok(Json(json!({ "queues": queues, "schedules": schedules })).into_response())
}
