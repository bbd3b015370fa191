"""Benchmark: the first visitor's first token on a cold start, with the start-up warm-up on and off, in one run.

A Space restarts after every sleep with an empty cache, and its first visitor's first Generate run used to wait for
the whole first load of the embedded model (62.7 s measured on a CPU Space). Each round here starts the app
fresh as a Space does (``python app.py`` in a subprocess, an EMPTY ``RSDEMO_CACHE_DIR`` of its own, so the F16
weights, the tokenizer and llama.cpp's self-check verdict are all built again, ``HF_HUB_OFFLINE=1``), waits for the
page (``GET /`` answers 200), then at once connects ``gradio_client`` and calls ``/generate`` (the Generate tab's
defaults: the embedded model, greedy, the engine chosen automatically, ``--max-new-tokens`` new tokens) and times
its first token. Modes (``RSDEMO_WARM_UP``): ``on`` and ``off`` alternate, ``--rounds`` of each; each for every
``--think`` (seconds the visitor looks at the page before clicking: 0, a click as the page appears, and 8).

Figures per round: ``serve_s`` (start to page), ``connect_s`` (``Client(url)``), ``first_token_s`` (page to
first token: what the visitor who clicks as soon as the page appears waits; target: under 10 s),
``call_s`` (the ``/generate`` call alone to its first token, after the visitor's ``think_s``), whether the call saw
the warm-up's progress
(``preparing``) and its last stage, and the run's own ``load_s`` / ``ttft_s``.

``--app-root`` runs another checkout of the app (``git archive HEAD | tar -x -C /tmp/rs-head`` for the code
before a change) with this one's virtual environment.

This script only measures: it exits 0 unless something fails to run.

Usage::

    python benchmarks/bench_cold_start.py                         # 1 round of each mode (~1 min on 2 cores)
    python benchmarks/bench_cold_start.py --rounds 3 --json /tmp/cold.json
    python benchmarks/bench_cold_start.py --modes off --app-root /tmp/rs-head   # the code before the warm-up
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import machine as common  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMPT = "What is the capital of France? Answer in one sentence."


def lscpu_model() -> str:
    """The CPU model as ``lscpu`` names it."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return "unknown (no lscpu)"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_page(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no page at {url} within {timeout_s} s")


def one_round(*, mode: str, think_s: float, app_root: Path, max_new_tokens: int, timeout_s: float) -> dict[str, Any]:
    """Start the app cold, wait for its page, time ``/generate``'s first token; stop the app."""
    from gradio_client import Client

    cache = Path(tempfile.mkdtemp(prefix=f"rs-cold-{mode}-"))  # empty: as a Space after a restart
    port = free_port()
    env = {
        **os.environ,
        "RSDEMO_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "RSDEMO_WARM_UP": "1" if mode == "on" else "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("PYTHONPATH", None)
    log = (cache.parent / f"{cache.name}.log").open("w")
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=app_root,
        env=env,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_page(url, process, timeout_s)
        page = time.perf_counter()
        time.sleep(think_s)
        client = Client(url, verbose=False)
        connected = time.perf_counter()
        job = client.submit(
            prompt=PROMPT,
            model="smollm2-135m-instruct",
            method="greedy",
            params={"max_new_tokens": max_new_tokens},
            chat=True,
            stop="",
            engine="",
            api_name="/generate",
        )
        stages: list[str] = []
        first = None
        last: dict[str, Any] = {}
        for message in job:
            last = message
            if message.get("preparing") and message["preparing"] not in stages:
                stages.append(message["preparing"])
            if message.get("tokens") and first is None:
                first = time.perf_counter()
                break
        if first is None:
            raise RuntimeError(f"no token came: {last}")
        job.cancel()
        return {
            "mode": mode,
            "think_s": think_s,
            "serve_s": round(page - started, 2),
            "connect_s": round(connected - page - think_s, 2),
            "first_token_s": round(first - page, 2),
            "call_s": round(first - connected, 2),
            "engine": last.get("engine"),
            "saw_warm_up": bool(stages),
            "stages": stages,
            "load_s": None if last.get("load_s") is None else round(last["load_s"], 2),
            "ttft_s": None if last.get("ttft_s") is None else round(last["ttft_s"], 3),
            "log": log.name,
        }
    finally:
        with_group = os.getpgid(process.pid) if process.poll() is None else None
        if with_group is not None:
            os.killpg(with_group, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(cache, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="rounds of each mode (alternating)")
    parser.add_argument("--modes", default="on,off", help="RSDEMO_WARM_UP modes, in order: on,off")
    parser.add_argument("--think", default="0,8", help="seconds between the page and the click, comma-separated")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--app-root", type=Path, default=REPO_ROOT, help="the checkout whose app.py to start")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the page")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    info = common.machine_info(dists=["gradio", "gradio_client", "torch", "transformers", "llama_cpp_python"])
    print(
        f"CPU (lscpu): {lscpu_model()}; {info['usable_cores']} usable cores; "
        f"load average at start {info['load_average_at_start']}; rsdemo {info['rsdemo_commit']}"
    )
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    rounds = []
    thinks = [float(t) for t in args.think.split(",") if t.strip()]
    for n in range(args.rounds):
        for think in thinks:
            for mode in modes:
                row = one_round(
                    mode=mode,
                    think_s=think,
                    app_root=args.app_root.resolve(),
                    max_new_tokens=args.max_new_tokens,
                    timeout_s=args.timeout,
                )
                row["round"] = n + 1
                rounds.append(row)
                print(
                    f"round {n + 1} warm-up {mode:3}, click {think:g} s after the page: page after "
                    f"{row['serve_s']:5.1f} s; first token {row['first_token_s']:5.1f} s after the page (connect "
                    f"{row['connect_s']:.1f} s, the call {row['call_s']:.1f} s; run's load {row['load_s']} s, first "
                    f"token {row['ttft_s']} s, {row['engine']}); warm-up progress seen: {row['stages'] or 'none'}",
                    flush=True,
                )
    print("\nmedians (first token after the page; the target is under 10 s):")
    for think in thinks:
        for mode in modes:
            mine = [r for r in rounds if r["mode"] == mode and r["think_s"] == think]
            print(
                f"  warm-up {mode:3}, click {think:g} s after the page: page after "
                f"{statistics.median(r['serve_s'] for r in mine):5.1f} s, first token "
                f"{statistics.median(r['first_token_s'] for r in mine):5.1f} s after the page, the call "
                f"{statistics.median(r['call_s'] for r in mine):5.2f} s ({len(mine)} rounds)"
            )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "cpu_lscpu": lscpu_model(), "rounds": rounds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
