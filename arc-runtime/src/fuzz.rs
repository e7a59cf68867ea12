//! Property fuzzing on stable Rust: the query-string parser, keyset cursors and bearer tokens
//! take arbitrary and mangled input, and answer `Ok` or a 4xx, never a panic or a 500.
//!
//! The body decoder takes any JSON object, for a create or a patch, and answers values or
//! field errors (a 400), never a panic.
//!
//! A short run is part of `cargo test`; a long run is `ARC_FUZZ_CASES=100000 cargo test -p
//! arc-runtime --release --lib fuzz::`. Failures are kept by proptest in
//! `proptest-regressions/fuzz.txt` and re-run first.

use crate::resource::FieldSet;
use arc_runtime::ArcError;
use arc_runtime::AuthContext;
use arc_runtime::config::{JwtAuthenticator, JwtKeys};
use arc_runtime::config::{JwtSigner, TokenClaims};
use arc_runtime::prelude::*;
use arc_runtime::query::{CursorKey, QueryLimits, parse_query};
use proptest::prelude::*;

/// A stored enum, with serde's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Size {
    Small,
    ExtraLarge,
}

/// A resource with a field of each kind the grammar and the body decoder treat differently.
#[resource(query(
    filter = [name, price, ratio, status, maker, made_at, flag, note, size, count],
    sort = [name, price, ratio, made_at],
    search = [name]
))]
#[permissions(default = public)]
#[allow(
    dead_code,
    reason = "a fixture: the fuzzers read its field table, not its fields"
)]
pub(crate) struct Thing {
    #[field(id)]
    pub id: Uuid,
    #[field(max_len = 50)]
    pub name: String,
    pub price: i64,
    pub ratio: f64,
    #[field(one_of("draft", "active"))]
    pub status: String,
    pub maker: Option<Uuid>,
    pub made_at: DateTime<Utc>,
    pub flag: bool,
    pub note: Option<String>,
    pub size: Size,
    #[field(range(min = 0, max = 1000))]
    pub count: i32,
    pub amount: Option<Decimal>,
    pub extra: Option<Json>,
    #[field(system)]
    pub stamp: Option<DateTime<Utc>>,
    #[field(hidden)]
    pub secret: String,
    pub created_at: DateTime<Utc>,
}

const SECRET: &[u8] = b"a fuzzing secret of at least 32 bytes!!";

fn config() -> ProptestConfig {
    let cases = std::env::var("ARC_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Ok, or an error a client caused (4xx).
fn client_side<T>(result: &Result<T, ArcError>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let status = e.code().status().as_u16();
        prop_assert!((400..500).contains(&status), "{status}: {e}");
    }
    Ok(())
}

fn parse(raw: &str) -> Result<arc_runtime::query::QuerySpec, ArcError> {
    let meta = <Thing as Resource>::META;
    parse_query(
        meta,
        Some(raw),
        &CursorKey::new(b"k"),
        &QueryLimits::default(),
        FieldSet::visible(meta),
    )
}

/// A key of the grammar: a parameter name, a field with an operator, or noise.
fn param() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("name"),
        Just("price"),
        Just("ratio"),
        Just("status"),
        Just("maker"),
        Just("made_at"),
        Just("flag"),
        Just("note"),
        Just("secret"),
        Just("id"),
        Just("nope"),
    ];
    let op = prop_oneof![
        Just(""),
        Just("[eq]"),
        Just("[ne]"),
        Just("[gt]"),
        Just("[gte]"),
        Just("[lt]"),
        Just("[lte]"),
        Just("[in]"),
        Just("[nin]"),
        Just("[like]"),
        Just("[regex]"),
        Just("[exists]"),
        Just("[between]"),
        Just("["),
        Just("[]"),
    ];
    prop_oneof![
        1 => prop_oneof![
            Just("page"), Just("limit"), Just("after"), Just("sort"), Just("select"), Just("search")
        ]
        .prop_map(str::to_owned),
        3 => (field, op).prop_map(|(f, o)| format!("{f}{o}")),
        1 => "[a-z\\[\\]%]{0,8}",
    ]
}

/// A value: numbers (huge, negative, fractional), dates, uuids, lists, percent escapes
/// (including `%00` and bytes that are not UTF-8), regex-looking text, or anything.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        Just("9223372036854775808".to_owned()),
        Just("1e400".to_owned()),
        Just("2026-01-02".to_owned()),
        Just("2026-01-02T03:04:05%2B02:00".to_owned()),
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
        Just("true".to_owned()),
        Just("draft,active".to_owned()),
        Just("-price,name".to_owned()),
        Just("name,-price".to_owned()),
        "%[0-9A-Fa-f]{2}",
        "[(|)*+?{},.\\\\a-z0-9^$\\[\\]-]{0,20}",
        "\\PC{0,30}",
    ]
}

fn grammar_query() -> impl Strategy<Value = String> {
    proptest::collection::vec((param(), value()), 0..8).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// A valid cursor for `sort=price` and a mangled copy of it.
fn mangle(text: &str, how: u8, at: usize, byte: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = at % bytes.len().max(1);
    match how % 5 {
        0 => bytes[at] = byte,
        1 => bytes.truncate(at),
        2 => bytes.insert(at, byte),
        3 => {
            bytes.remove(at);
        }
        _ => bytes.extend_from_slice(text.as_bytes()),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    })
}

fn authenticate(
    auth: &JwtAuthenticator,
    header: &str,
) -> Option<Result<Option<AuthContext>, ArcError>> {
    use arc_runtime::config::Authenticator;
    let value = axum::http::HeaderValue::from_str(header).ok()?;
    let (parts, ()) = axum::http::Request::builder()
        .header("authorization", value)
        .body(())
        .ok()?
        .into_parts();
    Some(runtime().block_on(auth.authenticate(&parts)))
}

fn token(user: &str) -> String {
    let claims =
        TokenClaims::new(user, std::time::Duration::from_secs(600)).org("acme", &["admin"]);
    JwtSigner::hs256(SECRET)
        .expect("signer")
        .sign(&claims)
        .expect("token")
}

/// Any JSON value, with strings that hold NULs, escapes and non-ASCII text.
fn json_value() -> impl Strategy<Value = Json> {
    use serde_json::json;
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(9_223_372_036_854_775_807_i64)),
        Just(json!(1e300)),
        Just(json!("00000000-0000-0000-0000-000000000000")),
        Just(json!("2026-01-02T03:04:05Z")),
        Just(json!("draft")),
        Just(json!("extra_large")),
        Just(json!("12.50")),
        Just(json!(1000)),
        "\\PC{0,20}".prop_map(Json::from),
        "[\\x00-\\x7f]{0,8}".prop_map(Json::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::from),
            proptest::collection::btree_map("[a-z_]{0,6}", inner, 0..4)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// An object whose keys are mostly `Thing`'s own field names.
fn body() -> impl Strategy<Value = serde_json::Map<String, Json>> {
    let names: Vec<String> = <Thing as Resource>::META
        .fields
        .iter()
        .map(|f| f.name.to_owned())
        .collect();
    let key = prop_oneof![
        4 => proptest::sample::select(names),
        1 => "\\PC{0,10}",
    ];
    proptest::collection::btree_map(key, json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bodies_decode_without_panicking(map in body(), patch: bool) {
        use crate::crud::body::{self, Mode};
        let meta = <Thing as Resource>::META;
        let mut errors = Vec::new();
        let mode = if patch { Mode::Patch } else { Mode::Create };
        let values = body::decode(meta, FieldSet(u64::MAX), &map, mode, "", &mut errors);
        prop_assert!(values.len() <= meta.fields.len());
        if !errors.is_empty() {
            prop_assert_eq!(ArcError::validation(errors).code().status().as_u16(), 400);
        }
    }

    #[test]
    fn the_parser_takes_any_string(raw in "\\PC{0,200}") {
        client_side(&parse(&raw))?;
    }

    #[test]
    fn the_parser_takes_any_bytes_as_escapes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let raw: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        client_side(&parse(&format!("name={raw}")))?;
        client_side(&parse(&format!("{raw}={raw}")))?;
    }

    #[test]
    fn the_parser_takes_grammar_shaped_queries(raw in grammar_query()) {
        client_side(&parse(&raw))?;
    }

    #[test]
    fn cursors_take_any_string(raw in "\\PC{0,120}", sort in "[a-z,-]{0,12}") {
        let _ = CursorKey::new(b"k").decode(&sort, &raw);
        client_side(&parse(&format!("after={raw}&sort=price")))?;
    }

    #[test]
    fn mangled_cursors_are_refused(how: u8, at: usize, byte in 0x21u8..0x7f, price: i64) {
        let key = CursorKey::new(b"k");
        let values = [Some(price.to_string()), Some(Uuid::nil().to_string())];
        let cursor = key.encode("price,id", &values);
        let mangled = mangle(&cursor, how, at, byte);
        let decoded = key.decode("price,id", &mangled);
        if mangled != cursor {
            prop_assert!(decoded.is_err(), "{mangled} decoded: {decoded:?}");
        }
        client_side(&parse(&format!("after={mangled}&sort=price")))?;
    }

    #[test]
    fn tokens_take_any_bearer_string(raw in "\\PC{0,300}") {
        let auth = JwtAuthenticator::new(JwtKeys::hs256(SECRET).expect("keys"));
        for header in [format!("Bearer {raw}"), raw.clone()] {
            if let Some(result) = authenticate(&auth, &header) {
                client_side(&result)?;
                prop_assert!(!matches!(result, Ok(Some(_))), "{header} authenticated");
            }
        }
    }

    #[test]
    fn mangled_tokens_are_refused(how: u8, at: usize, byte in 0x21u8..0x7f) {
        let auth = JwtAuthenticator::new(JwtKeys::hs256(SECRET).expect("keys"));
        let good = token("ada");
        let mangled = mangle(&good, how, at, byte);
        if let Some(result) = authenticate(&auth, &format!("Bearer {mangled}")) {
            client_side(&result)?;
            if let Ok(Some(caller)) = &result {
                // Only the token itself (or one decoding to the same bytes) gets in, as its user.
                prop_assert_eq!(caller.user_id.as_deref(), Some("ada"), "{}", mangled);
                prop_assert!(mangled == good, "{} authenticated", mangled);
            }
        }
    }
}

#[test]
fn a_real_token_authenticates() {
    let auth = JwtAuthenticator::new(JwtKeys::hs256(SECRET).expect("keys"));
    let result = authenticate(&auth, &format!("Bearer {}", token("ada"))).expect("header");
    assert_eq!(result.unwrap().unwrap().user_id.as_deref(), Some("ada"));
}
