"""Benchmark: the Inside tab's stage view after a slider move (no model call) against the forward pass it reuses.

    . .venv/bin/activate
    HF_HUB_OFFLINE=1 python benchmarks/bench_insight.py              # ~30 s on 2 cores
    python benchmarks/bench_insight.py --rounds 20 --method top_k

One process, the embedded model on transformers (fp32, CPU). Timed, medians of ``--rounds``:

* **forward**: ``rsdemo.insight.scoring.score`` on the prompt's ids, what the first "Look inside" runs
  (the raw library call it wraps: ``model(input_ids).logits``, timed alongside as **raw forward**);
* **slider move**: ``Backend.next_token`` on a prompt already scored, with new parameters: the stages
  recomputed from the kept logits (no model call) and the result built (target: < 100 ms);
* **render**: ``render_stages`` of that result (the HTML the page receives).
* **arena** (``--arena-tokens``, 0 skips it): one whole 4-method arena run (greedy, top-p, beam search, contrastive
  search; 32 new tokens, seed 1) through ``Backend.arena``, the seconds of each method and in all, next to
  the same four ``Backend.generate`` calls one after another (the arena's own cost is the difference).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--method", default="top_p")
    parser.add_argument("--prompt", default="The capital of France is a city where")
    parser.add_argument("--arena-tokens", type=int, default=32)
    args = parser.parse_args()

    import torch

    from rsdemo.backend import Backend
    from rsdemo.catalog import DEFAULT_MODEL
    from rsdemo.generation import build_prompt
    from rsdemo.insight.scoring import score
    from rsdemo.render.insight import render_stages

    backend = Backend()
    bundle = backend.model(DEFAULT_MODEL)
    ids = list(build_prompt(tokenizer=bundle.tokenizer, prompt=args.prompt, chat=False).ids)
    backend.next_token(model=DEFAULT_MODEL, prompt=args.prompt, chat=False, method=args.method)  # scores once

    def median(fn) -> float:
        fn()
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def raw_forward() -> None:
        with torch.inference_mode():
            _ = bundle.model(input_ids=torch.tensor([ids])).logits

    values = iter(range(10**9))

    def slider() -> object:
        top_p = 0.5 + (next(values) % 40) / 100  # a different value each time, as a slider drag sends
        return backend.next_token(
            model=DEFAULT_MODEL,
            prompt=args.prompt,
            chat=False,
            method=args.method,
            params={"top_p": top_p} if args.method == "top_p" else None,
            probes="Paris",
        )

    result = slider()
    rows = [
        ("raw forward: model(input_ids).logits", median(raw_forward)),
        ("forward: rsdemo.insight.scoring.score", median(lambda: score(model=bundle.model, ids=ids))),
        ("slider move: Backend.next_token (kept forward pass)", median(slider)),
        (
            "render: render_stages",
            median(lambda: render_stages(result.view, pieces=result.pieces, probes=result.probes)),
        ),
    ]
    print(
        f"{DEFAULT_MODEL}, {len(ids)} prompt tokens, method {args.method}, median of {args.rounds}, "
        f"torch threads {torch.get_num_threads()}"
    )
    for name, seconds in rows:
        print(f"{name:<55} {seconds * 1000:9.2f} ms")
    move = rows[2][1] + rows[3][1]
    print(
        f"slider move + render {move * 1000:.2f} ms (target < 100 ms: {'yes' if move < 0.1 else 'NO'}); "
        f"score / raw forward {rows[1][1] / rows[0][1]:.2f}x"
    )
    if args.arena_tokens:
        methods = ["greedy", "top_p", "beam", "contrastive"]
        params = {"max_new_tokens": args.arena_tokens, "seed": 1}
        prompt = "Write a short poem about the sea."
        for method in methods:  # warm-up: both engines' models loaded before anything is timed
            for _ in backend.generate(model=DEFAULT_MODEL, prompt=prompt, method=method, params={"max_new_tokens": 2}):
                pass
        t0 = time.perf_counter()
        plain = []
        for method in methods:
            start = time.perf_counter()
            for _ in backend.generate(model=DEFAULT_MODEL, prompt=prompt, method=method, params=params):
                pass
            plain.append(time.perf_counter() - start)
        separate = time.perf_counter() - t0
        t0 = time.perf_counter()
        *_, final = backend.arena(model=DEFAULT_MODEL, prompt=prompt, methods=methods, params=params)
        whole = time.perf_counter() - t0
        for row, alone in zip(final.rows, plain):
            print(
                f"arena {row.method:<12} {row.seconds:7.2f} s ({row.length} tokens, engine "
                f"{final.runs[final.methods.index(row.method)].engine}); alone {alone:.2f} s"
            )
        print(
            f"4-method arena run {whole:.2f} s; the same four generate calls {separate:.2f} s "
            f"(ratio {whole / separate:.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
