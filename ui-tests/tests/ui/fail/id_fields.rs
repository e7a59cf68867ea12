use arc_runtime::prelude::*;

#[resource]
pub struct NoId {
    pub body: String,
}

#[resource]
pub struct TwoIds {
    #[field(id)]
    pub id: Uuid,
    #[field(id)]
    pub other: Uuid,
}

#[resource]
pub struct TextId {
    #[field(id)]
    pub id: String,
}

fn main() {}
