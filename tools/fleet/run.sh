#!/usr/bin/env bash
# The fleet test in one command (tools/fleet/fleet.py says what it checks): three
# instances of the server behind HAProxy, on PostgreSQL and Redis.
#   tools/fleet/run.sh
# Installs HAProxy from Debian's packages when it is missing; builds the server (debug)
# unless CONDUIT_BIN names one. TEST_DATABASE_URL (an admin URL; a database is created
# and dropped) and TEST_REDIS_URL default to the local servers; CONFORMANCE_DIR to the
# RealWorld suite beside the repository. With TEST_DATABASE_REPLICA_URL (a streaming
# replica of that server, tools/pg-replica/start.sh), the instances read from it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
if ! command -v haproxy >/dev/null; then
  echo "fleet: installing haproxy"
  apt-get install -y -qq haproxy >/dev/null
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conduit-target}"
server="${CONDUIT_BIN:-$CARGO_TARGET_DIR/debug/conduit}"
if [ -z "${CONDUIT_BIN:-}" ]; then
  (cd "$repo" && cargo build -q -p conduit-server --locked)
fi
conformance="${CONFORMANCE_DIR:-$repo/../shared/conformance/realworld}"
[ -x "$conformance/run.sh" ] || conformance=/work/shared/conformance/realworld
exec python3 "$repo/tools/fleet/fleet.py" --conduit "$server" \
  --database-admin "${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" \
  --redis "${TEST_REDIS_URL:-redis://127.0.0.1:6379}" \
  ${TEST_DATABASE_REPLICA_URL:+--replica "$TEST_DATABASE_REPLICA_URL"} \
  --conformance "$conformance" --seconds "${FLEET_SECONDS:-24}"
