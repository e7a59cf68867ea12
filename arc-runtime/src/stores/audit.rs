//! Where the audit trail is kept: the [`AuditStore`] trait, the question `GET /_audit` asks
//! it ([`AuditQuery`]), and the in-memory store ([`InMemoryAudit`]).
//!
//! A store writes the entries of a write in one of two moments, and only one: inside the
//! write's transaction ([`AuditStore::write`], where a store in the app's own database
//! inserts them, so they commit or roll back with the row: see
//! [`SqlAudit`](crate::config::SqlAudit)), or once that transaction committed
//! ([`AuditStore::committed`], where a store outside it appends them: a rolled-back write
//! never reaches it). [`InMemoryAudit`] is the second kind.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::Mutex;

use sea_orm::{DatabaseTransaction, Value};

use super::{BoxFuture, StoreError};
use crate::audit::{AuditEntry, value_of};
use crate::query::{Filter, Op, Operand, Paging, QuerySpec};

/// Where the audit trail's entries are kept, and how they are found again.
pub trait AuditStore: Send + Sync + 'static {
    /// Inside the write's transaction `txn`, before its commit: a store in the app's
    /// database writes `entries` here, so they commit or roll back with the write (an error
    /// rolls the write back). A store elsewhere does nothing here.
    fn write<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        entries: &'a [AuditEntry],
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// After the write's transaction committed: a store outside the database keeps
    /// `entries` here (a rolled-back write never gets here). An error is logged; the write
    /// stands. A store that wrote them in [`AuditStore::write`] does nothing here.
    fn committed(&self, entries: Vec<AuditEntry>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// One page of the entries `query` selects, in its order, with their count when it asks
    /// for one ([`AuditQuery::counts`]).
    fn query<'a>(&'a self, query: &'a AuditQuery) -> BoxFuture<'a, Result<AuditPage, StoreError>>;

    /// Whether other instances see what this one stores: false for a process's memory.
    /// Distributed apps ([`App::distributed`](crate::App::distributed)) refuse stores that
    /// are not.
    fn shared(&self) -> bool {
        false
    }
}

/// What a store answers to an [`AuditQuery`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AuditPage {
    /// The entries of the page: at most [`AuditQuery::limit`], after skipping
    /// [`AuditQuery::offset`] of those the query selects, in [`AuditQuery::compare`]'s order.
    pub entries: Vec<AuditEntry>,
    /// How many entries the query selects in all, when it [counts](AuditQuery::counts).
    pub total: Option<u64>,
}

/// A question to the audit trail, parsed from `GET /_audit`'s query string and narrowed to
/// what its reader may see. A store that does not translate it into its own query language
/// answers it with [`AuditQuery::matches`], [`AuditQuery::compare`],
/// [`AuditQuery::offset`] and [`AuditQuery::limit`], as [`InMemoryAudit`] does.
#[derive(Clone, Debug)]
pub struct AuditQuery {
    /// The filters, sort, selection and paging of the query string.
    pub(crate) spec: QuerySpec,
    /// Only the entries of this organization (an organization admin's reading).
    pub(crate) organization: Option<String>,
    /// Only the entries of these resources (those whose rows the reader may all read).
    pub(crate) resources: Option<Vec<&'static str>>,
}

impl AuditQuery {
    /// Whether the query selects `entry`: it is within the reader's reach, every filter
    /// holds, and with keyset paging it comes after the cursor.
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        if let Some(org) = &self.organization
            && entry.organization_id.as_ref() != Some(org)
        {
            return false;
        }
        if let Some(resources) = &self.resources
            && !resources.contains(&entry.resource.as_str())
        {
            return false;
        }
        self.spec
            .filters
            .iter()
            .all(|f| holds(f, &value_of(entry, f.field)))
            && self.after_cursor(entry)
    }

    /// The order of the answer: `a` before `b` is [`Ordering::Less`].
    pub fn compare(&self, a: &AuditEntry, b: &AuditEntry) -> Ordering {
        for key in &self.spec.sort {
            let ordering = order(&value_of(a, key.field), &value_of(b, key.field), key.desc);
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    }

    /// How many of the selected entries the page skips.
    pub fn offset(&self) -> u64 {
        match self.spec.paging {
            Paging::Offset { page } => (page - 1).saturating_mul(self.spec.limit),
            Paging::Keyset { .. } => 0,
        }
    }

    /// The most entries the page holds (with keyset paging, one more than is shown: it
    /// tells whether another page follows).
    pub fn limit(&self) -> u64 {
        match self.spec.paging {
            Paging::Offset { .. } => self.spec.limit,
            Paging::Keyset { .. } => self.spec.limit + 1,
        }
    }

    /// Whether the answer needs the count of every selected entry (paging by number).
    pub fn counts(&self) -> bool {
        matches!(self.spec.paging, Paging::Offset { .. })
    }

    /// With keyset paging, whether `entry` sorts after the cursor.
    fn after_cursor(&self, entry: &AuditEntry) -> bool {
        let Paging::Keyset {
            after: Some(values),
        } = &self.spec.paging
        else {
            return true;
        };
        for (key, cursor) in self.spec.sort.iter().zip(values) {
            match compare(&value_of(entry, key.field), cursor) {
                None => return false,
                Some(Ordering::Equal) => continue,
                Some(ordering) => {
                    let ordering = if key.desc {
                        ordering.reverse()
                    } else {
                        ordering
                    };
                    return ordering == Ordering::Greater;
                }
            }
        }
        false
    }
}

/// Two values of one field, when both are set and comparable.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(Some(a)), Value::String(Some(b))) => Some(a.cmp(b)),
        (Value::Uuid(Some(a)), Value::Uuid(Some(b))) => Some(a.cmp(b)),
        (Value::ChronoDateTimeUtc(Some(a)), Value::ChronoDateTimeUtc(Some(b))) => Some(a.cmp(b)),
        _ => None,
    }
}

/// Whether a value is SQL's `NULL`.
fn is_null(value: &Value) -> bool {
    matches!(
        value,
        Value::String(None)
            | Value::Uuid(None)
            | Value::ChronoDateTimeUtc(None)
            | Value::Json(None)
    )
}

/// The sort order of two values, `NULL`s last either way (as the SQL of lists orders).
fn order(a: &Value, b: &Value, desc: bool) -> Ordering {
    match (is_null(a), is_null(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let ordering = compare(a, b).unwrap_or(Ordering::Equal);
            if desc { ordering.reverse() } else { ordering }
        }
    }
}

/// Whether `filter` holds for `value`: what the filter's SQL answers, asked in memory
/// (`ne` and `nin` keep `NULL`s, as the SQL does; a comparison with `NULL` holds for none).
fn holds(filter: &Filter, value: &Value) -> bool {
    let is = |v: &Value, want: Ordering| compare(value, v) == Some(want);
    match (filter.op, &filter.operand) {
        (Op::Eq, Operand::One(v)) => is(v, Ordering::Equal),
        (Op::Ne, Operand::One(v)) => is_null(value) || !is(v, Ordering::Equal),
        (Op::Gt, Operand::One(v)) => is(v, Ordering::Greater),
        (Op::Gte, Operand::One(v)) => is(v, Ordering::Greater) || is(v, Ordering::Equal),
        (Op::Lt, Operand::One(v)) => is(v, Ordering::Less),
        (Op::Lte, Operand::One(v)) => is(v, Ordering::Less) || is(v, Ordering::Equal),
        (Op::In, Operand::Many(vs)) => vs.iter().any(|v| is(v, Ordering::Equal)),
        (Op::Nin, Operand::Many(vs)) => {
            is_null(value) || !vs.iter().any(|v| is(v, Ordering::Equal))
        }
        (Op::Exists, Operand::Exists(set)) => is_null(value) != *set,
        (Op::Like, Operand::Pattern(p)) => match value {
            Value::String(Some(s)) => s.to_lowercase().contains(&p.to_lowercase()),
            _ => false,
        },
        // No field of the trail takes `regex`; any other pairing matches nothing, as its
        // SQL does.
        _ => false,
    }
}

/// The in-memory audit store: one process, the last [`InMemoryAudit::DEFAULT_CAPACITY`]
/// entries (or the capacity given), forgotten on restart. Entries are kept once their write
/// committed, so a rolled-back write leaves none; a process that dies between the commit and
/// that moment loses them. For development and tests: the app's database
/// ([`SqlAudit`](crate::config::SqlAudit), the default) keeps them for good.
#[derive(Debug)]
pub struct InMemoryAudit {
    entries: Mutex<VecDeque<AuditEntry>>,
    capacity: usize,
}

impl Default for InMemoryAudit {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryAudit {
    /// How many entries the store keeps by default: the oldest go first.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// An empty store keeping the last [`InMemoryAudit::DEFAULT_CAPACITY`] entries.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store keeping the last `capacity` entries (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.lock().map_or(0, |e| e.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn poisoned() -> StoreError {
    StoreError::new("audit store lock poisoned")
}

impl AuditStore for InMemoryAudit {
    fn write<'a>(
        &'a self,
        _: &'a DatabaseTransaction,
        _: &'a [AuditEntry],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // Nothing before the commit: the entries are kept in `committed`.
        Box::pin(std::future::ready(Ok(())))
    }

    fn committed(&self, entries: Vec<AuditEntry>) -> BoxFuture<'_, Result<(), StoreError>> {
        let result = self.entries.lock().map_err(|_| poisoned()).map(|mut all| {
            all.extend(entries);
            let excess = all.len().saturating_sub(self.capacity);
            all.drain(..excess);
        });
        Box::pin(std::future::ready(result))
    }

    fn query<'a>(&'a self, query: &'a AuditQuery) -> BoxFuture<'a, Result<AuditPage, StoreError>> {
        let result = self.entries.lock().map_err(|_| poisoned()).map(|all| {
            let mut selected: Vec<&AuditEntry> = all.iter().filter(|e| query.matches(e)).collect();
            selected.sort_by(|a, b| query.compare(a, b));
            let total = query.counts().then_some(selected.len() as u64);
            let skip = usize::try_from(query.offset()).unwrap_or(usize::MAX);
            let take = usize::try_from(query.limit()).unwrap_or(usize::MAX);
            AuditPage {
                entries: selected
                    .into_iter()
                    .skip(skip)
                    .take(take)
                    .cloned()
                    .collect(),
                total,
            }
        });
        Box::pin(std::future::ready(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditAction, AuditRecord};
    use crate::query::{CursorKey, QueryLimits, parse_query};
    use crate::resource::{FieldSet, Resource};
    use chrono::{Duration, TimeZone, Utc};

    fn entry(n: i64, org: Option<&str>, resource: &str, action: AuditAction) -> AuditEntry {
        AuditEntry {
            id: uuid::Uuid::from_u128(n as u128),
            resource: resource.into(),
            document_id: format!("d{n}"),
            action,
            user_id: (n % 2 == 0).then(|| "ada".to_owned()),
            organization_id: org.map(str::to_owned),
            request_id: None,
            trace_id: None,
            changes: vec![],
            before: None,
            after: None,
            timestamp: Utc.timestamp_opt(1_700_000_000, 0).unwrap() + Duration::seconds(n),
        }
    }

    fn query(raw: &str, key: &CursorKey) -> AuditQuery {
        let meta = AuditRecord::META;
        let spec = parse_query(
            meta,
            Some(raw),
            key,
            &QueryLimits::default(),
            FieldSet::visible(meta),
        )
        .unwrap();
        AuditQuery {
            spec,
            organization: None,
            resources: None,
        }
    }

    async fn store() -> InMemoryAudit {
        let store = InMemoryAudit::new();
        let mut all = Vec::new();
        for n in 1..=6 {
            let org = if n <= 4 { Some("acme") } else { Some("globex") };
            let action = if n % 3 == 0 {
                AuditAction::Update
            } else {
                AuditAction::Create
            };
            all.push(entry(n, org, "order", action));
        }
        all.push(entry(7, None, "category", AuditAction::Delete));
        store.committed(all).await.unwrap();
        store
    }

    fn docs(page: &AuditPage) -> Vec<&str> {
        page.entries
            .iter()
            .map(|e| e.document_id.as_str())
            .collect()
    }

    #[tokio::test]
    async fn queries_filter_sort_and_page_as_the_sql_does() {
        let store = store().await;
        let key = CursorKey::new(b"k");
        let page = store.query(&query("", &key)).await.unwrap();
        assert_eq!(page.total, Some(7));
        assert_eq!(
            docs(&page),
            ["d7", "d6", "d5", "d4", "d3", "d2", "d1"],
            "newest first"
        );

        let page = store
            .query(&query("action=update&sort=timestamp", &key))
            .await
            .unwrap();
        assert_eq!(docs(&page), ["d3", "d6"]);
        let page = store.query(&query("userId[ne]=ada", &key)).await.unwrap();
        assert_eq!(docs(&page), ["d7", "d5", "d3", "d1"], "ne keeps nulls");
        let page = store
            .query(&query("organizationId[exists]=false", &key))
            .await
            .unwrap();
        assert_eq!(docs(&page), ["d7"]);
        let since = "timestamp[gte]=2023-11-14T22:13:24Z&timestamp[lt]=2023-11-14T22:13:26Z";
        let page = store.query(&query(since, &key)).await.unwrap();
        assert_eq!(docs(&page), ["d5", "d4"]);
        let page = store
            .query(&query("limit=2&page=2&sort=timestamp", &key))
            .await
            .unwrap();
        assert_eq!((docs(&page), page.total), (vec!["d3", "d4"], Some(7)));

        let mut scoped = query("organizationId=globex", &key);
        scoped.organization = Some("acme".into());
        assert_eq!(store.query(&scoped).await.unwrap().total, Some(0));
        let mut scoped = query("sort=timestamp", &key);
        scoped.organization = Some("acme".into());
        scoped.resources = Some(vec!["order"]);
        let page = store.query(&scoped).await.unwrap();
        assert_eq!(docs(&page), ["d1", "d2", "d3", "d4"]);
        scoped.resources = Some(vec![]);
        assert_eq!(store.query(&scoped).await.unwrap().total, Some(0));
    }

    #[tokio::test]
    async fn keyset_pages_walk_every_entry_once() {
        let store = store().await;
        let key = CursorKey::new(b"k");
        let first = query("limit=3&after=", &key);
        assert!(!first.counts());
        assert_eq!(first.limit(), 4, "one more, to know another page follows");
        let page = store.query(&first).await.unwrap();
        assert_eq!(page.total, None);
        assert_eq!(docs(&page), ["d7", "d6", "d5", "d4"]);
        // The cursor of the third entry, as the route makes it.
        let third = &page.entries[2];
        let cursor = key.encode(
            "-timestamp,id",
            &[
                Some(third.timestamp.to_rfc3339()),
                Some(third.id.to_string()),
            ],
        );
        let next = store
            .query(&query(&format!("limit=3&after={cursor}"), &key))
            .await
            .unwrap();
        assert_eq!(docs(&next), ["d4", "d3", "d2", "d1"]);
    }

    #[tokio::test]
    async fn the_oldest_entries_go_first_past_the_capacity() {
        let store = InMemoryAudit::with_capacity(2);
        assert!(store.is_empty());
        let batch = (1..=3)
            .map(|n| entry(n, None, "order", AuditAction::Create))
            .collect();
        store.committed(batch).await.unwrap();
        assert_eq!(store.len(), 2);
        let page = store
            .query(&query("", &CursorKey::new(b"k")))
            .await
            .unwrap();
        assert_eq!(docs(&page), ["d3", "d2"]);
    }
}
