.PHONY: setup up test lint bench

setup:
	@bash scripts/setup.sh

up: setup
	ocr-subnet local up

test: setup
	bash scripts/test.sh

lint: setup
	ruff check . && ruff format --check .

bench: setup
	for b in benchmarks/bench_*.py; do python "$$b" || exit 1; done
