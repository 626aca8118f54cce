.PHONY: setup test-tools up test lint bench

setup:
	@bash scripts/setup.sh

# The tests also need a real control plane (built from Debian's sources, cached) and Helm.
test-tools: setup
	@bash scripts/build-control-plane.sh >/dev/null
	@bash scripts/install-helm.sh >/dev/null

up: setup
	ocr-subnet local up

test: test-tools
	bash scripts/test.sh

lint: setup
	ruff check . && ruff format --check .

bench: setup
	for b in benchmarks/bench_*.py; do python "$$b" || exit 1; done
