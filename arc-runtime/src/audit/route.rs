//! `GET /_audit`: the audit trail for its readers, with the list query grammar.
//!
//! Who reads what: a platform admin (platform role `admin`) every entry; an organization
//! admin (role `admin` in the active organization) the entries of their organization's rows,
//! of the resources whose every row they may read (the `list` and `get` rules grant them all
//! rows, and `owned_by_user` lets them by), the requests made in their organization with
//! platform elevation (resource `_elevation`) and the failed compensations its callers ran
//! (`_compensation`); anyone else is refused (401 anonymous, 403 otherwise). The
//! organization and resources are narrowed before the query, so an organization admin's
//! filters, counts and pages only ever range over their own entries.
//!
//! Each entry is shown through the field rules of its resource for the reader, as a row of
//! it would be: a field shown only to roles the reader lacks (`visible_to`) leaves the
//! entry (its values and its name in `changes`), a field masked for the reader
//! (`redact_for`) is masked; a hidden field was never recorded (its name, with
//! [`AuditEntry::REDACTED`] for its values).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json};

use super::{AuditEntry, AuditRecord, AuditRuntime, table, unavailable};
use crate::app::ArcState;
use crate::auth::{AuthContext, Caller, RoleScope};
use crate::crud::ops::listing;
use crate::crud::record::Record;
use crate::crud::response::{Listing, Outcome, mask};
use crate::error::ArcError;
use crate::plugins::etag::Audience;
use crate::query;
use crate::resource::{FieldSet, Shape};
use crate::stores::AuditQuery;

/// The role that reads the trail: platform-wide, or in the active organization.
const READER_ROLE: &str = "admin";

/// `GET /_audit`.
pub(crate) async fn list(
    State(state): State<ArcState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut response = entries(&state, &caller, raw.as_deref())
        .await
        .and_then(Outcome::into_response)
        .unwrap_or_else(IntoResponse::into_response);
    // An admin's answer: never from a shared cache, and tagged for this reader alone.
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(header::VARY, crate::crud::handlers::VARY);
    response.extensions_mut().insert(Audience(caller.0));
    response
}

/// Which entries a reader may see.
enum Reader<'a> {
    /// Every entry.
    Platform,
    /// The entries of this organization's rows.
    Organization(&'a str),
}

impl<'a> Reader<'a> {
    /// The reader `caller` is, or the answer to a caller who is none: 401 without
    /// credentials, 403 otherwise.
    fn of(caller: &'a AuthContext) -> Result<Reader<'a>, ArcError> {
        if !caller.is_authenticated() {
            return Err(ArcError::unauthorized("Authentication required"));
        }
        if caller.has_platform_role(READER_ROLE) {
            return Ok(Reader::Platform);
        }
        match caller.org_id.as_deref() {
            Some(org) if caller.has_org_role(READER_ROLE) => Ok(Reader::Organization(org)),
            _ => Err(ArcError::forbidden(
                "The audit trail is for admins of the platform or of the organization",
            )),
        }
    }
}

async fn entries(
    state: &ArcState,
    caller: &AuthContext,
    raw: Option<&str>,
) -> Result<Listing<AuditRecord>, ArcError> {
    let audit = state
        .audit()
        .ok_or_else(|| ArcError::not_found("Route not found"))?;
    let reader = Reader::of(caller)?;
    let meta = <AuditRecord as crate::resource::Resource>::META;
    let allowed = FieldSet::visible_for(meta, caller);
    let spec = query::parse_query(meta, raw, state.cursor_key(), state.query_limits(), allowed)?;
    let (organization, resources) = match reader {
        Reader::Platform => (None, None),
        Reader::Organization(org) => {
            let mut resources: Vec<&'static str> = audit
                .resources
                .values()
                .filter(|m| crate::permissions::reads_every_row(m, caller))
                .map(|m| m.name)
                .collect();
            // Who acted in the organization with platform elevation, and why; the
            // compensations run by its callers.
            resources.extend(super::OWN_RESOURCES);
            resources.sort_unstable();
            (Some(org.to_owned()), Some(resources))
        }
    };
    let query = AuditQuery {
        spec,
        organization,
        resources,
    };
    let page = audit.store.query(&query).await.map_err(unavailable)?;
    let records: Vec<Record> = page
        .entries
        .into_iter()
        .map(|entry| Record::of::<AuditRecord>(&table::Model::from(shown(audit, caller, entry))))
        .collect();
    let shape = Shape {
        fields: query.spec.select,
        redact: FieldSet(0),
    };
    Ok(listing(
        meta,
        state,
        &query.spec,
        shape,
        records,
        page.total.unwrap_or(0),
    )
    .retype())
}

/// `entry` as `caller` may see it: through the field rules of its resource, with the roles
/// that count on its rows (the active organization's only on that organization's own rows).
/// An entry of a resource the app no longer has shows no values (its rules are unknown).
fn shown(audit: &AuditRuntime, caller: &AuthContext, mut entry: AuditEntry) -> AuditEntry {
    if super::OWN_RESOURCES.contains(&entry.resource.as_str()) {
        // A request line and a reason, a compensation's steps and errors: no row's values.
        return entry;
    }
    let Some(meta) = audit.resources.get(entry.resource.as_str()) else {
        entry.changes.clear();
        entry.before = entry.before.map(|_| Map::new());
        entry.after = entry.after.map(|_| Map::new());
        return entry;
    };
    let own_org = meta.presets.tenant.is_some()
        && entry.organization_id.is_some()
        && entry.organization_id == caller.org_id;
    let scope = if own_org {
        RoleScope::Organization
    } else {
        RoleScope::Platform
    };
    let may = |roles: &[&str]| roles.iter().any(|r| caller.has_role_in(r, scope));
    let readable = |name: &str| {
        meta.field(name)
            .is_some_and(|(_, f)| f.visible_to.is_empty() || may(f.visible_to))
    };
    let show = |values: Map<String, Json>| -> Map<String, Json> {
        values
            .into_iter()
            .filter(|(name, _)| readable(name))
            .map(|(name, value)| match meta.field(&name) {
                Some((_, f))
                    if !f.hidden
                        && f.redact_for
                            .iter()
                            .any(|r| caller.has_given_role_in(r, scope))
                        && !value.is_null() =>
                {
                    (name, mask(f.ty).map_or(Json::Null, Json::from))
                }
                _ => (name, value),
            })
            .collect()
    };
    entry.changes.retain(|name| readable(name));
    entry.before = entry.before.map(show);
    entry.after = entry.after.map(show);
    entry
}
