#!/usr/bin/env bash
# Browser tests of the web pages (issue 9): builds sessiond, starts it on a free loopback
# port with a throwaway SQLite database, creates users with the CLI, and drives the pages in
# headless Chromium (Debian's /usr/bin/chromium) with playwright-core.
#
#   tests/browser/run.sh
#
# Needs: the Rust toolchain, node + npm, chromium (apt-get install -y chromium).
# Screenshots of each page land in tests/browser/artifacts/ (not committed), with the
# server's log. The last line is "N passed, M failed"; the exit code is non-zero on failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
artifacts="$here/artifacts"

setup_failed() {
  echo "browser suite setup failed: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

chromium_bin="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium_bin" ] || setup_failed "$chromium_bin not found (apt-get install -y chromium)"
command -v node >/dev/null || setup_failed "node not found (apt-get install -y nodejs npm)"

echo "== building sessiond"
(cd "$root" && cargo build --quiet --bin sessiond) || setup_failed "cargo build"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
bin="$target_dir/debug/sessiond"
[ -x "$bin" ] || setup_failed "no binary at $bin"

if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  echo "== npm ci"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) || setup_failed "npm ci"
fi

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [ -f "$tmp/server.log" ] && cp "$tmp/server.log" "$artifacts/server.log" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
rm -rf "$artifacts"
mkdir -p "$artifacts"

export SESSIOND_DATABASE_URL="sqlite://$tmp/sessiond.db"
export PASSWORD="browser-suite-password"
export ADMIN_EMAIL="grace@example.com"
export USER_EMAIL="ada@example.com"
export HOSTILE_EMAIL="mallory@example.com"
export DEVICES_EMAIL="katherine@example.com"

echo "== creating users"
add_user() { printf '%s\n' "$PASSWORD" | "$bin" user add --email "$1" --name "$2" --role "$3" --password-stdin >/dev/null; }
add_user "$ADMIN_EMAIL" "Grace Hopper" admin || setup_failed "user add (admin)"
add_user "$USER_EMAIL" "Ada Lovelace" end-user || setup_failed "user add (user)"
add_user "$HOSTILE_EMAIL" "<script>alert(1)</script>" end-user || setup_failed "user add (hostile)"
add_user "$DEVICES_EMAIL" "Katherine Johnson" agent || setup_failed "user add (devices)"

echo "== starting sessiond"
# The browser contexts play devices behind a reverse proxy on 127.0.0.1: each sends its own
# X-Forwarded-For, which the server believes only because of --trusted-proxy.
SESSIOND_LOG_FORMAT=json SESSIOND_LOG=info "$bin" serve --listen 127.0.0.1:0 --trusted-proxy 127.0.0.1 \
  2>"$tmp/server.log" &
server_pid=$!
address=""
for _ in $(seq 1 300); do
  address="$(grep -o '"address":"127\.0\.0\.1:[0-9]*"' "$tmp/server.log" 2>/dev/null | head -n 1 | cut -d'"' -f4 || true)"
  [ -n "$address" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.log" >&2; setup_failed "sessiond exited"; }
  sleep 0.1
done
[ -n "$address" ] || { cat "$tmp/server.log" >&2; setup_failed "sessiond did not start"; }
echo "   listening on http://$address"

echo "== browser suite ($("$chromium_bin" --version 2>/dev/null | head -n 1))"
set +e
BASE_URL="http://$address" ARTIFACTS="$artifacts" CHROMIUM="$chromium_bin" \
  node "$here/sessions.test.mjs"
status=$?
set -e
exit "$status"
