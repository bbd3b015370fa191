"""Closed-loop /tokenize load on a running app over plain keep-alive HTTP (no gradio_client).

What the server pays per request by protocol path, with a client far cheaper than gradio_client:

* ``queue``: ``POST /gradio_api/queue/join`` then ``GET /gradio_api/queue/data`` (SSE) until the event
  completes -- the queued path every gradio_client call and every queued browser event takes;
* ``run``: ``POST /gradio_api/run/tokenize`` with a session hash -- the path a browser takes for an event
  with ``queue=False`` (no queue, no SSE, no estimations, no analytics);
* ``run-nosession``: the same without a session hash (Gradio builds a session state per request).

It prints requests/s, p50 / p95 latency, errors, and the app's and the clients' CPU ms per request.
Start the app first (``GRADIO_SERVER_PORT=7890 python app.py``) and pass its URL and pid.

Usage::

    python benchmarks/raw_load.py http://127.0.0.1:7890/ APP_PID queue --clients 32 --duration 30
    python benchmarks/raw_load.py http://127.0.0.1:7890/ APP_PID run --clients 32 --duration 30
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import soak  # benchmarks/soak.py: the same texts and tokenizers


def _proc_cpu_s(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_client(
    url: str,
    mode: str,
    seed: int,
    start_at: float,
    duration: float,
    fn_index: int,
    out: list[tuple[float, float, bool]],
) -> None:
    rng = random.Random(seed)
    session = uuid.uuid4().hex[:11]
    with httpx.Client(base_url=url, timeout=60) as http:
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < start_at + duration:
            args = [rng.choice(soak.TEXTS), rng.choice(soak.DEFAULT_TOKENIZERS), False, False, "text"]
            t0 = time.time()
            ok = False
            try:
                if mode == "queue":
                    http.post(
                        "/gradio_api/queue/join",
                        json={
                            "data": args,
                            "fn_index": fn_index,
                            "session_hash": session,
                            "event_data": None,
                            "trigger_id": None,
                        },
                    ).raise_for_status()
                    with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as resp:
                        for line in resp.iter_lines():
                            if line.startswith("data:"):
                                message = json.loads(line[5:])
                                if message["msg"] == "process_completed":
                                    ok = bool(message.get("success"))
                                if message["msg"] == "close_stream":
                                    break
                else:
                    body: dict[str, Any] = {"data": args}
                    if mode == "run":
                        body["session_hash"] = session
                    resp = http.post("/gradio_api/run/tokenize", json=body)
                    ok = resp.status_code == 200 and len(resp.json()["data"]) >= 3
            except httpx.HTTPError:
                ok = False
            out.append((time.time() - t0, time.time(), ok))


def _process(
    url: str, mode: str, clients: int, first_seed: int, start_at: float, duration: float, fn_index: int, q: Any
) -> None:
    records: list[tuple[float, float, bool]] = []
    threads = [
        threading.Thread(target=_one_client, args=(url, mode, first_seed + i, start_at, duration, fn_index, records))
        for i in range(clients)
    ]
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    q.put((records, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("url")
    p.add_argument("pid", type=int, help="the app's process id (for its CPU time)")
    p.add_argument("mode", choices=("queue", "run", "run-nosession"))
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--procs", type=int, default=2, help="client processes")
    args = p.parse_args(argv)
    url = args.url.rstrip("/") + "/"
    config = httpx.get(url + "config", timeout=30).json()
    fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "tokenize")
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    start_at = time.time() + 3
    per = [args.clients // args.procs + (i < args.clients % args.procs) for i in range(args.procs)]
    procs = [
        ctx.Process(target=_process, args=(url, args.mode, n, 1000 * i, start_at, args.duration, fn_index, q))
        for i, n in enumerate(per)
        if n
    ]
    for proc in procs:
        proc.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = _proc_cpu_s(args.pid)
    results = [q.get() for _ in procs]
    cpu = _proc_cpu_s(args.pid) - cpu0
    for proc in procs:
        proc.join()
    records = [r for res, _ in results for r in res]
    in_window = sorted(lat for lat, end, ok in records if end <= start_at + args.duration)
    n = len(in_window)
    if not n:
        print("no request finished", file=sys.stderr)
        return 1
    print(
        f"{args.mode:<14} {args.clients} clients: {n / args.duration:6.1f} req/s, "
        f"p50 {1000 * in_window[n // 2]:,.0f} ms, "
        f"p95 {1000 * in_window[int(n * 0.95)]:,.0f} ms, errors {sum(not ok for _, _, ok in records)}, app CPU "
        f"{1000 * cpu / len(records):.1f} ms/request ({cpu / args.duration:.2f} cores), clients CPU "
        f"{1000 * sum(c for _, c in results) / len(records):.1f} ms/request"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
