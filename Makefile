# Shortcuts for the README's quickstart scripts (scripts/demo.sh, scripts/test.sh) and more.
.PHONY: demo test setup bench lint locale mutate

setup:
	@bash scripts/setup.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

bench: setup
	.venv/bin/python bench/run_all.py

lint: setup
	.venv/bin/ruff check .

# UI translations: refresh the .po files from the sources, then compile the .mo files (both committed)
locale: setup
	mkdir -p build
	.venv/bin/pybabel extract -k _ -k N_ -k ngettext:1,2 --no-default-keywords --no-location --sort-output -o build/kiosk.pot kiosk/ui kiosk/app/simulate.py kiosk/ledger/kinds.py kiosk/receipt
	.venv/bin/pybabel update -i build/kiosk.pot -d kiosk/locale -D kiosk --ignore-obsolete --no-fuzzy-matching --ignore-pot-creation-date -w 100
	.venv/bin/pybabel compile -d kiosk/locale -D kiosk --statistics

# Mutation testing of the ledger's rule code (operations, state, model, rules) against the fast
# worked-example tests; not part of `make test`. Settings: [tool.mutmut] in pyproject.toml.
# About 12 minutes on two cores; `.venv/bin/mutmut show NAME` shows one survivor.
mutate: setup
	@.venv/bin/python -c "import mutmut" 2>/dev/null || .venv/bin/pip install -q -e ".[mutate]"
	rm -rf mutants
	.venv/bin/mutmut run --max-children 2
	.venv/bin/mutmut results
