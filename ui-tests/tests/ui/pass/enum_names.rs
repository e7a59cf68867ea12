//! `#[derive(Enum)]` names variants as serde does: what serde writes is stored, and
//! `from_name` takes every name serde reads.
use arc_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum Stage {
    InReview,
    #[serde(rename = "done")]
    Finished,
    #[serde(alias = "new", alias = "fresh")]
    NotStarted,
    #[serde(rename(serialize = "held", deserialize = "on-hold"))]
    OnHold,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Enum)]
#[serde(rename_all(serialize = "camelCase", deserialize = "snake_case"))]
pub enum Split {
    LowTide,
    r#HighTide,
}

/// Every stored name is what serde writes, and each name serde reads gives its variant.
fn agree<T>(all: &[T], read: &[&str])
where
    T: TextEnum + Serialize + for<'de> Deserialize<'de> + PartialEq + std::fmt::Debug + Copy,
{
    let written: Vec<String> = all
        .iter()
        .map(|v| serde_json::to_value(v).unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(T::VARIANTS, written);
    for v in all {
        assert_eq!(T::from_name(v.as_str()), Some(*v), "stored names round-trip");
    }
    for name in read {
        let by_serde: T = serde_json::from_value(serde_json::json!(name)).unwrap();
        assert_eq!(T::from_name(name), Some(by_serde), "{name}");
    }
}

fn main() {
    use Stage::*;
    assert_eq!(
        Stage::VARIANTS,
        ["IN-REVIEW", "done", "NOT-STARTED", "held", "UNKNOWN"]
    );
    agree(
        &[InReview, Finished, NotStarted, OnHold, Unknown],
        &["IN-REVIEW", "done", "NOT-STARTED", "new", "fresh", "on-hold", "anything"],
    );
    assert_eq!(Stage::from_name("anything"), Some(Unknown), "`other`, as for serde");
    assert_eq!(Split::VARIANTS, ["lowTide", "highTide"]);
    assert_eq!(Split::from_name("low_tide"), Some(Split::LowTide));
    assert_eq!(Split::from_name("nope"), None);
    let by_serde: Split = serde_json::from_value(serde_json::json!("high_tide")).unwrap();
    assert_eq!(Split::from_name("high_tide"), Some(by_serde));
}
