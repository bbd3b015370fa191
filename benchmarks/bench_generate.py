"""Benchmark: rsdemo's generation against plain ``model.generate`` on the embedded SmolLM2-135M-Instruct.

Everything runs in one process, on one loaded model object (``backend.model(key).model``, fp32 on the
CPU), from the same prompt ids, greedy, ``--max-new-tokens`` (64) new tokens. Timed interleaved for N
rounds (the order rotates every round: A B C, B C A, C A B, ...), medians compared:

* A (the reference): ``model.generate(input_ids, generation_config=config)`` where ``config`` is
  exactly what rsdemo builds, ``rsdemo.decoding.generation_config(method="greedy",
  params={"max_new_tokens": 64})``, under ``torch.inference_mode()``, in a fresh thread as rsdemo runs it
  (``OPENMP_NOTE`` says why; ``A-main``, informational, is the same call in the main thread,
  ``--no-main-thread`` leaves it out);
* B: ``list(backend.generate(model=key, prompt=..., method="greedy", params=..., details=False))``,
  what the Generate tab calls with "probabilities" off (streamed updates, tokens only);
* C: the same with ``details=True`` (the default): per-token probabilities and the top-10
  alternatives, live while streaming and again from ``output_scores`` / ``output_logits`` at the end.

Targets (from the issue): B/A <= 1.05 and C/A <= 1.15. The script also checks that A, B and C produce
identical token ids in every run and that the prompt really yields ``--max-new-tokens`` tokens (no
early end-of-sequence), and reports rsdemo's time to first token (``ttft_s`` of the final streamed
result) and tokens/s (``tokens_per_s``; both medians), the model load time from the converted
safetensors cache (``rsdemo.loading.load_model_bundle``) against loading the GGUF file itself
(``AutoModelForCausalLM.from_pretrained(dir, gguf_file=..., dtype=torch.float32)`` + its tokenizer;
``--skip-gguf`` leaves that out), and a model-cache hit (``backend.model(key)`` when loaded; target
< 50 ms, median of ``--hit-calls`` calls). ``--profile`` adds a cProfile of one B and one C run (every
thread, the generate worker included), cumulative time, rsdemo's functions first.

This script only measures: it exits 0 unless something fails to run (token ids that differ are
reported as NO, not raised).

Usage::

    RSDEMO_CACHE_DIR=/tmp/rscache HF_HUB_OFFLINE=1 python benchmarks/bench_generate.py
    python benchmarks/bench_generate.py --rounds 7 --skip-gguf --json /tmp/bench_generate.json
    python benchmarks/bench_generate.py --rounds 3 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import io
import json
import os
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import machine as common  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402

from rsdemo.backend import Backend  # noqa: E402
from rsdemo.catalog import MODELS  # noqa: E402
from rsdemo.core.runtime import detect_runtime  # noqa: E402
from rsdemo.core.settings import Settings  # noqa: E402
from rsdemo.decoding import generation_config  # noqa: E402
from rsdemo.generation import build_prompt  # noqa: E402
from rsdemo.loading import converted_model_dir, load_model_bundle, package_dir  # noqa: E402

MODEL_KEY = "smollm2-135m-instruct"
TARGET_B = 1.05  # rsdemo without details / plain generate
TARGET_C = 1.15  # rsdemo with probabilities and alternatives / plain generate
TARGET_HIT_MS = 50.0
OPENMP_NOTE = (
    "A runs model.generate in a fresh thread, as rsdemo runs it, so both get the same OpenMP conditions; "
    "A-main (informational) is the same call in the main thread. Measured on 2 shared vCPUs (torch's "
    "OpenMP build, OMP_WAIT_POLICY unset): on a quiet machine A-main is 4-10% faster than A (the main "
    "thread's OpenMP team spins actively, CPU time ~2x wall; a second thread's team, once the main one "
    "exists, sleeps between parallel regions); while other processes load the CPUs, A-main got 1.1-4x "
    "slower and erratic (4.3-13 s for 64 tokens where B took 4 s). With OMP_WAIT_POLICY=PASSIVE all are "
    "equal. rsdemo's generate always runs in a worker thread (so does Gradio's handler)."
)
DEFAULT_ROUNDS = 5
DEFAULT_NEW_TOKENS = 64
# A request that makes the 135M instruct model write a long answer: greedy, it writes past 64 tokens
# without an end-of-sequence token (the script checks this and says so if it ever stops early).
DEFAULT_PROMPT = (
    "Write a detailed, step-by-step guide to baking a loaf of sourdough bread at home, with ingredients and timings."
)


# --- machine --------------------------------------------------------------------------------------


def machine_info() -> dict[str, object]:
    return {
        **common.machine_info(dists=("torch", "transformers", "tokenizers", "safetensors", "gguf", "numpy")),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


# --- the three calls ------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    seconds: float
    ids: list[int]
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    finish_reason: str = ""


def plain_call(model: Any, input_ids: Any, config: Any, *, in_thread: bool = True) -> Callable[[], Run]:
    """A: transformers' own ``generate`` with rsdemo's config, on the same model object.

    ``in_thread`` (the reference): run it in a fresh thread, as rsdemo runs ``generate`` in its worker
    thread, so both run under the same OpenMP conditions (see ``OPENMP_NOTE``); the thread's start and
    join are timed, as they are in rsdemo. Otherwise it runs in the calling (main) thread.
    """
    prompt_len = input_ids.shape[1]

    def generate() -> Any:
        with torch.inference_mode():
            return model.generate(input_ids, generation_config=config)

    def run() -> Run:
        start = time.perf_counter()
        if in_thread:
            box: dict[str, Any] = {}

            def target() -> None:
                try:
                    box["out"] = generate()
                except BaseException as err:  # re-raised in the calling thread
                    box["error"] = err

            worker = threading.Thread(target=target, name="bench-plain-generate")
            worker.start()
            worker.join()
            if "error" in box:
                raise box["error"]
            out = box["out"]
        else:
            out = generate()
        elapsed = time.perf_counter() - start
        return Run(elapsed, out[0, prompt_len:].tolist())

    return run


def rsdemo_call(
    backend: Backend, prompt: str, max_new_tokens: int, *, details: bool, engine: str = "transformers"
) -> Callable[[], Run]:
    """B (``details=False``), C (``details=True``) and D (the llama.cpp engine, which always gives details): the
    whole streamed request, consumed to the end."""

    def run() -> Run:
        start = time.perf_counter()
        results = list(
            backend.generate(
                model=MODEL_KEY,
                prompt=prompt,
                method="greedy",
                engine=engine,
                params={"max_new_tokens": max_new_tokens},
                details=details,
            )
        )
        elapsed = time.perf_counter() - start
        final = results[-1]
        if details:  # the final view must carry probabilities and alternatives, or C measured nothing
            assert all(t.prob is not None and t.raw_top and t.top for t in final.tokens), "no details in C"
        return Run(elapsed, [t.id for t in final.tokens], final.ttft_s, final.tokens_per_s, final.finish_reason)

    return run


def llama_raw_call(loaded: Any, ids: list[int], max_new_tokens: int) -> Callable[[], Run]:
    """E: llama.cpp alone, greedy on its logits (argmax), no probabilities: the engine's own ceiling."""
    import numpy as np

    from rsdemo.generation.llamacpp_native import bindings as _bindings

    lib = _bindings()

    def run() -> Run:
        start = time.perf_counter()
        context = loaded.acquire(threading.Event())
        try:
            lib.llama_memory_clear(lib.llama_get_memory(context), True)
            prompt = (lib.llama_token * len(ids))(*ids)
            lib.llama_decode(context, lib.llama_batch_get_one(prompt, len(ids)))
            one = (lib.llama_token * 1)()
            out: list[int] = []
            for _ in range(max_new_tokens):
                logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(context, -1), shape=(loaded.vocab_size,))
                out.append(int(logits.argmax()))
                one[0] = out[-1]
                lib.llama_decode(context, lib.llama_batch_get_one(one, 1))
        finally:
            loaded.give_back(context)
        return Run(time.perf_counter() - start, out)

    return run


FIDELITY_PROMPTS = (  # varied, and each greedy answer runs the full 48 tokens
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Explain how a bicycle works to a ten-year-old.",
    "Give me a recipe for pancakes with step-by-step instructions.",
    "Describe the water cycle in detail.",
    "Write a poem about autumn leaves falling in a quiet park.",
    "What are the main differences between Python and JavaScript? Explain with examples.",
)


def fidelity(backend: Backend, *, new_tokens: int = 48) -> dict[str, float]:
    """llama.cpp against transformers, teacher-forced on transformers' own greedy outputs: top-1 agreement, mean TV."""
    from rsdemo.generation.llamacpp_engine import teacher_forced_logits

    loaded = backend.model(MODEL_KEY, engine="llama.cpp")
    bundle = backend.model(MODEL_KEY, engine="transformers")
    agree = positions = 0
    distances: list[float] = []
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
        ours = torch.softmax(torch.from_numpy(teacher_forced_logits(loaded, ids, start=start)[:-1]), dim=-1)
        with torch.inference_mode():
            theirs = torch.softmax(bundle.model(torch.tensor([ids])).logits[0, start - 1 : len(ids) - 1].float(), -1)
        agree += int((ours.argmax(-1) == theirs.argmax(-1)).sum())
        positions += len(ours)
        distances += (0.5 * (ours - theirs).abs().sum(-1)).tolist()
    return {
        "positions": positions,
        "top1_agreement": agree / positions,
        "mean_tv": statistics.mean(distances),
        "max_tv": max(distances),
    }


def _timed(fn: Callable[[], Run]) -> Run:
    gc.collect()
    gc.disable()
    try:
        return fn()
    finally:
        gc.enable()


# --- loads ----------------------------------------------------------------------------------------


def load_from_cache(settings: Settings) -> float:
    runtime = detect_runtime(environ={"RSDEMO_DEVICE": "cpu"}, cuda_available=False, mps_available=False)
    start = time.perf_counter()
    bundle = load_model_bundle(key=MODEL_KEY, runtime=runtime, settings=settings)
    elapsed = time.perf_counter() - start
    bundle.release()
    del bundle
    gc.collect()
    return elapsed


def load_from_gguf() -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = MODELS[MODEL_KEY]
    folder = package_dir(spec.package or "")
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=spec.path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=spec.path)
    model.eval()
    elapsed = time.perf_counter() - start
    del model, tokenizer
    gc.collect()
    return elapsed


# --- profile --------------------------------------------------------------------------------------


def profile_runs(fns: dict[str, Callable[[], Run]], *, top: int) -> dict[str, str]:
    """cProfile of each call, every thread included (generate runs in rsdemo's worker thread)."""
    reports = {}
    for name, fn in fns.items():
        profiles: list[cProfile.Profile] = []
        original_run = threading.Thread.run

        def profiled_run(self: threading.Thread, _orig: Any = original_run) -> None:
            prof = cProfile.Profile()
            profiles.append(prof)
            prof.enable()
            try:
                _orig(self)
            finally:
                prof.disable()

        threading.Thread.run = profiled_run  # type: ignore[method-assign]
        main = cProfile.Profile()
        try:
            main.enable()
            run = fn()
            main.disable()
        finally:
            threading.Thread.run = original_run  # type: ignore[method-assign]
        stats = pstats.Stats(main)
        for prof in profiles:
            stats.add(prof)
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats("cumulative")
        print(
            f"[{name}: {run.seconds:.2f} s, {len(run.ids)} tokens; the calling thread and {len(profiles)} worker "
            "thread(s) profiled, so the total below counts the wait in the calling thread too]",
            file=out,
        )
        print("-- rsdemo functions (cumulative) --", file=out)
        stats.print_stats(r"rsdemo[/\\]", top)
        print("-- where the rest goes: generate, the model's forward, softmax / topk / decode --", file=out)
        stats.print_stats(r"generate|_sample|forward|softmax|topk|decode|tolist|put|queue|threading", top)
        reports[name] = out.getvalue()
    return reports


# --- reporting ------------------------------------------------------------------------------------


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def _median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help=f"timed A/B/C rounds (default {DEFAULT_ROUNDS})"
    )
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULT_NEW_TOKENS)
    parser.add_argument("--prompt", default=DEFAULT_PROMPT, help="the user message (the chat template is applied)")
    parser.add_argument("--skip-gguf", action="store_true", help="do not time loading the GGUF file (~10-30 s each)")
    parser.add_argument("--load-rounds", type=int, default=2, help="interleaved cache/GGUF load rounds (default 2)")
    parser.add_argument("--hit-calls", type=int, default=100, help="backend.model(key) calls for the cache hit")
    parser.add_argument(
        "--no-main-thread",
        dest="main_thread",
        action="store_false",
        help="leave out the informational A-main row (plain generate in the main thread)",
    )
    parser.add_argument("--profile", action="store_true", help="also cProfile one B and one C run")
    parser.add_argument(
        "--no-fidelity",
        dest="fidelity",
        action="store_false",
        help="skip the llama.cpp vs transformers fidelity check (6 prompts, about a minute)",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="lines per profile section")
    parser.add_argument(
        "--cache-dir", default=None, help="rsdemo cache dir (default: RSDEMO_CACHE_DIR or ~/.cache/rsdemo)"
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch.set_num_threads(N) first (default: leave torch's own default)",
    )
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.torch_threads is not None:
        torch.set_num_threads(args.torch_threads)
    if args.rounds < 1 or args.load_rounds < 0 or args.hit_calls < 1 or args.max_new_tokens < 2:
        parser.error("--rounds, --hit-calls must be >= 1, --load-rounds >= 0, --max-new-tokens >= 2")

    settings = Settings.from_env(os.environ)
    if args.cache_dir:
        settings = dataclasses.replace(settings, cache_dir=Path(args.cache_dir).expanduser())
    runtime = detect_runtime(environ={"RSDEMO_DEVICE": "cpu"}, cuda_available=False, mps_available=False)
    backend = Backend(settings=settings, runtime=runtime)

    machine = machine_info()
    print(
        "machine:",
        machine["cpu"],
        f"| {machine['cores']} cores ({machine['usable_cores']} usable)",
        f"| torch threads {machine['torch_threads']} (interop {machine['torch_interop_threads']}, "
        f"OMP_NUM_THREADS={machine['omp_num_threads']}; "
        f"{'set by --torch-threads' if args.torch_threads else 'torch default'})",
        f"| load average {machine['load_average_at_start']}",
    )
    print("         ", machine["python"], "|", machine["platform"])
    print(
        "libraries:",
        ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
        f"| rsdemo {machine['rsdemo_commit']} (rsdemo/*.py sha256 {machine['rsdemo_source_sha256']})",
    )

    started_all = time.perf_counter()
    folder = converted_model_dir(key=MODEL_KEY, settings=settings)
    had_converted = (folder / "config.json").is_file()
    t0 = time.perf_counter()
    bundle = backend.model(MODEL_KEY)
    first_load_s = time.perf_counter() - t0
    print(
        f"model: {MODEL_KEY}, {bundle.nbytes / 1e6:.0f} MB of {bundle.dtype} parameters on {bundle.device}; "
        f"first load {first_load_s:.2f} s "
        f"({'from the converted cache' if had_converted else 'GGUF conversion included'}"
        f", imports included) from {folder}"
    )

    model, tokenizer = bundle.model, bundle.tokenizer
    info = build_prompt(tokenizer=tokenizer, prompt=args.prompt, chat=True)
    input_ids = torch.tensor([list(info.ids)], device=bundle.device)
    config = generation_config(method="greedy", params={"max_new_tokens": args.max_new_tokens})
    fields = {k: v for k, v in config.to_diff_dict().items() if k != "transformers_version"}
    model_defaults = {
        k: getattr(model.generation_config, k, None) for k in ("eos_token_id", "pad_token_id", "bos_token_id")
    }
    print(f"prompt: {args.prompt!r} (chat template applied: {info.chat}; {len(info.ids)} prompt tokens)")
    print(
        f"settings: greedy, max_new_tokens={args.max_new_tokens}, GenerationConfig {fields} "
        f"(the model's own generation_config adds {model_defaults}); {args.rounds} interleaved rounds, "
        "order rotated each round, gc off while timing, medians"
    )

    calls: dict[str, Callable[[], Run]] = {
        "A": plain_call(model, input_ids, config, in_thread=True),
        "B": rsdemo_call(backend, args.prompt, args.max_new_tokens, details=False),
        "C": rsdemo_call(backend, args.prompt, args.max_new_tokens, details=True),
    }
    llama_missing = backend.engines["llama.cpp"].missing() if "llama.cpp" in backend.engines else "not registered"
    if llama_missing is None:
        backend.model(MODEL_KEY, engine="llama.cpp")  # as the app runs it (a worker process by default)
        calls["D"] = rsdemo_call(backend, args.prompt, args.max_new_tokens, details=True, engine="llama.cpp")
        # E drives llama.cpp's C API in this process: a model loaded here, not in the worker
        raw = backend.engines["llama.cpp"].load(
            MODEL_KEY,
            runtime=runtime,
            progress=None,
            budget=None,
            settings=dataclasses.replace(settings, generation_process=False),
        )
        calls["E"] = llama_raw_call(raw, list(info.ids), args.max_new_tokens)
    else:
        print(f"llama.cpp engine: {llama_missing} (D and E left out)")
    if args.main_thread:
        calls["A-main"] = plain_call(model, input_ids, config, in_thread=False)
    labels = {
        "A": "A plain model.generate",
        "A-main": "A-main plain, main thread (info)",
        "B": "B rsdemo transformers, details=False",
        "C": "C rsdemo transformers, details=True",
        "D": "D rsdemo llama.cpp (probabilities, top-10)",
        "E": "E llama.cpp alone, argmax (info)",
    }

    # warm-up (first calls build caches and allocator pools) and the identity / length check
    warm = {name: _timed(fn) for name, fn in calls.items()}
    reference = warm["A"].ids
    print(
        "warm-up: " + ", ".join(f"{name} {run.seconds:.2f} s" for name, run in warm.items()) + "; "
        f"generated {len(reference)} tokens (asked {args.max_new_tokens}; B finish reason: "
        f"{warm['B'].finish_reason!r})"
    )
    if len(reference) < args.max_new_tokens:
        print(
            f"  NOTE: the model stopped early ({len(reference)} tokens, end of sequence); A, B and C still run the "
            "same GenerationConfig, so they stop at the same token. Pick a longer-answer --prompt for 64."
        )
    print("  text:", repr(tokenizer.decode(reference, skip_special_tokens=False)[:160]) + "…")

    runs: dict[str, list[Run]] = {name: [] for name in calls}
    order = list(calls)
    for r in range(args.rounds):
        rotated = order[r % len(order) :] + order[: r % len(order)]
        line = []
        for name in rotated:
            run = _timed(calls[name])
            runs[name].append(run)
            line.append(f"{name} {run.seconds:6.2f} s")
        print(f"  round {r + 1}/{args.rounds}: " + "   ".join(line) + f"   (load average {_load()})", flush=True)

    transformers_calls = [n for n in calls if n[0] in "ABC"]
    all_runs = [warm[n] for n in transformers_calls] + [run for name in transformers_calls for run in runs[name]]
    identical = all(run.ids == reference for run in all_runs)
    llama_same = {
        n: all(run.ids[: len(reference)] == reference for run in [warm[n], *runs[n]]) for n in calls if n in "DE"
    }
    n_tokens = len(reference)
    med = {name: statistics.median(run.seconds for run in runs[name]) for name in calls}
    ratio_b = med["B"] / med["A"]
    ratio_c = med["C"] / med["A"]

    # loads: converted cache vs GGUF, interleaved
    cache_loads: list[float] = []
    gguf_loads: list[float] = []
    for r in range(args.load_rounds):
        cache_loads.append(load_from_cache(settings))
        line = f"  load round {r + 1}/{args.load_rounds}: converted cache {cache_loads[-1]:.2f} s"
        if not args.skip_gguf:
            gguf_loads.append(load_from_gguf())
            line += f", GGUF {gguf_loads[-1]:.2f} s"
        print(line, flush=True)

    # cache hit
    backend.model(MODEL_KEY)
    hits = []
    for _ in range(args.hit_calls):
        start = time.perf_counter()
        backend.model(MODEL_KEY)
        hits.append(time.perf_counter() - start)
    hit_ms = statistics.median(hits) * 1e3

    total_s = time.perf_counter() - started_all
    print(
        f"\n{MODEL_KEY}, fp32 CPU, greedy, {n_tokens} new tokens from {len(info.ids)} prompt tokens; "
        f"median of {args.rounds} interleaved rounds; whole run {total_s:.0f} s\n"
    )

    def tps(run_list: list[Run]) -> str:
        return f"{n_tokens / statistics.median(r.seconds for r in run_list):.2f}"

    rows: list[tuple[str, ...]] = [
        ("", "median s", "tokens/s", "ratio to A", "target", "met", "ttft s", "rsdemo tok/s")
    ]
    rows.append((labels["A"], f"{med['A']:.3f}", tps(runs["A"]), "1.000", "", "", "", ""))
    if "A-main" in runs:
        rows.append(
            (
                labels["A-main"],
                f"{med['A-main']:.3f}",
                tps(runs["A-main"]),
                f"{med['A-main'] / med['A']:.3f}",
                "",
                "",
                "",
                "",
            )
        )
    for name, ratio, target in (("B", ratio_b, TARGET_B), ("C", ratio_c, TARGET_C)):
        ttft = _median([r.ttft_s for r in runs[name]])
        rate = _median([r.tokens_per_s for r in runs[name]])
        rows.append(
            (
                labels[name],
                f"{med[name]:.3f}",
                tps(runs[name]),
                f"{ratio:.3f}",
                f"<= {target:.2f}",
                "yes" if ratio <= target else "NO",
                f"{ttft:.3f}" if ttft is not None else "-",
                f"{rate:.2f}" if rate is not None else "-",
            )
        )
    for name in ("D", "E"):
        if name in runs:
            ttft = _median([r.ttft_s for r in runs[name]])
            rate = _median([r.tokens_per_s for r in runs[name]])
            speedup = med["C"] / med[name]
            rows.append(
                (
                    labels[name],
                    f"{med[name]:.3f}",
                    tps(runs[name]),
                    f"{med[name] / med['A']:.3f}",
                    ">= 4x C, >= 60 tok/s" if name == "D" else "",
                    ("yes" if speedup >= 4 and n_tokens / med[name] >= 60 else "NO") if name == "D" else "",
                    f"{ttft:.3f}" if ttft is not None else "-",
                    f"{rate:.2f}" if rate is not None else "-",
                )
            )
    print_table(rows)
    for name, same in llama_same.items():
        print(
            f"{name}: the same tokens as A: {'yes' if same else 'no (the GGUF numerics differ; see fidelity)'}; "
            f"{med['C'] / med[name]:.2f}x C's speed"
        )
    fid = None
    if llama_missing is None and args.fidelity:
        fid = fidelity(backend)
        print(
            f"fidelity, llama.cpp vs transformers, teacher-forced on transformers' greedy output "
            f"({len(FIDELITY_PROMPTS)} prompts x 48 tokens, {fid['positions']} positions): top-1 agreement "
            f"{fid['top1_agreement']:.1%} (target >= 97%), mean total variation {fid['mean_tv']:.4f} "
            f"(target <= 0.05), max {fid['max_tv']:.3f}"
        )
    if "A-main" in runs:
        print(
            f"(against A-main instead, informational: B {med['B'] / med['A-main']:.3f}, "
            f"C {med['C'] / med['A-main']:.3f})"
        )
    print()
    load_rows: list[tuple[str, ...]] = [("", "median s", "runs s", "target", "met")]
    if cache_loads:
        load_rows.append(
            (
                "load from converted cache (load_model_bundle)",
                f"{statistics.median(cache_loads):.2f}",
                ", ".join(f"{x:.2f}" for x in cache_loads),
                "",
                "",
            )
        )
    if gguf_loads:
        load_rows.append(
            (
                "load from GGUF (from_pretrained gguf_file + tokenizer)",
                f"{statistics.median(gguf_loads):.2f}",
                ", ".join(f"{x:.2f}" for x in gguf_loads),
                "",
                "",
            )
        )
    load_rows.append(
        (
            f"model cache hit backend.model(key), {args.hit_calls} calls",
            f"{hit_ms / 1e3:.6f}",
            f"median {hit_ms * 1e3:.1f} us, max {max(hits) * 1e6:.0f} us",
            f"< {TARGET_HIT_MS:.0f} ms",
            "yes" if hit_ms < TARGET_HIT_MS else "NO",
        )
    )
    print_table(load_rows)
    if cache_loads and gguf_loads:
        print(
            f"\nGGUF load / converted-cache load: {statistics.median(gguf_loads) / statistics.median(cache_loads):.1f}x"
        )
    print(
        f"\nnote: {OPENMP_NOTE}" if "A-main" in runs else "\nnote: A runs in a fresh thread, as rsdemo's generate does."
    )
    print(
        f"\nidentical token ids, {' == '.join(transformers_calls)} in all {len(all_runs)} runs: "
        f"{'yes' if identical else 'NO'} "
        f"({n_tokens} tokens each; asked {args.max_new_tokens})"
    )

    profiles: dict[str, str] = {}
    if args.profile:
        print("\n== cProfile (one run each, all threads; cumulative) ==")
        profiles = profile_runs({"B details=False": calls["B"], "C details=True": calls["C"]}, top=args.profile_top)
        for text in profiles.values():
            print(text)

    if args.json:
        payload = {
            "machine": machine,
            "model": MODEL_KEY,
            "prompt": args.prompt,
            "prompt_tokens": len(info.ids),
            "max_new_tokens": args.max_new_tokens,
            "generated_tokens": n_tokens,
            "generation_config": fields,
            "rounds": args.rounds,
            "identical_ids": identical,
            "a_in_thread": True,
            "median_s": med,
            "all_s": {name: [round(r.seconds, 4) for r in runs[name]] for name in calls},
            "ratio_b": ratio_b,
            "ratio_b_to_a_main": med["B"] / med["A-main"] if "A-main" in med else None,
            "ratio_c_to_a_main": med["C"] / med["A-main"] if "A-main" in med else None,
            "ratio_c": ratio_c,
            "target_b": TARGET_B,
            "target_c": TARGET_C,
            "ttft_s": {name: _median([r.ttft_s for r in runs[name]]) for name in ("B", "C", "D") if name in runs},
            "rsdemo_tokens_per_s": {
                name: _median([r.tokens_per_s for r in runs[name]]) for name in ("B", "C", "D") if name in runs
            },
            "llama_same_tokens_as_a": llama_same,
            "fidelity": fid,
            "first_load_s": first_load_s,
            "load_cache_s": cache_loads,
            "load_gguf_s": gguf_loads,
            "cache_hit_median_ms": hit_ms,
            "total_s": total_s,
            "profiles": profiles,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
