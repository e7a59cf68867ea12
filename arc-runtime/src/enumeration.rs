//! Rust enums as field types: [`TextEnum`].

/// A fieldless enum stored as text: a Rust enum as a field type, written and read by its serde
/// names.
///
/// `#[derive(arc_runtime::Enum)]` ([`Enum`](derive@crate::Enum)) implements `TextEnum` from the
/// variants and the enum's `#[serde(rename_all = ..)]` / `#[serde(rename = ..)]` /
/// `#[serde(alias = ..)]` attributes, read as serde reads them, so the database, the query
/// grammar and JSON all use the same names: the one serde writes for each variant.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a type a resource field can have",
    label = "not a supported scalar, and no `#[derive(arc_runtime::Enum)]`",
    note = "fields are Uuid, String, i32, i64, f64, bool, DateTime<Utc>, Decimal, serde_json::Value, \
            Option<T> of these, or a fieldless enum deriving Debug, Clone, Serialize, Deserialize and \
            `arc_runtime::Enum`"
)]
pub trait TextEnum: Sized + Send + Sync + 'static {
    /// Every variant's name as stored (the name serde writes), in declaration order.
    const VARIANTS: &'static [&'static str];
    /// This variant's name as stored.
    fn as_str(&self) -> &'static str;
    /// The variant stored as `name`, else the one serde's `Deserialize` reads from `name`
    /// (a `deserialize` rename, an alias, a `#[serde(other)]` variant).
    fn from_name(name: &str) -> Option<Self>;
}

/// Whether `name` is one of `variants`, at compile time: `#[field(states(..))]` checks with it
/// that each state it names is a value of the field's enum.
pub const fn is_variant(variants: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < variants.len() {
        let (a, b) = (variants[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return true;
            }
        }
        i += 1;
    }
    false
}

/// A field type the runtime can turn into a database value (for `#[field(default)]`).
pub trait IntoDbValue {
    /// The value as stored.
    fn into_db_value(self) -> sea_orm::Value;
}

macro_rules! into_db_value {
    ($($t:ty),*) => {$(
        impl IntoDbValue for $t {
            fn into_db_value(self) -> sea_orm::Value {
                sea_orm::Value::from(self)
            }
        }
    )*};
}
into_db_value!(
    String,
    i32,
    i64,
    f64,
    bool,
    uuid::Uuid,
    chrono::DateTime<chrono::Utc>,
    rust_decimal::Decimal,
    serde_json::Value
);

impl<T: TextEnum> IntoDbValue for T {
    fn into_db_value(self) -> sea_orm::Value {
        sea_orm::Value::String(Some(self.as_str().to_owned()))
    }
}

/// `T::default()` as a database value: what `#[field(default)]` expands to.
pub fn default_value<T: Default + IntoDbValue>() -> sea_orm::Value {
    T::default().into_db_value()
}
