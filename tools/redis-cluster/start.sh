#!/usr/bin/env bash
# Starts a local Redis Cluster for the tests: three primaries on loopback ports
# BASE, BASE+1 and BASE+2, each with its files in DIR/PORT, nothing persisted. The slots are
# split evenly between them. Prints the URL the service and the tests take
# (redis-cluster://127.0.0.1:BASE) once the cluster reports itself ready.
#
#   tools/redis-cluster/start.sh BASE DIR    # start; DIR is created
#   tools/redis-cluster/start.sh --stop DIR  # stop the servers started with DIR
#
# Needs redis-server and redis-cli (Debian's redis-server package).
set -euo pipefail

if [ "${1:-}" = "--stop" ]; then
  dir="${2:?usage: start.sh --stop DIR}"
  for pidfile in "$dir"/*/redis.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  exit 0
fi

base="${1:?usage: start.sh BASE DIR}"
dir="${2:?usage: start.sh BASE DIR}"
nodes=()
for port in "$base" $((base + 1)) $((base + 2)); do
  mkdir -p "$dir/$port"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
    --dir "$dir/$port" --pidfile "$dir/$port/redis.pid" --logfile "$dir/$port/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
    --save "" --appendonly no --maxmemory-policy volatile-lru
  nodes+=("127.0.0.1:$port")
done
for node in "${nodes[@]}"; do
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "${node##*:}" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 || {
  cat "$dir/create.log" >&2
  echo "redis-cli --cluster create failed" >&2
  exit 1
}
for _ in $(seq 1 100); do
  ready=1
  for node in "${nodes[@]}"; do
    redis-cli -h 127.0.0.1 -p "${node##*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ready=0
  done
  [ "$ready" = 1 ] && break
  sleep 0.1
done
[ "$ready" = 1 ] || { echo "the cluster did not become ready" >&2; exit 1; }
echo "redis-cluster://127.0.0.1:$base"
