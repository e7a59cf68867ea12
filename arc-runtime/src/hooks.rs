//! Hooks: resource code that runs inside a write's transaction, before the row is saved.
//!
//! The macro implements [`Hooks`] with its no-op defaults unless the resource says
//! `#[resource(hooks)]`, in which case the user writes the `impl` and overrides what they
//! need. Dispatch is static: a resource without hooks pays nothing.

use std::future::Future;

use sea_orm::DatabaseTransaction;

use crate::error::ArcError;
use crate::resource::Resource;

/// What a hook can see of the write it runs in.
pub struct WriteContext<'a> {
    /// The write's transaction: queries here commit or roll back with the write.
    pub txn: &'a DatabaseTransaction,
    /// Who is writing.
    pub caller: &'a crate::auth::AuthContext,
}

/// Code run around a resource's writes. Every method defaults to doing nothing.
///
/// ```ignore
/// impl Hooks for Order {
///     async fn before_create(ctx: &WriteContext<'_>, row: &mut order_entity::ActiveModel)
///         -> Result<(), ArcError> { /* compute the total */ Ok(()) }
/// }
/// ```
pub trait Hooks: Resource {
    /// Before an insert: may change the row or reject the write with a contract error.
    fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut Self::ActiveModel,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, row);
        async { Ok(()) }
    }

    /// Before an update of `current`: may change the pending row or reject the write.
    fn before_update(
        ctx: &WriteContext<'_>,
        current: &Self::Model,
        row: &mut Self::ActiveModel,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, current, row);
        async { Ok(()) }
    }

    /// Before a delete (soft or hard) of `current`: may reject it.
    fn before_delete(
        ctx: &WriteContext<'_>,
        current: &Self::Model,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, current);
        async { Ok(()) }
    }
}
