#!/usr/bin/env bash
# Quickstart 2: set everything up, then run the linter and the whole test suite.
# KIOSK_FULL=1 runs the long campaigns (property tests, fuzzing, fault sizes) at full size.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
