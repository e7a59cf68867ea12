//! The app's own events: a type that names itself and its version ([`DomainEvent`]), declared
//! with [`Events::define`](crate::config::Events::define) (its JSON Schema compiled once),
//! and published, checked against that schema, into the outbox: inside a write's
//! transaction from a hook ([`WriteContext::publish`](crate::WriteContext::publish)) or on
//! its own ([`ArcState::publish`](crate::ArcState::publish)).

use std::sync::Arc;

use sea_orm::ConnectionTrait;
use serde::Serialize;
use serde_json::Value as Json;

use super::{Event, EventsRuntime};
use crate::auth::AuthContext;

/// An event an app defines: its type (`invoice.sent`), the version of its payload's shape,
/// and the payload itself, whose JSON Schema (from `schemars`, attributes such as
/// `#[schemars(range(min = 1))]` included) every published one is checked against.
///
/// ```
/// use arc_runtime::DomainEvent;
///
/// #[derive(serde::Serialize, schemars::JsonSchema)]
/// struct InvoiceSent {
///     number: u64,
///     #[schemars(email)]
///     to: String,
/// }
///
/// impl DomainEvent for InvoiceSent {
///     const NAME: &'static str = "invoice.sent";
///     const VERSION: u32 = 2;
/// }
/// ```
pub trait DomainEvent: Serialize + schemars::JsonSchema {
    /// The event's type: dot-separated segments of letters, digits, `_` and `-`.
    const NAME: &'static str;
    /// The version of the payload's shape (from 1), in the envelope's `meta.version`, so
    /// consumers tell old payloads from new.
    const VERSION: u32 = 1;
}

/// Why an event was not published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The app has no events plugin.
    #[error("events are off: `App::events` turns them on")]
    Off,
    /// The event's type was not declared with `Events::define`.
    #[error("event `{0}` is not declared: `Events::define` declares it")]
    Undeclared(String),
    /// The payload does not match the declared schema.
    #[error("event `{name}` does not match its schema: {errors}")]
    Invalid {
        /// The event's type.
        name: String,
        /// What the validator found.
        errors: String,
    },
    /// The payload could not be encoded.
    #[error("event `{name}` could not be encoded: {source}")]
    Encode {
        /// The event's type.
        name: String,
        /// The encoder's error.
        source: serde_json::Error,
    },
    /// The outbox could not be written.
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

impl From<PublishError> for crate::ArcError {
    fn from(e: PublishError) -> Self {
        // A hook that publishes what it did not declare, or what breaks its schema, is the
        // app's bug: a 500, logged with what went wrong.
        match e {
            PublishError::Database(e) => e.into(),
            other => crate::ArcError::internal(other),
        }
    }
}

/// A declared event: its version, its schema (for the registry) and the schema compiled.
pub(crate) struct Definition {
    pub(crate) name: &'static str,
    pub(crate) version: u32,
    pub(crate) schema: Json,
    compiled: Result<Arc<(boon::Schemas, boon::SchemaIndex)>, String>,
}

impl std::fmt::Debug for Definition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Definition")
            .field("name", &self.name)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Clone for Definition {
    fn clone(&self) -> Self {
        Definition {
            name: self.name,
            version: self.version,
            schema: self.schema.clone(),
            compiled: self.compiled.clone(),
        }
    }
}

impl Definition {
    /// `E`'s definition, its schema compiled.
    pub(crate) fn of<E: DomainEvent>() -> Definition {
        let schema = schemars::schema_for!(E).to_value();
        Definition {
            name: E::NAME,
            version: E::VERSION,
            compiled: compile(&schema).map(Arc::new),
            schema,
        }
    }

    /// What keeps it from being published: a malformed name, version 0, a schema that does
    /// not compile.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !self.name.split('.').all(segment_ok) {
            problems.push(format!(
                "event `{}`: a type is dot-separated segments of letters, digits, `_` and `-`",
                self.name
            ));
        }
        if self.version == 0 {
            problems.push(format!("event `{}`: versions start at 1", self.name));
        }
        if let Err(e) = &self.compiled {
            problems.push(format!(
                "event `{}`: its schema does not compile: {e}",
                self.name
            ));
        }
        problems
    }

    fn check(&self, payload: &Json) -> Result<(), PublishError> {
        let compiled = self.compiled.as_ref().map_err(|e| PublishError::Invalid {
            name: self.name.to_owned(),
            errors: e.clone(),
        })?;
        let (schemas, index) = &**compiled;
        schemas
            .validate(payload, *index)
            .map_err(|e| PublishError::Invalid {
                name: self.name.to_owned(),
                errors: format!("{e:#}"),
            })
    }
}

fn compile(schema: &Json) -> Result<(boon::Schemas, boon::SchemaIndex), String> {
    const LOCATION: &str = "urn:arc:event";
    let mut compiler = boon::Compiler::new();
    compiler.set_default_draft(boon::Draft::V2020_12);
    compiler
        .add_resource(LOCATION, schema.clone())
        .map_err(|e| e.to_string())?;
    let mut schemas = boon::Schemas::new();
    let index = compiler
        .compile(LOCATION, &mut schemas)
        .map_err(|e| e.to_string())?;
    Ok((schemas, index))
}

/// Publishes `event` into the outbox over `conn` (the write's transaction, or one of its
/// own), on behalf of `caller`: checked against its declaration first.
pub(crate) async fn publish<E: DomainEvent, C: ConnectionTrait>(
    runtime: Option<&EventsRuntime>,
    conn: &C,
    caller: Option<&AuthContext>,
    event: &E,
) -> Result<(), PublishError> {
    let runtime = runtime.ok_or(PublishError::Off)?;
    let definition = runtime
        .settings
        .defined
        .iter()
        .find(|d| d.name == E::NAME)
        .ok_or_else(|| PublishError::Undeclared(E::NAME.to_owned()))?;
    let payload = serde_json::to_value(event).map_err(|source| PublishError::Encode {
        name: E::NAME.to_owned(),
        source,
    })?;
    definition.check(&payload)?;
    let mut envelope = Event::new(E::NAME, payload);
    envelope.meta.version = definition.version;
    if let Some(caller) = caller {
        envelope.meta.user_id = caller.user_id.clone();
        envelope.meta.organization_id = caller.org_id.clone();
    }
    super::outbox::append(conn, &envelope).await?;
    Ok(())
}
