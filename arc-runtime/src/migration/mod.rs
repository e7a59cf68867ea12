//! Migrations: each resource's table, and the [`Migrator`] that applies them and brings
//! deployed tables to their structs.

mod evolve;

use std::marker::PhantomData;
use std::sync::Arc;

pub use evolve::{Change, ChangeKind, Plan};

use sea_orm::sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, ForeignKey as ForeignKeyStatement, ForeignKeyAction,
    ForeignKeyCreateStatement, Index, IndexCreateStatement, IntoTableRef, Table,
    TableCreateStatement, TableRef,
};
use sea_orm::{
    ConditionalStatement, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Schema, Statement,
};
use sea_orm_migration::{
    MigrationName, MigrationStatus, MigrationTrait, MigratorTraitSelf, SchemaManager,
};

use crate::resource::{Resource, ResourceMeta};

/// A resource's table as the migrations see it, without the resource's type: its field
/// table, and what its sea-orm entity makes of it. Taken once per resource
/// ([`ResourceTable::of`]), so the migrations and the schema's evolution are compiled once
/// for every resource rather than once per resource.
#[derive(Clone, Copy)]
pub(crate) struct ResourceTable {
    pub(crate) meta: &'static ResourceMeta,
    /// The entity's table, as its `Iden` names it.
    table: fn() -> TableRef,
    /// The entity's `CREATE TABLE` on a backend, without foreign keys.
    create: fn(DbBackend) -> TableCreateStatement,
    /// The entity's own indexes (one per indexed column), named as sea-orm names them.
    entity_indexes: fn(DbBackend) -> Vec<IndexCreateStatement>,
    /// The definition of field `i`'s column on a backend.
    column_def: fn(DbBackend, usize) -> ColumnDef,
}

impl ResourceTable {
    /// `R`'s table.
    pub(crate) fn of<R: Resource>() -> Self {
        fn table<R: Resource>() -> TableRef {
            <R::Entity as Default>::default().into_table_ref()
        }
        fn create<R: Resource>(backend: DbBackend) -> TableCreateStatement {
            Schema::new(backend).create_table_from_entity(<R::Entity as Default>::default())
        }
        fn entity_indexes<R: Resource>(backend: DbBackend) -> Vec<IndexCreateStatement> {
            Schema::new(backend).create_index_from_entity(<R::Entity as Default>::default())
        }
        fn column_def<R: Resource>(backend: DbBackend, i: usize) -> ColumnDef {
            Schema::new(backend).get_column_def::<R::Entity>(R::column(i))
        }
        Self {
            meta: R::META,
            table: table::<R>,
            create: create::<R>,
            entity_indexes: entity_indexes::<R>,
            column_def: column_def::<R>,
        }
    }

    /// The column of field `i`, by the name the field table gives it (the entity's too: an
    /// app whose entity names its columns otherwise does not start).
    fn column(&self, i: usize) -> Alias {
        Alias::new(self.meta.fields[i].column)
    }
}

/// The migration of the resource `R`: create its table, with an index on each filter and
/// sort field, a unique index on each unique field (the slug) over its scope, and one on the
/// row scope of the tenancy presets (tenant, owner, soft-delete marker, then the default sort
/// key); or drop it.
///
/// Uniqueness is per scope: on a `multi_tenant` resource a value is unique within its tenant
/// (two organizations may use the same slug, and no 409 tells one what the other holds), and
/// with `soft_delete` only among live rows (a deleted row releases its values). Tables made
/// before that, with a plain `UNIQUE` column, are moved over
/// by a second migration the migrator adds for each such resource.
///
/// The statements come from the sea-orm entity the macro emits, so the table always matches
/// the struct. `up` is idempotent (`IF NOT EXISTS`). The app gathers them into a
/// [`Migrator`] (`up`, `down`, `status`, `fresh`), which records what it applied; an app
/// that keeps its own sea-orm-migration migrator lists `ResourceMigration::<R>::new()`
/// among its migrations instead.
pub struct ResourceMigration<R>(PhantomData<fn() -> R>);

impl<R> ResourceMigration<R> {
    /// The migration of `R`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<R> Default for ResourceMigration<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: Resource> MigrationName for ResourceMigration<R> {
    #[expect(
        clippy::misnamed_getters,
        reason = "the name is the resource's, not a field of this marker"
    )]
    fn name(&self) -> &str {
        R::META.migration
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl<R: Resource> MigrationTrait for ResourceMigration<R> {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        TableMigration(ResourceTable::of::<R>()).up(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        TableMigration(ResourceTable::of::<R>()).down(manager).await
    }
}

/// [`ResourceMigration`] of a [`ResourceTable`]: what the [`Migrator`] holds.
struct TableMigration(ResourceTable);

impl MigrationName for TableMigration {
    #[expect(
        clippy::misnamed_getters,
        reason = "a migration's name is its table's migration, not the resource's name"
    )]
    fn name(&self) -> &str {
        self.0.meta.migration
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for TableMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let t = &self.0;
        no_statement_timeout(manager).await?;
        let backend = manager.get_database_backend();
        let mut create = (t.create)(backend);
        if backend == DbBackend::Sqlite {
            // SQLite adds a foreign key only with its table (the table it references may
            // come later: SQLite looks for it when a row is written). PostgreSQL's are added
            // once every table exists, by the plan.
            for key in foreign_keys(t.meta) {
                create.foreign_key(&mut key.statement(backend, t.meta.table));
            }
        }
        manager
            .create_table(create.if_not_exists().to_owned())
            .await?;
        create_indexes(t, manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // `CASCADE` (PostgreSQL's; SQLite has none and runs migrations with its foreign keys
        // off) drops the foreign keys of other tables that reference this one, not them.
        manager
            .drop_table(
                Table::drop()
                    .table((self.0.table)())
                    .if_exists()
                    .cascade()
                    .to_owned(),
            )
            .await
    }
}

/// A foreign key of a resource's table, one per `#[field(references = ..)]`: the column
/// holds the id of a row of the target's table. Deleting a row still referenced is refused
/// (409) when the reference is required; a nullable one is set to `NULL` instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ForeignKey {
    /// The column that references.
    pub(crate) column: String,
    /// The table it references, and its id column.
    pub(crate) target: String,
    pub(crate) target_column: String,
    /// What deleting a referenced row does: `NO ACTION` (refused at the statement's end: the
    /// code SQLite gives that refusal is the foreign key's, which `RESTRICT`'s is not) or
    /// `SET NULL`, as SQL spells it.
    pub(crate) on_delete: String,
}

impl ForeignKey {
    /// The statement that makes it on `table` (arc names it `fk-{table}-{column}`).
    pub(crate) fn statement(&self, backend: DbBackend, table: &str) -> ForeignKeyCreateStatement {
        let action = if self.on_delete == SET_NULL {
            ForeignKeyAction::SetNull
        } else {
            ForeignKeyAction::NoAction
        };
        ForeignKeyStatement::create()
            .name(foreign_key_name(backend, table, &self.column))
            .from(Alias::new(table), Alias::new(&self.column))
            .to(Alias::new(&self.target), Alias::new(&self.target_column))
            .on_delete(action)
            .to_owned()
    }
}

impl std::fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({}) -> {}({}) on delete {}",
            self.column, self.target, self.target_column, self.on_delete
        )
    }
}

const SET_NULL: &str = "SET NULL";
const NO_ACTION: &str = "NO ACTION";

/// The foreign keys of a resource's table, in field order.
pub(crate) fn foreign_keys(meta: &ResourceMeta) -> Vec<ForeignKey> {
    meta.fields
        .iter()
        .filter_map(|field| {
            let target = (field.references?)();
            Some(ForeignKey {
                column: field.column.to_owned(),
                target: target.table.to_owned(),
                target_column: target.id_field().column.to_owned(),
                on_delete: if field.nullable { SET_NULL } else { NO_ACTION }.to_owned(),
            })
        })
        .collect()
}

/// The name arc gives the foreign key of `column` on `table`.
pub(crate) fn foreign_key_name(backend: DbBackend, table: &str, column: &str) -> String {
    index_name(backend, &format!("fk-{table}-{column}"))
}

/// Lifts the request-sized `statement_timeout` every pooled PostgreSQL connection carries
/// ([`crate::db::STATEMENT_TIMEOUT`]) for the migration's transaction alone: building an index
/// on a large table may take longer than any request should.
async fn no_statement_timeout(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager
            .get_connection()
            .execute_unprepared("SET LOCAL statement_timeout = 0")
            .await?;
    }
    Ok(())
}

/// Every index of `R`'s table (they are all `IF NOT EXISTS`): the entity's, the row scope
/// of the tenancy presets, and the unique ones.
async fn create_indexes(t: &ResourceTable, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    for index in indexes(t, manager.get_database_backend()) {
        manager.create_index(index).await?;
    }
    Ok(())
}

/// The statements that make every index of `R`'s table, `IF NOT EXISTS`: the entity's (one
/// per filter and sort field, `idx-{table}-{column}`), the row scope of the tenancy presets
/// (`idx-{table}-scope`) and the unique ones (`uq-{table}-{field}`). Indexes named so on
/// its table are arc's: [`Migrator::plan`] drops the ones this list no longer holds.
pub(crate) fn indexes(t: &ResourceTable, backend: DbBackend) -> Vec<IndexCreateStatement> {
    let meta = t.meta;
    let mut all: Vec<IndexCreateStatement> = (t.entity_indexes)(backend)
        .into_iter()
        .map(|mut index| {
            let name = index
                .get_index_spec()
                .get_name()
                .map(|name| index_name(backend, name));
            if let Some(name) = name {
                index.name(name);
            }
            index.if_not_exists().to_owned()
        })
        .collect();
    let presets = &meta.presets;
    // The first key of the default sort, so an unsorted list walks the index in order.
    let sort_key = meta
        .default_sort
        .split(',')
        .next()
        .and_then(|key| meta.field(key.trim_start_matches(['-', '+'])))
        .map(|(i, _)| i);
    let scope: Vec<usize> = [presets.tenant, presets.owner, presets.soft_delete, sort_key]
        .into_iter()
        .flatten()
        .collect();
    if presets.tenant.is_some() || presets.owner.is_some() {
        // Every query of a scoped resource filters on the tenant, owner and soft-delete
        // columns (the tenant first, so the index serves an admin's org-wide reads too);
        // counts read the index alone.
        let mut index = Index::create();
        index
            .name(index_name(backend, &format!("idx-{}-scope", meta.table)))
            .table((t.table)())
            .if_not_exists();
        for i in scope {
            index.col(t.column(i));
        }
        all.push(index);
    }
    all.extend(unique_indexes(t, backend));
    all
}

/// Every name arc gives an index on a resource's table, whether `R` declares it now or not: one per
/// column (`idx-{table}-{column}`), the scope's, one per unique field (`uq-{table}-{field}`).
/// [`Migrator::plan`] drops only indexes named so.
pub(crate) fn index_names(meta: &ResourceMeta, backend: DbBackend) -> Vec<String> {
    let table = meta.table;
    let mut names = vec![index_name(backend, &format!("idx-{table}-scope"))];
    for field in meta.fields {
        names.push(index_name(
            backend,
            &format!("idx-{table}-{}", field.column),
        ));
        names.push(index_name(backend, &unique_index_name(table, field.name)));
    }
    names
}

/// `name` as the database keeps it: PostgreSQL cuts identifiers at 63 bytes, so a longer
/// name is shortened to 54 bytes and a hash of the whole (the same name every time, and two
/// long names that share a beginning stay apart).
pub(crate) fn index_name(backend: DbBackend, name: &str) -> String {
    const POSTGRES_MAX: usize = 63;
    if backend != DbBackend::Postgres || name.len() <= POSTGRES_MAX {
        return name.to_owned();
    }
    // FNV-1a: stable across Rust versions, unlike the standard library's hasher.
    let hash = name.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let mut cut = 54;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{hash:08x}", &name[..cut])
}

/// The name of the unique index of `field`.
fn unique_index_name(table: &str, field: &str) -> String {
    format!("uq-{table}-{field}")
}

/// One unique index per unique field: over (tenant, field) on a `multi_tenant` resource,
/// and only over live rows (`deleted_at IS NULL`) with `soft_delete`. It also serves the
/// slug lookup, which filters on the same columns.
fn unique_indexes(t: &ResourceTable, backend: DbBackend) -> Vec<IndexCreateStatement> {
    let meta = t.meta;
    let presets = &meta.presets;
    let mut all = Vec::new();
    for (i, field) in meta.fields.iter().enumerate() {
        if !field.unique {
            continue;
        }
        let mut index = Index::create();
        index
            .name(index_name(
                backend,
                &unique_index_name(meta.table, field.name),
            ))
            .table((t.table)())
            .unique()
            .if_not_exists();
        if let Some(tenant) = presets.tenant {
            index.col(t.column(tenant));
        }
        index.col(t.column(i));
        if let Some(deleted) = presets.soft_delete {
            index.and_where(Expr::col(t.column(deleted)).is_null());
        }
        all.push(index);
    }
    all
}

/// Moves a table made with a plain `UNIQUE` column (unique across every tenant, deleted rows
/// included) to uniqueness per scope: the old constraint goes, the unique indexes over each
/// field's scope come. On PostgreSQL the constraint is dropped by its default name
/// (`{table}_{column}_key`); SQLite cannot drop a column constraint, so the table is rebuilt
/// (created anew, rows copied, renamed, its indexes made again) when it still has one.
/// Registered by [`Migrator::add`] for resources with a unique field; a no-op on tables that
/// [`ResourceMigration`] made.
struct UniqueScopeMigration {
    name: String,
    table: ResourceTable,
}

impl UniqueScopeMigration {
    /// The migration of `table`: `m_arc_unique_per_scope_{table}`.
    fn new(table: ResourceTable) -> Self {
        Self {
            name: format!("m_arc_unique_per_scope_{}", table.meta.table),
            table,
        }
    }
}

impl MigrationName for UniqueScopeMigration {
    fn name(&self) -> &str {
        &self.name
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for UniqueScopeMigration {
    /// In one transaction on every backend (sea-orm-migration uses one on PostgreSQL only):
    /// the SQLite rebuild is several statements, and half of it would lose the table.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        no_statement_timeout(manager).await?;
        let table = self.table.meta.table;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for field in self.table.meta.fields.iter().filter(|f| f.unique) {
                    let name = field.name;
                    db.execute_unprepared(&format!(
                        r#"ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{table}_{name}_key""#
                    ))
                    .await?;
                }
            }
            DbBackend::Sqlite => {
                // The write lock first: a transaction that reads, then writes while another
                // connection (a live instance, its relay) commits in between fails at once
                // with SQLITE_BUSY; one whose first statement writes waits for the lock.
                db.execute_unprepared(&format!(r#"DELETE FROM "{table}" WHERE 0"#))
                    .await?;
                let legacy = db
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Sqlite,
                        "SELECT 1 FROM pragma_index_list(?) WHERE origin = 'u'",
                        [table.into()],
                    ))
                    .await?;
                if legacy.is_some() {
                    rebuild_sqlite_table(&self.table, manager).await?;
                }
            }
            _ => {}
        }
        for index in unique_indexes(&self.table, manager.get_database_backend()) {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The unique indexes stay: ResourceMigration made them too, and its down drops the
        // table with them.
        let _ = manager;
        Ok(())
    }
}

/// SQLite's way to change a table's constraints: a new table from the entity, the rows copied,
/// the old one dropped, the new one renamed, its indexes made.
async fn rebuild_sqlite_table(t: &ResourceTable, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    for sql in evolve::sqlite_rebuild_now(t, db).await? {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// The app's migrations, in mount order, as a sea-orm-migration migrator: applied ones are
/// recorded in `seaql_migrations` (so `sea-orm-cli migrate status` reads the same table).
///
/// Beyond the recorded migrations it keeps each resource's table in step with its struct
/// ([`Migrator::plan`]): a field added to a deployed resource adds its column (nullable, or
/// filled with its `#[field(default)]`), an index that appears or disappears with
/// `query(..)` is created or dropped; a change that could lose data or needs a value for the
/// rows already there (a type change, a column that becomes required) is refused, with the
/// SQL to review and add as a migration of the app's own ([`App::migration`](crate::App::migration)),
/// which runs in the same sequence.
///
/// ```no_run
/// # async fn f(app: arc_runtime::App) -> Result<(), sea_orm::DbErr> {
/// let migrator = app.migrator();
/// print!("{}", migrator.plan(app.db()).await?);
/// migrator.up(app.db(), None).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Migrator {
    migrations: Vec<Arc<dyn MigrationTrait>>,
    /// The resources' tables, whose evolution [`Migrator::plan`] finds.
    tables: Vec<ResourceTable>,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.migrations.iter().map(|m| m.name()).collect();
        f.debug_struct("Migrator")
            .field("migrations", &names)
            .finish()
    }
}

/// A migration the migrator holds, handed to sea-orm-migration (which wants owned boxes).
struct Shared(Arc<dyn MigrationTrait>);

impl MigrationName for Shared {
    fn name(&self) -> &str {
        self.0.name()
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Shared {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.0.up(manager).await?;
        // SQLite's migrations run with its foreign keys off: none may leave a row behind
        // that references nothing (the transaction is rolled back).
        foreign_key_check(manager.get_connection()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        self.0.down(manager).await
    }

    /// One transaction per migration on every backend, unless the migration says otherwise
    /// (sea-orm-migration's default runs SQLite's without one: each statement on any
    /// connection of the pool, and a rebuild half done when one fails).
    fn use_transaction(&self) -> Option<bool> {
        Some(self.0.use_transaction().unwrap_or(true))
    }
}

impl Migrator {
    /// Adds the migrations of `R` (after the ones added before), once: its table, and for a
    /// resource with a unique field the move of older tables to uniqueness per scope.
    pub fn add<R: Resource>(&mut self) {
        self.add_table(ResourceTable::of::<R>());
    }

    /// [`Migrator::add`] of a resource's table.
    fn add_table(&mut self, table: ResourceTable) {
        let meta = table.meta;
        if self
            .tables
            .iter()
            .any(|t| t.meta.migration == meta.migration)
        {
            return;
        }
        self.migrations.push(Arc::new(TableMigration(table)));
        if meta.fields.iter().any(|f| f.unique) {
            self.migrations
                .push(Arc::new(UniqueScopeMigration::new(table)));
        }
        self.tables.push(table);
    }

    /// Adds a migration (after the ones added before), once: a second one of the same name
    /// is left out.
    pub fn add_migration(&mut self, migration: impl MigrationTrait + 'static) {
        if !self.migrations.iter().any(|m| m.name() == migration.name()) {
            self.migrations.push(Arc::new(migration));
        }
    }

    /// Each migration's name and whether it is applied, in order.
    pub async fn status(&self, db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
        let all = MigratorTraitSelf::get_migration_with_status(self, db).await?;
        Ok(all
            .iter()
            .map(|m| (m.name().to_owned(), m.status() == MigrationStatus::Applied))
            .collect())
    }

    /// The names of the migrations not applied yet.
    pub async fn pending(&self, db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
        Ok(self
            .status(db)
            .await?
            .into_iter()
            .filter(|(_, applied)| !applied)
            .map(|(name, _)| name)
            .collect())
    }

    /// What [`Migrator::up`] would do, without doing it: the pending migrations, then what
    /// each existing resource table lacks or holds beyond its struct. (Changes are read from
    /// the tables as they are now: a pending migration of the app's own that makes one of
    /// them is run first by `up`.)
    pub async fn plan(&self, db: &DatabaseConnection) -> Result<Plan, DbErr> {
        let pending = self.pending(db).await?;
        let mut changes = Vec::new();
        for table in &self.tables {
            let migration = table.meta.migration;
            match evolve::changes(table, db).await? {
                Some(found) => changes.extend(found),
                None if pending.iter().any(|p| p == migration) => {}
                None => {
                    return Err(DbErr::Migration(format!(
                        "the table of {} is missing while its migration is recorded as applied; roll it \
                         back (`migrate down`) or run `migrate fresh`",
                        migration
                    )));
                }
            }
        }
        Ok(Plan { pending, changes })
    }

    /// Applies the pending migrations (`steps` of them, or all). With all of them, it then
    /// brings each table to its struct ([`Migrator::plan`]): nothing of that is done when
    /// any change is refused, and the error lists them with their SQL.
    pub async fn up(&self, db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
        on_schema_connection(db, async |db| {
            MigratorTraitSelf::up(self, db, steps).await?;
            if steps.is_some() {
                return Ok(());
            }
            let plan = self.plan(db).await?;
            let refused: Vec<String> = plan.refused().map(ToString::to_string).collect();
            if !refused.is_empty() {
                return Err(DbErr::Migration(format!(
                    "the schema cannot follow the resources by itself; none of its changes was \
                     made (pending migrations before them were applied):\n{}",
                    refused.concat()
                )));
            }
            evolve::apply(db, &plan.changes).await
        })
        .await
    }

    /// Rolls back the last `steps` applied migrations (or all of them): their tables are
    /// dropped, with their rows.
    pub async fn down(&self, db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
        on_schema_connection(db, async |db| {
            MigratorTraitSelf::down(self, db, steps).await
        })
        .await
    }

    /// Drops the app's tables (whatever the records say), forgets them, and applies every
    /// migration again. Other tables of the database are left alone (sea-orm's own `fresh`
    /// drops every table).
    pub async fn fresh(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use sea_orm_migration::seaql_migrations;
        on_schema_connection(db, async |db| {
            let manager = SchemaManager::new(db);
            let migrations = MigratorTraitSelf::migrations(self);
            for migration in migrations.iter().rev() {
                migration.down(&manager).await?;
            }
            MigratorTraitSelf::install(self, db).await?;
            let names: Vec<String> = migrations.iter().map(|m| m.name().to_owned()).collect();
            seaql_migrations::Entity::delete_many()
                .filter(seaql_migrations::Column::Version.is_in(names))
                .exec(db)
                .await?;
            Ok(())
        })
        .await?;
        self.up(db, None).await
    }
}

/// Runs `work` on the connection schema changes are made on: `db` itself, but on SQLite one
/// with foreign keys off, as SQLite asks (a rebuilt table is dropped, and with foreign keys on
/// that drop deletes its rows first: references to them would be set to NULL, or refuse).
/// Each migration, and each table's evolution, then runs [`foreign_key_check`] before it
/// commits. A pool of one connection (`:memory:`) has it switched off and on again; another
/// pool gets a connection of its own.
async fn on_schema_connection<T>(
    db: &DatabaseConnection,
    work: impl AsyncFnOnce(&DatabaseConnection) -> Result<T, DbErr>,
) -> Result<T, DbErr> {
    let sea_orm::DatabaseConnectionType::SqlxSqlitePoolConnection(_) = &db.inner else {
        return work(db).await;
    };
    let pool = db.get_sqlite_connection_pool();
    if pool.options().get_max_connections() <= 1 {
        // Switched on again however `work` ends: done, failed, or dropped unfinished (then
        // by a task, once the connection is free), the switch itself included.
        let mut on = ForeignKeysOn(Some(db.clone()));
        db.execute_unprepared("PRAGMA foreign_keys = OFF").await?;
        let done = work(db).await;
        let restored = on.now().await;
        return match (done, restored) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(e),
            (Ok(done), Ok(())) => Ok(done),
        };
    }
    let options = (*pool.connect_options()).clone().foreign_keys(false);
    let one = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(crate::db::ACQUIRE_TIMEOUT)
        .connect_lazy_with(options);
    let schema_db = sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(one.clone());
    let done = work(&schema_db).await;
    one.close().await;
    done
}

/// Switches SQLite's foreign keys on again on the one connection of a pool: [`Self::now`],
/// or, when dropped before it (the migration's future dropped unfinished), in a task.
struct ForeignKeysOn(Option<DatabaseConnection>);

impl ForeignKeysOn {
    const SQL: &'static str = "PRAGMA foreign_keys = ON";

    async fn now(&mut self) -> Result<(), DbErr> {
        match self.0.take() {
            Some(db) => db.execute_unprepared(Self::SQL).await.map(drop),
            None => Ok(()),
        }
    }
}

impl Drop for ForeignKeysOn {
    fn drop(&mut self) {
        let Some(db) = self.0.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = db.execute_unprepared(ForeignKeysOn::SQL).await {
                    tracing::error!(error = %e, "SQLite's foreign keys could not be switched on again");
                }
            });
        }
    }
}

/// On SQLite, fails when a row references a row that does not exist (`PRAGMA
/// foreign_key_check`), naming the first few; run inside a migration's transaction, whose
/// foreign keys are off (see [`on_schema_connection`]). Nothing on other backends, whose
/// foreign keys are never off.
pub(crate) async fn foreign_key_check(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA foreign_key_check",
        ))
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut found = Vec::new();
    for row in rows.iter().take(5) {
        let table: String = row.try_get("", "table")?;
        let rowid: Option<i64> = row.try_get("", "rowid")?;
        let parent: String = row.try_get("", "parent")?;
        let rowid = rowid.map_or_else(String::new, |id| format!(" (rowid {id})"));
        found.push(format!(
            "a row of {table}{rowid} references a missing row of {parent}"
        ));
    }
    Err(DbErr::Migration(format!(
        "the change would leave {} row(s) referencing rows that do not exist, so none of it \
         was made: {}",
        rows.len(),
        found.join("; ")
    )))
}

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTraitSelf for Migrator {
    fn migrations(&self) -> Vec<Box<dyn MigrationTrait>> {
        self.migrations
            .iter()
            .map(|m| Box::new(Shared(Arc::clone(m))) as Box<dyn MigrationTrait>)
            .collect()
    }
}
