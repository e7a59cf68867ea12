use arc_runtime::prelude::*;

#[resource]
#[permissions(default = public)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

fn main() {
    assert_eq!(<Note as Resource>::META.path, "/notes");
    let _ = NoteCreate { body: "x".into() };
    let _ = NotePatch::default();
}
