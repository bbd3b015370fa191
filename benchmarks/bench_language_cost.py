"""Time the Languages view over ALL built-in tokenizers x all languages: cold (tokenizers not loaded yet) and warm.

    HF_HUB_OFFLINE=1 python benchmarks/bench_language_cost.py

Cold builds a fresh ``Backend`` (artefacts already converted into the cache dir, as on a running server, are reused);
warm repeats the view on the same backend. Prints the CPU model (``lscpu``) first.
"""

from __future__ import annotations

import statistics
import subprocess
import time

from rsdemo.backend import Backend
from rsdemo.catalog import tokenizer_keys
from rsdemo.render.language_cost import render_language_cost
from rsdemo.tokenization.language_cost import measure, parallel_text


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown (no lscpu)"
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")


def _view(backend: Backend, keys: list[str]) -> float:
    start = time.perf_counter()
    render_language_cost(measure(service=backend.tokenization, tokenizers=keys, own_text="A visitor's own text."))
    return time.perf_counter() - start


def main() -> None:
    keys = list(tokenizer_keys())
    print(f"CPU: {_cpu()}")
    print(f"{len(keys)} tokenizers x {len(parallel_text())} languages (+ an own text)")
    backend = Backend()
    cold = _view(backend, keys)
    warm = [_view(backend, keys) for _ in range(5)]
    print(f"cold (tokenizers loaded in the call): {cold:.2f} s")
    print(f"warm (median of 5): {statistics.median(warm):.3f} s (min {min(warm):.3f} s)")


if __name__ == "__main__":
    main()
