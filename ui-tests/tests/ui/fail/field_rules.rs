use arc_runtime::prelude::*;

#[resource]
#[permissions(default = public)]
pub struct Doc {
    #[field(id, visible_to("admin"))]
    pub id: Uuid,
    #[field(hidden, visible_to("admin"))]
    pub a: Option<String>,
    #[field(system, writable_by("admin"))]
    pub b: Option<String>,
    #[field(redact_for())]
    pub c: Option<String>,
    #[field(visble_to("admin"))]
    pub d: Option<String>,
}

fn main() {}
