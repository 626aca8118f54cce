#!/usr/bin/env bash
# The whole test suite: lint, unit, integration. Tiers that need a kind cluster skip themselves here.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
ruff format --check .
python -m pytest -q -p no:cacheprovider "$@"
