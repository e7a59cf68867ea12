/// An order of one product; its total is computed by the server.
///
/// Admins see and update their organization's orders; anyone else sees only their own.
/// Orders are never deleted: their customer (or an admin) cancels a pending one with
/// `POST /orders/{id}/action` `{"action": "cancel", "reason": ".."}`. Its status moves
/// `pending -> paid -> shipped`, or `pending -> cancelled`, and no other way. Every write of
/// one is in the audit trail (`GET /_audit`). A client that may retry sends an
/// `idempotency-key`: one order per key.
pub struct Order {
    pub id: Uuid,
    /// The organization it was placed in.
    pub org_id: String,
    /// The caller who placed it.
    pub customer_id: String,
    /// A product of the order's organization.
    pub product_id: Uuid,
    pub quantity: i32,
    /// `price × quantity`, computed on every write.
    pub total: i64,
    /// Where the order is: written by admins only (a member's order starts `pending`), along
    /// its declared transitions; its customer may also cancel it while `pending`.
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
/// The sea-orm entity of [`super::Order`]: table `orders`.
pub mod order_entity {
    use ::arc_runtime::__private_0_1::sea_orm;
    use sea_orm::entity::prelude::*;
    /// A row as stored.
    #[derive(Clone, Debug, PartialEq, sea_orm::DeriveEntityModel)]
    #[sea_orm(table_name = "orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: ::arc_runtime::__private_0_1::uuid::Uuid,
        /// The organization it was placed in.
        pub org_id: ::std::string::String,
        /// The caller who placed it.
        pub customer_id: ::std::string::String,
        /// A product of the order's organization.
        #[sea_orm(indexed)]
        pub product_id: ::arc_runtime::__private_0_1::uuid::Uuid,
        pub quantity: i32,
        /// `price × quantity`, computed on every write.
        #[sea_orm(indexed)]
        pub total: i64,
        /// Where the order is: written by admins only (a member's order starts `pending`), along
        /// its declared transitions; its customer may also cancel it while `pending`.
        #[sea_orm(indexed)]
        pub status: ::std::string::String,
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
/// The body of `POST /orders`: the client-writable fields of [`Order`].
#[derive(Debug, Clone, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct OrderCreate {
    /// A product of the order's organization.
    pub product_id: Uuid,
    pub quantity: i32,
    /// Where the order is: written by admins only (a member's order starts `pending`), along
    /// its declared transitions; its customer may also cancel it while `pending`.
    pub status: OrderStatus,
}
/// The body of `PATCH /orders/{id}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one; `null` for any other field is refused.
#[derive(Debug, Clone, Default, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct OrderPatch {
    /// A product of the order's organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i32>,
    /// Where the order is: written by admins only (a member's order starts `pending`), along
    /// its declared transitions; its customer may also cancel it while `pending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatus>,
}
/// The body of `POST /orders/{id}/action`: one of the actions of [`Order`], by name.
#[derive(
    Debug,
    ::arc_runtime::__private_0_1::serde::Deserialize,
    ::arc_runtime::__private_0_1::schemars::JsonSchema
)]
#[serde(
    crate = "::arc_runtime::__private_0_1::serde",
    tag = "action",
    deny_unknown_fields
)]
#[schemars(crate = "::arc_runtime::__private_0_1::schemars")]
pub enum OrderAction {
    /// `{"action": "cancel", ..}`
    #[serde(rename = "cancel")]
    Cancel {
        /// Why (1 to 500 characters).
        reason: String,
    },
}
const _: () = {
    use ::arc_runtime::__private_0_1 as __p;
    /// The routes, and who may use them:
    ///
    /// `GET /orders`: org_member
    /// `POST /orders`: org_member
    /// `GET /orders/{id}`: org_member
    /// `PATCH /orders/{id}`: roles(admin)
    /// `PUT /orders/{id}`: roles(admin)
    /// `DELETE /orders/{id}`: deny
    /// `POST /orders/{id}/action`: `cancel`: org_member
    impl __p::Resource for Order {
        type Entity = order_entity::Entity;
        type Model = order_entity::Model;
        type ActiveModel = order_entity::ActiveModel;
        const META: &'static __p::ResourceMeta = &__p::ResourceMeta {
            name: "order",
            doc: "An order of one product; its total is computed by the server.\n\nAdmins see and update their organization's orders; anyone else sees only their own.\nOrders are never deleted: their customer (or an admin) cancels a pending one with\n`POST /orders/{id}/action` `{\"action\": \"cancel\", \"reason\": \"..\"}`. Its status moves\n`pending -> paid -> shipped`, or `pending -> cancelled`, and no other way. Every write of\none is in the audit trail (`GET /_audit`). A client that may retry sends an\n`idempotency-key`: one order per key.",
            path: "/orders",
            table: "orders",
            migration: "m_arc_create_orders",
            fields: &[
                __p::FieldMeta::new("id", __p::FieldType::Uuid)
                    .id()
                    .auto(__p::Auto::Uuid),
                __p::FieldMeta::new("org_id", __p::FieldType::String)
                    .system()
                    .doc("The organization it was placed in."),
                __p::FieldMeta::new("customer_id", __p::FieldType::String)
                    .system()
                    .doc("The caller who placed it."),
                __p::FieldMeta::new("product_id", __p::FieldType::Uuid)
                    .filterable()
                    .doc("A product of the order's organization.")
                    .references(__p::meta_of::<Product>)
                    .populate("product"),
                __p::FieldMeta::new("quantity", __p::FieldType::I32)
                    .range(Some(1.0), Some(1000.0)),
                __p::FieldMeta::new("total", __p::FieldType::I64)
                    .system()
                    .filterable()
                    .sortable()
                    .doc("`price × quantity`, computed on every write."),
                __p::FieldMeta::new(
                        "status",
                        __p::FieldType::Enum(<OrderStatus as __p::TextEnum>::VARIANTS),
                    )
                    .default(__p::default_value::<OrderStatus>)
                    .filterable()
                    .writable_by(&["admin"])
                    .doc(
                        "Where the order is: written by admins only (a member's order starts `pending`), along\nits declared transitions; its customer may also cancel it while `pending`.",
                    )
                    .states(
                        &[
                            ("pending", "paid"),
                            ("paid", "shipped"),
                            ("pending", "cancelled"),
                        ],
                    ),
                __p::FieldMeta::new("created_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::CreatedAt)
                    .filterable()
                    .sortable(),
                __p::FieldMeta::new("updated_at", __p::FieldType::DateTime)
                    .auto(__p::Auto::UpdatedAt),
            ],
            id: 0,
            presets: __p::Presets {
                soft_delete: None,
                slug_lookup: None,
                tree: None,
                bulk: false,
                audited: true,
                tenant: Some(1),
                owner: Some(2),
                owner_bypass: &["admin"],
                actions: true,
            },
            default_sort: "-created_at",
            lenient: false,
            idempotency: Some(__p::Idempotent::DEFAULT),
            permissions: __p::Permissions {
                list: __p::Rule::OrgMember,
                get: __p::Rule::OrgMember,
                create: __p::Rule::OrgMember,
                update: __p::Rule::Roles(&["admin"]),
                delete: __p::Rule::Deny,
                deleted: __p::Rule::Deny,
                restore: __p::Rule::Deny,
                tree: __p::Rule::Deny,
                bulk: __p::Rule::Deny,
                actions: &[("cancel", __p::Rule::OrgMember)],
                transitions: &[],
            },
            cache: None,
            read_hooks: __p::ReadHookFns::of::<Self>(),
        };
        fn column(index: usize) -> order_entity::Column {
            const COLUMNS: [order_entity::Column; 9] = [
                order_entity::Column::Id,
                order_entity::Column::OrgId,
                order_entity::Column::CustomerId,
                order_entity::Column::ProductId,
                order_entity::Column::Quantity,
                order_entity::Column::Total,
                order_entity::Column::Status,
                order_entity::Column::CreatedAt,
                order_entity::Column::UpdatedAt,
            ];
            COLUMNS[index]
        }
    }
    /// No read hooks declared: reads are not narrowed.
    impl __p::ReadHooks for Order {
        const DECLARED: bool = false;
    }
    const _: () = ::core::assert!(
        __p::is_variant(< OrderStatus as __p::TextEnum > ::VARIANTS, "pending"),
        "`pending` is not a value of the field's enum"
    );
    const _: () = ::core::assert!(
        __p::is_variant(< OrderStatus as __p::TextEnum > ::VARIANTS, "paid"),
        "`paid` is not a value of the field's enum"
    );
    const _: () = ::core::assert!(
        __p::is_variant(< OrderStatus as __p::TextEnum > ::VARIANTS, "shipped"),
        "`shipped` is not a value of the field's enum"
    );
    const _: () = ::core::assert!(
        __p::is_variant(< OrderStatus as __p::TextEnum > ::VARIANTS, "cancelled"),
        "`cancelled` is not a value of the field's enum"
    );
    const _: () = ::core::assert!(
        __p::FieldType::Uuid.same_kind(< Product as __p::Resource > ::META.fields[<
        Product as __p::Resource > ::META.id].ty),
        "`product_id` holds another kind of value than the id of the resource it references"
    );
    impl __p::ActionBody for OrderAction {
        const NAMES: &'static [&'static str] = &["cancel"];
    }
    const _: fn() = || {
        fn takes_its_actions<T: __p::Actions<Action = OrderAction>>() {}
        takes_its_actions::<Order>();
    };
};
