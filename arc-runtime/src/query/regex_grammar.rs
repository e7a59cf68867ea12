//! Generated patterns of the regex grammar the guard accepts: each one the guard does not
//! refuse for its size or its backtracking must run without error on SQLite (through the
//! app's connection, which registers `REGEXP`) and on PostgreSQL (`~`), and both must agree
//! on whether it matches a few ASCII subjects.
//!
//! A long run: `ARC_FUZZ_CASES=100000 cargo test -p arc-runtime --release regex_grammar`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::regex_guard::{self, RegexError};
use proptest::prelude::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

const SUBJECTS: [&str; 6] = [
    "",
    "abc",
    "Acme Product 12",
    "a.b-c_d 9 [x]{y}|z",
    "KELVIN k",
    "  tabs\tand-dashes--",
];

/// The runtime the connections live on.
fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| tokio::runtime::Runtime::new().expect("runtime"))
}

fn sqlite() -> &'static DatabaseConnection {
    static DB: OnceLock<DatabaseConnection> = OnceLock::new();
    DB.get_or_init(|| {
        rt().block_on(crate::connect("sqlite::memory:"))
            .expect("sqlite")
    })
}

/// PostgreSQL at `ARC_TEST_DATABASE_URL` (the tests that use it are ignored by default).
fn postgres() -> &'static DatabaseConnection {
    static DB: OnceLock<DatabaseConnection> = OnceLock::new();
    DB.get_or_init(|| {
        let url = std::env::var("ARC_TEST_DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "ARC_TEST_DATABASE_URL is unset: this test needs PostgreSQL (`.ci/run` sets it up)"
            )
        });
        rt().block_on(crate::connect(&url)).expect("postgres")
    })
}

/// Whether `pattern` matches each subject, on `db`.
fn matches(db: &DatabaseConnection, pattern: &str) -> Result<Vec<bool>, String> {
    let backend = db.get_database_backend();
    let values: Vec<String> = SUBJECTS
        .iter()
        .enumerate()
        .map(|(i, s)| format!("({i}, '{}')", s.replace('\'', "''")))
        .collect();
    let op = match backend {
        DbBackend::Postgres => "~ $1",
        _ => "REGEXP ?",
    };
    let sql = format!(
        "WITH t(i, s) AS (VALUES {}) SELECT (s {op}) AS m FROM t ORDER BY i",
        values.join(", ")
    );
    let stmt = Statement::from_sql_and_values(backend, sql, [pattern.into()]);
    let rows = rt()
        .block_on(db.query_all_raw(stmt))
        .map_err(|e| e.to_string())?;
    rows.iter()
        .map(|r| r.try_get::<bool>("", "m").map_err(|e| e.to_string()))
        .collect()
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _,;:'\"#@/<>=!%&~`-]".prop_map(|s| s),
        Just("é".to_owned()),
        Just("ß".to_owned()),
        Just("K".to_owned()),
        r"\\[.*+?()\[\]{}|\\^$/-]".prop_map(|s| s),
        prop_oneof![Just(r"\n"), Just(r"\t"), Just(r"\r")].prop_map(str::to_owned),
    ]
}

fn class_item() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _.,*+?(){}|$]".prop_map(|s| s),
        (0u8..26, 0u8..26).prop_map(|(a, b)| {
            let (a, b) = (a.min(b), a.max(b));
            format!("{}-{}", (b'a' + a) as char, (b'a' + b) as char)
        }),
        Just("0-9".to_owned()),
        Just("A-Z".to_owned()),
        prop_oneof![Just(r"\d"), Just(r"\w"), Just(r"\s")].prop_map(str::to_owned),
        prop_oneof![
            Just(r"\]"),
            Just(r"\["),
            Just(r"\\"),
            Just(r"\-"),
            Just(r"\^")
        ]
        .prop_map(str::to_owned),
    ]
}

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => literal(),
        1 => Just(".".to_owned()),
        1 => prop_oneof![
            Just(r"\d"), Just(r"\w"), Just(r"\s"), Just(r"\D"), Just(r"\W"), Just(r"\S")
        ]
        .prop_map(str::to_owned),
        2 => (any::<bool>(), proptest::collection::vec(class_item(), 1..4))
            .prop_map(|(neg, items)| format!("[{}{}]", if neg { "^" } else { "" }, items.concat())),
    ]
}

fn quantifier() -> impl Strategy<Value = String> {
    let count = prop_oneof![3 => 0u32..6, 1 => 0u32..=255];
    let op = prop_oneof![
        Just("*".to_owned()),
        Just("+".to_owned()),
        Just("?".to_owned()),
        count.clone().prop_map(|m| format!("{{{m}}}")),
        count.clone().prop_map(|m| format!("{{{m},}}")),
        (count.clone(), count).prop_map(|(a, b)| format!("{{{},{}}}", a.min(b), a.max(b))),
    ];
    (op, any::<bool>()).prop_map(|(op, lazy)| if lazy { format!("{op}?") } else { op })
}

/// A pattern of the grammar (without the leading flag).
fn pattern() -> impl Strategy<Value = String> {
    let leaf = atom();
    leaf.prop_recursive(4, 48, 4, |inner| {
        // What a quantifier may follow: an atom or a group, never another quantifier.
        let quantifiable = prop_oneof![
            atom(),
            inner.clone().prop_map(|p| format!("({p})")),
            inner.clone().prop_map(|p| format!("(?:{p})")),
        ];
        prop_oneof![
            3 => proptest::collection::vec(inner.clone(), 1..5).prop_map(|v| v.concat()),
            1 => proptest::collection::vec(inner.clone(), 2..4).prop_map(|v| v.join("|")),
            1 => inner.clone().prop_map(|p| format!("({p})")),
            1 => inner.clone().prop_map(|p| format!("(?:{p})")),
            3 => (quantifiable, quantifier()).prop_map(|(a, q)| format!("{a}{q}")),
        ]
    })
}

fn full_pattern() -> impl Strategy<Value = String> {
    (any::<bool>(), any::<bool>(), pattern(), any::<bool>()).prop_map(|(i, start, p, end)| {
        format!(
            "{}{}{p}{}",
            if i { "(?i)" } else { "" },
            if start { "^" } else { "" },
            if end { "$" } else { "" }
        )
    })
}

static RUN: AtomicUsize = AtomicUsize::new(0);
static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("ARC_FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn accepted_patterns_run_on_sqlite(pattern in full_pattern()) {
        accepted_pattern_runs(&pattern, false)?;
    }

    #[test]
    #[ignore = "needs PostgreSQL"]
    fn accepted_patterns_run_on_postgres_and_agree(pattern in full_pattern()) {
        accepted_pattern_runs(&pattern, true)?;
    }
}

/// `pattern`, unless the guard refuses it for its size or backtracking, runs on SQLite
/// and, with `postgres`, on PostgreSQL with the same matches.
fn accepted_pattern_runs(pattern: &str, postgres: bool) -> Result<(), TestCaseError> {
    RUN.fetch_add(1, Ordering::Relaxed);
    match regex_guard::check(pattern) {
        Ok(()) => {}
        Err(RegexError::TooLarge | RegexError::Backtracking | RegexError::TooLong) => {
            return Ok(());
        }
        Err(e) => prop_assert!(false, "{pattern}: the grammar's own pattern refused: {e}"),
    }
    ACCEPTED.fetch_add(1, Ordering::Relaxed);
    let lite = matches(sqlite(), pattern);
    prop_assert!(lite.is_ok(), "{pattern}: SQLite: {lite:?}");
    if postgres {
        let pg = matches(self::postgres(), pattern);
        prop_assert!(pg.is_ok(), "{pattern}: PostgreSQL: {pg:?}");
        prop_assert_eq!(lite.unwrap(), pg.unwrap(), "{} disagrees", pattern);
    }
    Ok(())
}

/// The largest patterns the guard accepts (at its size and expansion caps) compile on
/// both databases: under the `regex` crate's default size limit on SQLite, and under
/// PostgreSQL's complexity limit.
#[test]
fn the_largest_accepted_patterns_compile_on_sqlite() {
    for pattern in LARGEST {
        assert_eq!(regex_guard::check(pattern), Ok(()), "{pattern}");
        matches(sqlite(), pattern).expect(pattern);
    }
}

/// The same on PostgreSQL.
#[test]
#[ignore = "needs PostgreSQL"]
fn the_largest_accepted_patterns_compile_on_postgres() {
    for pattern in LARGEST {
        matches(postgres(), pattern).expect(pattern);
    }
}

/// The largest patterns the guard accepts.
const LARGEST: [&str; 8] = [
    r"\w{1,14}",
    r"(?i)\w{14}",
    r"\W{14}",
    r"((\d{10}){10}){2}",
    r"((.{10}){10}){10}",
    r"(?i)((\s{10}){10}){10}",
    r"(?i)(([a-zA-Z]{10}){10}){10}",
    r"(?:(?:a|b){10}){50}",
];

/// Most generated patterns pass the guard, so the property above tests something.
#[test]
fn most_generated_patterns_are_accepted() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut accepted, total) = (0, 500);
    for _ in 0..total {
        let p = full_pattern().new_tree(&mut runner).unwrap().current();
        accepted += usize::from(regex_guard::check(&p).is_ok());
    }
    assert!(accepted * 2 > total, "{accepted} of {total} accepted");
}
