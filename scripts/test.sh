#!/usr/bin/env bash
# The whole test suite: lint, unit and integration (pytest), then the end-to-end tier on a real node with our
# images (scripts/e2e.sh). Extra arguments go to pytest. E2E=0 leaves the end-to-end out (it needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
ruff format --check .
python -m pytest -q -p no:cacheprovider "$@"
if [ "${E2E:-1}" != 0 ]; then bash scripts/e2e.sh; fi
