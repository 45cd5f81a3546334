#!/usr/bin/env bash
# What binding access tokens to their session (ADR 0009) costs an authenticated request,
# measured with wrk: two server binaries (before and after the change, or any two) are
# started in turn on the same kind of store, each gets the same data through the API, and
# the same requests are loaded against each, the binaries interleaved and the whole round
# repeated (the machine is noisy: compare within a round). Requests: `GET /api/user`
# signed in (the cheapest authenticated read: the session check is most of its work),
# `GET /api/articles` signed in and anonymously (the anonymous one does no session check:
# the control).
#   tools/load/session-check.sh BEFORE_BINARY AFTER_BINARY [STORE] [SECONDS] [ROUNDS] [CONNECTIONS]
# STORE: `sqlite` (default; sessions in the database) or `redis` (PostgreSQL at
# $PG_URL, default postgres://postgres@127.0.0.1:5432/test, with sessions in Redis at
# $REDIS_URL, default redis://127.0.0.1:6379; a database is created and dropped per run).
set -euo pipefail
before="${1:?usage: session-check.sh BEFORE_BINARY AFTER_BINARY [STORE] [SECONDS] [ROUNDS] [CONNECTIONS]}"
after="${2:?usage: session-check.sh BEFORE_BINARY AFTER_BINARY [STORE] [SECONDS] [ROUNDS] [CONNECTIONS]}"
store="${3:-sqlite}"
seconds="${4:-10}"
rounds="${5:-3}"
connections="${6:-16}"
pg_url="${PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
work="$(mktemp -d)"
port=$((30000 + RANDOM % 10000))
origin="http://127.0.0.1:$port"
pid=""
stop() { [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; pid=""; }; }
created=()
cleanup() {
  stop
  for name in "${created[@]}"; do
    psql "$pg_url" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1 || true
    redis-cli -u "$redis_url" --scan --pattern "$name:*" | xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

start() { # $1: binary, $2: label; a fresh store each time
  local db redis="" name
  name="sc_$(date +%s)_$RANDOM"
  case "$store" in
    sqlite) db="sqlite://$work/$name.db?mode=rwc" ;;
    redis)
      psql "$pg_url" -qc "CREATE DATABASE $name" >/dev/null
      created+=("$name")
      db="${pg_url%/*}/$name" redis="$redis_url" ;;
    *) echo "unknown store $store" >&2; exit 1 ;;
  esac
  CONDUIT_SERVER__PORT="$port" DATABASE_URL="$db" REDIS_URL="$redis" \
    CONDUIT_REDIS__KEY_PREFIX="$name:" CONDUIT_RATE_LIMIT__ENABLED=false \
    CONDUIT_LOG__FILTER=warn RUST_LOG=warn "$1" >"$work/$2.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do curl -fsS "$origin/health/live" >/dev/null 2>&1 && break; sleep 0.1; done
  token="$(curl -fsS -X POST "$origin/api/users" -H 'content-type: application/json' \
    -d '{"user":{"username":"reader","email":"reader@example.com","password":"password123"}}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["token"])')"
  for n in $(seq 1 20); do
    curl -fsS -o /dev/null -X POST "$origin/api/articles" -H 'content-type: application/json' \
      -H "Authorization: Token $token" \
      -d "{\"article\":{\"title\":\"article $n\",\"description\":\"load\",\"body\":\"$(printf 'lorem ipsum %.0s' $(seq 1 40))\",\"tagList\":[\"t$((n % 4))\"]}}"
  done
}

load() { # $1: path, then curl/wrk header options; prints "req/s p99"
  local path="$1" out
  shift
  out="$(wrk -t1 -c"$connections" -d"${seconds}s" --latency "$@" "$origin$path")"
  echo "$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out")"
}

echo "store: $store; wrk -t1 -c$connections, ${seconds}s per request, $rounds rounds"
echo "round binary request req/s p99"
for round in $(seq 1 "$rounds"); do
  for which in before after; do
    bin="$before"; [ "$which" = after ] && bin="$after"
    start "$bin" "$which-$round"
    echo "$round $which user-signed-in $(load /api/user -H "Authorization: Token $token")"
    echo "$round $which articles-signed-in $(load /api/articles -H "Authorization: Token $token")"
    echo "$round $which articles-anonymous $(load /api/articles)"
    stop
  done
done
