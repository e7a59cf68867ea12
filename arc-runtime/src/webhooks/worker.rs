//! The webhooks' work: [`fan_out`] hands an event to its organization's matching webhooks
//! (the events subscriber, once per event in the cluster), and [`deliver`] attempts the
//! log's due rows on every instance, a bounded number at once, each under a lease.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use serde_json::Value as Json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::delivery::{self, DeliveryStatus, Ended, webhook_delivery_entity};
use super::signature::{
    DELIVERY_HEADER, EVENT_HEADER, ID_HEADER, SIGNATURE_HEADER, SIGNATURE_V2_HEADER,
    TIMESTAMP_HEADER, sign, sign_timestamped,
};
use super::subscription::{self, webhook_entity};
use super::{WebhooksRuntime, target};
use crate::auth::AuthContext;
use crate::events::Event;

/// How long an attempt's lease outlasts the receiver's timeout (the time to read the
/// webhook and record the attempt).
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// How often ended deliveries are pruned, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The longest `last_error` kept.
const MAX_ERROR: usize = 500;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Hands `event` to the enabled webhooks of its organization whose patterns match it: one
/// row of the log each (none twice, if the event comes again). Only the row events of the
/// app's resources go out: an event of no organization, an app's own event (of no
/// resource: its payload is the app's, unchecked against what the admins may read) and the
/// events of the webhooks' own resources (a webhook's URL is its receiver's secret) go to
/// no webhook.
pub(super) async fn fan_out(runtime: &WebhooksRuntime, event: &Event) -> Result<(), DbErr> {
    use webhook_entity::Column;
    let Some(org) = event.meta.organization_id.as_deref() else {
        return Ok(());
    };
    if !goes_out(event) {
        return Ok(());
    }
    let webhooks = webhook_entity::Entity::find()
        .filter(Column::OrganizationId.eq(org))
        .filter(Column::Disabled.eq(false))
        .all(&runtime.db)
        .await?;
    let matching: Vec<_> = webhooks
        .iter()
        .filter(|webhook| {
            subscription::patterns(&webhook.events)
                .is_ok_and(|patterns| patterns.iter().any(|p| p.matches(&event.name)))
        })
        .collect();
    if matching.is_empty() {
        return Ok(());
    }
    let Some(body) = body_for(runtime, org, event) else {
        return Ok(());
    };
    let now = now_ms();
    let rows = matching
        .into_iter()
        .map(|webhook| delivery::new_row(webhook, event.meta.id, &event.name, &body, now))
        .collect();
    delivery::enqueue(&runtime.writer, rows).await?;
    runtime.wake.notify_one();
    Ok(())
}

/// Who a webhook's deliveries are read as: an admin of the organization `org`.
fn admin_of(runtime: &WebhooksRuntime, org: &str) -> AuthContext {
    let org_roles = vec![crate::orgs::ADMIN.to_owned()];
    AuthContext {
        user_id: Some(format!("webhooks:{org}")),
        org_id: Some(org.to_owned()),
        implied_org_roles: runtime.roles.implied(&org_roles),
        org_roles,
        orgs: vec![org.to_owned()],
        ..AuthContext::default()
    }
}

/// Whether `event` may go to webhooks at all: a row event of a resource that is not the
/// webhooks' own.
fn goes_out(event: &Event) -> bool {
    event
        .meta
        .resource
        .as_deref()
        .is_some_and(|resource| !super::OWN_RESOURCES.contains(&resource))
}

/// The body the webhooks of `org` get for `event`: arc's envelope as the events stream
/// shapes it (no writer, correlation or trace id), its `meta` with the organization, the
/// row's values as an admin of `org` may read them; `None` when they may not read the
/// resource's every row, the resource is not the app's any more, or the event is not a
/// row event.
fn body_for(runtime: &WebhooksRuntime, org: &str, event: &Event) -> Option<String> {
    let meta = runtime.resources.get(event.meta.resource.as_deref()?)?;
    let reader = admin_of(runtime, org);
    if !crate::permissions::reads_every_row(meta, &reader) {
        return None;
    }
    let written = event.payload.get("data").and_then(Json::as_object)?;
    let data = crate::events::shown(meta, &reader, written);
    let mut body = crate::events::envelope(event, crate::events::row_payload(meta, event, data));
    if let Some(shown) = body.get_mut("meta").and_then(Json::as_object_mut) {
        shown.insert("organizationId".to_owned(), Json::from(org));
    }
    serde_json::to_string(&body).ok()
}

/// The deliveries of one instance: claims due rows while it has room for attempts, until
/// the app stops; then lets the attempts under way end.
pub(super) async fn deliver(runtime: Arc<WebhooksRuntime>) {
    let settings = &runtime.settings;
    let mut stop = runtime.stop.subscribe();
    let permits = Arc::new(Semaphore::new(settings.concurrency));
    let mut running = JoinSet::new();
    let lease = millis(settings.timeout + LEASE_MARGIN);
    let mut last_prune = 0i64;
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            break;
        }
        while running.try_join_next().is_some() {}
        let free = permits.available_permits();
        let now = now_ms();
        let mut full = false;
        if free > 0 {
            match delivery::claim(&runtime.writer, now, now.saturating_add(lease), free as u64)
                .await
            {
                Ok(rows) => {
                    failures = 0;
                    full = rows.len() == free;
                    for row in rows {
                        // As many rows as free permits were claimed: each finds one.
                        let Ok(permit) = permits.clone().try_acquire_owned() else {
                            break;
                        };
                        let runtime = runtime.clone();
                        running.spawn(async move {
                            attempt(&runtime, row).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "webhooks: claiming deliveries failed");
                }
            }
        }
        if now - last_prune > millis(PRUNE_EVERY.min(settings.retention)) {
            last_prune = now;
            match delivery::prune(
                &runtime.writer,
                now.saturating_sub(millis(settings.retention)),
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "webhooks: pruned ended deliveries"),
                Err(e) => tracing::warn!(error = %e, "webhooks: pruning deliveries failed"),
            }
        }
        if full {
            tokio::task::yield_now().await;
            continue;
        }
        let wait = match failures {
            0 => settings.poll,
            n => settings.retry.backoff(n).max(settings.poll),
        };
        tokio::select! {
            () = runtime.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
    while running.join_next().await.is_some() {}
}

/// How the receiver answered, or why there was no answer.
enum Answer {
    /// It answered with this status.
    Status(u16),
    /// There was no answer: why.
    Error(String),
    /// The webhook is gone or disabled: no attempt was made, none will be.
    Gone(&'static str),
}

/// One attempt of `claimed`, recorded in the log and in its webhook's count of failures.
async fn attempt(runtime: &WebhooksRuntime, claimed: webhook_delivery_entity::Model) {
    let webhook = match webhook_entity::Entity::find_by_id(claimed.webhook_id)
        .one(&runtime.db)
        .await
    {
        Ok(webhook) => webhook,
        Err(e) => {
            // Attempted again when the lease passes.
            tracing::warn!(error = %e, delivery = %claimed.id, "webhooks: reading the webhook failed");
            return;
        }
    };
    let answer = match &webhook {
        None => Answer::Gone("the webhook was deleted"),
        Some(webhook) if webhook.disabled => Answer::Gone("the webhook is disabled"),
        Some(webhook) => send(runtime, webhook, &claimed).await,
    };
    let settings = &runtime.settings;
    let now = now_ms();
    let ended = |status, due_at, response_status, error| Ended {
        status,
        due_at,
        response_status,
        error,
    };
    // A failed attempt is retried after a backoff, unless it was the last.
    let retry = |response_status: Option<i32>, error: String| {
        let attempts = u32::try_from(claimed.attempts).unwrap_or(u32::MAX);
        if attempts >= settings.retry.attempts {
            (
                ended(DeliveryStatus::Failed, now, response_status, Some(error)),
                "failed",
            )
        } else {
            let due_at = now.saturating_add(millis(settings.retry.backoff(attempts)));
            (
                ended(
                    DeliveryStatus::Pending,
                    due_at,
                    response_status,
                    Some(error),
                ),
                "retry",
            )
        }
    };
    let (ended, outcome) = match answer {
        Answer::Status(code) if (200..300).contains(&code) => (
            ended(DeliveryStatus::Delivered, now, Some(i32::from(code)), None),
            "delivered",
        ),
        Answer::Status(code) => retry(
            Some(i32::from(code)),
            format!("the receiver answered {code}"),
        ),
        Answer::Error(why) => retry(None, why),
        Answer::Gone(why) => (
            ended(DeliveryStatus::Failed, now, None, Some(why.to_owned())),
            "failed",
        ),
    };
    let delivered = ended.status == DeliveryStatus::Delivered;
    match delivery::finish(&runtime.writer, &claimed, ended).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(delivery = %claimed.id, "webhooks: the attempt's lease passed; another attempt records");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, delivery = %claimed.id, "webhooks: recording an attempt failed");
            return;
        }
    }
    runtime.metric(|| {
        metrics::counter!("arc_webhook_deliveries_total", "outcome" => outcome).increment(1);
    });
    if let Some(webhook) = webhook.filter(|w| !w.disabled)
        && let Err(e) = count(runtime, &webhook, delivered).await
    {
        tracing::warn!(error = %e, webhook = %webhook.id, "webhooks: counting failures failed");
    }
}

/// The POST of `claimed` to `webhook`.
async fn send(
    runtime: &WebhooksRuntime,
    webhook: &webhook_entity::Model,
    claimed: &webhook_delivery_entity::Model,
) -> Answer {
    let url = match target::check_url(&webhook.url, runtime.settings.targets) {
        Ok(url) => url,
        Err(why) => return Answer::Error(why),
    };
    let timestamp = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let body = claimed.body.as_bytes();
    let request = runtime
        .client
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, sign(&webhook.secret, body))
        .header(
            SIGNATURE_V2_HEADER,
            sign_timestamped(&webhook.secret, timestamp, body),
        )
        .header(TIMESTAMP_HEADER, timestamp)
        .header(ID_HEADER, claimed.event_id.to_string())
        .header(EVENT_HEADER, claimed.event.as_str())
        .header(DELIVERY_HEADER, claimed.id.to_string())
        .body(claimed.body.clone());
    match request.send().await {
        Ok(response) => Answer::Status(response.status().as_u16()),
        Err(e) => Answer::Error(describe(&e, runtime.settings.timeout)),
    }
}

/// Why a connection could not be made, as the log says it: every failure to find or
/// reach an address the guard allows (no such name, a name of no public address, an
/// unreachable network) is said the same way, so the log does not tell an organization's
/// admin which of the server's internal names exist.
const UNREACHABLE: &str = "the receiver's address could not be reached";

/// Why a request got no answer, in a line (without the URL, which the log's reader knows):
/// a timeout, a refused connection, an address that could not be reached (see
/// [`UNREACHABLE`]; the resolver's words are never shown), or why a request under way
/// failed.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    if e.is_connect() {
        let io_kind = chain(e).find_map(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind)
        });
        return match io_kind {
            Some(std::io::ErrorKind::ConnectionRefused) => {
                "the receiver refused the connection".to_owned()
            }
            Some(std::io::ErrorKind::TimedOut) => {
                format!("no connection within {} ms", timeout.as_millis())
            }
            _ => UNREACHABLE.to_owned(),
        };
    }
    if e.is_builder() {
        return "the request could not be made".to_owned();
    }
    // Past the connection (to an address the guard allowed): the causes help the receiver's
    // owner, and say nothing of the server's network.
    let mut text = "the request failed".to_owned();
    for cause in chain(e).skip(1) {
        text.push_str(": ");
        text.push_str(&cause.to_string());
    }
    if text.len() > MAX_ERROR {
        let mut end = MAX_ERROR;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// `e` and its causes, outermost first.
fn chain<'e>(
    e: &'e (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'e (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |cause| cause.source())
}

/// Counts an attempt of `webhook`'s: a success clears its failures; a failure adds one,
/// and the one that reaches the limit disables it.
async fn count(
    runtime: &WebhooksRuntime,
    webhook: &webhook_entity::Model,
    delivered: bool,
) -> Result<(), DbErr> {
    use webhook_entity::{Column, Entity};
    if delivered {
        if webhook.failures > 0 {
            Entity::update_many()
                .col_expr(Column::Failures, Expr::value(0))
                .filter(Column::Id.eq(webhook.id))
                .exec(&runtime.writer)
                .await?;
        }
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::Failures, Expr::col(Column::Failures).add(1))
        .filter(Column::Id.eq(webhook.id))
        .exec(&runtime.writer)
        .await?;
    let limit = i32::try_from(runtime.settings.disable_after).unwrap_or(i32::MAX);
    let reason = format!("disabled after {limit} failed attempts in a row");
    let disabled = Entity::update_many()
        .col_expr(Column::Disabled, Expr::value(true))
        .col_expr(Column::DisabledReason, Expr::value(reason))
        .col_expr(Column::UpdatedAt, Expr::value(chrono::Utc::now()))
        .filter(Column::Id.eq(webhook.id))
        .filter(Column::Disabled.eq(false))
        .filter(Column::Failures.gte(limit))
        .exec(&runtime.writer)
        .await?;
    if disabled.rows_affected == 1 {
        tracing::warn!(
            webhook = %webhook.id,
            organization = %webhook.organization_id,
            failures = limit,
            "webhooks: a webhook kept failing and was disabled"
        );
        runtime.metric(|| metrics::counter!("arc_webhooks_disabled_total").increment(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::{OWN_RESOURCES, Webhook, WebhookDelivery};

    async fn failure(client: &reqwest::Client, url: &str) -> String {
        let e = client.post(url).send().await.unwrap_err();
        describe(&e, Duration::from_secs(10))
    }

    /// A name of no public address (refused by the guard) and a name that does not exist
    /// read the same in the log; a refused connection reads as one.
    #[tokio::test]
    async fn the_log_does_not_tell_internal_names_from_missing_ones() {
        let guarded = reqwest::Client::builder()
            .dns_resolver(Arc::new(target::PublicOnly))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let internal = failure(&guarded, "http://localhost:9/hook").await;
        let missing = failure(&guarded, "http://no-such-name.invalid/hook").await;
        assert_eq!(internal, UNREACHABLE);
        assert_eq!(missing, UNREACHABLE);
        assert!(!internal.contains("localhost") && !internal.contains("resolve"));

        let open = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let refused = failure(&open, &format!("http://{addr}/hook")).await;
        assert_eq!(refused, "the receiver refused the connection");
    }

    /// Only the row events of the app's resources go out, not the app's own events nor the
    /// webhooks' own resources'.
    #[test]
    fn only_row_events_of_the_apps_resources_go_out() {
        use crate::resource::Resource;
        assert_eq!(
            OWN_RESOURCES,
            [
                <Webhook as Resource>::META.name,
                <WebhookDelivery as Resource>::META.name
            ]
        );
        let mut event = Event::new("product.created", serde_json::json!({}));
        assert!(!goes_out(&event), "an app's own event");
        event.meta.resource = Some("product".to_owned());
        assert!(goes_out(&event));
        for own in OWN_RESOURCES {
            event.meta.resource = Some(own.to_owned());
            assert!(!goes_out(&event), "{own}");
        }
    }
}
