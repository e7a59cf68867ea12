//! The `Resource` trait the `#[resource]` macro implements, and its static field table.
//!
//! Everything the runtime knows about a resource is in one `const` [`ResourceMeta`]: its
//! name, path, table, fields (type, flags, filter operators, validation rules) and presets.
//! The generic CRUD code reads that table; nothing is looked up by string at request time
//! that a field index cannot answer.

use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel, ModelTrait};

use crate::action::{Action, RoutePreset};
use crate::query::Op;

/// The value type of a field, as the query grammar and the body decoder see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// `uuid::Uuid`, as a string on the wire.
    Uuid,
    /// `String`.
    String,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f64` (finite values only).
    F64,
    /// `bool`.
    Bool,
    /// `chrono::DateTime<Utc>`, RFC 3339 on the wire.
    DateTime,
    /// `rust_decimal::Decimal`, a string on the wire.
    Decimal,
    /// `serde_json::Value`, stored as a JSON column.
    Json,
    /// A Rust enum stored as text: its serde names.
    Enum(&'static [&'static str]),
}

impl FieldType {
    /// Whether `self` and `other` are the same kind of id (a UUID, an `i32`, an `i64`), at
    /// compile time: `#[field(references = ..)]` checks with it that a reference holds what
    /// the referenced resource's id does.
    pub const fn same_kind(self, other: FieldType) -> bool {
        matches!(
            (self, other),
            (Self::Uuid, Self::Uuid) | (Self::I32, Self::I32) | (Self::I64, Self::I64)
        )
    }

    /// The name used in messages: "a string", "an integer", ...
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Uuid => "a UUID string",
            Self::String => "a string",
            Self::I32 | Self::I64 => "an integer",
            Self::F64 => "a number",
            Self::Bool => "a boolean",
            Self::DateTime => "an RFC 3339 date-time string",
            Self::Decimal => "a decimal number (string or number)",
            Self::Json => "any JSON value",
            Self::Enum(_) => "one of the allowed values",
        }
    }
}

/// A set of filter operators (`eq`, `gt`, `like`, ..), as a bitset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ops(pub u16);

impl Ops {
    /// No operator: the field is not filterable.
    pub const NONE: Ops = Ops(0);
    /// `eq ne in nin exists`: identity, enums, booleans.
    pub const EQUALITY: Ops =
        Ops(Op::Eq.bit() | Op::Ne.bit() | Op::In.bit() | Op::Nin.bit() | Op::Exists.bit());
    /// Equality plus `gt gte lt lte`: numbers and times.
    pub const ORDERED: Ops =
        Ops(Self::EQUALITY.0 | Op::Gt.bit() | Op::Gte.bit() | Op::Lt.bit() | Op::Lte.bit());
    /// All eleven operators: strings.
    pub const TEXT: Ops = Ops(Self::ORDERED.0 | Op::Like.bit() | Op::Regex.bit());

    /// Whether `op` is in the set.
    pub(crate) const fn contains(self, op: Op) -> bool {
        self.0 & op.bit() != 0
    }

    /// The operators a filterable field of this type takes by default.
    pub const fn for_type(ty: FieldType) -> Ops {
        match ty {
            FieldType::String => Self::TEXT,
            FieldType::I32
            | FieldType::I64
            | FieldType::F64
            | FieldType::DateTime
            | FieldType::Decimal => Self::ORDERED,
            FieldType::Uuid | FieldType::Bool | FieldType::Enum(_) => Self::EQUALITY,
            FieldType::Json => Ops(Op::Exists.bit()),
        }
    }
}

/// What the server fills in a field by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auto {
    /// Nothing: the client writes it (or, for system fields, a hook does).
    None,
    /// A fresh UUID v4 on create.
    Uuid,
    /// The time of the create.
    CreatedAt,
    /// The time of every write.
    UpdatedAt,
}

/// Validation rules of one field, checked before any write.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// Minimum length in characters (strings).
    pub min_len: Option<u32>,
    /// Maximum length in characters (strings).
    pub max_len: Option<u32>,
    /// Inclusive minimum (numbers).
    pub min: Option<f64>,
    /// Inclusive maximum (numbers).
    pub max: Option<f64>,
    /// The allowed values (strings); empty means any.
    pub one_of: &'static [&'static str],
}

impl Rules {
    /// No rule.
    pub const NONE: Rules = Rules {
        min_len: None,
        max_len: None,
        min: None,
        max: None,
        one_of: &[],
    };
}

/// One field of a resource: its wire and column name, type, flags and rules.
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct FieldMeta {
    /// The JSON name.
    pub name: &'static str,
    /// The column's name in the table (the JSON name, unless set with [`FieldMeta::column`]).
    pub column: &'static str,
    /// The value type.
    pub ty: FieldType,
    /// `Option<T>` in the struct: accepts and stores `null`.
    pub nullable: bool,
    /// The primary key.
    pub id: bool,
    /// Set by the server only: never accepted in a body.
    pub system: bool,
    /// Never in a response, never selectable, filterable or sortable.
    pub hidden: bool,
    /// Unique among the live rows of its scope: per tenant on a `multi_tenant` resource, and
    /// a soft-deleted row releases its value (see [`Migrator`](crate::Migrator)).
    pub unique: bool,
    /// May be left out of a create body (it has a default or is nullable).
    pub has_default: bool,
    /// Filter operators allowed on it in the query grammar (empty: not filterable).
    pub filter: Ops,
    /// Declared in `query(sort = [..])`.
    pub sortable: bool,
    /// Declared in `query(search = [..])`.
    pub searchable: bool,
    /// What the server fills in by itself.
    pub auto: Auto,
    /// Validation rules.
    pub rules: Rules,
    /// The value a create gives the field when the body leaves it out (`#[field(default)]`).
    pub default: Option<fn() -> sea_orm::Value>,
    /// Only callers with one of these roles see the field (empty: everyone).
    pub visible_to: &'static [&'static str],
    /// Only callers with one of these roles may write the field (empty: everyone).
    pub writable_by: &'static [&'static str],
    /// Callers with one of these roles see a mask instead of the value.
    pub redact_for: &'static [&'static str],
    /// The field's doc comment, for the JSON Schemas (empty when it has none).
    pub doc: &'static str,
    /// `#[field(states(..))]`: the transitions its value may make, `(from, to)`; a write
    /// that changes it along any other is a 409 `INVALID_TRANSITION` (empty: any change).
    pub states: &'static [(&'static str, &'static str)],
    /// `#[field(references = Category)]`: the resource whose id it holds. A write naming a
    /// row of it the caller cannot read (or none) is a 400 on the field.
    pub references: Option<fn() -> &'static ResourceMeta>,
    /// `#[resource(query(populate = [category]))]` on a reference: the member its row is
    /// embedded under with `?populate=category` (beside the id, which stays).
    pub populate: Option<&'static str>,
}

impl FieldMeta {
    /// A plain field: client-writable, required on create, not queryable.
    pub const fn new(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            column: name,
            ty,
            nullable: false,
            id: false,
            system: false,
            hidden: false,
            unique: false,
            has_default: false,
            filter: Ops::NONE,
            sortable: false,
            searchable: false,
            auto: Auto::None,
            rules: Rules::NONE,
            default: None,
            visible_to: &[],
            writable_by: &[],
            redact_for: &[],
            doc: "",
            states: &[],
            references: None,
            populate: None,
        }
    }

    /// Stored in the column `column`, where it is not the JSON name.
    pub const fn column(mut self, column: &'static str) -> Self {
        self.column = column;
        self
    }

    /// With `doc` as its description in the JSON Schemas.
    pub const fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }

    /// Seen only by callers with one of `roles`.
    pub const fn visible_to(mut self, roles: &'static [&'static str]) -> Self {
        self.visible_to = roles;
        self
    }

    /// Written only by callers with one of `roles`; anyone else's write is a 403.
    pub const fn writable_by(mut self, roles: &'static [&'static str]) -> Self {
        self.writable_by = roles;
        self
    }

    /// Masked for callers with one of `roles`.
    pub const fn redact_for(mut self, roles: &'static [&'static str]) -> Self {
        self.redact_for = roles;
        self
    }

    /// The primary key: server-owned, always filterable (`id[in]=..`) and sortable.
    pub const fn id(mut self) -> Self {
        self.id = true;
        self.system = true;
        self.filter = Ops::for_type(self.ty);
        self
    }

    /// `Option<T>`: accepts and stores `null`; may be left out of a create.
    pub const fn nullable(mut self) -> Self {
        self.nullable = true;
        self.has_default = true;
        self
    }

    /// Set by the server only.
    pub const fn system(mut self) -> Self {
        self.system = true;
        self
    }

    /// Never in a response, never queryable.
    pub const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Unique within its scope (see [`FieldMeta::unique`](FieldMeta#structfield.unique)).
    pub const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }

    /// Filled in by the server.
    pub const fn auto(mut self, auto: Auto) -> Self {
        self.auto = auto;
        self.system = true;
        self.has_default = true;
        self
    }

    /// Given `default()` when a create leaves it out.
    pub const fn default(mut self, default: fn() -> sea_orm::Value) -> Self {
        self.default = Some(default);
        self.has_default = true;
        self
    }

    /// Filterable with the operators of its type.
    pub const fn filterable(mut self) -> Self {
        self.filter = Ops::for_type(self.ty);
        self
    }

    /// Sortable.
    pub const fn sortable(mut self) -> Self {
        self.sortable = true;
        self
    }

    /// Searched by `search=`.
    pub const fn searchable(mut self) -> Self {
        self.searchable = true;
        self
    }

    /// Length bounds, in characters.
    pub const fn len(mut self, min: Option<u32>, max: Option<u32>) -> Self {
        self.rules.min_len = min;
        self.rules.max_len = max;
        self
    }

    /// Inclusive numeric bounds.
    pub const fn range(mut self, min: Option<f64>, max: Option<f64>) -> Self {
        self.rules.min = min;
        self.rules.max = max;
        self
    }

    /// The allowed values.
    pub const fn one_of(mut self, values: &'static [&'static str]) -> Self {
        self.rules.one_of = values;
        self
    }

    /// Holds the id of a row of the resource `target` gives ([`meta_of`]).
    pub const fn references(mut self, target: fn() -> &'static ResourceMeta) -> Self {
        self.references = Some(target);
        self
    }

    /// A reference whose row `?populate=key` embeds under `key` (see
    /// [`FieldMeta::populate`](FieldMeta#structfield.populate)).
    pub const fn populate(mut self, key: &'static str) -> Self {
        self.populate = Some(key);
        self
    }

    /// Changes only along `transitions`, each `(from, to)`.
    pub const fn states(mut self, transitions: &'static [(&'static str, &'static str)]) -> Self {
        self.states = transitions;
        self
    }
}

/// The presets a resource turned on, with the index of the field each one uses.
#[derive(Clone, Copy, Debug, Default)]
pub struct Presets {
    /// `soft_delete`: the `deleted_at` field.
    pub soft_delete: Option<usize>,
    /// `slug_lookup`: the slug field.
    pub slug_lookup: Option<usize>,
    /// `tree`: the parent field.
    pub tree: Option<usize>,
    /// `bulk`: the `/bulk` routes.
    pub bulk: bool,
    /// `audited`: each write leaves an entry in the audit trail, inside its transaction
    /// (read at `GET /_audit`).
    pub audited: bool,
    /// `multi_tenant`: the organization field; every query is scoped to the caller's
    /// active organization, and creates are stamped with it.
    pub tenant: Option<usize>,
    /// `owned_by_user`: the owner field; callers without a bypass role see and change only
    /// their own rows, and creates are stamped with the caller.
    pub owner: Option<usize>,
    /// Roles that see every row of an `owned_by_user` resource (within the tenant).
    pub owner_bypass: &'static [&'static str],
    /// `actions(..)`: the resource declares actions, and so `POST /things/{id}/action`
    /// (their rules are in [`Permissions::actions`](crate::permissions::Permissions)).
    pub actions: bool,
}

impl Presets {
    /// No preset.
    pub const NONE: Presets = Presets {
        soft_delete: None,
        slug_lookup: None,
        tree: None,
        bulk: false,
        audited: false,
        tenant: None,
        owner: None,
        owner_bypass: &[],
        actions: false,
    };

    /// Whether the resource has `preset`, and so its routes.
    pub const fn has(&self, preset: RoutePreset) -> bool {
        match preset {
            RoutePreset::SoftDelete => self.soft_delete.is_some(),
            RoutePreset::SlugLookup => self.slug_lookup.is_some(),
            RoutePreset::Tree => self.tree.is_some(),
            RoutePreset::Bulk => self.bulk,
            RoutePreset::Actions => self.actions,
        }
    }
}

/// The static description of a resource that the macro emits.
#[derive(Clone, Copy, Debug)]
pub struct ResourceMeta {
    /// The resource name, e.g. `product`.
    pub name: &'static str,
    /// The struct's doc comment, for the JSON Schemas (empty when it has none).
    pub doc: &'static str,
    /// The collection path, e.g. `/products` (or `/organizations/{orgId}/members`, under
    /// the organization it names).
    pub path: &'static str,
    /// The table.
    pub table: &'static str,
    /// The name of the migration that creates the table.
    pub migration: &'static str,
    /// Every field, in struct order.
    pub fields: &'static [FieldMeta],
    /// Index of the id field in `fields`.
    pub id: usize,
    /// Presets and their fields.
    pub presets: Presets,
    /// Default sort of lists, in the grammar's syntax (e.g. `-created_at`); the id always
    /// breaks ties.
    pub default_sort: &'static str,
    /// Unknown query parameters are ignored instead of rejected.
    pub lenient: bool,
    /// `idempotency`: every mutating route takes an `idempotency-key`, and the first answer
    /// to a key is replayed for the TTL (see [`Idempotent`](crate::Idempotent)); `None`: off.
    pub idempotency: Option<crate::plugins::idempotency::Idempotent>,
    /// Who may do what.
    pub permissions: crate::permissions::Permissions,
    /// The query cache, when reads are cached (`#[resource(cache(..))]`).
    pub cache: Option<crate::cache::CacheMeta>,
    /// The resource's read hooks ([`ReadHooks::before_list`](crate::ReadHooks::before_list),
    /// [`before_get`](crate::ReadHooks::before_get)) when it declares them (`#[resource(read_hooks)]`).
    pub read_hooks: Option<crate::hooks::ReadHookFns>,
}

impl ResourceMeta {
    /// The collection's own name, the path's last segment (`products`, `members`).
    pub fn collection(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }

    /// The collection path of the organization `org`: the path with the organization it
    /// names (`/organizations/acme/members`), or the path itself.
    pub fn path_in(&self, org: Option<&str>) -> std::borrow::Cow<'static, str> {
        let param = arc_spec::names::ORG_SEGMENT;
        match org {
            Some(org) if self.path.contains(param) => self.path.replace(param, org).into(),
            _ => self.path.into(),
        }
    }

    /// The field table of the app itself, for the rules of its own routes: no fields, so
    /// no row rule can name one.
    pub(crate) const fn app() -> Self {
        Self {
            name: "app",
            doc: "",
            path: "/",
            table: "",
            migration: "",
            fields: &[],
            id: 0,
            presets: Presets::NONE,
            default_sort: "",
            lenient: false,
            idempotency: None,
            permissions: crate::permissions::Permissions::PUBLIC,
            cache: None,
            read_hooks: None,
        }
    }
}

#[cfg(test)]
impl ResourceMeta {
    /// A public, uncached resource `name` of `fields` (the first the id) in `table`, with
    /// no presets: the field table of the runtime's own tests.
    pub(crate) const fn testing(
        name: &'static str,
        table: &'static str,
        fields: &'static [FieldMeta],
    ) -> Self {
        Self {
            name,
            doc: "",
            path: "/testing",
            table,
            migration: "m",
            fields,
            id: 0,
            presets: Presets::NONE,
            default_sort: "id",
            lenient: false,
            idempotency: None,
            permissions: crate::permissions::Permissions::PUBLIC,
            cache: None,
            read_hooks: None,
        }
    }
}

impl ResourceMeta {
    /// The field with this JSON name.
    pub fn field(&self, name: &str) -> Option<(usize, &'static FieldMeta)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// The reference `?populate=key` embeds, by the key it is embedded under.
    pub fn populated(&self, key: &str) -> Option<(usize, &'static FieldMeta)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.populate == Some(key))
    }

    /// The id field.
    pub fn id_field(&self) -> &'static FieldMeta {
        &self.fields[self.id]
    }

    /// The routes this resource serves, in a stable order: each action its presets give it,
    /// with its method and path. The router, the document, the registry and `routes` read
    /// the same table.
    pub fn routes(&self) -> Vec<crate::crud::RouteInfo> {
        crate::crud::routes(self)
    }

    /// The rules the route of `action` checks, in the attribute's words, joined by `and`
    /// (bulk routes check the bulk rule and the operation's); for the action route, each
    /// action's (`cancel: org_member; approve: roles(admin)`).
    pub fn permission(&self, action: Action) -> String {
        if action == Action::Act {
            let rules: Vec<String> = self
                .permissions
                .actions
                .iter()
                .map(|(name, rule)| format!("{name}: {rule}"))
                .collect();
            return rules.join("; ");
        }
        let rules: Vec<String> = action
            .operations()
            .iter()
            .map(|op| self.permissions.rule(*op).to_string())
            .collect();
        rules.join(" and ")
    }

    /// Whether anyone, signed in or not, passes every rule the route of `action` checks
    /// (for the action route: the rule of every action).
    pub fn is_public(&self, action: Action) -> bool {
        if action == Action::Act {
            return self.permissions.actions.iter().all(|(_, r)| r.is_public());
        }
        action
            .operations()
            .iter()
            .all(|op| self.permissions.rule(*op).is_public())
    }

    /// Which of a caller's roles count for this resource's rows: org roles only where
    /// the rows are the active organization's own (`multi_tenant`).
    pub const fn role_scope(&self) -> crate::auth::RoleScope {
        match self.presets.tenant {
            Some(_) => crate::auth::RoleScope::Organization,
            None => crate::auth::RoleScope::Platform,
        }
    }
}

/// A set of fields by index (projections, field masks). Resources have at most 64 fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct FieldSet(pub u64);

impl FieldSet {
    /// The fields every caller may see: all but hidden and role-restricted ones.
    #[cfg(test)]
    pub(crate) fn visible(meta: &ResourceMeta) -> FieldSet {
        Self::visible_for(meta, &crate::auth::AuthContext::anonymous())
    }

    /// The fields `caller` may see, select, filter, sort and search by: not hidden, and
    /// `visible_to` one of their roles when restricted.
    pub(crate) fn visible_for(meta: &ResourceMeta, caller: &crate::auth::AuthContext) -> FieldSet {
        let known = Self::known_to(meta, caller);
        Self::matching(meta, |i, f| !f.hidden && known.contains(i))
    }

    /// The fields `caller` may name in a body: every field but those shown only to roles
    /// they lack (`visible_to`). A field a caller cannot see answers like one that does not
    /// exist, in a body as in a query; hidden fields stay writable (nobody is shown them).
    pub(crate) fn known_to(meta: &ResourceMeta, caller: &crate::auth::AuthContext) -> FieldSet {
        let scope = meta.role_scope();
        Self::matching(meta, |_, f| {
            f.visible_to.is_empty() || f.visible_to.iter().any(|r| caller.has_role_in(r, scope))
        })
    }

    /// The fields `caller` sees masked (`redact_for` one of their roles).
    pub(crate) fn redacted_for(meta: &ResourceMeta, caller: &crate::auth::AuthContext) -> FieldSet {
        let scope = meta.role_scope();
        Self::matching(meta, |_, f| {
            f.redact_for
                .iter()
                .any(|r| caller.has_given_role_in(r, scope))
        })
    }

    /// The fields of `meta` that `keep` holds for.
    fn matching(meta: &ResourceMeta, keep: impl Fn(usize, &FieldMeta) -> bool) -> FieldSet {
        let mut set = FieldSet(0);
        for (i, f) in meta.fields.iter().enumerate() {
            if keep(i, f) {
                set.insert(i);
            }
        }
        set
    }

    /// Adds field `i`.
    pub(crate) fn insert(&mut self, i: usize) {
        self.0 |= 1 << i;
    }

    /// Whether field `i` is in the set.
    pub(crate) const fn contains(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// The indexes in the set, ascending (visits only the set bits).
    pub(crate) fn iter(self) -> impl Iterator<Item = usize> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(i)
        })
    }
}

/// What of each row a caller is shown: which fields, and which of them masked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    /// The fields written.
    pub fields: FieldSet,
    /// Fields written as a mask instead of their value.
    pub redact: FieldSet,
}

impl Shape {
    /// Everything `caller` may see of a row of `meta`.
    pub(crate) fn for_caller(meta: &ResourceMeta, caller: &crate::auth::AuthContext) -> Shape {
        Shape {
            fields: FieldSet::visible_for(meta, caller),
            redact: FieldSet::redacted_for(meta, caller),
        }
    }

    /// The same, narrowed to `fields` (a `select`).
    pub(crate) fn select(self, fields: FieldSet) -> Shape {
        Shape {
            fields: FieldSet(self.fields.0 & fields.0),
            redact: self.redact,
        }
    }
}

/// A resource: the struct under `#[resource]`, its sea-orm entity and its field table.
///
/// Implemented by the macro; the generic handlers of the runtime are written against it.
pub trait Resource: Sized + Send + Sync + 'static {
    /// The sea-orm entity.
    type Entity: EntityTrait<Model = Self::Model, ActiveModel = Self::ActiveModel>;
    /// The row as stored.
    type Model: ModelTrait<Entity = Self::Entity>
        + IntoActiveModel<Self::ActiveModel>
        + sea_orm::FromQueryResult
        + Clone
        + Send
        + Sync;
    /// The row as written.
    type ActiveModel: ActiveModelTrait<Entity = Self::Entity>
        + ActiveModelBehavior
        + sea_orm::TryIntoModel<Self::Model>
        + Send
        + Sync;

    /// The field table.
    const META: &'static ResourceMeta;

    /// The column of field `index` (as in `META.fields`).
    ///
    /// The entity's columns are the fields, in the same order: column `i` of the entity's
    /// `Column::iter()` is `column(i)`, field `i`. Rows are read by position; an app whose
    /// resource breaks this does not start ([`App::problems`](crate::App::problems)).
    fn column(index: usize) -> <Self::Entity as EntityTrait>::Column;
}

/// Why rows of `R` cannot be read by position or queried by its field table's column names:
/// the entity's columns are not its field table's, in its order. `None` for every resource `#[resource]` writes (it declares both
/// from one list).
pub(crate) fn column_order<R: Resource>() -> Option<String> {
    use sea_orm::{EntityName, IdenStatic, Iterable};
    let columns: Vec<&str> = <R::Entity as EntityTrait>::Column::iter()
        .map(|c| c.as_str())
        .collect();
    let meta = R::META;
    let fields = meta.fields.len();
    let in_order = columns.len() == fields
        && (0..fields)
            .all(|i| R::column(i).as_str() == columns[i] && meta.fields[i].column == columns[i]);
    let table = <R::Entity as Default>::default().table_name();
    if table != meta.table {
        return Some(format!(
            "resource `{}`: its entity's table is `{table}`, its field table's `{}`",
            meta.name, meta.table
        ));
    }
    (!in_order).then(|| {
        let named: Vec<&str> = meta.fields.iter().map(|f| f.column).collect();
        format!(
            "resource `{}`: its entity's columns ({}) are not its fields' ({}), in their order",
            meta.name,
            columns.join(", "),
            named.join(", ")
        )
    })
}

/// The field table of `R`, as a function: what `#[field(references = R)]` stores, so two
/// resources may reference each other without their tables depending on each other.
pub fn meta_of<R: Resource>() -> &'static ResourceMeta {
    R::META
}
