#!/usr/bin/env bash
# Rolls out an overlay with the migration first: renders it, deletes the previous
# (finished) migration Job, applies and waits for the new one, then applies the rest and
# waits for the Deployment's rollout. Needs kubectl pointed at the cluster, and the
# Secret `conduit-secrets` in the namespace (README of this folder).
#   deploy/kubernetes/rollout.sh production
set -euo pipefail
overlay="${1:?usage: rollout.sh development|production}"
here="$(cd "$(dirname "$0")" && pwd)"
rendered="$(mktemp)"
trap 'rm -f "$rendered"' EXIT
kubectl kustomize "$here/overlays/$overlay" >"$rendered"
namespace="$(sed -n 's/^  namespace: //p' "$rendered" | head -n 1)"
[ -n "$namespace" ] || { echo "the overlay sets no namespace" >&2; exit 1; }
kubectl -n "$namespace" delete job conduit-migrate --ignore-not-found --wait=true
kubectl apply -f "$rendered" -l app.kubernetes.io/component=migrate
kubectl -n "$namespace" wait --for=condition=complete --timeout=600s job/conduit-migrate
kubectl -n "$namespace" logs job/conduit-migrate
kubectl apply -f "$rendered"
kubectl -n "$namespace" rollout status deployment/conduit --timeout=600s
