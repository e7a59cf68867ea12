//! The front index: from what a request asked (its route, path parameter and raw query, and
//! the caller's view) to the key of the question it asks, so a request asked before finds its
//! answer without its query being parsed or its SQL built again.
//!
//! A read's question is a function of what was asked and of the app (its resources, limits
//! and cursor key, fixed when it starts): the query is parsed, and the caller's rows and
//! shape decided, by declarative rules that read only [`AuthContext::view_parts`]. So the
//! key found for one request is the key of every request alike in those parts. A route whose
//! rule calls the app's code (`when(..)`) is not indexed: its answer may depend on more. The
//! index holds keys, never answers: versions and entries are read from the store on every
//! request as before, and the route's permission is checked before the index is asked.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::action::Action;
use crate::auth::AuthContext;
use crate::resource::ResourceMeta;
use crate::stores::Lookup;

/// What one request asked of a cached resource, as the index's key (every part length
/// first, so no two requests write the same bytes), and what the index found for it.
pub(crate) struct Asked {
    pub(super) bytes: Vec<u8>,
    /// The key found for it and what the store said there (`None`: it could not say), when
    /// that was not a fresh answer: the read goes on from there rather than asking again.
    pub(super) found: Option<(Arc<str>, Option<Lookup>)>,
}

impl Asked {
    /// `action` of the resource `meta`, with the route's `params` (the path parameter, the
    /// raw query), by `caller`.
    pub(super) fn new(
        meta: &ResourceMeta,
        action: Action,
        params: &[Option<&str>],
        caller: &AuthContext,
    ) -> Self {
        // Room for the resource's parts, a query and a signed-in caller's view, so it is
        // not grown (an anonymous list with a short query writes some 320 bytes).
        let mut bytes = Vec::with_capacity(512);
        let mut part = |p: &[u8]| {
            bytes.extend_from_slice(&(p.len() as u64).to_le_bytes());
            bytes.extend_from_slice(p);
        };
        // Its cache key (name and fields), and where it is mounted and stored: two resources
        // alike in name and fields are told apart by their paths (the app mounts no two on
        // one), and their rules may differ.
        part(meta.cache.map_or("", |c| c.key).as_bytes());
        part(meta.path.as_bytes());
        part(meta.table.as_bytes());
        part(action.name().as_bytes());
        for param in params {
            match param {
                None => part(&[0]),
                Some(p) => {
                    part(&[1]);
                    part(p.as_bytes());
                }
            }
        }
        caller.view_parts(&mut part);
        Self { bytes, found: None }
    }
}

/// The index: bounded by bytes, the least useful keys out first (quick_cache's policy).
pub(super) struct FrontIndex(Cache<Box<[u8]>, Arc<str>, Size>);

/// What an indexed request weighs: its bytes, its key's and an allowance for the map.
#[derive(Clone, Copy)]
struct Size;

impl Weighter<Box<[u8]>, Arc<str>> for Size {
    fn weight(&self, asked: &Box<[u8]>, key: &Arc<str>) -> u64 {
        (asked.len() + key.len() + 64) as u64
    }
}

impl FrontIndex {
    /// At most 4 MiB of requests (some 20,000).
    const CAPACITY: u64 = 4 * 1024 * 1024;

    pub(super) fn new() -> Self {
        Self(Cache::with_weighter(
            usize::try_from(Self::CAPACITY / 200).unwrap_or(1024),
            Self::CAPACITY,
            Size,
        ))
    }

    /// The key of the question `asked` asks, when a request alike asked it before.
    pub(super) fn get(&self, asked: &Asked) -> Option<Arc<str>> {
        self.0.get(asked.bytes.as_slice())
    }

    /// Notes that `asked` asks the question at `key`.
    pub(super) fn insert(&self, asked: Asked, key: Arc<str>) {
        self.0.insert(asked.bytes.into_boxed_slice(), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::cache::TEST_SETTINGS;
    use crate::resource::{FieldMeta, FieldType, Presets};

    const FIELDS: &[FieldMeta] = &[FieldMeta::new("id", FieldType::Uuid).id()];

    /// A cached resource with one field, mounted at `path`.
    const fn meta(path: &'static str) -> ResourceMeta {
        ResourceMeta {
            doc: "",
            fields: FIELDS,
            name: "product",
            path,
            table: "products",
            migration: "m",
            id: 0,
            presets: Presets::NONE,
            default_sort: "-id",
            lenient: false,
            idempotency: None,
            permissions: crate::permissions::Permissions::PUBLIC,
            cache: Some(TEST_SETTINGS),
            read_hooks: None,
        }
    }

    const PRODUCTS: ResourceMeta = meta("/products");

    fn caller(user: Option<&str>, roles: &[&str]) -> AuthContext {
        AuthContext {
            user_id: user.map(str::to_owned),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..AuthContext::default()
        }
    }

    #[test]
    fn requests_differ_when_any_part_does() {
        let bytes = |action, params: &[Option<&str>], who: &AuthContext| {
            Asked::new(&PRODUCTS, action, params, who).bytes
        };
        let anyone = caller(None, &[]);
        let ada = caller(Some("ada"), &[]);
        let base = bytes(Action::List, &[Some("a=1")], &anyone);
        assert_eq!(base, bytes(Action::List, &[Some("a=1")], &anyone));
        for other in [
            bytes(Action::Deleted, &[Some("a=1")], &anyone),
            bytes(Action::List, &[Some("a=2")], &anyone),
            bytes(Action::List, &[None], &anyone),
            bytes(Action::List, &[Some("")], &anyone),
            bytes(Action::List, &[Some("a=1")], &ada),
            bytes(Action::List, &[Some("a=1")], &caller(None, &["admin"])),
        ] {
            assert_ne!(base, other);
        }
        // Two resources alike in name and fields, mounted apart (their rules may differ).
        let anyone_at = |meta| Asked::new(&meta, Action::List, &[Some("a=1")], &anyone).bytes;
        assert_ne!(base, anyone_at(meta("/admin/products")));
        // A value cannot pass for a boundary between parts.
        assert_ne!(
            bytes(Action::Get, &[Some("ab"), Some("c")], &anyone),
            bytes(Action::Get, &[Some("a"), Some("bc")], &anyone)
        );
    }

    #[test]
    fn the_token_itself_is_not_part_of_the_view() {
        let mut a = caller(Some("ada"), &["admin"]);
        let mut b = a.clone();
        a.token_id = Some("one".into());
        b.token_id = Some("two".into());
        b.expires_at = Some(1);
        let bytes = |who: &AuthContext| Asked::new(&PRODUCTS, Action::Get, &[Some("1")], who).bytes;
        assert_eq!(bytes(&a), bytes(&b));
    }

    #[test]
    fn the_index_gives_back_what_it_was_told() {
        let index = FrontIndex::new();
        let asked = || Asked::new(&PRODUCTS, Action::List, &[None], &AuthContext::default());
        assert_eq!(index.get(&asked()), None);
        index.insert(asked(), Arc::from("product@0:abc"));
        assert_eq!(index.get(&asked()).as_deref(), Some("product@0:abc"));
    }
}
