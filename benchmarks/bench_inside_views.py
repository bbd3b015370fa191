"""Benchmark: the logit lens and attention views against a raw transformers forward of the same model.

    . .venv/bin/activate
    HF_HUB_OFFLINE=1 python benchmarks/bench_inside_views.py            # a few minutes on 2 cores
    python benchmarks/bench_inside_views.py --rounds 5

One process, the embedded model (SmolLM2-135M-Instruct) on transformers (fp32, CPU). Medians of ``--rounds``:

* **lens** at 32 and 512 tokens: ``rsdemo.insight.lens.lens_arrays`` (one forward pass with hidden states, every
  row through the final norm and ``lm_head``, top 10 kept) and ``rsdemo.insight.views.logit_lens`` (the same plus
  the slot, the prompt and the token texts), next to a raw ``model(input_ids)`` and a raw forward with
  ``output_hidden_states=True``; the ratio lens / raw forward is printed.
* **attention** at 32, 128 and 512 tokens: ``rsdemo.insight.attention.attention_weights`` (every layer and head,
  float16 kept) next to a raw forward and to transformers' own ``eager`` forward with ``output_attentions=True`` on
  a private copy; the view itself (bounded at ``MAX_ATTENTION_TOKENS`` = 128) at 32 and 128 only.
* **two models on one text** (32 tokens): SmolLM2 against itself on llama.cpp, and against Gemma 3 270M where it is
  installed; the ratio is to one raw forward of SmolLM2.
* **re-read**: a cell's top 10, a probe's curve at the last position, the grid's HTML: kept numbers only.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return "unknown (no lscpu)"
    return next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import torch

    from rsdemo.backend import Backend
    from rsdemo.catalog import DEFAULT_MODEL
    from rsdemo.insight import views
    from rsdemo.insight.attention import attention_weights
    from rsdemo.insight.lens import cell, lens_arrays, probe_curve
    from rsdemo.render.lens import render_lens_grid

    print(f"CPU: {_cpu()}; torch threads {torch.get_num_threads()}; load average {os.getloadavg()}")
    backend = Backend()
    bundle = backend.model(DEFAULT_MODEL)
    model = bundle.model
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    words = " ".join(["the quick brown fox jumps over a lazy dog"] * 80)

    def median(fn) -> float:
        fn()  # warm
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    def forward(m, ids, **kw):
        with torch.inference_mode():
            return m(input_ids=torch.tensor([ids]), **kw)

    def prompt_of(n: int) -> tuple[str, list[int]]:
        ids = bundle.tokenizer(words).input_ids[: n - 1]  # the document-start token makes n
        text = bundle.tokenizer.decode(ids)
        return text, list(views._prompt(bundle, model=DEFAULT_MODEL, prompt=text, chat=False, limit=10**6).ids)

    print(f"{'what':<44}{'tokens':>7}{'seconds':>10}{'x raw':>8}")
    for n in (32, 512):
        text, ids = prompt_of(n)
        raw = median(lambda: forward(model, ids))
        hidden = median(lambda: forward(model, ids, output_hidden_states=True))
        lens = median(lambda: lens_arrays(model=model, ids=ids))
        service = median(lambda: views.logit_lens(service=backend, model=DEFAULT_MODEL, prompt=text))
        for what, seconds in [
            ("raw forward (sdpa)", raw),
            ("raw forward, output_hidden_states", hidden),
            ("lens_arrays (forward + 31 rows unembedded)", lens),
            ("views.logit_lens (+ slot, prompt, texts)", service),
        ]:
            print(f"{what:<44}{len(ids):>7}{seconds:>10.3f}{seconds / raw:>8.2f}")
    for n in (32, 128, 512):
        text, ids = prompt_of(n)
        raw = median(lambda: forward(model, ids))
        eager_s = median(lambda: forward(eager, ids, output_attentions=True))
        ours = median(lambda: attention_weights(model=model, ids=ids))
        rows = [
            ("raw forward (sdpa)", raw),
            ("raw eager forward, output_attentions", eager_s),
            ("attention_weights (all 30 layers)", ours),
        ]
        if n <= 128:  # the view's bound; at 512 only the numerics are timed
            service = median(lambda: views.attention(service=backend, model=DEFAULT_MODEL, prompt=text))
            rows.append(("views.attention (+ slot, prompt, texts)", service))
        for what, seconds in rows:
            print(f"{what:<44}{len(ids):>7}{seconds:>10.3f}{seconds / raw:>8.2f}")
    text, ids = prompt_of(512)
    result = views.logit_lens(service=backend, model=DEFAULT_MODEL, prompt=text)
    final = int(result.final_ids[-1])
    for what, fn in [
        ("re-read: a cell's top 10", lambda: cell(result, position=200, layer=15)),
        ("re-read: a probe at the last position", lambda: probe_curve(result, token_id=final)),
        ("re-read: a probe at position 200 (top 10)", lambda: probe_curve(result, token_id=final, position=200)),
        ("render: grid HTML, 64 positions x 31 rows", lambda: render_lens_grid(result)),
    ]:
        print(f"{what:<44}{len(ids):>7}{median(fn) * 1000:>9.2f}m")
    _model_diff(backend, median, forward, text)
    kept = sum(getattr(result, f).nbytes for f in ("top_ids", "top_logprobs", "final_rank", "final_logprob"))
    print(f"kept: {kept / 1e6:.1f} MB of cells + {result.last_logprobs.nbytes / 1e6:.1f} MB of last-position rows")
    return 0


def _model_diff(backend, median, forward, text: str) -> None:
    """Two models on one text (32 tokens of SmolLM2): against the embedded model on llama.cpp, and against Gemma 3
    270M where it is installed, next to the raw forwards of the transformers sides."""
    from rsdemo.catalog import DEFAULT_MODEL, MODELS
    from rsdemo.insight.model_diff_pass import model_diff
    from rsdemo.loading.assembled import model_installed

    bundle = backend.model(DEFAULT_MODEL)
    short = bundle.tokenizer.decode(bundle.tokenizer(text).input_ids[:32])
    raw_a = median(lambda: forward(bundle.model, bundle.tokenizer(short).input_ids))
    sides = [(DEFAULT_MODEL, "llama.cpp")]
    if model_installed(MODELS["gemma3-270m"]):
        sides.append(("gemma3-270m", "transformers"))
    for other, engine in sides:
        seconds = median(
            lambda o=other, e=engine: model_diff(
                service=backend, model_a=DEFAULT_MODEL, model_b=o, text=short, engine_b=e
            )
        )
        result = model_diff(service=backend, model_a=DEFAULT_MODEL, model_b=other, text=short, engine_b=engine)
        what = f"model_diff vs {other} ({engine})"
        print(f"{what:<44}{len(result.a.ids):>7}{seconds:>10.3f}{seconds / raw_a:>8.2f}")
        print(f"{'  of which side B':<44}{len(result.b.ids):>7}{result.b.seconds:>10.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
