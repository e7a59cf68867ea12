//! `?populate=category`: the rows a page's references name, embedded beside them.
//!
//! A reference declared for it (`#[resource(query(populate = [category]))]` on the field
//! `category_id`) embeds, under `category`, the row it names as the caller would read it
//! through `GET /categories/{id}`: within that resource's get rule, tenant, owner and live
//! rows, shown through its field rules. A row the caller could not read there stays its id,
//! so populating tells nobody more than the reference already did. Every populated
//! reference costs one query per answer (`id IN (..)` over the page), never one per row.
//!
//! A read plans its embeds when the caller is known ([`plan`]); the plans are part of the
//! cache's question (the answer holds the referenced rows, so the cache keys and versions
//! them too), and run after the page is read ([`fetch`]).

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{ExprTrait, SelectStatement};
use sea_orm::{DatabaseConnection, DbErr, Value};
use serde::{Serialize, Serializer};

use crate::action::Operation;
use crate::auth::AuthContext;
use crate::cache::Question;
use crate::crud::access::{Read, Scope, decide, scope};
use crate::crud::record::{Json, Record};
use crate::crud::references::is_null;
use crate::db::Reads;
use crate::error::ArcError;
use crate::query::{Populate, parse::parse_select, sql};
use crate::resource::{ResourceMeta, Shape};

/// How one populated reference is read for one caller.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The member the rows are embedded under.
    key: &'static str,
    /// The reference field.
    field: usize,
    /// The referenced resource.
    target: &'static ResourceMeta,
    /// Its rows the caller may read (the ids are added per page); `None` when they may read
    /// none of them.
    rows: Option<SelectStatement>,
    /// What the caller is shown of each.
    shape: Shape,
}

/// The plans of the references `asked` of `meta`'s resource by `caller`. A select of the
/// embedded rows (`populate[category][select]=name`) is checked here, against what the
/// caller may read of the referenced resource: a field they may not is a 400 as in a list
/// of it.
pub(crate) async fn plan(
    meta: &'static ResourceMeta,
    asked: &[Populate],
    caller: &AuthContext,
    db: &DatabaseConnection,
) -> Result<Vec<Plan>, ArcError> {
    let mut plans = Vec::with_capacity(asked.len());
    for populate in asked {
        let Some(field) = meta.fields.get(populate.field) else {
            continue;
        };
        let (Some(key), Some(target)) = (field.populate, field.references.map(|t| t())) else {
            continue;
        };
        let mut shape = Shape::for_caller(target, caller);
        if let Some(text) = &populate.select {
            let param = format!("populate[{key}][select]");
            shape = shape.select(parse_select(target, shape.fields, text, &param)?);
        }
        // A caller who may not read the resource at all (or not without an organization),
        // or whom its read hook refuses, sees its ids only.
        let readable = match decide(target, Operation::Get, caller, db).await {
            Ok(decided) => decided
                .readable(db, Read::One, scope(target, Scope::Live))
                .await
                .ok(),
            Err(_) => None,
        };
        let rows = readable.map(|rows| {
            let mut select = sql::select(target);
            select.cond_where(rows);
            select
        });
        plans.push(Plan {
            key,
            field: populate.field,
            target,
            rows,
            shape,
        });
    }
    Ok(plans)
}

/// `question` with what `plans` read: each one's statement (without its ids: those follow
/// from the page, which the question holds) and shape.
pub(crate) fn ask(mut question: Question, plans: &[Plan], reads: Reads<'_>) -> Question {
    for plan in plans {
        question = question.part(plan.key.as_bytes());
        question = match &plan.rows {
            Some(rows) => question
                .statement(&reads.backend().build(rows))
                .shape(plan.shape),
            None => question.part(b"-"),
        };
    }
    question
}

/// Ids per `IN (..)` list: far below PostgreSQL's 65,535 bound parameters and SQLite's
/// 32,766, whatever page size an app allows.
const IDS_PER_QUERY: usize = 1000;

/// The rows `plans` embed in `rows` (shown as `shown`): one query per plan whose reference
/// is shown and names any row (one per thousand distinct rows it names, on larger pages).
pub(crate) async fn fetch(
    reads: Reads<'_>,
    plans: Vec<Plan>,
    rows: &[Record],
    shown: Shape,
) -> Result<Embeds, DbErr> {
    let mut embeds = Vec::with_capacity(plans.len());
    for plan in plans {
        if !shown.fields.contains(plan.field) || shown.redact.contains(plan.field) {
            continue;
        }
        let mut seen: HashSet<&Value> = HashSet::new();
        let ids: Vec<Value> = rows
            .iter()
            .map(|row| row.get(plan.field))
            .filter(|id| !is_null(id) && seen.insert(id))
            .cloned()
            .collect();
        let mut found = HashMap::with_capacity(ids.len());
        if let Some(select) = &plan.rows {
            for chunk in ids.chunks(IDS_PER_QUERY) {
                let mut select = select.clone();
                let id = sql::column(plan.target, plan.target.id);
                select.and_where(id.is_in(chunk.iter().cloned()));
                let records = reads
                    .records(plan.target, &reads.backend().build(&select))
                    .await?;
                for record in records {
                    found.insert(record.get(plan.target.id).clone(), record);
                }
            }
        }
        embeds.push(Embedded {
            key: plan.key,
            field: plan.field,
            target: plan.target,
            shape: plan.shape,
            found,
        });
    }
    Ok(Embeds(embeds))
}

/// The referenced rows an answer embeds, by reference.
#[derive(Clone, Debug, Default)]
pub(crate) struct Embeds(Vec<Embedded>);

impl Embeds {
    /// Writes into `map` each embed of `row` whose reference `shape` shows.
    pub(crate) fn write<M: serde::ser::SerializeMap>(
        &self,
        row: &Record,
        shape: Shape,
        map: &mut M,
    ) -> Result<(), M::Error> {
        for embedded in &self.0 {
            if shape.fields.contains(embedded.field) && !shape.redact.contains(embedded.field) {
                map.serialize_entry(
                    embedded.key,
                    &Embed {
                        embedded,
                        id: row.get(embedded.field),
                    },
                )?;
            }
        }
        Ok(())
    }
}

/// The rows of one populated reference.
#[derive(Clone, Debug)]
struct Embedded {
    key: &'static str,
    field: usize,
    target: &'static ResourceMeta,
    shape: Shape,
    /// The referenced rows the caller may read, by id.
    found: HashMap<Value, Record>,
}

/// One embed: the row `id` names, as the caller is shown it; its id when they may not
/// read it; `null` for no reference.
struct Embed<'a> {
    embedded: &'a Embedded,
    id: &'a Value,
}

impl Serialize for Embed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Embedded {
            target,
            shape,
            found,
            ..
        } = self.embedded;
        if is_null(self.id) {
            return serializer.serialize_none();
        }
        match found.get(self.id) {
            Some(row) => row.shown(target, *shape).serialize(serializer),
            None => Json(self.id).serialize(serializer),
        }
    }
}
