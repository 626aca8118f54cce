.PHONY: setup test-tools up test e2e lint bench

# Every target runs from the project's virtual environment, which `setup` makes.
export PATH := $(CURDIR)/.venv/bin:$(PATH)

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

# The end-to-end on a real node with our images (also part of `make test`).
e2e: test-tools
	bash scripts/e2e.sh

lint: setup
	ruff check . && ruff format --check .

bench: setup
	for b in benchmarks/bench_*.py; do python "$$b" || exit 1; done
