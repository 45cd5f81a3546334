#!/usr/bin/env bash
# Measures GET /api/articles against a running server with wrk: seeds authors and
# articles through the API, then loads the global list anonymously and as a signed-in
# reader. Start the server with rate limiting off (CONDUIT_RATE_LIMIT__ENABLED=false),
# once with the cache (default) and once without (CONDUIT_CACHE__ENABLED=false), and
# compare.
#   tools/load/read-articles.sh ORIGIN [SECONDS] [CONNECTIONS]
set -euo pipefail
origin="${1:?usage: read-articles.sh ORIGIN [SECONDS] [CONNECTIONS]}"
seconds="${2:-15}"
connections="${3:-32}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
run="load$(date +%s)$RANDOM"
register() { # $1: name; prints the access token
  curl -fsS -X POST "$origin/api/users" -H 'content-type: application/json' \
    -d "{\"user\":{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"password123\"}}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["user"]["token"])'
}
echo "seeding 10 authors x 10 articles (3 tags each) ..."
for a in $(seq 1 10); do
  token="$(register "${run}a$a")"
  for n in $(seq 1 10); do
    curl -fsS -o /dev/null -X POST "$origin/api/articles" -H 'content-type: application/json' \
      -H "Authorization: Token $token" \
      -d "{\"article\":{\"title\":\"$run article $a-$n\",\"description\":\"load test\",\"body\":\"$(printf 'lorem ipsum %.0s' $(seq 1 50))\",\"tagList\":[\"t$((n % 5))\",\"load\",\"a$a\"]}}"
  done
done
reader="$(register "${run}r")"
echo
echo "== GET /api/articles, anonymous: ${seconds}s, $connections connections"
wrk -t2 -c"$connections" -d"${seconds}s" --latency "$origin/api/articles"
echo
echo "== GET /api/articles, signed in: ${seconds}s, $connections connections"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -H "Authorization: Token $reader" "$origin/api/articles"
