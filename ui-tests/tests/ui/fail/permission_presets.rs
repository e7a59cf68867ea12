use arc_runtime::prelude::*;

#[resource]
#[permissions(preset = public_reed)]
pub struct Typo {
    #[field(id)]
    pub id: Uuid,
}

#[resource]
#[permissions(prest = admin_only)]
pub struct KeyTypo {
    #[field(id)]
    pub id: Uuid,
}

#[resource]
#[permissions(preset = read_only("admin"), preset = admin_only)]
pub struct Twice {
    #[field(id)]
    pub id: Uuid,
}

/// `owner_with_admin_bypass` without a field uses `user_id`, which this resource lacks.
#[resource]
#[permissions(preset = owner_with_admin_bypass)]
pub struct NoOwner {
    #[field(id)]
    pub id: Uuid,
    pub owner: String,
}

/// A field the caller writes cannot decide who owns the row.
#[resource]
#[permissions(preset = owner_with_admin_bypass("owner", bypass("admin")))]
pub struct Writable {
    #[field(id)]
    pub id: Uuid,
    pub owner: String,
}

#[resource]
#[permissions(preset = owner_with_admin_bypass("owner", admins("admin")), list = rule)]
pub struct BadArgs {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub owner: Option<String>,
}

/// A preset gives every operation a rule: `default` beside it would take over the trash.
#[resource]
#[permissions(preset = public_read, default = authenticated)]
pub struct WithDefault {
    #[field(id)]
    pub id: Uuid,
}

#[resource]
#[permissions(preset = admin_only())]
pub struct NoRoles {
    #[field(id)]
    pub id: Uuid,
}

/// `owned_by_user` keeps everyone outside its bypass to their own rows, support included.
#[resource(presets(owned_by_user(field = "owner", bypass("admin"))))]
#[permissions(preset = owner_with_admin_bypass("owner", bypass("admin", "support")))]
pub struct Narrowed {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub owner: String,
}

fn main() {}
