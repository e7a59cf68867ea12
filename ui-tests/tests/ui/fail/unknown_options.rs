use arc_runtime::prelude::*;

#[resource(presets(soft_delet), quary(filter = [name]))]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    #[field(hiden)]
    pub body: String,
}

fn main() {}
