#!/usr/bin/env bash
# Build and install the fast CPU engine (llama.cpp through llama-cpp-python) into .venv, once.
# Idempotent: returns at once when it is already installed. Only the core library is compiled
# (no llava, tools, server or tests); pip keeps the built wheel, so a fresh .venv reinstalls in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
exec 9>.venv/.fast-engine.lock
flock 9  # one build at a time (the demo's background build and a test run may both ask)
if python -c "import llama_cpp.llama_cpp" 2>/dev/null; then
  exit 0
fi
echo "== building llama.cpp (llama-cpp-python, a few minutes once)"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=ON}"
pip install -q -r requirements-fast.txt 2> >(grep -v "^WARNING: Location" >&2)
python -c "import llama_cpp.llama_cpp" && echo "== llama.cpp ready"
