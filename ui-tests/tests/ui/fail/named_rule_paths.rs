use arc_runtime::prelude::*;

const NOT_A_RULE: &str = "admin";

#[resource]
#[permissions(
    list = public,
    update = rule(NOT_A_RULE),
    delete = any(roles("admin"), rule(crate::NO_SUCH_RULE)),
)]
pub struct Post {
    #[field(id)]
    pub id: Uuid,
}

fn main() {}
