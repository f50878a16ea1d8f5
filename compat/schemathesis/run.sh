#!/usr/bin/env bash
# Schemathesis drives a running sessiond from its own OpenAPI document
# (/api/v2/openapi.json): every operation, authenticated as an admin and as an end user (API
# tokens), with the checks for server errors, status codes, content types, response headers
# and response schema conformance. Bounded for CI: MAX_EXAMPLES per operation and phase
# (default 25); set MAX_EXAMPLES higher for a longer pass, KEEP_OUTPUT=/some/prefix to keep
# schemathesis's full output.
# Prints "N passed, M failed" last (test cases); exits non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"

MAX_EXAMPLES="${MAX_EXAMPLES:-25}"
PASSWORD='compat-password-1'
VENV="$HERE/.venv"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance

if ! [ -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
fi
compat_build
# The rate limit is the one thing raised: the fuzzer sends thousands of requests a minute
# as one user, and 429s would hide everything else.
compat_start --rate-limit 100000000

compat_user admin@example.com Admin admin "$PASSWORD"
compat_user eve@example.com Eve end-user "$PASSWORD"
compat_user victim@example.com Victim agent "$PASSWORD"
ADMIN_ID="$(compat_user_id admin@example.com "$PASSWORD")"
EVE_ID="$(compat_user_id eve@example.com "$PASSWORD")"
VICTIM_ID="$(compat_user_id victim@example.com "$PASSWORD")"
token_with_id() { # EMAIL → "ID TOKEN"
  local out
  out="$(SESSIOND_DATABASE_URL="$DB" "$SESSIOND" token add --email "$1" --description schemathesis)"
  echo "$(sed -n 's/^created API token \([0-9]*\) .*/\1/p' <<<"$out") $(tail -n 1 <<<"$out")"
}
read -r ADMIN_TOKEN_ID ADMIN_TOKEN <<<"$(token_with_id admin@example.com)"
read -r EVE_TOKEN_ID EVE_TOKEN <<<"$(token_with_id eve@example.com)"
# An OAuth token, so that deleting one can succeed too.
curl -sf -o /dev/null -u "admin@example.com/token:$ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d "{\"token\":{\"user_id\":$VICTIM_ID,\"scopes\":[\"read\"]}}" "$BASE/api/v2/oauth/tokens"

# Live sessions of each user, for hooks.py to ask for by their real ids and owners some of
# the time, so that shows and deletes get past 404. Made before any pass: the fuzzer's
# failed sign-ins soon throttle every sign-in from this address (SPEC §8), and that is
# right, so none can be made later.
owners=()
for who in "$ADMIN_ID:admin@example.com" "$EVE_ID:eve@example.com" "$VICTIM_ID:victim@example.com"; do
  for _ in 1 2 3 4 5; do
    id="$(curl -sS --fail-with-body -H 'Content-Type: application/json' \
      -d "$(jq -nc --arg e "${who#*:}" --arg p "$PASSWORD" '{email: $e, password: $p}')" "$BASE/access/login" |
      jq -e .session.id)" || { echo "sign-in of ${who#*:} failed"; echo "0 passed, 1 failed"; exit 1; }
    owners+=("$id:${who%%:*}")
  done
done
export SESSIOND_SESSION_OWNERS="$(IFS=,; echo "${owners[*]}")"

export SCHEMATHESIS_HOOKS="$HERE/hooks.py"
export SESSIOND_PROTECTED_USERS="$ADMIN_ID,$EVE_ID" SESSIOND_PROTECTED_TOKENS="$ADMIN_TOKEN_ID,$EVE_TOKEN_ID"
export SESSIOND_SACRIFICE_USER="$VICTIM_ID" SESSIOND_TOKEN_IDS="1,2,3"

PASSED=0
FAILED=0
status=0
fuzz() { # NAME EMAIL TOKEN
  local out="$WORK/schemathesis-$1.txt" line generated=0 passed=0 failed=0 rc=0
  echo "== schemathesis as $1 ($2), up to $MAX_EXAMPLES examples per operation and phase"
  (cd "$WORK" && "$VENV/bin/schemathesis" --config-file "$HERE/schemathesis.toml" --no-color \
    run "$BASE/api/v2/openapi.json" \
    --checks "$CHECKS" \
    --header "Authorization: Basic $(printf '%s/token:%s' "$2" "$3" | base64 -w0)" \
    --max-examples "$MAX_EXAMPLES" --max-redirects 0 --workers 1) >"$out" 2>&1 || rc=$?
  [ -z "${KEEP_OUTPUT:-}" ] || cp "$out" "$KEEP_OUTPUT-$1.txt"
  sed -n '/SUMMARY/,$p' "$out"
  # "Test cases: 2125 generated, 2125 passed" or "…, 2125 generated, found 1 unique failure".
  line="$(grep -E '^ *[0-9]+ generated' "$out" | tail -n 1 || true)"
  [[ "$line" =~ ([0-9]+)\ generated ]] && generated="${BASH_REMATCH[1]}"
  [[ "$line" =~ ([0-9]+)\ unique\ failure ]] && failed="${BASH_REMATCH[1]}"
  if [[ "$line" =~ ([0-9]+)\ passed ]]; then passed="${BASH_REMATCH[1]}"; else passed=$((generated - failed)); fi
  if [ "$rc" -ne 0 ] || [ "$generated" -eq 0 ]; then
    [ "$rc" -ne 0 ] || rc=1
    [ "$failed" -gt 0 ] || failed=1
    echo "--- schemathesis as $1 failed (exit $rc); its full output:"
    cat "$out"
  fi
  PASSED=$((PASSED + passed))
  FAILED=$((FAILED + failed))
  [ "$rc" -eq 0 ] || status=$rc
}
fuzz end-user eve@example.com "$EVE_TOKEN"
fuzz admin admin@example.com "$ADMIN_TOKEN"
compat_stop
[ -z "${KEEP_OUTPUT:-}" ] || cp "$WORK/server.log" "$KEEP_OUTPUT-server.log"

echo "$PASSED passed, $FAILED failed"
exit "$status"
