use arc_runtime::prelude::*;

#[resource(idempotency)]
#[permissions(default = authenticated)]
pub struct Payment {
    #[field(id)]
    pub id: Uuid,
    pub amount: i64,
}

#[resource(idempotency(ttl = "1h30m"))]
#[permissions(default = authenticated)]
pub struct Refund {
    #[field(id)]
    pub id: Uuid,
    pub amount: i64,
}

fn main() {
    use arc_runtime::{Idempotent, Resource};
    assert_eq!(Payment::META.idempotency, Some(Idempotent::DEFAULT));
    assert_eq!(
        Refund::META.idempotency.map(|i| i.ttl.as_secs()),
        Some(5_400)
    );
}
