#!/usr/bin/env bash
# node-zendesk 6 against a real sessiond: builds the binary if needed, starts it on a
# temporary SQLite database, creates users and API tokens with the CLI, seeds more than 250
# sessions for one account through JSON sign-ins (seed.js; the only way sessions are born), runs the
# suite with node's built-in test runner, stops the server.
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"

AGENT_SESSIONS="${AGENT_SESSIONS:-260}"
PASSWORD='compat-password-1'

[ -d "$HERE/node_modules/node-zendesk" ] || (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
compat_build
echo "built in ${SECONDS}s"
compat_start

compat_user admin@example.com Admin admin "$PASSWORD"
compat_user ada@example.com Ada agent "$PASSWORD"
compat_user eve@example.com Eve end-user "$PASSWORD"
compat_user bob@example.com Bob end-user "$PASSWORD"
compat_user carl@example.com Carl agent "$PASSWORD"
compat_user dave@example.com Dave end-user "$PASSWORD"

# Seeding: every sign-in is a real password check (Argon2id); seed.js runs two at a time
# (the machine has two cores), well under the sign-in throttle, which counts attempts in flight.
: >"$WORK/seed.jsonl"
node "$HERE/seed.js" "$BASE" "$PASSWORD" "$WORK/seed.jsonl" \
  admin@example.com=2 ada@example.com="$AGENT_SESSIONS" eve@example.com=3 bob@example.com=2 \
  carl@example.com=2 dave@example.com=2
echo "seeded $(wc -l <"$WORK/seed.jsonl") sessions in ${SECONDS}s"

export SESSIOND_URL="$BASE" SEED_FILE="$WORK/seed.jsonl" PASSWORD
export ADMIN_TOKEN="$(compat_token admin@example.com)"
export ADA_TOKEN="$(compat_token ada@example.com)"
export EVE_TOKEN="$(compat_token eve@example.com)"

status=0
(cd "$HERE" && node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$WORK/results.tap" \
  test/sessions.test.js) || status=$?
compat_stop

passed="$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$WORK/results.tap" | tail -n 1)"
failed="$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$WORK/results.tap" | tail -n 1)"
if [ "$status" -ne 0 ] || [ -z "$passed" ] || [ "${failed:-1}" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "--- server log (last 40 lines)"; tail -n 40 "$WORK/server.log"
  [ "$status" -ne 0 ] || status=1
  [ "${failed:-0}" -gt 0 ] || failed=1
fi
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
