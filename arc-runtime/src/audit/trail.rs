//! The entries of one write: for each row it touched, the fields whose values differ between
//! the row before and the row after (every field when one side is missing: a create, a
//! delete for good), with a hidden field's value replaced by [`AuditEntry::REDACTED`] before
//! it is ever stored.

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value as Json};

use super::{AuditAction, AuditEntry};
use crate::auth::AuthContext;
use crate::crud::record::Record;
use crate::error::ArcError;
use crate::events::Change;
use crate::resource::{Auto, FieldSet, ResourceMeta, Shape};

/// The action an event's change is, in the trail.
fn action(change: Change) -> AuditAction {
    match change {
        Change::Created => AuditAction::Create,
        Change::Updated => AuditAction::Update,
        Change::Restored => AuditAction::Restore,
        Change::Deleted => AuditAction::Delete,
    }
}

/// Every field of a table of `n`.
fn all_fields(n: usize) -> FieldSet {
    FieldSet(if n >= 64 { u64::MAX } else { (1u64 << n) - 1 })
}

/// A row's stored fields as JSON, hidden ones left out ([`Record::write`] never writes them).
fn stored(meta: &'static ResourceMeta, record: &Record) -> Result<Map<String, Json>, ArcError> {
    let shape = Shape {
        fields: all_fields(meta.fields.len()),
        redact: FieldSet(0),
    };
    match serde_json::to_value(record.shown(meta, shape)).map_err(ArcError::internal)? {
        Json::Object(map) => Ok(map),
        other => Err(ArcError::internal(format!(
            "a row serialized as {other} rather than an object"
        ))),
    }
}

/// The time of a write, to the microsecond every database keeps.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// The `x-request-id` and the W3C trace id of the request being served, if any.
pub(crate) fn request_ids() -> (Option<String>, Option<String>) {
    (
        crate::plugins::request_id::current().and_then(|v| v.to_str().ok().map(str::to_owned)),
        crate::plugins::trace::current().map(|t| t.trace_id_hex()),
    )
}

/// The entries of a write that did `change` to rows, `before[i]` becoming `after[i]` (one
/// side empty for a create or a delete for good), by `caller`. A row none of whose fields
/// changed (an update that wrote the values it had) has no entry.
pub(crate) fn entries(
    meta: &'static ResourceMeta,
    caller: &AuthContext,
    change: Change,
    before: &[Record],
    after: &[Record],
) -> Result<Vec<AuditEntry>, ArcError> {
    let timestamp = now();
    let (request_id, trace_id) = request_ids();
    let mut out = Vec::with_capacity(before.len().max(after.len()));
    for i in 0..before.len().max(after.len()) {
        let (old, new) = (before.get(i), after.get(i));
        let Some(row) = new.or(old) else { continue };
        let (old_json, new_json) = (
            old.map(|r| stored(meta, r)).transpose()?,
            new.map(|r| stored(meta, r)).transpose()?,
        );
        let mut changes = Vec::new();
        let mut was = Map::new();
        let mut is = Map::new();
        for (f, field) in meta.fields.iter().enumerate() {
            if field.auto == Auto::UpdatedAt {
                continue;
            }
            let name = field.name;
            let (a, b) = if field.hidden {
                // The value never leaves the row: only whether it changed.
                let differs = match (old, new) {
                    (Some(o), Some(n)) => o.get(f) != n.get(f),
                    _ => true,
                };
                if !differs {
                    continue;
                }
                let redacted = || Json::from(AuditEntry::REDACTED);
                (old.map(|_| redacted()), new.map(|_| redacted()))
            } else {
                let pick = |json: &Option<Map<String, Json>>| {
                    json.as_ref()
                        .map(|m| m.get(name).cloned().unwrap_or(Json::Null))
                };
                let (a, b) = (pick(&old_json), pick(&new_json));
                if a.is_some() && a == b {
                    continue;
                }
                (a, b)
            };
            changes.push(name.to_owned());
            if let Some(a) = a {
                was.insert(name.to_owned(), a);
            }
            if let Some(b) = b {
                is.insert(name.to_owned(), b);
            }
        }
        if changes.is_empty() {
            continue;
        }
        let organization_id = meta.presets.tenant.and_then(|t| {
            new_json
                .as_ref()
                .or(old_json.as_ref())?
                .get(meta.fields[t].name)?
                .as_str()
                .map(str::to_owned)
        });
        out.push(AuditEntry {
            id: uuid::Uuid::new_v4(),
            resource: meta.name.to_owned(),
            document_id: crate::value::to_cursor_text(row.get(meta.id)).unwrap_or_default(),
            action: action(change),
            user_id: caller.user_id.clone(),
            organization_id,
            request_id: request_id.clone(),
            trace_id: trace_id.clone(),
            changes,
            before: old.map(|_| was),
            after: new.map(|_| is),
            timestamp,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arc_runtime::prelude::*;
    use serde_json::json;

    #[resource(presets(audited, multi_tenant(field = "org_id")))]
    #[permissions(default = public)]
    #[allow(
        dead_code,
        reason = "a fixture: the tests build its models, not the struct"
    )]
    pub(crate) struct Case {
        #[field(id)]
        pub id: Uuid,
        #[field(system)]
        pub org_id: String,
        pub title: String,
        #[field(hidden)]
        pub secret: Option<String>,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }

    fn case(title: &str, secret: Option<&str>) -> case_entity::Model {
        let at = Utc::now();
        case_entity::Model {
            id: Uuid::nil(),
            org_id: "acme".into(),
            title: title.into(),
            secret: secret.map(str::to_owned),
            created_at: at,
            updated_at: at,
        }
    }

    /// The entries of a write of `Case` rows, from their models as the writes have them.
    fn case_entries(
        caller: &AuthContext,
        change: Change,
        before: &[<Case as Resource>::Model],
        after: &[<Case as Resource>::Model],
    ) -> Result<Vec<AuditEntry>, ArcError> {
        let records = |rows: &[<Case as Resource>::Model]| {
            rows.iter().map(Record::of::<Case>).collect::<Vec<_>>()
        };
        entries(
            Case::META,
            caller,
            change,
            &records(before),
            &records(after),
        )
    }

    fn ada() -> AuthContext {
        AuthContext {
            user_id: Some("ada".into()),
            org_id: Some("elsewhere".into()),
            ..AuthContext::default()
        }
    }

    #[test]
    fn a_create_records_the_row_and_never_a_hidden_value() {
        let row = case("A", Some("s3cr3t"));
        let entries = case_entries(&ada(), Change::Created, &[], &[row]).unwrap();
        let [entry] = entries.as_slice() else {
            panic!("one entry: {entries:?}")
        };
        assert_eq!(entry.action, AuditAction::Create);
        assert_eq!(entry.resource, "case");
        assert_eq!(entry.document_id, Uuid::nil().to_string());
        assert_eq!(entry.user_id.as_deref(), Some("ada"));
        assert_eq!(
            entry.organization_id.as_deref(),
            Some("acme"),
            "the row's organization, not the writer's"
        );
        assert_eq!(
            entry.changes,
            ["id", "org_id", "title", "secret", "created_at"]
        );
        assert!(entry.before.is_none());
        let after = Json::Object(entry.after.clone().unwrap());
        assert_eq!(after["title"], "A");
        assert_eq!(after["secret"], AuditEntry::REDACTED);
        assert!(after.get("updated_at").is_none());
        assert!(!serde_json::to_string(entry).unwrap().contains("s3cr3t"));
    }

    #[test]
    fn an_update_records_what_changed_and_nothing_when_nothing_did() {
        let old = case("A", Some("one"));
        let mut same = old.clone();
        same.updated_at = Utc::now() + chrono::Duration::seconds(1);
        let none =
            case_entries(&ada(), Change::Updated, std::slice::from_ref(&old), &[same]).unwrap();
        assert!(none.is_empty(), "updated_at alone is no change: {none:?}");

        let mut new = old.clone();
        new.title = "B".into();
        new.secret = Some("two".into());
        let entries = case_entries(&ada(), Change::Updated, &[old], &[new]).unwrap();
        let entry = &entries[0];
        assert_eq!(entry.action, AuditAction::Update);
        assert_eq!(entry.changes, ["title", "secret"]);
        assert_eq!(
            Json::Object(entry.before.clone().unwrap()),
            json!({"title": "A", "secret": AuditEntry::REDACTED})
        );
        assert_eq!(
            Json::Object(entry.after.clone().unwrap()),
            json!({"title": "B", "secret": AuditEntry::REDACTED})
        );
    }

    #[test]
    fn a_delete_for_good_records_the_row_before() {
        let row = case("A", None);
        let entries = case_entries(&ada(), Change::Deleted, &[row], &[]).unwrap();
        let entry = &entries[0];
        assert_eq!(entry.action, AuditAction::Delete);
        assert!(entry.after.is_none());
        let before = entry.before.clone().unwrap();
        assert_eq!(before["title"], "A");
        assert_eq!(before["secret"], AuditEntry::REDACTED);
    }

    #[test]
    fn times_keep_microseconds() {
        use chrono::Timelike;
        assert_eq!(now().nanosecond() % 1000, 0);
    }
}
