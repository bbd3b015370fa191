"""Where a light request's server time goes, in one process, without HTTP: the pieces of ``/tokenize``.

For the same request mix as ``soak.py`` (its texts and tokenizers, 20 % with special tokens, 20 % with
whitespace shown), this times per request, as medians and means over ``--rounds`` passes:

* ``backend``: ``Backend.tokenize`` alone (ids, stats, the segment table);
* ``callback``: the whole Tokenize callback the event runs (tokenize, both HTML renderings, the ids text,
  ``result.as_dict()`` for the hidden ``gr.JSON``), called directly;
* ``process_api``: Gradio's ``Blocks.process_api`` for the ``tokenize`` event (input preprocessing, the
  callback in a worker thread, output postprocessing of the 4 outputs -- each ``postprocess`` in its own
  ``anyio`` thread hop, two file-reference traversals per output, ``add_root_url``), in process, with the
  session state of a returning visitor (as the server keeps it per session hash);
* ``new session``: ``SessionState(demo)``, what the server builds on a session's first request (the
  config of every block of the app);
* ``sse json``: ``orjson.dumps`` of the ``process_completed`` message, what the queue writes to the stream;
* per output: the bytes it adds to the message and the cost of Gradio's output handling of that value
  (``postprocess`` + ``model_dump`` + the two traversals + ``add_root_url`` + its share of the JSON).

The callback's own split (tokenize / render / as_dict ...) comes from cProfile (``--profile``).
Unlike ``soak.py`` this imports rsdemo (it needs the callback); compare its numbers with the soak's
app CPU per request to see what the HTTP / queue machinery adds.

Usage::

    python benchmarks/light_cost.py                    # ~30 s on 2 cores
    python benchmarks/light_cost.py --rounds 5 --profile --json /tmp/light_cost.json
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import machine as common  # benchmarks/machine.py
import soak  # benchmarks/soak.py: the same texts and tokenizers as the load test

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def requests(seed: int, n: int, tokenizers: Sequence[str]) -> list[tuple[str, str, bool, bool, str]]:
    rng = random.Random(seed)
    return [
        (rng.choice(soak.TEXTS), rng.choice(tokenizers), rng.random() < 0.2, rng.random() < 0.2, "text")
        for _ in range(n)
    ]


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=200, help="requests per pass (default 200)")
    p.add_argument("--rounds", type=int, default=3, help="passes over the requests (default 3)")
    p.add_argument("--tokenizers", default=",".join(soak.DEFAULT_TOKENIZERS))
    p.add_argument("--profile", action="store_true", help="also print cProfile's split of the callback")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    import orjson
    from gradio import processing_utils
    from gradio.state_holder import SessionState

    from rsdemo.backend import Backend
    from rsdemo.ui import build_demo

    backend = Backend()
    demo = build_demo(backend=backend)
    block_fn = next(fn for fn in demo.fns.values() if fn.api_name == "tokenize")
    callback = block_fn.fn
    tokenizers = [k.strip() for k in args.tokenizers.split(",") if k.strip()]
    reqs = requests(1, args.requests, tokenizers)
    for tok in tokenizers:  # load every tokenizer first
        callback(soak.TEXTS[0], tok, False, False, "text")

    loop = asyncio.new_event_loop()

    session = SessionState(demo)

    async def process(req: tuple[Any, ...]) -> dict[str, Any]:
        return await demo.process_api(
            block_fn=block_fn, inputs=list(req), state=session, root_path="http://127.0.0.1:7860"
        )

    def sse_message(output: dict[str, Any]) -> bytes:
        msg = {"msg": "process_completed", "event_id": "0" * 32, "output": output, "success": True, "title": None}
        return orjson.dumps(msg, default=str)

    async def output_handling(block: Any, value: Any) -> Any:
        """What postprocess_data + process_api do with one output value (postprocess path)."""
        import anyio

        out = await anyio.to_thread.run_sync(block.postprocess, value)
        if hasattr(out, "model_dump"):
            out = out.model_dump()
        out = await processing_utils.async_move_files_to_cache(out, block, postprocess=True)
        out = await processing_utils.async_move_files_to_cache(out, block, postprocess=True)
        return processing_utils.add_root_url([out], "http://127.0.0.1:7860", None)[0]

    names = [
        f"{type(b).__name__} {b.elem_id or ''}{' (hidden)' if not getattr(b, 'visible', True) else ''}".strip()
        for b in block_fn.outputs
    ]
    samples: dict[str, list[float]] = {k: [] for k in ("backend", "callback", "process_api", "sse json", "new session")}
    per_output: dict[str, list[float]] = {n: [] for n in names}
    per_output_bytes: dict[str, list[int]] = {n: [] for n in names}
    sizes: list[int] = []
    gc.collect()
    for _ in range(args.rounds):
        for req in reqs:
            text, tok, special, _ws, _show = req
            samples["backend"].append(
                timed(lambda: backend.tokenize(text=text, tokenizer=tok, add_special_tokens=special))
            )
            values: list[Any] = []
            samples["callback"].append(timed(lambda: values.extend(callback(*req))))
            result: dict[str, Any] = {}
            samples["process_api"].append(timed(lambda: result.update(loop.run_until_complete(process(req)))))
            payload: list[bytes] = []
            samples["sse json"].append(timed(lambda: payload.append(sse_message({"data": result["data"]}))))
            sizes.append(len(payload[0]))
            if len(samples["new session"]) < 20:
                samples["new session"].append(timed(lambda: SessionState(demo)))
            for name, block, value in zip(names, block_fn.outputs, values):
                handled: list[Any] = []
                t = timed(lambda: handled.append(loop.run_until_complete(output_handling(block, value))))
                per_output[name].append(t + timed(lambda: orjson.dumps(handled[0], default=str)))
                per_output_bytes[name].append(len(orjson.dumps(handled[0], default=str)))

    report: dict[str, Any] = {
        "machine": common.machine_info(dists=("gradio", "orjson", "tiktoken", "tokenizers")),
        "requests": len(reqs) * args.rounds,
        "tokenizers": tokenizers,
        "ms": {},
    }
    print(
        f"{len(reqs)} /tokenize requests x {args.rounds} rounds (soak.py's texts: mean "
        f"{statistics.fmean(len(r[0]) for r in reqs):.0f} chars; tokenizers: {', '.join(tokenizers)})"
    )
    print(f"{'piece':<34} {'median ms':>9} {'mean ms':>8}")
    for name, values in samples.items():
        report["ms"][name] = {"median": 1000 * statistics.median(values), "mean": 1000 * statistics.fmean(values)}
        print(f"{name:<34} {1000 * statistics.median(values):>9.2f} {1000 * statistics.fmean(values):>8.2f}")
    print(f"\n{'output handling by Gradio, per output':<38} {'median ms':>9} {'mean ms':>8} {'mean bytes':>10}")
    report["outputs"] = {}
    for name in names:
        v, b = per_output[name], per_output_bytes[name]
        report["outputs"][name] = {
            "median_ms": 1000 * statistics.median(v),
            "mean_ms": 1000 * statistics.fmean(v),
            "mean_bytes": statistics.fmean(b),
        }
        print(
            f"{name:<38} {1000 * statistics.median(v):>9.2f} {1000 * statistics.fmean(v):>8.2f} "
            f"{statistics.fmean(b):>10,.0f}"
        )
    report["mean_message_bytes"] = statistics.fmean(sizes)
    print(f"mean process_completed message: {statistics.fmean(sizes):,.0f} bytes")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        for req in reqs:
            callback(*req)
        prof.disable()
        stats = pstats.Stats(prof)
        total = sum(v[3] for k, v in stats.stats.items() if k[2] == callback.__name__ or k[2] == "wrapper")  # type: ignore[attr-defined]
        print(f"\ncProfile of the callback ({len(reqs)} calls; cumulative ms per call, profiler overhead included):")
        wanted = (
            "tokenize",
            "render_token_view",
            "render_stats",
            "as_dict",
            "segments",
            "tokens",
            "_ids_text",
            "_notice",
            "visible_text",
            "dumps",
            "escape",
        )
        rows = []
        for (path, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if func in wanted and ("rsdemo" in path or func in ("dumps", "escape")):
                rows.append((ct, f"{Path(path).name}:{func}"))
        for ct, name in sorted(rows, reverse=True)[:14]:
            print(f"  {1000 * ct / len(reqs):8.2f}  {name}")
        report["profile_total_ms"] = 1000 * total / len(reqs) if total else None
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
