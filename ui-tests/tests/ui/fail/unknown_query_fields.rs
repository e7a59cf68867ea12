use arc_runtime::prelude::*;

#[resource(query(filter = [nmae, body], sort = [bodyy], search = [size], default_sort = "-secret"))]
#[permissions(default = public)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
    pub size: i64,
    #[field(hidden)]
    pub secret: Option<String>,
}

fn main() {}
