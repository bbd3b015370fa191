#!/usr/bin/env bash
# Set everything up (test tools and Debian's chromium included), then run the whole test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k golden`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
. .venv/bin/activate
export HF_HUB_OFFLINE=1
export RSDEMO_FAST_ENGINE_REQUIRED=1  # setup.sh --dev built the fast CPU engine: its tests must run, not skip
# Lint, format and the import layering first (seconds): a cycle or an upward import fails the run.
ruff check .
ruff format --check .
lint-imports
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
