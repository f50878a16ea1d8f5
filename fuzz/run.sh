#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60). cargo-fuzz needs unstable compiler
# flags; RUSTC_BOOTSTRAP lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${1:-60}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
passed=0; failed=0
for target in authorization cookie cursor query path_id; do
  mkdir -p "corpus/$target"
  if cargo fuzz run --sanitizer none "$target" "corpus/$target" -- -max_total_time="$SECONDS_EACH" -max_len=4096; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
