//! Presets, the defaults for where an app runs: [`Preset`] and its table.

use std::time::Duration;

use crate::App;
use crate::auth::jwt::DEFAULT_MAX_LIFETIME;

/// Where the app runs.
///
/// Presets: sensible defaults for where the app runs, chosen by `ARC_ENV` or in code. Each
/// plugin stays configurable after the preset.
///
/// | | production | development | testing | edge |
/// |---|---|---|---|---|
/// | logs | JSON, info | pretty, info (SQL with `RUST_LOG=sea_orm=debug`) | warnings only | JSON, info |
/// | 500 details | never | the cause, in `details.cause` | the cause | never |
/// | CORS | none unless configured | any origin, no credentials | none | none unless configured |
/// | security headers | yes, with HSTS | yes | yes | yes, with HSTS |
/// | compression | gzip | off | off | gzip |
/// | timeout / in flight | 30 s / 1024 | 30 s / unlimited | 5 s / unlimited | 10 s / 256 |
/// | body limit | 1 MiB | 1 MiB | 1 MiB | 256 KiB |
/// | required secrets | cursor secret | - | - | cursor secret |
/// | tokens | `jti` required, a day at most | any | any | `jti` required, a day at most |
/// | pending migrations at `serve` | only with `--migrate` | applied | applied | only with `--migrate` |
///
/// [`Preset::defaults`] holds this table; [`App::preset`](crate::App::preset),
/// [`JwtAuthenticator::preset`](crate::config::JwtAuthenticator::preset), the log subscriber
/// and the CLI read it from there.
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
    pub fn from_env() -> Result<Preset, UnknownPreset> {
        match std::env::var("ARC_ENV") {
            Err(_) => Ok(Preset::Development),
            Ok(value) => value.parse(),
        }
    }

    /// The preset's defaults: one row of the table above.
    pub fn defaults(self) -> PresetDefaults {
        let deployed = matches!(self, Preset::Production | Preset::Edge);
        let (timeout, max_in_flight, body_limit) = match self {
            Preset::Production => (App::DEFAULT_TIMEOUT, Some(1024), App::DEFAULT_BODY_LIMIT),
            Preset::Development => (App::DEFAULT_TIMEOUT, None, App::DEFAULT_BODY_LIMIT),
            Preset::Testing => (Duration::from_secs(5), None, App::DEFAULT_BODY_LIMIT),
            Preset::Edge => (Duration::from_secs(10), Some(256), 256 * 1024),
        };
        PresetDefaults {
            log_format: match self {
                Preset::Production | Preset::Edge => LogFormat::Json,
                Preset::Development => LogFormat::Pretty,
                Preset::Testing => LogFormat::Test,
            },
            log_directives: match self {
                Preset::Testing => "warn",
                _ => "info,sea_orm=warn,sqlx=warn",
            },
            expose_causes: !deployed,
            cors_any_origin: self == Preset::Development,
            hsts: deployed,
            compression: deployed,
            timeout: Some(timeout),
            max_in_flight,
            body_limit,
            require_cursor_secret: deployed,
            require_jti: deployed,
            max_token_lifetime: deployed.then_some(DEFAULT_MAX_LIFETIME),
            explicit_migrations: deployed,
        }
    }

    /// Whether 500 responses carry their cause.
    pub fn exposes_causes(self) -> bool {
        self.defaults().expose_causes
    }

    /// Installs the process's log subscriber for this preset (once; later calls do nothing).
    /// `RUST_LOG` overrides the level. [`Telemetry`](crate::telemetry::Telemetry) does the
    /// same and can export spans too.
    pub fn init_logging(self) {
        // Without an exporter the guard holds nothing to flush.
        let _ = crate::telemetry::Telemetry::new(self).init();
    }
}

/// What a preset sets, one field per setting it touches (see the table on [`Preset`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresetDefaults {
    /// How log lines are written.
    pub log_format: LogFormat,
    /// The log levels when `RUST_LOG` is unset.
    pub log_directives: &'static str,
    /// Whether 500 responses carry their cause (`details.cause`).
    pub expose_causes: bool,
    /// CORS for any origin, without credentials.
    pub cors_any_origin: bool,
    /// `Strict-Transport-Security` among the security headers.
    pub hsts: bool,
    /// Gzip responses for clients that accept it.
    pub compression: bool,
    /// The longest a request may take before it is answered 503.
    pub timeout: Option<Duration>,
    /// The most requests in flight before the excess is shed (503).
    pub max_in_flight: Option<usize>,
    /// The largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Refuse to start without a cursor secret (instances must accept each other's cursors).
    pub require_cursor_secret: bool,
    /// Refuse bearer tokens without a `jti` (they cannot be revoked).
    pub require_jti: bool,
    /// The longest `exp - iat` of an accepted token (`None`: any).
    pub max_token_lifetime: Option<Duration>,
    /// Apply pending migrations at `serve` only when asked (`--migrate`).
    pub explicit_migrations: bool,
}

/// How the log subscriber of a preset writes lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for a log collector.
    Json,
    /// Human-readable lines on stderr.
    Pretty,
    /// Human-readable lines through the test harness's capture.
    Test,
}

/// A name that is not a preset's (`ARC_ENV=staging`, say).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ARC_ENV={0:?} is not one of production, development, testing, edge")]
pub struct UnknownPreset(pub String);

impl std::str::FromStr for Preset {
    type Err = UnknownPreset;

    fn from_str(s: &str) -> Result<Preset, UnknownPreset> {
        match s {
            "production" | "prod" => Ok(Preset::Production),
            "development" | "dev" => Ok(Preset::Development),
            "testing" | "test" => Ok(Preset::Testing),
            "edge" => Ok(Preset::Edge),
            other => Err(UnknownPreset(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of the module's table that are numbers, preset by preset.
    #[test]
    fn defaults_match_the_table() {
        let limits = |p: Preset| {
            let d = p.defaults();
            (
                d.timeout.map(|t| t.as_secs()),
                d.max_in_flight,
                d.body_limit,
            )
        };
        assert_eq!(limits(Preset::Production), (Some(30), Some(1024), 1 << 20));
        assert_eq!(limits(Preset::Development), (Some(30), None, 1 << 20));
        assert_eq!(limits(Preset::Testing), (Some(5), None, 1 << 20));
        assert_eq!(limits(Preset::Edge), (Some(10), Some(256), 256 << 10));
        for preset in [Preset::Production, Preset::Edge] {
            let d = preset.defaults();
            assert!(d.hsts && d.compression && d.require_cursor_secret && d.require_jti);
            assert!(!d.expose_causes && !d.cors_any_origin);
            assert_eq!(d.log_format, LogFormat::Json);
        }
        assert!(Preset::Development.defaults().cors_any_origin);
        assert_eq!(Preset::Testing.defaults().log_format, LogFormat::Test);
    }
}
