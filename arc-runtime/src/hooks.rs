//! Resource code the routes run: [`Hooks`] around the writes (inside their transaction,
//! seeing a [`WriteContext`]) and before the reads (narrowing their rows, seeing a
//! [`ReadContext`]), and the [`Actions`] a resource declares.

use std::future::Future;
use std::pin::Pin;

use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{Condition, DatabaseConnection, DatabaseTransaction};

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
    after: &'a crate::db::AfterCommit,
    memberships: Option<&'a crate::auth::Memberships>,
    roles: &'a crate::auth::RoleHierarchy,
    #[cfg(any(feature = "webhooks", feature = "jobs"))]
    state: &'a crate::app::ArcState,
}

impl<'a> WriteContext<'a> {
    pub(crate) fn new(
        state: &'a crate::app::ArcState,
        txn: &'a crate::db::Txn,
        caller: &'a crate::auth::AuthContext,
    ) -> Self {
        WriteContext {
            txn,
            caller,
            events: state.events().map(|e| &**e),
            after: txn.after_commit(),
            memberships: state.memberships(),
            roles: state.roles(),
            #[cfg(any(feature = "webhooks", feature = "jobs"))]
            state,
        }
    }

    /// The app the write runs in.
    #[cfg(feature = "webhooks")]
    pub(crate) fn state(&self) -> &'a crate::app::ArcState {
        self.state
    }

    /// The app's jobs. Enqueue once the write has committed, so a job never sees a write
    /// that rolled back (nor runs before its rows are there):
    ///
    /// ```no_run
    /// # use arc_runtime::WriteContext;
    /// # use arc_runtime::jobs::{BoxError, Job, JobContext};
    /// # #[derive(serde::Serialize, serde::Deserialize)] struct SendReceipt { order: String }
    /// # impl Job for SendReceipt {
    /// #     const NAME: &'static str = "send_receipt";
    /// #     async fn run(self, _ctx: JobContext) -> Result<(), BoxError> { Ok(()) }
    /// # }
    /// # fn hook(ctx: &WriteContext<'_>) {
    /// let jobs = ctx.jobs();
    /// ctx.after_commit(async move {
    ///     if let Err(e) = jobs.enqueue(SendReceipt { order: "42".into() }).await {
    ///         tracing::error!(error = %e, "the receipt was not enqueued");
    ///     }
    /// });
    /// # }
    /// ```
    #[cfg(feature = "jobs")]
    pub fn jobs(&self) -> crate::jobs::JobClient {
        self.state.jobs()
    }

    /// The roles each role includes, as the app declared them.
    pub(crate) fn roles(&self) -> &'a crate::auth::RoleHierarchy {
        self.roles
    }

    /// Where the app's memberships come from, when from a store (the organization
    /// routes tell its cache of their changes).
    pub(crate) fn memberships(&self) -> Option<&'a crate::auth::Memberships> {
        self.memberships
    }

    /// Runs `work` once the write has committed, and never if it does not: for what must
    /// not happen before the rows are there for everyone (telling a cache its entries are
    /// old: done before the commit, a read in between would store the old rows again).
    /// The answer waits for it, so keep it short; it cannot fail the write any more.
    pub fn after_commit(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.after.push(Box::pin(work));
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

/// What a read hook can see of the read it narrows.
#[non_exhaustive]
pub struct ReadContext<'a> {
    /// The database, for the hook's own questions (a membership table, say).
    pub db: &'a DatabaseConnection,
    /// Who is reading.
    pub caller: &'a crate::auth::AuthContext,
}

/// The rows a read may find, as a read hook narrows them: every condition added must hold
/// (in SQL, with the permission rule's, the tenant's and the query's filters), so a hook
/// narrows a read and never widens it.
///
/// ```
/// # use arc_runtime::RowFilter;
/// # use arc_runtime::sea_orm::sea_query::{Expr, ExprTrait};
/// # fn f(rows: &mut RowFilter) {
/// rows.and(Expr::col("status").eq("published"));
/// # }
/// ```
#[derive(Debug)]
pub struct RowFilter(Condition);

impl Default for RowFilter {
    fn default() -> Self {
        RowFilter(Condition::all())
    }
}

impl RowFilter {
    /// Keeps only the rows `condition` holds for: a sea-query expression or condition on the
    /// resource's columns (`product_entity::Column::Status.eq("active")`).
    pub fn and(&mut self, condition: impl IntoCondition) -> &mut Self {
        self.0 = std::mem::replace(&mut self.0, Condition::all()).add(condition);
        self
    }

    /// Keeps no row: a list is empty, a read of one row a 404.
    pub fn none(&mut self) -> &mut Self {
        self.and(Expr::val(1).eq(0))
    }

    /// `rows` narrowed by the conditions added.
    pub(crate) fn narrow(self, rows: Condition) -> Condition {
        Condition::all().add(rows).add(self.0)
    }
}

/// A read hook of a resource, taken from its [`Hooks`] where the field table is built.
pub(crate) type ReadHook =
    for<'a> fn(
        &'a ReadContext<'a>,
        &'a mut RowFilter,
    ) -> Pin<Box<dyn Future<Output = Result<(), ArcError>> + Send + 'a>>;

/// A resource's read hooks, in its field table (`None` there without
/// `#[resource(read_hooks)]`).
#[derive(Clone, Copy)]
pub struct ReadHookFns {
    pub(crate) list: ReadHook,
    pub(crate) get: ReadHook,
}

impl std::fmt::Debug for ReadHookFns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReadHookFns")
    }
}

impl ReadHookFns {
    /// The read hooks of `R`, when it declares them.
    pub const fn of<R: ReadHooks>() -> Option<Self> {
        if R::DECLARED {
            Some(ReadHookFns {
                list: before_list::<R>,
                get: before_get::<R>,
            })
        } else {
            None
        }
    }
}

fn before_list<'a, R: ReadHooks>(
    ctx: &'a ReadContext<'a>,
    rows: &'a mut RowFilter,
) -> Pin<Box<dyn Future<Output = Result<(), ArcError>> + Send + 'a>> {
    Box::pin(R::before_list(ctx, rows))
}

fn before_get<'a, R: ReadHooks>(
    ctx: &'a ReadContext<'a>,
    rows: &'a mut RowFilter,
) -> Pin<Box<dyn Future<Output = Result<(), ArcError>> + Send + 'a>> {
    Box::pin(R::before_get(ctx, rows))
}

/// Code run around a resource's writes, inside the write's transaction. Every method defaults
/// to doing nothing. Before hooks may change the row or reject the write with a contract
/// error; after hooks see the result and may still reject (the write is rolled back).
/// [`ReadHooks`] narrow its reads.
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

/// Code run before a resource's reads, narrowing the rows they may find in SQL: for
/// resources whose readers are decided by data (a membership table, a share list) rather
/// than by the caller's token alone. Both methods default to narrowing nothing.
///
/// The macro implements `ReadHooks` with its defaults unless the resource says
/// `#[resource(read_hooks)]`, in which case you write the `impl` (leaving it out, or writing
/// it without the attribute, does not compile). A resource without them pays nothing, and
/// its cached reads keep the cache's fast path; with them, every read runs the hook.
///
/// The rows a hook leaves out are missing everywhere a caller could learn of them: lists
/// and their counts, reads of one row, writes of one row (a 404, as for a row that never
/// existed), bulk writes, and the rows another resource embeds (`?populate`) or names in a
/// reference (a 400, as for a missing row). Event streams and the audit trail, which cannot
/// run a hook per row, show none of the resource's rows. One thing a hook cannot hide: a
/// `unique` field is unique over the rows of its scope (the tenant, live rows), hidden ones
/// included, so a 409 `DUPLICATE_KEY` says that some row holds the value; leave such fields
/// out of resources whose readers a hook decides, or make them unique per reader yourself.
///
/// ```
/// use arc_runtime::prelude::*;
/// use arc_runtime::sea_orm::ColumnTrait;
///
/// #[resource(read_hooks)]
/// #[permissions(default = authenticated)]
/// pub struct Project {
///     #[field(id)] pub id: Uuid,
///     pub team: String,
/// }
///
/// impl ReadHooks for Project {
///     async fn before_list(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
///         // The caller's teams, asked of a table of the app's own (`ctx.db`).
///         let teams: Vec<String> = vec!["red".into()];
///         rows.and(project_entity::Column::Team.is_in(teams));
///         Ok(())
///     }
///
///     async fn before_get(ctx: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
///         Self::before_list(ctx, rows).await
///     }
/// }
/// # fn main() {}
/// ```
pub trait ReadHooks: Resource {
    /// Whether the resource has read hooks of its own: `false` in the macro's implementation,
    /// `true` in yours.
    const DECLARED: bool = true;

    /// Before a list (`GET /products`, `/deleted`, the tree, a node's children and the node
    /// they are asked of): may
    /// narrow the rows it finds ([`RowFilter::and`], run in SQL with the permission rule's,
    /// the tenant's and the query's filters, so counts and pages agree) or refuse
    /// (`ArcError::forbidden`: the document lists a 403 on every route of a resource with
    /// read hooks). It may ask the database (`ctx.db`).
    ///
    /// On a cached resource its answer is part of the cache key (the SQL it adds), so a
    /// filter computed from other tables (ids of the caller's projects, say) keys the answer
    /// by what it found; a filter that reads other tables inside its SQL (a subquery) is
    /// not invalidated by their writes: declare their tag in `cache(tags = [..])`.
    fn before_list(
        ctx: &ReadContext<'_>,
        rows: &mut RowFilter,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, rows);
        async { Ok(()) }
    }

    /// Before a read of one row (by id, by slug, and the row another resource embeds with `?populate` or a write names in a reference): may
    /// narrow the rows it may find, as [`ReadHooks::before_list`]. A row it leaves out is a 404,
    /// the same answer as for a row that never existed (an id as an embed, a 400 as a
    /// reference).
    fn before_get(
        ctx: &ReadContext<'_>,
        rows: &mut RowFilter,
    ) -> impl Future<Output = Result<(), ArcError>> + Send {
        let _ = (ctx, rows);
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
