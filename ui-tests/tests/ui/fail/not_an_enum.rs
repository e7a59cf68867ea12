use arc_runtime::prelude::*;

/// A field type that is neither a scalar nor an `arc_runtime::Enum`.
#[derive(Default)]
pub struct Colour;

#[resource]
#[permissions(default = public)]
pub struct Shirt {
    #[field(id)]
    pub id: Uuid,
    #[field(default)]
    pub colour: Colour,
}

fn main() {}
