#!/usr/bin/env bash
# One script runs every check: lint, format, types, layer contracts, tests.
# Called by .ci/run (which installs everything first) and by developers directly.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
echo "== ruff (lint)";      ruff check .
echo "== mypy (strict)";    mypy
echo "== import contracts"; lint-imports
echo "== pytest"
python -m pytest -p no:cacheprovider --timeout=900 "$@"
