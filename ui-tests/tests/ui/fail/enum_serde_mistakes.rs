//! A mistake in serde's own attributes is reported once, by serde's derive; serde's
//! attributes without serde's derive are refused by the compiler.
use arc_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Enum)]
#[serde(rename_all = "Title Case")]
pub enum BadRule {
    A,
}

#[derive(Enum)]
#[serde(rename_all = "lowercase")]
pub enum NoSerde {
    A,
}

fn main() {}
