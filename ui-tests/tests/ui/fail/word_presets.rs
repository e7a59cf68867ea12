use arc_runtime::prelude::*;

// `audited` and `bulk` are words: they take no options.
#[resource(presets(audited(x = 1), bulk(max = 10)))]
#[permissions(default = public)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

fn main() {}
