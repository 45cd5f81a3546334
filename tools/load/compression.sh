#!/usr/bin/env bash
# Compares GET /api/articles unencoded and with each coding (ADR 0024) against a running
# server with wrk: bytes per answer, then requests per second and p99 per coding, the
# codings interleaved and the whole round repeated (the machine is noisy: compare within
# a round). Seed the server first (`conduit seed`, README) and run it with rate limiting
# off (CONDUIT_RATE_LIMIT__ENABLED=false).
#   tools/load/compression.sh ORIGIN [SECONDS] [ROUNDS] [CONNECTIONS] [PATH]
set -euo pipefail
origin="${1:?usage: compression.sh ORIGIN [SECONDS] [ROUNDS] [CONNECTIONS] [PATH]}"
seconds="${2:-10}"
rounds="${3:-3}"
connections="${4:-32}"
path="${5:-/api/articles}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
codings=(identity gzip br zstd)

echo "== bytes per answer of $path"
for coding in "${codings[@]}"; do
  printf '%-8s %s\n' "$coding" "$(curl -fsS -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $coding" "$origin$path")"
done

echo "== wrk: ${seconds}s per coding, $connections connections, $rounds rounds"
echo "round coding req/s p99"
for round in $(seq 1 "$rounds"); do
  for coding in "${codings[@]}"; do
    out="$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Accept-Encoding: $coding" "$origin$path")"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    echo "$round $coding $rps $p99"
  done
done
