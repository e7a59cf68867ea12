//! An audit entry: the public [`AuditEntry`], its row in the `arc_audit` table (`table`), and
//! [`AuditRecord`], the entries described as a resource's field table, so the list grammar's
//! parser, its SQL and its envelopes serve `GET /_audit` as they serve a resource's list.
//!
//! The wire names are arc's (`documentId`, `userId`, `organizationId`, `requestId`,
//! `timestamp`); the columns are their snake_case forms.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use uuid::Uuid;

use crate::permissions::{Permissions, Rule};
use crate::resource::{FieldMeta, FieldType, Ops, Presets, Resource, ResourceMeta};

/// What a write did to a row, as the audit trail names it (arc's `AuditAction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// The row was created.
    Create,
    /// Fields of the row changed.
    Update,
    /// The row was deleted (soft or for good).
    Delete,
    /// A soft-deleted row came back.
    Restore,
    /// A caller acted with platform elevation (`x-arc-scope: platform`): one entry per
    /// request, of the resource `_elevation`, written before the request ran.
    Elevate,
    /// A [`Compensation`](crate::Compensation) failed at a step and undid the steps before
    /// it: one entry per failed run, of the resource `_compensation`
    /// ([`Compensation::run_recorded`](crate::Compensation::run_recorded)).
    Compensate,
}

impl AuditAction {
    /// Every action, in the order of the wire's enum.
    pub const ALL: [AuditAction; 6] = [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Delete,
        AuditAction::Restore,
        AuditAction::Elevate,
        AuditAction::Compensate,
    ];

    /// The action's name on the wire: `create`, `update`, `delete`, `restore`, `elevate`,
    /// `compensate`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Delete => "delete",
            AuditAction::Restore => "restore",
            AuditAction::Elevate => "elevate",
            AuditAction::Compensate => "compensate",
        }
    }

    /// The action named `name`.
    pub fn from_name(name: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

/// One entry of the audit trail: one row written by one write of an `audited` resource.
///
/// `before` and `after` hold the fields whose values differ between the row before the write
/// and the row after it, and `changes` their names: on a create there is no row before, so
/// `after` is the whole row (and `before` is `None`); on a delete for good, `before` is the
/// whole row; on an update, a restore or a soft delete, only the fields that changed
/// (`updated_at` is left out: the entry's `timestamp` says when). A hidden field's value is
/// never recorded: it appears as [`REDACTED`](AuditEntry::REDACTED).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuditEntry {
    /// The entry's own id (random: it tells nothing about how many entries there are).
    pub id: Uuid,
    /// The resource written (`order`).
    pub resource: String,
    /// The id of the row written.
    pub document_id: String,
    /// What the write did to it.
    pub action: AuditAction,
    /// Who wrote it (the caller's user id).
    pub user_id: Option<String>,
    /// The organization whose row it is (the tenant field of a `multi_tenant` resource);
    /// `None` for a resource every organization shares.
    pub organization_id: Option<String>,
    /// The request's `x-request-id`.
    pub request_id: Option<String>,
    /// The request's W3C trace id (32 hex digits).
    pub trace_id: Option<String>,
    /// The names of the fields that changed.
    pub changes: Vec<String>,
    /// Their values before the write (`None` on a create).
    pub before: Option<Map<String, Json>>,
    /// Their values after it (`None` on a delete for good).
    pub after: Option<Map<String, Json>>,
    /// When the write happened.
    pub timestamp: DateTime<Utc>,
}

impl AuditEntry {
    /// What stands in an entry for the value of a hidden field, which is never recorded.
    pub const REDACTED: &'static str = "[redacted]";
}

/// The `arc_audit` table, as a sea-orm entity.
pub(crate) mod table {
    use sea_orm::entity::prelude::*;

    /// An entry as stored.
    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "arc_audit")]
    pub(crate) struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub(crate) id: Uuid,
        pub(crate) resource: String,
        pub(crate) document_id: String,
        pub(crate) action: String,
        pub(crate) user_id: Option<String>,
        pub(crate) organization_id: Option<String>,
        pub(crate) request_id: Option<String>,
        pub(crate) trace_id: Option<String>,
        pub(crate) changes: Json,
        pub(crate) before: Option<Json>,
        pub(crate) after: Option<Json>,
        pub(crate) timestamp: DateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl From<AuditEntry> for table::Model {
    fn from(e: AuditEntry) -> Self {
        table::Model {
            id: e.id,
            resource: e.resource,
            document_id: e.document_id,
            action: e.action.as_str().to_owned(),
            user_id: e.user_id,
            organization_id: e.organization_id,
            request_id: e.request_id,
            trace_id: e.trace_id,
            changes: Json::from(e.changes),
            before: e.before.map(Json::Object),
            after: e.after.map(Json::Object),
            timestamp: e.timestamp,
        }
    }
}

impl table::Model {
    /// The entry this row holds, or why it cannot be one (written by hand, or by another
    /// version).
    pub(crate) fn into_entry(self) -> Result<AuditEntry, String> {
        let object = |json: Option<Json>| match json {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Object(map)) => Ok(Some(map)),
            Some(other) => Err(format!("not an object: {other}")),
        };
        Ok(AuditEntry {
            action: AuditAction::from_name(&self.action)
                .ok_or_else(|| format!("unknown action `{}`", self.action))?,
            changes: serde_json::from_value(self.changes).map_err(|e| e.to_string())?,
            before: object(self.before)?,
            after: object(self.after)?,
            id: self.id,
            resource: self.resource,
            document_id: self.document_id,
            user_id: self.user_id,
            organization_id: self.organization_id,
            request_id: self.request_id,
            trace_id: self.trace_id,
            timestamp: self.timestamp,
        })
    }
}

/// The entries of the audit trail described as a resource: their field table is what
/// `GET /_audit`'s query grammar filters, sorts and selects by, and what its document
/// describes. It is never mounted as a resource.
pub(crate) struct AuditRecord;

/// Identity filters (`eq ne in nin exists`) on a text field.
const fn text(name: &'static str) -> FieldMeta {
    FieldMeta {
        filter: Ops::EQUALITY,
        ..FieldMeta::new(name, FieldType::String)
    }
}

/// The wire names of the actions, for the field table.
const ACTIONS: &[&str] = &{
    let mut names = [""; AuditAction::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = AuditAction::ALL[i].as_str();
        i += 1;
    }
    names
};

/// Field indexes of [`AuditRecord::META`], in `table::Model`'s order.
pub(crate) mod field {
    pub(crate) const ID: usize = 0;
    pub(crate) const RESOURCE: usize = 1;
    pub(crate) const DOCUMENT_ID: usize = 2;
    pub(crate) const ACTION: usize = 3;
    pub(crate) const USER_ID: usize = 4;
    pub(crate) const ORGANIZATION_ID: usize = 5;
    pub(crate) const REQUEST_ID: usize = 6;
    pub(crate) const TRACE_ID: usize = 7;
    pub(crate) const CHANGES: usize = 8;
    pub(crate) const BEFORE: usize = 9;
    pub(crate) const AFTER: usize = 10;
    pub(crate) const TIMESTAMP: usize = 11;
}

static FIELDS: [FieldMeta; 12] = [
    FieldMeta::new("id", FieldType::Uuid)
        .id()
        .doc("The entry's id (random)."),
    text("resource")
        .sortable()
        .doc("The resource written (`order`)."),
    text("documentId").column("document_id")
        .sortable()
        .doc("The id of the row written."),
    FieldMeta::new("action", FieldType::Enum(ACTIONS))
        .filterable()
        .sortable()
        .doc("What the write did to the row."),
    text("userId").column("user_id").nullable().doc("Who wrote it."),
    text("organizationId").column("organization_id")
        .nullable()
        .doc("The organization whose row it is; null for rows every organization shares."),
    text("requestId").column("request_id")
        .nullable()
        .doc("The `x-request-id` of the write."),
    text("traceId").column("trace_id")
        .nullable()
        .doc("The W3C trace id of the write."),
    FieldMeta::new("changes", FieldType::Json)
        .doc("The names of the fields that changed (every field on a create or a delete for good)."),
    FieldMeta::new("before", FieldType::Json)
        .nullable()
        .doc("The changed fields' values before the write (the whole row on a delete for good); null on a create. Hidden fields read \"[redacted]\"."),
    FieldMeta::new("after", FieldType::Json)
        .nullable()
        .doc("The changed fields' values after the write (the whole row on a create); null on a delete for good. Hidden fields read \"[redacted]\"."),
    FieldMeta::new("timestamp", FieldType::DateTime)
        .filterable()
        .sortable()
        .doc("When the write happened."),
];

/// Nobody: the entries are not a resource's rows; `GET /_audit` checks its own readers.
const NOBODY: Permissions = Permissions {
    list: Rule::Deny,
    get: Rule::Deny,
    create: Rule::Deny,
    update: Rule::Deny,
    delete: Rule::Deny,
    deleted: Rule::Deny,
    restore: Rule::Deny,
    tree: Rule::Deny,
    bulk: Rule::Deny,
    actions: &[],
    transitions: &[],
};

static META: ResourceMeta = ResourceMeta {
    name: "audit_entry",
    doc: "One entry of the audit trail: one row written by one write of an audited resource.",
    path: super::PATH,
    table: "arc_audit",
    migration: crate::stores::audit_sql::MIGRATION,
    fields: &FIELDS,
    id: field::ID,
    presets: Presets::NONE,
    default_sort: "-timestamp",
    lenient: false,
    idempotency: None,
    permissions: NOBODY,
    cache: None,
    read_hooks: None,
};

impl Resource for AuditRecord {
    type Entity = table::Entity;
    type Model = table::Model;
    type ActiveModel = table::ActiveModel;

    const META: &'static ResourceMeta = &META;

    fn column(index: usize) -> table::Column {
        const COLUMNS: [table::Column; 12] = [
            table::Column::Id,
            table::Column::Resource,
            table::Column::DocumentId,
            table::Column::Action,
            table::Column::UserId,
            table::Column::OrganizationId,
            table::Column::RequestId,
            table::Column::TraceId,
            table::Column::Changes,
            table::Column::Before,
            table::Column::After,
            table::Column::Timestamp,
        ];
        COLUMNS[index]
    }
}

/// The value of field `index` of `entry`, as the query grammar types it.
pub(crate) fn value_of(entry: &AuditEntry, index: usize) -> sea_orm::Value {
    use sea_orm::Value;
    let text = |s: &Option<String>| Value::String(s.clone());
    match index {
        field::ID => Value::Uuid(Some(entry.id)),
        field::RESOURCE => Value::String(Some(entry.resource.clone())),
        field::DOCUMENT_ID => Value::String(Some(entry.document_id.clone())),
        field::ACTION => Value::String(Some(entry.action.as_str().to_owned())),
        field::USER_ID => text(&entry.user_id),
        field::ORGANIZATION_ID => text(&entry.organization_id),
        field::REQUEST_ID => text(&entry.request_id),
        field::TRACE_ID => text(&entry.trace_id),
        field::TIMESTAMP => Value::ChronoDateTimeUtc(Some(entry.timestamp)),
        field::CHANGES => Value::Json(Some(Box::new(Json::from(entry.changes.clone())))),
        field::BEFORE => Value::Json(entry.before.clone().map(|m| Box::new(Json::Object(m)))),
        field::AFTER => Value::Json(entry.after.clone().map(|m| Box::new(Json::Object(m)))),
        _ => Value::String(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The audit table with two columns swapped in its `column`: rows would be read into
    /// the wrong fields.
    struct Shuffled;

    impl Resource for Shuffled {
        type Entity = table::Entity;
        type Model = table::Model;
        type ActiveModel = table::ActiveModel;

        const META: &'static ResourceMeta = &META;

        fn column(index: usize) -> table::Column {
            match index {
                field::USER_ID => table::Column::OrganizationId,
                field::ORGANIZATION_ID => table::Column::UserId,
                i => AuditRecord::column(i),
            }
        }
    }

    #[test]
    fn an_app_refuses_a_resource_whose_columns_are_not_its_fields_in_order() {
        assert_eq!(crate::resource::column_order::<AuditRecord>(), None);
        assert_eq!(crate::resource::column_order::<crate::fuzz::Thing>(), None);
        let problem = crate::resource::column_order::<Shuffled>().expect("refused");
        assert!(problem.contains("are not its fields"), "{problem}");
    }

    #[test]
    fn the_field_table_follows_the_columns() {
        use sea_orm::{ColumnTrait, IdenStatic};
        let snake = |name: &str| {
            name.chars().fold(String::new(), |mut out, c| {
                if c.is_ascii_uppercase() {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
                out
            })
        };
        for (i, field) in FIELDS.iter().enumerate() {
            let column = AuditRecord::column(i);
            assert_eq!(column.as_str(), snake(field.name), "field {i}");
            assert_eq!(column.as_str(), field.column, "field {i}");
            let _ = column.def();
        }
    }

    #[test]
    fn entries_round_trip_through_their_rows() {
        let entry = AuditEntry {
            id: Uuid::new_v4(),
            resource: "order".into(),
            document_id: "o1".into(),
            action: AuditAction::Update,
            user_id: Some("ada".into()),
            organization_id: Some("acme".into()),
            request_id: None,
            trace_id: None,
            changes: vec!["status".into()],
            before: Some(
                serde_json::json!({"status": "pending"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
            after: Some(
                serde_json::json!({"status": "paid"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
            timestamp: Utc::now(),
        };
        let row = table::Model::from(entry.clone());
        assert_eq!(row.action, "update");
        assert_eq!(row.into_entry().unwrap(), entry);
        let wire = serde_json::to_value(&entry).unwrap();
        for name in FIELDS.iter().map(|f| f.name) {
            assert!(wire.get(name).is_some(), "{name} in {wire}");
        }
    }
}
