use arc_runtime::prelude::*;

#[resource(presets(soft_delete, slug_lookup(field = "slgu"), tree))]
#[permissions(default = public)]
pub struct Page {
    #[field(id)]
    pub id: Uuid,
    pub slug: String,
    pub deleted_at: DateTime<Utc>,
    pub parent_id: Option<i64>,
}

fn main() {}
