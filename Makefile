# The two commands of the README's quickstart. Each sets up what it needs first.
.PHONY: demo test setup bench lint

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/kiosk demo

test: setup
	.venv/bin/ruff check .
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python bench/run_all.py

lint: setup
	.venv/bin/ruff check .
