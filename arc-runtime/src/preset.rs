//! Presets: sensible defaults for where the app runs, chosen by `ARC_ENV` or in code. Each
//! plugin stays configurable after the preset.
//!
//! | | production | development | testing | edge |
//! |---|---|---|---|---|
//! | logs | JSON, info | pretty, info (SQL with `RUST_LOG=sea_orm=debug`) | warnings only | JSON, info |
//! | 500 details | never | the cause, in `details.cause` | the cause | never |
//! | CORS | none unless configured | any origin, no credentials | none | none unless configured |
//! | security headers | yes, with HSTS | yes | yes | yes, with HSTS |
//! | compression | gzip | off | off | gzip |
//! | timeout / in flight | 30 s / 1024 | 30 s / unlimited | 5 s / unlimited | 10 s / 256 |
//! | body limit | 1 MiB | 1 MiB | 1 MiB | 256 KiB |
//! | required secrets | cursor secret | - | - | cursor secret |

/// Where the app runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preset {
    /// Behind a load balancer, for real users.
    Production,
    /// On a developer's machine (the default).
    #[default]
    Development,
    /// Under tests: quiet, in memory.
    Testing,
    /// A small instance close to users: tight limits.
    Edge,
}

impl Preset {
    /// From `ARC_ENV` (`production`, `development`, `testing`, `edge`; `prod`, `dev`, `test`
    /// also work); unset means development. An unknown value is an error, not a guess.
    pub fn from_env() -> Result<Preset, String> {
        match std::env::var("ARC_ENV") {
            Err(_) => Ok(Preset::Development),
            Ok(value) => value.parse(),
        }
    }

    /// Whether 500 responses carry their cause.
    pub fn exposes_causes(self) -> bool {
        matches!(self, Preset::Development | Preset::Testing)
    }

    /// Installs the process's log subscriber for this preset (once; later calls do nothing).
    /// `RUST_LOG` overrides the level. [`Telemetry`](crate::telemetry::Telemetry) does the
    /// same and can export spans too.
    pub fn init_logging(self) {
        // Without an exporter the guard holds nothing to flush.
        let _ = crate::telemetry::Telemetry::new(self).init();
    }
}

impl std::str::FromStr for Preset {
    type Err = String;

    fn from_str(s: &str) -> Result<Preset, String> {
        match s {
            "production" | "prod" => Ok(Preset::Production),
            "development" | "dev" => Ok(Preset::Development),
            "testing" | "test" => Ok(Preset::Testing),
            "edge" => Ok(Preset::Edge),
            other => Err(format!(
                "ARC_ENV={other:?} is not one of production, development, testing, edge"
            )),
        }
    }
}
