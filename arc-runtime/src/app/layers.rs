//! The router: the API, the service routes and health, and the layer stack around them.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

use super::{App, ArcState, StateInner};
use crate::error::{ArcError, ErrorCode};
use crate::plugins::health::{self, Health};
use crate::plugins::metrics;
use crate::plugins::pipeline::{InFlight, Pipeline, PipelineLayer};
use crate::plugins::request_id;
use crate::plugins::versioning::VersionBy;
use crate::query::CursorKey;

impl App {
    /// The axum router: every route, health and metrics, the contract's 404 and 405, and the
    /// layers, outermost first: request ids (in the pipeline when CORS is off), CORS,
    /// compression, the pipeline (trace span and context, error envelope,
    /// ETags, security headers, metrics, load shedding, the timeout and panic catching: one
    /// tower service), then, for the API alone (the resources, the app's routes, the registry
    /// and the 404/405 answers), authentication, rate limits, steps and the app's own layers;
    /// the body limit on the routes that read a body (the app's routes, the resources' writes).
    ///
    /// Health, metrics and the documents are service routes: they answer whatever the callers
    /// send and however many there are (a load balancer's probe or a scraper is not a user),
    /// so they sit outside authentication and the rate limit; `/_metrics` checks its own
    /// token ([`Metrics::bearer_token`](crate::plugins::metrics::Metrics::bearer_token)).
    pub fn into_router(self) -> Router {
        self.build().0
    }

    /// The router, the health checks (serving drains them) and what runs beside them
    /// (serving stops it at shutdown).
    pub(super) fn build(self) -> (Router, Health, Background) {
        let prefixes = self.path_prefixes();
        let (documents, registry) = if self.docs {
            (
                Some(crate::docs::docs_routes(self.document())),
                Some(crate::docs::registry_route(self.description())),
            )
        } else {
            (None, None)
        };
        // The MCP tools, from the document (made before the settings below are moved).
        #[cfg(feature = "mcp")]
        let mcp = self.mcp.clone().and_then(|settings| {
            let document = self
                .openapi()
                .inspect_err(|e| tracing::error!(error = %e, "mcp: no document, so no tools"))
                .ok()?;
            let resources: Vec<_> = self.resources.iter().map(|r| r.meta).collect();
            Some(crate::mcp::Endpoint::new(
                settings,
                &document,
                &resources,
                (&self.title, &self.version),
                self.docs,
            ))
        });
        let health = self
            .health
            .clone()
            .database(self.db.clone())
            .expose_errors(self.expose_causes);
        let audit_settings = self.audit_settings();
        let elevation = self.elevation().is_some();
        let writer = crate::db::Writer::new(&self.db);
        // The SQL store of idempotency keys stays on the app's pool: a key's claim must be
        // answered (409 while its request runs) without waiting for the writer.
        let idempotency = self.idempotency_settings().map(|settings| {
            crate::plugins::idempotency::IdempotencyRuntime::start(
                settings,
                self.db.clone(),
                self.body_limit,
            )
        });
        let roles = self
            .auth
            .as_ref()
            .map(|auth| auth.roles().clone())
            .unwrap_or_default();
        #[cfg(feature = "webhooks")]
        let (webhooks, events) = {
            let resources: Vec<_> = self.resources.iter().map(|r| r.meta).collect();
            let webhooks = self.webhooks.and_then(|settings| {
                crate::webhooks::WebhooksRuntime::new(
                    settings,
                    self.db.clone(),
                    writer.db().clone(),
                    self.metrics.get().cloned(),
                    &resources,
                    roles.clone(),
                )
                .inspect_err(|e| {
                    tracing::error!(error = %e, "webhooks: no HTTP client, so no deliveries");
                })
                .ok()
            });
            let events = match &webhooks {
                Some(webhooks) => self.events.map(|events| webhooks.subscribe(events)),
                None => self.events,
            };
            (webhooks, events)
        };
        #[cfg(not(feature = "webhooks"))]
        let events = self.events;
        #[cfg(feature = "jobs")]
        let (jobs, events) = match self.jobs {
            Some(jobs) => {
                let events = events.map(|events| jobs.subscribe(events));
                (Some(jobs.runtime), events)
            }
            None => (None, events),
        };
        #[cfg(feature = "jobs")]
        let jobs_route = jobs.is_some();
        let events = events.map(|settings| {
            let resources: Vec<_> = self.resources.iter().map(|r| r.meta).collect();
            crate::events::EventsRuntime::start(
                settings,
                self.db.clone(),
                writer.db().clone(),
                self.metrics.get().cloned(),
                &resources,
            )
        });
        let stream = events.as_ref().is_some_and(|e| e.settings.stream);
        let websocket = events.as_ref().is_some_and(|e| e.settings.websocket);
        let audit = audit_settings.map(|settings| {
            let resources: Vec<_> = self.resources.iter().map(|r| r.meta).collect();
            crate::audit::AuditRuntime::start(
                settings,
                self.db.clone(),
                self.metrics.get().cloned(),
                &resources,
            )
        });
        let audited = audit.is_some();
        let cache = if self.cache_off {
            None
        } else {
            let resources: Vec<_> = self.resources.iter().map(|r| r.meta).collect();
            crate::cache::CacheRuntime::start(
                self.cache,
                &resources,
                self.metrics.get().cloned(),
                self.etag,
            )
        };
        let reader = crate::db::Reader::new(&self.db);
        let state = ArcState(Arc::new(StateInner {
            writer,
            reader,
            kept: crate::crud::ops::Kept::default(),
            db: self.db,
            cursor_key: self.cursor_key.unwrap_or_else(CursorKey::random),
            limits: self.limits,
            events: events.clone(),
            audit,
            cache,
            memberships: self
                .auth
                .as_ref()
                .and_then(crate::auth::Auth::memberships_settings)
                .cloned(),
            roles,
            #[cfg(feature = "webhooks")]
            webhooks: webhooks.clone(),
            #[cfg(feature = "jobs")]
            jobs: jobs.clone(),
        }));
        #[cfg(feature = "jobs")]
        if let Some(jobs) = &jobs {
            jobs.spawn(state.clone());
        }
        #[cfg(feature = "webhooks")]
        if let Some(webhooks) = &webhooks {
            webhooks.spawn();
        }
        // The app's own routes may read a body of any kind: the limit is theirs as a layer.
        // The resources' routes limit the bodies of their writes themselves, so that a read
        // crosses one layer fewer.
        let routes = self.resources.iter().fold(
            self.routes.layer(DefaultBodyLimit::max(self.body_limit)),
            |routes, resource| {
                let router = (resource.router)(self.body_limit);
                if resource.base.is_empty() {
                    routes.merge(router)
                } else {
                    routes.merge(under(&resource.base, router))
                }
            },
        );
        let api = match &self.versioning {
            None => routes,
            Some(v) if v.by() == VersionBy::Header => routes.layer(from_fn_with_state(
                v.scope(None),
                crate::plugins::versioning::layer,
            )),
            Some(v) => v.names().fold(Router::new(), |router, name| {
                let prefix = format!("/v{name}");
                let scope = v.scope(Some(name));
                let versioned = routes
                    .clone()
                    .layer(from_fn_with_state(scope, crate::plugins::versioning::layer));
                router.nest(&prefix, versioned)
            }),
        };

        // The idempotent routes find the store here (their middleware is the route's own).
        let api = match idempotency {
            Some(runtime) => api.layer(axum::Extension(runtime)),
            None => api,
        };

        // The API: what callers reach with their credentials, under their limits. The
        // registry is for admins, so it is here too; so are the 404 and 405 answers (an
        // unknown path is a caller's request like any other).
        // One stream for every API version: events are not versioned.
        let api = if stream {
            api.route(crate::events::STREAM_PATH, get(crate::events::stream))
        } else {
            api
        };
        let api = if websocket {
            api.route(crate::events::WS_PATH, get(crate::events::websocket))
        } else {
            api
        };
        #[cfg(feature = "jobs")]
        let api = if jobs_route {
            api.route(crate::jobs::PATH, get(crate::jobs::route::overview))
        } else {
            api
        };
        let api = if audited {
            // One trail for every API version, like the stream.
            api.route(crate::audit::PATH, get(crate::audit::route::list))
        } else {
            api
        };
        // The session routes: logout is the caller's (authenticated like any request); the
        // refresh is not, since its caller's access token has usually expired.
        let sessions = self.sessions.clone().zip(
            self.auth
                .as_ref()
                .map(|auth| auth.revocation_store().clone()),
        );
        let sessions = sessions.map(|(sessions, revocation)| crate::auth::sessions::Routes {
            sessions,
            revocation,
        });
        let api = match &sessions {
            Some(routes) => {
                let routes = routes.clone();
                api.route(
                    &format!("{}/logout", routes.sessions.base()),
                    axum::routing::post(move |caller| {
                        crate::auth::sessions::logout_route(routes.clone(), caller)
                    }),
                )
            }
            None => api,
        };
        let mut api = match registry {
            Some(registry) => api.merge(registry),
            None => api,
        }
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
        // The app's own layers may read a body too: when it has some, they get the limit.
        let app_layers = !self.layers.is_empty();
        for apply in self.layers {
            api = apply(api);
        }
        if app_layers {
            api = api.layer(DefaultBodyLimit::max(self.body_limit));
        }
        if !self.steps.is_empty() {
            api = api.layer(from_fn_with_state(
                Arc::new(self.steps.clone()),
                crate::plugins::steps::layer,
            ));
        }
        if elevation {
            // Right inside authentication: an elevated request is on record before any of
            // the app's code sees it.
            api = api.layer(from_fn_with_state(
                state.clone(),
                crate::audit::elevation::record,
            ));
        }
        if self.auth.is_some() || self.rate_limit.is_some() {
            // Inside the request-id layer, so authentication errors carry the id; the rate
            // limit right after authentication, so the caller is known.
            let mut access =
                crate::auth::AccessLayer::with(self.auth.clone(), self.rate_limit.clone());
            if let Some(base) = &self.organizations {
                use crate::resource::Resource;
                let path = crate::orgs::Organization::META.path;
                let collections = prefixes
                    .iter()
                    .map(|prefix| format!("{prefix}{base}{path}"));
                access = access.organizations_at(collections);
            }
            api = api.layer(access);
        }

        // The service routes: no caller, no limit. Metrics check their own token.
        let mut service = Router::new();
        if let Some(metrics) = self.metrics.get() {
            let metrics = metrics.clone();
            service = service.route(
                "/_metrics",
                get(move |headers| metrics::render(metrics.clone(), headers)),
            );
        }
        if let Some(documents) = documents {
            service = service.merge(documents);
        }
        if let Some(routes) = sessions {
            let path = format!("{}/refresh", routes.sessions.base());
            // No caller (its access token has usually expired), but the rate limit, keyed
            // on the address, and a body the size of a token.
            let refresh = axum::routing::post(move |headers, body| {
                crate::auth::sessions::refresh_route(routes.clone(), headers, body)
            })
            .layer(DefaultBodyLimit::max(
                crate::auth::sessions::REFRESH_BODY_LIMIT,
            ));
            let refresh = match &self.rate_limit {
                Some(limit) => {
                    refresh.layer(crate::auth::AccessLayer::with(None, Some(limit.clone())))
                }
                None => refresh,
            };
            service = service.route(&path, refresh);
        }
        let service = service.method_not_allowed_fallback(method_not_allowed);

        let pipeline = Pipeline {
            metrics: self.metrics.get().cloned(),
            expose_causes: self.expose_causes,
            security_headers: self.security_headers,
            etag: self.etag,
            timeout: self.timeout,
            in_flight: self.max_in_flight.map(InFlight::new),
            // CORS answers some requests itself (a preflight), which never reach the
            // pipeline: the request id layer goes in front of it. Without CORS the pipeline
            // gives the ids (compression answers nothing itself and keeps the headers it is
            // given), and every request crosses one layer fewer.
            request_id: self.cors.is_none(),
            compression: self.compression,
        };
        // Health is not shed: a probe answered 503 because the instance is busy takes it out
        // of the balancer (or restarts it), which moves its load onto the others until they
        // fall over too. Readiness says whether the instance can serve, not how busy it is;
        // the probes are cheap and do not count against the limit. The timeout still
        // applies: a readiness check stuck past it is a 503, which is the truth.
        let probes = Pipeline {
            in_flight: None,
            ..pipeline.clone()
        };
        let pipeline_ids = pipeline.request_id;
        // MCP's own request counts toward no in-flight limit: its tool call's request does.
        // No compression sits around it.
        #[cfg(feature = "mcp")]
        let mcp_pipeline = Pipeline {
            in_flight: None,
            compression: false,
            ..pipeline.clone()
        };
        // Compression around the pipeline, in the same layer: every `Router::layer` costs each
        // request a clone of its route and a boxed future.
        let compression = self.compression.then(|| {
            tower_http::compression::CompressionLayer::new()
                .compress_when(crate::plugins::hygiene::Compressible)
        });
        let around = |router: Router<ArcState>, pipeline: Pipeline| match &compression {
            Some(compression) => router.layer(
                tower::ServiceBuilder::new()
                    .layer(compression.clone())
                    .layer(PipelineLayer::new(pipeline)),
            ),
            None => router.layer(PipelineLayer::new(pipeline)),
        };
        let ready = health.clone();
        let health_routes = Router::new()
            .route("/_health/live", get(health::live))
            .route(
                "/_health/ready",
                get(move || {
                    let health = ready.clone();
                    async move { health.report().await }
                }),
            )
            .method_not_allowed_fallback(method_not_allowed);
        let router = around(health_routes, probes).merge(around(service.merge(api), pipeline));
        let cors = self.cors.as_ref().map(|cors| cors.layer());
        let outermost = move |router: Router| {
            let router = match &cors {
                Some(cors) => router.layer(cors.clone()),
                None => router,
            };
            if pipeline_ids {
                router
            } else {
                router.layer(request_id::RequestIdLayer)
            }
        };
        let router = outermost(router.with_state(state));
        // MCP beside the app, its calls going through the app (without MCP itself): the
        // same pipeline, CORS and request ids around it, and the caller known and rate
        // limited as on the API (a bad token is a 401 here already).
        #[cfg(feature = "mcp")]
        let router = match mcp {
            Some(endpoint) => {
                let route = endpoint.route(router.clone(), self.body_limit);
                let route = if self.auth.is_some() || self.rate_limit.is_some() {
                    route.layer(crate::auth::AccessLayer::with(
                        self.auth.clone(),
                        self.rate_limit.clone(),
                    ))
                } else {
                    route
                };
                router.merge(outermost(route.layer(PipelineLayer::new(mcp_pipeline))))
            }
            None => router,
        };
        let background = Background {
            events,
            #[cfg(feature = "webhooks")]
            webhooks,
            #[cfg(feature = "jobs")]
            jobs,
        };
        (router, health, background)
    }
}

/// What runs beside the router until the app stops: the events' relay and subscribers, the
/// webhooks' deliveries, the jobs' workers.
pub(super) struct Background {
    events: Option<Arc<crate::events::EventsRuntime>>,
    #[cfg(feature = "webhooks")]
    webhooks: Option<Arc<crate::webhooks::WebhooksRuntime>>,
    #[cfg(feature = "jobs")]
    jobs: Option<Arc<crate::jobs::JobsRuntime>>,
}

impl Background {
    /// Stops each, giving it `within` to end its work: the relay stops after its round and
    /// gives its lease up, subscribers finish what is queued for them, deliveries under way
    /// end.
    pub(super) async fn shutdown(self, within: std::time::Duration) {
        if let Some(events) = self.events {
            events.shutdown(within).await;
        }
        #[cfg(feature = "webhooks")]
        if let Some(webhooks) = self.webhooks {
            webhooks.shutdown(within).await;
        }
        // After the events: a subscriber that finished enqueued its job.
        #[cfg(feature = "jobs")]
        if let Some(jobs) = self.jobs {
            jobs.shutdown(within).await;
        }
    }
}

async fn not_found() -> ArcError {
    ArcError::not_found("Route not found")
}

async fn method_not_allowed() -> ArcError {
    ArcError::new(
        ErrorCode::MethodNotAllowed,
        "Method not allowed on this route",
    )
}

/// `router` served under the base path `base` (one `mount_base` accepts, not empty), the
/// `Location` of its new rows with it (a version's prefix goes before it afterwards: the
/// version's layer is outside this one).
fn under(base: &Arc<str>, router: Router<ArcState>) -> Router<ArcState> {
    let prefix = Arc::clone(base);
    Router::new()
        .nest(base, router)
        .layer(axum::middleware::map_response(
            move |mut response: axum::response::Response| {
                let prefix = Arc::clone(&prefix);
                async move {
                    crate::crud::response::prefix_location(response.headers_mut(), &prefix);
                    response
                }
            },
        ))
}
