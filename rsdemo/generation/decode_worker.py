"""llama.cpp's decode loop in a worker process of its own, at a low CPU priority.

Why: the decode loop does Python work for every token (the softmax, transformers' decoding stages, the draw,
the alternatives). On a thread of the app that work takes the app's one interpreter lock, and a thread holding
it at a low priority stalls every tokenize / compare / decode request behind it: on 2 cores two generations
cut the light throughput to 55-70 % (``benchmarks/README.md``). In a child process the decode loop has an
interpreter of its own, and the kernel's priorities work: each run reads its prompt and draws its first token
at ``generation_nice`` (``generation_boost``: at the app's priority), then its threads (its own, and the
OpenMP team llama.cpp and torch started from it) go under ``SCHED_IDLE`` (``generation_idle``, the default) or
stay at the nice value, so the rest of the run takes only the CPU that light requests leave idle. The child stays in the app's session, where
Linux's autogroup scheduler compares nice values; a process in a session of its own would get an equal share of
the CPU whatever its nice value.

One worker per loaded model: it loads the same GGUF file (memory-mapped, so the page cache is shared) and the
tokenizer, and runs one thread per run, as many at once as there are generation slots. The app keeps the
tokenizer too (it builds the prompt and names the alternatives), sends each run as a ``DecodeJob`` and reads
the same events the thread version yields: ``token`` per token, then ``end`` or ``error``. Stop, a visitor
leaving and the time limit reach the child as a ``cancel`` message. The child ends with the app: when the app
exits or is killed, the kernel closes the app's end of the pipe and the child's read ends (``PR_SET_PDEATHSIG``
would not do: it fires when the *thread* that started the child ends, and Gradio's worker threads come and go).
A worker that dies mid-run fails that run with a clear message, and the next run starts a new one.

>>> sorted(_ERRORS)[:2]
['AssetMissingError', 'CapacityError']
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .. import errors
from ..errors import InputError
from ..settings import Settings

__all__ = ["DecodeWorker", "PROCESS_BYTES"]

log = logging.getLogger(__name__)

PROCESS_BYTES = 640 * 1024 * 1024  # a worker's own memory (Python, torch, transformers, the tokenizer), measured ~0.5 GiB
_START_TIMEOUT_S = 120.0
_STALL_S = 60.0
_POLL_S = 0.1  # how often a waiting run looks at its Stop button
_ERRORS = {name: cls for name, cls in vars(errors).items()
           if isinstance(cls, type) and issubclass(cls, errors.RsdemoError)}


def _describe(err: BaseException) -> tuple[str, str, str]:
    """An exception as plain data for the pipe: class name, message, field."""
    return type(err).__name__, str(err), getattr(err, "field", "")


def _rebuild(described: tuple[str, str, str]) -> BaseException:
    """The app-side exception for a described one: rsdemo's own errors keep their class, others become RuntimeError."""
    name, message, field = described
    cls = _ERRORS.get(name)
    if cls is None:
        return RuntimeError(f"{name}: {message}")
    return cls(message, field=field) if field else cls(message)


class DecodeWorker:
    """The app's side of one worker process: start it, send runs, read their events, stop it.

    Args:
        key: the catalog key of the GGUF model.
        path: the GGUF file.
        settings: the app's settings (the cache directory, the nice value, the slots).
        contexts: runs at once (one llama.cpp context each).
    """

    def __init__(self, *, key: str, path: Path, settings: Settings, contexts: int) -> None:
        self.key = key
        ours, theirs = socket.socketpair()
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            # the same session as the app (no setsid): there the nice value counts against the app's threads
            self._process = subprocess.Popen(
                [sys.executable, "-m", "rsdemo.generation.decode_worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
            )
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._send_lock = threading.Lock()
        self._runs: dict[int, queue.Queue[tuple[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._dead = False
        try:
            self._send({"key": key, "path": str(path), "settings": settings, "contexts": contexts})
            if not self._conn.poll(_START_TIMEOUT_S):
                raise errors.AssetMissingError("llama.cpp's worker process did not start in time.")
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            self.close()
            log.error("llama.cpp's worker process for %s exited while starting (its error is above)", key)
            raise errors.AssetMissingError("llama.cpp's worker process could not start; the server log says why.") from None
        except BaseException:
            self.close()
            raise
        if kind != "ready":
            self.close()
            raise _rebuild(payload)
        self.vocab_size: int = payload["vocab_size"]
        self.n_ctx: int = payload["n_ctx"]
        self.nbytes: int = payload["nbytes"]  # the model file and its contexts' KV caches
        self.pid: int = self._process.pid
        self._reader = threading.Thread(target=self._read, name=f"rsdemo-decode-worker-{self.pid}", daemon=True)
        self._reader.start()
        log.info("llama.cpp worker process %d serves %s", self.pid, key)

    @property
    def alive(self) -> bool:
        return not self._dead and self._process.poll() is None

    def _send(self, message: Any) -> None:
        with self._send_lock:
            self._conn.send(message)

    def _read(self) -> None:
        try:
            while True:
                run_id, kind, payload = self._conn.recv()
                events = self._runs.get(run_id)
                if events is not None:
                    events.put((kind, payload))
        except (EOFError, OSError):
            pass
        finally:
            self._dead = True
            for events in list(self._runs.values()):
                events.put(("lost", None))

    def _request(self, message: tuple[Any, ...], cancel: threading.Event | None) -> Iterator[tuple[str, Any]]:
        run_id = next(self._ids)
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._runs[run_id] = events
        ended = cancelled = False
        received = 0
        try:
            try:
                self._send((message[0], run_id, *message[1:]))
            except OSError:
                self._dead = True
                raise InputError("llama.cpp's worker process has stopped; try again (the next run starts a new one).") from None
            last = time.monotonic()
            while not ended:
                if cancel is not None and cancel.is_set() and not cancelled:
                    cancelled = True
                    with contextlib.suppress(OSError):
                        self._send(("cancel", run_id))
                try:
                    kind, payload = events.get(timeout=_POLL_S)
                except queue.Empty:
                    if self._dead:
                        kind, payload = "lost", None
                    elif time.monotonic() - last > _STALL_S:
                        raise InputError("Generation stalled and was stopped.") from None
                    else:
                        continue
                last = time.monotonic()
                if kind == "lost":
                    raise InputError(f"llama.cpp's worker process stopped mid-run ({received} tokens had arrived); "
                                     "try again (the next run starts a new one).")
                if kind == "error":
                    payload = _rebuild(payload)
                received += kind == "token"
                ended = kind in ("end", "error", "logits")
                yield kind, payload
        finally:
            self._runs.pop(run_id, None)
            if not ended and not cancelled:  # the visitor left: the child stops at its next token
                if cancel is not None:
                    cancel.set()
                with contextlib.suppress(OSError):
                    self._send(("cancel", run_id))

    def decode(self, job: Any, cancel: threading.Event) -> Iterator[tuple[str, Any]]:
        """Run a ``DecodeJob`` in the worker; yield its events as ``LlamaCppModel.decode`` does."""
        return self._request(("run", job), cancel)

    def logits(self, ids: Sequence[int], *, start: int) -> Any:
        """The worker's ``LlamaCppModel.logits`` (teacher-forced next-token logits)."""
        for kind, payload in self._request(("logits", list(ids), start), None):
            if kind == "error":
                raise payload
            return payload
        raise InputError("llama.cpp's worker process gave no logits.")

    def close(self) -> None:
        """Stop the worker (the model is released with it)."""
        self._dead = True
        with contextlib.suppress(OSError, ValueError):
            self._send(("close",))
        try:
            self._process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)
        with contextlib.suppress(OSError):
            self._conn.close()


class LlamaCppWorkerModel:
    """A GGUF model whose decode loop runs in a ``DecodeWorker``; the app keeps its tokenizer (the ``Loaded`` seam).

    Same attributes and ``decode`` / ``logits`` as ``LlamaCppModel``; a worker that died is replaced on the next run.
    """

    def __init__(self, *, key: str, spec: Any, path: Path, tokenizer: Any, adapter: Any, settings: Settings) -> None:
        self.key, self.spec, self.path = key, spec, path
        self.tokenizer, self.adapter = tokenizer, adapter
        self.device, self.dtype = "cpu", "torch.float32"
        self._settings = settings
        self._lock = threading.Lock()
        self._worker: DecodeWorker | None = self._start()
        self.vocab_size = self._worker.vocab_size
        self.n_ctx = self._worker.n_ctx
        self.nbytes = self._worker.nbytes + PROCESS_BYTES

    def _start(self) -> DecodeWorker:
        return DecodeWorker(key=self.key, path=self.path, settings=self._settings,
                            contexts=self._settings.generation_slots)

    @property
    def worker(self) -> DecodeWorker:
        with self._lock:
            if self._worker is None:
                raise errors.AssetMissingError(f"The {self.key} model was released.")
            if not self._worker.alive:
                log.warning("llama.cpp worker process %d is gone; starting a new one", self._worker.pid)
                self._worker.close()
                self._worker = self._start()
            return self._worker

    def decode(self, job: Any, cancel: threading.Event) -> Iterator[tuple[str, Any]]:
        return self.worker.decode(job, cancel)

    def logits(self, ids: Sequence[int], *, start: int) -> Any:
        return self.worker.logits(ids, start=start)

    def release(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()


# --- the child --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    """The worker process: load the model, then run what the app sends until it says close or goes away."""
    conn = Connection(int(argv[0]))
    config = conn.recv()
    from ..loading import gguf_tokenizer
    from ..tokenization.adapters import HFAdapter
    from .llamacpp_engine import LlamaCppModel, decode
    from .transformers_engine import lower_priority

    try:
        settings: Settings = config["settings"]
        tokenizer = gguf_tokenizer(key=config["key"], settings=settings)
        adapter = HFAdapter(tokenizer.backend_tokenizer, lossless=False)
        from ..catalog import get_model_spec

        loaded = LlamaCppModel(key=config["key"], spec=get_model_spec(config["key"]), path=Path(config["path"]),
                               tokenizer=tokenizer, adapter=adapter, contexts=int(config["contexts"]),
                               threads=settings.llamacpp_threads)
    except Exception as err:  # noqa: BLE001 - reported to the app, which raises it
        conn.send(("failed", _describe(err)))
        return 1
    conn.send(("ready", {"vocab_size": loaded.vocab_size, "n_ctx": loaded.n_ctx, "nbytes": loaded.nbytes}))
    send_lock = threading.Lock()
    cancels: dict[int, threading.Event] = {}

    def send(run_id: int, kind: str, payload: Any) -> None:
        if kind == "error":
            payload = _describe(payload)
        try:
            with send_lock:
                conn.send((run_id, kind, payload))
        except OSError:  # the app is gone
            cancels.get(run_id, threading.Event()).set()

    main_thread = threading.get_native_id()

    def background(job: Any) -> None:
        """After a run's first token: lower every thread but the one reading the pipe (this run's, and the OpenMP
        team llama.cpp and torch started from it, a team per run thread made on its first decode)."""
        for task in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else ():
            if int(task) != main_thread:
                lower_priority(job.nice, idle=job.idle, tid=int(task))

    def run(run_id: int, job: Any) -> None:
        try:
            decode(loaded, job, cancels[run_id], lambda kind, payload: send(run_id, kind, payload), background)
        finally:
            cancels.pop(run_id, None)

    def logits(run_id: int, ids: list[int], start: int) -> None:
        try:
            send(run_id, "logits", loaded.logits(ids, start=start))
        except Exception as err:  # noqa: BLE001 - reported to the app
            send(run_id, "error", err)

    try:
        while True:
            message = conn.recv()
            if message[0] == "run":
                _, run_id, job = message
                cancels[run_id] = threading.Event()
                threading.Thread(target=run, args=(run_id, job), daemon=True).start()
            elif message[0] == "cancel":
                cancels.get(message[1], threading.Event()).set()
            elif message[0] == "logits":
                threading.Thread(target=logits, args=message[1:], daemon=True).start()
            elif message[0] == "close":
                break
    except (EOFError, OSError):  # the app is gone
        pass
    for event in list(cancels.values()):
        event.set()
    os._exit(0)  # llama.cpp's memory goes with the process; no interpreter teardown racing the run threads


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
