use arc_runtime::prelude::*;

// The TTL is a duration string, between a second and 30 days.
#[resource(idempotency(ttl = "24"))]
#[permissions(default = public)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

#[resource(idempotency(ttl = "3w"))]
#[permissions(default = public)]
pub struct Memo {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

#[resource(idempotency(ttl = 3600))]
#[permissions(default = public)]
pub struct Draft {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

#[resource(idempotency(ttl = "90d"))]
#[permissions(default = public)]
pub struct Letter {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

#[resource(idempotency(tll = "1h"))]
#[permissions(default = public)]
pub struct Card {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

fn main() {}
