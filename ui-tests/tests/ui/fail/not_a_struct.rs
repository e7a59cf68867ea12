use arc_runtime::prelude::*;

#[resource]
pub enum Nope {
    A,
}

#[derive(Enum)]
pub enum WithData {
    A(u8),
}

fn main() {}
