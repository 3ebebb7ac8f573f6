#!/usr/bin/env bash
# Quickstart 1: set everything up (Debian packages, .venv, Python packages), then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kiosk demo "$@"
