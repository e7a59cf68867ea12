//! A test resource whose permissions use every kind of rule, with an app that authenticates
//! HS256 tokens, and a helper to mint them.

use arc_runtime::config::{JwtAuthenticator, JwtKeys};
use arc_runtime::prelude::*;

/// The secret test tokens are signed with.
pub const SECRET: &[u8] = b"notes test secret, at least 32 bytes";

/// A note owned by the user in `owner_id`.
#[resource(
    presets(soft_delete, bulk),
    query(filter = [title, owner_id, score], sort = [title, score], search = [title])
)]
#[permissions(
    list = any(owner("owner_id"), roles("admin")),
    get = any(owner("owner_id"), roles("admin")),
    create = roles("writer", "admin"),
    update = any(all(roles("writer"), owner("owner_id")), roles("admin")),
    delete = roles("admin"),
    deleted = all(org_member, org_roles("auditor")),
    restore = when(crate::notes::may_restore),
    bulk = roles("admin"),
)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    #[field(min_len = 1)]
    pub title: String,
    pub owner_id: String,
    /// Only admins see it, or can select, filter or sort by it.
    #[field(visible_to("admin"))]
    pub score: Option<i64>,
    /// Only admins may set it; anyone else's write is a 403.
    #[field(default, writable_by("admin"))]
    pub pinned: bool,
    /// Masked for interns.
    #[field(redact_for("intern"))]
    pub contact: Option<String>,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who may restore deleted notes: one named user, to exercise `when(..)`.
pub fn may_restore(caller: &AuthContext) -> bool {
    caller.user_id.as_deref() == Some("restorer")
}

/// An app serving notes, authenticating HS256 bearer tokens signed with [`SECRET`].
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<Note>().auth(auth())
}

/// Authentication of HS256 bearer tokens signed with [`SECRET`] (what [`bearer`] mints),
/// for the test apps that take them.
pub fn auth() -> Auth {
    let keys = JwtKeys::hs256(SECRET).expect("a 32-byte secret");
    Auth::new().with(JwtAuthenticator::new(keys))
}

/// `Bearer <token>` for `user` with platform `roles`, active `org` and `org_roles` there.
pub fn bearer(user: &str, roles: &[&str], org: Option<&str>, org_roles: &[&str]) -> String {
    bearer_in(user, roles, org, org_roles, &[])
}

/// Like [`bearer`], also a member of `other_orgs`.
pub fn bearer_in(
    user: &str,
    roles: &[&str],
    org: Option<&str>,
    org_roles: &[&str],
    other_orgs: &[&str],
) -> String {
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 600;
    let claims = serde_json::json!({
        "sub": user, "roles": roles, "org_id": org, "org_roles": org_roles,
        "orgs": org.into_iter().chain(other_orgs.iter().copied()).collect::<Vec<_>>(), "exp": exp,
    });
    sign(&claims)
}

/// `Bearer <token>` carrying `claims` as they are, signed with [`SECRET`].
pub fn sign(claims: &serde_json::Value) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(SECRET).expect("secret");
    let token =
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), claims, &key).expect("token");
    format!("Bearer {token}")
}
