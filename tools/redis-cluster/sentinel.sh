#!/usr/bin/env bash
# Starts a Sentinel-managed Redis on loopback for the tests: a primary on port BASE, a
# replica of it on BASE+1 and one Sentinel on BASE+2 watching them as service `conduit`
# (quorum 1, a primary is judged down after 1 s), each with its files in DIR/PORT, no
# data persisted. Prints the URL the service and the tests take
# (redis-sentinel://127.0.0.1:BASE+2?sentinelServiceName=conduit) once the Sentinel
# knows the primary and its replica.
#
#   tools/redis-cluster/sentinel.sh BASE DIR    # start; DIR is created
#   tools/redis-cluster/sentinel.sh --stop DIR  # stop the servers started with DIR
#
# Needs redis-server, redis-sentinel (the same binary) and redis-cli.
set -euo pipefail

if [ "${1:-}" = "--stop" ]; then
  exec "$(dirname "$0")/start.sh" --stop "${2:?usage: sentinel.sh --stop DIR}"
fi

base="${1:?usage: sentinel.sh BASE DIR}"
dir="${2:?usage: sentinel.sh BASE DIR}"
primary=$base replica=$((base + 1)) sentinel=$((base + 2))
server() { # $1: port, then more options
  local port=$1
  shift
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
    --dir "$dir/$port" --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
    --save "" --appendonly no "$@"
}
server "$primary"
server "$replica" --replicaof 127.0.0.1 "$primary"
mkdir -p "$dir/$sentinel"
# Sentinel rewrites its configuration file, so it gets one of its own.
cat >"$dir/$sentinel/sentinel.conf" <<CONF
port $sentinel
bind 127.0.0.1
daemonize yes
dir $dir/$sentinel
pidfile $dir/$sentinel/redis.pid
logfile $dir/$sentinel/redis.log
sentinel monitor conduit 127.0.0.1 $primary 1
sentinel down-after-milliseconds conduit 1000
sentinel failover-timeout conduit 5000
CONF
redis-server "$dir/$sentinel/sentinel.conf" --sentinel
for _ in $(seq 1 100); do
  replicas=$(redis-cli -p "$sentinel" sentinel replicas conduit 2>/dev/null | grep -c "^127.0.0.1:$replica$" || true)
  [ "$replicas" -ge 1 ] && break
  sleep 0.1
done
[ "${replicas:-0}" -ge 1 ] || { echo "the Sentinel did not find the replica" >&2; exit 1; }
echo "redis-sentinel://127.0.0.1:$sentinel?sentinelServiceName=conduit"
