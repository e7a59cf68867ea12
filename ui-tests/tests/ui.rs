//! Compile-time diagnostics of `#[resource]` and `#[derive(Enum)]`: every error case fails
//! with its reviewed `.stderr`; the pass cases compile.
//! Regenerate after a reviewed change with `TRYBUILD=overwrite cargo test -p ui-tests`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
