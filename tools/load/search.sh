#!/usr/bin/env bash
# Measures full-text search (GET /api/articles?q=) against a running server with wrk,
# one run per query so that each gets its own latency distribution: a word no article
# has, common words alone and together, and a word within a tag. Point it at a server
# over a seeded database (`conduit seed`, whose articles draw from an 80-word
# vocabulary: each seeded word is in about half the articles) with rate limiting off
# (CONDUIT_RATE_LIMIT__ENABLED=false); a release build.
#   tools/load/search.sh ORIGIN [SECONDS] [CONNECTIONS]
set -euo pipefail
origin="${1:?usage: search.sh ORIGIN [SECONDS] [CONNECTIONS]}"
seconds="${2:-15}"
connections="${3:-8}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
queries=(
  "q=okapi"                        # a rare word (none in seeded text; add it to some)
  "q=quiet"                        # one common word
  "q=quiet%20river"                # two words, both needed
  "q=robust%20lazy%20kitchen"      # three words
  "q=quiet&tag=rust-tips"          # a word within a less common tag
  "q=quiet&tag=rust"               # a common word within the most used tag
  "q=okapi&tag=rust"               # a rare word within the most used tag
  "q=quiet&offset=500"             # a deep page of a common word
)
for query in "${queries[@]}"; do
  echo
  echo "== GET /api/articles?$query: ${seconds}s, $connections connections"
  curl -fsS "$origin/api/articles?$query&limit=1" |
    python3 -c 'import json, sys; print("articlesCount:", json.load(sys.stdin)["articlesCount"])'
  wrk -t2 -c"$connections" -d"${seconds}s" --latency "$origin/api/articles?$query"
done
