use arc_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    #[default]
    InStock,
    #[serde(rename = "gone")]
    OutOfStock,
}

#[resource(
    name = "thing",
    path = "/things",
    table = "things",
    presets(soft_delete(field = "removed_at"), slug_lookup(field = "handle"), tree(field = "parent"), bulk, audited),
    query(filter = [name, count, big, ratio, flag, kind, at, amount, parent], sort = [name, at], search = [name], default_sort = "-at", lenient)
)]
#[permissions(default = public)]
pub struct Thing {
    #[field(id)]
    pub id: i64,
    #[field(min_len = 1, max_len = 10, one_of("a", "b"))]
    pub name: String,
    pub handle: String,
    #[field(range(min = -5, max = 5))]
    pub count: i32,
    pub big: Option<i64>,
    #[field(range(min = 0.5))]
    pub ratio: f64,
    #[field(default)]
    pub flag: bool,
    #[field(default)]
    pub kind: Kind,
    pub at: DateTime<Utc>,
    pub amount: Decimal,
    pub extra: Option<serde_json::Value>,
    pub parent: Option<i64>,
    #[field(system)]
    pub removed_at: Option<DateTime<Utc>>,
    #[field(hidden)]
    pub secret: Option<String>,
}

fn main() {
    assert_eq!(<Kind as TextEnum>::VARIANTS, ["in_stock", "gone"]);
    let meta = <Thing as Resource>::META;
    assert_eq!(meta.fields.len(), 14);
    assert!(meta.presets.bulk);
    assert!(meta.presets.audited);
}
