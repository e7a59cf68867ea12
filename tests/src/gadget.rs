//! A test resource with a field of every supported type, to round-trip each one through
//! both databases.

use arc_runtime::prelude::*;
use serde::{Deserialize, Serialize};

/// A closed set of values stored as text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "kebab-case")]
pub enum Finish {
    #[default]
    Matte,
    HighGloss,
}

/// Every field type `#[resource]` supports.
#[resource(query(
    filter = [small, big, ratio, amount, flag, finish, coating, made_at, maker, label, kind_],
    sort = [small, ratio, amount, made_at, label, kind_]
))]
#[permissions(default = public)]
pub struct Gadget {
    #[field(id)]
    pub id: Uuid,
    #[field(max_len = 50)]
    pub label: String,
    #[field(range(min = -100, max = 100))]
    pub small: i32,
    pub big: Option<i64>,
    #[field(range(min = 0))]
    pub ratio: f64,
    pub amount: Decimal,
    #[field(default)]
    pub flag: bool,
    #[field(default)]
    pub finish: Finish,
    pub coating: Option<Finish>,
    pub made_at: DateTime<Utc>,
    pub maker: Option<Uuid>,
    pub specs: Option<serde_json::Value>,
    /// A name sea-orm would store under another (`kind`): the field table names that column.
    pub kind_: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An app serving only gadgets.
pub fn app(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<Gadget>()
}
