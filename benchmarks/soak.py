"""Soak test: the real app (``python app.py``) under N concurrent gradio_client sessions, closed loop.

The script starts the app as its own process on a free port of 127.0.0.1, waits until it answers, warms
every tokenizer up, computes reference outputs with a single client, then drives the app for a fixed
time with ``--clients`` light clients (``/tokenize``, ``/compare``, ``/decode``) and ``--generators``
streaming generation clients (``/generate``), each client sending its next request as soon as the last
one answered. The clients run in ``--client-procs`` separate processes (never in the app's), each client
a ``gradio_client.Client`` of its own (its own session). It talks to the app only through its HTTP API
and imports nothing from ``rsdemo``.

Generation clients cycle through seeded cases (greedy, top-p with a seed, beam search with 2 beams) and
actions (``--gen-cycle``): run to the end, ``job.cancel()`` after a few messages, or "switch" to a Hub
model id that cannot load offline, which must be refused with a clear message within ``--fail-fast``
seconds (queue wait included: that is what the user waits for). With ``--gen-windows S`` they start runs
only in every other window of S seconds, and the report compares the light throughput of each window with
generation against the mean of the windows on either side of it, all in one run: the machine's speed drifts
by more between separate runs than the cost being measured.

It reports requests served per kind, errors (expected: deliberately bad inputs and refused model
switches; unexpected: everything else, target 0), p50 / p95 / max latency per kind, a timeline of
throughput, latency and RSS, per generation run its queue wait, time to the first streamed message and
tokens/s, the app's peak RSS (``VmHWM``), app and client CPU seconds (and the machine's other work, as
a noise gauge), and a cross-talk check: every light answer must describe its own request, and every
finished seeded generation must produce exactly the text of the same request run alone against the
same server before the load started. Every request is bounded in time; the app (in its own process
group) and the client processes are always stopped on exit, also on Ctrl-C, SIGTERM or failure.

Usage (from the repository root, in the project's virtualenv)::

    python benchmarks/soak.py --clients 32 --generators 2 --duration 60
    python benchmarks/soak.py --quick                               # smoke check: 4 + 1 clients, 10 s
    python benchmarks/soak.py --clients 8 --generators 2 --duration 45 --json /tmp/soak.json
    python benchmarks/soak.py --clients 32 --generators 2 --duration 210 --gen-windows 15   # the 90 % question
    python benchmarks/soak.py --clients 32 --generators 0 --mix tokenize=1 --ssl-verify
    python benchmarks/soak.py --clients 32 --generators 0 --duration 40 --profile /tmp/app.txt --profile-gil \\
        --py-spy /tmp/pyspy/bin/py-spy          # then: python benchmarks/profile_summary.py /tmp/app.txt

The app inherits the environment (``HF_HUB_OFFLINE=1`` and ``RSDEMO_CACHE_DIR`` are worth setting; the
embedded model's converted checkpoint is built on first use). Exit status: 0 when every request got the
expected kind of answer and the cross-talk check passed, 1 otherwise, 2 when the app could not be run.

Client cost note: ``gradio_client.Client`` builds a fresh ``httpx`` client for each request and, with
its default ``ssl_verify=True``, loads the CA bundle into a new SSL context each time even for plain
``http://`` (about 0.1 s of client CPU per request here). Against a loopback ``http://`` URL that
verification does nothing, so the clients pass ``ssl_verify=False`` unless ``--ssl-verify`` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import queue
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import machine as common  # benchmarks/machine.py

REPO_ROOT = Path(__file__).resolve().parent.parent
LIGHT_KINDS = ("tokenize", "compare", "decode")
DEFAULT_TOKENIZERS = (
    "gpt2",
    "cl100k_base",
    "o200k_base",
    "llama3",
    "qwen",
    "mistral-v1",
    "bert-base-uncased",
    "shakespeare-unigram",
    "smollm2",
    "word",
    "char",
    "byte",
)
EMBEDDED_MODEL = "smollm2-135m-instruct"
MISSING_MODEL = "rsdemo-soak/no-such-model"  # a well-formed Hub id that cannot load offline: must fail fast
BAD_LIGHT = (  # deliberately bad light requests: each must get a clear error (not an internal one)
    ("tokenize", ("", "gpt2", False)),
    ("tokenize", ("hi", "no-such-tokenizer", False)),
    ("decode", ("[1, two]", "gpt2")),
    ("compare", ("hi", ["gpt2"], False)),
)

# Varied, realistic inputs: prose, code, markup, data, several scripts, emoji sequences, whitespace.
TEXTS: tuple[str, ...] = (
    "Hello world! How are you today?",
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs.",
    "Tokenizers split text into pieces: naïve café, 東京タワー, 👩‍👩‍👧 and 🇫🇷.\n"
    "\tIndented code: for i in range(10): print(i ** 2)  # 1234567890\n"
    "<|endoftext|> is a special token in GPT-2.",
    'def fibonacci(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n'
    "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
    "print([fibonacci(i) for i in range(20)])\n",
    '{"id": 4182, "name": "Ada Lovelace", "tags": ["math", "poetry"], "active": true, '
    '"score": 98.6, "address": {"city": "London", "zip": "W1J 7NT"}}',
    "中文：分词器把文本切成词元，每个词元对应词表中的一个编号。日本語：トークナイザーはテキストをトークンに分割します。"
    "한국어: 토크나이저는 텍스트를 토큰으로 나눕니다.",
    "Привет, мир! Καλημέρα κόσμε. مرحبا بالعالم. שלום עולם. Grüße aus Köln – ça va? Zażółć gęślą jaźń.",
    "Emoji stress: 👍🏽 🧑‍🚀 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵🇩🇪 ❤️‍🔥 and a zero\u200bwidth space, a soft\u00adhyphen.",
    "# Release notes\n\n* **Faster** tokenizer loading (2.3x)\n* Fixed `decode()` on byte-fallback pieces\n"
    "* See https://example.com/docs?page=2&lang=en or mail dev@example.org\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
    "Dear team,\n\nplease find attached the quarterly report. Revenue grew 12.5% year over year, "
    "mostly in EMEA; costs were flat. Let's discuss on Thursday at 10:30.\n\nBest regards,\nMaria",
    "   leading spaces, trailing spaces   \n\n\n\ttabs\tand\r\nwindows line endings\r\n",
    "E = mc² ; ∑ᵢ xᵢ² ≤ ∫₀^∞ e^{-x} dx ; α → β ⇒ γ ; 3.14159265358979 ≈ π",
    # a longer text (~3.5 KB): requests are not all tiny
    (
        "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
        "foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the season of Light, "
        "it was the season of Darkness, it was the spring of hope, it was the winter of despair. "
    )
    * 10,
)
GEN_PROMPTS = (
    "What is the capital of France? Answer in one sentence.",
    "Write a haiku about autumn leaves.",
    "List three uses of a paperclip.",
    "Explain what a tokenizer does, briefly.",
)


# --- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenCase:
    """One seeded generation request whose final text is known from a solo run (the reference)."""

    name: str
    prompt: str
    method: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Config:
    """Everything the client processes need (picklable)."""

    url: str
    duration_s: float
    mix: dict[str, float]
    tokenizers: tuple[str, ...]
    bad_fraction: float
    gen_cycle: tuple[str, ...]  # what generation runs do in turn: complete / cancel / switch
    cancel_after: int
    request_timeout_s: float
    fail_fast_s: float
    ssl_verify: bool
    seed: int
    gen_cases: tuple[GenCase, ...]
    decode_inputs: tuple[tuple[str, str, str], ...]  # (ids text, tokenizer, decoded text) known from warm-up
    gen_engine: str = ""  # the /generate engine argument ("": the fastest that can run the method)
    gen_windows_s: float = 0.0  # > 0: generation clients start runs only in every other window of this length


def gen_cases(max_new_tokens: int) -> tuple[GenCase, ...]:
    """Seeded generation requests: greedy, top-p with a seed, beam search with 2 beams."""
    n = max_new_tokens
    return (
        GenCase("greedy", GEN_PROMPTS[0], "greedy", {"max_new_tokens": n, "seed": 1}),
        GenCase("top_p-s7", GEN_PROMPTS[1], "top_p", {"top_p": 0.9, "max_new_tokens": n, "seed": 7}),
        GenCase("beam2", GEN_PROMPTS[2], "beam", {"num_beams": 2, "max_new_tokens": max(4, n // 2), "seed": 1}),
        GenCase("top_p-s11", GEN_PROMPTS[3], "top_p", {"top_p": 0.8, "max_new_tokens": n, "seed": 11}),
    )


# --- small helpers ------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (KiB) and Threads from /proc/PID/status; psutil as a fallback off Linux."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    except OSError:
        try:
            import psutil  # type: ignore[import-not-found]

            info = psutil.Process(pid).memory_info()
            out = {"VmRSS": info.rss // 1024, "VmHWM": info.rss // 1024}
        except Exception:
            pass
    return out


def _proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of one process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        try:
            import psutil  # type: ignore[import-not-found]

            t = psutil.Process(pid).cpu_times()
            return float(t.user + t.system)
        except Exception:
            return None


def _children_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds of each child process of ``pid`` (the app's generation worker), by child pid (Linux only)."""
    out: dict[int, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(pid):
            out[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def _machine_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return total - idle, total


def wait_quiet(limit_s: float, *, busy_below: float = 0.15, window_s: float = 3.0) -> bool:
    """Wait (up to ``limit_s``) until the machine was less than ``busy_below`` busy over ``window_s``."""
    deadline = time.time() + limit_s
    while True:
        a = _machine_jiffies()
        time.sleep(window_s)
        b = _machine_jiffies()
        if a is None or b is None or b[1] == a[1] or (b[0] - a[0]) / (b[1] - a[1]) < busy_below:
            return True
        if time.time() > deadline:
            print(f"note: the machine is still busy after {limit_s:.0f} s; measuring anyway", file=sys.stderr)
            return False


def _self_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _short(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}"[:300]


def _is_clear_error(err: BaseException) -> bool:
    """A message the app meant for the user (gr.Error -> AppError), not an internal error or a crash."""
    from gradio_client.exceptions import AppError, ValidationError

    return isinstance(err, (AppError, ValidationError)) and bool(str(err).strip()) and "Internal error" not in str(err)


def _client(url: str, ssl_verify: bool) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False, ssl_verify=ssl_verify)


# --- the app process ------------------------------------------------------------------------------


class App:
    """``python app.py`` in its own session (process group) on 127.0.0.1; always stopped by ``stop``."""

    def __init__(self, *, python: str, script: Path, port: int, log_path: Path, extra_env: dict[str, str]) -> None:
        env = dict(os.environ)
        env.update(
            {
                "GRADIO_SERVER_NAME": "127.0.0.1",
                "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(extra_env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [python, str(script)],
            cwd=REPO_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self.url = ""

    def wait_ready(self, *, port: int, timeout_s: float) -> float:
        """Wait for the app's own 'Running on local URL' line and /gradio_api/info; the seconds it took."""
        deadline = time.perf_counter() + timeout_s
        pattern = re.compile(r"Running on local URL:\s+(http://[^\s/]+:\d+)")
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the app exited with status {self.proc.returncode} during start-up:\n{self.log_tail()}"
                )
            if not self.url:
                found = pattern.search(self.log_text())
                if found:
                    self.url = found.group(1).rstrip("/") + "/"
                    if not self.url.startswith("http://127.0.0.1:"):
                        raise RuntimeError(f"the app listens on {self.url}, not on loopback")
                    if self.url != f"http://127.0.0.1:{port}/":
                        print(f"note: the app chose {self.url} (asked for port {port})", file=sys.stderr)
            if self.url:
                try:
                    with urllib.request.urlopen(self.url + "gradio_api/info", timeout=5) as resp:
                        info = json.loads(resp.read())
                    missing = {"/tokenize", "/compare", "/decode", "/generate"} - set(info.get("named_endpoints", {}))
                    if missing:
                        raise RuntimeError(f"the app has no endpoint(s) {sorted(missing)}")
                    return time.perf_counter() - self.started
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
            time.sleep(0.25)
        raise RuntimeError(f"the app did not answer within {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the app's process group, SIGKILL after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        self._log.close()


class Monitor(threading.Thread):
    """Samples the app's RSS and thread count every ``interval_s``; keeps the peaks."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        super().__init__(name="soak-monitor", daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.peak_rss_kib = 0
        self.peak_threads = 0
        self.samples: list[tuple[float, int]] = []  # (time.time(), VmRSS KiB) since the last reset
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.interval_s):
            status = _proc_status(self.pid)
            self.peak_rss_kib = max(self.peak_rss_kib, status.get("VmRSS", 0))
            self.peak_threads = max(self.peak_threads, status.get("Threads", 0))
            self.samples.append((time.time(), status.get("VmRSS", 0)))

    def reset(self) -> None:
        self.peak_rss_kib = self.peak_threads = 0
        self.samples = []

    def halt(self) -> None:
        self._halt.set()


# --- request building and checking (shared by the warm-up and the client processes) ----------------


def check_tokenize(out: Any, *, text: str, tokenizer: str) -> str | None:
    """None when the /tokenize answer is for this request; else what is wrong (cross-talk or a bad answer).

    The segments (gaps and special tokens included) cover the text sent, in order: all of it, or a prefix
    when the view is truncated.
    """
    if not isinstance(out, dict):
        return f"unexpected /tokenize output: {type(out).__name__}"
    if out.get("tokenizer") != tokenizer:
        return f"answer for tokenizer {out.get('tokenizer')!r}, asked {tokenizer!r}"
    if out.get("stats", {}).get("tokens") != len(out.get("ids") or []):
        return "the token count does not match the ids"
    covered = "".join(s["text"] for s in out.get("segments", []))
    if covered != text if not out.get("truncated") else not (covered and text.startswith(covered)):
        return f"segments cover {covered[:40]!r}..., not the text sent {text[:40]!r}..."
    return None


def check_compare(out: Any, *, tokenizers: Sequence[str]) -> str | None:
    try:
        got = [r["tokenizer"] for r in out["results"]]
        done = out["done"]
    except (TypeError, KeyError):
        return "unexpected /compare output shape"
    if got != list(tokenizers) or not done:
        return f"compare results {got} (done={done}), asked {list(tokenizers)}"
    return None


# --- client processes -----------------------------------------------------------------------------


def _light_request(
    rng: random.Random, cfg: Config, kinds: Sequence[str], weights: Sequence[float]
) -> tuple[str, str, tuple[Any, ...], Callable[[Any], str | None] | None]:
    """(kind, api name, args, checker); the checker is None for a deliberately bad request."""
    if rng.random() < cfg.bad_fraction:
        kind, args = rng.choice(BAD_LIGHT)
        return "bad-" + kind, "/" + kind, args, None
    kind = rng.choices(kinds, weights)[0]
    text = rng.choice(TEXTS)
    special, _whitespace = rng.random() < 0.2, rng.random() < 0.2
    if kind == "tokenize":
        tok = rng.choice(cfg.tokenizers)
        return kind, "/tokenize", (text, tok, special), (lambda out: check_tokenize(out, text=text, tokenizer=tok))
    if kind == "compare":
        keys = rng.sample(cfg.tokenizers, rng.choice((2, 3)))
        return kind, "/compare", (text, keys, special), (lambda out: check_compare(out, tokenizers=keys))
    ids_text, tok, expected = rng.choice(cfg.decode_inputs)  # type: ignore[misc]
    return (
        kind,
        "/decode",
        (ids_text, tok),
        (
            lambda out: (
                None
                if out["text"] == expected
                else f"decode gave {str(out['text'])[:40]!r}, expected {expected[:40]!r}"
            )
        ),
    )


def _run_light(client: Any, cfg: Config, seed: int, start_at: float, records: list[dict[str, Any]]) -> None:
    rng = random.Random(seed)
    kinds = [k for k in LIGHT_KINDS if cfg.mix.get(k, 0) > 0]
    weights = [cfg.mix[k] for k in kinds]
    deadline = start_at + cfg.duration_s
    while time.time() < deadline:
        kind, api, args, check = _light_request(rng, cfg, kinds, weights)
        t0 = time.time()
        outcome, message = "ok", ""
        job = None
        try:
            job = client.submit(*args, api_name=api)
            out = job.result(timeout=cfg.request_timeout_s)
            if check is None:
                outcome, message = "unexpected", "a bad request was answered without an error"
            else:
                problem = check(out)
                if problem:
                    outcome, message = "unexpected", "wrong answer: " + problem
        except Exception as err:  # noqa: BLE001 -- every failure is counted, none stops the client
            if isinstance(err, TimeoutError) or type(err).__name__ == "TimeoutError":
                outcome, message = "unexpected", f"no answer within {cfg.request_timeout_s:.0f} s"
                if job is not None:
                    job.cancel()
            elif check is None and _is_clear_error(err):
                outcome, message = "expected", _short(err)
            else:
                outcome, message = "unexpected", _short(err)
        t1 = time.time()
        records.append(
            {
                "kind": kind,
                "start": t0 - start_at,
                "end": t1 - start_at,
                "latency": t1 - t0,
                "outcome": outcome,
                "message": message,
            }
        )


_RUNNING = frozenset({"PROCESSING", "ITERATING", "PROGRESS", "FINISHED", "LOG"})


class _Wake:
    """Stands in for a gradio_client job's ``communicator.updates`` queue: each update it is given wakes the
    reader. That queue only feeds ``async for`` over a job, which the harness does not use; the client's
    thread puts every status change and every output there as it appends them to the job."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def put_nowait(self, _update: Any) -> None:
        self.event.set()


def iterate_job(job: Any, *, deadline: float, marks: dict[str, float] | None = None) -> Iterator[Any]:
    """The job's streamed outputs, like ``for message in job``, but bounded in time.

    gradio_client's ``Job.__next__`` ends only when the job's status becomes FINISHED; a job whose final
    message never arrives (or one cancelled while still queued) keeps it spinning forever. This reads the same
    ``job.outputs()`` and also ends when the job's future is done; past ``deadline`` it raises TimeoutError.
    ``marks["started"]`` gets the time the app started processing the job (the end of its queue wait).

    It sleeps until the client's thread reports an update (``_Wake``), at most 50 ms. ``Job.__next__`` polls
    every 1 ms instead: on the harness's shared cores two streaming clients polling like that took CPU and
    their process's interpreter lock from the light clients beside them.
    """
    seen = 0
    communicator = getattr(job, "communicator", None)
    wake = _Wake() if communicator is not None and hasattr(communicator, "updates") else None
    if wake is not None:
        communicator.updates = wake
    while True:
        if wake is not None:
            wake.event.clear()  # before looking: an update that lands after the look sets it again
        if marks is not None and "started" not in marks and job.status().code.name in _RUNNING:
            marks["started"] = time.time()
        outputs = job.outputs()
        while seen < len(outputs):
            seen += 1
            yield outputs[seen - 1]
        if job.done() or job.status().code.name in ("FINISHED", "CANCELLED"):
            outputs = job.outputs()
            while seen < len(outputs):
                seen += 1
                yield outputs[seen - 1]
            return
        if time.time() > deadline:
            raise TimeoutError(f"job still {job.status().code.name} after {seen} message(s)")
        if wake is not None:
            wake.event.wait(0.05)
        else:
            time.sleep(0.005)


def parse_cycle(text: str) -> list[str]:
    actions = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in actions if a not in ("complete", "cancel", "switch")]
    if bad or not actions:
        raise argparse.ArgumentTypeError(f"actions are complete, cancel and switch; got {text!r}")
    return actions


def _run_generator(client: Any, cfg: Config, seed: int, start_at: float, runs: list[dict[str, Any]]) -> None:
    """Closed loop of /generate: seeded cases (checked against references), some cancelled, some 'switches'.

    ``seed`` is the generator's number j; run k of it uses case k and action k + k // cases of the cycle.
    """
    deadline = start_at + cfg.duration_s
    k = 5 * seed  # generator j starts at its own point (j=0: the first case and action); every pair comes up
    while time.time() < deadline:
        if cfg.gen_windows_s > 0:  # --gen-windows: wait out an off window (its light requests run alone)
            window = int((time.time() - start_at) // cfg.gen_windows_s)
            if window % 2:
                time.sleep(max(0.0, min(deadline, start_at + (window + 1) * cfg.gen_windows_s) - time.time()))
                continue
        case = cfg.gen_cases[k % len(cfg.gen_cases)]
        action = cfg.gen_cycle[(k + k // len(cfg.gen_cases)) % len(cfg.gen_cycle)]
        k += 1
        if action == "cancel" and case.method == "beam":  # beam search sends one message: nothing to cut short
            action = "complete"
        model = MISSING_MODEL if action == "switch" else EMBEDDED_MODEL
        run: dict[str, Any] = {
            "case": case.name,
            "method": case.method,
            "model": model,
            "action": action,
            "start": time.time() - start_at,
        }
        t0 = time.time()
        first_at: float | None = None
        first_tokens = 0
        last: dict[str, Any] | None = None
        messages = 0
        cancelled_at: float | None = None
        timeout: str | None = None
        marks: dict[str, float] = {}
        stream_open = bool(getattr(client, "stream_open", False))  # the last run's event stream still open
        job = client.submit(
            case.prompt, model, case.method, dict(case.params), True, "", cfg.gen_engine, api_name="/generate"
        )
        try:
            for message in iterate_job(job, deadline=t0 + cfg.request_timeout_s, marks=marks):
                now = time.time()
                messages += 1
                last = message if isinstance(message, dict) else None
                if first_at is None:
                    first_at = now
                    first_tokens = len(last.get("tokens", [])) if last else 0
                if action == "cancel" and cancelled_at is None and messages >= cfg.cancel_after:
                    cancelled_at = now
                    job.cancel()
        except TimeoutError as err:
            timeout = str(err)
            job.cancel()
        t1 = time.time()
        if cancelled_at is not None or timeout is not None:
            wait_stream_closed(client)
        error: BaseException | None = None
        code = job.status().code.name
        if cancelled_at is None and timeout is None and code != "CANCELLED":
            try:
                job.result(timeout=5)
            except Exception as err:  # noqa: BLE001
                error = err
        tokens = len(last.get("tokens", [])) if last else 0
        run.update(
            {
                "latency": t1 - t0,
                "ttft": (first_at - t0) if first_at else None,
                "messages": messages,
                "queued": (marks.get("started", t1) - t0),
                "tokens": tokens,
                "finish_reason": last.get("finish_reason") if last else None,
                "done": bool(last and last.get("done")),
                "text": last.get("text") if last else None,
                "status": code,
                "end": t1 - start_at,
                "tokens_per_s": (
                    (tokens - first_tokens) / (t1 - first_at)
                    if first_at and tokens > first_tokens and t1 > first_at
                    else None
                ),
                "e2e_tokens_per_s": tokens / (t1 - t0) if tokens and t1 > t0 else None,
                "cancel_to_end_s": (t1 - cancelled_at) if cancelled_at else None,
            }
        )
        note = " (submitted while the client's last event stream was open)" if stream_open else ""
        if timeout is not None:
            run.update(outcome="unexpected", message=f"no end within {cfg.request_timeout_s:.0f} s: {timeout}")
        elif action == "switch":
            if error is not None and _is_clear_error(error) and t1 - t0 <= cfg.fail_fast_s:
                run.update(outcome="expected", message=_short(error))
            elif error is not None:
                run.update(
                    outcome="unexpected",
                    message=f"refused only after {t1 - t0:.1f} s ({run['queued']:.1f} s "
                    f"of it waiting in the queue): {_short(error)}{note}",
                )
            else:
                run.update(outcome="unexpected", message="a model that cannot load produced output")
        elif error is not None:
            run.update(outcome="unexpected", message=_short(error) + note)
        elif cancelled_at is not None:
            run.update(outcome="cancelled", message="")
        elif not run["done"]:
            run.update(outcome="unexpected", message=f"stream ended without a done message (status {code})")
        else:
            run.update(outcome="ok", message="")
        runs.append(run)


def wait_stream_closed(client: Any, *, timeout_s: float = 2.0) -> bool:
    """Wait (at most ``timeout_s``) until the client's event stream from a cancelled run has closed.

    gradio_client 2.7.2 reads every event of a session from one stream, which the server closes once the
    session has nothing pending (after a cancel: right after the cancelled run's last message). An event
    submitted while that stream is closing is registered on it, and when it closes gradio_client fails every
    event registered on it with a bare ``CancelledError`` (``close_stream`` in its ``Client.send_data``).
    That is the likely cause of the 2 runs (of about 100 cancels in the soaks of 2026-11-30, night) that
    failed so before they started running, each submitted right after a cancel; 120 cancel-then-submit
    cycles alone did not reproduce it. A visitor pressing Stop and then Generate is not this fast; a script
    should wait the same way. True when closed.

    >>> class Fake: stream_open = False
    >>> wait_stream_closed(Fake())
    True
    """
    deadline = time.monotonic() + timeout_s
    while getattr(client, "stream_open", False):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception:  # noqa: BLE001
        pass


def client_worker(wid: int, specs: list[tuple[str, int]], cfg: Config, start: Any, start_at: Any, out_q: Any) -> None:
    """One client process: a thread and a gradio_client.Client per client; reports records at the end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    records: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    errors: list[str] = []
    try:
        clients = [_client(cfg.url, cfg.ssl_verify) for _ in specs]
        out_q.put(("ready", wid, None))
        if not start.wait(timeout=600):
            return
        t0 = start_at.value
        cpu0 = _self_cpu_s()
        time.sleep(max(0.0, t0 - time.time()))  # every process starts its clients at the same moment
        threads = []
        for (role, index), client in zip(specs, clients):
            seed = cfg.seed * 1000 + index if role == "light" else index  # a generator's seed is its number
            target = _run_light if role == "light" else _run_generator
            sink = records if role == "light" else runs

            def body(
                target: Callable[..., None] = target,
                client: Any = client,
                seed: int = seed,
                sink: list[dict[str, Any]] = sink,
            ) -> None:
                try:
                    target(client, cfg, seed, t0, sink)
                except BaseException:  # noqa: BLE001
                    errors.append(traceback.format_exc(limit=5))

            threads.append(threading.Thread(target=body, name=f"client-{index}", daemon=True))
        for th in threads:
            th.start()
        hard = t0 + cfg.duration_s + cfg.request_timeout_s + 30
        for th in threads:
            th.join(timeout=max(0.0, hard - time.time()))
        stuck = sum(th.is_alive() for th in threads)
        if stuck:
            errors.append(f"{stuck} client thread(s) still running at the hard deadline")
        cpu = _self_cpu_s() - cpu0
        out_q.put(
            (
                "result",
                wid,
                {
                    "records": list(records),
                    "runs": list(runs),
                    "cpu_s": cpu,
                    "errors": errors,
                    "finished_at": time.time(),
                },
            )
        )
        closers = [threading.Thread(target=_close_quietly, args=(c,), daemon=True) for c in clients]
        for th in closers:  # after reporting, all at once: each close() may wait 1 s for its heartbeat thread
            th.start()
        for th in closers:
            th.join(timeout=5)
    except BaseException:  # noqa: BLE001
        out_q.put(("failed", wid, traceback.format_exc(limit=8)))


# --- warm-up and references (one client, before the load) ----------------------------------------


def warm_up(client: Any, tokenizers: Sequence[str]) -> tuple[tuple[tuple[str, str, str], ...], list[str]]:
    """Load every tokenizer once (tokenize + decode + one compare), checking the answers.

    Returns (decode_inputs, problems): the ids each tokenizer gave for a mixed text and their decoded text
    (the decode requests' references), and the answers that were wrong even with a single client.
    """
    decode_inputs: list[tuple[str, str, str]] = []
    problems: list[str] = []
    text = TEXTS[2]  # mixed: accents, CJK, emoji sequences, tabs, newlines, a special-token string
    for tok in tokenizers:
        try:
            out = client.predict(text, tok, False, api_name="/tokenize")
            problem = check_tokenize(out, text=text, tokenizer=tok)
            if problem:
                problems.append(f"/tokenize {tok}: {problem}")
                continue
            ids_text = "[" + ", ".join(map(str, out["ids"][:32])) + "]"
            decode_inputs.append((ids_text, tok, str(client.predict(ids_text, tok, api_name="/decode")["text"])))
        except Exception as err:  # noqa: BLE001
            problems.append(f"{tok}: {_short(err)}")
    try:
        keys = list(tokenizers[:3])
        problem = check_compare(client.predict(text, keys, False, api_name="/compare"), tokenizers=keys)
        if problem:
            problems.append("/compare: " + problem)
    except Exception as err:  # noqa: BLE001
        problems.append(f"/compare: {_short(err)}")
    return tuple(decode_inputs), problems


def generation_references(
    client: Any, cases: Sequence[GenCase], timeout_s: float, engine: str = ""
) -> dict[str, dict[str, Any]]:
    """Each seeded case run alone (streaming, to the end): final text, tokens, ttft, tokens/s, duration."""
    refs: dict[str, dict[str, Any]] = {}
    for case in cases:
        t0 = time.time()
        first: float | None = None
        first_tokens = 0
        last: Any = None
        job = client.submit(
            case.prompt, EMBEDDED_MODEL, case.method, dict(case.params), True, "", engine, api_name="/generate"
        )
        for message in iterate_job(job, deadline=t0 + timeout_s):
            if first is None:
                first = time.time()
                first_tokens = len(message.get("tokens", [])) if isinstance(message, dict) else 0
            last = message
        t1 = time.time()
        job.result(timeout=5)  # raises the app's error if the solo run failed
        if not (isinstance(last, dict) and last.get("done")):
            raise RuntimeError(f"reference run {case.name} ended without a done message")
        tokens = len(last.get("tokens", []))
        refs[case.name] = {
            "text": last["text"],
            "tokens": tokens,
            "ttft": (first - t0) if first else None,
            "latency": t1 - t0,
            "finish_reason": last.get("finish_reason"),
            "tokens_per_s": (
                (tokens - first_tokens) / (t1 - first) if first and tokens > first_tokens and t1 > first else None
            ),
        }
    return refs


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one soak run measured (the JSON report)."""

    config: dict[str, Any]
    machine: dict[str, Any]
    app: dict[str, Any] = field(default_factory=dict)
    light: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, Any] = field(default_factory=dict)
    cross_talk: dict[str, Any] = field(default_factory=dict)
    passed: bool = False


def parse_mix(text: str) -> dict[str, float]:
    mix = {k: 0.0 for k in LIGHT_KINDS}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        if key not in mix:
            raise argparse.ArgumentTypeError(f"unknown request kind {key!r} (known: {', '.join(LIGHT_KINDS)})")
        mix[key] = float(value or 1)
    if sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("the mix needs at least one kind with a positive weight")
    return mix


def _kind_stats(records: Sequence[dict[str, Any]], duration_s: float) -> dict[str, dict[str, Any]]:
    stats: dict[str, dict[str, Any]] = {}
    kinds = sorted({r["kind"] for r in records}, key=lambda k: (k.startswith("bad-"), k))
    for kind in kinds + ["all light"]:
        rs = [r for r in records if (r["kind"] == kind if kind != "all light" else not r["kind"].startswith("bad-"))]
        ok = [r for r in rs if r["outcome"] == "ok"]
        answered = [r for r in rs if r["outcome"] in ("ok", "expected")]
        lat = [r["latency"] for r in answered]
        in_window = sum(1 for r in answered if r["end"] <= duration_s)
        stats[kind] = {
            "served": len(ok),
            "answered": len(answered),
            "answered_in_window": in_window,
            "per_s": in_window / duration_s if duration_s else None,
            "expected_errors": sum(r["outcome"] == "expected" for r in rs),
            "unexpected_errors": sum(r["outcome"] == "unexpected" for r in rs),
            "p50_s": percentile(lat, 50),
            "p95_s": percentile(lat, 95),
            "max_s": max(lat) if lat else None,
            "mean_s": statistics.fmean(lat) if lat else None,
        }
    return stats


def timeline(
    records: Sequence[dict[str, Any]], window_s: float, bucket_s: float, rss: Sequence[tuple[float, int]] = ()
) -> list[dict[str, Any]]:
    """Per time bucket: light requests answered, their median latency and the app's largest RSS sample.

    Does the app slow down or grow as it serves more (a soak's question)? ``rss`` holds (seconds since the
    start, VmRSS KiB) samples.
    """
    buckets: list[dict[str, Any]] = []
    t = 0.0
    while t < window_s - 1e-9:
        end = min(t + bucket_s, window_s)
        lat = [r["latency"] for r in records if t <= r["end"] < end and r["outcome"] in ("ok", "expected")]
        mem = [kib for at, kib in rss if t <= at < end]
        buckets.append(
            {
                "from_s": t,
                "to_s": end,
                "answered": len(lat),
                "per_s": len(lat) / (end - t),
                "p50_s": percentile(lat, 50),
                "rss_mib": max(mem) / 1024 if mem else None,
            }
        )
        t = end
    return buckets


def alternating(
    records: Sequence[dict[str, Any]], window_s: float, duration_s: float, settle_s: float
) -> dict[str, Any]:
    """Light throughput in the windows with generation (even: 0, 2, ...) against those without (odd), one run.

    ``--gen-windows``: both kinds of window share the app, its warm state and the machine's speed, which drifts
    over minutes (separate runs moved by ±6 points). Each window with generation from the third on (the first is
    the clients' ramp-up) is compared with the mean of the windows on either side of it, so a steady drift
    cancels. The first ``settle_s`` of each window is left out: runs started before an off window end in it.

    >>> def window(k, per_s):  # evenly spread answers in window k (10 s)
    ...     return [{"kind": "tokenize", "end": 10 * k + i / per_s, "outcome": "ok"} for i in range(10 * per_s)]
    >>> speed = [4 + k for k in range(6)]  # the machine speeds up by 1 req/s each window...
    >>> recs = [r for k, v in enumerate(speed) for r in window(k, v - (k % 2 == 0))]  # ...generation costs 1
    >>> a = alternating(recs, 10, 60, 0)
    >>> a["with_per_s"], a["without_per_s"], a["ratio"], a["window_ratios"]
    (6.0, 7.0, 0.8571, [0.8333, 0.875])
    """
    answered = [r["end"] for r in records if r["outcome"] in ("ok", "expected") and not r["kind"].startswith("bad-")]
    rates = [
        sum(1 for end in answered if k * window_s + settle_s <= end < (k + 1) * window_s) / (window_s - settle_s)
        for k in range(int(duration_s / window_s + 1e-9))
    ]
    compared = [(rates[k], (rates[k - 1] + rates[k + 1]) / 2) for k in range(2, len(rates) - 1, 2)]
    with_s = statistics.fmean(a for a, _ in compared) if compared else None
    without_s = statistics.fmean(b for _, b in compared) if compared else None
    return {
        "window_s": window_s,
        "settle_s": settle_s,
        "windows": len(rates),
        "rates_per_s": rates,
        "with_per_s": with_s,
        "without_per_s": without_s,
        "ratio": round(with_s / without_s, 4) if with_s is not None and without_s else None,
        "window_ratios": [round(a / b, 4) for a, b in compared if b],
    }


def run(args: argparse.Namespace) -> Outcome:
    cases = gen_cases(args.gen_tokens)
    if args.gen_methods:
        wanted = {m.strip() for m in args.gen_methods.split(",") if m.strip()}
        cases = tuple(c for c in cases if c.method in wanted)
        if not cases:
            raise SystemExit(f"--gen-methods {args.gen_methods!r} leaves no generation case")
    cfg_public = {k: v for k, v in vars(args).items() if k not in ("json",)}
    outcome = Outcome(
        config=cfg_public,
        machine=common.machine_info(
            dists=("gradio", "gradio_client", "httpx", "torch", "transformers", "tokenizers", "tiktoken")
        ),
    )
    log_dir = Path(tempfile.mkdtemp(prefix="rsdemo-soak-"))
    port = args.port or free_port()
    app: App | None = None
    monitor: Monitor | None = None
    workers: list[Any] = []
    profiler: subprocess.Popen[bytes] | None = None
    try:
        if args.wait_quiet:
            wait_quiet(args.wait_quiet)
        app = App(python=args.python, script=args.app, port=port, log_path=log_dir / "app.log", extra_env={})
        print(f"starting the app: {args.python} {args.app} (pid {app.pid}, log {app.log_path})", flush=True)
        startup_s = app.wait_ready(port=port, timeout_s=args.startup_timeout)
        monitor = Monitor(app.pid)
        monitor.start()
        idle = _proc_status(app.pid)
        outcome.app = {
            "pid": app.pid,
            "url": app.url,
            "startup_s": round(startup_s, 2),
            "rss_idle_mib": idle.get("VmRSS", 0) / 1024,
        }
        print(f"app ready at {app.url} after {startup_s:.1f} s, RSS {idle.get('VmRSS', 0) / 1024:.0f} MiB", flush=True)

        ref_client = _client(app.url, args.ssl_verify)
        t = time.perf_counter()
        decode_inputs, problems = warm_up(ref_client, args.tokenizers)
        print(
            f"warm-up: {len(args.tokenizers)} tokenizers loaded in {time.perf_counter() - t:.1f} s"
            + (f"; PROBLEMS: {problems}" if problems else ""),
            flush=True,
        )
        references: dict[str, dict[str, Any]] = {}
        if args.generators:
            t = time.perf_counter()
            references = generation_references(ref_client, cases, args.request_timeout, args.gen_engine)
            print(
                f"generation references (each run alone, the first loads the model): {time.perf_counter() - t:.1f} s; "
                + "; ".join(
                    f"{k}: {v['tokens']} tokens, ttft {_ms(v['ttft'])} ms, {v['tokens_per_s'] or 0:.1f} tok/s"
                    for k, v in references.items()
                ),
                flush=True,
            )
        ref_client.close()
        warm = _proc_status(app.pid)
        outcome.app["rss_after_warmup_mib"] = warm.get("VmRSS", 0) / 1024
        outcome.cross_talk["references"] = references
        outcome.errors["warmup_problems"] = problems

        cfg = Config(
            url=app.url,
            duration_s=args.duration,
            mix=args.mix,
            tokenizers=tuple(args.tokenizers),
            bad_fraction=args.bad_fraction,
            gen_cycle=tuple(args.gen_cycle),
            cancel_after=args.cancel_after,
            request_timeout_s=args.request_timeout,
            fail_fast_s=args.fail_fast,
            ssl_verify=args.ssl_verify,
            seed=args.seed,
            gen_cases=cases,
            decode_inputs=decode_inputs,
            gen_windows_s=args.gen_windows,
            gen_engine=args.gen_engine,
        )
        specs = [("light", i) for i in range(args.clients)] + [("gen", i) for i in range(args.generators)]
        n_procs = max(1, min(args.client_procs, len(specs)))
        per_proc: list[list[tuple[str, int]]] = [specs[i::n_procs] for i in range(n_procs)]
        ctx = mp.get_context("spawn")
        out_q = ctx.Queue()
        start = ctx.Event()
        start_at = ctx.Value("d", 0.0)
        for wid, chunk in enumerate(per_proc):
            p = ctx.Process(
                target=client_worker,
                args=(wid, chunk, cfg, start, start_at, out_q),
                name=f"soak-clients-{wid}",
                daemon=True,
            )
            p.start()
            workers.append(p)
        ready = 0
        deadline = time.time() + 120 + 2 * len(specs)
        while ready < len(workers):
            kind, wid, payload = out_q.get(timeout=max(1.0, deadline - time.time()))
            if kind == "failed":
                raise RuntimeError(f"client process {wid} failed while connecting:\n{payload}")
            ready += kind == "ready"
        print(
            f"{len(specs)} clients connected in {n_procs} process(es); load for {args.duration:.0f} s ...", flush=True
        )

        if args.profile:
            profiler = subprocess.Popen(
                [
                    args.py_spy,
                    "record",
                    "--pid",
                    str(app.pid),
                    "--rate",
                    str(args.profile_rate),
                    "--format",
                    "raw",
                    "--threads",
                    "--nonblocking",
                    *(["--gil"] if args.profile_gil else []),
                    "--output",
                    args.profile,
                    "--duration",
                    str(int(args.duration)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        monitor.reset()
        cpu_app0 = _proc_cpu_s(app.pid) or 0.0
        cpu_children0 = _children_cpu_s(app.pid)
        jiffies0 = _machine_jiffies()
        cpu_self0 = _self_cpu_s()
        start_at.value = time.time() + 0.5
        start.set()

        results: list[dict[str, Any]] = []
        failures: list[str] = []
        hard = start_at.value + args.duration + args.request_timeout + 60
        reported: set[int] = set()
        while len(reported) < len(workers):
            try:
                kind, wid, payload = out_q.get(timeout=1.0)
            except queue.Empty:
                dead = [w for w, p in enumerate(workers) if w not in reported and not p.is_alive()]
                for w in dead:  # exited without a word (crashed): its clients' records are lost
                    reported.add(w)
                    failures.append(f"client process {w} exited with code {workers[w].exitcode} without a report")
                if time.time() > hard:
                    raise RuntimeError("the client processes did not finish by the hard deadline") from None
                continue
            if kind == "result":
                results.append(payload)
                reported.add(wid)
            elif kind == "failed":
                failures.append(f"client process {wid}: {payload}")
                reported.add(wid)
        ended = max([r["finished_at"] for r in results] + [start_at.value])
        cpu_app = (_proc_cpu_s(app.pid) or 0.0) - cpu_app0
        cpu_children = sum(v - cpu_children0.get(k, 0.0) for k, v in _children_cpu_s(app.pid).items())
        jiffies1 = _machine_jiffies()
        cpu_self = _self_cpu_s() - cpu_self0
        final = _proc_status(app.pid)
        workers_final = {child: _proc_status(child) for child in _children_cpu_s(app.pid)}
        if profiler is not None:
            try:
                profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                profiler.send_signal(signal.SIGINT)
                profiler.wait(timeout=10)
        for p in workers:
            p.join(timeout=10)

        records = [r for res in results for r in res["records"]]
        runs = [r for res in results for r in res["runs"]]
        worker_errors = [e for res in results for e in res["errors"]] + failures
        window = args.duration
        wall = ended - start_at.value
        outcome.light = _kind_stats(records, window)
        outcome.light["window_s"] = window
        outcome.light["wall_s_with_drain"] = wall
        outcome.light["mean_text_chars"] = statistics.fmean(len(t) for t in TEXTS)
        outcome.light["timeline"] = timeline(
            records, window, args.bucket, [(at - start_at.value, kib) for at, kib in monitor.samples]
        )
        if args.gen_windows > 0 and args.generators:
            outcome.light["alternating"] = alternating(records, args.gen_windows, window, args.gen_settle)

        # generation
        done_runs = [r for r in runs if r["outcome"] == "ok"]
        mismatches = []
        for r in done_runs:
            ref = references.get(r["case"])
            r["matches_reference"] = ref is not None and r["text"] == ref["text"]
            if not r["matches_reference"]:
                mismatches.append({"case": r["case"], "got": r["text"], "reference": ref and ref["text"]})
        for r in runs:
            r.pop("text", None) if r["outcome"] != "ok" else None
        streamed = [r for r in done_runs if r["method"] != "beam"]
        outcome.generation = {
            "runs": sorted(runs, key=lambda r: r["start"]),
            "completed": len(done_runs),
            "cancelled": sum(r["outcome"] == "cancelled" for r in runs),
            "switch_errors": sum(r["action"] == "switch" and r["outcome"] == "expected" for r in runs),
            "unexpected": sum(r["outcome"] == "unexpected" for r in runs),
            # the first token a visitor sees, queue included (a beam search's: its leader after the first step)
            "ttft_p50_s": percentile([r["ttft"] for r in done_runs if r["ttft"] is not None], 50),
            "ttft_p90_s": percentile([r["ttft"] for r in done_runs if r["ttft"] is not None], 90),
            "ttft_max_s": max([r["ttft"] for r in done_runs if r["ttft"] is not None], default=None),
            "tokens_per_s_median": (
                statistics.median([r["tokens_per_s"] for r in streamed if r["tokens_per_s"]])
                if any(r["tokens_per_s"] for r in streamed)
                else None
            ),
            "switch_latency_max_s": max([r["latency"] for r in runs if r["action"] == "switch"], default=None),
            "cancel_to_end_max_s": max([r["cancel_to_end_s"] for r in runs if r.get("cancel_to_end_s")], default=None),
        }
        light_problems = [
            r for r in records if r["outcome"] == "unexpected" and r["message"].startswith("wrong answer")
        ]
        outcome.cross_talk.update(
            {
                "generation_checked": len(done_runs),
                "generation_mismatches": mismatches,
                "light_wrong_answers": len(light_problems),
            }
        )
        n_light = sum(1 for r in records if r["outcome"] in ("ok", "expected"))
        n_requests = n_light + len(runs)
        outcome.cpu = {
            "app_cpu_s": cpu_app,
            "app_workers_cpu_s": cpu_children,
            "clients_cpu_s": sum(r["cpu_s"] for r in results),
            "harness_cpu_s": cpu_self,
            "wall_s": wall,
            "app_cores_used": cpu_app / wall if wall else None,
            "app_cpu_ms_per_light_request": 1000 * cpu_app / n_light if n_light and not args.generators else None,
            "app_cpu_ms_per_request": 1000 * cpu_app / n_requests if n_requests else None,
            "clients_cpu_ms_per_request": 1000 * sum(r["cpu_s"] for r in results) / n_requests if n_requests else None,
            "machine_busy_fraction": (
                (jiffies1[0] - jiffies0[0]) / (jiffies1[1] - jiffies0[1])
                if jiffies0 and jiffies1 and jiffies1[1] > jiffies0[1]
                else None
            ),
            # CPU the machine spent outside the app, the clients and this script (other users: noise)
            "other_cpu_s": (
                (jiffies1[0] - jiffies0[0]) / os.sysconf("SC_CLK_TCK")
                - cpu_app
                - cpu_children
                - sum(r["cpu_s"] for r in results)
                - cpu_self
                if jiffies0 and jiffies1
                else None
            ),
            "client_processes": n_procs,
        }
        outcome.app.update(
            {
                "peak_rss_mib": final.get("VmHWM", 0) / 1024,
                "peak_rss_sampled_during_load_mib": monitor.peak_rss_kib / 1024,
                "rss_end_mib": final.get("VmRSS", 0) / 1024,
                "peak_threads": monitor.peak_threads,
                "alive_at_end": app.proc.poll() is None,
                # the generation worker processes (llama.cpp's, transformers'): each one's peak, and their sum
                "workers_peak_rss_mib": {str(k): v.get("VmHWM", 0) / 1024 for k, v in workers_final.items()},
                "workers_peak_rss_sum_mib": sum(v.get("VmHWM", 0) for v in workers_final.values()) / 1024,
            }
        )
        unexpected_light = [r for r in records if r["outcome"] == "unexpected"]
        unexpected_gen = [r for r in runs if r["outcome"] == "unexpected"]
        samples: dict[str, int] = {}
        for r in unexpected_light + unexpected_gen:
            samples[f"{r['kind'] if 'kind' in r else 'generate'}: {r['message']}"] = (
                samples.get(f"{r['kind'] if 'kind' in r else 'generate'}: {r['message']}", 0) + 1
            )
        expected: dict[str, int] = {}
        for r in [r for r in records if r["outcome"] == "expected"] + [r for r in runs if r["outcome"] == "expected"]:
            key = f"{r.get('kind', 'generate')}: {r['message'][:120]}"
            expected[key] = expected.get(key, 0) + 1
        outcome.errors.update(
            {
                "unexpected": len(unexpected_light) + len(unexpected_gen) + len(worker_errors),
                "expected": sum(expected.values()),
                "unexpected_messages": dict(sorted(samples.items(), key=lambda kv: -kv[1])[:20]),
                "expected_messages": expected,
                "client_process_errors": worker_errors[:10],
            }
        )
        outcome.passed = (
            outcome.errors["unexpected"] == 0 and not mismatches and not problems and outcome.app["alive_at_end"]
        )
        return outcome
    finally:
        if profiler is not None and profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
            try:
                profiler.wait(timeout=10)
            except subprocess.TimeoutExpired:
                profiler.kill()
        for p in workers:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
                if p.is_alive():
                    p.kill()
        if monitor is not None:
            monitor.halt()
        if app is not None:
            app.stop()
            if args.keep_log:
                print(f"app log: {app.log_path}")


# --- report ---------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def print_report(o: Outcome) -> None:
    c = o.config
    m = o.machine
    print()
    print(
        f"rsdemo soak: {c['clients']} light + {c['generators']} generation clients, {c['duration']:.0f} s, "
        f"closed loop, {o.cpu.get('client_processes')} client process(es), ssl_verify={c['ssl_verify']}"
    )
    print(
        f"machine: {m['cpu']}, {m['usable_cores']} usable cores, {m['python']}, "
        f"gradio {m['versions'].get('gradio')}, gradio_client {m['versions'].get('gradio_client')}, "
        f"torch {m['versions'].get('torch')}; rsdemo {m['rsdemo_commit']} ({m['rsdemo_source_sha256']})"
    )
    print()
    head = (
        f"{'kind':<14} {'served':>7} {'req/s':>6} {'exp.err':>7} {'unexp':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    )
    print(head)
    print("-" * len(head))
    for kind, s in o.light.items():
        if not isinstance(s, dict) or kind == "alternating":
            continue
        served = s["served"] if not kind.startswith("bad-") else s["answered"]
        print(
            f"{kind:<14} {served:>7,} {s['per_s'] or 0:>6.1f} {s['expected_errors']:>7} {s['unexpected_errors']:>5} "
            f"{_ms(s['p50_s']):>7} {_ms(s['p95_s']):>7} {_ms(s['max_s']):>7}"
        )
    tl = o.light.get("timeline") or []
    if len(tl) > 1:
        print("\ntimeline  " + "".join(f"{b['from_s']:>5.0f}-{b['to_s']:<4.0f}" for b in tl))
        print("light/s   " + "".join(f"{b['per_s']:>10.1f}" for b in tl))
        print("p50 ms    " + "".join(f"{_ms(b['p50_s']):>10}" for b in tl))
        print("RSS MiB   " + "".join(f"{b['rss_mib'] or 0:>10,.0f}" for b in tl))
    alt = o.light.get("alternating")
    if alt and alt.get("ratio") is not None:
        print(
            f"\nalternating {alt['window_s']:.0f} s windows ({alt['windows']}; the first {alt['settle_s']:.0f} s of "
            f"each left out, the first window too): light {alt['with_per_s']:.1f} req/s with generation, "
            f"{alt['without_per_s']:.1f} without: ratio {alt['ratio']:.1%} (each window with generation against "
            f"the mean of its neighbours: {', '.join(f'{r:.0%}' for r in alt['window_ratios'])})"
        )
    g = o.generation
    if g.get("runs"):
        print()
        print(
            f"generation: {g['completed']} completed, {g['cancelled']} cancelled, {g['switch_errors']} model "
            f"switches refused (max {_ms(g['switch_latency_max_s'])} ms), {g['unexpected']} unexpected"
        )
        print(
            f"first token seen (queue included, finished runs): median {_ms(g['ttft_p50_s'])} ms, p90 "
            f"{_ms(g['ttft_p90_s'])} ms, max {_ms(g['ttft_max_s'])} ms; tokens/s median "
            f"{g['tokens_per_s_median'] or 0:.1f} (streaming methods)"
        )
        head = (
            f"{'start s':>7} {'case':<10} {'action':<8} {'outcome':<10} {'queue ms':>8} {'ttft ms':>8} {'msgs':>4} "
            f"{'tokens':>6} {'tok/s':>6} {'total ms':>8} {'= ref':>5}"
        )
        print(head)
        print("-" * len(head))
        for r in g["runs"]:
            ref = r.get("matches_reference")
            print(
                f"{r['start']:>7.1f} {r['case']:<10} {r['action']:<8} {r['outcome']:<10} {_ms(r['queued']):>8} "
                f"{_ms(r['ttft']):>8} "
                f"{r['messages']:>4} {r['tokens']:>6} "
                f"{(r['tokens_per_s'] or 0):>6.1f} {_ms(r['latency']):>8} "
                f"{'-' if ref is None else ('yes' if ref else 'NO'):>5}"
            )
    cpu = o.cpu
    print()
    print(
        f"app: peak RSS (VmHWM) {o.app['peak_rss_mib']:,.0f} MiB (idle {o.app['rss_idle_mib']:,.0f}, after warm-up "
        f"{o.app['rss_after_warmup_mib']:,.0f}), peak threads {o.app['peak_threads']}, start-up {o.app['startup_s']} s"
    )
    if o.app.get("workers_peak_rss_mib"):
        each = ", ".join(f"{v:,.0f}" for v in o.app["workers_peak_rss_mib"].values())
        print(f"app's worker processes: peak RSS {each} MiB (sum {o.app['workers_peak_rss_sum_mib']:,.0f} MiB)")
    busy = cpu.get("machine_busy_fraction")
    print(
        f"CPU over {cpu['wall_s']:.1f} s: app {cpu['app_cpu_s']:.1f} s ({cpu['app_cores_used']:.2f} cores, "
        f"{cpu['app_cpu_ms_per_request']:.1f} ms/request), app's worker processes {cpu['app_workers_cpu_s']:.1f} s, "
        f"clients {cpu['clients_cpu_s']:.1f} s "
        f"({cpu['clients_cpu_ms_per_request']:.1f} ms/request), harness {cpu['harness_cpu_s']:.1f} s, other "
        f"processes {cpu['other_cpu_s'] or 0:.1f} s; machine busy {'-' if busy is None else f'{busy:.0%}'}"
    )
    x = o.cross_talk
    print(
        f"cross-talk: {x.get('generation_checked', 0)} finished seeded generations compared with their solo runs: "
        f"{len(x.get('generation_mismatches', []))} differ; {x.get('light_wrong_answers', 0)} light answers "
        "not matching their request"
    )
    e = o.errors
    print(f"errors: {e['expected']} expected, {e['unexpected']} unexpected")
    for msg, n in list(e.get("expected_messages", {}).items())[:6]:
        print(f"  expected x{n}: {msg}")
    for msg, n in e.get("unexpected_messages", {}).items():
        print(f"  UNEXPECTED x{n}: {msg}")
    for msg in e.get("client_process_errors", []) + e.get("warmup_problems", []):
        print(f"  PROBLEM: {msg}")
    print("PASS" if o.passed else "FAIL")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See the module docstring (benchmarks/soak.py) for details.",
    )
    p.add_argument("--clients", type=int, default=32, help="light clients (/tokenize, /compare, /decode); default 32")
    p.add_argument("--generators", type=int, default=2, help="streaming /generate clients; default 2")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load; default 60")
    p.add_argument(
        "--gen-windows",
        type=float,
        default=0.0,
        help="generation clients start runs only in every other window of this many seconds (the first "
        "one on); the report compares light throughput in the windows with and without them, "
        "within one run. 0 (default): they run throughout",
    )
    p.add_argument(
        "--gen-engine",
        default="",
        help="the engine generation clients ask for (llama.cpp, transformers; "
        "default: the fastest that can run the method)",
    )
    p.add_argument(
        "--gen-settle",
        type=float,
        default=4.0,
        help="with --gen-windows: seconds left out at the start of each window; default 4",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke check: 4 light + 1 generation client, 10 s, 8 new tokens (overrides those flags)",
    )
    p.add_argument(
        "--mix",
        type=parse_mix,
        default=parse_mix("tokenize=6,compare=2,decode=2"),
        help="weights of the light kinds, e.g. tokenize=6,compare=2,decode=2 (default) or tokenize=1",
    )
    p.add_argument(
        "--tokenizers",
        type=lambda s: [k.strip() for k in s.split(",") if k.strip()],
        default=list(DEFAULT_TOKENIZERS),
        help="tokenizer keys the light clients use (comma-separated)",
    )
    p.add_argument(
        "--bad-fraction",
        type=float,
        default=0.03,
        help="share of light requests that are deliberately bad (expected errors); default 0.03",
    )
    p.add_argument(
        "--gen-cycle",
        type=parse_cycle,
        default=parse_cycle("switch,complete,cancel,complete"),
        help="what each generation client's runs do in turn, from its own starting point: complete (to "
        f"the end, checked against the solo run), cancel (job.cancel() mid-stream), switch (ask for "
        f"{MISSING_MODEL}: must fail fast); default switch,complete,cancel,complete",
    )
    p.add_argument("--cancel-after", type=int, default=3, help="cancel after this many messages; default 3")
    p.add_argument(
        "--gen-methods",
        default="",
        help="only the generation cases of these methods, e.g. greedy,top_p (default: greedy, top_p, beam)",
    )
    p.add_argument("--gen-tokens", type=int, default=24, help="max_new_tokens of the generation cases; default 24")
    p.add_argument(
        "--client-procs",
        type=int,
        default=max(1, min(4, os.cpu_count() or 1)),
        help="client processes (clients are spread over them); default: cores, at most 4",
    )
    p.add_argument(
        "--ssl-verify",
        action="store_true",
        help="gradio_client's default ssl_verify=True (a CA-loaded SSL context per request, ~0.1 s CPU)",
    )
    p.add_argument("--request-timeout", type=float, default=120.0, help="per-request limit, seconds; default 120")
    p.add_argument(
        "--fail-fast",
        type=float,
        default=10.0,
        help="an unloadable model must be refused within this many seconds; default 10",
    )
    p.add_argument("--startup-timeout", type=float, default=300.0, help="seconds the app may take to start")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--python", default=sys.executable, help="interpreter that runs app.py (default: this one)")
    p.add_argument(
        "--app",
        type=Path,
        default=REPO_ROOT / "app.py",
        help="the app script, run from the repository root (default: app.py; a variant to compare)",
    )
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="S",
        help="first wait up to S seconds for the machine to be idle (<15%% busy over 3 s): a shared "
        "machine's other work skews the numbers ('other processes' CPU is reported either way)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the request mix")
    p.add_argument("--json", type=Path, help="also write the whole report as JSON here")
    p.add_argument("--bucket", type=float, default=10.0, help="seconds per line of the throughput timeline")
    p.add_argument("--profile", help="record the app with py-spy during the load (collapsed stacks, --format raw)")
    p.add_argument("--py-spy", default="py-spy", help="py-spy executable for --profile")
    p.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second")
    p.add_argument(
        "--profile-gil",
        action="store_true",
        help="sample only the thread holding the GIL (py-spy --gil): where the app's Python CPU goes",
    )
    p.add_argument("--keep-log", action="store_true", help="print where the app's log is kept")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.clients, args.generators, args.duration, args.gen_tokens = 4, 1, 10.0, 8
        args.client_procs = min(args.client_procs, 2)
    if args.clients < 0 or args.generators < 0 or args.clients + args.generators == 0 or args.duration <= 0:
        print("need at least one client and a positive duration", file=sys.stderr)
        return 2

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (nohup, &)
    try:
        outcome = run(args)
    except KeyboardInterrupt:
        print("interrupted: the app and the clients were stopped", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001
        traceback.print_exc()
        print("the soak run could not complete; the app and the clients were stopped", file=sys.stderr)
        return 2
    print_report(outcome)
    if args.json:
        cfg = dict(outcome.config)
        cfg["mix"] = args.mix
        data = asdict(outcome)
        data["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in cfg.items()}
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        print(f"JSON report: {args.json}")
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    sys.exit(main())
