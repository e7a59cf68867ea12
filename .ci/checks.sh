#!/usr/bin/env bash
# The static checks, run by .ci/run before the tests (and by hand: `bash .ci/checks.sh`):
# formatting, clippy with warnings denied, rustdoc with warnings denied, each feature of
# arc-runtime alone, the licences, bans and sources of the dependency graph (cargo-deny), and
# what can be checked of the declared MSRV offline. Each step prints its time; any failure
# stops the run. cargo-hack and cargo-deny are installed (pinned) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_hack_version=0.6.46
cargo_deny_version=0.20.2

step() {
  local name=$1
  shift
  echo "== $name"
  local start=$SECONDS
  "$@"
  echo "== $name: ok in $((SECONDS - start)) s"
}

# `cargo install` of a pinned version when the installed one differs. cargo-deny's release
# profile asks for fat LTO and one codegen unit; without them it builds in about half the
# time on this machine's two cores, and runs on our graph in a few seconds either way.
install_tool() {
  local tool=$1 version=$2
  if [ "$(cargo "${tool#cargo-}" --version 2>/dev/null)" != "$tool $version" ]; then
    echo "installing $tool $version"
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install "$tool" --version "$version" --locked --quiet
  fi
}

step "cargo fmt --check" cargo fmt --all --check

step "clippy, warnings denied" \
  cargo clippy --workspace --all-targets --locked -- -D warnings

step "rustdoc, warnings denied" \
  env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

# Each feature of arc-runtime alone (and none, and all), without the dev-dependencies that
# would turn features on behind its back. Clippy rather than `check`, so that an import only
# one feature uses is an error in the combinations without it.
install_tool cargo-hack "$cargo_hack_version"
step "arc-runtime, each feature alone (cargo-hack)" \
  cargo hack clippy -p arc-runtime --each-feature --no-dev-deps --quiet -- -D warnings

# deny.toml says what is allowed. The advisory database (RustSec) is a git repository this
# machine cannot fetch, so `advisories` is not checked here: said on every run, never skipped
# silently.
install_tool cargo-deny "$cargo_deny_version"
step "cargo deny check licenses bans sources" \
  cargo deny --log-level error check licenses bans sources
echo "NOTE: cargo deny check advisories NOT run: the RustSec advisory database cannot be fetched from this machine"

# The MSRV (rust-version in Cargo.toml) cannot be built here: only the installed toolchain
# exists and no other can be installed. What is checked offline: clippy's `incompatible_msrv`
# lint (above, denied) refuses standard-library items stabilised after the MSRV, and no
# dependency in Cargo.lock may declare a newer rust-version than ours. Language features newer
# than the MSRV are not caught.
msrv_dependencies() {
  local host program
  host=$(rustc -vV | sed -n 's/^host: //p')
  program=$(cat <<'PY'
import json, sys
meta = json.load(sys.stdin)
members = set(meta["workspace_members"])
version = lambda v: tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members}
if len(ours) != 1 or None in ours:
    sys.exit(f"workspace members declare different rust-versions: {sorted(map(str, ours))}")
msrv = ours.pop()
newer = [f"{p['name']} {p['version']} needs Rust {p['rust_version']}"
         for p in meta["packages"]
         if p["id"] not in members and p["rust_version"]
         and version(p["rust_version"]) > version(msrv)]
if newer:
    sys.exit(f"dependencies newer than the MSRV {msrv}:\n  " + "\n  ".join(newer))
print(f"MSRV {msrv}: no dependency declares a newer rust-version ({len(meta['packages'])} packages)")
PY
)
  cargo metadata --format-version 1 --locked --filter-platform "$host" | python3 -c "$program"
}
step "MSRV: dependencies' rust-version" msrv_dependencies
echo "NOTE: MSRV $(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml) is declared but built only with the installed toolchain ($(rustc --version)); no other toolchain can be installed here"
