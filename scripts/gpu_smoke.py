"""GPU smoke check: every decoding method on the embedded model, on CUDA, through rsdemo's Backend.

Run it on a CUDA machine, from the repo root::

    bash scripts/setup.sh            # a CUDA build of torch there (PyPI's Linux torch wheels are CUDA builds)
    python scripts/gpu_smoke.py      # about 1-2 min; the first run also converts the GGUF (~15-30 s)

What it does (``--device cuda``, the default):

1. refuses at once, exit code 2, when ``torch.cuda.is_available()`` is False;
2. loads ``smollm2-135m-instruct`` through ``Backend(runtime=detect_runtime(environ={"RSDEMO_DEVICE":
   "cuda"}, cuda_available=True, mps_available=False, bf16_supported=torch.cuda.is_bf16_supported()))``
   (bfloat16 on the GPU, float16 where bf16 is not supported) and checks its parameters are on the GPU;
3. runs every method of ``rsdemo.decoding.METHODS`` (``max_new_tokens`` 32, fixed seed, probabilities
   on) and checks each result (done, at least one token, the expected number of beams, probabilities
   in [0, 1]); prints ok/FAIL, generated tokens, tokens/s, seconds and the first 60 characters;
4. checks that rsdemo's greedy output equals plain ``model.generate`` on the same GPU model (same ids,
   same ``GenerationConfig``, the all-ones attention mask rsdemo passes), and greedy with
   ``details=False``; reports whether a sampling method repeats itself with the same seed (a warning only:
   GPU kernels may differ run to run);
5. prints torch / CUDA / cuDNN versions, the GPU, and peak GPU memory (``torch.cuda.max_memory_allocated``).

Exit code: 0 when every check passes, 1 when any method or the greedy parity fails, 2 without CUDA.

``--device cpu`` runs the same checks on the CPU (float32) with ``max_new_tokens`` 8, so the script can be
verified on a machine without a GPU. ``RSDEMO_CACHE_DIR`` picks the cache directory as in the app;
``HF_HUB_OFFLINE=1`` is fine (the embedded model needs no network).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_KEY = "smollm2-135m-instruct"
PROMPT = "Explain in a few sentences why the sky is blue."
SEED = 1234
BEAM_METHODS_RETURN_ALL = {"beam", "beam_sample", "diverse_beam"}  # num_return_sequences == num_beams


def _fail_fast_without_cuda(torch: object) -> int | None:
    if torch.cuda.is_available():  # type: ignore[attr-defined]
        return None
    cuda_build = getattr(torch.version, "cuda", None)  # type: ignore[attr-defined]
    print(
        "gpu_smoke: no CUDA device here (torch.cuda.is_available() is False; torch "
        f"{torch.__version__}, {'built for CUDA ' + cuda_build if cuda_build else 'a CPU-only build'}).\n"  # type: ignore[attr-defined]
        "  Run it on a CUDA machine after `bash scripts/setup.sh` (with a CUDA build of torch),\n"
        "  or run the same checks on the CPU with: python scripts/gpu_smoke.py --device cpu",
        file=sys.stderr,
    )
    return 2


def _probs_ok(result: object) -> bool:
    for beam in result.beams:  # type: ignore[attr-defined]
        for token in beam.tokens:
            for p in (token.raw_prob, token.prob):
                if p is not None and not (math.isfinite(p) and 0.0 <= p <= 1.0 + 1e-6):
                    return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        default="cuda",
        help="cuda (default; exit 2 without one) or cpu (the same checks, max_new_tokens 8)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default: 32 on cuda, 8 on cpu")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--methods", default="", help="comma-separated method keys (default: every method)")
    parser.add_argument("--verbose", action="store_true", help="print the traceback of a failed method")
    args = parser.parse_args(argv)

    import torch

    if args.device == "cuda":
        refused = _fail_fast_without_cuda(torch)
        if refused is not None:
            return refused
    new_tokens = args.max_new_tokens or (32 if args.device == "cuda" else 8)

    sys.path.insert(0, str(REPO_ROOT))
    from rsdemo.backend import Backend
    from rsdemo.core.runtime import detect_runtime
    from rsdemo.decoding import METHODS, generation_config, resolve_params

    methods = [m.strip() for m in args.methods.split(",") if m.strip()] or list(METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {list(METHODS)}")

    started = time.perf_counter()
    if args.device == "cuda":
        runtime = detect_runtime(
            environ={"RSDEMO_DEVICE": "cuda"},
            cuda_available=True,
            mps_available=False,
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
        props = torch.cuda.get_device_properties(0)
        print(
            f"GPU: {torch.cuda.get_device_name(0)} (compute {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.0f} GiB), bf16 supported: {torch.cuda.is_bf16_supported()}"
        )
        print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        runtime = detect_runtime(environ={"RSDEMO_DEVICE": "cpu"}, cuda_available=False, mps_available=False)
        print(
            f"CPU run (--device cpu): torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"CUDA available: {torch.cuda.is_available()}"
        )
    import transformers

    print(
        f"transformers {transformers.__version__}; runtime {runtime.kind}, device {runtime.device}, "
        f"dtype {runtime.dtype_name}; {len(methods)} methods, max_new_tokens {new_tokens}, seed {args.seed}"
    )

    failures: list[str] = []
    backend = Backend(runtime=runtime)
    t0 = time.perf_counter()
    try:
        bundle = backend.model(MODEL_KEY, progress=lambda msg: print("  " + msg, flush=True))
    except Exception as err:  # nothing else can run
        print(f"FAIL: could not load {MODEL_KEY}: {type(err).__name__}: {err}")
        return 1
    model = bundle.model
    param = next(model.parameters())
    print(
        f"model: {MODEL_KEY} loaded in {time.perf_counter() - t0:.1f} s, parameters on {param.device} "
        f"({param.dtype}), {bundle.nbytes / 2**20:.0f} MiB"
    )
    if param.device.type != runtime.device:
        failures.append(f"model parameters on {param.device}, not {runtime.device}")
        print(f"FAIL: {failures[-1]}")

    # warm-up (CUDA context, cuBLAS handles, the first kernels) so the first method's rate is not skewed
    list(backend.generate(model=MODEL_KEY, prompt=PROMPT, method="greedy", params={"max_new_tokens": 2}))
    if args.device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

    print()
    header = f"{'method':<13} {'result':<6} {'tokens':>6} {'beams':>5} {'tok/s':>8} {'s':>6}  first 60 chars"
    print(header)
    print("-" * len(header))
    greedy_result = None
    for key in methods:
        params = {"max_new_tokens": new_tokens, "seed": args.seed}
        expected_beams = (
            resolve_params(method=key, params=params).get("num_return_sequences", 1)
            if key in BEAM_METHODS_RETURN_ALL
            else 1
        )
        t0 = time.perf_counter()
        try:
            results = list(backend.generate(model=MODEL_KEY, prompt=PROMPT, method=key, params=params))
            elapsed = time.perf_counter() - t0
            final = results[-1]
            problems = []
            if not final.done:
                problems.append("last result not done")
            if not final.tokens:
                problems.append("no tokens")
            if len(final.tokens) > new_tokens:
                problems.append(f"{len(final.tokens)} tokens > max_new_tokens {new_tokens}")
            if len(final.beams) != expected_beams:
                problems.append(f"{len(final.beams)} beams, expected {expected_beams}")
            if not _probs_ok(final):
                problems.append("a probability outside [0, 1]")
            if METHODS[key].streams and len(results) - 1 != len(final.tokens):
                problems.append(f"{len(results) - 1} streamed updates for {len(final.tokens)} tokens")
        except Exception as err:
            elapsed = time.perf_counter() - t0
            failures.append(f"{key}: {type(err).__name__}: {err}")
            print(
                f"{key:<13} {'FAIL':<6} {'-':>6} {'-':>5} {'-':>8} {elapsed:6.2f}  {type(err).__name__}: "
                f"{str(err)[:160]}",
                flush=True,
            )
            if args.verbose:
                traceback.print_exc()
            continue
        n = len(final.tokens)
        status = "ok" if not problems else "FAIL"
        if problems:
            failures.append(f"{key}: {'; '.join(problems)}")
        rate = n / elapsed if elapsed > 0 else float("nan")
        print(
            f"{key:<13} {status:<6} {n:>6} {len(final.beams):>5} {rate:>8.1f} {elapsed:6.2f}  "
            f"{final.text[:60]!r}" + (f"  <- {'; '.join(problems)}" if problems else ""),
            flush=True,
        )
        if key == "greedy":
            greedy_result = final

    print()
    # greedy parity: rsdemo vs plain generate on the same model object and device
    if greedy_result is None:
        greedy_result = list(
            backend.generate(
                model=MODEL_KEY,
                prompt=PROMPT,
                method="greedy",
                params={"max_new_tokens": new_tokens, "seed": args.seed},
            )
        )[-1]
    ours = [t.id for t in greedy_result.tokens]
    input_ids = torch.tensor([list(greedy_result.prompt.ids)], device=bundle.device)
    config = generation_config(method="greedy", params={"max_new_tokens": new_tokens})
    with torch.inference_mode():
        out = model.generate(input_ids, generation_config=config, attention_mask=torch.ones_like(input_ids))
    plain = out[0, input_ids.shape[1] :].tolist()
    same = ours == plain
    print(
        f"greedy parity, rsdemo == plain model.generate on {bundle.device}: {'ok' if same else 'FAIL'} "
        f"({len(ours)} vs {len(plain)} tokens)"
    )
    if not same:
        first = next((i for i, (a, b) in enumerate(zip(ours, plain)) if a != b), min(len(ours), len(plain)))
        print(
            f"  first difference at token {first}: rsdemo {ours[first : first + 5]} vs plain {plain[first : first + 5]}"
        )
        failures.append("greedy parity with plain model.generate")

    quick = list(
        backend.generate(
            model=MODEL_KEY,
            prompt=PROMPT,
            method="greedy",
            params={"max_new_tokens": new_tokens, "seed": args.seed},
            details=False,
        )
    )[-1]
    same_quick = [t.id for t in quick.tokens] == ours
    print(f"greedy details=False == details=True: {'ok' if same_quick else 'FAIL'}")
    if not same_quick:
        failures.append("greedy details=False differs from details=True")

    # informational: rsdemo's overhead on this device (plain generate vs details off / on), median of 3
    def _plain() -> None:
        with torch.inference_mode():
            model.generate(input_ids, generation_config=config, attention_mask=torch.ones_like(input_ids))
        if args.device == "cuda":
            torch.cuda.synchronize()

    def _rsdemo(details: bool) -> None:
        list(
            backend.generate(
                model=MODEL_KEY,
                prompt=PROMPT,
                method="greedy",
                params={"max_new_tokens": new_tokens, "seed": args.seed},
                details=details,
            )
        )

    timings: dict[str, list[float]] = {"plain": [], "details=False": [], "details=True": []}
    for _ in range(3):
        for name, fn in (
            ("plain", _plain),
            ("details=False", lambda: _rsdemo(False)),
            ("details=True", lambda: _rsdemo(True)),
        ):
            t0 = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - t0)
    med = {name: sorted(values)[1] for name, values in timings.items()}
    print(
        f"greedy {len(ours)} tokens, median of 3 (info): plain generate {med['plain']:.3f} s, rsdemo "
        f"details=False {med['details=False']:.3f} s (x{med['details=False'] / med['plain']:.2f}), "
        f"details=True {med['details=True']:.3f} s (x{med['details=True'] / med['plain']:.2f})"
    )

    sampler = next((m for m in ("top_p", "sample", "top_k") if m in METHODS), None)
    if sampler is not None:
        params = {"max_new_tokens": new_tokens, "seed": args.seed}
        runs = [
            [
                t.id
                for t in list(
                    backend.generate(model=MODEL_KEY, prompt=PROMPT, method=sampler, params=params, details=False)
                )[-1].tokens
            ]
            for _ in range(2)
        ]
        print(
            f"{sampler} with seed {args.seed} twice gives the same tokens: "
            f"{'ok' if runs[0] == runs[1] else 'WARN (differs; not counted as a failure)'}"
        )

    if args.device == "cuda":
        torch.cuda.synchronize()
        print(
            f"peak GPU memory (torch.cuda.max_memory_allocated, after load): "
            f"{torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB; reserved now "
            f"{torch.cuda.memory_reserved() / 2**20:,.0f} MiB"
        )
    else:
        import resource

        print(f"peak process memory (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
    total = time.perf_counter() - started
    if failures:
        print(f"\nFAILED ({len(failures)}) in {total:.0f} s:")
        for line in failures:
            print("  - " + line)
        return 1
    print(f"\nall checks passed in {total:.0f} s ({len(methods)} methods on {runtime.device})")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
