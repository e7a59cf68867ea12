use arc_runtime::prelude::*;

#[resource]
#[permissions(default = authenticated)]
pub struct Shelf {
    #[field(id)]
    pub id: Uuid,
}

#[resource(query(populate = [shelf, shelf, shelve, title, room_id, author, room, secret]))]
#[permissions(default = authenticated)]
pub struct Book {
    #[field(id)]
    pub id: Uuid,
    #[field(references = Shelf)]
    pub shelf_id: Uuid,
    // Not a reference: nothing to embed.
    pub title: String,
    pub author_id: Option<Uuid>,
    // The reference itself: its row would be written over its id.
    #[field(references = Shelf)]
    pub room_id: Option<Uuid>,
    // A field named as the embed of `room_id`.
    pub room: String,
    #[field(hidden, references = Shelf)]
    pub secret_id: Option<Uuid>,
}

fn main() {}
