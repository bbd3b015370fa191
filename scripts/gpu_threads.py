"""Find the thread penalty: the same ``model.generate`` in the main thread and in worker threads, side by side.

On an NVIDIA H200 rsdemo's greedy ran 3-4x slower than plain ``model.generate``, and the same plain call run in a
fresh ``threading.Thread`` was 3.8x slower too (issue 7). This script measures, in one run of a few minutes,
where such a penalty comes from, one line per figure::

    python scripts/gpu_threads.py                    # CUDA, the embedded model (bf16), 96 new tokens
    python scripts/gpu_threads.py --random-model     # a random model of SmolLM2-135M's shape (no asset needed)
    python scripts/gpu_threads.py --device cpu --tokens 16 --rounds 2    # the same on a CPU (checks the script)

1. **Launch latency** of small operations (a 1-element add, 2,000 times) in the main thread and in a fresh
   thread, on the device and on the CPU: a gap on the device only points at per-thread CUDA state; a gap on
   both at the Python side or the CPU thread pool (OpenMP).
2. **Plain generate** (greedy, the config rsdemo builds) in the main thread, in a fresh ``threading.Thread``
   per call, in one persistent worker thread reused for every call, in a ``ThreadPoolExecutor`` worker (how
   Gradio / anyio call handlers), and in a fresh thread that first sets ``torch.set_num_threads(1)``, and one
   that first calls ``torch.cuda.set_device`` and ``torch.cuda.set_stream`` explicitly.
3. **rsdemo** ``Backend.generate`` with ``details=False`` and ``details=True`` (the embedded model only).

Every figure is the median of ``--rounds`` runs after one warm-up run per variant, with its ratio to the
main-thread plain call. The tokens of every generate variant are compared with the main thread's.
Exit code 0 when it ran (it only measures), 2 without CUDA for ``--device cuda``.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_KEY = "smollm2-135m-instruct"
PROMPT = "Explain in a few sentences why the sky is blue."


def _in_fresh_thread(fn: Callable[[], object], setup: Callable[[], None] | None = None) -> object:
    box: list[object] = []

    def run() -> None:
        if setup is not None:
            setup()
        box.append(fn())

    thread = threading.Thread(target=run, name="gpu-threads-fresh")
    thread.start()
    thread.join()
    return box[0]


class _Persistent:
    """One worker thread, started once and reused for every call."""

    def __init__(self) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="gpu-threads-persistent", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            fn, done, box = self.jobs.get()
            box.append(fn())
            done.set()

    def __call__(self, fn: Callable[[], object]) -> object:
        done, box = threading.Event(), []
        self.jobs.put((fn, done, box))
        done.wait()
        return box[0]


def _median_s(fn: Callable[[], object], rounds: int) -> tuple[float, object]:
    fn()  # warm-up
    times, last = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), last


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tokens", type=int, default=96, help="new tokens per generate call (default 96)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--random-model",
        action="store_true",
        help="a randomly initialised model of SmolLM2-135M's shape instead of the embedded one",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    started = time.perf_counter()

    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_threads: no CUDA device here; run it on a CUDA machine, or with --device cpu", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    print(
        f"torch {torch.__version__}, device {device}"
        + (f" ({torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda})" if args.device == "cuda" else "")
        + f", torch threads {torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')!r}"
    )

    # 1. launch latency of small operations
    for where in dict.fromkeys([args.device, "cpu"]):
        x = torch.ones(1, device=where)

        def small_ops(x: torch.Tensor = x, where: str = where) -> None:
            for _ in range(2000):
                x.add_(1)
            if where == "cuda":
                torch.cuda.synchronize()

        main_s, _ = _median_s(small_ops, args.rounds)
        fresh_s, _ = _median_s(lambda: _in_fresh_thread(small_ops), args.rounds)
        print(
            f"small ops on {where}: main thread {main_s / 2000 * 1e6:.1f} us/op, fresh thread "
            f"{fresh_s / 2000 * 1e6:.1f} us/op (x{fresh_s / main_s:.2f})"
        )

    # the model and the prompt
    from rsdemo.decoding import generation_config

    backend = None
    if args.random_model:
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(
            vocab_size=49152,
            hidden_size=576,
            intermediate_size=1536,
            num_hidden_layers=30,
            num_attention_heads=9,
            num_key_value_heads=3,
            max_position_embeddings=2048,
            tie_word_embeddings=True,
        )
        torch.manual_seed(0)
        dtype = torch.bfloat16 if args.device == "cuda" else torch.float32
        model = LlamaForCausalLM(config).to(device=device, dtype=dtype).eval()
        input_ids = torch.randint(0, config.vocab_size, (1, 40), device=device)
        model.generation_config.eos_token_id = None  # random weights: never stop early
        label = "random SmolLM2-135M-shaped model"
    else:
        from rsdemo.backend import Backend
        from rsdemo.core.runtime import detect_runtime

        runtime = detect_runtime(
            environ={"RSDEMO_DEVICE": args.device},
            cuda_available=args.device == "cuda",
            mps_available=False,
            bf16_supported=args.device == "cuda" and torch.cuda.is_bf16_supported(),
        )
        backend = Backend(runtime=runtime)
        bundle = backend.model(MODEL_KEY, engine="transformers")
        model = bundle.model
        chat = [{"role": "user", "content": PROMPT}]
        text = bundle.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        input_ids = bundle.tokenizer(text, return_tensors="pt").input_ids.to(model.device)
        label = f"{MODEL_KEY} ({next(model.parameters()).dtype})"
    gen_config = generation_config(method="greedy", params={"max_new_tokens": args.tokens})
    gen_config.min_new_tokens = args.tokens if args.random_model else None
    mask = torch.ones_like(input_ids)

    def plain() -> list[int]:
        with torch.inference_mode():
            out = model.generate(input_ids, generation_config=gen_config, attention_mask=mask)
        sync()
        return out[0, input_ids.shape[1] :].tolist()

    def set_one_thread() -> None:
        torch.set_num_threads(1)

    def set_cuda_state() -> None:
        if args.device == "cuda":
            torch.cuda.set_device(device.index or 0)
            torch.cuda.set_stream(torch.cuda.default_stream())

    persistent = _Persistent()
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu-threads-pool")
    threads_before = torch.get_num_threads()
    variants: list[tuple[str, Callable[[], object]]] = [
        ("plain generate, main thread", plain),
        ("plain generate, fresh thread per call", lambda: _in_fresh_thread(plain)),
        ("plain generate, one persistent worker thread", lambda: persistent(plain)),
        ("plain generate, ThreadPoolExecutor worker (as anyio)", lambda: pool.submit(plain).result()),
        ("plain generate, fresh thread, torch.set_num_threads(1)", lambda: _in_fresh_thread(plain, set_one_thread)),
        ("plain generate, fresh thread, cuda set_device + set_stream", lambda: _in_fresh_thread(plain, set_cuda_state)),
    ]
    print(
        f"model: {label}, greedy, {args.tokens} new tokens, prompt {input_ids.shape[1]} tokens, median of {args.rounds}"
    )
    reference_s, reference = _median_s(plain, args.rounds)
    n = len(reference)  # type: ignore[arg-type]
    print(f"{variants[0][0]:<60} {reference_s:7.3f} s  {n / reference_s:7.1f} tok/s  x1.00")
    for name, fn in variants[1:]:
        seconds, tokens = _median_s(fn, args.rounds)
        torch.set_num_threads(threads_before)  # set_num_threads is process-wide: undo it for the next variant
        same = "same tokens" if tokens == reference else "DIFFERENT tokens"
        print(f"{name:<60} {seconds:7.3f} s  {n / seconds:7.1f} tok/s  x{seconds / reference_s:.2f}  {same}")

    if backend is not None:
        for details in (False, True):

            def rsdemo_run(details: bool = details) -> list[int]:
                final = list(
                    backend.generate(
                        model=MODEL_KEY,
                        prompt=PROMPT,
                        method="greedy",
                        engine="transformers",
                        params={"max_new_tokens": args.tokens},
                        details=details,
                    )
                )[-1]
                sync()
                return [t.id for t in final.tokens]

            seconds, tokens = _median_s(rsdemo_run, args.rounds)
            count = len(tokens)  # type: ignore[arg-type]
            print(
                f"{'rsdemo Backend.generate, details=' + str(details):<60} {seconds:7.3f} s  "
                f"{count / seconds:7.1f} tok/s  x{seconds / reference_s * n / max(count, 1):.2f} (per token)"
            )
    if args.device == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB")
    pool.shutdown()
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
