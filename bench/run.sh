#!/usr/bin/env bash
# bench/run.sh — the sessiond benchmark, in one command.
#
# Builds the release binaries, seeds sessiond (SQLite, and PostgreSQL unless skipped) and the
# tower-sessions peer, runs the load scenarios against servers on 127.0.0.1 only, prints one
# markdown table and appends it to BENCHMARKS.md. Exit 0 when everything ran (a missed target
# is reported in the table, not by the exit code), non-zero when something failed to run.
#
# Knobs (environment):
#   BENCH_SECONDS     measured seconds per load (default 8; each load also warms up 2 s)
#   BENCH_WALK_SECONDS  seconds per listing walk (default 4; six pairs of walks are run)
#   BENCH_SKIP_PG=1   skip the PostgreSQL scenario
#   BENCH_SESSIOND    sessiond binary to benchmark (default: the one this script builds)
#   CARGO_TARGET_DIR  honoured as by cargo (default: target/ of this repository)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECS=${BENCH_SECONDS:-8}
WALK_SECS=${BENCH_WALK_SECONDS:-4}
WARM=2
CONNS=64
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
SESSIOND=${BENCH_SESSIOND:-$BIN/sessiond}
DRIVER=$BIN/bench-driver

say() { echo "[bench +${SECONDS}s] $*" >&2; }
die() {
    say "FAILED: $*"
    exit 1
}

# --- tools ------------------------------------------------------------------------------------
command -v curl >/dev/null || die "curl is needed"
if ! command -v jq >/dev/null; then
    say "installing jq"
    apt-get update -qq && apt-get install -y -qq jq >/dev/null
fi
command -v python3 >/dev/null || die "python3 is needed (to pick free ports)"

# --- build ------------------------------------------------------------------------------------
say "building release binaries"
cargo build --release --workspace --bins
# The peer is a workspace of its own (sqlx 0.8; see Cargo.toml); same target directory.
CARGO_TARGET_DIR=$TARGET_DIR cargo build --release --manifest-path bench/peer/Cargo.toml

# --- temp dir and servers, cleaned up on any exit -----------------------------------------------
WORK=$(mktemp -d -t sessiond-bench.XXXXXX)
RES=$WORK/results
mkdir -p "$RES" "$WORK/logs"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_sessiond NAME DATABASE_URL: sets SERVER_URL and SERVER_PID once /healthz answers 200.
start_sessiond() {
    local name=$1 db=$2 port i
    port=$(free_port)
    "$SESSIOND" --database-url "$db" serve --listen "127.0.0.1:$port" --rate-limit 1000000 \
        >"$WORK/logs/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    SERVER_URL=http://127.0.0.1:$port
    for i in $(seq 1 300); do
        if curl -fsS -o /dev/null "$SERVER_URL/healthz" 2>/dev/null; then
            curl -fsS -o /dev/null "$SERVER_URL/readyz" || die "$name: /readyz is not 200"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited; log: $(tail -5 "$WORK/logs/$name.log")"
        sleep 0.1
    done
    die "$name did not become healthy in 30 s"
}

# start_listener NAME CMD...: for the bench tools, which print `listening on ADDR` first.
start_listener() {
    local name=$1 i
    shift
    "$@" >"$WORK/logs/$name.out" 2>"$WORK/logs/$name.err" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for i in $(seq 1 100); do
        if grep -q '^listening on ' "$WORK/logs/$name.out" 2>/dev/null; then
            SERVER_URL=http://$(head -1 "$WORK/logs/$name.out" | awk '{print $3}')
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited: $(tail -5 "$WORK/logs/$name.err")"
        sleep 0.1
    done
    die "$name did not print its address in 10 s"
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# drive NAME ARGS...: runs bench-driver, keeps its JSON line in $RES/NAME.json.
drive() {
    local name=$1
    shift
    say "scenario: $name"
    "$DRIVER" "$@" >"$RES/$name.json" 2>"$WORK/logs/$name.driver.err" ||
        die "$name: the driver failed: $(cat "$WORK/logs/$name.driver.err") $(cat "$RES/$name.json")"
}

# load NAME URL ARGS...: the standard closed-loop load (64 connections, warmup, measured time).
load() {
    local name=$1 url=$2
    shift 2
    drive "$name" load --url "$url" --connections "$CONNS" --warmup "$WARM" --duration "$SECS" "$@"
}

# Sum of every sample of sessiond_store_writes_total with kind="last_seen" (any other labels);
# "missing" when /metrics has no such sample (so a silent 0 cannot pass the target).
last_seen_writes() {
    curl -fsS "$1/metrics" | awk '
        /^sessiond_store_writes_total\{/ && /kind="last_seen"/ {
            line = $0; sub(/^[^}]*\}[ \t]*/, "", line); split(line, f, /[ \t]+/); sum += f[1]; found = 1
        }
        END { if (found) printf "%d\n", sum; else print "missing" }'
}

rss_mb() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

seconds_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# --- seeding --------------------------------------------------------------------------------------
# PostgreSQL is seeded beside SQLite and the peer (nothing is measured yet), then vacuumed and
# analysed, so that no autovacuum of the fresh rows runs during a measurement later.
PG_SEED_PID=
if [[ ${BENCH_SKIP_PG:-0} != 1 ]]; then
    say "seeding sessiond PostgreSQL: 1,000,000 sessions (in the background)"
    psql -q -h 127.0.0.1 -U postgres -d test -c 'DROP DATABASE IF EXISTS sessiond_bench' \
        -c 'CREATE DATABASE sessiond_bench' || die "cannot create sessiond_bench (BENCH_SKIP_PG=1 skips PostgreSQL)"
    PG_URL=postgres://postgres@127.0.0.1:5432/sessiond_bench
    (
        t=$(date +%s.%N)
        "$SESSIOND" --database-url "$PG_URL" bench-seed --sessions 1000000 --live 10000 \
            --bulk-user-sessions 100000 --out "$WORK/seedpg" >"$WORK/logs/seed-pg.log" 2>&1 &&
            psql -q -h 127.0.0.1 -U postgres -d sessiond_bench -c 'VACUUM (ANALYZE)' >>"$WORK/logs/seed-pg.log" 2>&1 &&
            seconds_since "$t" >"$WORK/seed-pg.seconds"
    ) &
    PG_SEED_PID=$!
    PIDS+=("$PG_SEED_PID")
fi
say "seeding sessiond SQLite: 1,000,000 sessions"
t=$(date +%s.%N)
"$SESSIOND" --database-url "sqlite://$WORK/s.db" bench-seed --sessions 1000000 --live 10000 \
    --bulk-user-sessions 100000 --out "$WORK/seed" || die "bench-seed (SQLite, 1M)"
SEED_SQLITE_S=$(seconds_since "$t")
"$SESSIOND" --database-url "sqlite://$WORK/s1k.db" bench-seed --sessions 1000 --live 100 \
    --bulk-user-sessions 0 --out "$WORK/seed1k" || die "bench-seed (SQLite, 1k)"
COOKIE_NAME=$(tr -d '[:space:]' <"$WORK/seed/cookie_name.txt")
ADMIN=$(head -1 "$WORK/seed/admin.txt")
ADMIN_1K=$(head -1 "$WORK/seed1k/admin.txt")
BULK_USER=$(tr -d '[:space:]' <"$WORK/seed/bulk_user_id.txt")

say "seeding the tower-sessions peer: 1,000,000 sessions"
t=$(date +%s.%N)
"$BIN/bench-peer" seed --db "$WORK/peer.db" --sessions 1000000 --live 10000 --out "$WORK/peer-cookies.txt"
SEED_PEER_S=$(seconds_since "$t")
SEED_PG_S=
if [[ -n $PG_SEED_PID ]]; then
    wait "$PG_SEED_PID" || die "bench-seed (PostgreSQL, 1M): $(tail -5 "$WORK/logs/seed-pg.log")"
    SEED_PG_S=$(cat "$WORK/seed-pg.seconds")
fi

# --- SQLite server, baseline ------------------------------------------------------------------------
start_sessiond sessiond-sqlite "sqlite://$WORK/s.db"
S=$SERVER_URL
S_PID=$SERVER_PID
IDLE_RSS=$(rss_mb "$S_PID" VmRSS)

# The baseline answers with the very bytes sessiond answers to the session check.
curl -fsS -H "Cookie: $COOKIE_NAME=$(head -1 "$WORK/seed/cookies.txt")" \
    "$S/api/v2/users/me/session" -o "$WORK/me.json" || die "sessiond's session check with a seeded cookie"
start_listener baseline "$BIN/bench-baseline" --listen 127.0.0.1:0 --body-file "$WORK/me.json"
B=$SERVER_URL
B_PID=$SERVER_PID

# --- 1. cookie checks (and 4. last_seen writes) -----------------------------------------------------
load baseline "$B/api/v2/users/me/session"
stop_server "$B_PID"
WRITES_BEFORE=$(last_seen_writes "$S")
load sqlite_cookie "$S/api/v2/users/me/session" --cookies "$WORK/seed/cookies.txt" --cookie-name "$COOKIE_NAME"
WRITES_AFTER=$(last_seen_writes "$S")
LIVE=$(grep -c . "$WORK/seed/cookies.txt")

# --- 2. API token and OAuth bearer checks (GET /api/v2/users/me: token callers have no session) -----
load sqlite_api_token "$S/api/v2/users/me" --headers-file "$WORK/seed/api_tokens.txt"
load sqlite_bearer "$S/api/v2/users/me" --headers-file "$WORK/seed/bearer.txt"

# --- 3. listings at 1M (1k below, on its own server) ------------------------------------------------
walk() {
    local name=$1 url=$2 auth=$3
    shift 3
    drive "$name" walk --url "$url" --header "$auth" --duration "$WALK_SECS" "$@"
}
# Like the flood below, p99 on a shared machine drifts between minutes, so 1M and 1k are walked
# in turn, three pairs, with the 1k server running beside the 1M one; the table reports the
# median pair (all three are printed).
start_sessiond sessiond-sqlite-1k "sqlite://$WORK/s1k.db"
K=$SERVER_URL
K_PID=$SERVER_PID
for pair in 1 2 3; do
    walk "list_cursor_1m_$pair" "$S/api/v2/sessions?page[size]=100" "$ADMIN"
    walk "list_cursor_1k_$pair" "$K/api/v2/sessions?page[size]=100" "$ADMIN_1K"
    walk "list_offset_1m_10_$pair" "$S/api/v2/sessions?per_page=100" "$ADMIN" --max-pages 10
    walk "list_offset_1k_$pair" "$K/api/v2/sessions?per_page=100" "$ADMIN_1K"
done
stop_server "$K_PID"
walk list_offset_1m_100 "$S/api/v2/sessions?per_page=100" "$ADMIN" --max-pages 100

# --- 5. sign-in flood beside the cookie check ----------------------------------------------------------
# p99 is what a flood moves, and p99 on a shared machine drifts from minute to minute; so each
# flood window is compared with a quiet window measured just before it, three pairs in a row,
# and the table reports the median pair (all three are printed).
for pair in 1 2 3; do
    load "sqlite_cookie_quiet_$pair" "$S/api/v2/users/me/session" --cookies "$WORK/seed/cookies.txt" \
        --cookie-name "$COOKIE_NAME"
    "$DRIVER" load --url "$S/access/login" --method POST --body-file "$WORK/seed/signin.json" \
        --content-type application/json --connections 32 --warmup "$WARM" --duration "$SECS" \
        >"$RES/signin_flood_$pair.json" 2>"$WORK/logs/signin_flood_$pair.driver.err" &
    FLOOD_PID=$!
    load "sqlite_cookie_flood_$pair" "$S/api/v2/users/me/session" --cookies "$WORK/seed/cookies.txt" \
        --cookie-name "$COOKIE_NAME"
    wait "$FLOOD_PID" ||
        die "sign-in flood: $(cat "$WORK/logs/signin_flood_$pair.driver.err") $(cat "$RES/signin_flood_$pair.json")"
done

# --- 6. bulk delete of 100,000 sessions beside the cookie check (other users' cookies) ----------------
load sqlite_cookie_bulk "$S/api/v2/users/me/session" --cookies "$WORK/seed/cookies.txt" \
    --cookie-name "$COOKIE_NAME" &
BULK_LOAD_PID=$!
sleep "$((WARM + 1))"
"$DRIVER" timed --method DELETE --url "$S/api/v2/users/$BULK_USER/sessions" --header "$ADMIN" \
    >"$RES/bulk_delete.json" || die "bulk delete request"
wait "$BULK_LOAD_PID" || die "cookie check during the bulk delete"

# --- 7. memory ------------------------------------------------------------------------------------------
PEAK_RSS=$(rss_mb "$S_PID" VmHWM)
stop_server "$S_PID"

# --- the peer -------------------------------------------------------------------------------------------
start_listener peer "$BIN/bench-peer" serve --listen 127.0.0.1:0 --db "$WORK/peer.db"
load peer_cookie "$SERVER_URL/api/v2/users/me/session" --cookies "$WORK/peer-cookies.txt" --cookie-name id
stop_server "$SERVER_PID"

# --- PostgreSQL ------------------------------------------------------------------------------------------
if [[ -n $SEED_PG_S ]]; then
    start_sessiond sessiond-pg "$PG_URL"
    load pg_cookie "$SERVER_URL/api/v2/users/me/session" --cookies "$WORK/seedpg/cookies.txt" \
        --cookie-name "$(tr -d '[:space:]' <"$WORK/seedpg/cookie_name.txt")"
    stop_server "$SERVER_PID"
fi

# --- the table ---------------------------------------------------------------------------------------------
# Each result is one JSON line; `field NAME KEY` reads one number from it.
field() { jq -r ".$2" "$RES/$1.json"; }
# calc EXPR: awk arithmetic, two decimals ("n/a" when dividing by zero).
calc() { awk "BEGIN { d = 1; $1; if (d == 0) print \"n/a\"; else printf \"%.2f\", r }"; }
ratio() { calc "d = $2; if (d != 0) r = $1 / d"; }
# holds EXPR: "yes" or "**no**" by an awk condition ("n/a" when a ratio in it was).
holds() {
    if [[ $1 == *n/a* ]]; then echo n/a; elif awk "BEGIN { exit !($1) }"; then echo yes; else echo "**no**"; fi
}

# median_pair NUM DEN: of pairs 1–3, the one whose p99 ratio NUM_i / DEN_i is the median, as
# "RATIO PAIR R1 R2 R3" (the three ratios ascending; "n/a", no ratio, sorts first).
median_pair() {
    local pairs
    pairs=$(for pair in 1 2 3; do
        echo "$(ratio "$(field "$1_$pair" p99_ms)" "$(field "$2_$pair" p99_ms)") $pair"
    done | sort -g)
    echo "$(echo "$pairs" | sed -n 2p) $(echo "$pairs" | awk '{print $1}' | paste -sd ' ')"
}

BASE_RPS=$(field baseline rps)
rows=()
# row SCENARIO REQS P50 P99 RATIO TARGET HOLDS
row() { rows+=("| $1 | $2 | $3 | $4 | $5 | $6 | $7 |"); }
# load_row NAME LABEL [TARGET HOLDS]: a load result, its req/s as a fraction of the baseline's.
load_row() {
    row "$2" "$(field "$1" rps)" "$(field "$1" p50_ms)" "$(field "$1" p99_ms)" \
        "$(ratio "$(field "$1" rps)" "$BASE_RPS")× baseline req/s" "${3:--}" "${4:--}"
}
# walk_row NAME LABEL RATIO [TARGET HOLDS]: pages/s over the walk's duration.
walk_row() {
    row "$2" "$(calc "r = $(field "$1" pages) / $WALK_SECS")" "$(field "$1" p50_ms)" "$(field "$1" p99_ms)" "$3" \
        "${4:--}" "${5:--}"
}

row "baseline (axum, fixed answer)" "$BASE_RPS" "$(field baseline p50_ms)" "$(field baseline p99_ms)" 1.00 - -
SQ_RPS=$(field sqlite_cookie rps)
PEER_RPS=$(field peer_cookie rps)
SQ_BASE=$(ratio "$SQ_RPS" "$BASE_RPS")
SQ_PEER=$(ratio "$SQ_RPS" "$PEER_RPS")
row "sessiond SQLite cookie check, 1M sessions stored" "$SQ_RPS" "$(field sqlite_cookie p50_ms)" \
    "$(field sqlite_cookie p99_ms)" "${SQ_BASE}× baseline, ${SQ_PEER}× peer" "≥ 0.5× baseline, ≥ 2× peer" \
    "$(holds "$SQ_BASE >= 0.5 && $SQ_PEER >= 2")"
load_row peer_cookie "tower-sessions + SQLite store cookie check, 1M sessions stored"
if [[ -n $SEED_PG_S ]]; then
    PG_BASE=$(ratio "$(field pg_cookie rps)" "$BASE_RPS")
    load_row pg_cookie "sessiond PostgreSQL cookie check, 1M sessions stored" "≥ 0.4× baseline" \
        "$(holds "$PG_BASE >= 0.4")"
else
    row "sessiond PostgreSQL cookie check" - - - "skipped (BENCH_SKIP_PG=1)" - -
fi
load_row sqlite_api_token "sessiond SQLite API-token check (1,000 users)" "≥ 0.5× baseline" \
    "$(holds "$(ratio "$(field sqlite_api_token rps)" "$BASE_RPS") >= 0.5")"
load_row sqlite_bearer "sessiond SQLite OAuth bearer check (1,000 users)" "≥ 0.5× baseline" \
    "$(holds "$(ratio "$(field sqlite_bearer rps)" "$BASE_RPS") >= 0.5")"

read -r CUR CUR_PAIR CUR_ALL < <(median_pair list_cursor_1m list_cursor_1k)
read -r OFF10 OFF_PAIR OFF_ALL < <(median_pair list_offset_1m_10 list_offset_1k)
OFF100=$(ratio "$(field list_offset_1m_100 p99_ms)" "$(field "list_offset_1k_$OFF_PAIR" p99_ms)")
walk_row "list_cursor_1m_$CUR_PAIR" "admin listing, cursor page[size]=100, 1M sessions (pages/s)" \
    "p99 1M/1k = $CUR (median of pairs: $CUR_ALL)" "≤ 1.5" "$(holds "$CUR <= 1.5")"
walk_row "list_cursor_1k_$CUR_PAIR" "admin listing, cursor page[size]=100, 1k sessions (pages/s)" 1.00
walk_row "list_offset_1m_10_$OFF_PAIR" "admin listing, offset per_page=100, 1M, pages 1–10 (pages/s)" \
    "p99 1M/1k = $OFF10 (median of pairs: $OFF_ALL)" "≤ 1.5 (same pages)" "$(holds "$OFF10 <= 1.5")"
walk_row list_offset_1m_100 "admin listing, offset per_page=100, 1M, pages 1–100 (pages/s)" "p99 1M/1k = $OFF100"
walk_row "list_offset_1k_$OFF_PAIR" "admin listing, offset per_page=100, 1k sessions (pages/s)" 1.00

if [[ $WRITES_BEFORE == missing || $WRITES_AFTER == missing ]]; then
    row "last_seen writes during the SQLite cookie check" - - - \
        'no sessiond_store_writes_total{kind="last_seen"} in /metrics' "≤ 1 per session" n/a
else
    WRITES=$((WRITES_AFTER - WRITES_BEFORE))
    row "last_seen writes during the SQLite cookie check" - - - \
        "$WRITES writes / $LIVE sessions = $(ratio "$WRITES" "$LIVE")" "≤ 1 per session" "$(holds "$WRITES <= $LIVE")"
fi

read -r FLOOD_RATIO FLOOD_PAIR FLOOD_ALL < <(median_pair sqlite_cookie_flood sqlite_cookie_quiet)
row "SQLite cookie check without a flood (the median pair's quiet window)" "$(field "sqlite_cookie_quiet_$FLOOD_PAIR" rps)" \
    "$(field "sqlite_cookie_quiet_$FLOOD_PAIR" p50_ms)" "$(field "sqlite_cookie_quiet_$FLOOD_PAIR" p99_ms)" \
    "$(ratio "$(field "sqlite_cookie_quiet_$FLOOD_PAIR" rps)" "$BASE_RPS")× baseline req/s" - -
row "SQLite cookie check during a sign-in flood (32 conns: $(field "signin_flood_$FLOOD_PAIR" rps) sign-ins/s)" \
    "$(field "sqlite_cookie_flood_$FLOOD_PAIR" rps)" "$(field "sqlite_cookie_flood_$FLOOD_PAIR" p50_ms)" \
    "$(field "sqlite_cookie_flood_$FLOOD_PAIR" p99_ms)" \
    "p99 flood/no flood = $FLOOD_RATIO (median of pairs: $FLOOD_ALL)" "≤ 2" "$(holds "$FLOOD_RATIO <= 2")"

BULK_P99=$(field sqlite_cookie_bulk p99_ms)
row "SQLite cookie check during the bulk delete of 100,000 sessions" "$(field sqlite_cookie_bulk rps)" \
    "$(field sqlite_cookie_bulk p50_ms)" "$BULK_P99" \
    "delete: $(field bulk_delete ms) ms (HTTP $(field bulk_delete status))" "p99 ≤ 100 ms" \
    "$(holds "$BULK_P99 <= 100 && $(field bulk_delete status) < 300")"

row "sessiond SQLite idle RSS (just ready)" - - - "$IDLE_RSS MB" "≤ 30 MB" "$(holds "$IDLE_RSS <= 30")"
row "sessiond SQLite peak RSS (after all SQLite scenarios)" - - - "$PEAK_RSS MB" "≤ 150 MB" \
    "$(holds "$PEAK_RSS <= 150")"

# Anything that was not a clean 2xx is worth a note under the table.
notes=()
for f in "$RES"/*.json; do
    n=$(basename "$f" .json)
    bad=$(jq -r 'if (.errors // 0) + (.non2xx // 0) > 0 then "\(.errors) errors, \(.non2xx) non-2xx" else empty end' "$f")
    [[ -z $bad ]] || notes+=("- $n: $bad")
done

TABLE=$(
    echo "| scenario | req/s | p50 ms | p99 ms | ratio | target | holds? |"
    echo "|---|---:|---:|---:|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Loads: $CONNS keep-alive connections, ${WARM} s warmup + ${SECS} s measured; walks: 1 connection, ${WALK_SECS} s each."
    echo "Seeding: sessiond SQLite 1M in ${SEED_SQLITE_S} s; peer 1M in ${SEED_PEER_S} s${SEED_PG_S:+; sessiond PostgreSQL 1M (beside those two, with VACUUM ANALYZE) in ${SEED_PG_S} s}."
    echo "API-token and bearer checks ask \`GET /api/v2/users/me\` (token callers have no current session)."
    if ((${#notes[@]})); then
        echo
        echo "Not all answers were 2xx:"
        printf '%s\n' "${notes[@]}"
    fi
)
echo
echo "$TABLE"

# --- BENCHMARKS.md -------------------------------------------------------------------------------------
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes)"
CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
if [[ ! -f BENCHMARKS.md ]]; then
    cat >BENCHMARKS.md <<'EOF'
# Benchmarks

Each section below is one run of `bench/run.sh` on the machine it names: sessiond against a
fixed-answer axum server (the baseline) and against axum + tower-sessions with its SQLite store
(the peer), all on 127.0.0.1, driven by `bench-driver`. Ratios compare with the baseline of the
same run; compare runs only on the same machine.

## Runs
EOF
fi
{
    echo
    echo "### $(date -u)"
    echo
    echo "nproc: $(nproc); CPU: ${CPU:-unknown}; commit: $COMMIT"
    echo
    echo "$TABLE"
    echo
    echo "Command: \`bench/run.sh\`${BENCH_SECONDS:+ (BENCH_SECONDS=$BENCH_SECONDS)}${BENCH_SKIP_PG:+ (BENCH_SKIP_PG=$BENCH_SKIP_PG)}"
} >>BENCHMARKS.md
say "appended to BENCHMARKS.md"
