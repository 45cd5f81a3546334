#!/usr/bin/env bash
# The figures of docs/scaling.md: the read-heavy mix (browse:70,read:28,write:2, 50 users)
# at a fixed rate against a fresh copy of a seeded database (10,000 users and articles),
# PostgreSQL and Redis local; prints the CPU each process spends per request (server,
# PostgreSQL, Redis, the load tool), Redis commands and PostgreSQL transactions per
# request, and the server's peak memory.
#   tools/load/capacity.sh LABEL [THROTTLE] [SECONDS]
# Release builds of the server and the load tool are expected (SERVER_BIN, LOAD_BIN;
# default: $CARGO_TARGET_DIR or target, release). PG_ADMIN (default
# postgres://postgres@127.0.0.1:5432/test); the Redis at 127.0.0.1:6379, database 7 (flushed).
set -euo pipefail
label="${1:?usage: capacity.sh LABEL [THROTTLE] [SECONDS]}"
throttle="${2:-1120}"
seconds="${3:-40}"
target="${CARGO_TARGET_DIR:-target}/release"
server="${SERVER_BIN:-$target/conduit}"
load="${LOAD_BIN:-$target/conduit-load}"
admin="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
base="${admin%/*}"
port="${PORT:-8184}"
template=capacity_seed
db="capacity_$label"
work="$(mktemp -d)"
if [ "$(psql "$admin" -Atc "SELECT count(*) FROM pg_database WHERE datname = '$template'")" = 0 ]; then
  psql "$admin" -qc "CREATE DATABASE $template"
  DATABASE_URL="$base/$template" "$server" seed --users 10000 --articles 10000 >/dev/null
fi
psql "$admin" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db TEMPLATE $template"
redis-cli -n 7 flushdb >/dev/null
DATABASE_URL="$base/$db" REDIS_URL=redis://127.0.0.1:6379/7 CONDUIT_RATE_LIMIT__ENABLED=false \
  CONDUIT_LOG__FORMAT=json PORT="$port" "$server" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.2; done
ticks() { # user + system clock ticks of the given processes
  local t=0 p
  for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
postgres_pids() { pgrep -x postgres; pgrep -f '^postgres:'; }
redis_pid="$(pgrep -f 'redis-server .*:6379' | head -n 1)"
requests() { grep -c '"conduit::http"' "$work/server.log" || true; }
sample() { # prints: server postgres redis load commands transactions requests time
  echo "$(ticks $pid) $(ticks $(postgres_pids)) $(ticks "$redis_pid") $(ticks "$lpid")" \
    "$(redis-cli info stats | awk -F: '/total_commands_processed/ {print $2}' | tr -d '\r')" \
    "$(psql "$admin" -Atc 'SELECT sum(xact_commit + xact_rollback) FROM pg_database d JOIN pg_stat_database s ON s.datid = d.oid')" \
    "$(requests) $(date +%s.%N)"
}
CONDUIT_LOAD_MIX=browse:70,read:28,write:2 "$load" --host "http://127.0.0.1:$port" --users 50 \
  --increase-rate 50 --run-time "${seconds}s" --throttle-requests "$throttle" \
  --report-file "$work/report.html" >"$work/load.log" 2>&1 &
lpid=$!
sleep 5 # past the sign-ups
before="$(sample)"
sleep $((seconds - 10))
after="$(sample)"
peak="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
wait "$lpid" || true
python3 - "$label" "$before" "$after" "$peak" "$(getconf CLK_TCK)" <<'PY'
import sys
label, before, after, peak, hz = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), int(sys.argv[4]), int(sys.argv[5])
d = [float(a) - float(b) for a, b in zip(after, before)]
n, elapsed = d[6], d[7]
print(f"{label}: {n / elapsed:,.0f} req/s over {elapsed:.0f} s ({n:.0f} requests)")
for name, ticks in zip(("server", "postgres", "redis", "load tool"), d[:4]):
    print(f"  {name:10s} {ticks / hz / elapsed:5.2f} cores  {ticks / hz * 1e6 / n:7.1f} us CPU per request")
print(f"  redis commands/request {d[4] / n:.2f}   pg transactions/request {d[5] / n:.3f}   peak RSS {peak / 1024:.1f} MiB")
PY
