#!/usr/bin/env bash
# Every example of the vendor's Sessions API page (shared/reference/zendesk-sessions-api.txt)
# run with plain curl against a local sessiond, the host replaced. Each example runs twice:
# as the page's curl line (`.json` suffix, `-u email:password`) and as its Go/Java/Node/
# Python/Ruby snippets send it (no suffix, `Content-Type: application/json`, an explicit
# `Authorization: Basic …` header). Status, content type and body shape are asserted; the
# body shape is compared with the page's own example response.
#
# The suite runs against two servers: the default one (a single session is an object) and
# one with --session-as-array, whose show bodies are the page's examples exactly.
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"

PASSWORD='compat-password-1'
PASSED=0
FAILED=0

# The page's example bodies, verbatim.
EX_SESSION='{"authenticated_at":"2014-11-18T17:24:29Z","id":3432,"last_seen_at":"2014-11-18T17:30:52Z","url":"https://company.zendesk.com/api/v2/users/12345/sessions/3432.json","user_id":12345}'
EX_LIST="{\"sessions\":[$EX_SESSION]}"
EX_SHOW_ARRAY="{\"session\":[$EX_SESSION]}"
EX_SHOW_OBJECT="{\"session\":$EX_SESSION}"
EX_RENEW='{"authenticity_token":"huU19Z76zNC9Yvt+i9p7MviIOlOIg/JWqEdf6nGmnu9JInV04fksCIdtNDvoYAoV"}'
NOT_FOUND='{"error":"RecordNotFound","description":"Not found"}'
FORBIDDEN='{"error":{"title":"Forbidden","message":"You do not have access to this page. Please contact the account owner of this help desk for further help."}}'

# Does a JSON value have the shape of the page's example? Objects: the same keys, each
# value fitting; arrays: every item fits the example's item; scalars: the same JSON type.
# Lists also carry the offset-pagination fields the page leaves out (SPEC §5), checked apart.
FITS='def fits($ex):
  if ($ex | type) == "object" then
    type == "object" and (keys == ($ex | keys)) and (. as $v | all($ex | keys[]; . as $k | $v[$k] | fits($ex[$k])))
  elif ($ex | type) == "array" then type == "array" and all(.[]; fits($ex[0]))
  else type == ($ex | type) end;
if ($ex | has("sessions")) then
  (.count | type) == "number" and (.next_page | type) == "null" and (.previous_page | type) == "null"
  and (del(.count, .next_page, .previous_page) | fits($ex))
else fits($ex) end'

pass() { PASSED=$((PASSED + 1)); echo "ok   $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }

# call FORM METHOD PATH [WHO] — one request. FORM is "curl" (the page's curl line) or "client"
# (the other snippets). WHO: an email (password auth, the default admin), or cookie:FILE.
# Sets STATUS, CTYPE and BODY.
call() {
  local form="$1" method="$2" path="$3" who="${4:-admin@example.com}" out hdr
  local args=(-s -o "$WORK/body" -D "$WORK/headers" -X "$method")
  case "$who" in
    cookie:*) args+=(-b "${who#cookie:}") ;;
    *)
      if [ "$form" = curl ]; then
        args+=(-u "$who:$PASSWORD")
      else
        args+=(-H "Authorization: Basic $(printf '%s:%s' "$who" "$PASSWORD" | base64 -w0)")
      fi
      ;;
  esac
  if [ "$form" = curl ]; then
    out="$BASE$path.json"
  else
    out="$BASE$path"
    args+=(-H 'Content-Type: application/json')
  fi
  STATUS="$(curl "${args[@]}" -w '%{http_code}' "$out")"
  hdr="$(tr -d '\r' <"$WORK/headers")"
  CTYPE="$(sed -n 's/^[Cc]ontent-[Tt]ype: //p' <<<"$hdr" | head -n 1)"
  BODY="$(cat "$WORK/body")"
}

# expect NAME STATUS [EXAMPLE_BODY [JQ_CHECK]] — after `call`: the status; for a body, the JSON
# content type, the shape of the example, and an optional jq expression that must be true.
# STATUS 204 (and 202) means an empty body with no content type.
expect() {
  local name="$1" status="$2" example="${3:-}" check="${4:-true}"
  if [ "$STATUS" != "$status" ]; then fail "$name" "status $STATUS, expected $status; body: $BODY"; return; fi
  if [ -z "$example" ]; then
    if [ -n "$BODY" ]; then fail "$name" "expected no body, got: $BODY"; return; fi
    pass "$name"; return
  fi
  if [ "$CTYPE" != "application/json; charset=utf-8" ]; then fail "$name" "content type '$CTYPE'"; return; fi
  if ! jq -e . >/dev/null 2>&1 <<<"$BODY"; then fail "$name" "not JSON: $BODY"; return; fi
  if ! jq -e --argjson ex "$example" "$FITS" >/dev/null <<<"$BODY"; then
    fail "$name" "$BODY does not have the shape of $example"; return
  fi
  if ! jq -e --arg base "$BASE" "$SESSION_OK $check" >/dev/null <<<"$BODY"; then fail "$name" "check '$check' is false for $BODY"; return; fi
  pass "$name"
}

# The checks every session object must pass (jq, with $base): the five fields, the timestamp
# form, the user and the url.
SESSION_OK='def session_ok($uid):
  keys == ["authenticated_at", "id", "last_seen_at", "url", "user_id"]
  and (.authenticated_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
  and (.last_seen_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))
  and .user_id == $uid
  and .url == "\($base)/api/v2/users/\($uid)/sessions/\(.id).json";'

sign_in() { # EMAIL JAR — a JSON sign-in, its cookie kept in the file JAR; prints the session id
  curl -sf -c "$2" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg e "$1" --arg p "$PASSWORD" '{email: $e, password: $p}')" \
    "$BASE/access/login" | jq -er '.session | if type == "array" then .[0].id else .id end'
}

# suite MODE — the whole page against one server. MODE "object" or "array".
suite() {
  local mode="$1" show_example form admin agent enduser s
  if [ "$mode" = array ]; then show_example="$EX_SHOW_ARRAY" s='.session[0]'; else show_example="$EX_SHOW_OBJECT" s='.session'; fi
  compat_user admin@example.com Admin admin "$PASSWORD"
  compat_user agent@example.com Agent agent "$PASSWORD"
  compat_user end@example.com End end-user "$PASSWORD"
  admin="$(compat_user_id admin@example.com "$PASSWORD")"
  agent="$(compat_user_id agent@example.com "$PASSWORD")"
  enduser="$(compat_user_id end@example.com "$PASSWORD")"

  for form in curl client; do
    local p="[$mode/$form]" a1 a2 e1 e2 e3 n_all a1_jar="$WORK/a1.jar" e1_jar="$WORK/e1.jar"
    a1="$(sign_in agent@example.com "$a1_jar")"
    a2="$(sign_in agent@example.com "$WORK/other.jar")"
    e1="$(sign_in end@example.com "$e1_jar")"
    e2="$(sign_in end@example.com "$WORK/other.jar")"
    e3="$(sign_in end@example.com "$WORK/other.jar")"

    # List Sessions: GET /api/v2/sessions — admins see every session, others their own.
    n_all="$(curl -s -u "admin@example.com:$PASSWORD" "$BASE/api/v2/sessions.json?per_page=100" | jq '.sessions | length')"
    call "$form" GET /api/v2/sessions
    expect "$p list sessions as admin" 200 "$EX_LIST" \
      "(.sessions | length) == $n_all and ([.sessions[].id] | contains([$a1,$a2,$e1,$e2,$e3])) and all(.sessions[]; session_ok(.user_id))"
    call "$form" GET /api/v2/sessions agent@example.com
    expect "$p list sessions as agent: only their own" 200 "$EX_LIST" \
      "([.sessions[].id] == [$a1,$a2]) and all(.sessions[]; session_ok($agent))"
    call "$form" GET /api/v2/sessions end@example.com
    expect "$p list sessions as end user: only their own" 200 "$EX_LIST" "[.sessions[].id] == [$e1,$e2,$e3]"

    # List Sessions: GET /api/v2/users/{user_id}/sessions
    call "$form" GET "/api/v2/users/$enduser/sessions"
    expect "$p list a user's sessions as admin" 200 "$EX_LIST" \
      "([.sessions[].id] == [$e1,$e2,$e3]) and all(.sessions[]; session_ok($enduser))"
    call "$form" GET "/api/v2/users/$enduser/sessions" end@example.com
    expect "$p list own sessions by id as end user" 200 "$EX_LIST" "[.sessions[].id] == [$e1,$e2,$e3]"
    call "$form" GET "/api/v2/users/$agent/sessions" end@example.com
    expect "$p list another user's sessions as end user: 403" 403 "$FORBIDDEN" ". == $FORBIDDEN"

    # Show Session: GET /api/v2/users/{user_id}/sessions/{session_id}
    call "$form" GET "/api/v2/users/$agent/sessions/$a1"
    expect "$p show session as admin" 200 "$show_example" "$s.id == $a1 and ($s | session_ok($agent))"
    call "$form" GET "/api/v2/users/$agent/sessions/$a2" agent@example.com
    expect "$p show own session as agent" 200 "$show_example" "$s.id == $a2 and ($s | session_ok($agent))"
    call "$form" GET "/api/v2/users/$agent/sessions/$a1" end@example.com
    expect "$p show another user's session as end user: 403" 403 "$FORBIDDEN" ". == $FORBIDDEN"
    call "$form" GET "/api/v2/users/$enduser/sessions/$a1"
    expect "$p show a session under the wrong user: 404" 404 "$NOT_FOUND" ". == $NOT_FOUND"

    # Show the Currently Authenticated Session: GET /api/v2/users/me/session
    call "$form" GET /api/v2/users/me/session
    expect "$p show current session with basic auth: none, 404" 404 "$NOT_FOUND" ". == $NOT_FOUND"
    call "$form" GET /api/v2/users/me/session "cookie:$e1_jar"
    expect "$p show current session with the session cookie" 200 "$show_example" \
      "$s.id == $e1 and ($s | session_ok($enduser))"

    # Renew the current session: GET /api/v2/users/me/session/renew
    call "$form" GET /api/v2/users/me/session/renew end@example.com
    expect "$p renew with basic auth" 200 "$EX_RENEW" '.authenticity_token | length > 20'
    call "$form" GET /api/v2/users/me/session/renew "cookie:$e1_jar"
    expect "$p renew with the session cookie" 200 "$EX_RENEW" '.authenticity_token | length > 20'

    # Delete Session: DELETE /api/v2/users/{user_id}/sessions/{session_id}
    call "$form" DELETE "/api/v2/users/$enduser/sessions/$e2"
    expect "$p delete session as admin" 204
    call "$form" GET "/api/v2/users/$enduser/sessions/$e2"
    expect "$p a deleted session is gone" 404 "$NOT_FOUND" ". == $NOT_FOUND"
    call "$form" DELETE "/api/v2/users/$agent/sessions/$a2" agent@example.com
    expect "$p delete own session as agent" 204
    call "$form" DELETE "/api/v2/users/$agent/sessions/$a1" end@example.com
    expect "$p delete another user's session as end user: 403" 403 "$FORBIDDEN" ". == $FORBIDDEN"
    call "$form" GET "/api/v2/users/$agent/sessions"
    expect "$p after the deletes the agent has one session left" 200 "$EX_LIST" "[.sessions[].id] == [$a1]"

    # Delete the Authenticated Session: GET and DELETE /api/v2/users/me/logout. With basic
    # auth there is no current session, so nothing happens.
    call "$form" DELETE /api/v2/users/me/logout end@example.com
    expect "$p logout (DELETE) with basic auth" 204
    call "$form" GET /api/v2/users/me/logout end@example.com
    expect "$p logout (GET) with basic auth" 204
    call "$form" GET "/api/v2/users/$enduser/sessions"
    expect "$p logout with basic auth had no effect" 200 "$EX_LIST" "[.sessions[].id] == [$e1,$e3]"
    # With the cookie (a write, so the CSRF token goes along) it ends that session only.
    local csrf
    csrf="$(curl -s -b "$e1_jar" "$BASE/api/v2/users/me/session/renew.json" | jq -r .authenticity_token)"
    STATUS="$(curl -s -o /dev/null -w '%{http_code}' -b "$e1_jar" -H "X-CSRF-Token: $csrf" -X DELETE \
      "$BASE/api/v2/users/me/logout$([ "$form" = curl ] && echo .json)")"
    BODY=""
    expect "$p logout (DELETE) with the session cookie" 204
    call "$form" GET /api/v2/users/me/session "cookie:$e1_jar"
    expect "$p the logged-out cookie is refused" 401 '{"error":"x"}' '. == {"error":"Couldn'"'"'t authenticate you"}'
    call "$form" GET "/api/v2/users/$enduser/sessions"
    expect "$p logout ended only that session" 200 "$EX_LIST" "[.sessions[].id] == [$e3]"

    # Bulk Delete Sessions: DELETE /api/v2/users/{user_id}/sessions
    call "$form" DELETE "/api/v2/users/$agent/sessions" end@example.com
    expect "$p bulk delete another user's sessions as end user: 403" 403 "$FORBIDDEN" ". == $FORBIDDEN"
    call "$form" DELETE "/api/v2/users/$agent/sessions"
    expect "$p bulk delete as admin" 204
    call "$form" DELETE "/api/v2/users/$agent/sessions"
    expect "$p bulk delete again: idempotent" 204
    call "$form" GET /api/v2/users/me/session "cookie:$a1_jar"
    expect "$p a bulk-deleted cookie is refused" 401 '{"error":"x"}' '. == {"error":"Couldn'"'"'t authenticate you"}'
    call "$form" DELETE "/api/v2/users/$enduser/sessions" end@example.com
    expect "$p bulk delete own sessions as end user" 204
    call "$form" GET /api/v2/sessions
    expect "$p after the bulk deletes nobody has a session" 200 "$EX_LIST" '.sessions == []'
  done

  # What nobody may do: no credentials, or wrong ones (401 with the exact body and header).
  STATUS="$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$BASE/api/v2/sessions.json")"
  BODY="$(cat "$WORK/body")"; CTYPE="$(tr -d '\r' <"$WORK/headers" | sed -n 's/^[Cc]ontent-[Tt]ype: //p')"
  expect "[$mode] list sessions without credentials: 401" 401 '{"error":"x"}' '. == {"error":"Couldn'"'"'t authenticate you"}'
  if tr -d '\r' <"$WORK/headers" | grep -qix 'www-authenticate: Basic realm="Web Password"'; then
    pass "[$mode] 401 carries WWW-Authenticate: Basic realm=\"Web Password\""
  else
    fail "[$mode] 401 carries WWW-Authenticate" "$(cat "$WORK/headers")"
  fi
}

compat_build
compat_start
suite object
compat_stop
rm -f "$WORK/sessiond.db"*
compat_start --session-as-array
suite array
compat_stop

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
