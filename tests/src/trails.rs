//! Audit trails for the tests of what happens when the trail fails.

use arc_runtime::AuditEntry;
use arc_runtime::config::{AuditPage, AuditQuery, AuditStore, BoxFuture, StoreError};
use arc_runtime::sea_orm::DatabaseTransaction;

/// A trail whose keeper is down: it takes entries in a write's transaction, then fails to
/// keep them, and cannot be read.
pub struct Down;

impl AuditStore for Down {
    fn write<'a>(
        &'a self,
        _: &'a DatabaseTransaction,
        _: &'a [AuditEntry],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }

    fn committed(&self, _: Vec<AuditEntry>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async { Err(StoreError::new("the trail's keeper is down")) })
    }

    fn query<'a>(&'a self, _: &'a AuditQuery) -> BoxFuture<'a, Result<AuditPage, StoreError>> {
        Box::pin(async { Err(StoreError::new("the trail's keeper is down")) })
    }
}
