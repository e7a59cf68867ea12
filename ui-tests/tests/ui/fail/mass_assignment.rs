use arc_runtime::prelude::*;

/// Members place orders, only admins change them: a member must not pick the state an
/// order starts in.
#[resource]
#[permissions(default = public, create = authenticated, update = roles("admin"))]
pub struct Order {
    #[field(id)]
    pub id: Uuid,
    pub quantity: i32,
    #[field(default)]
    pub status: String,
    #[field(default, writable_by("admin"))]
    pub paid: bool,
    #[field(default, writable_on_create)]
    pub gift: bool,
    #[field(writable_on_create)]
    pub note: Option<String>,
}

/// No error: `any` is gated only when every branch is; editors create, and admins or the
/// editor who created a row update it, so every creator is among the updaters.
#[resource]
#[permissions(
    default = public,
    create = any(roles("editor"), roles("admin")),
    update = any(roles("admin"), all(roles("editor"), owner("created_by"))),
)]
pub struct Page {
    #[field(id)]
    pub id: Uuid,
    #[field(default)]
    pub draft: bool,
    #[field(system)]
    pub created_by: Option<String>,
}

/// Anyone creates, the admins update: the gap the check is for.
#[resource]
#[permissions(default = roles("admin"), create = public)]
pub struct Ticket {
    #[field(id)]
    pub id: Uuid,
    #[field(default)]
    pub priority: i32,
}

/// Nobody updates, members create: the state a member picks on create is the one it keeps.
#[resource]
#[permissions(default = public, create = authenticated, update = deny)]
pub struct Vote {
    #[field(id)]
    pub id: Uuid,
    #[field(default)]
    pub counted: bool,
}

/// An app's rule is a value the macro does not see: on the update side it counts as letting
/// in no one known, so a default field must still say who writes it.
const ADMINS: arc_runtime::Rule = arc_runtime::Rule::Roles(&["admin"]);

#[resource]
#[permissions(default = public, create = authenticated, update = rule(ADMINS))]
pub struct Job {
    #[field(id)]
    pub id: Uuid,
    #[field(default)]
    pub state: String,
}

fn main() {}
