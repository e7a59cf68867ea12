//! The OpenAPI 3.1 document of an app, assembled from what each `#[resource]` declares: its
//! route table ([`crate::crud::routes`]), what each route's handler answers (the typed
//! outcomes of [`crate::crud::response`], asked through [`crate::crud::routes::Answers`]), its
//! field table (the bodies, through [`crate::wire`]; filters, operators, sort and select
//! fields) and its permission rules. It is served at `/_docs/openapi.json`; `/_docs` renders
//! it for people.
//!
//! Component names follow the resource (`Product`, `ProductCreate`, `ProductPatch`,
//! `ProductPage`, ...: see [`crate::crud::response`]); shared ones (`ErrorEnvelope`,
//! `DeleteResult`) appear once. A name taken twice (two resources of the same name) is an
//! error of the document, reported by [`Document::build`].

use arc_spec::QueryParam;
use arc_spec::names::to_pascal;
use axum::http::Method;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::action::Action;
use crate::crud::routes::{Answer, RouteInfo, routes};
use crate::error::ErrorEnvelope;
use crate::plugins::idempotency::{KEY_HEADER, MAX_KEY_LEN, REPLAYED_HEADER};
use crate::query::{Op, QueryLimits};
use crate::resource::{FieldMeta, ResourceMeta};
use crate::wire::{self, View, value_schema};

/// A mounted resource: its router, and what the document and the registry see of it.
#[derive(Clone)]
pub(crate) struct Registered {
    /// Its field table, routes and rules.
    pub meta: &'static ResourceMeta,
    /// The base path its routes are served under (empty: where its path says).
    pub base: std::sync::Arc<str>,
    /// What each of its routes answers, from the route's handler; `None` for a route it does
    /// not serve (never one of `routes(meta)`).
    pub answer: fn(&RouteInfo, &mut SchemaGenerator) -> Option<Answer>,
    /// Its routes, those that read a body limited to the bytes given (the app's limit,
    /// known when the router is built).
    pub router: fn(usize) -> axum::Router<crate::app::ArcState>,
    /// Why its rows cannot be read ([`crate::resource::column_order`]); `None` for every
    /// resource the macro writes.
    pub unreadable: fn() -> Option<String>,
    /// The body of its action route ([`action_body`] of its actions' enum).
    pub actions: fn() -> ActionSchemas,
}

impl Registered {
    /// Where `path`, one of its routes' templates, is served: under its base path.
    pub(crate) fn served(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("name", &self.meta.name)
            .finish_non_exhaustive()
    }
}

/// A route the app serves beside its resources (health, metrics, docs, registry, or the
/// app's own), for the document and the `routes` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRoute {
    /// The method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// One line about it.
    pub summary: &'static str,
    /// Who may call it (`public`, `admin`, `bearer token`).
    pub access: &'static str,
    /// The media type of its 200 answer.
    pub produces: &'static str,
}

/// What the document is made of (the App fills it in).
#[derive(Clone, Debug, Default)]
pub(crate) struct Document {
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub version: String,
    /// The resources, in mount order.
    pub resources: Vec<Registered>,
    /// The service and app routes.
    pub service: Vec<ServiceRoute>,
    /// The app's routes under the rules ([`crate::CustomRoute`]).
    pub custom: Vec<crate::custom::RouteDoc>,
    /// The security schemes of the app's authenticators (`bearerAuth`, `apiKey`).
    pub security_schemes: Vec<(&'static str, Value)>,
    /// Whether a rate limit may answer 429.
    pub rate_limited: bool,
    /// Whether reads carry an `ETag` and answer `If-None-Match` with 304.
    pub conditional: bool,
    /// Whether callers may elevate ([`crate::auth::Elevation`]): the operations that
    /// check who calls take `x-arc-scope` and `x-arc-reason`.
    pub elevation: bool,
    /// Path prefixes the resources are served under (`["/v1", "/v2"]` with path
    /// versioning; `[""]` otherwise).
    pub prefixes: Vec<String>,
    /// The query grammar's bounds.
    pub limits: QueryLimits,
    /// Each role and the roles it includes ([`crate::RoleHierarchy`]), for `x-arc-roles`.
    pub roles: std::collections::BTreeMap<String, Vec<String>>,
    /// The session routes' base path and whether cookies carry the tokens
    /// ([`crate::config::Sessions`]).
    pub sessions: Option<(String, bool)>,
}

/// Why a document could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Two components wanted the same name.
    #[error("two schemas are named `{0}`: rename one of the types")]
    DuplicateName(String),
}

impl Document {
    /// The OpenAPI 3.1 document, as JSON.
    pub(crate) fn build(&self) -> Result<Value, DocumentError> {
        let mut generator = SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "#/components/schemas/".into();
                s.meta_schema = None;
            })
            // The generator describes answers: what the server writes (a member skipped when
            // empty is not required).
            .for_serialize()
            .into_generator();
        let mut paths: Map<String, Value> = Map::new();
        let mut ours: Map<String, Value> = Map::new();
        let mut embedded: Vec<&'static str> = Vec::new();
        let add = |schemas: &mut Map<String, Value>, name: String, schema: Value| {
            if schemas.insert(name.clone(), schema).is_some() {
                return Err(DocumentError::DuplicateName(name));
            }
            Ok(())
        };
        generator.subschema_for::<ErrorEnvelope>();
        let mut tags = Vec::new();
        let prefixes = if self.prefixes.is_empty() {
            vec![String::new()]
        } else {
            self.prefixes.clone()
        };
        for resource in &self.resources {
            let meta = resource.meta;
            let names = Names::of(meta);
            add(
                &mut ours,
                names.create.clone(),
                wire::schema(meta, View::Create).to_value(),
            )?;
            add(
                &mut ours,
                names.patch.clone(),
                wire::schema(meta, View::Patch).to_value(),
            )?;
            // A populated reference's rows, one component per target however many embed it.
            for target in meta
                .fields
                .iter()
                .filter(|f| f.populate.is_some() && !f.hidden)
            {
                if let Some(target) = target.references.map(|target| target())
                    && !embedded.contains(&target.name)
                {
                    embedded.push(target.name);
                    add(
                        &mut ours,
                        wire::embedded_name(target),
                        wire::schema(target, View::Embedded).to_value(),
                    )?;
                }
            }
            let acts = if meta.presets.actions {
                let acts = (resource.actions)();
                for (name, schema) in acts.definitions.clone() {
                    add(&mut ours, name, schema)?;
                }
                Some(acts.body)
            } else {
                None
            };
            let tag = meta.collection().to_owned();
            tags.push(
                json!({ "name": tag, "description": format!("The `{}` resource.", meta.name) }),
            );
            for prefix in &prefixes {
                for route in routes(meta) {
                    // Every route of `routes` is served (one predicate decides both), so
                    // its answer is known; a route without one could not be documented.
                    let Some(answer) = (resource.answer)(&route, &mut generator) else {
                        continue;
                    };
                    let body = Bodies {
                        names: &names,
                        actions: acts.as_ref(),
                    };
                    let op = self.operation(meta, &route, &answer, &body, &tag, prefix);
                    let path = paths
                        .entry(format!("{prefix}{}", resource.served(&route.path)))
                        .or_insert_with(|| json!({}));
                    path[route.method.as_str().to_ascii_lowercase()] = op;
                }
            }
        }
        for route in &self.service {
            let op = if route.path == crate::audit::PATH {
                self.audit_operation(route, &mut generator)
            } else {
                service_operation(route, self.rate_limited)
            };
            let path = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
            path[route.method.as_str().to_ascii_lowercase()] = op;
        }
        if let Some((base, cookies)) = &self.sessions {
            let security = self.security_requirements();
            let ops = session_operations(base, *cookies, self.rate_limited, &mut generator);
            for (path, mut op) in ops {
                if path.ends_with("/logout") && !security.is_empty() {
                    op["security"] = security.clone().into();
                }
                let entry = paths.entry(path).or_insert_with(|| json!({}));
                entry["post"] = op;
            }
            tags.push(json!({ "name": "auth", "description": "Sessions: refresh and logout." }));
        }
        // The app's routes are served beside the resources', under the same version prefixes.
        for route in &self.custom {
            let op = custom_operation(route, self.rate_limited, self.elevation, &mut generator);
            for prefix in &prefixes {
                let mut op = op.clone();
                // One id per version, as the resources' operations have (`v2_post_..`).
                let version = prefix.trim_start_matches('/');
                if let (false, Some(id)) = (version.is_empty(), op["operationId"].as_str()) {
                    op["operationId"] = format!("{version}_{id}").into();
                }
                let path = paths
                    .entry(format!("{prefix}{}", route.path))
                    .or_insert_with(|| json!({}));
                path[route.method.as_str().to_ascii_lowercase()] = op;
            }
        }
        if self.custom.iter().any(|r| r.tag.is_none()) {
            tags.push(json!({ "name": "app", "description": "The app's own routes." }));
        }
        tags.push(json!({ "name": "service", "description": "Health, metrics, documents and the registry." }));
        let mut schemas = generator.take_definitions(true);
        for (name, schema) in ours {
            add(&mut schemas, name, schema)?;
        }
        let mut components = json!({
            "schemas": schemas,
            "responses": error_responses(),
        });
        if !self.security_schemes.is_empty() {
            components["securitySchemes"] = self
                .security_schemes
                .iter()
                .map(|(name, scheme)| ((*name).to_owned(), scheme.clone()))
                .collect::<Map<String, Value>>()
                .into();
        }
        let mut info = json!({
            "title": self.title,
            "version": self.version,
            "description": "Generated by arc-rs from the resources' declarations.",
        });
        if !self.roles.is_empty() {
            // `x-arc-permission` names roles; a caller with a role that includes one passes too.
            info["x-arc-roles"] = json!(self.roles);
        }
        Ok(json!({
            "openapi": "3.1.0",
            "info": info,
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "tags": tags,
            "paths": paths,
            "components": components,
        }))
    }

    /// `GET /_audit`: the list grammar over the audit entries' field table, answered with the
    /// list's envelopes, for admins (see `crate::audit::route`).
    fn audit_operation(&self, route: &ServiceRoute, generator: &mut SchemaGenerator) -> Value {
        use crate::audit::AuditRecord;
        use crate::crud::response::Listing;
        use crate::resource::Resource;
        let info = RouteInfo {
            method: route.method.clone(),
            path: route.path.clone(),
            action: Action::List,
        };
        let mut parameters = match parameters(AuditRecord::META, &info, &self.limits) {
            Value::Array(parameters) => parameters,
            _ => Vec::new(),
        };
        parameters.push(org_header(
            "Selects the active organization among the caller's memberships: an organization admin reads its entries.",
        ));
        let schema = generator.subschema_for::<Listing<AuditRecord>>();
        let mut responses = json!({
            "200": {
                "description": route.summary,
                "content": { "application/json": { "schema": schema } },
            },
        });
        if self.conditional {
            responses["304"] = json!({ "description": "Not modified: the `If-None-Match` tag still holds (no body)." });
        }
        let mut errors = vec!["400", "401", "403"];
        if self.rate_limited {
            errors.push("429");
        }
        errors.extend(["500", "503"]);
        for status in errors {
            responses[status] =
                json!({ "$ref": format!("#/components/responses/{}", response_name(status)) });
        }
        if self.elevation {
            parameters.extend(elevation_headers());
        }
        let mut op = json!({
            "operationId": "get_audit",
            "tags": ["service"],
            "summary": route.summary,
            "x-arc-permission": route.access,
            "parameters": parameters,
            "responses": responses,
        });
        if !self.security_schemes.is_empty() {
            op["security"] = self.security_requirements().into();
        }
        op
    }

    /// One operation of a resource route.
    fn operation(
        &self,
        meta: &ResourceMeta,
        route: &RouteInfo,
        answer: &Answer,
        bodies: &Bodies<'_>,
        tag: &str,
        prefix: &str,
    ) -> Value {
        let action = route.action;
        let public = meta.is_public(action);
        let version = prefix.trim_start_matches('/');
        let id = if version.is_empty() {
            format!("{}_{}", meta.name, action.name())
        } else {
            format!("{version}_{}_{}", meta.name, action.name())
        };
        let mut parameters = parameters(meta, route, &self.limits);
        if self.elevation
            && refuses(meta, action, public)
            && let Value::Array(parameters) = &mut parameters
        {
            parameters.extend(elevation_headers());
        }
        let mut op = json!({
            "operationId": id,
            "tags": [tag],
            "summary": summary(meta, action),
            "x-arc-permission": meta.permission(action),
            "parameters": parameters,
            "responses": self.responses(meta, action, answer, public),
        });
        if let Some(preset) = action.preset() {
            op["x-arc-preset"] = preset.name().into();
        }
        if let Some(body) = request_body(action, meta, bodies) {
            op["requestBody"] = body;
        }
        if !self.security_schemes.is_empty() {
            let mut security = self.security_requirements();
            if public {
                security.push(json!({})); // credentials are optional
            }
            op["security"] = security.into();
        }
        op
    }

    /// Each of the app's ways in, as the alternatives of an operation's `security`.
    fn security_requirements(&self) -> Vec<Value> {
        self.security_schemes
            .iter()
            .map(|(name, _)| json!({ *name: [] }))
            .collect()
    }

    /// The answers `action` can give: its handler's outcome, and the errors it may meet.
    fn responses(
        &self,
        meta: &ResourceMeta,
        action: Action,
        answer: &Answer,
        public: bool,
    ) -> Value {
        let mut out = Map::new();
        let mut ok = json!({
            "description": summary(meta, action),
            "content": { "application/json": { "schema": answer.schema } },
        });
        if !answer.headers.is_empty() {
            ok["headers"] = answer
                .headers
                .iter()
                .filter(|(name, _)| *name != crate::cache::X_CACHE || meta.cache.is_some())
                .map(|(name, description)| {
                    let header =
                        json!({ "description": description, "schema": { "type": "string" } });
                    ((*name).to_owned(), header)
                })
                .collect::<Map<String, Value>>()
                .into();
        }
        let idempotent = meta.idempotency.is_some() && action.mutates();
        if idempotent {
            ok["headers"][REPLAYED_HEADER.as_str()] = json!({
                "description": "`true` when this is the kept answer to an earlier request with the same `idempotency-key`.",
                "schema": { "type": "string", "enum": ["true"] },
            });
        }
        out.insert(answer.status.as_str().to_owned(), ok);
        let mut errors = vec!["400"];
        if refuses(meta, action, public) {
            errors.extend(["401", "403"]);
        } else if idempotent {
            // A key needs a signed-in caller.
            errors.push("401");
        }
        let one_row = matches!(
            action,
            Action::Get
                | Action::BySlug
                | Action::Update
                | Action::Replace
                | Action::Delete
                | Action::Restore
                | Action::Children
                | Action::Act
        );
        if one_row {
            errors.push("404");
        }
        let read = matches!(
            action,
            Action::List
                | Action::Get
                | Action::Deleted
                | Action::BySlug
                | Action::Tree
                | Action::Children
        );
        if !read {
            // A unique value taken, or a hook refusing the write as a conflict.
            errors.push("409");
        }
        if read && self.conditional {
            out.insert(
                "304".to_owned(),
                json!({ "description": "Not modified: the `If-None-Match` tag still holds (no body)." }),
            );
        }
        if request_body_kind(action).is_some() {
            errors.extend(["413", "415"]);
        }
        if self.rate_limited {
            errors.push("429");
        }
        errors.extend(["500", "503"]);
        for status in errors {
            out.insert(
                status.to_owned(),
                json!({ "$ref": format!("#/components/responses/{}", response_name(status)) }),
            );
        }
        if idempotent {
            for (status, name) in [("409", IDEMPOTENT_CONFLICT), ("422", "Unprocessable")] {
                out.insert(
                    status.to_owned(),
                    json!({ "$ref": format!("#/components/responses/{name}") }),
                );
            }
        }
        out.into()
    }
}

/// Whether `action` of `meta` may refuse its caller (401, 403): when its rule is not
/// public, the resource is a tenant's, a read hook may refuse whatever the rule says, or a
/// transition's own rule may on a write.
fn refuses(meta: &ResourceMeta, action: Action, public: bool) -> bool {
    let transition_rules = action.mutates() && !meta.permissions.transitions.is_empty();
    !public || meta.presets.tenant.is_some() || meta.read_hooks.is_some() || transition_rules
}

/// The headers of platform elevation, as `auth::elevation` takes them.
fn elevation_headers() -> [Value; 2] {
    use crate::auth::elevation::{MAX_REASON, PLATFORM, REASON_HEADER, SCOPE_HEADER};
    [
        json!({
            "name": SCOPE_HEADER, "in": "header", "required": false,
            "schema": { "type": "string", "enum": [PLATFORM] },
            "description": "Acts with platform elevation (callers with a platform role the app allows; 403 `ELEVATION_FORBIDDEN` for anyone else): in the organization `x-organization-id` names, or across every organization. Recorded in the audit trail before the request runs.",
        }),
        json!({
            "name": REASON_HEADER, "in": "header", "required": false,
            "schema": { "type": "string", "maxLength": MAX_REASON, "pattern": "^[\\x20-\\x7E]*$" },
            "description": "Why, with `x-arc-scope: platform`: kept in the audit trail (one line of at most 500 bytes).",
        }),
    ]
}

/// What one resource's request bodies are: its component names, and its actions' body.
struct Bodies<'a> {
    names: &'a Names,
    /// The action route's body (a reference), when the resource has actions.
    actions: Option<&'a Value>,
}

/// The body of a resource's action route, described from its enum ([`ActionBody`]).
pub(crate) struct ActionSchemas {
    /// The body's schema: a reference to the enum's component.
    pub body: Value,
    /// The components: the enum, a `oneOf` of its variants discriminated by `action`; a
    /// component per variant (`OrderActionCancel`); and those its fields' types need.
    pub definitions: Map<String, Value>,
}

/// [`ActionSchemas`] of the enum `A`. Bodies are read, so the schemas say what a client
/// may send (a field with a default, or an `Option`, may be left out). Each variant becomes
/// a component of its own, so the `oneOf` can name its discriminator's mapping, as OpenAPI
/// asks.
pub(crate) fn action_body<A: crate::hooks::ActionBody>() -> ActionSchemas {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "#/components/schemas/".into();
            s.meta_schema = None;
        })
        .for_deserialize()
        .into_generator();
    let body = generator.subschema_for::<A>().to_value();
    let mut definitions = generator.take_definitions(true);
    let name = body["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .unwrap_or_default()
        .to_owned();
    if let Some(Value::Array(variants)) = definitions
        .get_mut(&name)
        .and_then(|enum_schema| enum_schema.get_mut("oneOf"))
        .map(Value::take)
    {
        let mut one_of = Vec::new();
        let mut mapping = Map::new();
        for variant in variants {
            let action = variant["properties"]["action"]["const"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let component = format!("{name}{}", to_pascal(&action));
            one_of.push(reference(&component));
            mapping.insert(action, format!("#/components/schemas/{component}").into());
            definitions.insert(component, variant);
        }
        let mut schema = json!({
            "oneOf": one_of,
            "discriminator": { "propertyName": "action", "mapping": mapping },
        });
        if let Some(description) = definitions[&name].get("description") {
            schema["description"] = description.clone();
        }
        definitions[&name] = schema;
    }
    ActionSchemas { body, definitions }
}

/// The component names of one resource's bodies.
struct Names {
    create: String,
    patch: String,
}

impl Names {
    fn of(meta: &ResourceMeta) -> Names {
        let base = to_pascal(meta.name);
        Names {
            create: format!("{base}Create"),
            patch: format!("{base}Patch"),
        }
    }
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A route of the app's own ([`crate::CustomRoute`]): its body and answer from its types,
/// the errors the framework gives it and those it declares.
fn custom_operation(
    route: &crate::custom::RouteDoc,
    rate_limited: bool,
    elevation: bool,
    generator: &mut SchemaGenerator,
) -> Value {
    let data = (route.response)(generator).to_value();
    let mut responses = json!({
        route.status.as_str(): {
            "description": if route.summary.is_empty() { "The route's answer." } else { route.summary },
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["success", "data"],
                "properties": { "success": { "const": true }, "data": data },
            } } },
        },
    });
    let params: Vec<&str> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .collect();
    let mut errors: Vec<String> = Vec::new();
    if route.request.is_some() {
        errors.extend(["400", "413", "415"].map(str::to_owned));
    }
    if !route.public {
        errors.extend(["401", "403"].map(str::to_owned));
    }
    let elevation = elevation && !route.public;
    if elevation {
        // A bad elevation header; a trail that cannot keep the elevation.
        errors.extend(["400", "503"].map(str::to_owned));
    }
    if !params.is_empty() {
        errors.push("404".to_owned());
    }
    if rate_limited {
        errors.push("429".to_owned());
    }
    errors.extend(route.errors.iter().map(u16::to_string));
    for status in errors {
        let name = response_name(&status);
        responses[status.as_str()] = json!({ "$ref": format!("#/components/responses/{name}") });
    }
    let id = route
        .path
        .replace(['/', '.', '-', '{', '}'], "_")
        .trim_matches('_')
        .to_owned();
    let mut operation = json!({
        "operationId": format!("{}_{id}", route.method.as_str().to_ascii_lowercase()),
        "tags": [route.tag.unwrap_or("app")],
        "summary": route.summary,
        "x-arc-permission": route.permission,
        "responses": responses,
    });
    let mut parameters: Vec<Value> = params
        .iter()
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if elevation {
        parameters.extend(elevation_headers());
    }
    if !parameters.is_empty() {
        operation["parameters"] = parameters.into();
    }
    if let Some(request) = route.request {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": request(generator).to_value() } },
        });
    }
    operation
}

/// The reusable error answers, one per status.
const ERROR_STATUSES: [(&str, &str, &str); 12] = [
    (
        "400",
        "BadRequest",
        "Malformed JSON or query, or invalid fields (`VALIDATION_ERROR` lists them all).",
    ),
    (
        "401",
        "Unauthorized",
        "No credentials, or bad, expired or revoked ones (`UNAUTHORIZED`, `ELEVATION_AUTH_REQUIRED`).",
    ),
    (
        "403",
        "Forbidden",
        "The rule refuses the caller (`FORBIDDEN`, `OWNERSHIP_DENIED`, `ORG_SELECTION_REQUIRED`, `ORG_ACCESS_DENIED`, `ELEVATION_FORBIDDEN`), or credentials came in a cookie without the CSRF token (`CSRF_FAILED`).",
    ),
    (
        "404",
        "NotFound",
        "No such row, or one outside the caller's reach.",
    ),
    (
        "409",
        "Conflict",
        "A unique value is taken (`DUPLICATE_KEY`), a field with declared states would move along a transition it does not declare (`INVALID_TRANSITION`), rows of another resource still reference a row to delete (`CONFLICT`), or a hook refused the write as a conflict.",
    ),
    ("413", "PayloadTooLarge", "The body is over the limit."),
    (
        "422",
        "Unprocessable",
        "The `idempotency-key` was used for another request (method, path or body): use a new key.",
    ),
    ("415", "UnsupportedMediaType", "The body is not JSON."),
    (
        "429",
        "RateLimited",
        "Over the rate limit; `Retry-After` says when to come back.",
    ),
    (
        "500",
        "InternalError",
        "A fault on the server's side; the cause is logged, not sent.",
    ),
    (
        "503",
        "ServiceUnavailable",
        "Overloaded, timed out, draining, or a dependency is down.",
    ),
    (
        "405",
        "MethodNotAllowed",
        "The path exists, the method does not.",
    ),
];

fn response_name(status: &str) -> &'static str {
    ERROR_STATUSES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map_or("InternalError", |(_, name, _)| name)
}

/// The 409 of a route that takes an `idempotency-key`: its conflicts, and the key's.
const IDEMPOTENT_CONFLICT: &str = "ConflictOrInFlight";

fn error_responses() -> Value {
    let mut responses: Map<String, Value> = ERROR_STATUSES
        .iter()
        .map(|(_, name, description)| {
            (
                (*name).to_owned(),
                json!({
                    "description": description,
                    "content": { "application/json": { "schema": reference("ErrorEnvelope") } },
                }),
            )
        })
        .collect();
    responses.insert(
        IDEMPOTENT_CONFLICT.to_owned(),
        json!({
            "description": "A request with the same `idempotency-key` is still in flight (`IDEMPOTENCY_CONFLICT`, with `Retry-After`); or a unique value is taken (`DUPLICATE_KEY`), a field with declared states would move along a transition it does not declare (`INVALID_TRANSITION`), rows of another resource still reference a row to delete (`CONFLICT`), a hook refused the write as a conflict, or the key's request was carried out but its answer was not kept (`CONFLICT`).",
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before retrying (on `IDEMPOTENCY_CONFLICT`).",
                    "schema": { "type": "string" },
                },
            },
            "content": { "application/json": { "schema": reference("ErrorEnvelope") } },
        }),
    );
    responses.into()
}

fn summary(meta: &ResourceMeta, action: Action) -> String {
    let plural = meta.collection();
    let name = meta.name;
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    let one = format!("{article} {name}");
    match action {
        Action::List => format!("List {plural}"),
        Action::Create => format!("Create {one}"),
        Action::Get => format!("Get {one}"),
        Action::Update => format!("Update {one} (partial)"),
        Action::Replace => format!("Update {one} (as PATCH)"),
        Action::Delete => format!("Delete {one}"),
        Action::Deleted => format!("List deleted {plural}"),
        Action::Restore => format!("Restore {one} that was deleted"),
        Action::BySlug => format!("Get {one} by slug"),
        Action::Tree => format!("The {plural} as a tree"),
        Action::Children => format!("The children of {one}"),
        Action::BulkCreate => format!("Create {plural} in bulk"),
        Action::BulkUpdate => format!("Update the {plural} a filter matches"),
        Action::BulkDelete => format!("Delete the {plural} a filter matches"),
        Action::Act => format!("Carry out an action on {one}"),
    }
}

/// What body an action takes.
#[derive(Clone, Copy)]
enum BodyKind {
    Create,
    Patch,
    BulkCreate,
    BulkUpdate,
    BulkDelete,
    Action,
}

fn request_body_kind(action: Action) -> Option<BodyKind> {
    match action {
        Action::Create => Some(BodyKind::Create),
        Action::Update | Action::Replace => Some(BodyKind::Patch),
        Action::BulkCreate => Some(BodyKind::BulkCreate),
        Action::BulkUpdate => Some(BodyKind::BulkUpdate),
        Action::BulkDelete => Some(BodyKind::BulkDelete),
        Action::Act => Some(BodyKind::Action),
        _ => None,
    }
}

fn request_body(action: Action, meta: &ResourceMeta, bodies: &Bodies<'_>) -> Option<Value> {
    let create = reference(&bodies.names.create);
    let patch = reference(&bodies.names.patch);
    let filterable: Vec<&str> = public_fields(meta)
        .filter(|f| f.filter.0 != 0)
        .map(|f| f.name)
        .collect();
    let filter = json!({
        "type": "object",
        "minProperties": 1,
        "propertyNames": { "enum": filterable },
        "description": "The list grammar's filters as JSON: `{\"status\":\"draft\",\"price\":{\"gte\":100}}`.",
    });
    let schema = match request_body_kind(action)? {
        BodyKind::Create => create,
        BodyKind::Patch => patch,
        BodyKind::BulkCreate => json!({
            "type": "object",
            "properties": { "items": { "type": "array", "items": create, "minItems": 1 } },
            "required": ["items"],
            "additionalProperties": false,
        }),
        BodyKind::BulkUpdate => json!({
            "type": "object",
            "properties": { "filter": filter, "data": patch },
            "required": ["filter", "data"],
            "additionalProperties": false,
        }),
        BodyKind::BulkDelete => json!({
            "type": "object",
            "properties": { "filter": filter },
            "required": ["filter"],
            "additionalProperties": false,
        }),
        BodyKind::Action => bodies.actions?.clone(),
    };
    Some(json!({
        "required": true,
        "content": { "application/json": { "schema": schema } },
    }))
}

fn query(name: String, schema: Value, description: String) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

/// Fields every caller may use in the query grammar (not hidden, not role-restricted).
fn public_fields(meta: &ResourceMeta) -> impl Iterator<Item = &'static FieldMeta> {
    meta.fields
        .iter()
        .filter(|f| !f.hidden && f.visible_to.is_empty())
}

/// The `x-organization-id` header, as `select_org` takes it: not blank, at most 128 bytes.
fn org_header(description: &str) -> Value {
    json!({
        "name": crate::auth::ORG_HEADER, "in": "header", "required": false,
        "schema": { "type": "string", "minLength": 1, "maxLength": 128, "pattern": "\\S" },
        "description": description,
    })
}

fn parameters(meta: &ResourceMeta, route: &RouteInfo, limits: &QueryLimits) -> Value {
    let mut out = Vec::new();
    for segment in route.path.split('/') {
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let (schema, description) = match name {
            "slug" => (json!({ "type": "string" }), None),
            arc_spec::names::ORG_PARAM => (
                json!({ "type": "string", "minLength": 1, "maxLength": 128, "pattern": "\\S" }),
                Some(
                    "The organization, among the caller's memberships (403 `ORG_ACCESS_DENIED` otherwise); `x-organization-id`, if sent too, must name the same one.",
                ),
            ),
            _ => (value_schema(meta.id_field().ty), None),
        };
        let mut parameter =
            json!({ "name": name, "in": "path", "required": true, "schema": schema });
        if let Some(description) = description {
            parameter["description"] = json!(description);
        }
        out.push(parameter);
    }
    if meta.presets.tenant.is_some() && !route.path.contains(arc_spec::names::ORG_SEGMENT) {
        out.push(org_header(
            "Selects the active organization among the caller's memberships.",
        ));
    }
    if meta.idempotency.is_some() && route.action.mutates() {
        out.push(json!({
            "name": KEY_HEADER.as_str(), "in": "header", "required": false,
            "schema": {
                "type": "string", "minLength": 1, "maxLength": MAX_KEY_LEN,
                "pattern": "^[\\x21-\\x7E]+$",
            },
            "description": "Runs the request at most once per key (for the signed-in caller and organization): a repeat gets the first answer again, with `x-idempotency-replayed: true`. 1 to 255 visible ASCII characters.",
        }));
    }
    if matches!(route.action, Action::Get | Action::BySlug) {
        populate_params(meta, &mut out);
    }
    if !matches!(route.action, Action::List | Action::Deleted) {
        return out.into();
    }
    // Every reserved parameter, by the one list the parser reads: a new one cannot go
    // undocumented.
    for param in QueryParam::ALL {
        let name = param.name();
        match param {
            QueryParam::Page => out.push(query(
                name.into(),
                json!({ "type": "integer", "minimum": 1, "default": 1 }),
                "Page number.".into(),
            )),
            QueryParam::Limit => out.push(query(
                name.into(),
                json!({ "type": "integer", "minimum": 1, "default": limits.default_limit }),
                format!(
                    "Rows per page (at most {}; more is clamped).",
                    limits.max_limit
                ),
            )),
            QueryParam::After => out.push(query(
                name.into(),
                json!({ "type": "string" }),
                "Keyset paging: empty for the first page, then the previous page's `next`.".into(),
            )),
            QueryParam::Sort => {
                let sortable: Vec<String> = public_fields(meta)
                    .filter(|f| f.sortable || f.id)
                    .flat_map(|f| [f.name.to_owned(), format!("-{}", f.name)])
                    .collect();
                out.push(list(
                    name,
                    json!({ "type": "string", "enum": sortable }),
                    "Sort keys, comma-separated, `-` for descending; the id breaks ties."
                        .to_owned(),
                ));
            }
            QueryParam::Select => {
                let selectable: Vec<String> = public_fields(meta)
                    .flat_map(|f| [f.name.to_owned(), format!("-{}", f.name)])
                    .collect();
                out.push(list(
                    name,
                    json!({ "type": "string", "enum": selectable }),
                    "The fields to answer with, comma-separated; `-name` leaves one out \
                     instead (not mixed)."
                        .to_owned(),
                ));
            }
            QueryParam::Search => {
                let searchable: Vec<&str> = public_fields(meta)
                    .filter(|f| f.searchable)
                    .map(|f| f.name)
                    .collect();
                if !searchable.is_empty() {
                    out.push(query(
                        name.into(),
                        json!({ "type": "string", "maxLength": limits.max_search }),
                        format!("Text searched in {}.", searchable.join(", ")),
                    ));
                }
            }
            QueryParam::Populate => populate_params(meta, &mut out),
        }
    }
    for field in public_fields(meta).filter(|f| f.filter.0 != 0) {
        for op in Op::ALL.into_iter().filter(|op| field.filter.contains(*op)) {
            let (name, schema, what) = match op {
                Op::Eq => (
                    field.name.to_owned(),
                    value_schema(field.ty),
                    "equals".to_owned(),
                ),
                Op::In | Op::Nin => {
                    let what = if op == Op::In {
                        "is one of"
                    } else {
                        "is none of"
                    };
                    let mut param = list(
                        &format!("{}[{}]", field.name, op.as_str()),
                        value_schema(field.ty),
                        format!("`{}` {what} these, comma-separated.", field.name),
                    );
                    param["x-arc-operator"] = op.as_str().into();
                    out.push(param);
                    continue;
                }
                Op::Exists => (
                    format!("{}[exists]", field.name),
                    json!({ "type": "boolean" }),
                    "is set (true) or null (false)".to_owned(),
                ),
                Op::Like | Op::Regex => (
                    format!("{}[{}]", field.name, op.as_str()),
                    json!({ "type": "string" }),
                    if op == Op::Like {
                        "contains, ignoring case".to_owned()
                    } else {
                        "matches the regular expression".to_owned()
                    },
                ),
                _ => (
                    format!("{}[{}]", field.name, op.as_str()),
                    value_schema(field.ty),
                    op.as_str().to_owned(),
                ),
            };
            let mut param = query(name, schema, format!("`{}` {what}.", field.name));
            param["x-arc-operator"] = op.as_str().into();
            out.push(param);
        }
    }
    out.into()
}

/// `populate` and each `populate[key][select]`, where `meta` has references to populate.
fn populate_params(meta: &ResourceMeta, out: &mut Vec<Value>) {
    let populated: Vec<(&str, &ResourceMeta)> = public_fields(meta)
        .filter_map(|f| Some((f.populate?, f.references?())))
        .collect();
    if populated.is_empty() {
        return;
    }
    let keys: Vec<&str> = populated.iter().map(|(key, _)| *key).collect();
    out.push(list(
        QueryParam::Populate.name(),
        json!({ "type": "string", "enum": keys }),
        "References whose rows to embed, comma-separated: each under its name, as the caller \
         may read it through its own resource, or as its id where they may not."
            .to_owned(),
    ));
    for (key, target) in populated {
        let selectable: Vec<String> = public_fields(target)
            .flat_map(|f| [f.name.to_owned(), format!("-{}", f.name)])
            .collect();
        out.push(list(
            &format!("populate[{key}][select]"),
            json!({ "type": "string", "enum": selectable }),
            format!(
                "Populates `{key}` with only these members of each {} (as `select`).",
                target.name
            ),
        ));
    }
}

/// A query parameter holding a comma-separated list (`style: form`, not exploded).
fn list(name: &str, items: Value, description: String) -> Value {
    json!({
        "name": name, "in": "query", "required": false,
        "style": "form", "explode": false,
        "schema": { "type": "array", "items": items, "uniqueItems": true },
        "description": description,
    })
}

/// A service route's operation. Health, metrics and the documents answer whoever asks (no
/// authentication, no rate limit); the registry is for admins and sits with the API, behind
/// authentication and the rate limit (`rate_limited`: 429 is one of its answers).
/// `POST {base}/refresh` and `POST {base}/logout` (see [`crate::config::Sessions`]).
fn session_operations(
    base: &str,
    cookies: bool,
    rate_limited: bool,
    generator: &mut SchemaGenerator,
) -> [(String, Value); 2] {
    use crate::auth::sessions::{CookieSession, RefreshRequest, TokenPair};
    let error = |name: &str| json!({ "$ref": format!("#/components/responses/{name}") });
    let pair = if cookies {
        generator.subschema_for::<CookieSession>()
    } else {
        generator.subschema_for::<TokenPair>()
    };
    let answer = json!({
        "allOf": [
            { "type": "object", "required": ["success"], "properties": { "success": { "const": true } } },
            pair,
        ],
    });
    let cookie_note = if cookies {
        " Without a body, the refresh cookie is used, and the request echoes the CSRF cookie in `x-csrf-token` (else 403 `CSRF_FAILED`). The answer sets the access, refresh and CSRF cookies, and its body carries no token."
    } else {
        ""
    };
    let mut refresh = json!({
        "tags": ["auth"],
        "operationId": "refresh_session",
        "summary": "Use a refresh token once: the next access and refresh tokens",
        "description": format!("Rotates the session's refresh token. A token used before ends the session and revokes its last access token (401).{cookie_note}"),
        "requestBody": {
            "required": !cookies,
            "content": { "application/json": { "schema": generator.subschema_for::<RefreshRequest>() } },
        },
        "responses": {
            "200": {
                "description": "The next tokens (arc's `issueTokens` shape).",
                "headers": { "Cache-Control": { "schema": { "const": "no-store" } } },
                "content": { "application/json": { "schema": answer } },
            },
            "400": error("BadRequest"),
            "401": error("Unauthorized"),
            "403": error("Forbidden"),
            "413": error("PayloadTooLarge"),
            "415": error("UnsupportedMediaType"),
            "503": error("ServiceUnavailable"),
        },
    });
    if rate_limited {
        refresh["responses"]["429"] = error("RateLimited");
    }
    let logout = json!({
        "tags": ["auth"],
        "operationId": "logout",
        "summary": "End the caller's session: its access and refresh tokens are revoked",
        "description": "Credentials with nothing to revoke (no `jti`, no session: an API key) get a 400.",
        "responses": {
            "200": {
                "description": "Signed out.",
                "content": { "application/json": { "schema": {
                    "type": "object",
                    "required": ["success"],
                    "properties": { "success": { "const": true } },
                    "additionalProperties": false,
                } } },
            },
            "400": error("BadRequest"),
            "401": error("Unauthorized"),
            "403": error("Forbidden"),
            "503": error("ServiceUnavailable"),
        },
    });
    [
        (format!("{base}/refresh"), refresh),
        (format!("{base}/logout"), logout),
    ]
}

fn service_operation(route: &ServiceRoute, rate_limited: bool) -> Value {
    let id = route
        .path
        .trim_start_matches('/')
        .replace(['/', '.', '-'], "_")
        .trim_start_matches('_')
        .to_owned();
    let content = match route.produces {
        "application/json" => json!({ "application/json": { "schema": { "type": "object" } } }),
        other => json!({ other: { "schema": { "type": "string" } } }),
    };
    let mut responses = json!({
        "200": { "description": route.summary, "content": content },
    });
    match route.access {
        "admin" => {
            responses["401"] = json!({ "$ref": "#/components/responses/Unauthorized" });
            responses["403"] = json!({ "$ref": "#/components/responses/Forbidden" });
            if rate_limited {
                responses["429"] = json!({ "$ref": "#/components/responses/RateLimited" });
            }
        }
        "bearer token" => {
            responses["401"] = json!({ "$ref": "#/components/responses/Unauthorized" });
        }
        "authenticated" => {
            // Without credentials; or with an organization the caller is not a member of.
            responses["401"] = json!({ "$ref": "#/components/responses/Unauthorized" });
            responses["403"] = json!({ "$ref": "#/components/responses/Forbidden" });
            if rate_limited {
                responses["429"] = json!({ "$ref": "#/components/responses/RateLimited" });
            }
        }
        _ => {}
    }
    // Read from the jobs' store, which may not answer (a Redis outage).
    #[cfg(feature = "jobs")]
    if route.path == crate::jobs::PATH {
        responses["503"] = json!({ "$ref": "#/components/responses/ServiceUnavailable" });
    }
    let mut parameters = Vec::new();
    if route.path == crate::events::STREAM_PATH {
        // A malformed `events` filter; an instance with all the streams it keeps open.
        responses["400"] = json!({ "$ref": "#/components/responses/BadRequest" });
        responses["503"] = json!({ "$ref": "#/components/responses/ServiceUnavailable" });
        parameters.push(json!({
            "name": "events", "in": "query", "required": false,
            "description": "Comma-separated event-type patterns (`product.*,order.created`); every event the caller may see without it.",
            "schema": { "type": "string" },
        }));
        parameters.push(json!({
            "name": "Last-Event-ID", "in": "header", "required": false,
            "description": "Resume after this event (the `id:` of the last one received).",
            "schema": { "type": "string" },
        }));
    }
    if route.path == crate::events::WS_PATH {
        // The upgrade, not a 200; a request that is no upgrade, or a malformed filter; an
        // instance with all the streams it keeps open.
        if let Some(map) = responses.as_object_mut() {
            map.remove("200");
        }
        responses["101"] = json!({ "description": "Switched to the WebSocket protocol: arc's messages (`connected`, `subscribe`/`subscribed`, events as `{type, data, meta}`, `ping`, `error`)." });
        responses["400"] = json!({ "$ref": "#/components/responses/BadRequest" });
        responses["503"] = json!({ "$ref": "#/components/responses/ServiceUnavailable" });
        parameters.push(json!({
            "name": "events", "in": "query", "required": false,
            "description": "Comma-separated event-type patterns to subscribe to at once (`product.*,order.created`); nothing until a `subscribe` message without it.",
            "schema": { "type": "string" },
        }));
    }
    if route.path == "/_health/ready" {
        responses["503"] = json!({ "$ref": "#/components/responses/ServiceUnavailable" });
    }
    let mut operation = json!({
        "operationId": format!("{}_{id}", route.method.as_str().to_ascii_lowercase()),
        "tags": ["service"],
        "summary": route.summary,
        "x-arc-permission": route.access,
        "responses": responses,
    });
    if !parameters.is_empty() {
        operation["parameters"] = parameters.into();
    }
    operation
}
