/// Each signed-in caller keeps their own diary entries; admins and support reach all. The
/// owner field is the server's: a hook stamps it.
pub struct Diary {
    pub id: Uuid,
    pub title: String,
    pub user_id: String,
    pub deleted_at: Option<DateTime<Utc>>,
}
/// The sea-orm entity of [`super::Diary`]: table `diaries`.
pub mod diary_entity {
    use ::arc_runtime::__private_0_1::sea_orm;
    use sea_orm::entity::prelude::*;
    /// A row as stored.
    #[derive(Clone, Debug, PartialEq, sea_orm::DeriveEntityModel)]
    #[sea_orm(table_name = "diaries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: ::arc_runtime::__private_0_1::uuid::Uuid,
        #[sea_orm(indexed)]
        pub title: ::std::string::String,
        pub user_id: ::std::string::String,
        pub deleted_at: Option<
            ::arc_runtime::__private_0_1::chrono::DateTime<
                ::arc_runtime::__private_0_1::chrono::Utc,
            >,
        >,
    }
    /// No relations are declared.
    #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
    pub enum Relation {}
    impl sea_orm::ActiveModelBehavior for ActiveModel {}
}
/// The body of `POST /diaries`: the client-writable fields of [`Diary`].
#[derive(Debug, Clone, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct DiaryCreate {
    pub title: String,
}
/// The body of `PATCH /diaries/{id}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one; `null` for any other field is refused.
#[derive(Debug, Clone, Default, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct DiaryPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}
const _: () = {
    use ::arc_runtime::__private_0_1 as __p;
    /// The routes, and who may use them:
    ///
    /// `GET /diaries`: any(roles(admin, support), owner(user_id))
    /// `POST /diaries`: authenticated
    /// `GET /diaries/{id}`: any(roles(admin, support), owner(user_id))
    /// `PATCH /diaries/{id}`: any(roles(admin, support), owner(user_id))
    /// `PUT /diaries/{id}`: any(roles(admin, support), owner(user_id))
    /// `DELETE /diaries/{id}`: any(roles(admin, support), owner(user_id))
    /// `GET /diaries/deleted`: roles(admin, support)
    /// `POST /diaries/{id}/restore`: roles(admin, support)
    /// `POST /diaries/bulk`: roles(admin, support) and authenticated
    /// `PATCH /diaries/bulk`: roles(admin, support) and any(roles(admin, support), owner(user_id))
    /// `DELETE /diaries/bulk`: roles(admin, support) and any(roles(admin, support), owner(user_id))
    impl __p::Resource for Diary {
        type Entity = diary_entity::Entity;
        type Model = diary_entity::Model;
        type ActiveModel = diary_entity::ActiveModel;
        const META: &'static __p::ResourceMeta = &__p::ResourceMeta {
            name: "diary",
            doc: "Each signed-in caller keeps their own diary entries; admins and support reach all. The\nowner field is the server's: a hook stamps it.",
            path: "/diaries",
            table: "diaries",
            migration: "m_arc_create_diaries",
            fields: &[
                __p::FieldMeta::new("id", __p::FieldType::Uuid)
                    .id()
                    .auto(__p::Auto::Uuid),
                __p::FieldMeta::new("title", __p::FieldType::String)
                    .filterable()
                    .sortable()
                    .len(Some(1), Some(100)),
                __p::FieldMeta::new("user_id", __p::FieldType::String).system(),
                __p::FieldMeta::new("deleted_at", __p::FieldType::DateTime)
                    .nullable()
                    .system(),
            ],
            id: 0,
            presets: __p::Presets {
                soft_delete: Some(3),
                slug_lookup: None,
                tree: None,
                bulk: true,
                audited: false,
                tenant: None,
                owner: None,
                owner_bypass: &[],
                actions: false,
            },
            default_sort: "",
            lenient: false,
            idempotency: None,
            permissions: __p::Permissions {
                list: __p::Rule::Any(
                    &[
                        __p::Rule::Roles(&["admin", "support"]),
                        __p::Rule::Owner("user_id"),
                    ],
                ),
                get: __p::Rule::Any(
                    &[
                        __p::Rule::Roles(&["admin", "support"]),
                        __p::Rule::Owner("user_id"),
                    ],
                ),
                create: __p::Rule::Authenticated,
                update: __p::Rule::Any(
                    &[
                        __p::Rule::Roles(&["admin", "support"]),
                        __p::Rule::Owner("user_id"),
                    ],
                ),
                delete: __p::Rule::Any(
                    &[
                        __p::Rule::Roles(&["admin", "support"]),
                        __p::Rule::Owner("user_id"),
                    ],
                ),
                deleted: __p::Rule::Roles(&["admin", "support"]),
                restore: __p::Rule::Roles(&["admin", "support"]),
                tree: __p::Rule::Any(
                    &[
                        __p::Rule::Roles(&["admin", "support"]),
                        __p::Rule::Owner("user_id"),
                    ],
                ),
                bulk: __p::Rule::Roles(&["admin", "support"]),
                actions: &[],
                transitions: &[],
            },
            cache: None,
            read_hooks: __p::ReadHookFns::of::<Self>(),
        };
        fn column(index: usize) -> diary_entity::Column {
            const COLUMNS: [diary_entity::Column; 4] = [
                diary_entity::Column::Id,
                diary_entity::Column::Title,
                diary_entity::Column::UserId,
                diary_entity::Column::DeletedAt,
            ];
            COLUMNS[index]
        }
    }
    /// No read hooks declared: reads are not narrowed.
    impl __p::ReadHooks for Diary {
        const DECLARED: bool = false;
    }
    /// No actions declared: no action route.
    impl __p::Actions for Diary {
        type Action = __p::NoActions;
        fn act(
            _: &__p::WriteContext<'_>,
            _: &diary_entity::Model,
            action: __p::NoActions,
            _: &mut diary_entity::ActiveModel,
        ) -> ::core::future::Ready<::core::result::Result<(), __p::ArcError>> {
            match action {}
        }
    }
};
