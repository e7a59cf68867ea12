use arc_runtime::prelude::*;

fn takes_nothing() -> bool {
    true
}

#[resource]
#[permissions(list = when(no_such::predicate), get = when(takes_nothing), default = public)]
pub struct Page {
    #[field(id)]
    pub id: Uuid,
}

fn main() {}
