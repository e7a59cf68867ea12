use arc_runtime::prelude::*;

// Declares read hooks and writes none: the rows would go unnarrowed.
#[resource(read_hooks)]
#[permissions(default = authenticated)]
pub struct Project {
    #[field(id)]
    pub id: Uuid,
    pub team: String,
}

// Writes read hooks without declaring them: they would never run.
#[resource]
#[permissions(default = authenticated)]
pub struct Task {
    #[field(id)]
    pub id: Uuid,
}

impl ReadHooks for Task {
    async fn before_list(_: &ReadContext<'_>, rows: &mut RowFilter) -> Result<(), ArcError> {
        rows.none();
        Ok(())
    }
}

fn main() {}
