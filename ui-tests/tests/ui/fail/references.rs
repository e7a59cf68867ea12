use arc_runtime::prelude::*;

#[resource]
#[permissions(default = authenticated)]
pub struct Shelf {
    #[field(id)]
    pub id: Uuid,
}

#[resource]
#[permissions(default = authenticated)]
pub struct Book {
    // The id cannot reference; neither can a field that holds no id.
    #[field(id, references = Shelf)]
    pub id: Uuid,
    #[field(references = Shelf)]
    pub open: bool,
}

fn main() {}
