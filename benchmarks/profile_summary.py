"""Summarise a py-spy profile of the app (``soak.py --profile OUT``, collapsed stacks) by where time goes.

Each sample is put in the first category whose pattern matches a frame, scanning from the innermost
frame outwards, so a tokenizer call made by rsdemo counts as "tokenizer libraries", JSON encoding done by
Gradio's routes as "JSON", and so on. Also lists the heaviest innermost frames and, with ``--under``,
the inclusive share of any function (e.g. ``broadcast_estimations``).

Usage::

    python benchmarks/soak.py --clients 32 --generators 0 --duration 30 --profile /tmp/app.txt \\
        --py-spy /tmp/pyspy/bin/py-spy
    python benchmarks/profile_summary.py /tmp/app.txt --requests 700 --under process_api,broadcast_estimations
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

# (category, regex on one frame "function (path:line)"), innermost match wins
# A frame reads "function (path:line)" with the path from the package on ("gradio/blocks.py") or absolute.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("tokenizer libraries", r"[(/](tiktoken|tokenizers|sentencepiece)/"),
    ("torch / transformers (generation)", r"[(/](torch|transformers)/"),
    ("rsdemo: HTML rendering", r"[(/]rsdemo/render\.py"),
    ("rsdemo: tokenize, segments, stats", r"[(/]rsdemo/(backend|segments|stats|engines|compare|inputs)\.py"),
    ("rsdemo: other (ui callbacks, generation)", r"[(/]rsdemo/"),
    ("numpy / pandas (Dataframe output)", r"[(/](numpy|pandas)/"),
    ("JSON encode / decode, pydantic", r"([(/]json/|orjson|model_dump|[(/]pydantic(_core)?/)"),
    ("Gradio file-reference traversal", r"(traverse|move_files_to_cache|add_root_url|is_file_obj)"),
    ("Gradio session state / block config", r"([(/]gradio/state_holder\.py|config_for_block|get_config|inspect\.py)"),
    ("Gradio pre/postprocess", r"(postprocess|preprocess|[(/]gradio/components/)"),
    ("Gradio queue: estimations / messages", r"(broadcast_estimations|send_message|EstimationMessage)"),
    ("Gradio queue: scheduling, process_events", r"[(/]gradio/queueing\.py"),
    ("Gradio routes: /queue/join, SSE stream", r"[(/]gradio/(routes|route_utils)\.py"),
    ("Gradio: other", r"[(/]gradio/"),
    ("HTTP server (uvicorn, h11, starlette, fastapi)", r"[(/](uvicorn|h11|httptools|starlette|fastapi)/"),
    ("anyio (thread hops, cancel scopes)", r"[(/]anyio/"),
    ("asyncio event loop, sockets", r"([(/]asyncio/|selectors\.py|socket\.py)"),
    ("threads / futures", r"(threading\.py|concurrent/futures)"),
)
_COMPILED = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]

# Phases of a request: the innermost frame naming one wins (rsdemo code inside Gradio's call counts as rsdemo)
PHASES: tuple[tuple[str, str], ...] = (
    ("rsdemo callback (tokenize, render, as_dict)", r"[(/]rsdemo/"),
    ("Gradio: analytics summary after each event (pandas)", r"^(?:[\w<>]+\.)*compute_analytics_summary "),
    ("Gradio: queue estimations to waiting events", r"^(?:[\w<>]+\.)*broadcast_estimations "),
    (
        "Gradio: output postprocess (4 outputs)",
        r"^(?:[\w<>]+\.)*(postprocess_data|postprocess|async_move_files_to_cache|add_root_url) ",
    ),
    ("Gradio: input preprocess", r"^(?:[\w<>]+\.)*preprocess_data "),
    (
        "Gradio: new session state (first request of a session)",
        r"^(?:[\w<>]+\.)*(SessionState\.__init__|__init__ \(gradio/state_holder)",
    ),
    (
        "Gradio: process_api / call_function (thread hop)",
        r"^(?:[\w<>]+\.)*(process_api|call_function|call_process_api) ",
    ),
    ("Gradio: queue process_events (other)", r"^(?:[\w<>]+\.)*process_events "),
    ("Gradio: queue scheduling loops", r"^(?:[\w<>]+\.)*(start_processing|start_progress_updates|notify_clients) "),
    ("HTTP: POST /queue/join", r"^(?:[\w<>]+\.)*(queue_join_helper|queue_join) "),
    ("HTTP: GET /queue/data SSE stream", r"^(?:[\w<>]+\.)*(sse_stream|queue_data_helper|queue_data|process_msg) "),
    ("HTTP: heartbeat streams", r"^(?:[\w<>]+\.)*(heartbeat|iterator) \(gradio/routes"),
    (
        "HTTP: ASGI / uvicorn / middleware (routing, response writes, accept)",
        r"[(/](uvicorn|h11|starlette|fastapi)/|gradio/(brotli_middleware|route_utils)",
    ),
)
_PHASES = [(name, re.compile(pattern)) for name, pattern in PHASES]


_ROUTES = ("HTTP: POST /queue/join", "HTTP: GET /queue/data SSE stream", "HTTP: heartbeat streams")


def phase(frames: Sequence[str]) -> str:
    """Work first (innermost named frame), then the HTTP route a sample is in, then plumbing / event loop."""
    for frame in reversed(frames):
        for name, pattern in _PHASES:
            if name not in _ROUTES and not name.startswith("HTTP: ASGI") and pattern.search(frame):
                return name
    for frame in frames:
        for name, pattern in _PHASES:
            if name in _ROUTES and pattern.search(frame):
                return name
    for frame in frames:
        for name, pattern in _PHASES:
            if name.startswith("HTTP: ASGI") and pattern.search(frame):
                return name
    return "event loop / threads, other (sockets, scheduling, wake-ups)"


# innermost frames of a thread that is blocked, not running: py-spy's own idle detection does not catch them
# on every system, so these samples are set apart as "idle wait" (the main thread's block_thread sleep loop too)
_IDLE = re.compile(
    r"^(?:[\w<>]+\.)*(wait|_wait_for_tstate_lock|select|block_thread|get|sleep) "
    r"\((threading|selectors|queue|gradio/blocks|time)\.py"
)


def categorise(frames: Sequence[str]) -> str:
    if frames and _IDLE.search(frames[-1]):
        return "idle wait"
    for frame in reversed(frames):
        for name, pattern in _COMPILED:
            if pattern.search(frame):
                return name
    return "other"


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
            stacks.append((frames, int(count)))
    return stacks


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profile", type=Path, help="py-spy record --format raw output")
    p.add_argument("--rate", type=float, default=100.0, help="py-spy's sampling rate (samples/s), default 100")
    p.add_argument("--requests", type=int, help="requests served while recording: adds ms per request")
    p.add_argument("--under", default="", help="comma-separated function names: their inclusive share")
    p.add_argument("--top", type=int, default=15, help="heaviest innermost frames to list")
    args = p.parse_args(argv)

    stacks = load(args.profile)
    total = sum(n for _, n in stacks)
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    by_cat: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, n in stacks:
        by_cat[categorise(frames)] += n
        leaves[frames[-1] if frames else "?"] += n
    busy_stacks = [(f, n) for f, n in stacks if not (f and _IDLE.search(f[-1]))]
    busy = total - by_cat.get("idle wait", 0)
    per_req = (lambda n: f"{1000 * n / args.rate / args.requests:8.2f}") if args.requests else (lambda n: "")
    print(
        f"{total:,} samples ({total / args.rate:.1f} thread-seconds at {args.rate:g} Hz), "
        f"{busy:,} not waiting" + (f"; {args.requests:,} requests" if args.requests else "")
    )
    print(
        f"{'category (share of the samples not waiting)':<46} {'share':>6}"
        + (f" {'ms/req':>8}" if args.requests else "")
    )
    for name, n in by_cat.most_common():
        if name != "idle wait":
            print(f"{name:<46} {n / busy:>6.1%}" + (f" {per_req(n)}" if args.requests else ""))
    by_phase: Counter[str] = Counter()
    for frames, n in busy_stacks:
        by_phase[phase(frames)] += n
    print(f"\n{'phase (innermost named frame wins)':<58} {'share':>6}" + (f" {'ms/req':>8}" if args.requests else ""))
    for name, n in by_phase.most_common():
        print(f"{name:<58} {n / busy:>6.1%}" + (f" {per_req(n)}" if args.requests else ""))
    print("\nheaviest innermost frames (not waiting):")
    for frame, n in [(f, n) for f, n in leaves.most_common() if not _IDLE.search(f)][: args.top]:
        print(f"  {n / busy:6.1%}  {frame[:150]}")
    for name in filter(None, (s.strip() for s in args.under.split(","))):
        pattern = re.compile(rf"^(?:[\w<>]+\.)*{re.escape(name)} \(")
        n = sum(c for frames, c in busy_stacks if any(pattern.search(f) for f in frames))
        print(f"inclusive {name}: {n / busy:.1%}" + (f" ({per_req(n).strip()} ms/req)" if args.requests else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
