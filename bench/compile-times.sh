#!/usr/bin/env bash
# What a resource costs at compile time, the figures issue 16 sets goals for:
#   - the expansion of the shop's product, whole (our items plus every derive they carry,
#     sea-orm's and serde's and schemars' included), in lines;
#   - a debug rebuild of the shop after an edit to one resource, and after adding one;
#   - a cold debug build of the shop's library (dependencies already built).
# Prints one line per figure. The tree is left as it was found (the edits are undone).
#
# The whole expansion needs rustc's -Zunpretty=expanded, a nightly flag; no nightly can be
# installed here, so it runs the stable compiler with RUSTC_BOOTSTRAP=1, for this one
# measuring build only (into its own target dir, so no other build sees the flag).
#
#   bash bench/compile-times.sh            # all figures
#   SKIP_COLD=1 bash bench/compile-times.sh
#   SKIP_EXPAND=1 SKIP_COLD=1 bash bench/compile-times.sh   # the edit and the add alone
set -euo pipefail
cd "$(dirname "$0")/.."

resources=examples/shop/src/resources.rs
app=examples/shop/src/lib.rs
backup=$(mktemp)
app_backup=$(mktemp)
cp "$resources" "$backup"
cp "$app" "$app_backup"
restore() { cp "$backup" "$resources"; cp "$app_backup" "$app"; rm -f "$backup" "$app_backup"; }
trap restore EXIT

seconds() { # runs "$@", prints its wall time in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.1f}')"
}

# 1. The product's expansion: the resources module expanded, cut to the product's items
#    (from its struct to the order's doc comment).
if [ -z "${SKIP_EXPAND:-}" ]; then
  expanded=$(mktemp)
  RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/expand cargo rustc -p shop --lib --quiet -- \
    -Zunpretty=expanded >"$expanded" 2>/dev/null
  product=$(awk '/^ *pub struct Product \{/{on=1} /^ *pub enum OrderStatus/{on=0} on' "$expanded" | wc -l)
  whole=$(wc -l <"$expanded")
  echo "product expansion: $product lines (the whole shop library: $whole)"
  rm -f "$expanded"
fi

# 2. Warm: an edit to one resource, then adding one (a copy of the category, renamed) and
#    mounting it beside the category, as an app adds a resource.
cargo build -p shop --quiet
printf '\n// edit %s\n' "$(date +%s%N)" >>"$resources"
echo "edit one resource: $(seconds cargo build -p shop) s"
cp "$backup" "$resources"
cargo build -p shop --quiet
python3 - "$resources" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
start = text.index("/// A product category")
end = text.index("/// Where a product is in its life.")
copy = text[start:end].replace("Category", "Shelf").replace("categories", "shelves")
open(path, "w").write(text + "\n" + copy)
PY
sed -i 's/^        \.resource::<Category>()$/&\n        .resource::<Shelf>()/' "$app"
grep -q 'resource::<Shelf>' "$app" || { echo "could not mount the new resource in $app" >&2; exit 1; }
echo "add one resource (declared and mounted): $(seconds cargo build -p shop) s"
cp "$backup" "$resources"
cp "$app_backup" "$app"

# 3. Cold: the shop's library and arc-runtime from scratch, dependencies kept.
if [ -z "${SKIP_COLD:-}" ]; then
  cargo clean -p shop -p arc-runtime -p arc-macros --quiet
  echo "cold (arc-macros, arc-runtime, shop): $(seconds cargo build -p shop) s"
fi
