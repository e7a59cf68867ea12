use arc_runtime::Rule;
use arc_runtime::prelude::*;

/// Names a field no resource here has.
const BY_WRITER: Rule = Rule::Any(&[Rule::Roles(&["admin"]), Rule::Owner("writer")]);
/// Names a field that holds numbers, not user ids.
const BY_NUMBER: Rule = Rule::Owner("number");
/// Names a field that holds numbers, not team ids.
const IN_TEAM: Rule = Rule::Team("number");
/// Fine on its own.
const ADMINS: Rule = Rule::Roles(&["admin"]);
/// A row filter: it cannot guard a create.
const BY_AUTHOR: Rule = Rule::Owner("author");

#[resource]
#[permissions(
    list = rule(BY_WRITER),
    get = rule(BY_NUMBER),
    create = rule(BY_AUTHOR),
    update = any(rule(ADMINS), rule(IN_TEAM)),
    delete = rule(BY_WRITER),
)]
pub struct Post {
    #[field(id)]
    pub id: Uuid,
    pub number: i64,
    pub author: Option<String>,
}

fn main() {}
