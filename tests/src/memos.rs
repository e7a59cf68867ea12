//! A cached test resource whose answers depend on everything a cache key must hold: the
//! organization (`multi_tenant`), the owner (`owned_by_user`; admins and auditors see every
//! row), a field only admins see and one masked for interns. Tokens are the notes' ([`crate::notes::bearer`]).

use arc_runtime::config::Cache;
use arc_runtime::prelude::*;

/// A memo of one user, in one organization.
#[resource(
    presets(
        soft_delete,
        slug_lookup,
        multi_tenant(field = "org_id"),
        owned_by_user(field = "owner_id", bypass("admin", "auditor"))
    ),
    cache(stale = "1s", expire = "1m", tags = ["memo-board"]),
    query(filter = [title, priority, secret], sort = [title, priority, created_at], search = [title])
)]
#[permissions(
    list = org_member,
    get = org_member,
    create = org_member,
    update = org_member,
    delete = org_member,
    deleted = org_member,
    restore = org_member,
)]
pub struct Memo {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    #[field(system)]
    pub owner_id: String,
    #[field(min_len = 1, max_len = 100)]
    pub title: String,
    pub slug: Option<String>,
    #[field(default)]
    pub priority: i64,
    /// Only admins see it, or filter by it.
    #[field(visible_to("admin"))]
    pub secret: Option<String>,
    /// Masked for interns.
    #[field(redact_for("intern"))]
    pub contact: Option<String>,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An app serving memos, with the query cache in `cache` (`None`: the default, in memory).
pub fn app_with(db: arc_runtime::sea_orm::DatabaseConnection, cache: Option<Cache>) -> App {
    let app = App::new(db).resource::<Memo>().auth(crate::notes::auth());
    match cache {
        Some(cache) => app.cache(cache),
        None => app,
    }
}

/// An app serving memos, with the default query cache.
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    app_with(db, None)
}

/// The same app with no cache: what every answer must equal.
pub fn uncached(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    app(db).without_cache()
}

/// Whether bulletins are open to every member of their organization: an app-wide switch that
/// a `when(..)` rule reads, outside anything a request carries.
pub static BOARD_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// The `when(..)` of bulletins' reads.
pub fn board_open(_: &AuthContext) -> bool {
    BOARD_OPEN.load(std::sync::atomic::Ordering::SeqCst)
}

/// A cached resource whose read rule calls the app's code: every member sees every bulletin
/// of their organization while the board is open ([`BOARD_OPEN`]), only their own otherwise.
/// The same caller asking the same thing can be owed two answers.
#[resource(
    presets(multi_tenant(field = "org_id")),
    cache(stale = "1h", expire = "1h")
)]
#[permissions(
    list = any(when(crate::memos::board_open), owner("owner_id")),
    get = any(when(crate::memos::board_open), owner("owner_id")),
    create = org_member,
)]
pub struct Bulletin {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    pub owner_id: String,
    #[field(min_len = 1, max_len = 100)]
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An app serving bulletins, with the default query cache.
pub fn bulletins(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db)
        .resource::<Bulletin>()
        .auth(crate::notes::auth())
}
