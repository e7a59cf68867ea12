use arc_runtime::prelude::*;

#[resource]
pub struct Open {
    #[field(id)]
    pub id: Uuid,
}

fn main() {}
