//! Resource code run inside a write's transaction: [`Hooks`] around the writes, the
//! [`Actions`] a resource declares, and the [`WriteContext`] both see.

use std::future::Future;

use sea_orm::DatabaseTransaction;

use crate::error::ArcError;
use crate::resource::Resource;

/// What a hook can see of the write it runs in.
#[non_exhaustive]
pub struct WriteContext<'a> {
    /// The write's transaction: queries here commit or roll back with the write.
    pub txn: &'a DatabaseTransaction,
    /// Who is writing.
    pub caller: &'a crate::auth::AuthContext,
    events: Option<&'a crate::events::EventsRuntime>,
}

impl<'a> WriteContext<'a> {
    pub(crate) fn new(
        state: &'a crate::app::ArcState,
        txn: &'a DatabaseTransaction,
        caller: &'a crate::auth::AuthContext,
    ) -> Self {
        WriteContext {
            txn,
            caller,
            events: state.events().map(|e| &**e),
        }
    }

    /// Publishes the app's own event `event` with the write: into the outbox in its
    /// transaction, so it is delivered if and only if the write commits, on behalf of the
    /// caller. It must be declared ([`Events::define`](crate::config::Events::define)) and
    /// match its schema; otherwise the write fails (a 500: the app's bug, logged).
    ///
    /// ```no_run
    /// # use arc_runtime::{DomainEvent, WriteContext};
    /// # #[derive(serde::Serialize, schemars::JsonSchema)] struct Shipped { order: String }
    /// # impl DomainEvent for Shipped { const NAME: &'static str = "order.shipped"; }
    /// # async fn after(ctx: &WriteContext<'_>, id: String) -> Result<(), arc_runtime::ArcError> {
    /// ctx.publish(&Shipped { order: id }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish<E: crate::events::DomainEvent>(
        &self,
        event: &E,
    ) -> Result<(), crate::events::PublishError> {
        crate::events::publish(self.events, self.txn, Some(self.caller), event).await
    }
}

/// Code run around a resource's writes, inside the write's transaction. Every method defaults
/// to doing nothing. Before hooks may change the row or reject the write with a contract
/// error; after hooks see the result and may still reject (the write is rolled back).
///
/// The macro implements `Hooks` with its no-op defaults unless the resource says
/// `#[resource(hooks)]`, in which case you write the `impl` and override what you need.
/// Dispatch is static: a resource without hooks pays nothing.
///
/// ```
/// use arc_runtime::prelude::*;
/// use arc_runtime::sea_orm::ActiveValue;
///
/// #[resource(hooks)]
/// #[permissions(default = authenticated)]
/// pub struct Order {
///     #[field(id)] pub id: Uuid,
///     #[field(range(min = 1, max = 100))] pub quantity: i32,
///     #[field(system)] pub total: i64,
/// }
///
/// impl Hooks for Order {
///     /// The total is the server's: 250 a piece.
///     async fn before_create(
///         _ctx: &WriteContext<'_>,
///         row: &mut order_entity::ActiveModel,
///     ) -> Result<(), ArcError> {
///         if let ActiveValue::Set(quantity) = row.quantity {
///             row.total = ActiveValue::Set(i64::from(quantity) * 250);
///         }
///         Ok(())
///     }
/// }
/// # fn main() {}
/// ```
pub trait Hooks: Resource {
    /// Whether the resource has hooks of its own. The macro's no-op implementation (a
    /// resource without `#[resource(hooks)]`) says `false`, which lets a bulk update or
    /// delete run as one statement; an `impl` of yours keeps `true`, so every row a bulk
    /// write touches goes through your hooks, in the bulk write's transaction.
    const DECLARED: bool = true;

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

    /// After an insert, before the commit: sees the stored row; an error rolls the write back.
    fn after_create(
        ctx: &WriteContext<'_>,
        created: &Self::Model,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, created);
        async { Ok(()) }
    }

    /// After an update (or restore), before the commit: sees the row before and after; an
    /// error rolls the write back.
    fn after_update(
        ctx: &WriteContext<'_>,
        before: &Self::Model,
        after: &Self::Model,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, before, after);
        async { Ok(()) }
    }

    /// After a delete, before the commit: sees the deleted row; an error rolls it back.
    fn after_delete(
        ctx: &WriteContext<'_>,
        deleted: &Self::Model,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, deleted);
        async { Ok(()) }
    }
}

/// The body of `POST /things/{id}/action`: one of a resource's actions, by name
/// (`{"action": "cancel", "reason": ".."}`). `#[resource(actions(..))]` writes the type, an
/// enum with one variant per action (`OrderAction::Cancel { reason }`), decoded by serde and
/// described by schemars: the route decodes and the document describes the same type.
pub trait ActionBody: serde::de::DeserializeOwned + schemars::JsonSchema + Send + 'static {
    /// Every action's name, in the order `actions(..)` declares them.
    const NAMES: &'static [&'static str];
}

/// The actions of a resource that declares none: no value, no route.
#[derive(Debug, Clone, Copy)]
pub enum NoActions {}

impl ActionBody for NoActions {
    const NAMES: &'static [&'static str] = &[];
}

impl<'de> serde::Deserialize<'de> for NoActions {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("this resource has no actions"))
    }
}

impl schemars::JsonSchema for NoActions {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NoActions".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::from(false)
    }
}

/// What a resource's actions do: `#[resource(actions(cancel(reason: String)))]` declares
/// them (each with its own rule in `#[permissions]`, and `POST /orders/{id}/action`), and
/// this impl carries them out.
///
/// [`act`](Actions::act) runs in the write's transaction, on the row the caller named, found
/// within what the action's rule lets them touch (tenant, owner, row filters) and locked. It
/// changes `row`, or refuses with a contract error; the write then goes on as an update does:
/// `updated_at`, the `before_update` hook, the declared states' transitions, the update,
/// `after_update`, events and the audit trail. The route answers the row after it.
///
/// ```
/// use arc_runtime::prelude::*;
/// use arc_runtime::sea_orm::ActiveValue;
///
/// #[resource(actions(close(reason: String)))]
/// #[permissions(default = authenticated, close = roles("admin"))]
/// pub struct Ticket {
///     #[field(id)] pub id: Uuid,
///     pub open: bool,
///     pub note: Option<String>,
/// }
///
/// impl Actions for Ticket {
///     type Action = TicketAction;
///
///     async fn act(
///         _ctx: &WriteContext<'_>,
///         _current: &ticket_entity::Model,
///         action: TicketAction,
///         row: &mut ticket_entity::ActiveModel,
///     ) -> Result<(), ArcError> {
///         match action {
///             TicketAction::Close { reason } => {
///                 row.open = ActiveValue::Set(false);
///                 row.note = ActiveValue::Set(Some(reason));
///             }
///         }
///         Ok(())
///     }
/// }
/// # fn main() {}
/// ```
pub trait Actions: Hooks {
    /// The body of the action route: the enum `#[resource(actions(..))]` writes
    /// (`TicketAction`), or [`NoActions`] (the macro's impl for a resource without actions).
    type Action: ActionBody;

    /// Carries out `action` on `current`, changing `row` (or refusing with a contract error).
    fn act(
        ctx: &WriteContext<'_>,
        current: &Self::Model,
        action: Self::Action,
        row: &mut Self::ActiveModel,
    ) -> impl Future<Output = Result<(), ArcError>> + Send;
}
