#!/usr/bin/env bash
# Build and install the fast CPU engine (llama.cpp through llama-cpp-python) into .venv, once.
#
# Portable, the way llama.cpp's own releases are built: ggml's CPU code is compiled once per instruction-set
# level (GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS: libggml-cpu-haswell.so, -skylakex, -zen4, -sapphirerapids, ...
# installed beside libllama.so) and rsdemo loads the best one for the CPU it runs on
# (rsdemo/generation/llamacpp_native.py). So the wheel, kept in ~/.cache/rsdemo/wheels/<version>-<build id>/
# and reused by every fresh .venv, runs on any x86-64 or arm64 Linux CPU it is moved to (a cache, a Docker
# layer, a Space's builder), never with an illegal instruction. Elsewhere (macOS, Windows) a generic
# GGML_NATIVE=OFF build. Only the core library is compiled (no llava, tools, server or tests).
# Idempotent: returns at once when this build is installed (--check: only says whether it is, by the exit status).
# CMAKE_ARGS replaces the options (another build id).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .venv/bin/activate ]; then
  . .venv/bin/activate
  state=.venv
else  # a Space (app.py starts this build there): the environment's own Python, state in the cache
  state="${XDG_CACHE_HOME:-$HOME/.cache}/rsdemo"
  mkdir -p "$state"
  python() { "${PYTHON:-python3}" "$@"; }
  pip() { "${PYTHON:-python3}" -m pip "$@"; }
fi
quiet() { grep -v "^WARNING: Location" >&2 || true; }

version=$(sed -n 's/^llama-cpp-python[^=]*==\([0-9.]*\).*/\1/p' requirements-fast.txt)
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64|Linux-aarch64)
    variants="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DCMAKE_INSTALL_BINDIR=llama_cpp/lib" ;;
  *) variants="-DGGML_NATIVE=OFF" ;;
esac
args="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF $variants}"
id=$(printf '%s\n%s\n' "$version" "$args" | sha1sum | cut -c1-12)
stamp="$state/.fast-engine"
installed() { [ "$(cat "$stamp" 2>/dev/null)" = "$id" ] && python -c "import llama_cpp.llama_cpp" 2>/dev/null; }
installed && exit 0
[ "${1:-}" = --check ] && exit 1
exec 9>"$state/.fast-engine.lock"
flock 9  # one build at a time (the demo's background build and a test run may both ask)
installed && exit 0  # built while this one waited

wheels="${RSDEMO_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rsdemo/wheels}/llama-cpp-python-$version-$id"
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "== building llama.cpp $version (portable: every CPU variant; about 10 minutes on 2 cores, once)"
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
  tmp="$wheels.partial.$$"
  rm -rf "$tmp"
  mkdir -p "$(dirname "$wheels")"
  CMAKE_ARGS="$args" pip wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python -w "$tmp" \
    "llama-cpp-python==$version" 2> >(quiet)
  rm -rf "$wheels"
  mv "$tmp" "$wheels"
fi
wheel=$(ls "$wheels"/llama_cpp_python-*.whl | head -n 1)
# this build replaces any other of the same version (an older native build, say)
pip install -q --no-deps --force-reinstall "$wheel" 2> >(quiet)
pip install -q --find-links "$wheels" --only-binary llama-cpp-python -r requirements-fast.txt 2> >(quiet)
echo "$id" > "$stamp"
python -c "import llama_cpp.llama_cpp" && echo "== llama.cpp ready ($wheel)"
