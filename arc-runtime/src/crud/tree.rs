//! The `tree` preset's nesting: rows with a parent field assembled into a forest.
//!
//! A row whose parent is null, or not among the rows, is a root. Rows in a parent cycle are
//! unreachable from any root and left out. Nesting is capped at [`MAX_DEPTH`] levels; deeper
//! rows are left out of the tree (they stay reachable through `/:id/children`).

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::HashMap;

use super::record::Record;
use crate::resource::{ResourceMeta, Shape};
use crate::value::to_cursor_text;

/// The deepest nesting the tree route writes.
pub(super) const MAX_DEPTH: usize = 64;

/// Rows and, for each, the indexes of its children.
pub(super) struct Forest<'a> {
    rows: &'a [Record],
    meta: &'static ResourceMeta,
    roots: Vec<usize>,
    children: Vec<Vec<usize>>,
    shape: Shape,
}

impl<'a> Forest<'a> {
    /// Links `rows` of `meta`'s resource by their `parent` field.
    pub(super) fn build(
        rows: &'a [Record],
        meta: &'static ResourceMeta,
        parent: usize,
        shape: Shape,
    ) -> Self {
        let index: HashMap<String, usize> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| to_cursor_text(row.get(meta.id)).map(|id| (id, i)))
            .collect();
        let mut roots = Vec::new();
        let mut children = vec![Vec::new(); rows.len()];
        for (i, row) in rows.iter().enumerate() {
            match to_cursor_text(row.get(parent)).and_then(|p| index.get(&p).copied()) {
                Some(p) if p != i => children[p].push(i),
                _ => roots.push(i),
            }
        }
        Self {
            rows,
            meta,
            roots,
            children,
            shape,
        }
    }
}

struct Node<'f, 'a> {
    forest: &'f Forest<'a>,
    index: usize,
    depth: usize,
}

impl Serialize for Node<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let row = &self.forest.rows[self.index];
        row.write(self.forest.meta, self.forest.shape, None, &mut map)?;
        let kids = if self.depth + 1 < MAX_DEPTH {
            self.forest.children[self.index].as_slice()
        } else {
            &[]
        };
        map.serialize_entry(
            "children",
            &Level {
                forest: self.forest,
                indexes: kids,
                depth: self.depth + 1,
            },
        )?;
        map.end()
    }
}

struct Level<'f, 'a> {
    forest: &'f Forest<'a>,
    indexes: &'f [usize],
    depth: usize,
}

impl Serialize for Level<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.indexes.iter().map(|&index| Node {
            forest: self.forest,
            index,
            depth: self.depth,
        }))
    }
}

impl Serialize for Forest<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Level {
            forest: self,
            indexes: &self.roots,
            depth: 0,
        }
        .serialize(serializer)
    }
}
