//! The named checks of the model, as serde's `internals/check.rs`: each looks at one rule of
//! the attribute grammar and pushes its errors into the [`Ctxt`] at the user's token; none
//! changes the model. They run in the order the expansion has always reported them.

use darling::util::{Override, SpannedValue};
use syn::ItemStruct;

use super::attrs::{CacheArgs, FieldArgs, PresetArgs, PresetField};
use super::{Auto, Field, Resource, Scalar};
use crate::ctxt::Ctxt;

/// A resource is a plain struct: no generics.
pub(super) fn not_generic(cx: &Ctxt, item: &ItemStruct) {
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(&item.generics, "a resource cannot be generic");
    }
}

/// At most 64 fields (the runtime's field sets are 64-bit masks).
pub(super) fn field_count(cx: &Ctxt, item: &ItemStruct, fields: &[Field]) {
    if fields.len() > 64 {
        cx.error_spanned_by(&item.ident, "a resource has at most 64 fields");
    }
}

/// Exactly one `#[field(id)]`; the index of the id (0 when there is not exactly one).
pub(super) fn one_id(cx: &Ctxt, item: &ItemStruct, fields: &[Field]) -> usize {
    let ids: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.id)
        .map(|(i, _)| i)
        .collect();
    match ids.as_slice() {
        [one] => *one,
        [] => {
            cx.error_spanned_by(
                &item.ident,
                "a resource needs one id field: mark it `#[field(id)]`",
            );
            0
        }
        [_, rest @ ..] => {
            for i in rest {
                cx.error_spanned_by(
                    &fields[*i].ident,
                    "a resource has exactly one `#[field(id)]`",
                );
            }
            0
        }
    }
}

/// `path` is a static path like `/products`, or one under the organization its rows belong
/// to, `/organizations/{orgId}/members`, on a `multi_tenant` resource (`tenant`).
pub(super) fn static_path(cx: &Ctxt, path: Option<&SpannedValue<String>>, tenant: bool) {
    let Some(path) = path else {
        return;
    };
    let p = path.as_ref();
    let org = arc_spec::names::ORG_SEGMENT;
    let segments: Vec<&str> = p.split('/').skip(1).collect();
    let last = segments.last().copied().unwrap_or_default();
    let orgs = segments.iter().filter(|&&s| s == org).count();
    let literal = |s: &str| !s.is_empty() && !s.contains(['{', '}', '*', ':']);
    if !p.starts_with('/')
        || segments.iter().any(|&s| s != org && !literal(s))
        || orgs > 1
        || !literal(last)
    {
        cx.error_at(
            path.span(),
            format!(
                "`path` is a static path like \"/products\", or \"/organizations/{org}/members\" under the organization of a `multi_tenant` resource"
            ),
        );
    } else if orgs == 1 && !tenant {
        cx.error_at(
            path.span(),
            format!(
                "`{org}` names the organization a row belongs to: the resource needs `presets(multi_tenant)`"
            ),
        );
    }
}

/// `bypass(..)` names at least one role, and only on `owned_by_user`.
pub(super) fn bypass_on_owner_only(cx: &Ctxt, p: &PresetArgs) {
    for (preset, name) in [
        (&p.soft_delete, "soft_delete"),
        (&p.slug_lookup, "slug_lookup"),
        (&p.tree, "tree"),
        (&p.multi_tenant, "multi_tenant"),
        (&p.owned_by_user, "owned_by_user"),
    ] {
        if let Some(Override::Explicit(PresetField {
            bypass: Some(roles),
            ..
        })) = preset.as_ref().map(|p| p.as_ref())
        {
            if name == "owned_by_user" {
                if roles.0.is_empty() {
                    cx.error_at(
                        roles.span(),
                        "`bypass` needs at least one role, e.g. bypass(\"admin\")",
                    );
                }
            } else {
                cx.error_at(
                    roles.span(),
                    format!("`bypass` applies to `owned_by_user`, not `{name}`"),
                );
            }
        }
    }
}

/// The id is a `Uuid` or an `i32`/`i64`, never optional.
pub(super) fn id_type(cx: &Ctxt, model: &Resource) {
    if let Some(id) = model.fields.get(model.id).filter(|f| f.id)
        && (!matches!(id.fty.scalar, Scalar::Uuid | Scalar::I32 | Scalar::I64) || id.fty.nullable)
    {
        cx.error_spanned_by(
            &id.ty,
            "the id is a `Uuid` (generated) or an `i32`/`i64` (auto-increment)",
        );
    }
}

/// Every system field has a value on create: nullable, defaulted, filled in by the server or
/// a preset, or set in a hook.
pub(super) fn system_fields_have_values(cx: &Ctxt, model: &Resource) {
    // Fields a preset fills in from the caller have a value on every create; a field a
    // preset names with the wrong type already has the preset's error.
    let stamped = [model.presets.tenant, model.presets.owner];
    for (i, f) in model.fields.iter().enumerate() {
        if stamped.contains(&Some(i)) || model.claimed.contains(&i) {
            continue;
        }
        let required_by_nobody =
            f.system && !f.id && !f.fty.nullable && f.default.is_none() && f.auto == Auto::None;
        if required_by_nobody && !model.hooks {
            cx.error_spanned_by(&f.ident, format!(
                "system field `{}` has no value on create: make it `Option<..>`, give it `#[field(default)]`, \
                 or set it in a hook (`#[resource(hooks)]`)", f.name));
        }
    }
}

/// The `#[field(..)]` arguments that depend on each other or on the field's type.
pub(super) fn field_args(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    writable_on_create(cx, args, field);
    lengths(cx, args, field);
    range(cx, args, field);
    one_of(cx, args, field);
    default(cx, field);
    roles(cx, args, field);
    id_attrs(cx, args, field);
    states(cx, args, field);
    references(cx, args, field);
}

/// `references = ..` on a field that can hold an id (a UUID or an integer; that it is the
/// referenced resource's kind of id is checked at compile time by the expansion), not on the
/// id itself.
fn references(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    let Some(target) = &args.references else {
        return;
    };
    let holds_id = matches!(field.fty.scalar, Scalar::Uuid | Scalar::I32 | Scalar::I64);
    if !holds_id || field.id {
        cx.error_spanned_by(
            target,
            "`references` is for a field that holds another row's id (a `Uuid`, `i32` or \
             `i64`, or an `Option` of one), not for the id itself",
        );
    }
}

/// `states(..)` on a field that holds a state: an enum (`#[derive(Enum)]`) or a string, not
/// nullable (a row is always in some state), not the id.
fn states(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    let Some(given) = &args.states else { return };
    let holds_state = matches!(field.fty.scalar, Scalar::Enum(_) | Scalar::String);
    if !holds_state || field.fty.nullable || field.id {
        cx.error_at(
            given.span,
            "`states(..)` is for a field that holds a state: an enum (`#[derive(Enum)]`) or a \
             `String`, not an `Option` and not the id",
        );
    }
}

/// `writable_on_create` is for a client-writable field with a `default`.
fn writable_on_create(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    if args.writable_on_create.is_present() && (field.default.is_none() || field.system) {
        cx.error_at(
            args.writable_on_create.span(),
            "`writable_on_create` is for a client-writable field with `default`",
        );
    }
}

/// `min_len` and `max_len` on strings only, the least no greater than the most.
fn lengths(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    for (given, what) in [(&args.min_len, "min_len"), (&args.max_len, "max_len")] {
        if let Some(v) = given
            && !field.fty.scalar.is_string()
        {
            cx.error_at(
                v.span(),
                format!("`{what}` applies to `String` fields only"),
            );
        }
    }
    if let (Some(min), Some(max)) = (&args.min_len, &args.max_len)
        && **min > **max
    {
        cx.error_at(
            min.span(),
            format!(
                "`min_len = {}` is greater than `max_len = {}`",
                **min, **max
            ),
        );
    }
}

/// `range` on numbers only, with a bound, and not empty.
fn range(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    let Some(range) = &args.range else { return };
    if !field.fty.scalar.is_numeric() {
        cx.error_at(
            range.span(),
            "`range` applies to number fields only (i32, i64, f64, Decimal)",
        );
    }
    match (range.min, range.max) {
        (None, None) => cx.error_at(range.span(), "`range` needs `min`, `max` or both"),
        (Some(min), Some(max)) if min.0 > max.0 => {
            cx.error_at(
                range.span(),
                format!("`range(min = {}, max = {})` is empty", min.0, max.0),
            );
        }
        _ => {}
    }
}

/// `one_of` on strings only, with at least one value.
fn one_of(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    let Some(one_of) = &args.one_of else { return };
    if !field.fty.scalar.is_string() {
        cx.error_at(one_of.span(), "`one_of` applies to `String` fields; for a closed set of values use an enum deriving `arc_runtime::Enum`");
    }
    if one_of.0.is_empty() {
        // An empty list carries no span of its own: point at the field.
        cx.error_spanned_by(&field.ident, "`one_of` needs at least one value");
    }
}

/// `default` only where the client may leave the field out and null is not already it.
fn default(cx: &Ctxt, field: &Field) {
    let Some(span) = field.default else { return };
    if field.id || field.auto != Auto::None {
        cx.error_at(
            span,
            "`default` does not apply to a field the server fills in",
        );
    } else if field.fty.nullable {
        cx.error_at(
            span,
            "`default` is implied for `Option` fields (they default to null)",
        );
    }
}

/// `visible_to`, `writable_by` and `redact_for` name a role, on a field they can apply to.
fn roles(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    for (given, what) in [
        (&args.visible_to, "visible_to"),
        (&args.writable_by, "writable_by"),
        (&args.redact_for, "redact_for"),
    ] {
        let Some(roles) = given else { continue };
        if roles.0.is_empty() {
            cx.error_at(
                roles.span(),
                format!("`{what}` needs at least one role, e.g. {what}(\"admin\")"),
            );
        } else if field.id {
            cx.error_at(roles.span(), format!("`{what}` does not apply to the id"));
        } else if field.hidden && what != "writable_by" {
            cx.error_at(
                roles.span(),
                format!("`{what}` does not apply to a hidden field: nobody sees it"),
            );
        } else if field.system && what == "writable_by" {
            cx.error_at(
                roles.span(),
                "`writable_by` does not apply to a field the server sets",
            );
        }
    }
}

/// The id is neither `system` nor `hidden`: it always is the first and never the second.
fn id_attrs(cx: &Ctxt, args: &FieldArgs, field: &Field) {
    if field.id && (args.system.is_present() || args.hidden.is_present()) {
        cx.error_spanned_by(&field.ident, "the id is always server-owned and visible");
    }
}

/// `cache(..)`: `stale` no longer than `expire`, which is not zero (the durations were read
/// by [`DurationLit`](super::attrs::DurationLit)), and each tag a name (`[a-z0-9_.-]`, once).
pub(super) fn cache(
    cx: &Ctxt,
    args: Option<&SpannedValue<Override<CacheArgs>>>,
) -> Option<super::Cache> {
    /// `cache` alone: fresh for 30 s, kept for 5 min.
    const STALE: u64 = 30;
    const EXPIRE: u64 = 300;
    let args = args?;
    let explicit = match args.as_ref() {
        Override::Inherit => CacheArgs::default(),
        Override::Explicit(explicit) => explicit.clone(),
    };
    let stale = explicit.stale.map_or(STALE, |d| d.secs);
    let expire = explicit.expire.map_or(EXPIRE, |d| d.secs);
    let at = |d: Option<super::attrs::DurationLit>| d.map_or(args.span(), |d| d.span);
    if expire == 0 {
        cx.error_at(
            at(explicit.expire),
            "`expire` must be longer than 0: the cache would keep nothing",
        );
    } else if stale > expire {
        cx.error_at(
            at(explicit.stale),
            format!(
                "`stale` ({stale} s) is longer than `expire` ({expire} s): an answer would be gone before it went stale"
            ),
        );
    }
    let mut tags: Vec<String> = Vec::new();
    for tag in explicit.tags.iter().flat_map(|t| &t.0) {
        let text = tag.value();
        let valid = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if !valid {
            cx.error_spanned_by(
                tag,
                "a cache tag is a name of lowercase letters, digits, `_`, `.` or `-`",
            );
        } else if tags.contains(&text) {
            cx.error_spanned_by(tag, format!("the cache tag {text:?} is listed twice"));
        } else {
            tags.push(text);
        }
    }
    Some(super::Cache {
        stale_secs: stale,
        expire_secs: expire,
        tags,
    })
}
