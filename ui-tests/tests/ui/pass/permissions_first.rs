use arc_runtime::prelude::*;
use arc_runtime::Rule;

/// `#[permissions]` above `#[resource]` works too.
#[permissions(list = public, get = any(owner("author"), roles("admin")), create = authenticated)]
#[resource(query(filter = [author]))]
pub struct Post {
    #[field(id)]
    pub id: Uuid,
    pub author: Option<String>,
}

fn main() {
    let p = <Post as Resource>::META.permissions;
    assert!(matches!(p.list, Rule::Public));
    assert!(matches!(p.get, Rule::Any([Rule::Owner("author"), Rule::Roles(["admin"])])));
    assert!(matches!(p.delete, Rule::Deny), "unlisted operations are denied");
}
