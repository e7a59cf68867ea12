use arc_runtime::prelude::*;

pub struct NotAnEnum;

#[resource]
#[permissions(default = public)]
pub struct Bag {
    #[field(id)]
    pub id: Uuid,
    pub items: Vec<String>,
    pub small: u8,
    pub local: DateTime<chrono::Local>,
    pub other: NotAnEnum,
}

fn main() {}
