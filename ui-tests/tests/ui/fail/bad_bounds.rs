use arc_runtime::prelude::*;

#[resource]
#[permissions(default = public)]
pub struct Item {
    #[field(id)]
    pub id: Uuid,
    #[field(min_len = 5, max_len = 2)]
    pub name: String,
    #[field(max_len = 3, range(min = 10, max = 1))]
    pub count: i64,
    #[field(one_of())]
    pub code: String,
    #[field(system)]
    pub total: i64,
    #[field(default)]
    pub note: Option<String>,
}

fn main() {}
