# Shared by the compat suites (sourced, not run): build sessiond, run it on a temporary
# SQLite database, bootstrap users and tokens with the CLI, stop it again.
#
# After `compat_start [serve flags…]`: $SESSIOND (the binary), $DB (its database URL),
# $BASE (http://127.0.0.1:PORT), $WORK (a temporary directory removed on exit).

COMPAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

compat_build() {
  # The worktree's own target directory (whatever CARGO_TARGET_DIR says), debug profile:
  # `cargo test` in CI has built the same binary already, so this is normally a no-op.
  local target
  target="$(cd "$COMPAT_ROOT" && cargo metadata --format-version 1 --no-deps | jq -r .target_directory)"
  (cd "$COMPAT_ROOT" && cargo build --quiet --bin sessiond)
  SESSIOND="$target/debug/sessiond"
  [ -x "$SESSIOND" ] || { echo "no sessiond binary at $SESSIOND" >&2; return 1; }
}

compat_cleanup() {
  compat_stop
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}

# Starts `sessiond serve` on a free port; waits for its "listening" log line.
compat_start() {
  WORK="${WORK:-$(mktemp -d)}"
  trap compat_cleanup EXIT
  DB="sqlite://$WORK/sessiond.db"
  SESSIOND_DATABASE_URL="$DB" SESSIOND_LOG_FORMAT=json NO_COLOR=1 \
    "$SESSIOND" serve --listen 127.0.0.1:0 "$@" 2>"$WORK/server.log" &
  SERVER_PID=$!
  local addr="" i
  for i in $(seq 1 100); do
    addr="$(jq -r 'select(.fields.message == "sessiond listening") | .fields.address' "$WORK/server.log" 2>/dev/null | head -n 1)"
    [ -n "$addr" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "sessiond exited" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$addr" ] || { cat "$WORK/server.log" >&2; echo "sessiond did not start" >&2; return 1; }
  BASE="http://$addr"
}

# Stops the server started by compat_start (SIGTERM, graceful), if it is still running.
compat_stop() {
  if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# compat_user EMAIL NAME ROLE PASSWORD — creates a user offline; prints nothing.
compat_user() {
  printf '%s\n' "$4" | SESSIOND_DATABASE_URL="$DB" "$SESSIOND" user add --email "$1" --name "$2" --role "$3" --password-stdin >/dev/null
}

# compat_token EMAIL — prints a new API token for the user.
compat_token() {
  SESSIOND_DATABASE_URL="$DB" "$SESSIOND" token add --email "$1" --description compat | tail -n 1
}

# compat_user_id EMAIL PASSWORD — the user's id, from GET /api/v2/users/me.
compat_user_id() {
  curl -sf -u "$1:$2" "$BASE/api/v2/users/me.json" | jq -r .user.id
}
