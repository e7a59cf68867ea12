use arc_runtime::prelude::*;

#[resource(presets(
    multi_tenant(field = "org"),
    owned_by_user(field = "owner", bypass()),
    soft_delete(bypass("admin"))
))]
#[permissions(default = authenticated)]
pub struct Thing {
    #[field(id)]
    pub id: Uuid,
    pub org_id: String,
    #[field(system)]
    pub owner: i64,
    #[field(system)]
    pub deleted_at: Option<DateTime<Utc>>,
}

#[resource(presets(multi_tenant))]
#[permissions(default = authenticated)]
pub struct NotSystem {
    #[field(id)]
    pub id: Uuid,
    pub org_id: String,
}

fn main() {}
