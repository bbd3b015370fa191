"""Benchmark: a default generation run's speed on a quiet machine, beside a build, and in the app's own process.

Each run is the README's CLI call, ``python -m rsdemo generate --engine E --json --max-new-tokens N PROMPT``, a
process of its own as a visitor's first run is (its model load is not timed: ``tokens_per_s`` is the run's own
rate once its first token is out). Conditions, one after the other:

* ``idle``: nothing else runs.
* ``build``: llama.cpp compiling from source (``pip wheel llama-cpp-python``, every core, the options of
  ``scripts/build_fast_engine.sh``), started as ``scripts/setup.sh`` starts the demo's own background build
  (``scripts/low_priority.sh``).
* ``tenant``: the same compile at normal priority in a session of its own: someone else's build, another tenant.

Variants: ``worker`` (the default: generation in a worker process) and ``in-process``
(``RSDEMO_GENERATION_PROCESS=0``: llama.cpp or transformers in the app's own process, the reference the worker
must keep up with); more as ``NAME:VAR=VALUE+VAR=VALUE`` (``passive:OMP_WAIT_POLICY=PASSIVE+GOMP_SPINCOUNT=0``).
Each (condition, engine, variant) runs ``--runs`` times, interleaved; the table gives
medians and each condition's ratio to the idle worker's median. The CPU model is printed with the figures.

Usage::

    HF_HUB_OFFLINE=1 RSDEMO_CACHE_DIR=/tmp/rscache python benchmarks/bench_policy.py
    python benchmarks/bench_policy.py --conditions idle --runs 5 --json /tmp/policy.json
    python benchmarks/bench_policy.py --engines llama.cpp --variants worker,2-threads:RSDEMO_LLAMACPP_THREADS=2
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import machine as common  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
ENGINES = {
    "llama.cpp": ("Write a long story about a lighthouse keeper.", 129),
    "transformers": ("Write a story about the sea.", 48),
}
VARIANTS = {"worker": {}, "in-process": {"RSDEMO_GENERATION_PROCESS": "0"}}


def variant_env(variant: str) -> dict[str, str]:
    """A variant's environment: a known name, or ``NAME:VAR=VALUE+VAR=VALUE``."""
    if variant in VARIANTS:
        return VARIANTS[variant]
    _, _, pairs = variant.partition(":")
    return dict(pair.split("=", 1) for pair in pairs.split("+") if pair)


def one_run(engine: str, variant: str, env: dict[str, str]) -> float | None:
    prompt, tokens = ENGINES[engine]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rsdemo",
            "generate",
            "--engine",
            engine,
            "--json",
            "--max-new-tokens",
            str(tokens),
            prompt,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**env, **variant_env(variant)},
        timeout=900,
        check=False,
    )
    try:
        return float(json.loads(done.stdout.strip().splitlines()[-1])["tokens_per_s"])
    except (ValueError, KeyError, IndexError, TypeError):
        print(f"    {engine} {variant} failed: {done.stderr.strip()[-300:]}", flush=True)
        return None


def start_build(condition: str, scratch: Path) -> subprocess.Popen | None:
    """The compile a condition runs beside the measured runs (a process group of its own), or None."""
    if condition == "idle":
        return None
    version = next(
        line.split("==")[1].strip()
        for line in (REPO_ROOT / "requirements-fast.txt").read_text().splitlines()
        if line.startswith("llama-cpp-python")
    )
    env = {
        **os.environ,
        "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 1),
        "CMAKE_ARGS": "-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
        "-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON "
        "-DGGML_CPU_ALL_VARIANTS=ON",
    }
    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-cache-dir",
        "--no-binary",
        "llama-cpp-python",
        "-w",
        str(scratch),
        f"llama-cpp-python=={version}",
    ]
    command = ["bash", str(REPO_ROOT / "scripts" / "low_priority.sh"), *build] if condition == "build" else build
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def stop(process: subprocess.Popen | None) -> None:
    """Kill the compile: its process group, and the session ``low_priority.sh`` started for it."""
    if process is None:
        return
    sessions = {process.pid}
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == process.pid:
                sessions.add(int(pid))  # a child of the compile's leader: low_priority.sh's own session leader
        except (OSError, ValueError, IndexError):
            continue
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.getsid(int(pid)) in sessions:
                os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue
    process.wait()


def busy_cores() -> float:
    """How many cores the machine used over the last second (all processes), from /proc/stat."""

    def read() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)

    (b0, t0), _ = read(), time.sleep(1.0)
    b1, t1 = read()
    return (os.cpu_count() or 1) * (b1 - b0) / max(1, t1 - t0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conditions", default="idle,build,tenant")
    parser.add_argument("--engines", default="llama.cpp,transformers")
    parser.add_argument("--variants", default="worker,in-process")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm-up", type=float, default=60.0, help="seconds a build runs before the first run")
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    machine = common.machine_info(dists=("llama-cpp-python", "torch", "transformers"))
    print(
        "machine:",
        machine["cpu"],
        f"| {machine['cores']} cores | load average {machine['load_average_at_start']} | {machine['platform']}",
        flush=True,
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    engines, variants = args.engines.split(","), args.variants.split(",")
    results: dict[str, dict[str, list[float]]] = {}
    for condition in args.conditions.split(","):
        with tempfile.TemporaryDirectory() as scratch:
            build = start_build(condition, Path(scratch))
            try:
                if build is not None:
                    time.sleep(args.warm_up)
                    print(f"  {condition}: the compile keeps {busy_cores():.2f} cores busy before the runs", flush=True)
                for r in range(args.runs):
                    for engine in engines:
                        for variant in variants:
                            rate = one_run(engine, variant, env)
                            if build is not None and build.poll() is not None:
                                print("    the compile ended early: figures after this are not beside it")
                            if rate is not None:
                                name = f"{engine} {variant.split(':')[0]}"
                                results.setdefault(condition, {}).setdefault(name, []).append(rate)
                                print(f"  {condition} round {r + 1}: {name} {rate:.1f} tok/s", flush=True)
            finally:
                stop(build)
    print()
    idle = results.get("idle", {})
    print(f"{'condition':10} {'engine / variant':28} {'tok/s (median)':>15} {'runs':>28} {'vs idle worker':>15}")
    for condition, rows in results.items():
        for name, rates in rows.items():
            engine = name.split(" ")[0]
            base = idle.get(f"{engine} worker")
            ratio = f"{statistics.median(rates) / statistics.median(base):.2f}" if base else "-"
            print(
                f"{condition:10} {name:28} {statistics.median(rates):15.1f} "
                f"{', '.join(f'{x:.1f}' for x in rates):>28} {ratio:>15}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
