use arc_runtime::prelude::*;

#[resource]
#[permissions(default = authenticated)]
pub struct Shelf {
    #[field(id)]
    pub id: i64,
}

pub struct NotAResource;

#[resource]
#[permissions(default = authenticated)]
pub struct Book {
    #[field(id)]
    pub id: Uuid,
    // A shelf's id is a number, not a UUID.
    #[field(references = Shelf)]
    pub shelf: Option<Uuid>,
    #[field(references = NotAResource)]
    pub other: Option<Uuid>,
}

fn main() {}
