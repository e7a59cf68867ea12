//! What serde accepts but a text column cannot hold.
use arc_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Enum)]
#[serde(tag = "kind")]
pub enum Tagged {
    A,
}

#[derive(Serialize, Deserialize, Enum)]
#[serde(untagged)]
pub enum Untagged {
    A,
}

#[derive(Serialize, Deserialize, Enum)]
pub enum Skipped {
    A,
    #[serde(skip)]
    B,
    #[serde(skip_deserializing)]
    C,
}

#[derive(Serialize, Deserialize, Enum)]
pub enum SameName {
    #[serde(rename = "a")]
    A,
    #[serde(rename = "a")]
    B,
}

#[derive(Serialize, Deserialize, Enum)]
pub enum ReadAsAnother {
    #[serde(rename(serialize = "b"))]
    A,
    #[serde(alias = "b")]
    B,
}

fn main() {}
