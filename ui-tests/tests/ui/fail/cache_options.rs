use arc_runtime::prelude::*;

// Durations are whole numbers with a unit.
#[resource(cache(stale = "30 seconds", expire = "5min"))]
#[permissions(default = public)]
pub struct Words {
    #[field(id)]
    pub id: Uuid,
}

// An answer cannot go stale after it expired, nor expire at once.
#[resource(cache(stale = "10m", expire = "1m"))]
#[permissions(default = public)]
pub struct Backwards {
    #[field(id)]
    pub id: Uuid,
}

#[resource(cache(stale = "0s", expire = "0s"))]
#[permissions(default = public)]
pub struct Never {
    #[field(id)]
    pub id: Uuid,
}

// Tags are lowercase names, each once.
#[resource(cache(tags = ["Catalog", "board", "board"]))]
#[permissions(default = public)]
pub struct Tagged {
    #[field(id)]
    pub id: Uuid,
}

#[resource(cache(tags = [7]))]
#[permissions(default = public)]
pub struct Numbered {
    #[field(id)]
    pub id: Uuid,
}

// A misspelt option.
#[resource(cache(stael = "1s"))]
#[permissions(default = public)]
pub struct Misspelt {
    #[field(id)]
    pub id: Uuid,
}

fn main() {}
