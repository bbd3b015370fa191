"""Benchmark: llama.cpp on this CPU: builds (native vs portable), extra buffer types, GGUF variants, fidelity.

Each configuration runs in a child process of its own (a build is a Python with its own ``llama_cpp``; extra
buffers are a load option; a GGUF variant is a file), through rsdemo's own loading (``LlamaCppModel``: the
portable build's best CPU variant loaded, flash attention off), and decodes greedily (argmax, no probabilities:
llama.cpp's own ceiling, as ``bench_generate.py``'s E) ``--tokens`` tokens after the 57-token chat prompt of
``bench_generate.py``. A round runs every configuration once, in rotated order; the table gives medians over
``--rounds`` rounds and each configuration's ratio to the first one. The CPU model and each child's loaded CPU
variant are printed with the figures.

``--fidelity`` adds, per GGUF variant, the agreement with transformers (fp32 on the de-quantised Q4_1
weights, the reference every view's numbers are checked against): teacher-forced on transformers' own greedy
answers to ``bench_generate.py``'s six prompts, 48 tokens each (288 positions): top-1 agreement and the mean
and largest total variation distance between the two next-token distributions.

GGUF variants other than the shipped Q4_1 are built from it by llama.cpp's quantizer into the cache
(``rsdemo.generation.llamacpp_weights``): the same de-quantised weights, stored as Q8_0, F16 or F32.

Usage::

    HF_HUB_OFFLINE=1 RSDEMO_CACHE_DIR=/tmp/rscache python benchmarks/bench_llamacpp.py --weights q4_1,q8_0,f16
    python benchmarks/bench_llamacpp.py --python native=.venv/bin/python --python portable=/tmp/vp/bin/python
    python benchmarks/bench_llamacpp.py --extra on,off --rounds 7
    python benchmarks/bench_llamacpp.py --weights q4_1,q8_0,f16,f32 --fidelity --json /tmp/llamacpp.json
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import machine as common  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

MODEL_KEY = "smollm2-135m-instruct"
PROMPT = (
    "Write a detailed, step-by-step guide to baking a loaf of sourdough bread at home, with ingredients and timings."
)


@dataclasses.dataclass(frozen=True)
class Config:
    build: str  # a label of --python
    python: str
    weights: str
    extra: str  # on / off / auto
    threads: int

    @property
    def label(self) -> str:
        return f"{self.build} {self.weights} extra={self.extra}" + (f" threads={self.threads}" if self.threads else "")


def child(request: dict) -> dict:
    """In the child: load the model as rsdemo does, warm up, decode ``tokens`` greedily once, report."""
    import threading

    import numpy as np

    from rsdemo.catalog import get_model_spec
    from rsdemo.generation.llamacpp_model import LlamaCppModel, prompt_batches
    from rsdemo.generation.llamacpp_native import bindings, cpu_variant, extra_buffers

    lib = bindings()
    path = Path(request["path"])
    started = time.perf_counter()
    loaded = LlamaCppModel(
        key=MODEL_KEY,
        spec=get_model_spec(MODEL_KEY),
        path=path,
        tokenizer=None,
        adapter=None,
        contexts=1,
        threads=request["threads"],
        extra=extra_buffers(request["extra"]),
    )
    load_s = time.perf_counter() - started
    ids = request["ids"]

    def decode(n: int) -> tuple[float, float, list[int]]:
        context = loaded.acquire(threading.Event())
        try:
            lib.llama_memory_clear(lib.llama_get_memory(context), True)
            loaded.held.clear()
            t0 = time.perf_counter()
            loaded.read_prompt(context, ids)
            t1 = time.perf_counter()
            out: list[int] = []
            for _ in range(n):
                out.append(int(np.argmax(loaded.last_logits(context))))
                loaded.read_token(context, out[-1])
            return t1 - t0, time.perf_counter() - t1, out
        finally:
            loaded.give_back(context)

    decode(8)  # warm-up: first-call allocations, page cache
    prompt_s, decode_s, out = decode(request["tokens"])
    assert len(prompt_batches(len(ids))) >= 1
    return {
        "load_s": load_s,
        "prompt_s": prompt_s,
        "decode_s": decode_s,
        "tokens": len(out),
        "tok_s": len(out) / decode_s,
        "variant": cpu_variant(),
        "first_ids": out[:16],
    }


def run_child(config: Config, *, path: Path, ids: list[int], tokens: int) -> dict:
    request = {"path": str(path), "ids": ids, "tokens": tokens, "extra": config.extra, "threads": config.threads}
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [config.python, str(Path(__file__).resolve()), "--child", json.dumps(request)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-400:]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fidelity(weights: dict[str, Path], settings, *, new_tokens: int = 48) -> dict[str, dict[str, float]]:
    """Each GGUF variant against transformers, teacher-forced on transformers' greedy answers (6 x 48)."""
    import torch
    from bench_generate import FIDELITY_PROMPTS

    from rsdemo.backend import Backend
    from rsdemo.catalog import get_model_spec
    from rsdemo.generation.llamacpp_engine import LlamaCppModel, teacher_forced_logits

    backend = Backend(settings=dataclasses.replace(settings, generation_process=False))
    bundle = backend.model(MODEL_KEY, engine="transformers")
    references = []
    for prompt in FIDELITY_PROMPTS:
        *_, reference = backend.generate(
            model=MODEL_KEY,
            prompt=prompt,
            method="greedy",
            engine="transformers",
            params={"max_new_tokens": new_tokens},
        )
        start = len(reference.prompt.ids)
        ids = list(reference.prompt.ids) + [t.id for t in reference.tokens]
        with torch.inference_mode():
            theirs = torch.softmax(bundle.model(torch.tensor([ids])).logits[0, start - 1 : len(ids) - 1].float(), -1)
        references.append((ids, start, theirs))
    results = {}
    for name, path in weights.items():
        loaded = LlamaCppModel(
            key=MODEL_KEY, spec=get_model_spec(MODEL_KEY), path=path, tokenizer=None, adapter=None, contexts=1
        )
        agree = positions = 0
        distances: list[float] = []
        try:
            for ids, start, theirs in references:
                ours = torch.softmax(torch.from_numpy(teacher_forced_logits(loaded, ids, start=start)[:-1]), dim=-1)
                agree += int((ours.argmax(-1) == theirs.argmax(-1)).sum())
                positions += len(ours)
                distances += (0.5 * (ours - theirs).abs().sum(-1)).tolist()
        finally:
            loaded.release()
        results[name] = {
            "positions": positions,
            "top1_agreement": agree / positions,
            "mean_tv": statistics.mean(distances),
            "max_tv": max(distances),
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--python",
        action="append",
        default=[],
        metavar="LABEL=PYTHON",
        help="a build to measure: a Python whose llama_cpp is that build (default: this one)",
    )
    parser.add_argument("--weights", default="q4_1", help="GGUF variants, comma-separated: q4_1,q8_0,f16,f32")
    parser.add_argument("--extra", default="auto", help="extra buffer types, comma-separated: auto,on,off")
    parser.add_argument("--threads", default="0", help="llama.cpp threads, comma-separated (0: every core)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128, help="tokens decoded per run")
    parser.add_argument("--fidelity", action="store_true", help="also each GGUF variant against transformers")
    parser.add_argument("--json", default=None, metavar="PATH")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    from rsdemo.catalog import get_model_spec
    from rsdemo.core.settings import Settings
    from rsdemo.generation.llamacpp_weights import weights_file
    from rsdemo.generation.prompts import build_prompt
    from rsdemo.loading import gguf_tokenizer

    settings = Settings.from_env(os.environ)
    machine = common.machine_info(dists=("llama-cpp-python", "numpy", "torch", "transformers"))
    print(
        "machine:",
        machine["cpu"],
        f"| {machine['cores']} cores ({machine['usable_cores']} usable)",
        f"| load average {machine['load_average_at_start']} | {machine['platform']}",
    )
    builds = dict(item.split("=", 1) for item in args.python) or {"this": sys.executable}
    weights = {name: weights_file(key=MODEL_KEY, kind=name, settings=settings) for name in args.weights.split(",")}
    tokenizer = gguf_tokenizer(key=MODEL_KEY, settings=settings)
    ids = list(build_prompt(tokenizer=tokenizer, prompt=PROMPT, chat=True).ids)
    configs = [
        Config(build, python, w, extra, int(threads))
        for (build, python), w, extra, threads in itertools.product(
            builds.items(), weights, args.extra.split(","), args.threads.split(",")
        )
    ]
    print(
        f"{len(configs)} configurations, {args.rounds} rounds, {args.tokens} tokens after {len(ids)} prompt tokens;"
        f" model {get_model_spec(MODEL_KEY).key}: "
        + ", ".join(f"{k} {p.stat().st_size / 1e6:.0f} MB" for k, p in weights.items())
    )
    runs: dict[Config, list[dict]] = {c: [] for c in configs}
    for r in range(args.rounds):
        shift = r % len(configs)
        line = []
        for config in configs[shift:] + configs[:shift]:
            result = run_child(config, path=weights[config.weights], ids=ids, tokens=args.tokens)
            runs[config].append(result)
            line.append(f"{config.label}: " + (f"{result['tok_s']:.1f}" if "tok_s" in result else result["error"]))
        print(f"  round {r + 1}/{args.rounds}: " + " | ".join(line), flush=True)

    first = statistics.median(x["tok_s"] for x in runs[configs[0]] if "tok_s" in x) if configs else 0
    print()
    print(f"{'configuration':48} {'variant':>14} {'tok/s':>7} {'ratio':>6} {'prompt ms':>9} {'load s':>6}  same ids")
    table = []
    for config in configs:
        good = [x for x in runs[config] if "tok_s" in x]
        if not good:
            print(f"{config.label:48} failed: {runs[config][0]['error']}")
            continue
        tok_s = statistics.median(x["tok_s"] for x in good)
        row = {
            "config": config.label,
            "variant": good[0]["variant"],
            "tok_s": tok_s,
            "ratio": tok_s / first,
            "prompt_ms": 1000 * statistics.median(x["prompt_s"] for x in good),
            "load_s": statistics.median(x["load_s"] for x in good),
            "same_ids_as_first": good[0]["first_ids"] == runs[configs[0]][0].get("first_ids"),
        }
        table.append(row)
        print(
            f"{config.label:48} {row['variant']:>14} {tok_s:7.1f} {row['ratio']:6.3f} {row['prompt_ms']:9.1f} "
            f"{row['load_s']:6.2f}  {'yes' if row['same_ids_as_first'] else 'no'}"
        )
    report = {"machine": machine, "rounds": args.rounds, "tokens": args.tokens, "table": table}
    if args.fidelity:
        scores = fidelity(weights, settings)
        print("\nfidelity against transformers (teacher-forced, 6 prompts x 48 tokens):")
        for name, s in scores.items():
            print(
                f"  {name:5} top-1 agreement {s['top1_agreement']:.1%} of {s['positions']}, mean TV "
                f"{s['mean_tv']:.4f}, max TV {s['max_tv']:.3f}"
            )
        report["fidelity"] = scores
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
