use arc_runtime::prelude::*;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    #[default]
    Draft,
    Live,
}

#[resource]
#[permissions(default = authenticated)]
pub struct Page {
    #[field(id)]
    pub id: Uuid,
    // `archived` is not a value of `Stage` (its values are `draft` and `live`).
    #[field(default, states(draft -> live -> archived))]
    pub stage: Stage,
}

fn main() {}
