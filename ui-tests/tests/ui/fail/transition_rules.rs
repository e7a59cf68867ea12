use arc_runtime::prelude::*;

#[resource]
#[permissions(
    default = authenticated,
    // No transition `shipped -> placed`.
    state(shipped -> placed) = roles("admin"),
    // A typo of the field.
    stat(placed -> packed) = roles("admin"),
    // A field without states.
    label(placed -> packed) = roles("admin"),
    state(placed -> packed) = roles("packer"),
    state(placed -> packed) = roles("admin"),
)]
pub struct Shipment {
    #[field(id)]
    pub id: Uuid,
    pub label: String,
    #[field(states(placed -> packed -> shipped))]
    pub state: String,
}

fn main() {}
