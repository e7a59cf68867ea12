use arc_runtime::prelude::*;

#[resource]
#[permissions(default = public)]
pub struct NoId {
    pub body: String,
}

#[resource]
#[permissions(default = public)]
pub struct TwoIds {
    #[field(id)]
    pub id: Uuid,
    #[field(id)]
    pub other: Uuid,
}

#[resource]
#[permissions(default = public)]
pub struct TextId {
    #[field(id)]
    pub id: String,
}

fn main() {}
