use arc_runtime::prelude::*;

#[resource(presets(soft_delete))]
#[permissions(
    lsit = public,
    get = pubic,
    create = owner("author"),
    update = any(roles(), owner("autor"), owner("size")),
    delete = roles(admin),
    tree = public,
    get = public,
    deleted = team_member("teem"),
    restore = any(team_member("size"), team_member("team", "size")),
)]
pub struct Post {
    #[field(id)]
    pub id: Uuid,
    pub author: String,
    pub size: i64,
    pub team: String,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
}

fn main() {}
