//! The migration stub of every resource: create its table, with an index on each filter and
//! sort field, a unique index on unique fields (the slug), and one on the row scope of the
//! tenancy presets (tenant, owner, soft-delete marker, then the default sort key); or drop it.
//!
//! The statements come from the sea-orm entity the macro emits, so the table always matches
//! the struct. `up` is idempotent (`IF NOT EXISTS`), so it can run at every start.

use std::marker::PhantomData;

use sea_orm::sea_query::{Index, Table};
use sea_orm::{DbErr, Schema};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};

use crate::resource::Resource;

/// The migration that creates (and drops) the table of `R`.
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
        let schema = Schema::new(manager.get_database_backend());
        let entity = <R::Entity as Default>::default();
        manager
            .create_table(
                schema
                    .create_table_from_entity(entity)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        for mut index in schema.create_index_from_entity(entity) {
            manager
                .create_index(index.if_not_exists().to_owned())
                .await?;
        }
        let presets = &R::META.presets;
        // The first key of the default sort, so an unsorted list walks the index in order.
        let sort_key = R::META
            .default_sort
            .split(',')
            .next()
            .and_then(|key| R::META.field(key.trim_start_matches(['-', '+'])))
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
                .name(format!("idx-{}-scope", R::META.table))
                .table(entity)
                .if_not_exists();
            for i in scope {
                index.col(R::column(i));
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let entity = <R::Entity as Default>::default();
        manager
            .drop_table(Table::drop().table(entity).if_exists().to_owned())
            .await
    }
}

/// Runs the `up` of each migration on `db`, in order.
pub async fn run_up(
    db: &sea_orm::DatabaseConnection,
    migrations: &[Box<dyn MigrationTrait>],
) -> Result<(), DbErr> {
    let manager = SchemaManager::new(db);
    for migration in migrations {
        tracing::debug!(migration = migration.name(), "migration up");
        migration.up(&manager).await?;
    }
    Ok(())
}

/// Runs the `down` of each migration on `db`, last first.
pub async fn run_down(
    db: &sea_orm::DatabaseConnection,
    migrations: &[Box<dyn MigrationTrait>],
) -> Result<(), DbErr> {
    let manager = SchemaManager::new(db);
    for migration in migrations.iter().rev() {
        tracing::debug!(migration = migration.name(), "migration down");
        migration.down(&manager).await?;
    }
    Ok(())
}
