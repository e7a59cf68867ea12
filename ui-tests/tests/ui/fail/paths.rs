use arc_runtime::prelude::*;

// A path is static: it starts with `/` and names no parameter but `{orgId}`.
#[resource(path = "notes")]
#[permissions(default = public)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

#[resource(path = "/notes/{id}/memos")]
#[permissions(default = public)]
pub struct Memo {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

// `{orgId}` names the organization a row belongs to: only on a `multi_tenant` resource,
// once, and never as the collection itself.
#[resource(path = "/organizations/{orgId}/drafts")]
#[permissions(default = public)]
pub struct Draft {
    #[field(id)]
    pub id: Uuid,
    pub body: String,
}

#[resource(path = "/organizations/{orgId}", presets(multi_tenant))]
#[permissions(default = public)]
pub struct Letter {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    pub body: String,
}

#[resource(path = "/o/{orgId}/p/{orgId}/cards", presets(multi_tenant))]
#[permissions(default = public)]
pub struct Card {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    pub body: String,
}

fn main() {}
