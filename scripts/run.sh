#!/usr/bin/env bash
# Set everything up, then start the demo on http://127.0.0.1:7860 (offline, built-in tokenizers).
#   bash scripts/run.sh --with-gemma    also offer the opt-in Gemma 3 270M (base) model (see docs/models-and-tokenizers.md)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "$@"
. .venv/bin/activate
exec python app.py
