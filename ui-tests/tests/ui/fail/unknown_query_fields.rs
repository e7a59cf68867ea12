use arc_runtime::prelude::*;

#[resource(query(filter = [nmae, body], sort = [bodyy], search = [size]))]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
    pub size: i64,
}

fn main() {}
