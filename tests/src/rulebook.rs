//! Resources whose rules come from `#[permissions(preset = ..)]` and from named rules of the
//! app's (`rule(path)`), as an app writes them. Tokens are the notes' ([`crate::notes::bearer`]).

use arc_runtime::Rule;
use arc_runtime::prelude::*;
use arc_runtime::sea_orm::ActiveValue;

/// Editors, or the row's author: a rule several resources share.
pub const EDITOR_OR_AUTHOR: Rule = Rule::Any(&[Rule::Roles(&["editor"]), Rule::Owner("author_id")]);

/// Signed in and a member of an organization: a named rule over the caller alone.
pub const MEMBERS: Rule = Rule::All(&[Rule::Authenticated, Rule::OrgMember]);

/// Anyone reads; editors write; only admins delete (a listed operation beats the preset).
#[resource(presets(soft_delete, bulk), query(filter = [title]))]
#[permissions(preset = public_read("editor", "admin"), delete = roles("admin"))]
pub struct Article {
    #[field(id)]
    pub id: Uuid,
    #[field(min_len = 1, max_len = 100)]
    pub title: String,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Each signed-in caller keeps their own diary entries; admins and support reach all. The
/// owner field is the server's: a hook stamps it.
#[resource(hooks, presets(soft_delete, bulk), query(filter = [title], sort = [title]))]
#[permissions(preset = owner_with_admin_bypass("user_id", bypass("admin", "support")))]
pub struct Diary {
    #[field(id)]
    pub id: Uuid,
    #[field(min_len = 1, max_len = 100)]
    pub title: String,
    #[field(system)]
    pub user_id: String,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Hooks for Diary {
    async fn before_create(
        ctx: &WriteContext<'_>,
        row: &mut diary_entity::ActiveModel,
    ) -> Result<(), ArcError> {
        row.user_id = ActiveValue::Set(ctx.caller.user_id.clone().unwrap_or_default());
        Ok(())
    }
}

/// Rows a job computes: signed-in callers read them, nobody writes through the API.
#[resource(query(filter = [name]))]
#[permissions(preset = read_only)]
pub struct Rate {
    #[field(id)]
    pub id: Uuid,
    pub name: String,
}

/// Everything needs `ops` (or `admin`).
#[resource]
#[permissions(preset = admin_only("ops", "admin"))]
pub struct Switch {
    #[field(id)]
    pub id: Uuid,
    pub name: String,
}

/// The app's named rules: members list, editors or the author update, the preset's
/// `default` (admins) covers the rest.
#[resource(query(filter = [author_id]))]
#[permissions(
    list = rule(MEMBERS),
    get = rule(crate::rulebook::MEMBERS),
    create = authenticated,
    update = rule(EDITOR_OR_AUTHOR),
    default = roles("admin"),
)]
pub struct Draft {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
    #[field(writable_by("admin"))]
    pub author_id: Option<String>,
}

/// An app serving them all.
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db)
        .resource::<Article>()
        .resource::<Diary>()
        .resource::<Rate>()
        .resource::<Switch>()
        .resource::<Draft>()
        .auth(crate::notes::auth())
}
