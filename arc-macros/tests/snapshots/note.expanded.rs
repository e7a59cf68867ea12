/// A note owned by the user in `owner_id`.
pub struct Note {
    pub id: Uuid,
    pub title: String,
    pub owner_id: String,
    /// Only admins see it, or can select, filter or sort by it.
    pub score: Option<i64>,
    /// Only admins may set it; anyone else's write is a 403.
    pub pinned: bool,
    /// Masked for interns.
    pub contact: Option<String>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
/// The sea-orm entity of [`super::Note`]: table `notes`.
pub mod note_entity {
    use ::arc_runtime::__private_0_1::sea_orm;
    use sea_orm::entity::prelude::*;
    /// A row as stored.
    #[derive(Clone, Debug, PartialEq, sea_orm::DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: ::arc_runtime::__private_0_1::uuid::Uuid,
        #[sea_orm(indexed)]
        pub title: ::std::string::String,
        #[sea_orm(indexed)]
        pub owner_id: ::std::string::String,
        /// Only admins see it, or can select, filter or sort by it.
        #[sea_orm(indexed)]
        pub score: Option<i64>,
        /// Only admins may set it; anyone else's write is a 403.
        pub pinned: bool,
        /// Masked for interns.
        pub contact: Option<::std::string::String>,
        pub deleted_at: Option<
            ::arc_runtime::__private_0_1::chrono::DateTime<
                ::arc_runtime::__private_0_1::chrono::Utc,
            >,
        >,
        pub created_at: ::arc_runtime::__private_0_1::chrono::DateTime<
            ::arc_runtime::__private_0_1::chrono::Utc,
        >,
        pub updated_at: ::arc_runtime::__private_0_1::chrono::DateTime<
            ::arc_runtime::__private_0_1::chrono::Utc,
        >,
    }
    /// No relations are declared.
    #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
    pub enum Relation {}
    impl sea_orm::ActiveModelBehavior for ActiveModel {}
}
/// The body of `POST /notes`: the client-writable fields of [`Note`].
#[derive(Debug, Clone, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct NoteCreate {
    pub title: String,
    pub owner_id: String,
    /// Only admins see it, or can select, filter or sort by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i64>,
    /// Only admins may set it; anyone else's write is a 403.
    pub pinned: bool,
    /// Masked for interns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}
/// The body of `PATCH /notes/{id}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one; `null` for any other field is refused.
#[derive(Debug, Clone, Default, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct NotePatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Only admins see it, or can select, filter or sort by it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Option<i64>>,
    /// Only admins may set it; anyone else's write is a 403.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<bool>,
    /// Masked for interns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<Option<String>>,
}
const _: () = {
    use ::arc_runtime::__private_0_1 as __p;
    /// The routes, and who may use them:
    ///
    /// `GET /notes`: any(owner(owner_id), roles(admin))
    /// `POST /notes`: roles(writer, admin)
    /// `GET /notes/{id}`: any(owner(owner_id), roles(admin))
    /// `PATCH /notes/{id}`: any(all(roles(writer), owner(owner_id)), roles(admin))
    /// `PUT /notes/{id}`: any(all(roles(writer), owner(owner_id)), roles(admin))
    /// `DELETE /notes/{id}`: roles(admin)
    /// `GET /notes/deleted`: all(org_member, org_roles(auditor))
    /// `POST /notes/{id}/restore`: when(crate::notes::may_restore)
    /// `POST /notes/bulk`: roles(admin) and roles(writer, admin)
    /// `PATCH /notes/bulk`: roles(admin) and any(all(roles(writer), owner(owner_id)), roles(admin))
    /// `DELETE /notes/bulk`: roles(admin) and roles(admin)
    impl __p::Resource for Note {
        type Entity = note_entity::Entity;
        type Model = note_entity::Model;
        type ActiveModel = note_entity::ActiveModel;
        const META: &'static __p::ResourceMeta = &__p::ResourceMeta {
            name: "note",
            doc: "A note owned by the user in `owner_id`.",
            path: "/notes",
            table: "notes",
            migration: "m_arc_create_notes",
            fields: &[
                __p::FieldMeta::new("id", __p::FieldType::Uuid)
                    .id()
                    .auto(__p::Auto::Uuid),
                __p::FieldMeta::new("title", __p::FieldType::String)
                    .filterable()
                    .sortable()
                    .searchable()
                    .len(Some(1), None),
                __p::FieldMeta::new("owner_id", __p::FieldType::String).filterable(),
                __p::FieldMeta::new("score", __p::FieldType::I64)
                    .nullable()
                    .filterable()
                    .sortable()
                    .visible_to(&["admin"])
                    .doc("Only admins see it, or can select, filter or sort by it."),
                __p::FieldMeta::new("pinned", __p::FieldType::Bool)
                    .default(__p::default_value::<bool>)
                    .writable_by(&["admin"])
                    .doc("Only admins may set it; anyone else's write is a 403."),
                __p::FieldMeta::new("contact", __p::FieldType::String)
                    .nullable()
                    .redact_for(&["intern"])
                    .doc("Masked for interns."),
                __p::FieldMeta::new("deleted_at", __p::FieldType::DateTime)
                    .nullable()
                    .system(),
                __p::FieldMeta::new("created_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::CreatedAt),
                __p::FieldMeta::new("updated_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::UpdatedAt),
            ],
            id: 0,
            presets: __p::Presets {
                soft_delete: Some(6),
                slug_lookup: None,
                tree: None,
                bulk: true,
                audited: false,
                tenant: None,
                owner: None,
                owner_bypass: &[],
                actions: false,
            },
            default_sort: "-created_at",
            lenient: false,
            idempotency: None,
            permissions: __p::Permissions {
                list: __p::Rule::Any(
                    &[__p::Rule::Owner("owner_id"), __p::Rule::Roles(&["admin"])],
                ),
                get: __p::Rule::Any(
                    &[__p::Rule::Owner("owner_id"), __p::Rule::Roles(&["admin"])],
                ),
                create: __p::Rule::Roles(&["writer", "admin"]),
                update: __p::Rule::Any(
                    &[
                        __p::Rule::All(
                            &[
                                __p::Rule::Roles(&["writer"]),
                                __p::Rule::Owner("owner_id"),
                            ],
                        ),
                        __p::Rule::Roles(&["admin"]),
                    ],
                ),
                delete: __p::Rule::Roles(&["admin"]),
                deleted: __p::Rule::All(
                    &[__p::Rule::OrgMember, __p::Rule::OrgRoles(&["auditor"])],
                ),
                restore: ::arc_runtime::when!(
                    crate ::notes::may_restore, "crate::notes::may_restore"
                ),
                tree: __p::Rule::Deny,
                bulk: __p::Rule::Roles(&["admin"]),
                actions: &[],
                transitions: &[],
            },
            cache: None,
            read_hooks: __p::ReadHookFns::of::<Self>(),
        };
        fn column(index: usize) -> note_entity::Column {
            const COLUMNS: [note_entity::Column; 9] = [
                note_entity::Column::Id,
                note_entity::Column::Title,
                note_entity::Column::OwnerId,
                note_entity::Column::Score,
                note_entity::Column::Pinned,
                note_entity::Column::Contact,
                note_entity::Column::DeletedAt,
                note_entity::Column::CreatedAt,
                note_entity::Column::UpdatedAt,
            ];
            COLUMNS[index]
        }
    }
    /// No hooks declared: the defaults do nothing.
    impl __p::Hooks for Note {
        const DECLARED: bool = false;
    }
    /// No read hooks declared: reads are not narrowed.
    impl __p::ReadHooks for Note {
        const DECLARED: bool = false;
    }
    /// No actions declared: no action route.
    impl __p::Actions for Note {
        type Action = __p::NoActions;
        fn act(
            _: &__p::WriteContext<'_>,
            _: &note_entity::Model,
            action: __p::NoActions,
            _: &mut note_entity::ActiveModel,
        ) -> ::core::future::Ready<::core::result::Result<(), __p::ArcError>> {
            match action {}
        }
    }
};
