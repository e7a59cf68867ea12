//! Webhooks: an organization's events POSTed to the URLs its admins subscribe, signed.
//!
//! [`App::webhooks`](crate::App::webhooks) mounts two resources of the framework's own,
//! for the owners and admins of the active organization: [`Webhook`] at `/webhooks` (the
//! subscriptions: a URL, event patterns, a secret) and [`WebhookDelivery`] at
//! `/webhook-deliveries` (the delivery log, read-only). Deliveries come from the events'
//! outbox: a subscriber of every event (once per event in the cluster) hands each event of
//! an organization to that organization's matching webhooks as rows of the log, and every
//! instance attempts the due rows, each under a lease: a POST of arc's envelope
//! `{"type", "payload", "meta"}` with arc's headers (`x-webhook-signature: sha256=<hex>`,
//! `x-webhook-id`, `x-webhook-event`) and a timestamped second signature ([`verify`] and
//! [`verify_timestamped`] check them). A 2xx delivers it; anything else is retried with
//! backoff, and after the last attempt the delivery fails. A webhook whose attempts keep
//! failing is disabled. Delivery is at least once: a receiver keeps the `x-webhook-id`s it handled.
//!
//! A receiver that must refuse replayed requests verifies the timestamped signature,
//! `x-webhook-signature-v2` over `{x-webhook-timestamp}.{body}` ([`verify_timestamped`], with
//! a window): the plain `x-webhook-signature` ([`verify`]) signs the body alone, so a
//! captured request verifies again whenever it is sent.
//!
//! An event reaches the webhooks of its own organization only, and as its admins may read
//! it: the rows of a resource whose every row they may not read (a rule narrowing rows, an
//! owner scope they are not exempt from, read hooks) are not sent, and fields hidden from
//! them are left out or masked, as on `GET /events/stream`. Only the row events of the
//! app's resources go out:
//!
//! - app events are not delivered to webhooks: an event the app publishes itself
//!   ([`ArcState::publish`](crate::ArcState::publish),
//!   [`WriteContext::publish`](crate::WriteContext::publish)) carries a payload of the app's
//!   making, which nothing checks against what the admins may read (the events stream
//!   refuses them too); an app hands such an event to a receiver with a subscriber of its
//!   own ([`Events::on`](crate::config::Events::on));
//! - the events of the webhooks' own resources (`webhook.*`, `webhook_delivery.*`) go to no
//!   webhook: a webhook's URL often holds its receiver's token, and is not sent to another
//!   receiver.
//!
//! The envelope is the events stream's: `{"type", "payload", "meta"}` with `payload`
//! `{resource, operation, data, timestamp}` and `meta` `{id, timestamp, resource,
//! resourceId, organizationId}` (`meta.id` is the `x-webhook-id`); the request's internal
//! identifiers (the writer's id, the correlation and trace ids) stay inside.
//!
//! An organization has at most [`Webhooks::max_per_org`] webhooks (50 by default): one
//! more is refused with 409 `CONFLICT`. A failed attempt's `last_error` says how it failed
//! (a timeout, a refused connection, the receiver's status) but not why an address could
//! not be reached: a missing name and one the target guard refuses read the same.
//!
//! Known limit: the deliveries disable a webhook that keeps failing by a write of their
//! own, not through the resource's routes, so the disabling leaves no entry in the audit
//! trail (its `disabled_reason`, a `warn` log line and `arc_webhooks_disabled_total` tell
//! of it); an admin turning it back on is audited.
//!
//! ```no_run
//! # async fn run(app: arc_runtime::App) -> std::io::Result<()> {
//! use arc_runtime::config::Events;
//! use arc_runtime::webhooks::Webhooks;
//! let app = app.events(Events::new()).webhooks(Webhooks::new());
//! app.serve("127.0.0.1:3000").await
//! # }
//! ```

mod delivery;
mod signature;
mod subscription;
mod target;
mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use delivery::DeliveriesMigration;
pub use delivery::{DeliveryStatus, WebhookDelivery, webhook_delivery_entity};
pub use signature::{
    DELIVERY_HEADER, EVENT_HEADER, ID_HEADER, SIGNATURE_HEADER, SIGNATURE_V2_HEADER,
    SignatureError, TIMESTAMP_HEADER, sign, sign_timestamped, verify, verify_timestamped,
};
pub use subscription::{MAX_PATTERNS, Webhook, webhook_entity};
use target::Targets;

use crate::auth::RoleHierarchy;
use crate::hooks::WriteContext;
use crate::plugins::metrics::Metrics;
use crate::resource::ResourceMeta;
use crate::retry::Retry;

/// The framework's own resources of the webhooks: their events go to no webhook (one
/// vendor's URL, which often holds a token, is not sent to another).
pub(crate) const OWN_RESOURCES: [&str; 2] = ["webhook", "webhook_delivery"];

/// The webhooks' settings (see [`App::webhooks`](crate::App::webhooks)).
///
/// ```
/// use arc_runtime::config::Retry;
/// use arc_runtime::webhooks::Webhooks;
/// use std::time::Duration;
///
/// let webhooks = Webhooks::new()
///     .timeout(Duration::from_secs(5))
///     .retry(Retry { attempts: 10, base: Duration::from_secs(30), max: Duration::from_secs(3600) })
///     .disable_after(50);
/// # let _ = webhooks;
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct Webhooks {
    pub(crate) targets: Targets,
    pub(crate) timeout: Duration,
    pub(crate) retry: Retry,
    pub(crate) disable_after: u32,
    pub(crate) concurrency: usize,
    pub(crate) poll: Duration,
    pub(crate) retention: Duration,
    pub(crate) max_per_org: u64,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self::new()
    }
}

impl Webhooks {
    /// How long a receiver has to answer (arc's default).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Failed attempts in a row (across deliveries) that disable a webhook.
    pub const DEFAULT_DISABLE_AFTER: u32 = 20;
    /// Attempts one instance runs at once.
    pub const DEFAULT_CONCURRENCY: usize = 16;
    /// How long ended deliveries stay in the log.
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
    /// The most webhooks one organization has.
    pub const DEFAULT_MAX_PER_ORG: u64 = 50;

    /// Webhooks with the defaults above: 8 attempts per delivery, 10 s after the first
    /// failure, doubling to at most an hour; https to public addresses only.
    pub fn new() -> Self {
        Webhooks {
            targets: Targets::Public,
            timeout: Self::DEFAULT_TIMEOUT,
            retry: Retry {
                attempts: 8,
                base: Duration::from_secs(10),
                max: Duration::from_secs(3600),
            },
            disable_after: Self::DEFAULT_DISABLE_AFTER,
            concurrency: Self::DEFAULT_CONCURRENCY,
            poll: Duration::from_secs(1),
            retention: Self::DEFAULT_RETENTION,
            max_per_org: Self::DEFAULT_MAX_PER_ORG,
        }
    }

    /// Lets a webhook's URL be `http` and reach any address, the server's own network
    /// included: for development and tests, never where organizations you do not trust
    /// manage webhooks (see the target guard in the module's documentation).
    pub fn allow_insecure(mut self) -> Self {
        self.targets = Targets::Any;
        self
    }

    /// How long a receiver has to answer (at least 100 ms).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(100));
        self
    }

    /// How a failed delivery is retried: `attempts` in all, with backoff.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry.at_least_once();
        self
    }

    /// Failed attempts in a row (at least 1) after which a webhook is disabled.
    pub fn disable_after(mut self, failures: u32) -> Self {
        self.disable_after = failures.max(1);
        self
    }

    /// Attempts this instance runs at once (at least 1).
    pub fn concurrency(mut self, attempts: usize) -> Self {
        self.concurrency = attempts.max(1);
        self
    }

    /// How often an instance looks for due deliveries (new ones of its own wake it at once).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every.max(Duration::from_millis(10));
        self
    }

    /// How long ended deliveries stay in the log.
    pub fn retention(mut self, keep: Duration) -> Self {
        self.retention = keep;
        self
    }

    /// The most webhooks one organization has (at least 1): creating another is refused
    /// with 409 `CONFLICT` until one is deleted. Each webhook is one row of the log per
    /// event, so this bounds what one organization's event costs.
    pub fn max_per_org(mut self, webhooks: u64) -> Self {
        self.max_per_org = webhooks.max(1);
        self
    }
}

/// The target guard of the app `ctx` writes in (strict when it has no webhooks).
fn targets_of(ctx: &WriteContext<'_>) -> Targets {
    ctx.state()
        .webhooks()
        .map_or(Targets::Public, |w| w.settings.targets)
}

/// The most webhooks an organization of the app `ctx` writes in has.
fn max_per_org_of(ctx: &WriteContext<'_>) -> u64 {
    ctx.state()
        .webhooks()
        .map_or(Webhooks::DEFAULT_MAX_PER_ORG, |w| w.settings.max_per_org)
}

/// The running webhooks of an app: the fan-out subscriber and the deliveries share it.
pub(crate) struct WebhooksRuntime {
    settings: Webhooks,
    /// The app's pool, for reads.
    db: sea_orm::DatabaseConnection,
    /// The app's writer, for the log's writes.
    writer: sea_orm::DatabaseConnection,
    client: reqwest::Client,
    resources: HashMap<&'static str, &'static ResourceMeta>,
    roles: RoleHierarchy,
    metrics: Option<Metrics>,
    /// Poked when deliveries were added.
    wake: tokio::sync::Notify,
    stop: tokio::sync::watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for WebhooksRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhooksRuntime")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl WebhooksRuntime {
    /// The runtime of `settings`, its deliveries not started (see [`WebhooksRuntime::spawn`]);
    /// or why its HTTP client cannot be made.
    pub(crate) fn new(
        settings: Webhooks,
        db: sea_orm::DatabaseConnection,
        writer: sea_orm::DatabaseConnection,
        metrics: Option<Metrics>,
        resources: &[&'static ResourceMeta],
        roles: RoleHierarchy,
    ) -> Result<Arc<WebhooksRuntime>, reqwest::Error> {
        let mut client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("arc-rs-webhooks/", env!("CARGO_PKG_VERSION")));
        if settings.targets == Targets::Public {
            client = client.dns_resolver(Arc::new(target::PublicOnly));
        }
        let (stop, _) = tokio::sync::watch::channel(false);
        Ok(Arc::new(WebhooksRuntime {
            client: client.build()?,
            settings,
            db,
            writer,
            resources: resources.iter().map(|m| (m.name, *m)).collect(),
            roles,
            metrics,
            wake: tokio::sync::Notify::new(),
            stop,
            task: Mutex::new(None),
        }))
    }

    /// `events` with the subscriber that hands every event to the webhooks.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        events: crate::events::Events,
    ) -> crate::events::Events {
        let runtime = self.clone();
        events.on("*", move |event| {
            let runtime = runtime.clone();
            async move { worker::fan_out(&runtime, &event).await }
        })
    }

    /// Starts the deliveries on the current Tokio runtime (none outside one: deliveries
    /// wait in the log until an app is served).
    pub(crate) fn spawn(self: &Arc<Self>) {
        if tokio::runtime::Handle::try_current().is_ok() {
            let task = tokio::spawn(worker::deliver(self.clone()));
            *self.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        } else {
            tracing::warn!("webhooks: no Tokio runtime, so no deliveries; they wait in the log");
        }
    }

    /// Stops taking deliveries and lets the attempts under way end, within `within` (an
    /// attempt cut short is attempted again when its lease passes).
    pub(crate) async fn shutdown(&self, within: Duration) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let abort = task.abort_handle();
            if tokio::time::timeout(within, task).await.is_err() {
                tracing::warn!(
                    "webhooks: attempts still running at shutdown; left to their leases"
                );
                abort.abort();
            }
        }
    }

    fn metric(&self, f: impl FnOnce()) {
        if let Some(metrics) = &self.metrics {
            metrics.record(f);
        }
    }
}
