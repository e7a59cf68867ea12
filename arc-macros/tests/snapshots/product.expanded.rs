/// A product of one organization's catalog. Prices are integers in minor units (cents).
pub struct Product {
    pub id: Uuid,
    /// The owning organization (the caller's, set by the multi-tenant preset).
    pub org_id: String,
    pub name: String,
    pub slug: Option<String>,
    pub price: i64,
    pub status: ProductStatus,
    pub category_id: Option<Uuid>,
    /// What the product costs the shop: only admins see it.
    pub cost: Option<i64>,
    pub internal_note: Option<String>,
    /// Shown first in the storefront; only admins may set it.
    pub is_featured: bool,
    /// Who created it (the caller, set by a hook).
    pub created_by: String,
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
/// The sea-orm entity of [`super::Product`]: table `products`.
pub mod product_entity {
    use ::arc_runtime::__private_0_1::sea_orm;
    use sea_orm::entity::prelude::*;
    /// A row as stored.
    #[derive(Clone, Debug, PartialEq, sea_orm::DeriveEntityModel)]
    #[sea_orm(table_name = "products")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: ::arc_runtime::__private_0_1::uuid::Uuid,
        /// The owning organization (the caller's, set by the multi-tenant preset).
        pub org_id: ::std::string::String,
        #[sea_orm(indexed)]
        pub name: ::std::string::String,
        pub slug: Option<::std::string::String>,
        #[sea_orm(indexed)]
        pub price: i64,
        #[sea_orm(indexed)]
        pub status: ::std::string::String,
        #[sea_orm(indexed)]
        pub category_id: Option<::arc_runtime::__private_0_1::uuid::Uuid>,
        /// What the product costs the shop: only admins see it.
        pub cost: Option<i64>,
        pub internal_note: Option<::std::string::String>,
        /// Shown first in the storefront; only admins may set it.
        #[sea_orm(indexed)]
        pub is_featured: bool,
        /// Who created it (the caller, set by a hook).
        pub created_by: ::std::string::String,
        pub deleted_at: Option<
            ::arc_runtime::__private_0_1::chrono::DateTime<
                ::arc_runtime::__private_0_1::chrono::Utc,
            >,
        >,
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
/// The body of `POST /products`: the client-writable fields of [`Product`].
#[derive(Debug, Clone, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct ProductCreate {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    pub price: i64,
    pub status: ProductStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_id: Option<Uuid>,
    /// What the product costs the shop: only admins see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_note: Option<String>,
    /// Shown first in the storefront; only admins may set it.
    pub is_featured: bool,
}
/// The body of `PATCH /products/{id}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one; `null` for any other field is refused.
#[derive(Debug, Clone, Default, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct ProductPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ProductStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category_id: Option<Option<Uuid>>,
    /// What the product costs the shop: only admins see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_note: Option<Option<String>>,
    /// Shown first in the storefront; only admins may set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_featured: Option<bool>,
}
const _: () = {
    use ::arc_runtime::__private_0_1 as __p;
    /// The routes, and who may use them:
    ///
    /// `GET /products`: org_member
    /// `POST /products`: roles(editor)
    /// `GET /products/{id}`: org_member
    /// `PATCH /products/{id}`: any(roles(admin), all(roles(editor), owner(created_by)))
    /// `PUT /products/{id}`: any(roles(admin), all(roles(editor), owner(created_by)))
    /// `DELETE /products/{id}`: roles(admin)
    /// `GET /products/deleted`: roles(admin)
    /// `POST /products/{id}/restore`: roles(admin)
    /// `GET /products/slug/{slug}`: org_member
    /// `POST /products/bulk`: roles(admin) and roles(editor)
    /// `PATCH /products/bulk`: roles(admin) and any(roles(admin), all(roles(editor), owner(created_by)))
    /// `DELETE /products/bulk`: roles(admin) and roles(admin)
    impl __p::Resource for Product {
        type Entity = product_entity::Entity;
        type Model = product_entity::Model;
        type ActiveModel = product_entity::ActiveModel;
        const META: &'static __p::ResourceMeta = &__p::ResourceMeta {
            name: "product",
            doc: "A product of one organization's catalog. Prices are integers in minor units (cents).",
            path: "/products",
            table: "products",
            migration: "m_arc_create_products",
            fields: &[
                __p::FieldMeta::new("id", __p::FieldType::Uuid)
                    .id()
                    .auto(__p::Auto::Uuid),
                __p::FieldMeta::new("org_id", __p::FieldType::String)
                    .system()
                    .doc(
                        "The owning organization (the caller's, set by the multi-tenant preset).",
                    ),
                __p::FieldMeta::new("name", __p::FieldType::String)
                    .filterable()
                    .sortable()
                    .searchable()
                    .len(Some(1), Some(200)),
                __p::FieldMeta::new("slug", __p::FieldType::String)
                    .nullable()
                    .unique()
                    .len(Some(1), Some(200)),
                __p::FieldMeta::new("price", __p::FieldType::I64)
                    .filterable()
                    .sortable()
                    .range(Some(0.0), None),
                __p::FieldMeta::new(
                        "status",
                        __p::FieldType::Enum(<ProductStatus as __p::TextEnum>::VARIANTS),
                    )
                    .default(__p::default_value::<ProductStatus>)
                    .filterable(),
                __p::FieldMeta::new("category_id", __p::FieldType::Uuid)
                    .nullable()
                    .filterable()
                    .references(__p::meta_of::<Category>)
                    .populate("category"),
                __p::FieldMeta::new("cost", __p::FieldType::I64)
                    .nullable()
                    .range(Some(0.0), None)
                    .visible_to(&["admin"])
                    .doc("What the product costs the shop: only admins see it."),
                __p::FieldMeta::new("internal_note", __p::FieldType::String)
                    .nullable()
                    .hidden()
                    .len(None, Some(2000)),
                __p::FieldMeta::new("is_featured", __p::FieldType::Bool)
                    .default(__p::default_value::<bool>)
                    .filterable()
                    .writable_by(&["admin"])
                    .doc("Shown first in the storefront; only admins may set it."),
                __p::FieldMeta::new("created_by", __p::FieldType::String)
                    .system()
                    .doc("Who created it (the caller, set by a hook)."),
                __p::FieldMeta::new("deleted_at", __p::FieldType::DateTime)
                    .nullable()
                    .system(),
                __p::FieldMeta::new("created_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::CreatedAt)
                    .filterable()
                    .sortable(),
                __p::FieldMeta::new("updated_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::UpdatedAt),
            ],
            id: 0,
            presets: __p::Presets {
                soft_delete: Some(11),
                slug_lookup: Some(3),
                tree: None,
                bulk: true,
                audited: false,
                tenant: Some(1),
                owner: None,
                owner_bypass: &[],
                actions: false,
            },
            default_sort: "-created_at",
            lenient: false,
            idempotency: None,
            permissions: __p::Permissions {
                list: __p::Rule::OrgMember,
                get: __p::Rule::OrgMember,
                create: __p::Rule::Roles(&["editor"]),
                update: __p::Rule::Any(
                    &[
                        __p::Rule::Roles(&["admin"]),
                        __p::Rule::All(
                            &[
                                __p::Rule::Roles(&["editor"]),
                                __p::Rule::Owner("created_by"),
                            ],
                        ),
                    ],
                ),
                delete: __p::Rule::Roles(&["admin"]),
                deleted: __p::Rule::Roles(&["admin"]),
                restore: __p::Rule::Roles(&["admin"]),
                tree: __p::Rule::Roles(&["admin"]),
                bulk: __p::Rule::Roles(&["admin"]),
                actions: &[],
                transitions: &[],
            },
            cache: Some(__p::CacheMeta {
                stale: __p::Duration::from_secs(30),
                expire: __p::Duration::from_secs(300),
                tags: &[],
                key: "product@573d999c872467bf",
            }),
            read_hooks: __p::ReadHookFns::of::<Self>(),
        };
        fn column(index: usize) -> product_entity::Column {
            const COLUMNS: [product_entity::Column; 14] = [
                product_entity::Column::Id,
                product_entity::Column::OrgId,
                product_entity::Column::Name,
                product_entity::Column::Slug,
                product_entity::Column::Price,
                product_entity::Column::Status,
                product_entity::Column::CategoryId,
                product_entity::Column::Cost,
                product_entity::Column::InternalNote,
                product_entity::Column::IsFeatured,
                product_entity::Column::CreatedBy,
                product_entity::Column::DeletedAt,
                product_entity::Column::CreatedAt,
                product_entity::Column::UpdatedAt,
            ];
            COLUMNS[index]
        }
    }
    /// No read hooks declared: reads are not narrowed.
    impl __p::ReadHooks for Product {
        const DECLARED: bool = false;
    }
    const _: () = ::core::assert!(
        __p::FieldType::Uuid.same_kind(< Category as __p::Resource > ::META.fields[<
        Category as __p::Resource > ::META.id].ty),
        "`category_id` holds another kind of value than the id of the resource it references"
    );
    /// No actions declared: no action route.
    impl __p::Actions for Product {
        type Action = __p::NoActions;
        fn act(
            _: &__p::WriteContext<'_>,
            _: &product_entity::Model,
            action: __p::NoActions,
            _: &mut product_entity::ActiveModel,
        ) -> ::core::future::Ready<::core::result::Result<(), __p::ArcError>> {
            match action {}
        }
    }
};
