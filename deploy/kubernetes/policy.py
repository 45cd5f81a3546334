"""What the schema cannot say about a rendered overlay, checked (ADR 0029): every
workload runs non-root with a read-only root filesystem, no privilege escalation and
no capabilities; the API has its probes on the health endpoints, resource requests and
a memory limit; secrets are referenced, never inlined; the selectors of the Service,
the autoscaler, the disruption budget and the NetworkPolicies reach the API's pods.
With a `conduit` binary, also loads the API container's configuration in it (the
ConfigMap and the env, secrets replaced by well-formed stand-ins) as the pod would.
Prints each violation and exits 1 if there is one.

    python policy.py RENDERED.yaml [CONDUIT_BINARY]"""

import os
import subprocess
import sys
import tempfile

import yaml

objects = [o for o in yaml.safe_load_all(open(sys.argv[1])) if o]
by_kind = {}
for o in objects:
    by_kind.setdefault(o["kind"], []).append(o)
problems = []


def check(condition, message):
    if not condition:
        problems.append(message)


check("Secret" not in by_kind, "a Secret is inlined: reference conduit-secrets instead")
SECRET_NAMES = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "PRIVATE_KEY", "PASSWORD")
for cm in by_kind.get("ConfigMap", []):
    for key in cm.get("data", {}):
        check(not any(s in key for s in SECRET_NAMES), f"ConfigMap {cm['metadata']['name']}: {key} is a secret")


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


workloads = by_kind.get("Deployment", []) + by_kind.get("Job", [])
check(len(by_kind.get("Deployment", [])) == 1, "exactly one Deployment expected")
check(len(by_kind.get("Job", [])) == 1, "exactly one migration Job expected")
for w in workloads:
    name = f"{w['kind']} {w['metadata']['name']}"
    spec = pod_spec(w)
    check(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
    check(spec.get("automountServiceAccountToken") is False, f"{name}: service-account token mounted")
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True, f"{name}/{c['name']}: root filesystem writable")
        check(sc.get("allowPrivilegeEscalation") is False, f"{name}/{c['name']}: privilege escalation")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}/{c['name']}: capabilities kept")
        resources = c.get("resources", {})
        check("memory" in resources.get("requests", {}), f"{name}/{c['name']}: no memory request")
        check("memory" in resources.get("limits", {}), f"{name}/{c['name']}: no memory limit")
        for env in c.get("env", []):
            if any(s in env["name"] for s in SECRET_NAMES):
                check("value" not in env and "secretKeyRef" in env.get("valueFrom", {}),
                      f"{name}/{c['name']}: {env['name']} is not read from a Secret")
job = by_kind["Job"][0] if by_kind.get("Job") else None
check(job is not None and job["spec"]["template"]["spec"]["containers"][0].get("args") == ["migrate", "up"],
      "the Job does not run `migrate up`")

deployment = by_kind["Deployment"][0] if by_kind.get("Deployment") else None
if deployment:
    api = pod_spec(deployment)["containers"][0]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    check(all(labels.get(k) == v for k, v in deployment["spec"]["selector"]["matchLabels"].items()),
          "the Deployment's selector does not match its pods")
    for probe, path in (("startupProbe", "/health/live"), ("livenessProbe", "/health/live"),
                        ("readinessProbe", "/health/ready")):
        check(api.get(probe, {}).get("httpGet", {}).get("path") == path, f"{probe} is not on {path}")
    env = {e["name"]: e for e in api.get("env", [])}
    config = {}
    for source in api.get("envFrom", []):
        cm_name = source.get("configMapRef", {}).get("name")
        for cm in by_kind.get("ConfigMap", []):
            if cm["metadata"]["name"] == cm_name:
                config.update(cm.get("data", {}))
    check(config.get("CONDUIT_DATABASE__MIGRATE_ON_START") == "false", "replicas would migrate at start")
    check(config.get("HOST") == "0.0.0.0", "the API would listen on loopback only")

    def selects(selector, what):
        check(all(labels.get(k) == v for k, v in selector.items()), f"{what} does not select the API's pods")

    for svc in by_kind.get("Service", []):
        selects(svc["spec"]["selector"], f"Service {svc['metadata']['name']}")
    for pdb in by_kind.get("PodDisruptionBudget", []):
        selects(pdb["spec"]["selector"]["matchLabels"], f"PodDisruptionBudget {pdb['metadata']['name']}")
    for np in by_kind.get("NetworkPolicy", []):
        selects(np["spec"]["podSelector"]["matchLabels"], f"NetworkPolicy {np['metadata']['name']}")
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        target = hpa["spec"]["scaleTargetRef"]
        check((target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"]),
              "the autoscaler scales something else")
    for ing in by_kind.get("Ingress", []):
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                check(p["backend"]["service"]["name"] in [s["metadata"]["name"] for s in by_kind.get("Service", [])],
                      "the Ingress routes to no Service of ours")

# Stand-ins for the Secret's values: well-formed, so that only the rest is tested.
STAND_INS = {
    "database-url": None,  # a SQLite file of the check's own, set below
    "redis-url": "redis://127.0.0.1:6379",
    "redis-sessions-url": "redis://127.0.0.1:6380",
    # No replica: the check's database is SQLite, which takes none.
    "database-replica-urls": "[]",
    "jwt-secret": "0123456789abcdef" * 4,
    "api-key-private-key": "11" * 32,
}
if deployment and len(sys.argv) > 2:
    with tempfile.TemporaryDirectory() as work:
        run_env = {k: str(v) for k, v in config.items() if not k.startswith("OTEL_")}
        for e in api.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                check(ref["key"] in STAND_INS, f"{e['name']}: unknown key {ref['key']} of the Secret")
                run_env[e["name"]] = STAND_INS.get(ref["key"]) or ""
            elif "value" in e and not e["name"].startswith("OTEL_"):
                run_env[e["name"]] = e["value"]
        run_env["DATABASE_URL"] = f"sqlite://{work}/check.db?mode=rwc"
        run_env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), HOME=work,
                       CONDUIT_CONFIG=f"{work}/absent.toml")
        result = subprocess.run([sys.argv[2], "migrate", "status"], env=run_env, cwd=work,
                                capture_output=True, text=True, timeout=120)
        check(result.returncode == 0, "the API's configuration does not load (exit "
              f"{result.returncode}): {(result.stderr or result.stdout).strip()}")

for p in problems:
    print(f"policy: {sys.argv[1]}: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
