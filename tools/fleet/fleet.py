"""The fleet test (issue 16): three `conduit` instances behind HAProxy on one
PostgreSQL database and one Redis (a single server, or a Redis Cluster when --redis
is a redis-cluster:// URL, as in CI), run as an operator would; with --replica, the
instances also read from a streaming replica of the database (ADR 0032), as in CI.

1. The official RealWorld Hurl suite passes through the load balancer.
2. Under steady mixed load (readers and writers, each request from a client address of
   its own, so the default rate limits stay on), one instance is killed with SIGKILL
   and brought back, then another is restarted gracefully: taken out of the load
   balancer (drain), sent SIGTERM, started again and put back. Requests that fail while
   the killed instance is being detected are counted and allowed; any other failure,
   and any failure during the graceful restart, fails the test.
3. Every write the fleet acknowledged (201) is in the database afterwards.
4. A write through one instance is read at once through each of the others (the
   article, and the list and the article after an update: the caches of the other
   instances are invalidated).
5. With a replica, some reads went to it (its copy of the database committed
   transactions); items 1 to 4 show none of them was stale.

Prints the counts and exits 1 on any violation. `tools/fleet/run.sh` installs HAProxy
and builds the server first; this script expects them:

    python3 tools/fleet/fleet.py --conduit BIN --database-admin URL --redis URL
        [--conformance DIR] [--seconds N]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

SECRET = "fleet-test-signing-key-0123456789abcdef0123456789"
API_KEY_ROOT = "22" * 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url_host, port, path, deadline_s=30.0, status=200):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            conn = http.client.HTTPConnection(url_host, port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == status:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


class Instance:
    """One `conduit` process on a port of its own, logging to a file."""

    def __init__(self, name, binary, env, work):
        self.name, self.binary, self.env, self.work = name, binary, env, work
        self.port = free_port()
        self.process = None

    def start(self):
        env = dict(self.env, CONDUIT_SERVER__PORT=str(self.port))
        log = open(os.path.join(self.work, f"{self.name}.log"), "ab")
        self.process = subprocess.Popen([self.binary], env=env, stdout=log, stderr=log)
        if not wait_for("127.0.0.1", self.port, "/health/ready"):
            raise SystemExit(f"{self.name} did not become ready (log: {self.work}/{self.name}.log)")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def terminate(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


class HAProxy:
    """HAProxy in front of the instances, with an admin socket to drain one."""

    def __init__(self, instances, work):
        self.port = free_port()
        self.socket = os.path.join(work, "haproxy.sock")
        servers = "\n".join(
            f"  server {i.name} 127.0.0.1:{i.port} check" for i in instances)
        config = f"""global
  stats socket {self.socket} mode 600 level admin
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  retries 3
  option redispatch
frontend api
  bind 127.0.0.1:{self.port}
  option forwardfor
  default_backend conduit
backend conduit
  balance roundrobin
  option httpchk GET /health/ready
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
{servers}
"""
        path = os.path.join(work, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(config)
        log = open(os.path.join(work, "haproxy.log"), "ab")
        self.process = subprocess.Popen(["haproxy", "-f", path, "-db"], stdout=log, stderr=log)
        if not wait_for("127.0.0.1", self.port, "/health/live"):
            raise SystemExit("HAProxy did not start")

    def admin(self, command):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.socket)
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def current_sessions(self, name):
        stats = self.admin("show stat").splitlines()
        header = stats[0].lstrip("# ").split(",")
        for line in stats[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "conduit" and row.get("svname") == name:
                return int(row["scur"] or 0), row["status"]
        raise SystemExit(f"no server {name} in HAProxy's stats")

    def stop(self):
        self.process.terminate()
        self.process.wait()


def random_client():
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def call(conn, method, path, body=None, token=None):
    headers = {"X-Forwarded-For": random_client(), "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, (json.loads(data) if data else None)


def register(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, body = call(conn, "POST", "/api/users", {"user": {
        "username": name, "email": f"{name}@fleet.test", "password": "password123"}})
    if status != 201:
        raise SystemExit(f"registration of {name}: {status} {body}")
    return body["user"]["token"]


class Load:
    """Readers and writers through the load balancer, recording every request."""

    # Each writer thread cycles through its accounts at this pace, so that no account
    # passes the default write allowance (120 a minute): 10 writes a second over 15
    # accounts is 40 a minute each.
    WRITE_EVERY = 0.1

    def __init__(self, port, tokens, readers, writers=2):
        self.port, self.readers, self.writers = port, readers, writers
        self.tokens = [tokens[i::writers] for i in range(writers)]
        self.records = []  # (start, end, kind, ok, detail)
        self.acknowledged = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def record(self, start, kind, ok, detail):
        with self.lock:
            self.records.append((start, time.monotonic(), kind, ok, detail))

    def worker(self, kind, tokens):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                if kind == "write":
                    n += 1
                    token = tokens[n % len(tokens)]
                    status, body = call(conn, "POST", "/api/articles", {"article": {
                        "title": f"fleet {uuid.uuid4().hex[:12]} {n}", "description": "fleet test",
                        "body": "written under load", "tagList": ["fleet"]}}, token)
                    ok = status == 201
                    if ok:
                        with self.lock:
                            self.acknowledged.append(body["article"]["slug"])
                else:
                    with self.lock:
                        slug = random.choice(self.acknowledged) if self.acknowledged else None
                    path = f"/api/articles/{slug}" if slug and random.random() < 0.5 else "/api/articles?limit=10"
                    status, _ = call(conn, "GET", path)
                    ok = status == 200
                self.record(start, kind, ok, status)
                if kind == "write":
                    time.sleep(max(0.0, start + self.WRITE_EVERY - time.monotonic()))
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.record(start, kind, False, type(error).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def run(self):
        threads = [threading.Thread(target=self.worker, args=("write", t)) for t in self.tokens]
        threads += [threading.Thread(target=self.worker, args=("read", None)) for _ in range(self.readers)]
        for t in threads:
            t.start()
        return threads


def psql(admin_url, database, sql):
    url = admin_url.rsplit("/", 1)[0] + "/" + database if database else admin_url
    return subprocess.run(["psql", url, "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--conduit", required=True)
    parser.add_argument("--database-admin", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--replica", help="a streaming replica of the database server, "
                        "without a database (postgres://...:PORT): the instances read there")
    parser.add_argument("--conformance")
    parser.add_argument("--seconds", type=float, default=24)
    args = parser.parse_args()
    if shutil.which("haproxy") is None:
        raise SystemExit("haproxy is required (tools/fleet/run.sh installs it)")

    work = tempfile.mkdtemp(prefix="conduit-fleet-")
    database = f"fleet_{uuid.uuid4().hex[:10]}"
    psql(args.database_admin, None, f"CREATE DATABASE {database}")
    database_url = args.database_admin.rsplit("/", 1)[0] + "/" + database
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis,
        "CONDUIT_REDIS__KEY_PREFIX": f"{database}:",
        "CONDUIT_AUTH__JWT_SECRET": SECRET,
        "CONDUIT_AUTH__API_KEY_PRIVATE_KEY": API_KEY_ROOT,
        "CONDUIT_DATABASE__MIGRATE_ON_START": "false",
        "CONDUIT_RATE_LIMIT__TRUSTED_PROXIES": "127.0.0.1",
        "CONDUIT_LOG__FORMAT": "json",
        "RUST_LOG": "warn",
    }
    if args.replica:
        env["CONDUIT_DATABASE__REPLICA_URLS"] = f'["{args.replica.rstrip("/")}/{database}"]'
    instances, proxy, problems = [], None, []
    try:
        migrated = subprocess.run([args.conduit, "migrate", "up"], env=env, check=True,
                                  capture_output=True, text=True).stdout
        print(f"fleet: migrations: {migrated.strip().splitlines()[-1]}")
        instances = [Instance(f"app{n}", args.conduit, env, work) for n in (1, 2, 3)]
        for instance in instances:
            instance.start()
        proxy = HAProxy(instances, work)
        origin = f"http://127.0.0.1:{proxy.port}"
        print(f"fleet: 3 instances behind HAProxy at {origin}; logs in {work}")

        if args.conformance:
            hurl = subprocess.run([os.path.join(args.conformance, "run.sh"), origin],
                                  capture_output=True, text=True)
            tail = [line for line in (hurl.stdout + hurl.stderr).strip().splitlines()
                    if line.strip().startswith(("Executed", "Succeeded", "Failed"))]
            print("fleet: RealWorld Hurl suite through the load balancer:\n  " + "\n  ".join(tail))
            if hurl.returncode != 0:
                problems.append("the Hurl suite failed through the load balancer")

        tokens = [register(proxy.port, f"fleetwriter{n}_{database[-6:]}") for n in range(30)]
        author = register(proxy.port, f"fleetauthor_{database[-6:]}")
        load = Load(proxy.port, tokens, readers=6)
        started = time.monotonic()
        threads = load.run()

        def at(seconds):
            time.sleep(max(0.0, started + seconds - time.monotonic()))

        at(args.seconds * 0.2)
        killed_at = time.monotonic()
        instances[0].kill()
        # Detected after two failed checks 300 ms apart; new requests meanwhile are
        # redispatched, requests in flight on the killed instance fail.
        while proxy.current_sessions("app1")[1].startswith("UP"):
            time.sleep(0.05)
        detected_at = time.monotonic()
        instances[0].start()
        while not proxy.current_sessions("app1")[1].startswith("UP"):
            time.sleep(0.05)
        print(f"fleet: app1 killed (SIGKILL); marked down after {detected_at - killed_at:.2f} s; back up")

        at(args.seconds * 0.5)
        graceful_from = time.monotonic()
        proxy.admin("set server conduit/app2 state drain")
        drain_end = time.monotonic() + 10
        while proxy.current_sessions("app2")[0] > 0 and time.monotonic() < drain_end:
            time.sleep(0.05)
        code = instances[1].terminate()
        if code != 0:
            problems.append(f"app2 exited {code} after SIGTERM")
        instances[1].start()
        proxy.admin("set server conduit/app2 state ready")
        while not proxy.current_sessions("app2")[1].startswith("UP"):
            time.sleep(0.05)
        graceful_to = time.monotonic()
        print(f"fleet: app2 restarted gracefully (drain, SIGTERM, start, ready) in {graceful_to - graceful_from:.2f} s")

        at(args.seconds)
        load.stop.set()
        for t in threads:
            t.join()

        records = load.records
        failed = [r for r in records if not r[3]]
        # A request counts against the kill when it was in flight at the kill or started
        # before the balancer marked the instance down (plus 0.5 s for the last checks).
        kill_window = [r for r in failed if r[0] <= detected_at + 0.5 and r[1] >= killed_at]
        graceful = [r for r in records if r[0] <= graceful_to and r[1] >= graceful_from]
        graceful_failed = [r for r in graceful if not r[3]]
        other = [r for r in failed if r not in kill_window]
        writes = [r for r in records if r[2] == "write"]
        print(f"fleet: requests sent {len(records)} ({len(writes)} writes) in {args.seconds:.0f} s; "
              f"failed {len(failed)}: {len(kill_window)} around the SIGKILL, "
              f"{len(graceful_failed)} of {len(graceful)} during the graceful restart, {len(other)} elsewhere")
        for label, shown in (("graceful restart", graceful_failed), ("elsewhere", other)):
            for r in shown[:5]:
                print(f"  failure ({label}) at +{r[0] - started:.2f} s: {r[2]} {r[4]}")
        if graceful_failed:
            problems.append(f"{len(graceful_failed)} requests failed during the graceful restart")
        if other:
            problems.append(f"{len(other)} requests failed outside the SIGKILL window")

        acknowledged = sorted(set(load.acknowledged))
        quoted = ",".join("'" + s.replace("'", "''") + "'" for s in acknowledged) or "''"
        found = int(psql(args.database_admin, database, f"SELECT count(*) FROM articles WHERE slug IN ({quoted})"))
        print(f"fleet: writes acknowledged {len(acknowledged)}, found in the database {found}")
        if found != len(acknowledged):
            problems.append(f"{len(acknowledged) - found} acknowledged writes are missing")

        # A write through one instance, read at once through every other.
        one, others = instances[2], instances[:2]
        direct = {i.name: http.client.HTTPConnection("127.0.0.1", i.port, timeout=10) for i in instances}
        for other_instance in others:  # warm the other instances' caches first
            call(direct[other_instance.name], "GET", "/api/articles?limit=1")
        status, body = call(direct[one.name], "POST", "/api/articles", {"article": {
            "title": f"across {database}", "description": "d", "body": "b", "tagList": []}}, author)
        slug = body["article"]["slug"] if status == 201 else None
        if slug is None:
            problems.append(f"the cross-instance write failed: {status}")
        else:
            status, _ = call(direct[one.name], "PUT", f"/api/articles/{slug}",
                             {"article": {"description": "updated through app3"}}, author)
            if status != 200:
                problems.append(f"the cross-instance update failed: {status}")
            seen = []
            for other_instance in others:
                conn = direct[other_instance.name]
                _, article = call(conn, "GET", f"/api/articles/{slug}")
                _, listed = call(conn, "GET", "/api/articles?limit=1")
                newest = (listed or {}).get("articles", [{}])[0]
                fresh = ((article or {}).get("article", {}).get("description") == "updated through app3"
                         and newest.get("slug") == slug and newest.get("description") == "updated through app3")
                seen.append(f"{other_instance.name} {'sees it' if fresh else 'DOES NOT see it'}")
                if not fresh:
                    problems.append(f"a write through app3 is not read at once through {other_instance.name}")
            print(f"fleet: a write and an update through app3, read at once: {', '.join(seen)}")
        if args.replica:
            # Transactions run on the replica's copy of the database: the reads it took.
            served = int(psql(args.replica.rstrip("/") + "/postgres", None,
                              f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{database}'") or 0)
            print(f"fleet: the replica committed {served} read transactions")
            if served == 0:
                problems.append("no read went to the replica")
    finally:
        if proxy:
            proxy.stop()
        for instance in instances:
            if instance.process and instance.process.poll() is None:
                instance.terminate()
        try:
            psql(args.database_admin, None, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        except subprocess.CalledProcessError:
            pass
    if problems:
        for p in problems:
            print(f"fleet: FAILED: {p}", file=sys.stderr)
        print(f"fleet: logs kept in {work}", file=sys.stderr)
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)
    print("fleet: passed")


if __name__ == "__main__":
    main()
