#!/usr/bin/env bash
# The kind end-to-end, where Docker and kind exist (a laptop, a CI runner): a fresh kind cluster, the
# subnet's images built and `kind load`ed, kube-prometheus-stack, then pytest against the cluster:
#   1. the operator and chart integration tests, unchanged (tests/integration/test_operator.py, test_chart.py)
#   2. the end-to-end tier (tests/e2e, the one `make e2e` runs on a real node here): helm install with the
#      local chain, examples/miner.yaml's three miners, Ready, weights set, status fields, Prometheus
#      targets and alerts, pods replaced, Triton scaled by load, `helm test`, `helm uninstall`
# and the cluster is deleted at the end (KEEP_CLUSTER=1 keeps it for a look around).
#
#   scripts/kind-e2e.sh [extra pytest arguments]
#
# Needs: docker (with a running engine), kind, kubectl, npm (for Helm 3.10.1), and `make setup` done.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER_NAME:-ocr-subnet-e2e}"
KPS_VERSION="${KPS_VERSION:-65.8.1}"  # kube-prometheus-stack chart, pinned
WORK="$(mktemp -d)"
KUBECONFIG_FILE="$WORK/kubeconfig"

command -v kind >/dev/null || { echo "kind-e2e: kind is not installed (https://kind.sigs.k8s.io)" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "kind-e2e: kubectl is not installed" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "kind-e2e: no Docker engine (docker info fails)" >&2; exit 2; }
HELM="$(bash scripts/install-helm.sh)"
export HELM_CACHE_HOME="$WORK/helm/cache" HELM_CONFIG_HOME="$WORK/helm/config" HELM_DATA_HOME="$WORK/helm/data"

teardown() {
  if [ "${KEEP_CLUSTER:-0}" = 1 ]; then
    echo "kind-e2e: keeping cluster $CLUSTER (kubeconfig $KUBECONFIG_FILE)" >&2
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
}
trap teardown EXIT

echo "kind-e2e: creating cluster $CLUSTER" >&2
kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" --wait 180s
export KUBECONFIG="$KUBECONFIG_FILE"

echo "kind-e2e: building images (CPU-only torch for Triton) and loading them into kind" >&2
mapfile -t tags < <(images/build.sh --variant cpu)
for tag in "${tags[@]}"; do
  kind load docker-image "$tag" --name "$CLUSTER"
done

echo "kind-e2e: installing kube-prometheus-stack $KPS_VERSION (Prometheus Operator, CRDs, Prometheus)" >&2
"$HELM" repo add prometheus-community https://prometheus-community.github.io/helm-charts >/dev/null
"$HELM" repo update prometheus-community >/dev/null
"$HELM" install kps prometheus-community/kube-prometheus-stack --version "$KPS_VERSION" \
  --namespace monitoring --create-namespace --wait --timeout 10m \
  --set fullnameOverride=kps \
  --set grafana.enabled=false --set alertmanager.enabled=false \
  --set nodeExporter.enabled=false --set kubeStateMetrics.enabled=false \
  --set prometheus.prometheusSpec.scrapeInterval=10s \
  --set prometheus.prometheusSpec.evaluationInterval=10s

echo "kind-e2e: running the tests against the cluster" >&2
export OCR_SUBNET_KUBECONFIG="$KUBECONFIG_FILE"
python -m pytest -p no:cacheprovider -rs \
  tests/integration/test_operator.py tests/integration/test_chart.py "$@"
OCR_SUBNET_E2E_CLUSTER=kind python -m pytest -p no:cacheprovider -rs tests/e2e "$@"
