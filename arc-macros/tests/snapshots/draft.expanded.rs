/// The app's named rules: members list, editors or the author update, the preset's
/// `default` (admins) covers the rest.
pub struct Draft {
    pub id: Uuid,
    pub body: String,
    pub author_id: Option<String>,
}
/// The sea-orm entity of [`super::Draft`]: table `drafts`.
pub mod draft_entity {
    use ::arc_runtime::__private_0_1::sea_orm;
    use sea_orm::entity::prelude::*;
    /// A row as stored.
    #[derive(Clone, Debug, PartialEq, sea_orm::DeriveEntityModel)]
    #[sea_orm(table_name = "drafts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: ::arc_runtime::__private_0_1::uuid::Uuid,
        pub body: ::std::string::String,
        #[sea_orm(indexed)]
        pub author_id: Option<::std::string::String>,
    }
    /// No relations are declared.
    #[derive(Copy, Clone, Debug, sea_orm::EnumIter, sea_orm::DeriveRelation)]
    pub enum Relation {}
    impl sea_orm::ActiveModelBehavior for ActiveModel {}
}
/// The body of `POST /drafts`: the client-writable fields of [`Draft`].
#[derive(Debug, Clone, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct DraftCreate {
    pub body: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_id: Option<String>,
}
/// The body of `PATCH /drafts/{id}`: absent fields stay as they are, `Some(None)` (JSON `null`) clears a nullable one; `null` for any other field is refused.
#[derive(Debug, Clone, Default, ::arc_runtime::__private_0_1::serde::Serialize)]
#[serde(crate = "::arc_runtime::__private_0_1::serde")]
pub struct DraftPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_id: Option<Option<String>>,
}
const _: () = {
    use ::arc_runtime::__private_0_1 as __p;
    /// The routes, and who may use them:
    ///
    /// `GET /drafts`: rule(MEMBERS)
    /// `POST /drafts`: authenticated
    /// `GET /drafts/{id}`: rule(crate::rulebook::MEMBERS)
    /// `PATCH /drafts/{id}`: rule(EDITOR_OR_AUTHOR)
    /// `PUT /drafts/{id}`: rule(EDITOR_OR_AUTHOR)
    /// `DELETE /drafts/{id}`: roles(admin)
    impl __p::Resource for Draft {
        type Entity = draft_entity::Entity;
        type Model = draft_entity::Model;
        type ActiveModel = draft_entity::ActiveModel;
        const META: &'static __p::ResourceMeta = &__p::ResourceMeta {
            name: "draft",
            doc: "The app's named rules: members list, editors or the author update, the preset's\n`default` (admins) covers the rest.",
            path: "/drafts",
            table: "drafts",
            migration: "m_arc_create_drafts",
            fields: &[
                __p::FieldMeta::new("id", __p::FieldType::Uuid)
                    .id()
                    .auto(__p::Auto::Uuid),
                __p::FieldMeta::new("body", __p::FieldType::String),
                __p::FieldMeta::new("author_id", __p::FieldType::String)
                    .nullable()
                    .filterable()
                    .writable_by(&["admin"]),
            ],
            id: 0,
            presets: __p::Presets {
                soft_delete: None,
                slug_lookup: None,
                tree: None,
                bulk: false,
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
                list: __p::Rule::Named {
                    path: "MEMBERS",
                    rule: Draft::__ARC_NAMED_RULES[0],
                },
                get: __p::Rule::Named {
                    path: "crate::rulebook::MEMBERS",
                    rule: Draft::__ARC_NAMED_RULES[1],
                },
                create: __p::Rule::Authenticated,
                update: __p::Rule::Named {
                    path: "EDITOR_OR_AUTHOR",
                    rule: Draft::__ARC_NAMED_RULES[2],
                },
                delete: __p::Rule::Roles(&["admin"]),
                deleted: __p::Rule::Roles(&["admin"]),
                restore: __p::Rule::Roles(&["admin"]),
                tree: __p::Rule::Roles(&["admin"]),
                bulk: __p::Rule::Roles(&["admin"]),
                actions: &[],
                transitions: &[],
            },
            cache: None,
            read_hooks: __p::ReadHookFns::of::<Self>(),
        };
        fn column(index: usize) -> draft_entity::Column {
            const COLUMNS: [draft_entity::Column; 3] = [
                draft_entity::Column::Id,
                draft_entity::Column::Body,
                draft_entity::Column::AuthorId,
            ];
            COLUMNS[index]
        }
    }
    /// No hooks declared: the defaults do nothing.
    impl __p::Hooks for Draft {
        const DECLARED: bool = false;
    }
    /// No read hooks declared: reads are not narrowed.
    impl __p::ReadHooks for Draft {
        const DECLARED: bool = false;
    }
    impl Draft {
        /// The app's rules `#[permissions]` names (`rule(path)`).
        #[doc(hidden)]
        const __ARC_NAMED_RULES: [&'static __p::Rule; 3] = [
            &MEMBERS,
            &crate::rulebook::MEMBERS,
            &EDITOR_OR_AUTHOR,
        ];
    }
    const _: () = Draft::__ARC_NAMED_RULES[0]
        .check(<Draft as __p::Resource>::META.fields, false);
    const _: () = Draft::__ARC_NAMED_RULES[1]
        .check(<Draft as __p::Resource>::META.fields, false);
    const _: () = Draft::__ARC_NAMED_RULES[2]
        .check(<Draft as __p::Resource>::META.fields, false);
    /// No actions declared: no action route.
    impl __p::Actions for Draft {
        type Action = __p::NoActions;
        fn act(
            _: &__p::WriteContext<'_>,
            _: &draft_entity::Model,
            action: __p::NoActions,
            _: &mut draft_entity::ActiveModel,
        ) -> ::core::future::Ready<::core::result::Result<(), __p::ArcError>> {
            match action {}
        }
    }
};
