//! Schema evolution: how a resource's live table differs from its struct, as [`Change`]s
//! that `migrate up` applies (a new column, an index that came or went) or refuses with the
//! SQL to write by hand (a type change, a column that became required).
//!
//! The wanted shape is not mapped from Rust types by hand: the entity's table is made as a
//! temporary table inside a transaction that is rolled back, and both tables are read back
//! through the same catalog query, so a type compares as the database spells it.

use std::fmt;

use sea_orm::sea_query::{Alias, Index, IndexCreateStatement, Table};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement,
    StatementBuilder, TransactionTrait,
};

use super::ResourceTable;

/// What [`Migrator::up`](super::Migrator::up) would do: the migrations not applied yet, then
/// the changes that bring each resource's table to its struct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Plan {
    /// The names of the migrations not applied yet, in order.
    pub pending: Vec<String>,
    /// What the tables need, table by table (those a pending migration makes are left out).
    pub changes: Vec<Change>,
}

impl Plan {
    /// Nothing to apply and nothing refused (kept columns do not count).
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.changes.iter().all(|c| c.kind == ChangeKind::Keep)
    }

    /// The changes `migrate up` refuses to make.
    pub fn refused(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.kind == ChangeKind::Refuse)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for name in &self.pending {
            writeln!(f, "pending  migration {name}")?;
        }
        for change in &self.changes {
            write!(f, "{change}")?;
        }
        if self.is_empty() {
            writeln!(f, "nothing to do: every table matches its resource")?;
        }
        Ok(())
    }
}

/// One difference between a table and its resource's struct.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// The table.
    pub table: &'static str,
    /// What differs, and for a refused change what to do about it.
    pub summary: String,
    /// Whether `migrate up` makes it.
    pub kind: ChangeKind,
    /// The statements: run by `migrate up` ([`ChangeKind::Apply`]), or to put in a migration
    /// of the app's own ([`App::migration`](crate::App::migration)) after review.
    pub sql: Vec<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.kind {
            ChangeKind::Apply => "apply",
            ChangeKind::Refuse => "REFUSED",
            ChangeKind::Keep => "keep",
        };
        writeln!(f, "{verb:<8} {}: {}", self.table, self.summary)?;
        for sql in &self.sql {
            writeln!(f, "           {sql};")?;
        }
        Ok(())
    }
}

/// Whether a [`Change`] is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChangeKind {
    /// Safe: no row loses or gains a value it did not have; `migrate up` runs it.
    Apply,
    /// It would lose data or needs a value only the app's authors know: `migrate up` stops
    /// (applying none of the changes) until a migration of the app's own makes it.
    Refuse,
    /// Left as it is: a nullable column the struct no longer has (drop it by hand when no
    /// instance of an older version still reads it).
    Keep,
}

/// A column as the catalog describes it.
#[derive(Debug)]
pub(super) struct Column {
    name: String,
    ty: String,
    not_null: bool,
    has_default: bool,
}

/// The changes `t`'s table needs; `None` when it does not exist (its migration makes it).
pub(crate) async fn changes(
    t: &ResourceTable,
    db: &DatabaseConnection,
) -> Result<Option<Vec<Change>>, DbErr> {
    let backend = db.get_database_backend();
    let table = t.meta.table;
    let live = columns(db, table).await?;
    if live.is_empty() {
        return Ok(None);
    }
    let want = wanted_columns(t, db).await?;
    let mut changes = Vec::new();
    let change = |kind, summary: String, sql: Vec<String>| Change {
        table,
        summary,
        kind,
        sql,
    };
    for w in &want {
        let field = t.meta.fields.iter().position(|f| f.column == w.name);
        match live.iter().find(|l| l.name == w.name) {
            None => changes.push(match field {
                Some(i) => add_column(t, backend, i, w),
                None => change(
                    ChangeKind::Refuse,
                    format!("the entity has a column {:?} no field declares", w.name),
                    Vec::new(),
                ),
            }),
            Some(l) if !l.ty.eq_ignore_ascii_case(&w.ty) => changes.push(change(
                ChangeKind::Refuse,
                format!(
                    "column {:?} changes type from {} to {}: converting its values is a \
                     decision; write a migration (App::migration) from this",
                    w.name, l.ty, w.ty
                ),
                retype(t, backend, &live, &w.name, &w.ty),
            )),
            Some(l) if l.not_null && !w.not_null => changes.push(match backend {
                DbBackend::Postgres => change(
                    ChangeKind::Apply,
                    format!("column {:?} becomes nullable", w.name),
                    vec![format!(
                        r#"ALTER TABLE "{table}" ALTER COLUMN "{}" DROP NOT NULL"#,
                        w.name
                    )],
                ),
                _ => change(
                    ChangeKind::Refuse,
                    format!(
                        "column {:?} becomes nullable, which SQLite makes by rebuilding the \
                         table; write a migration (App::migration) from this",
                        w.name
                    ),
                    sqlite_rebuild(t, &live, |column| format!(r#""{column}""#)),
                ),
            }),
            Some(l) if !l.not_null && w.not_null => changes.push(change(
                ChangeKind::Refuse,
                format!(
                    "column {:?} becomes required: rows holding NULL need a value first; \
                     write a migration (App::migration) from this",
                    w.name
                ),
                require(t, backend, &live, &w.name),
            )),
            Some(_) => {}
        }
    }
    for l in live
        .iter()
        .filter(|l| !want.iter().any(|w| w.name == l.name))
    {
        let drop = vec![format!(r#"ALTER TABLE "{table}" DROP COLUMN "{}""#, l.name)];
        changes.push(if l.not_null && !l.has_default {
            change(
                ChangeKind::Refuse,
                format!(
                    "column {:?} is no field of the struct, and NOT NULL without a default: \
                     every create would fail; drop it (or its NOT NULL) in a migration",
                    l.name
                ),
                drop,
            )
        } else {
            change(
                ChangeKind::Keep,
                format!(
                    "column {:?} is no field of the resource; kept (drop it once nothing, \
                     an older instance included, reads it)",
                    l.name
                ),
                drop,
            )
        });
    }
    changes.extend(index_changes(t, db).await?);
    changes.extend(foreign_key_changes(t, db, &live).await?);
    Ok(Some(changes))
}

/// A column the table lacks: added when it may hold NULL or has a default to give the rows
/// already there; refused otherwise.
fn add_column(t: &ResourceTable, backend: DbBackend, i: usize, want: &Column) -> Change {
    let table = t.meta.table;
    let field = &t.meta.fields[i];
    let mut def = (t.column_def)(backend, i);
    let alter = |def: &sea_orm::sea_query::ColumnDef| {
        sql(
            backend,
            &Table::alter()
                .table(Alias::new(table))
                .add_column(def.clone())
                .to_owned(),
        )
    };
    let (kind, summary, sql) = match field.default {
        _ if !want.not_null => (
            ChangeKind::Apply,
            format!("add column {:?} (nullable)", want.name),
            vec![alter(&def)],
        ),
        Some(default) => (
            ChangeKind::Apply,
            format!(
                "add column {:?}, the rows there get its #[field(default)]",
                want.name
            ),
            vec![alter(def.default(default()))],
        ),
        None => (
            ChangeKind::Refuse,
            format!(
                "add column {:?}: required, with no value for the rows already there; give \
                 the field #[field(default)], make it an Option, or write a migration \
                 (App::migration) from this",
                want.name
            ),
            match backend {
                DbBackend::Postgres => vec![
                    format!(
                        r#"ALTER TABLE "{table}" ADD COLUMN "{}" {} NULL"#,
                        want.name, want.ty
                    ),
                    format!(
                        r#"UPDATE "{table}" SET "{}" = /* the value of the rows there */"#,
                        want.name
                    ),
                    format!(
                        r#"ALTER TABLE "{table}" ALTER COLUMN "{}" SET NOT NULL"#,
                        want.name
                    ),
                ],
                _ => vec![format!(
                    r#"ALTER TABLE "{table}" ADD COLUMN "{}" {} NOT NULL DEFAULT /* the value of the rows there */"#,
                    want.name, want.ty
                )],
            },
        ),
    };
    Change {
        table,
        summary,
        kind,
        sql,
    }
}

/// The statements that change a column's type: in place on PostgreSQL, by a rebuild with a
/// `CAST` on SQLite.
fn retype(
    t: &ResourceTable,
    backend: DbBackend,
    live: &[Column],
    column: &str,
    ty: &str,
) -> Vec<String> {
    let table = t.meta.table;
    match backend {
        DbBackend::Postgres => vec![format!(
            r#"ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {ty} USING "{column}"::{ty}"#
        )],
        _ => sqlite_rebuild(t, live, |c| {
            if c == column {
                format!(r#"CAST("{c}" AS {ty})"#)
            } else {
                format!(r#""{c}""#)
            }
        }),
    }
}

/// The statements that make a nullable column required: fill its NULLs, then the constraint.
fn require(t: &ResourceTable, backend: DbBackend, live: &[Column], column: &str) -> Vec<String> {
    let table = t.meta.table;
    match backend {
        DbBackend::Postgres => vec![
            format!(
                r#"UPDATE "{table}" SET "{column}" = /* the value of these rows */ WHERE "{column}" IS NULL"#
            ),
            format!(r#"ALTER TABLE "{table}" ALTER COLUMN "{column}" SET NOT NULL"#),
        ],
        _ => sqlite_rebuild(t, live, |c| {
            if c == column {
                format!(r#"COALESCE("{c}", /* the value of the rows holding NULL */)"#)
            } else {
                format!(r#""{c}""#)
            }
        }),
    }
}

/// SQLite's way to change a column or a foreign key: a new table from the entity, with its
/// foreign keys (plus, as they are, the `live` columns no field declares, so a kept column
/// keeps its values), the rows copied (every field's column through `expr`, the others as
/// they are), the old table dropped, the new one renamed, arc's indexes made. The app's own
/// indexes, triggers and constraints on the table go with it: make them again after. Run
/// with foreign keys off (as `migrate up` runs every migration on SQLite), or dropping the
/// old table deletes its rows first, for the tables that reference it too.
pub(super) fn sqlite_rebuild(
    t: &ResourceTable,
    live: &[Column],
    expr: impl Fn(&str) -> String,
) -> Vec<String> {
    let table = t.meta.table;
    let staging = format!("{table}__arc_rebuild");
    let mut create = (t.create)(DbBackend::Sqlite);
    create.table(Alias::new(&staging));
    for key in super::foreign_keys(t.meta) {
        create.foreign_key(&mut key.statement(DbBackend::Sqlite, table));
    }
    let fields: Vec<&str> = t.meta.fields.iter().map(|f| f.column).collect();
    let extra: Vec<&Column> = live
        .iter()
        .filter(|c| !fields.contains(&c.name.as_str()))
        .collect();
    let mut all = vec![sql(DbBackend::Sqlite, &create)];
    all.extend(extra.iter().map(|c| {
        format!(
            r#"ALTER TABLE "{staging}" ADD COLUMN "{}" {}"#,
            c.name, c.ty
        )
    }));
    let names = fields
        .iter()
        .copied()
        .chain(extra.iter().map(|c| c.name.as_str()))
        .map(|c| format!(r#""{c}""#))
        .collect::<Vec<_>>()
        .join(", ");
    let values = fields
        .iter()
        .map(|c| expr(c))
        .chain(extra.iter().map(|c| format!(r#""{}""#, c.name)))
        .collect::<Vec<_>>()
        .join(", ");
    all.extend([
        format!(r#"INSERT INTO "{staging}" ({names}) SELECT {values} FROM "{table}""#),
        format!(r#"DROP TABLE "{table}""#),
        format!(r#"ALTER TABLE "{staging}" RENAME TO "{table}""#),
    ]);
    all.extend(
        super::indexes(t, DbBackend::Sqlite)
            .iter()
            .map(|index| sql(DbBackend::Sqlite, index)),
    );
    all
}

/// [`sqlite_rebuild`] of `t`'s table as it is now, keeping every column as it is.
pub(super) async fn sqlite_rebuild_now(
    t: &ResourceTable,
    db: &impl ConnectionTrait,
) -> Result<Vec<String>, DbErr> {
    let live = columns(db, t.meta.table).await?;
    Ok(sqlite_rebuild(t, &live, |c| format!(r#""{c}""#)))
}

/// Arc's indexes on `t`'s table follow the resource: those it no longer declares go, those
/// it declares and the table lacks come, and one whose columns, uniqueness or scope (a
/// partial index over live rows) changed is made anew. An index is arc's only by a name arc
/// gives (see [`super::index_name`]); the app's own indexes are left alone.
async fn index_changes(t: &ResourceTable, db: &DatabaseConnection) -> Result<Vec<Change>, DbErr> {
    let backend = db.get_database_backend();
    let table = t.meta.table;
    let live = live_indexes(db, table).await?;
    let want = super::indexes(t, backend);
    let arcs = super::index_names(t.meta, backend);
    let name_of =
        |index: &IndexCreateStatement| index.get_index_spec().get_name().map(str::to_owned);
    let mut changes = Vec::new();
    let drop = |name: &str| sql(backend, &Index::drop().name(name).if_exists().to_owned());
    for index in live.iter().filter(|l| arcs.contains(&l.name)) {
        if !want
            .iter()
            .any(|w| name_of(w).as_deref() == Some(index.name.as_str()))
        {
            changes.push(Change {
                table,
                summary: format!(
                    "drop index {:?}: no field of the resource asks for it now",
                    index.name
                ),
                kind: ChangeKind::Apply,
                sql: vec![drop(&index.name)],
            });
        }
    }
    for index in &want {
        let Some(name) = name_of(index) else {
            continue;
        };
        let shape = IndexShape {
            columns: index.get_index_spec().get_column_names().join(","),
            unique: index.is_unique_key(),
            partial: sql(backend, index).contains(" WHERE "),
        };
        match live.iter().find(|l| l.name == name) {
            None => changes.push(Change {
                table,
                summary: format!("create index {name:?}"),
                kind: ChangeKind::Apply,
                sql: vec![sql(backend, index)],
            }),
            Some(found) if found.shape != shape => changes.push(Change {
                table,
                summary: format!(
                    "make index {name:?} anew: {} becomes {}",
                    found.shape, shape
                ),
                kind: ChangeKind::Apply,
                sql: vec![drop(&name), sql(backend, index)],
            }),
            Some(_) => {}
        }
    }
    Ok(changes)
}

/// Arc's foreign keys on `t`'s table follow its references: one a field declares and the
/// table lacks is added (on PostgreSQL by `ALTER TABLE`, on SQLite by rebuilding the table,
/// which is the only way it has), one whose target or delete behaviour changed is made anew,
/// one whose field references nothing now is dropped. Adding one is refused while rows
/// reference rows that do not exist, with the SQL that clears them. A foreign key is arc's
/// by its name on PostgreSQL (`fk-{table}-{column}`), by its column being a field's on SQLite
/// (which keeps no names); any key of the right shape counts as there.
async fn foreign_key_changes(
    t: &ResourceTable,
    db: &DatabaseConnection,
    live: &[Column],
) -> Result<Vec<Change>, DbErr> {
    let backend = db.get_database_backend();
    let table = t.meta.table;
    let want = super::foreign_keys(t.meta);
    let found = live_foreign_keys(db, table).await?;
    // On SQLite, which keeps no names, a key is arc's when its column is a reference's.
    let arcs = |key: &LiveForeignKey| match backend {
        DbBackend::Postgres => key.name == super::foreign_key_name(backend, table, &key.key.column),
        _ => want.iter().any(|w| w.column == key.key.column),
    };
    let mut changes = Vec::new();
    // SQLite's: what one rebuild of the table makes.
    let mut rebuild = Vec::new();
    for key in &want {
        if found.iter().any(|f| f.key == *key) {
            continue;
        }
        let orphans = orphans(db, table, key).await?;
        if orphans > 0 {
            changes.push(Change {
                table,
                summary: format!(
                    "add foreign key {key}: {orphans} row(s) reference a row of {} that does \
                     not exist; clear them (this SQL, or your own, in App::migration), then \
                     `migrate up` adds it",
                    key.target
                ),
                kind: ChangeKind::Refuse,
                sql: vec![clear_orphans(table, key)],
            });
            continue;
        }
        let old = found.iter().find(|f| arcs(f) && f.key.column == key.column);
        let summary = match old {
            Some(old) => format!("make foreign key anew: {} becomes {key}", old.key),
            None => format!("add foreign key {key}"),
        };
        match backend {
            DbBackend::Postgres => {
                let mut sql = old
                    .map(|old| drop_constraint(table, &old.name))
                    .into_iter()
                    .collect::<Vec<_>>();
                sql.push(self::sql(backend, &key.statement(backend, table)));
                changes.push(Change {
                    table,
                    summary,
                    kind: ChangeKind::Apply,
                    sql,
                });
            }
            _ => rebuild.push(summary),
        }
    }
    for old in found
        .iter()
        .filter(|f| arcs(f) && !want.iter().any(|w| w.column == f.key.column))
    {
        let summary = format!(
            "drop foreign key {}: its field references nothing now",
            old.key
        );
        match backend {
            DbBackend::Postgres => changes.push(Change {
                table,
                summary,
                kind: ChangeKind::Apply,
                sql: vec![drop_constraint(table, &old.name)],
            }),
            _ => rebuild.push(summary),
        }
    }
    if !rebuild.is_empty() {
        // The rebuild makes arc's indexes and keys again, nothing else: a table that holds
        // more is rebuilt only by the app's own migration, which makes the rest again.
        let mut foreign = not_arcs(t, db).await?;
        foreign.extend(
            found
                .iter()
                .filter(|f| !arcs(f))
                .map(|f| format!("foreign key {}", f.key)),
        );
        let summary = format!("{} (SQLite rebuilds the table for it)", rebuild.join("; "));
        let sql = sqlite_rebuild(t, live, |c| format!(r#""{c}""#));
        changes.push(if foreign.is_empty() {
            Change {
                table,
                summary,
                kind: ChangeKind::Apply,
                sql,
            }
        } else {
            Change {
                table,
                summary: format!(
                    "{summary}: the rebuild would drop {}, which arc did not make; run this \
                     in App::migration (with foreign keys off, as every migration runs on \
                     SQLite) and make them again after it",
                    foreign.join(", ")
                ),
                kind: ChangeKind::Refuse,
                sql,
            }
        });
    }
    Ok(changes)
}

/// The indexes and triggers on `t`'s SQLite table that arc did not make (a rebuild drops
/// them), by kind and name.
async fn not_arcs(t: &ResourceTable, db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    let arcs = super::index_names(t.meta, DbBackend::Sqlite);
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT type, name FROM sqlite_schema WHERE tbl_name = ? \
             AND type IN ('index', 'trigger') AND name NOT LIKE 'sqlite_autoindex%'",
            [t.meta.table.into()],
        ))
        .await?;
    let mut found = Vec::new();
    for row in rows {
        let kind: String = row.try_get("", "type")?;
        let name: String = row.try_get("", "name")?;
        if !arcs.contains(&name) {
            found.push(format!("{kind} {name:?}"));
        }
    }
    Ok(found)
}

fn drop_constraint(table: &str, name: &str) -> String {
    format!(r#"ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{name}""#)
}

/// The rows of `table` whose `key` references a row that does not exist (0 while the target
/// table does not: its pending migration makes it empty, and `up` asks again after it).
async fn orphans(
    db: &DatabaseConnection,
    table: &str,
    key: &super::ForeignKey,
) -> Result<i64, DbErr> {
    if columns(db, &key.target).await?.is_empty() {
        return Ok(0);
    }
    let query = format!(
        r#"SELECT COUNT(*) AS n FROM "{table}" AS r WHERE {}"#,
        orphaned(key)
    );
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(backend, query))
        .await?;
    row.map_or(Ok(0), |row| row.try_get("", "n"))
}

/// The condition on the row `r` that its `key` references a row that does not exist.
fn orphaned(key: &super::ForeignKey) -> String {
    format!(
        r#"r."{column}" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "{target}" AS t WHERE t."{target_column}" = r."{column}")"#,
        column = key.column,
        target = key.target,
        target_column = key.target_column,
    )
}

/// The statement that clears the rows whose `key` references nothing: a nullable reference
/// becomes `NULL`, a row with a required one is deleted (or write your own: point them at
/// a row that exists).
fn clear_orphans(table: &str, key: &super::ForeignKey) -> String {
    if key.on_delete == super::SET_NULL {
        format!(
            r#"UPDATE "{table}" AS r SET "{}" = NULL WHERE {}"#,
            key.column,
            orphaned(key)
        )
    } else {
        format!(
            r#"DELETE FROM "{table}" AS r WHERE {} /* or point them at a row that exists */"#,
            orphaned(key)
        )
    }
}

/// A foreign key of a table, as the catalog describes it.
struct LiveForeignKey {
    /// Its name (empty on SQLite, which keeps none).
    name: String,
    key: super::ForeignKey,
}

/// The single-column foreign keys of `table`.
async fn live_foreign_keys(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<Vec<LiveForeignKey>, DbErr> {
    let postgres = r#"SELECT c.conname::text AS name, 0::bigint AS id, 0::bigint AS seq,
                             a.attname::text AS "column", t.relname::text AS target,
                             ta.attname::text AS target_column,
                             CASE c.confdeltype WHEN 'r' THEN 'RESTRICT' WHEN 'n' THEN 'SET NULL'
                                  WHEN 'c' THEN 'CASCADE' WHEN 'd' THEN 'SET DEFAULT'
                                  ELSE 'NO ACTION' END AS on_delete
                      FROM pg_constraint c
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                      JOIN pg_class t ON t.oid = c.confrelid
                      JOIN pg_attribute ta ON ta.attrelid = c.confrelid AND ta.attnum = c.confkey[1]
                      WHERE c.contype = 'f' AND c.conrelid = to_regclass(quote_ident($1))
                        AND cardinality(c.conkey) = 1"#;
    let sqlite = r#"SELECT '' AS name, id, seq, "from" AS "column", "table" AS target,
                           COALESCE("to", '') AS target_column, on_delete
                    FROM pragma_foreign_key_list(?)"#;
    let rows = catalog(db, table, postgres, sqlite).await?;
    let mut keys = Vec::new();
    let mut multi = Vec::new();
    for row in &rows {
        let id: i64 = row.try_get("", "id")?;
        if row.try_get::<i64>("", "seq")? > 0 {
            multi.push(id);
        }
        keys.push((
            id,
            LiveForeignKey {
                name: row.try_get("", "name")?,
                key: super::ForeignKey {
                    column: row.try_get("", "column")?,
                    target: row.try_get("", "target")?,
                    target_column: row.try_get("", "target_column")?,
                    on_delete: row.try_get("", "on_delete")?,
                },
            },
        ));
    }
    Ok(keys
        .into_iter()
        .filter(|(id, _)| !multi.contains(id))
        .map(|(_, key)| key)
        .collect())
}

/// What an index covers, compared between the table and the resource.
#[derive(Debug, PartialEq, Eq)]
struct IndexShape {
    /// Its columns, in order, comma-separated.
    columns: String,
    unique: bool,
    /// Over some rows only (live rows, with `soft_delete`).
    partial: bool,
}

impl fmt::Display for IndexShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.unique { "unique " } else { "" };
        let rows = if self.partial { " over some rows" } else { "" };
        write!(f, "{kind}({}){rows}", self.columns)
    }
}

/// An index of a table, as the catalog describes it.
struct LiveIndex {
    name: String,
    shape: IndexShape,
}

/// Runs the [`ChangeKind::Apply`] changes, table by table, each table's in one transaction.
pub(crate) async fn apply(db: &DatabaseConnection, changes: &[Change]) -> Result<(), DbErr> {
    let mut tables: Vec<&str> = changes.iter().map(|c| c.table).collect();
    tables.dedup();
    for table in tables {
        let txn = db.begin().await?;
        if db.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared("SET LOCAL statement_timeout = 0")
                .await?;
        }
        for change in changes
            .iter()
            .filter(|c| c.table == table && c.kind == ChangeKind::Apply)
        {
            tracing::info!(table, change = %change.summary, "evolving the schema");
            for statement in &change.sql {
                txn.execute_unprepared(statement).await?;
            }
        }
        super::foreign_key_check(&txn).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// The columns `t`'s entity makes, as the catalog describes them: the table is made as a
/// temporary one in a transaction that is rolled back.
async fn wanted_columns(t: &ResourceTable, db: &DatabaseConnection) -> Result<Vec<Column>, DbErr> {
    let backend = db.get_database_backend();
    let shape = format!("arc_shape_{}", t.meta.table);
    let mut create = (t.create)(backend);
    create.table(Alias::new(&shape)).temporary();
    let txn = db.begin().await?;
    txn.execute_unprepared(&sql(backend, &create)).await?;
    let want = columns(&txn, &shape).await;
    txn.rollback().await?;
    want
}

/// The columns of `table` (empty when there is no such table).
async fn columns(db: &impl ConnectionTrait, table: &str) -> Result<Vec<Column>, DbErr> {
    let postgres = r#"SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS ty,
                             a.attnotnull AS not_null, d.adbin IS NOT NULL AS has_default
                      FROM pg_attribute a
                      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                      WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0
                        AND NOT a.attisdropped
                      ORDER BY a.attnum"#;
    let sqlite = r#"SELECT name, type AS ty, "notnull" <> 0 AS not_null,
                           dflt_value IS NOT NULL AS has_default
                    FROM pragma_table_info(?)"#;
    catalog(db, table, postgres, sqlite)
        .await?
        .iter()
        .map(|row| {
            Ok(Column {
                name: row.try_get("", "name")?,
                ty: row.try_get("", "ty")?,
                not_null: row.try_get("", "not_null")?,
                has_default: row.try_get("", "has_default")?,
            })
        })
        .collect()
}

/// The indexes on `table`.
async fn live_indexes(db: &impl ConnectionTrait, table: &str) -> Result<Vec<LiveIndex>, DbErr> {
    let postgres = r#"SELECT c.relname::text AS name, i.indisunique AS uniq,
                             i.indpred IS NOT NULL AS partial,
                             array_to_string(ARRAY(
                                 SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(num, n)
                                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.num
                                 ORDER BY k.n), ',') AS columns
                      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                      WHERE i.indrelid = to_regclass(quote_ident($1))"#;
    let sqlite = r#"SELECT l.name, l."unique" <> 0 AS uniq, l.partial <> 0 AS partial,
                           (SELECT group_concat(name, ',') FROM
                               (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno))
                               AS columns
                    FROM pragma_index_list(?) l"#;
    catalog(db, table, postgres, sqlite)
        .await?
        .iter()
        .map(|row| {
            Ok(LiveIndex {
                name: row.try_get("", "name")?,
                shape: IndexShape {
                    columns: row
                        .try_get::<Option<String>>("", "columns")?
                        .unwrap_or_default(),
                    unique: row.try_get("", "uniq")?,
                    partial: row.try_get("", "partial")?,
                },
            })
        })
        .collect()
}

/// The rows a catalog query about `table` answers, in the backend's dialect.
async fn catalog(
    db: &impl ConnectionTrait,
    table: &str,
    postgres: &str,
    sqlite: &str,
) -> Result<Vec<QueryResult>, DbErr> {
    let backend = db.get_database_backend();
    let query = match backend {
        DbBackend::Postgres => postgres,
        _ => sqlite,
    };
    db.query_all_raw(Statement::from_sql_and_values(
        backend,
        query,
        [table.into()],
    ))
    .await
}

/// `statement` as SQL for `backend` (DDL carries no bound values).
fn sql(backend: DbBackend, statement: &impl StatementBuilder) -> String {
    statement.build(&backend).sql
}
