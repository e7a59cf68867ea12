//! Procedural macros of arc-rs: `#[resource]` on a struct, `#[derive(Enum)]` on its enums.
//!
//! Entry points only: parse -> model (checked, every error at once) -> expand. On error the
//! user's item is emitted unchanged beside the errors, so the rest of their crate still
//! type-checks.

// Library code answers errors; its unit tests may unwrap.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod ctxt;
mod expand;
mod model;
mod suggest;

use proc_macro::TokenStream;
use quote::quote;

use crate::ctxt::Ctxt;

/// Turns a plain struct into a REST resource.
///
/// ```
/// use arc_runtime::prelude::*;
///
/// #[resource(
///     presets(soft_delete, slug_lookup, bulk),
///     query(filter = [name, price], sort = [name, price, created_at], search = [name])
/// )]
/// #[permissions(list = public, get = public, default = roles("admin"))]
/// pub struct Product {
///     #[field(id)] pub id: Uuid,                           // generated UUID v4
///     #[field(min_len = 1, max_len = 200)] pub name: String,
///     pub slug: Option<String>,                            // unique (slug_lookup)
///     #[field(range(min = 0))] pub price: i64,
///     #[field(hidden)] pub internal_note: Option<String>,
///     #[field(system)] pub deleted_at: Option<DateTime<Utc>>,
///     pub created_at: DateTime<Utc>,                       // set on create
///     pub updated_at: DateTime<Utc>,                       // set on every write
/// }
/// # fn main() {}
/// ```
///
/// It generates, beside the struct: `product_entity` (the sea-orm entity: `Model`,
/// `ActiveModel`, `Entity`, `Column`), `ProductCreate` and `ProductPatch` (the request bodies),
/// `impl Resource for Product` (the field table, the routes, the JSON Schemas) and the
/// migration `ResourceMigration<Product>`. Mount it with `App::new(db).resource::<Product>()`.
/// A resource also needs [`macro@permissions`]. Mistakes are compile errors on your token,
/// all at once.
///
/// # `#[resource(..)]`
///
/// | option | meaning |
/// |---|---|
/// | `name = "product"` | the resource's name (default: the struct's name in snake_case) |
/// | `path = "/products"` | the collection path (default: `/` + the plural name in kebab-case) |
/// | `table = "products"` | the table (default: the plural name in snake_case) |
/// | `hooks` | you write `impl Hooks for Product` (code run inside each write's transaction); without it the hooks do nothing |
/// | `presets(..)` | the presets below, each adding routes or behaviour |
/// | `query(..)` | what the list route's query string may use, below |
/// | `idempotency` | every route that changes data takes an `idempotency-key` header: a retry with the same key is answered once, the first answer replayed for a day |
/// | `idempotency(ttl = "1h")` | the same, the answer kept for `ttl` (`"30s"`, `"5m"`, `"24h"`, `"7d"`; 1 s to 30 days) |
///
/// `presets(..)`: each preset uses a field, by a default name or the one given with
/// `field = ".."`:
///
/// | preset | field (default) | what it adds |
/// |---|---|---|
/// | `soft_delete` | `deleted_at`: `Option<DateTime<Utc>>`, `#[field(system)]` | `DELETE` marks the row; `GET /products/deleted` and `POST /products/{id}/restore` |
/// | `slug_lookup` | `slug`: a `String` or `Option<String>`, not hidden | `GET /products/slug/{slug}`; the slug is unique (per tenant, among live rows) |
/// | `tree` | `parent_id`: `Option<T>`, `T` the id's type | `GET /products/tree` and `GET /products/{id}/children` |
/// | `bulk` | none | `POST`, `PATCH` and `DELETE /products/bulk` (`{items}`, `{filter, data}`, `{filter}`) |
/// | `audited` | none | each write (bulk ones too) leaves an entry in the audit trail, in its transaction: who, when, which fields changed from what to what (hidden ones redacted); read at `GET /_audit` |
/// | `multi_tenant` | `org_id`: a `String`, `#[field(system)]` | every query scoped to the caller's active organization, creates stamped with it |
/// | `owned_by_user` | `created_by`: a `String`, `#[field(system)]` | callers see only their own rows, creates stamped with the caller; `bypass("admin", ..)` names roles that see all |
///
/// e.g. `presets(soft_delete, multi_tenant(field = "tenant"), owned_by_user(field = "author", bypass("admin")))`.
///
/// `query(..)`:
///
/// | option | meaning |
/// |---|---|
/// | `filter = [a, b]` | fields a query may filter on (`?price[gte]=10`); the id always may |
/// | `sort = [a, b]` | fields a query may sort by (`?sort=-price,name`); not JSON fields |
/// | `search = [a]` | `String` fields `?search=` looks in |
/// | `default_sort = "-created_at"` | the order of an unsorted list (default: `-created_at` when there is one) |
/// | `lenient` | unknown query parameters are ignored instead of a 400 (arc's behaviour) |
///
/// Hidden fields cannot be listed in `query`, and `page`, `limit`, `after`, `sort`, `select`
/// and `search` are reserved and cannot be filters.
///
/// # The list's query string
///
/// ```text
/// GET /products?status=active&price[gte]=1000&price[lt]=5000&name[like]=lamp
///              &sort=-price,name&select=name,price&search=desk&page=2&limit=50
/// GET /products?after=<next>&limit=20          keyset paging: follow the `next` cursor
/// ```
///
/// | parameter | meaning |
/// |---|---|
/// | `field=v`, `field[op]=v` | a filter on a `filter` field; several are ANDed |
/// | `sort=-a,b` | order by `sort` fields, `-` descending; always ends on the id, NULLs last |
/// | `select=a,b`, `select=-a` | only these fields in each row, or all but these (the id always) |
/// | `search=text` | a case-insensitive substring of any `search` field |
/// | `page=2`, `limit=50` | page by number; `limit` defaults to 20, at most 1000 |
/// | `after=<cursor>` | keyset paging from a page's signed `next` cursor (bound to its sort) |
///
/// The operators a filter takes depend on the field's type:
///
/// | type | operators |
/// |---|---|
/// | `String` | `eq ne gt gte lt lte in nin exists like regex` |
/// | numbers, `DateTime<Utc>`, `Decimal` | `eq ne gt gte lt lte in nin exists` |
/// | `Uuid`, `bool`, enums | `eq ne in nin exists` |
/// | `serde_json::Value` | `exists` |
///
/// Values parse by the field's type (`in`/`nin` take `a,b,c`; `exists` takes `true` or
/// `false`). `like` is a case-insensitive substring match in which `%` and `_` are literal;
/// `ne` and `nin` keep rows whose value is null. `regex` takes the subset PostgreSQL and
/// SQLite compile alike (literals, `.`, classes, `\d \w \s`, anchors, groups, `|`,
/// `* + ?`, `{m,n}`, a leading `(?i)`), at most 500 characters and four per query; anything
/// else is a 400 naming the construct. An undeclared field or operator is a 400 naming the
/// parameter (unless `query(lenient)`), and a hidden field answers like a missing one.
///
/// # Fields
///
/// Field types: `Uuid`, `String`, `i32`, `i64`, `f64`, `bool`, `DateTime<Utc>`, `Decimal`,
/// `serde_json::Value`, an enum deriving [`Enum`](derive@Enum) (stored as text), and
/// `Option<T>` of these (nullable, and optional on create). `created_at` and `updated_at` of
/// type `DateTime<Utc>` are set by the server on create and on every write. A field's doc
/// comment becomes its description in the JSON Schema and the OpenAPI document.
///
/// # `#[field(..)]`
///
/// | option | meaning |
/// |---|---|
/// | `id` | the primary key, exactly one: a `Uuid` (generated) or an `i32`/`i64` (auto-increment) |
/// | `system` | server-owned: never written by a request (set by a preset, a hook or a default) |
/// | `hidden` | never in a response, and answers like a missing field in `select`, filters and sort |
/// | `unique` | unique in the table (per tenant with `multi_tenant`, among live rows with `soft_delete`); a duplicate is a 409 |
/// | `default` | `Default::default()` when a create leaves it out (implied for `Option` fields) |
/// | `min_len = 1`, `max_len = 200` | length bounds of a `String`, in characters |
/// | `range(min = 0, max = 100)` | bounds of a number (`i32`, `i64`, `f64`, `Decimal`); either may be left out |
/// | `one_of("a", "b")` | the values a `String` may take (for a closed set prefer an enum) |
/// | `visible_to("admin", ..)` | only callers with one of these roles see it; to others it answers like a missing field |
/// | `writable_by("admin", ..)` | only these roles may write it; anyone else's write is a 403 naming the field |
/// | `redact_for("intern", ..)` | these roles see `"***"` (text) or `null` instead of the value |
/// | `writable_on_create` | on a `default` field: anyone who may create may choose its value (see below) |
///
/// A field with a `default` is state a row starts in (an order's `status`). When the
/// `create` rule lets in callers the `update` rule keeps out, such a field does not compile
/// until it says who may write it (`writable_by(..)`) or that choosing it on create is by
/// design (`writable_on_create`):
///
/// ```
/// use arc_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, Enum)]
/// #[serde(rename_all = "lowercase")]
/// pub enum Status { #[default] Pending, Paid }
///
/// #[resource(query(filter = [status]))]
/// #[permissions(list = authenticated, get = authenticated, create = authenticated, update = roles("admin"))]
/// pub struct Order {
///     #[field(id)] pub id: i64,
///     #[field(range(min = 1, max = 1000))] pub quantity: i32,
///     #[field(default, writable_by("admin"))] pub status: Status,
///     #[field(visible_to("admin"))] pub note: Option<String>,
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn resource(args: TokenStream, input: TokenStream) -> TokenStream {
    let item = match syn::parse::<syn::ItemStruct>(input.clone()) {
        Ok(item) => item,
        Err(e) => {
            let error =
                syn::Error::new(e.span(), "`#[resource]` goes on a struct").to_compile_error();
            let input = proc_macro2::TokenStream::from(input);
            return quote!(#error #input).into();
        }
    };
    let cx = Ctxt::new();
    let model = model::Resource::from_ast(&cx, args.into(), &item);
    match (cx.check(), model) {
        (Ok(()), Some(model)) => expand::resource(&model, &item).into(),
        (Err(errors), _) => {
            let item = expand::strip_field_attrs(&item);
            quote!(#item #errors).into()
        }
        (Ok(()), None) => {
            let item = expand::strip_field_attrs(&item);
            quote!(#item ::core::compile_error!("arc: the resource could not be read");).into()
        }
    }
}

/// Who may do what on a resource: one rule per operation.
///
/// ```
/// use arc_runtime::prelude::*;
///
/// fn is_staff(caller: &AuthContext) -> bool {
///     caller.user_id.as_deref().is_some_and(|id| id.ends_with("@staff"))
/// }
///
/// #[resource(presets(soft_delete, bulk), query(filter = [title]))]
/// #[permissions(
///     list = any(owner("owner_id"), roles("admin")),   // writers see their own rows, admins all
///     get = any(owner("owner_id"), roles("admin"), when(is_staff)),
///     create = roles("writer", "admin"),
///     update = any(all(roles("writer"), owner("owner_id")), roles("admin")),
///     delete = roles("admin"),
///     deleted = all(org_member, org_roles("auditor")),
/// )]                                                  // restore, bulk: not listed, so denied
/// pub struct Note {
///     #[field(id)] pub id: Uuid,
///     #[field(max_len = 200)] pub title: String,
///     pub owner_id: String,
///     #[field(system)] pub deleted_at: Option<DateTime<Utc>>,
/// }
/// # fn main() {}
/// ```
///
/// Written beside [`macro@resource`], above or below it (it is read by `#[resource]`). A
/// resource without `#[permissions]` does not compile; `#[permissions(default = public)]`
/// opens every route.
///
/// # Operations
///
/// | operation | routes |
/// |---|---|
/// | `list` | `GET /things` |
/// | `get` | `GET /things/{id}`, and `GET /things/slug/{slug}` (`slug_lookup`) |
/// | `create` | `POST /things` |
/// | `update` | `PATCH` and `PUT /things/{id}` |
/// | `delete` | `DELETE /things/{id}` |
/// | `deleted` | `GET /things/deleted` (`soft_delete`) |
/// | `restore` | `POST /things/{id}/restore` (`soft_delete`) |
/// | `tree` | `GET /things/tree` and `GET /things/{id}/children` (`tree`) |
/// | `bulk` | `POST`, `PATCH`, `DELETE /things/bulk` (`bulk`); each also checks `create`, `update` or `delete` |
/// | `default` | every operation not listed |
///
/// An operation neither listed nor covered by `default` is denied. A rule for a preset's
/// operation the resource does not have is a compile error.
///
/// # Rules
///
/// | rule | who passes |
/// |---|---|
/// | `public` | everyone, signed in or not |
/// | `authenticated` | any signed-in caller |
/// | `deny` | nobody |
/// | `roles("admin", ..)` | callers with one of these platform roles; on a `multi_tenant` resource also callers with one of them as a role in the active organization (its rows are that organization's own) |
/// | `org_roles("admin", ..)` | callers with one of these roles in the active organization |
/// | `org_member` | callers with an active organization they belong to |
/// | `owner("field")` | rows whose `field` (a `String`) holds the caller's user id: a filter in SQL, so another caller's row is a 404 and never listed |
/// | `team_member` | callers with an active team (claim `team_id`) in the active organization |
/// | `team_member("field")` | rows whose `field` (a `String`) holds the caller's active team |
/// | `all(rule, ..)` | callers every rule passes |
/// | `any(rule, ..)` | callers some rule passes |
/// | `when(path::to::predicate)` | callers your `fn(&AuthContext) -> bool` accepts |
///
/// `owner` and `team_member("field")` filter existing rows, so they cannot guard `create` or
/// `bulk`. A denied caller gets 401 when anonymous and 403 otherwise; a row the caller may
/// read but not change is a 403 `OWNERSHIP_DENIED`. Field-level rules (`visible_to`,
/// `writable_by`, `redact_for`) are options of `#[field(..)]`, on [`macro@resource`].
#[proc_macro_attribute]
pub fn permissions(args: TokenStream, input: TokenStream) -> TokenStream {
    let args = proc_macro2::TokenStream::from(args);
    let mut item = match syn::parse::<syn::ItemStruct>(input.clone()) {
        Ok(item) => item,
        Err(_) => {
            let input = proc_macro2::TokenStream::from(input);
            return quote!(::core::compile_error!("`#[permissions]` goes on a `#[resource]` struct"); #input).into();
        }
    };
    let is_resource = |a: &syn::Attribute| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "resource")
    };
    let Some(pos) = item.attrs.iter().position(is_resource) else {
        let error =
            syn::Error::new_spanned(&item.ident, "`#[permissions]` goes with `#[resource]`")
                .to_compile_error();
        return quote!(#error #item).into();
    };
    // Put ourselves right after `#[resource]`, which reads us.
    let permissions: syn::Attribute = syn::parse_quote!(#[permissions(#args)]);
    item.attrs.insert(pos + 1, permissions);
    quote!(#item).into()
}

/// Implements `arc_runtime::TextEnum` for a fieldless enum, with serde's names: the enum is
/// stored as text and can be a field of a resource.
///
/// The names are serde's own reading of `#[serde(rename_all = ..)]`, `#[serde(rename = ..)]`
/// and `#[serde(alias = ..)]` (every `rename_all` rule serde has). A variant is stored, shown
/// and accepted by the API under the name serde writes (the `serialize` one where
/// `rename(serialize = .., deserialize = ..)` differ); `TextEnum::from_name` also takes every
/// name serde reads (the `deserialize` name, aliases, and any name for a `#[serde(other)]`
/// variant). The `#[serde]` attributes belong to serde's derives, which must be beside this
/// one and report their mistakes; this derive refuses what serde accepts but a text column
/// cannot hold: `tag`, `untagged`, `from`/`try_from`/`into`, skipped variants, `with`, and two
/// variants stored under one name.
///
/// ```
/// use arc_runtime::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, Enum)]
/// #[serde(rename_all = "lowercase")]
/// pub enum Status { #[default] Draft, Active, Archived } // "draft", "active", "archived"
/// ```
#[proc_macro_derive(Enum)]
pub fn derive_enum(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    let cx = Ctxt::new();
    let tokens = expand::enumeration::expand(&cx, &input);
    match cx.check() {
        Ok(()) => tokens.into(),
        Err(errors) => errors.into(),
    }
}
