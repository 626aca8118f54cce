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
	python benchmarks/run_all.py
