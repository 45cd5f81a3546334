#!/usr/bin/env bash
# Starts a streaming replica of the local PostgreSQL server on a loopback port, for the
# replica tests and the fleet (ADR 0032): a base backup of the primary (pg_basebackup,
# WAL streamed, standby.signal written), started as a hot standby with its files in
# DIR/data. Prints the replica's URL without a database
# (postgres://postgres@127.0.0.1:PORT) once it accepts connections and streams.
#
#   tools/pg-replica/start.sh PORT DIR [PRIMARY_URL]   # start; DIR is created
#   tools/pg-replica/start.sh --stop DIR               # stop it
#
# PRIMARY_URL defaults to postgres://postgres@127.0.0.1:5432/test. The primary must
# accept replication connections from 127.0.0.1; when its pg_hba.conf has no rule for
# them, one (trust, loopback only) is added and the configuration reloaded, which needs
# write access to that file (root, as in CI). Run as root, the server runs as the
# postgres user (PostgreSQL refuses root), so DIR's parent must be searchable by it.
set -euo pipefail

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

if [ "${1:-}" = "--stop" ]; then
  dir="${2:?usage: start.sh --stop DIR}"
  [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  exit 0
fi

port="${1:?usage: start.sh PORT DIR [PRIMARY_URL]}"
dir="${2:?usage: start.sh PORT DIR [PRIMARY_URL]}"
primary="${3:-postgres://postgres@127.0.0.1:5432/test}"

rules="$(psql "$primary" -Atc "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) AND (address IS NULL OR address = '127.0.0.1')")"
if [ "$rules" = 0 ]; then
  hba="$(psql "$primary" -Atc 'SHOW hba_file')"
  echo "host replication all 127.0.0.1/32 trust" >>"$hba"
  psql "$primary" -qAtc 'SELECT pg_reload_conf()' >/dev/null
  echo "added a loopback replication rule to $hba" >&2
  sleep 0.5
fi

mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
host="$(python3 -c 'import sys, urllib.parse as u; p = u.urlparse(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or 5432, p.username or "postgres")' "$primary")"
read -r phost pport puser <<<"$host"
as_pg "$bin/pg_basebackup" -h "$phost" -p "$pport" -U "$puser" -D "$dir/data" -R -X stream -c fast
# Debian keeps the configuration outside the data directory: the replica gets its own.
# A hot standby needs these at least as high as on the primary.
setting() { psql "$primary" -Atc "SHOW $1"; }
as_pg tee "$dir/data/postgresql.conf" >/dev/null <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
hot_standby = on
max_connections = $(setting max_connections)
max_worker_processes = $(setting max_worker_processes)
max_wal_senders = $(setting max_wal_senders)
max_prepared_transactions = $(setting max_prepared_transactions)
max_locks_per_transaction = $(setting max_locks_per_transaction)
CONF
as_pg tee "$dir/data/pg_hba.conf" >/dev/null <<'HBA'
local all all trust
host all all 127.0.0.1/32 trust
HBA
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/replica.log" -w start >/dev/null
url="postgres://postgres@127.0.0.1:$port"
for _ in $(seq 1 100); do
  [ "$(psql "$url/postgres" -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ] && break
  sleep 0.1
done
[ "$(psql "$url/postgres" -Atc 'SELECT status FROM pg_stat_wal_receiver' 2>/dev/null)" = streaming ] || {
  cat "$dir/replica.log" >&2
  echo "the replica is not streaming" >&2
  exit 1
}
echo "$url"
