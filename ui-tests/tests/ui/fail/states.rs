use arc_runtime::prelude::*;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, Enum)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    #[default]
    Draft,
    Live,
    Gone,
}

#[resource]
#[permissions(default = authenticated)]
pub struct Page {
    #[field(id)]
    pub id: Uuid,
    // `gone` is never reached; `draft -> draft` stays put; `live` alone moves nowhere.
    #[field(default, states(draft -> live, gone -> draft, draft -> draft, live, draft -> live))]
    pub stage: Stage,
    // Not a state: a number, and an optional string.
    #[field(states(a -> b))]
    pub views: i64,
    #[field(states(a -> b))]
    pub tag: Option<String>,
    #[field(default, states())]
    pub next: Stage,
}

fn main() {}
