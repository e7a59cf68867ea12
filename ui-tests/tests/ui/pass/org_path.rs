use arc_runtime::prelude::*;

// A `multi_tenant` resource under the organization its path names.
#[resource(path = "/organizations/{orgId}/notes", presets(multi_tenant))]
#[permissions(default = org_member)]
pub struct Note {
    #[field(id)]
    pub id: Uuid,
    #[field(system)]
    pub org_id: String,
    pub body: String,
}

fn main() {
    use arc_runtime::Resource;
    assert_eq!(Note::META.collection(), "notes");
    assert_eq!(Note::META.path_in(Some("acme")), "/organizations/acme/notes");
}
