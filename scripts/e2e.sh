#!/usr/bin/env bash
# The end-to-end tier on a real node (`make e2e`): starts the node (scripts/node.sh), builds our images
# (images/build.sh, cached), imports them into the node, and runs tests/e2e inside the node's network
# namespace, where pods and Services are reachable and nothing else is. Stops the node at the end
# (KEEP_NODE=1 leaves it up for a look around: scripts/node.sh kubectl get pods -A).
#
#   scripts/e2e.sh [extra pytest arguments]
#
# The summary of the run is in .local/e2e/summary.json; the node's logs in ~/.cache/ocr-subnet/node/logs.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS=0
# Inside the node's namespace nothing can be downloaded: Helm comes first.
bash scripts/install-helm.sh >/dev/null
# Every run starts on a fresh cluster: a node left up (KEEP_NODE=1, a run that was killed) still holds the
# last run's Helm release, and `helm install` would refuse the name.
bash scripts/node.sh down
kubeconfig="$(bash scripts/node.sh up)"
[ "${KEEP_NODE:-0}" = 1 ] || trap 'bash scripts/node.sh down' EXIT
echo "e2e: node up (${SECONDS}s)" >&2

archive=".local/images/images.tar"
mkdir -p .local/images
images/build.sh --archive "$archive" >/dev/null
echo "e2e: images built (${SECONDS}s)" >&2
bash scripts/node.sh load "$archive"
rm -f "$archive"
echo "e2e: images imported (${SECONDS}s)" >&2

bash scripts/node.sh run env \
  OCR_SUBNET_E2E_CLUSTER=node \
  OCR_SUBNET_KUBECONFIG="$kubeconfig" \
  OCR_SUBNET_NODE_IP="$(bash scripts/node.sh ip)" \
  python -m pytest -p no:cacheprovider -q -rs tests/e2e "$@"
# Nothing in a pod may touch the host: seen once during development, /dev/null replaced by a plain file.
[ -c /dev/null ] || { echo "e2e: /dev/null on the host is no longer a device" >&2; exit 1; }
echo "e2e: passed (${SECONDS}s); summary in .local/e2e/summary.json" >&2
