/// A product category; categories nest through `parent_id`.
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub parent_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
/// The sea-orm entity of [`super::Category`]: table `categories`.
pub mod category_entity {
    use ::arc_runtime::__private_0_1::sea_orm;
    use sea_orm::entity::prelude::*;
    /// A row as stored.
    #[derive(Clone, Debug, PartialEq, sea_orm::DeriveEntityModel)]
    #[sea_orm(table_name = "categories")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: ::arc_runtime::__private_0_1::uuid::Uuid,
        #[sea_orm(indexed)]
        pub name: ::std::string::String,
        pub slug: ::std::string::String,
        #[sea_orm(indexed)]
        pub parent_id: Option<::arc_runtime::__private_0_1::uuid::Uuid>,
        #[sea_orm(indexed)]
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
/// The body of `POST /categories`: the client-writable fields of [`Category`].
#[derive(Debug, Clone, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct CategoryCreate {
    pub name: String,
    pub slug: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Uuid>,
}
/// The body of `PATCH /categories/{id}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one; `null` for any other field is refused.
#[derive(Debug, Clone, Default, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct CategoryPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Option<Uuid>>,
}
const _: () = {
    use ::arc_runtime::__private_0_1 as __p;
    /// The routes, and who may use them:
    ///
    /// `GET /categories`: public
    /// `POST /categories`: roles(admin)
    /// `GET /categories/{id}`: public
    /// `PATCH /categories/{id}`: roles(admin)
    /// `PUT /categories/{id}`: roles(admin)
    /// `DELETE /categories/{id}`: roles(admin)
    /// `GET /categories/slug/{slug}`: public
    /// `GET /categories/tree`: public
    /// `GET /categories/{id}/children`: public
    impl __p::Resource for Category {
        type Entity = category_entity::Entity;
        type Model = category_entity::Model;
        type ActiveModel = category_entity::ActiveModel;
        const META: &'static __p::ResourceMeta = &__p::ResourceMeta {
            name: "category",
            doc: "A product category; categories nest through `parent_id`.",
            path: "/categories",
            table: "categories",
            migration: "m_arc_create_categories",
            fields: &[
                __p::FieldMeta::new("id", __p::FieldType::Uuid)
                    .id()
                    .auto(__p::Auto::Uuid),
                __p::FieldMeta::new("name", __p::FieldType::String)
                    .filterable()
                    .sortable()
                    .searchable()
                    .len(Some(1), Some(100)),
                __p::FieldMeta::new("slug", __p::FieldType::String)
                    .unique()
                    .filterable()
                    .len(Some(1), Some(100)),
                __p::FieldMeta::new("parent_id", __p::FieldType::Uuid)
                    .nullable()
                    .filterable(),
                __p::FieldMeta::new("created_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::CreatedAt)
                    .sortable(),
                __p::FieldMeta::new("updated_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::UpdatedAt),
            ],
            id: 0,
            presets: __p::Presets {
                soft_delete: None,
                slug_lookup: Some(2),
                tree: Some(3),
                bulk: false,
                audited: false,
                tenant: None,
                owner: None,
                owner_bypass: &[],
                actions: false,
            },
            default_sort: "name",
            lenient: false,
            idempotency: None,
            permissions: __p::Permissions {
                list: __p::Rule::Public,
                get: __p::Rule::Public,
                create: __p::Rule::Roles(&["admin"]),
                update: __p::Rule::Roles(&["admin"]),
                delete: __p::Rule::Roles(&["admin"]),
                deleted: __p::Rule::Roles(&["admin"]),
                restore: __p::Rule::Roles(&["admin"]),
                tree: __p::Rule::Public,
                bulk: __p::Rule::Roles(&["admin"]),
                actions: &[],
                transitions: &[],
            },
            cache: None,
            read_hooks: __p::ReadHookFns::of::<Self>(),
        };
        fn column(index: usize) -> category_entity::Column {
            const COLUMNS: [category_entity::Column; 6] = [
                category_entity::Column::Id,
                category_entity::Column::Name,
                category_entity::Column::Slug,
                category_entity::Column::ParentId,
                category_entity::Column::CreatedAt,
                category_entity::Column::UpdatedAt,
            ];
            COLUMNS[index]
        }
    }
    /// No hooks declared: the defaults do nothing.
    impl __p::Hooks for Category {
        const DECLARED: bool = false;
    }
    /// No read hooks declared: reads are not narrowed.
    impl __p::ReadHooks for Category {
        const DECLARED: bool = false;
    }
    /// No actions declared: no action route.
    impl __p::Actions for Category {
        type Action = __p::NoActions;
        fn act(
            _: &__p::WriteContext<'_>,
            _: &category_entity::Model,
            action: __p::NoActions,
            _: &mut category_entity::ActiveModel,
        ) -> ::core::future::Ready<::core::result::Result<(), __p::ArcError>> {
            match action {}
        }
    }
};
