//! One resource, `Gauge`, as three deployments of an app saw it: the schema evolution tests
//! migrate a database made by one version with the next.

use arc_runtime::prelude::*;

/// The first version: a label and a reading.
pub mod v1 {
    use super::*;

    /// A gauge.
    #[resource(query(filter = [label, reading], sort = [label]))]
    #[permissions(default = public)]
    pub struct Gauge {
        #[field(id)]
        pub id: Uuid,
        pub label: String,
        pub reading: i64,
        pub created_at: DateTime<Utc>,
    }
}

/// The second: a nullable note and a required flag with a default come; `reading` is no
/// longer filterable (its index goes) and `pinned` is (its index comes).
pub mod v2 {
    use super::*;

    /// A gauge.
    #[resource(query(filter = [label, pinned], sort = [label]))]
    #[permissions(default = public)]
    pub struct Gauge {
        #[field(id)]
        pub id: Uuid,
        pub label: String,
        pub reading: i64,
        pub note: Option<String>,
        #[field(default)]
        pub pinned: bool,
        pub created_at: DateTime<Utc>,
    }
}

/// The third, refused as it stands: `reading` becomes text, `unit` is required with no
/// default, `note` is gone (kept in the table), `label` may now be null.
pub mod v3 {
    use super::*;

    /// A gauge.
    #[resource(query(filter = [label, pinned], sort = [label]))]
    #[permissions(default = public)]
    pub struct Gauge {
        #[field(id)]
        pub id: Uuid,
        pub label: Option<String>,
        pub reading: String,
        pub unit: String,
        #[field(default)]
        pub pinned: bool,
        pub created_at: DateTime<Utc>,
    }
}

/// The app serving the first version.
pub fn v1(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<v1::Gauge>()
}

/// The app serving the second version.
pub fn v2(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<v2::Gauge>()
}

/// The app serving the third version.
pub fn v3(db: arc_runtime::sea_orm::DatabaseConnection) -> App {
    App::new(db).resource::<v3::Gauge>()
}
