#!/usr/bin/env bash
# The read table of docs/performance.md in one command: each read of ours against the
# floor, `conduit-floor` (a bare poem server with no middleware) serving the bytes of
# that very response, interleaved and repeated, medians reported.
#
# Seeds through the API 40 articles of 2,000 characters by 4 authors, and a reader who
# follows all four (on an empty database the feed's first page is then the global
# list's); captures each response; starts the floor on those bytes; then per round runs
# wrk on every read, ours then the floor's. Start the server with rate limiting off
# (CONDUIT_RATE_LIMIT__ENABLED=false) and a release build of the floor:
#   cargo build --release -p conduit-loadtest --bin conduit-floor
#   tools/load/reads.sh ORIGIN [SECONDS] [ROUNDS] [CONNECTIONS]
# FLOOR names the floor's binary (default: $CARGO_TARGET_DIR or target, release),
# FLOOR_ADDRESS where it listens (default 127.0.0.1:8090).
set -euo pipefail
origin="${1:?usage: reads.sh ORIGIN [SECONDS] [ROUNDS] [CONNECTIONS]}"
seconds="${2:-5}"
rounds="${3:-3}"
connections="${4:-16}"
floor="${FLOOR:-${CARGO_TARGET_DIR:-target}/release/conduit-floor}"
floor_address="${FLOOR_ADDRESS:-127.0.0.1:8090}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -x "$floor" ] || { echo "no floor at $floor: cargo build --release -p conduit-loadtest --bin conduit-floor" >&2; exit 1; }
run="reads$(date +%s)$RANDOM"
work="$(mktemp -d)"
trap 'kill "${floor_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

register() { # $1: name; prints the access token
  curl -fsS -X POST "$origin/api/users" -H 'content-type: application/json' \
    -d "{\"user\":{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"password123\"}}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["token"])'
}
body="$(python3 -c 'print(("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 36)[:2000])')"
reader="$(register "${run}r")"
slug=""
echo "seeding 4 authors x 10 articles of 2,000 characters; the reader follows them ..."
for a in 1 2 3 4; do
  token="$(register "${run}a$a")"
  curl -fsS -o /dev/null -X POST "$origin/api/profiles/${run}a$a/follow" -H "Authorization: Token $reader"
  for n in $(seq 1 10); do
    slug="$(curl -fsS -X POST "$origin/api/articles" -H 'content-type: application/json' \
      -H "Authorization: Token $token" \
      -d "{\"article\":{\"title\":\"$run article $a-$n\",\"description\":\"load test\",\"body\":\"$body\",\"tagList\":[\"t$((n % 5))\",\"load\"]}}" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["article"]["slug"])')"
  done
done

# name|path|signed in
reads=(
  "list-anonymous|/api/articles|"
  "list-signed-in|/api/articles|yes"
  "feed|/api/articles/feed|yes"
  "article|/api/articles/$slug|"
  "live|/health/live|"
)
mkdir "$work/bytes"
for read in "${reads[@]}"; do
  IFS='|' read -r name path signed <<<"$read"
  auth=(); [ -n "$signed" ] && auth=(-H "Authorization: Token $reader")
  curl -fsS "${auth[@]}" "$origin$path" -o "$work/bytes/$name"
done
"$floor" "$floor_address" "$work/bytes" 2>"$work/floor.log" &
floor_pid=$!
sleep 1

measure() { # $1: label, then wrk's arguments; appends "label rps p99_ms" to results
  local label="$1"; shift
  wrk -t1 -c"$connections" -d"${seconds}s" --latency "$@" >"$work/wrk.out"
  python3 - "$label" "$work/wrk.out" >>"$work/results" <<'PY'
import re, sys
label, out = sys.argv[1], open(sys.argv[2]).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", out).groups()
p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(label, rps, p99, bad.group(1) if bad else 0)
PY
}
for round in $(seq 1 "$rounds"); do
  echo "round $round of $rounds ..."
  for read in "${reads[@]}"; do
    IFS='|' read -r name path signed <<<"$read"
    auth=(); [ -n "$signed" ] && auth=(-H "Authorization: Token $reader")
    measure "ours:$name" "${auth[@]}" "$origin$path"
    measure "floor:$name" "http://$floor_address/$name"
  done
done

python3 - "$work/results" "$work/bytes" <<'PY'
import os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, rps, p99, bad = line.split()
    side, name = label.split(":")
    rows.setdefault(name, {}).setdefault(side, []).append((float(rps), float(p99), int(bad)))
print()
print("| read | bytes | ours req/s | ours p99 | floor req/s | ours / floor |")
print("|---|---|---|---|---|---|")
for name, sides in rows.items():
    ours = statistics.median(r for r, _, _ in sides["ours"])
    p99 = statistics.median(p for _, p, _ in sides["ours"])
    floor = statistics.median(r for r, _, _ in sides["floor"])
    bad = sum(b for _, _, b in sides["ours"])
    size = os.path.getsize(os.path.join(sys.argv[2], name))
    note = f" ({bad} non-2xx!)" if bad else ""
    print(f"| {name} | {size:,} | {ours:,.0f} | {p99:.2f} ms | {floor:,.0f} | {100 * ours / floor:.0f}%{note} |")
PY
